"""Contract: the `python-nomad` client package (2.1.0), unchanged, drives a real `caravan web` process
that reaches a real server process over RPC: register, list, read, evaluations, status, tokens.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nomad
import pytest
import requests

from tests.agents.server.support import KEY_B64, ServerCluster, free_ports

pytestmark = pytest.mark.slow

CARAVAN = str(Path(sys.executable).parent / "caravan")


@dataclass
class Web:
    port: int
    server: str
    token: str


def job(job_id: str) -> dict[str, Any]:
    return {"Job": {
        "ID": job_id, "Name": job_id, "Type": "service", "Datacenters": ["dc1"],
        "TaskGroups": [{"Name": "g", "Count": 1, "Tasks": [{
            "Name": "t", "Driver": "raw_exec", "Config": {"command": "/bin/true"},
            "Resources": {"CPU": 100, "MemoryMB": 64}}]}],
    }}


def start_web(root: Path, server: str, acl: str) -> tuple[subprocess.Popen[bytes], int, str]:
    """`caravan web -dev` with the gateway pointed at ``server``; its port and management token."""
    (port,) = free_ports(1)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CARAVAN_"))}
    env |= {"CARAVAN_SERVERS": server, "CARAVAN_CLUSTER_KEY": KEY_B64, "CARAVAN_ACL": acl}
    log = root / f"web-{acl}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([CARAVAN, "web", "-dev", "-http-port", str(port), "-data-dir", str(root / f"web-{acl}")],
                                stdout=out, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 60
    while "Listening on TCP address" not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("caravan web did not start:\n" + log.read_text(errors="replace"))
        time.sleep(0.1)
    token = re.search(r"Management token \(X-Nomad-Token\): (\S+)", log.read_text())
    assert token, log.read_text()
    return proc, port, token.group(1)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    cluster = ServerCluster(tmp_path_factory.mktemp("contract"), count=1)
    cluster.start()
    try:
        yield cluster.servers[0].address
    finally:
        cluster.stop()


@pytest.fixture(scope="module", params=["0", "1"], ids=["acl-off", "acl-on"])
def web(request: pytest.FixtureRequest, server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    proc, port, token = start_web(tmp_path_factory.mktemp("web"), server, request.param)
    try:
        client = nomad.Nomad(host="127.0.0.1", port=port, timeout=10, token=token)
        deadline = time.monotonic() + 30
        while client.status.leader.get_leader() != server:  # the server elects itself
            assert time.monotonic() < deadline, "no leader in 30 s"
            time.sleep(0.2)
        yield Web(port, server, token)
    finally:
        proc.terminate()
        proc.wait(10)


def client(web: Web, token: str | None = "management") -> nomad.Nomad:
    return nomad.Nomad(host="127.0.0.1", port=web.port, timeout=10,
                       token=web.token if token == "management" else token)


def test_register_read_list_and_evaluations(web: Web) -> None:
    n = client(web)
    job_id = f"contract-{web.port}"
    reply = n.jobs.register_job(job(job_id))
    assert reply["EvalID"] and reply["JobModifyIndex"] > 0
    assert n.job.get_job(job_id)["TaskGroups"][0]["Tasks"][0]["Driver"] == "raw_exec"
    assert job_id in n.job
    assert [j["ID"] for j in n.jobs.get_jobs(prefix=job_id)] == [job_id]
    assert job_id in n.jobs
    assert reply["EvalID"] in [e["ID"] for e in n.job.get_evaluations(job_id)]
    assert n.evaluation.get_evaluation(reply["EvalID"])["JobID"] == job_id
    assert "no-such-job" not in n.job


def test_register_with_enforce_index_is_a_conflict_when_the_index_moved(web: Web) -> None:
    """python-nomad sends ``EnforceIndex``/``JobModifyIndex`` in the body; a mismatch is its 409 exception."""
    n = client(web)
    job_id = f"contract-checked-{web.port}"
    body = {**job(job_id), "EnforceIndex": True, "JobModifyIndex": 0}
    index = n.job.register_job(job_id, body)["JobModifyIndex"]
    with pytest.raises(nomad.api.exceptions.VariableConflict) as refused:
        n.job.register_job(job_id, body)
    assert refused.value.nomad_resp.text == "Enforcing job modify index 0: job already exists"
    changed = job(job_id)
    changed["Job"]["Priority"] = 70
    assert n.job.register_job(job_id, {**changed, "EnforceIndex": True, "JobModifyIndex": index})["JobModifyIndex"] > index


def test_status(web: Web) -> None:
    n = client(web)
    assert n.status.leader.get_leader() == web.server
    assert n.status.peers.get_peers() == [web.server]


def test_invalid_job_is_a_bad_request(web: Web) -> None:
    bad = job("contract-bad")
    bad["Job"]["TaskGroups"] = "none"
    with pytest.raises(nomad.api.exceptions.BadRequestNomadException):
        client(web).jobs.register_job(bad)


def test_acl_on_refuses_no_token_and_off_allows_it(web: Web, request: pytest.FixtureRequest) -> None:
    anonymous = client(web, token=None)
    if "acl-on" in request.node.callspec.id:
        with pytest.raises(nomad.api.exceptions.URLNotAuthorizedNomadException):
            anonymous.jobs.get_jobs()
    else:
        assert isinstance(anonymous.jobs.get_jobs(), list)


def test_a_parked_blocking_query_does_not_stall_other_requests(web: Web) -> None:
    """Under ASGI each request has its own sync thread: a parked blocking query holds up no other call."""
    url = f"http://127.0.0.1:{web.port}/v1/jobs"
    headers = {"X-Nomad-Token": web.token}
    index = int(requests.get(url, headers=headers, timeout=10).headers["X-Nomad-Index"])
    answers: list[requests.Response] = []
    waiter = threading.Thread(target=lambda: answers.append(
        requests.get(f"{url}?index={index}&wait=3s", headers=headers, timeout=20)))
    waiter.start()
    time.sleep(0.3)
    started = time.monotonic()
    assert client(web).status.leader.get_leader() == web.server
    assert requests.get(url, headers=headers, timeout=10).status_code == 200
    assert time.monotonic() - started < 1.5
    waiter.join(20)
    assert answers[0].status_code == 200 and int(answers[0].headers["X-Nomad-Index"]) == index
