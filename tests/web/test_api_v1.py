"""The /v1 jobs, evaluations and status endpoints, through Django's test client, against one real server
process (started here, as ``tests/agents/server/support.py`` does) reached over RPC by the gateway.

What a Nomad user notices: a registered job can be read back, listed (by prefix, per namespace) and
its evaluation found; answers carry ``X-Nomad-Index`` and blocking queries wait for a change; a bad
job is a 400 that stores nothing; with ACL on, a token without the capability gets Nomad's 403.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from agents.server.endpoints import StatusLeaderResponse, StatusRequest
from cluster.errors import InvalidInput, Unavailable
from tests.agents.server.support import KEY, free_ports
from tests.web.support import one_server_gateway
from webui.acl import DEFAULT_CACHE, policy_upsert, token_create
from webui.api.jobs_read import parse_wait_ns
from webui.gateway import Gateway, GatewaySettings

pytestmark = pytest.mark.slow

Response = Any  # what the test client answers: an HttpResponse with .json()


def job_json(job_id: str, namespace: str | None = None) -> dict[str, Any]:
    job: dict[str, Any] = {
        "ID": job_id, "Name": job_id, "Type": "service", "Datacenters": ["dc1"],
        "TaskGroups": [{"Name": "g", "Count": 1, "Tasks": [{
            "Name": "t", "Driver": "raw_exec", "Config": {"command": "/bin/true"},
            "Resources": {"CPU": 100, "MemoryMB": 64}}]}],
    }
    if namespace is not None:
        job["Namespace"] = namespace
    return job


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One server agent process with a leader, and the gateway pointed at it; its RPC address."""
    with one_server_gateway(Path(tmp_path_factory.mktemp("v1"))) as address:
        yield address


