"""The /v1 deployment endpoints, through Django's test client, against one real server process with two
heartbeating fake nodes (the fixtures of the allocation and node reads).

What a Nomad user notices: a job with an update stanza gets a deployment that is listed, read and shows
its allocations; canaries are promoted only once healthy (a 409 saying how many are healthy before);
failing a deployment rolls the job back to its stable version; pause and resume; each write answers
Nomad's DeploymentUpdateResponse with ``X-Nomad-Index``; with ACL on, writes need ``submit-job``.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client

from tests.web.test_api_v1 import acl_off, acl_on, get, put, secret, server
from tests.web.test_api_v1_allocs_nodes import Nodes, eventually, nodes

pytestmark = pytest.mark.slow
__all__ = ["acl_off", "acl_on", "nodes", "server"]  # fixtures this module uses, imported from the read tests

Response = Any
SECOND_NS = 1_000_000_000
MISSING = "00000000-0000-4000-8000-000000000000"


def canary_job_json(job_id: str, tag: str = "0", count: int = 2, pin_to: str = "") -> dict[str, Any]:
    """A service job whose updates go through one canary whose health is set by hand."""
    group: dict[str, Any] = {
        "Name": "g", "Count": count,
        "Update": {"MaxParallel": 1, "Canary": 1, "HealthCheck": "manual", "MinHealthyTime": 0,
                   "HealthyDeadline": 60 * SECOND_NS, "ProgressDeadline": 120 * SECOND_NS, "AutoRevert": True},
        "Tasks": [{"Name": "t", "Driver": "raw_exec", "Config": {"command": "/bin/true"}, "Env": {"V": tag},
                   "Resources": {"CPU": 50, "MemoryMB": 32}}],
    }
    if pin_to:
        group["Constraints"] = [{"LTarget": "${node.unique.name}", "RTarget": pin_to, "Operand": "="}]
    return {"ID": job_id, "Name": job_id, "Type": "service", "Datacenters": ["dc1"], "TaskGroups": [group]}


def post(path: str, body: object | None = None, **headers: str) -> Response:
    data = json.dumps(body) if body is not None else ""
    return Client().post(path, data=data, content_type="application/json", headers=headers)


def submit(job: dict[str, Any], **headers: str) -> dict[str, Any]:
    response = put("/v1/jobs", {"Job": job}, **headers)
    assert response.status_code == 200, response.content
    reply: dict[str, Any] = response.json()
    return reply


def deployment_of(job_id: str, version: int, **headers: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        listed = get("/v1/deployments", **headers).json()
        return next((d for d in listed if d["JobID"] == job_id and d["JobVersion"] == version), None)

    return eventually(check, f"deployment of {job_id} version {version}")


def allocations(deployment_id: str, count: int) -> list[dict[str, Any]]:
    def check() -> list[dict[str, Any]] | None:
        allocs: list[dict[str, Any]] = get(f"/v1/deployment/allocations/{deployment_id}").json()
        return allocs if len(allocs) >= count else None

    return eventually(check, f"{count} allocation(s) of deployment {deployment_id}")


def status_of(deployment_id: str) -> str:
    status: str = get(f"/v1/deployment/{deployment_id}").json()["Status"]
    return status


def stable_then_canary(job_id: str) -> tuple[str, str]:
    """A job whose first version succeeded (so it is stable) and whose second waits on one canary:
    (the canary deployment's ID, the canary's allocation ID)."""
    submit(canary_job_json(job_id))
    first = deployment_of(job_id, 0)
    healthy = [a["ID"] for a in allocations(first["ID"], 2)]
    answer = post(f"/v1/deployment/allocation-health/{first['ID']}", {"HealthyAllocationIDs": healthy})
    assert answer.status_code == 200, answer.content
    eventually(lambda: status_of(first["ID"]) == "successful", "the first deployment to succeed")
    submit(canary_job_json(job_id, tag="1"))
    second = deployment_of(job_id, 1)
    canary = eventually(lambda: get(f"/v1/deployment/{second['ID']}").json()["TaskGroups"]["g"]["PlacedCanaries"],
                        "the canary")
    return second["ID"], canary[0]


def test_deployment_is_listed_read_and_shows_its_allocations(nodes: Nodes) -> None:
    submit(canary_job_json("dep-read"))
    listed = deployment_of("dep-read", 0)
    assert listed["Status"] == "running" and listed["Namespace"] == "default"
    response = get(f"/v1/deployment/{listed['ID']}")
    assert response.status_code == 200 and int(response["X-Nomad-Index"]) >= response.json()["ModifyIndex"]
    assert response.json()["TaskGroups"]["g"]["DesiredTotal"] == 2
    allocs = allocations(listed["ID"], 2)
    assert {a["JobID"] for a in allocs} == {"dep-read"} and "Job" not in allocs[0]
    assert [d["ID"] for d in get(f"/v1/deployments?prefix={listed['ID'][:10]}").json()] == [listed["ID"]]
    assert get("/v1/deployments?namespace=elsewhere").json() == []
    by_filter = get("/v1/deployments?filter=" + quote('JobID == "dep-read"')).json()
    assert [d["ID"] for d in by_filter] == [listed["ID"]]
    assert get("/v1/deployments?filter=" + quote("JobID ==")).status_code == 400
    missing = get(f"/v1/deployment/{MISSING}")
    assert (missing.status_code, missing.content) == (404, b"deployment not found")


def test_deployments_page_with_next_token(nodes: Nodes) -> None:
    submit(canary_job_json("dep-page-1"))
    submit(canary_job_json("dep-page-2"))
    deployment_of("dep-page-2", 0)
    everything = [d["ID"] for d in get("/v1/deployments").json()]
    first = get("/v1/deployments?per_page=1")
    token = first["X-Nomad-NextToken"]
    rest = get(f"/v1/deployments?per_page=1000&next_token={token}")
    assert "X-Nomad-NextToken" not in rest
    assert [d["ID"] for d in first.json() + rest.json()] == everything
    assert get("/v1/deployments?per_page=-1").status_code == 400


def test_canaries_promote_only_when_healthy(nodes: Nodes) -> None:
    deployment_id, canary = stable_then_canary("dep-promote")
    early = post(f"/v1/deployment/promote/{deployment_id}", {"All": True, "DeploymentID": deployment_id})
    assert early.status_code == 409 and b'task group "g" has 0/1 healthy allocations' in early.content

    health = post(f"/v1/deployment/allocation-health/{deployment_id}", {"HealthyAllocationIDs": [canary]})
    assert health.status_code == 200
    promoted = post(f"/v1/deployment/promote/{deployment_id}", {"Groups": ["g"]})
    assert promoted.status_code == 200, promoted.content
    reply = promoted.json()
    assert set(reply) >= {"EvalID", "EvalCreateIndex", "DeploymentModifyIndex", "Index"}
    assert int(promoted["X-Nomad-Index"]) == reply["Index"] >= reply["DeploymentModifyIndex"] > 0
    assert get(f"/v1/deployment/{deployment_id}").json()["TaskGroups"]["g"]["Promoted"] is True
    assert get(f"/v1/evaluation/{reply['EvalID']}").json()["DeploymentID"] == deployment_id
    assert post(f"/v1/deployment/promote/{deployment_id}", {}).status_code == 400


def test_fail_rolls_back_to_the_stable_version(nodes: Nodes) -> None:
    deployment_id, _ = stable_then_canary("dep-fail")
    failed = post(f"/v1/deployment/fail/{deployment_id}", {"DeploymentID": deployment_id})
    assert failed.status_code == 200, failed.content
    assert failed.json()["RevertedJobVersion"] == 0
    deployment = get(f"/v1/deployment/{deployment_id}").json()
    assert deployment["Status"] == "failed"
    assert deployment["StatusDescription"] == "Deployment marked as failed - rolling back to job version 0"
    job = get("/v1/job/dep-fail").json()
    assert job["Version"] == 2 and job["TaskGroups"][0]["Tasks"][0]["Env"] == {"V": "0"}
    again = post(f"/v1/deployment/fail/{deployment_id}")
    assert again.status_code == 409 and b"can't fail terminal deployment" in again.content


def test_unhealthy_allocation_fails_the_deployment_in_python_nomad_spelling(nodes: Nodes) -> None:
    submit(canary_job_json("dep-sick"))
    d = deployment_of("dep-sick", 0)
    first = allocations(d["ID"], 1)[0]
    answer = post(f"/v1/deployment/allocation-health/{d['ID']}", {"UnHealthyAllocationIDs": [first["ID"]]})
    assert answer.status_code == 200, answer.content
    assert get(f"/v1/deployment/{d['ID']}").json()["StatusDescription"] == "Failed due to unhealthy allocations"
    stranger = post(f"/v1/deployment/allocation-health/{MISSING}", {"HealthyAllocationIDs": [first["ID"]]})
    assert stranger.status_code == 404


def test_pause_resume_and_unblock(nodes: Nodes) -> None:
    submit(canary_job_json("dep-pause"))
    d = deployment_of("dep-pause", 0)
    paused = post(f"/v1/deployment/pause/{d['ID']}", {"Pause": True})
    assert paused.status_code == 200 and paused.json()["EvalID"] == ""
    assert status_of(d["ID"]) == "paused"
    resumed = post(f"/v1/deployment/pause/{d['ID']}", {"Pause": False})
    assert resumed.status_code == 200 and resumed.json()["EvalID"]
    assert status_of(d["ID"]) == "running"
    assert post(f"/v1/deployment/pause/{d['ID']}", {"Pause": "yes"}).status_code == 400
    unblock = post(f"/v1/deployment/unblock/{d['ID']}")
    assert unblock.status_code == 400 and b"not multiregion" in unblock.content
    assert get(f"/v1/deployment/pause/{d['ID']}").status_code == 405


def test_acl_writes_need_submit_job(nodes: Nodes, acl_on: None) -> None:
    writer, reader = secret("write-default"), secret("read-default")
    submit(canary_job_json("dep-acl"), **{"X-Nomad-Token": writer})
    d = deployment_of("dep-acl", 0, **{"X-Nomad-Token": reader})
    assert get(f"/v1/deployment/{d['ID']}", **{"X-Nomad-Token": reader}).status_code == 200
    assert get(f"/v1/deployment/{d['ID']}").status_code == 403
    denied = post(f"/v1/deployment/pause/{d['ID']}", {"Pause": True}, **{"X-Nomad-Token": reader})
    assert (denied.status_code, denied.content) == (403, b"Permission denied")
    assert get(f"/v1/deployment/{d['ID']}", **{"X-Nomad-Token": reader}).json()["Status"] == "running"
    allowed = post(f"/v1/deployment/pause/{d['ID']}", {"Pause": True}, **{"X-Nomad-Token": writer})
    assert allowed.status_code == 200
    assert post(f"/v1/deployment/fail/{MISSING}", **{"X-Nomad-Token": reader}).status_code == 403


def test_blocking_query_on_a_deployment_wakes_on_pause(nodes: Nodes) -> None:
    submit(canary_job_json("dep-block"))
    d = deployment_of("dep-block", 0)
    index = int(get(f"/v1/deployment/{d['ID']}")["X-Nomad-Index"])
    answers: list[Response] = []
    waiter = threading.Thread(target=lambda: answers.append(get(f"/v1/deployment/{d['ID']}?index={index}&wait=20s")))
    started = time.monotonic()
    waiter.start()
    time.sleep(0.2)  # a real server process: the query must be parked there before the change
    assert post(f"/v1/deployment/pause/{d['ID']}", {"Pause": True}).status_code == 200
    waiter.join(20)
    assert time.monotonic() - started < 10
    assert answers[0].json()["Status"] == "paused" and int(answers[0]["X-Nomad-Index"]) > index
