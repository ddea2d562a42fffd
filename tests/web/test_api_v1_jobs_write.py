"""The /v1 endpoints of one job (deregister, versions, revert, stable, scale, dispatch, plan, summary,
deployments, periodic force) and the paged, filtered jobs list, through Django's test client against one
real server process with two heartbeating nodes.

What a Nomad user notices: a stopped job stays readable and a purged one is gone; versions come newest
first with the diff of each; a revert runs an old version again; a scale is a new version; a dispatch
makes a child with its payload and meta; a plan shows placements and failures and changes nothing; the
list pages with ``X-Nomad-NextToken`` and filters with Nomad's expressions; ACL capabilities apply.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from tests.web.test_api_v1 import acl_off, acl_on, get, job_json, put, register, secret, server
from tests.web.test_api_v1_allocs_nodes import Nodes, _registered, eventually
from webui.acl import policy_upsert

pytestmark = pytest.mark.slow
__all__ = ["acl_off", "acl_on", "server"]

Response = Any


@pytest.fixture(scope="module")
def nodes(server: str) -> Iterator[Nodes]:
    fleet = Nodes(server)
    try:
        for fake in fleet.fakes:
            eventually(lambda f=fake: _registered(fleet, f), f"{fake.node.Name} registered")
        yield fleet
    finally:
        fleet.close()


def post(path: str, body: object, **headers: str) -> Response:
    return Client().post(path, data=json.dumps(body), content_type="application/json", headers=headers)


def delete(path: str, **headers: str) -> Response:
    return Client().delete(path, headers=headers)


def scaled_job(job_id: str, count: int, **extra: Any) -> dict[str, Any]:
    job = job_json(job_id)
    job["TaskGroups"][0]["Count"] = count
    job.update(extra)
    return job


def test_deregister_stops_and_purge_removes(server: str) -> None:
    registered = register("dereg")["EvalID"]
    eventually(lambda: get(f"/v1/evaluation/{registered}").json()["Status"] == "complete", "the eval done")
    stopped = delete("/v1/job/dereg")
    assert stopped.status_code == 200, stopped.content
    assert stopped.json()["EvalID"] and int(stopped["X-Nomad-Index"]) == stopped.json()["Index"]
    job = get("/v1/job/dereg").json()
    assert job["Stop"] is True
    evals = get("/v1/job/dereg/evaluations").json()
    assert "job-deregister" in [e["TriggeredBy"] for e in evals]

    purged = delete("/v1/job/dereg?purge=true")
    assert purged.status_code == 200
    assert get("/v1/job/dereg").status_code == 404
    remaining = [e["ID"] for e in get("/v1/job/dereg/evaluations").json()]
    assert registered not in remaining and purged.json()["EvalID"] in remaining  # finished ones are gone
    assert get("/v1/jobs?prefix=dereg").json() == []
    assert delete("/v1/job/never-was").status_code == 404


def test_versions_with_diffs_then_revert_and_stable(server: str) -> None:
    register("hist")
    assert put("/v1/job/hist", {"Job": scaled_job("hist", 4)}).status_code == 200  # register by path
    versions = get("/v1/job/hist/versions?diffs=true")
    assert versions.status_code == 200
    body = versions.json()
    assert [v["Version"] for v in body["Versions"]] == [1, 0]
    (diff,) = body["Diffs"]
    assert diff["Type"] == "Edited"
    count = [f for g in diff["TaskGroups"] for f in g["Fields"] or [] if f["Name"] == "Count"]
    assert count == [{"Type": "Edited", "Name": "Count", "Old": "1", "New": "4", "Annotations": None}]
    assert get("/v1/job/hist/versions").json()["Diffs"] is None

    wrong = post("/v1/job/hist/revert", {"JobID": "hist", "JobVersion": 0, "EnforcePriorVersion": 7})
    assert wrong.status_code == 409
    same = post("/v1/job/hist/revert", {"JobID": "hist", "JobVersion": 1})
    assert same.status_code == 400 and b"current version" in same.content
    reverted = post("/v1/job/hist/revert", {"JobID": "hist", "JobVersion": 0, "EnforcePriorVersion": 1})
    assert reverted.status_code == 200, reverted.content
    assert reverted.json()["EvalID"]
    job = get("/v1/job/hist").json()
    assert (job["Version"], job["TaskGroups"][0]["Count"]) == (2, 1)

    assert post("/v1/job/hist/stable", {"JobID": "hist", "JobVersion": 2, "Stable": True}).status_code == 200
    assert get("/v1/job/hist").json()["Stable"] is True
    assert post("/v1/job/hist/stable", {"JobVersion": 9, "Stable": True}).status_code == 404
    assert post("/v1/job/hist/stable", {"JobVersion": 2}).status_code == 400


def test_versions_block_until_a_new_version(server: str) -> None:
    register("blocker")
    first = get("/v1/job/blocker/versions")
    index = int(first["X-Nomad-Index"])
    timer = threading.Timer(0.3, lambda: put("/v1/job/blocker", {"Job": scaled_job("blocker", 2)}))
    timer.start()
    try:
        started = time.monotonic()
        woken = get(f"/v1/job/blocker/versions?index={index}&wait=10s")
        assert time.monotonic() - started < 8
    finally:
        timer.join()
    assert int(woken["X-Nomad-Index"]) > index
    assert [v["Version"] for v in woken.json()["Versions"]] == [1, 0]


def test_register_by_path_refuses_another_id(server: str) -> None:
    response = put("/v1/job/one", {"Job": job_json("other")})
    assert response.status_code == 400 and b"does not match" in response.content


def test_scale_is_a_new_version_and_scale_status_counts(server: str, nodes: Nodes) -> None:
    register("scaler")
    scaled = post("/v1/job/scaler/scale", {"Count": 2, "Target": {"Group": "g"}, "Message": "busy"})
    assert scaled.status_code == 200, scaled.content
    assert scaled.json()["EvalID"]
    job = get("/v1/job/scaler").json()
    assert (job["Version"], job["TaskGroups"][0]["Count"]) == (1, 2)

    def placed() -> dict[str, Any] | None:
        status = get("/v1/job/scaler/scale").json()
        return status if status["TaskGroups"]["g"]["Placed"] == 2 else None

    status = eventually(placed, "two placed allocations")
    assert status["JobID"] == "scaler" and status["TaskGroups"]["g"]["Desired"] == 2
    assert status["JobStopped"] is False
    (event,) = status["TaskGroups"]["g"]["Events"]
    assert (event["Count"], event["PreviousCount"], event["Message"]) == (2, 1, "busy")
    assert event["EvalID"] == scaled.json()["EvalID"]
    # An autoscaler's error report changes nothing but is kept, newest first.
    report = post("/v1/job/scaler/scale", {"Target": {"Group": "g"}, "Error": True, "Message": "no metrics"})
    assert report.status_code == 200, report.content
    events = get("/v1/job/scaler/scale").json()["TaskGroups"]["g"]["Events"]
    assert [(e["Message"], e["Error"], e["Count"]) for e in events] == [("no metrics", True, None), ("busy", False, 2)]
    assert get("/v1/job/scaler").json()["Version"] == 1
    bad_group = post("/v1/job/scaler/scale", {"Count": 2, "Target": {"Group": "nope"}})
    assert bad_group.status_code == 400 and b"does not exist" in bad_group.content
    assert post("/v1/job/scaler/scale", {"Count": -1, "Target": {"Group": "g"}}).status_code == 400
    assert get("/v1/job/missing/scale").status_code == 404


def parameterized(job_id: str) -> dict[str, Any]:
    job = job_json(job_id)
    job["Type"] = "batch"
    job["ParameterizedJob"] = {"Payload": "required", "MetaRequired": ["user"], "MetaOptional": ["note"]}
    return job


def test_dispatch_makes_a_child_with_payload_and_meta(server: str) -> None:
    assert put("/v1/jobs", {"Job": parameterized("report")}).status_code == 200
    payload = base64.b64encode(b"hello").decode()
    no_meta = post("/v1/job/report/dispatch", {"Payload": payload})
    assert no_meta.status_code == 400 and b"user" in no_meta.content
    extra = post("/v1/job/report/dispatch", {"Payload": payload, "Meta": {"user": "a", "colour": "b"}})
    assert extra.status_code == 400 and b"colour" in extra.content
    no_payload = post("/v1/job/report/dispatch", {"Meta": {"user": "a"}})
    assert no_payload.status_code == 400 and b"payload is required" in no_payload.content

    done = post("/v1/job/report/dispatch", {"Payload": payload, "Meta": {"user": "ann"}})
    assert done.status_code == 200, done.content
    child_id = done.json()["DispatchedJobID"]
    assert re.fullmatch(r"report/dispatch-\d{10}-[0-9a-f]{8}", child_id)
    assert done.json()["EvalID"]
    child = get(f"/v1/job/{child_id}")  # a child's ID has a slash: the route still finds it
    assert child.status_code == 200, child.content
    body = child.json()
    assert (body["ParentID"], body["Dispatched"], body["Meta"]["user"]) == ("report", True, "ann")
    assert base64.b64decode(body["Payload"]) == b"hello"
    again = post("/v1/job/report/dispatch?idempotency_token=once", {"Payload": payload, "Meta": {"user": "b"}})
    repeat = post("/v1/job/report/dispatch", {"Payload": payload, "Meta": {"user": "b"}, "IdempotencyToken": "once"})
    assert again.json()["DispatchedJobID"] == repeat.json()["DispatchedJobID"] != child_id
    assert get(f"/v1/job/{child_id}/versions").status_code == 200
    assert get(f"/v1/job/{child_id}/evaluations").json()[0]["JobID"] == child_id
    listed = get("/v1/jobs?filter=" + 'ParentID == "report"').json()
    assert len(listed) == 2 and child_id in [j["ID"] for j in listed]
    assert post("/v1/job/hist-none/dispatch", {}).status_code == 404


def test_plan_previews_placements_and_failures_without_changing_anything(server: str, nodes: Nodes) -> None:
    plan = post("/v1/job/planned/plan", {"Job": scaled_job("planned", 3), "Diff": True})
    assert plan.status_code == 200, plan.content
    body = plan.json()
    assert body["Annotations"]["DesiredTGUpdates"]["g"]["Place"] == 3
    assert body["Diff"]["Type"] == "Added"
    assert body["FailedTGAllocs"] is None and body["JobModifyIndex"] == 0
    assert get("/v1/job/planned").status_code == 404  # a plan registers nothing

    huge = scaled_job("planned", 2)
    huge["TaskGroups"][0]["Tasks"][0]["Resources"]["MemoryMB"] = 10_000_000
    failed = post("/v1/job/planned/plan", {"Job": huge}).json()
    metric = failed["FailedTGAllocs"]["g"]
    assert metric["NodesEvaluated"] == 2 and metric["DimensionExhausted"] == {"memory": 2}
    assert failed["CreatedEvals"][0]["Status"] == "blocked"
    assert failed["Diff"] is None

    register("planned-existing")
    eventually(lambda: get("/v1/job/planned-existing/allocations").json(), "the existing job placed")
    update = post("/v1/job/planned-existing/plan", {"Job": scaled_job("planned-existing", 2), "Diff": True})
    updates = update.json()["Annotations"]["DesiredTGUpdates"]["g"]
    assert updates["Place"] == 1 and updates["Ignore"] + updates["InPlaceUpdate"] == 1
    assert update.json()["JobModifyIndex"] == get("/v1/job/planned-existing").json()["JobModifyIndex"]
    assert post("/v1/job/x/plan", {"Job": job_json("y")}).status_code == 400


def test_summary_and_deployments(server: str, nodes: Nodes) -> None:
    job = scaled_job("rolled", 2, Update={"MaxParallel": 1})
    assert put("/v1/jobs", {"Job": job}).status_code == 200

    def summarized() -> dict[str, Any] | None:
        summary = get("/v1/job/rolled/summary")
        groups = summary.json()["Summary"] if summary.status_code == 200 else {}
        return summary.json() if sum(groups.get("g", {}).values()) >= 2 else None

    summary = eventually(summarized, "a summary counting two allocations")
    assert summary["JobID"] == "rolled" and summary["Summary"]["g"]["Starting"] == 2
    deployment = eventually(lambda: get("/v1/job/rolled/deployment").json(), "a deployment")
    assert deployment["JobID"] == "rolled" and deployment["TaskGroups"]["g"]["DesiredTotal"] == 2
    assert [d["ID"] for d in get("/v1/job/rolled/deployments").json()] == [deployment["ID"]]
    assert get("/v1/job/nothing/deployment").json() is None
    assert get("/v1/job/nothing/summary").status_code == 404


def test_periodic_force_launches_a_child(server: str) -> None:
    job = job_json("nightly")
    job["Type"] = "batch"
    job["Periodic"] = {"Spec": "0 3 * * *"}
    assert put("/v1/jobs", {"Job": job}).status_code == 200
    plan = post("/v1/job/nightly/plan", {"Job": job}).json()
    assert plan["NextPeriodicLaunch"] > 0
    forced = post("/v1/job/nightly/periodic/force", {})
    assert forced.status_code == 200, forced.content
    assert forced.json()["EvalID"]
    children = get("/v1/jobs?prefix=nightly/periodic-").json()
    assert len(children) == 1 and children[0]["ParentID"] == "nightly"
    assert post("/v1/job/hist-none/periodic/force", {}).status_code == 404


def test_list_pages_with_next_token_and_filters(server: str) -> None:
    for i in range(5):
        register(f"page-{i}")
    register("page-ns", namespace="other")
    first = get("/v1/jobs?prefix=page-&per_page=2")
    assert [j["ID"] for j in first.json()] == ["page-0", "page-1"]
    token = first["X-Nomad-NextToken"]
    assert token == "page-2"
    second = get(f"/v1/jobs?prefix=page-&per_page=2&next_token={token}")
    assert [j["ID"] for j in second.json()] == ["page-2", "page-3"]
    last = get(f"/v1/jobs?prefix=page-&per_page=2&next_token={second['X-Nomad-NextToken']}")
    assert [j["ID"] for j in last.json()] == ["page-4"] and "X-Nomad-NextToken" not in last

    stub = first.json()[0]
    assert {"ParentID", "Periodic", "ParameterizedJob", "Status", "StatusDescription", "SubmitTime",
            "JobSummary", "Datacenters", "Meta"} <= set(stub)
    everywhere = get("/v1/jobs?prefix=page-&namespace=*").json()
    assert ("other", "page-ns") in [(j["Namespace"], j["ID"]) for j in everywhere]
    paged = get("/v1/jobs?prefix=page-&namespace=*&per_page=5")
    assert paged["X-Nomad-NextToken"] == "other.page-ns"

    filtered = get("/v1/jobs?prefix=page-&filter=" + 'ID matches "[13]$" or ID == "page-4"').json()
    assert [j["ID"] for j in filtered] == ["page-1", "page-3", "page-4"]
    by_group = get("/v1/jobs?filter=" + '"dc1" in Datacenters and Type == "service" and ID contains "page-2"')
    assert [j["ID"] for j in by_group.json()] == ["page-2"]
    bad = get("/v1/jobs?filter=" + 'ID == ')
    assert bad.status_code == 400 and b"column 7" in bad.content
    assert get("/v1/jobs?per_page=x").status_code == 400


def test_acl_capabilities_of_job_writes(server: str, acl_on: None) -> None:
    writer = secret("write-default")
    register("acl-jobw", **{"X-Nomad-Token": writer})
    reader = {"X-Nomad-Token": secret("read-default")}
    assert delete("/v1/job/acl-jobw", **reader).status_code == 403
    assert post("/v1/job/acl-jobw/revert", {"JobVersion": 0}, **reader).status_code == 403
    assert post("/v1/job/acl-jobw/plan", {"Job": job_json("acl-jobw")}, **reader).status_code == 403
    assert post("/v1/job/acl-jobw/scale", {"Count": 2, "Target": {"Group": "g"}}, **reader).status_code == 403
    assert get("/v1/job/acl-jobw/versions", **reader).status_code == 200
    assert get("/v1/job/acl-jobw/scale", **reader).status_code == 200
    assert get("/v1/jobs?filter=ID+contains+%22acl-jobw%22", **reader).json()[0]["ID"] == "acl-jobw"

    policy_upsert(name="scaler", rules='namespace "default" { policy = "scale" }')
    scaler = {"X-Nomad-Token": secret("scaler")}
    assert post("/v1/job/acl-jobw/scale", {"Count": 2, "Target": {"Group": "g"}}, **scaler).status_code == 200
    assert delete("/v1/job/acl-jobw", **scaler).status_code == 403
    policy_upsert(name="dispatcher", rules='namespace "default" { capabilities = ["dispatch-job"] }')
    dispatcher = {"X-Nomad-Token": secret("dispatcher")}
    assert post("/v1/job/acl-jobw/dispatch", {}, **dispatcher).status_code == 400  # allowed; not parameterized
    assert delete("/v1/job/acl-jobw", **{"X-Nomad-Token": writer}).status_code == 200


def test_register_with_enforce_index_checks_the_job_modify_index(server: str) -> None:
    """Nomad's check-index: 0 means "must not exist", N means "must be at JobModifyIndex N"; else 409."""
    job = job_json("checked")
    missing = put("/v1/jobs", {"Job": job, "EnforceIndex": True, "JobModifyIndex": 7})
    assert missing.status_code == 409
    assert missing.content == b"Enforcing job modify index 7: job does not exist"
    assert get("/v1/job/checked").status_code == 404

    created = put("/v1/jobs", {"Job": job, "EnforceIndex": True, "JobModifyIndex": 0})
    assert created.status_code == 200, created.content
    index = created.json()["JobModifyIndex"]
    again = put("/v1/jobs", {"Job": job, "EnforceIndex": True, "JobModifyIndex": 0})
    assert (again.status_code, again.content) == (409, b"Enforcing job modify index 0: job already exists")

    job["Priority"] = 60
    stale = post("/v1/job/checked", {"Job": job, "EnforceIndex": True, "JobModifyIndex": index - 1})
    assert stale.status_code == 409
    assert stale.content == (f"Enforcing job modify index {index - 1}: job exists with conflicting job modify "
                             f"index: {index}").encode()
    assert get("/v1/job/checked").json()["Priority"] == 50  # refused writes change nothing

    updated = post("/v1/job/checked", {"Job": job, "EnforceIndex": True, "JobModifyIndex": index})
    assert updated.status_code == 200, updated.content
    assert updated.json()["JobModifyIndex"] > index
    assert get("/v1/job/checked").json()["Priority"] == 60
    unchecked = put("/v1/jobs", {"Job": job, "JobModifyIndex": 1})  # without EnforceIndex: no check
    assert unchecked.status_code == 200
    bad = put("/v1/jobs", {"Job": job, "EnforceIndex": "yes"})
    assert bad.status_code == 400