@pytest.fixture(autouse=True)
def acl_off(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CARAVAN_ACL", "0")
    DEFAULT_CACHE.clear()
    yield
    DEFAULT_CACHE.clear()


def put(path: str, body: object, **headers: str) -> Response:
    return Client().put(path, data=json.dumps(body), content_type="application/json", headers=headers)


def get(path: str, **headers: str) -> Response:
    return Client().get(path, headers=headers)


def register(job_id: str, namespace: str | None = None, **headers: str) -> dict[str, Any]:
    response = put("/v1/jobs", {"Job": job_json(job_id, namespace)}, **headers)
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def test_status_names_the_leader_and_peers(server: str) -> None:
    assert get("/v1/status/leader").json() == server
    assert get("/v1/status/peers").json() == [server]


def test_registered_job_reads_back_with_its_evaluation(server: str) -> None:
    response = put("/v1/jobs", {"Job": job_json("web-read")})
    assert response.status_code == 200, response.content
    reply = response.json()
    assert set(reply) >= {"EvalID", "EvalCreateIndex", "JobModifyIndex", "Warnings", "Index"}
    assert reply["EvalID"] and reply["JobModifyIndex"] > 0
    assert int(response["X-Nomad-Index"]) == reply["Index"]

    job = get("/v1/job/web-read")
    assert job.status_code == 200
    assert job.json()["ID"] == "web-read"
    assert job.json()["TaskGroups"][0]["Tasks"][0]["Resources"]["MemoryMB"] == 64
    assert int(job["X-Nomad-Index"]) >= reply["JobModifyIndex"]

    evals = get("/v1/job/web-read/evaluations").json()
    assert reply["EvalID"] in [e["ID"] for e in evals]
    ev = get(f"/v1/evaluation/{reply['EvalID']}")
    assert ev.status_code == 200
    assert ev.json()["JobID"] == "web-read" and ev.json()["TriggeredBy"] == "job-register"


def test_post_registers_too(server: str) -> None:
    response = Client().post("/v1/jobs", data=json.dumps({"Job": job_json("web-post")}),
                             content_type="application/json")
    assert response.status_code == 200, response.content
    assert get("/v1/job/web-post").status_code == 200


def test_list_has_job_stubs_filtered_by_prefix(server: str) -> None:
    register("list-a1")
    register("list-a2")
    register("list-b1")
    listed = get("/v1/jobs?prefix=list-a")
    assert listed.status_code == 200
    assert [j["ID"] for j in listed.json()] == ["list-a1", "list-a2"]
    stub = listed.json()[0]
    assert stub["Type"] == "service" and stub["Namespace"] == "default" and "TaskGroups" not in stub
    assert int(listed["X-Nomad-Index"]) > 0


def test_namespace_separates_jobs(server: str) -> None:
    register("ns-job", namespace="team-a")
    assert get("/v1/job/ns-job").status_code == 404
    assert get("/v1/job/ns-job?namespace=team-a").json()["Namespace"] == "team-a"
    assert [j["ID"] for j in get("/v1/jobs?prefix=ns-").json()] == []
    assert [j["ID"] for j in get("/v1/jobs?prefix=ns-&namespace=*").json()] == ["ns-job"]
    # A job without a namespace goes to the one the query names.
    put("/v1/jobs?namespace=team-b", {"Job": job_json("ns-job2")})
    assert get("/v1/job/ns-job2?namespace=team-b").status_code == 200


def test_unknown_job_and_eval_are_404(server: str) -> None:
    missing = get("/v1/job/no-such-job")
    assert (missing.status_code, missing.content) == (404, b"job not found")
    assert get("/v1/evaluation/00000000-0000-0000-0000-000000000000").status_code == 404
    assert get("/v1/job/no-such-job/evaluations").json() == []


def test_invalid_job_is_400_and_stores_nothing(server: str) -> None:
    bad = job_json("bad-job")
    bad["TaskGroups"][0]["Count"] = "three"
    response = put("/v1/jobs", {"Job": bad})
    assert response.status_code == 400
    assert b"Count" in response.content
    assert get("/v1/job/bad-job").status_code == 404
    assert put("/v1/jobs", {"NotAJob": {}}).status_code == 400


def test_blocking_query_answers_at_its_deadline_with_the_same_index(server: str) -> None:
    index = int(get("/v1/jobs")["X-Nomad-Index"])
    started = time.monotonic()
    response = get(f"/v1/jobs?index={index}&wait=300ms")
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.25
    assert int(response["X-Nomad-Index"]) == index


def test_blocking_query_answers_when_the_job_changes(server: str) -> None:
    register("blocking")
    index = int(get("/v1/job/blocking")["X-Nomad-Index"])
    answers: list[Response] = []
    waiter = threading.Thread(target=lambda: answers.append(get(f"/v1/job/blocking?index={index}&wait=20s")))
    started = time.monotonic()
    waiter.start()
    time.sleep(0.2)  # a real server process: the query must be parked there before the change
    changed = job_json("blocking")
    changed["TaskGroups"][0]["Count"] = 2
    assert put("/v1/jobs", {"Job": changed}).status_code == 200
    waiter.join(20)
    assert time.monotonic() - started < 10
    assert int(answers[0]["X-Nomad-Index"]) > index
    assert answers[0].json()["TaskGroups"][0]["Count"] == 2


def test_bad_query_parameters_are_400(server: str) -> None:
    assert get("/v1/jobs?index=abc").status_code == 400
    assert get("/v1/jobs?index=1&wait=soon").status_code == 400


def test_unknown_region_is_an_error_not_a_hang(server: str) -> None:
    response = get("/v1/jobs?region=mars")
    assert response.status_code in (400, 404, 503), response.content
    assert b"mars" in response.content


def test_gateway_fails_over_to_the_next_server(server: str) -> None:
    (dead,) = free_ports(1)
    gw = Gateway(GatewaySettings(servers=(f"127.0.0.1:{dead}", server), cluster_key=KEY))
    try:
        assert gw.call_sync("Status.Leader", StatusRequest(), StatusLeaderResponse).Leader == server
    finally:
        gw.close()


def test_gateway_with_a_wrong_cluster_key_is_unavailable_not_forbidden(server: str) -> None:
    gw = Gateway(GatewaySettings(servers=(server,), cluster_key=b"not-the-cluster-key-at-all-00000"))
    try:
        with pytest.raises(Unavailable, match="refused the web application"):
            gw.call_sync("Status.Leader", StatusRequest(), StatusLeaderResponse)
    finally:
        gw.close()


def test_missing_gateway_settings_are_named() -> None:
    with pytest.raises(Unavailable, match="CARAVAN_SERVERS"):
        GatewaySettings.from_environ({})
    with pytest.raises(Unavailable, match="CARAVAN_CLUSTER_KEY"):
        GatewaySettings.from_environ({"CARAVAN_SERVERS": "127.0.0.1:4647"})
    with pytest.raises(Unavailable, match="base64"):
        GatewaySettings.from_environ({"CARAVAN_SERVERS": "127.0.0.1:4647", "CARAVAN_CLUSTER_KEY": "%%%"})


@pytest.mark.parametrize(("text", "ns"), [("300ms", 300_000_000), ("5s", 5_000_000_000), ("1m30s", 90_000_000_000),
                                          ("1.5h", 5_400_000_000_000)])
def test_wait_is_a_go_duration(text: str, ns: int) -> None:
    assert parse_wait_ns(text) == ns


@pytest.mark.parametrize("text", ["", "5", "s", "5x", "-1s"])
def test_wait_that_is_no_duration_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_wait_ns(text)


# ---- ACL on ------------------------------------------------------------------------------------------


@pytest.fixture
def acl_on(monkeypatch: pytest.MonkeyPatch, db: None) -> None:
    monkeypatch.setenv("CARAVAN_ACL", "1")
    policy_upsert(name="read-default", rules='namespace "default" { policy = "read" }')
    policy_upsert(name="write-default", rules='namespace "default" { policy = "write" }')


def secret(*policies: str) -> str:
    return token_create(name="t", policies=list(policies)).secret_id


def test_acl_without_token_is_denied(server: str, acl_on: None) -> None:
    response = get("/v1/jobs")
    assert (response.status_code, response.content) == (403, b"Permission denied")
    assert put("/v1/jobs", {"Job": job_json("acl-anon")}).status_code == 403
    assert get("/v1/job/acl-anon").status_code == 403


def test_acl_read_token_reads_but_cannot_submit(server: str, acl_on: None) -> None:
    register("acl-read-target", **{"X-Nomad-Token": secret("write-default")})
    reader = secret("read-default")
    assert get("/v1/job/acl-read-target", **{"X-Nomad-Token": reader}).status_code == 200
    assert get("/v1/jobs?prefix=acl-", **{"Authorization": f"Bearer {reader}"}).status_code == 200
    denied = put("/v1/jobs", {"Job": job_json("acl-read-write")}, **{"X-Nomad-Token": reader})
    assert (denied.status_code, denied.content) == (403, b"Permission denied")
    assert get("/v1/job/acl-read-write", **{"X-Nomad-Token": reader}).status_code == 404


def test_acl_refuses_before_it_validates(server: str, acl_on: None) -> None:
    bad = job_json("acl-bad")
    bad["TaskGroups"] = "none"
    denied = put("/v1/jobs", {"Job": bad}, **{"X-Nomad-Token": secret("read-default")})
    assert (denied.status_code, denied.content) == (403, b"Permission denied")
    assert put("/v1/jobs", {"Job": bad}, **{"X-Nomad-Token": secret("write-default")}).status_code == 400


def test_acl_token_is_limited_to_its_namespace(server: str, acl_on: None) -> None:
    writer = secret("write-default")
    assert put("/v1/jobs", {"Job": job_json("acl-other", "other")}, **{"X-Nomad-Token": writer}).status_code == 403
    register("acl-mine", **{"X-Nomad-Token": writer})
    register("acl-theirs", namespace="theirs", **{"X-Nomad-Token": token_create(name="m", type="management").secret_id})
    listed = get("/v1/jobs?prefix=acl-&namespace=*", **{"X-Nomad-Token": writer}).json()
    assert "acl-mine" in [j["ID"] for j in listed]
    assert "acl-theirs" not in [j["ID"] for j in listed]
    assert get("/v1/job/acl-theirs?namespace=theirs", **{"X-Nomad-Token": writer}).status_code == 403


def test_acl_unknown_token_is_refused(server: str, acl_on: None) -> None:
    response = get("/v1/jobs", **{"X-Nomad-Token": "00000000-0000-4000-8000-000000000000"})
    assert response.status_code == 403


def test_acl_eval_is_checked_against_its_namespace(server: str, acl_on: None) -> None:
    reply = register("acl-eval", **{"X-Nomad-Token": secret("write-default")})
    assert get(f"/v1/evaluation/{reply['EvalID']}", **{"X-Nomad-Token": secret("read-default")}).status_code == 200
    assert get(f"/v1/evaluation/{reply['EvalID']}").status_code == 403


def test_status_needs_no_token(server: str, acl_on: None) -> None:
    assert get("/v1/status/leader").json() == server
