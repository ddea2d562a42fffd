"""/v1/operator through Django's test client, against three real server processes reached over RPC.

What an operator notices: the Raft configuration lists the servers and the leader, with real leader
headers; leadership moves where asked; a peer is removed by ID or by address; a snapshot downloads as a
gzipped tar whose checksums hold and whose state has the jobs; the scheduler configuration is read and
changed with check-and-set; with ACL on, Raft and snapshots need a management token and the scheduler
configuration operator:read / operator:write.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from agents.server.endpoints import StatusLeaderResponse, StatusRequest
from cluster import fsm
from cluster.errors import CaravanError
from cluster.state import StateStore
from tests.agents.server.support import KEY_B64, ServerCluster
from webui.acl import DEFAULT_CACHE, policy_upsert, token_create
from webui.gateway import gateway, reset_gateway

pytestmark = pytest.mark.slow

Response = Any


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerCluster]:
    """Three servers with an agreed leader, and the gateway pointed at all of them."""
    servers = ServerCluster(Path(tmp_path_factory.mktemp("v1-operator")))
    addresses = [s.address for s in servers.servers]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CARAVAN_SERVERS", ",".join(addresses))
        mp.setenv("CARAVAN_CLUSTER_KEY", KEY_B64)
        reset_gateway()
        servers.start()
        try:
            wait_for_leader(addresses)
            yield servers
        finally:
            reset_gateway()
            servers.stop()


def wait_for_leader(addresses: list[str]) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(CaravanError):
            leader = gateway().call_sync("Status.Leader", StatusRequest(), StatusLeaderResponse).Leader
            if leader in addresses:
                return leader
        time.sleep(0.1)
    raise AssertionError("no leader in 30 s")


@pytest.fixture(autouse=True)
def acl_off(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CARAVAN_ACL", "0")
    DEFAULT_CACHE.clear()
    yield
    DEFAULT_CACHE.clear()


def get(path: str, **headers: str) -> Response:
    return Client().get(path, headers=headers)


def put(path: str, body: object = None, **headers: str) -> Response:
    data = json.dumps(body) if body is not None else ""
    return Client().put(path, data=data, content_type="application/json", headers=headers)


def leader_id() -> str:
    """The leader's ID, once the servers agree again (right after a transfer, a follower may still forward
    to the old leader and answer 503 for a moment, as Nomad's "No cluster leader")."""
    deadline = time.monotonic() + 10
    while True:
        response = get("/v1/operator/raft/configuration")
        if response.status_code == 200:
            leaders = [s["ID"] for s in response.json()["Servers"] if s["Leader"]]
            if len(leaders) == 1:
                return str(leaders[0])
        assert time.monotonic() < deadline, response.content
        time.sleep(0.1)


def test_raft_configuration_lists_the_servers_with_leader_headers(cluster: ServerCluster) -> None:
    response = get("/v1/operator/raft/configuration")
    assert response.status_code == 200
    body = response.json()
    assert [s["ID"] for s in body["Servers"]] == ["s1", "s2", "s3"]
    assert set(body["Servers"][0]) == {"ID", "Node", "Address", "Leader", "Voter", "RaftProtocol"}
    assert sum(s["Leader"] for s in body["Servers"]) == 1
    assert response["X-Nomad-KnownLeader"] == "true"
    assert int(response["X-Nomad-Index"]) == body["Index"] > 0
    assert response["X-Nomad-LastContact"] == "0"  # not stale: the leader answered
    stale = get("/v1/operator/raft/configuration?stale")
    assert [s["ID"] for s in stale.json()["Servers"]] == ["s1", "s2", "s3"]
    assert stale["X-Nomad-KnownLeader"] == "true"
    assert 0 <= int(stale["X-Nomad-LastContact"]) < 800  # whichever server answered heard its leader lately


def test_transfer_leadership_by_id_and_to_any(cluster: ServerCluster) -> None:
    before = leader_id()
    target = next(n for n in ("s1", "s2", "s3") if n != before)
    response = put(f"/v1/operator/raft/transfer-leadership?id={target}")
    assert response.status_code == 200, response.content
    assert leader_id() == target
    assert put("/v1/operator/raft/transfer-leadership").status_code == 200
    assert leader_id() != target
    assert put("/v1/operator/raft/transfer-leadership?id=nobody").status_code == 404
    assert put("/v1/operator/raft/transfer-leadership?id=s1&address=x:1").status_code == 400


def test_snapshot_downloads_as_an_archive_with_the_state(cluster: ServerCluster) -> None:
    job = {"Job": {"ID": "snap-job", "Name": "snap-job", "Type": "service", "Datacenters": ["dc1"],
                   "TaskGroups": [{"Name": "g", "Count": 1, "Tasks": [{"Name": "t", "Driver": "raw_exec",
                                                                      "Config": {"command": "/bin/true"}}]}]}}
    registered = put("/v1/jobs", job)
    assert registered.status_code == 200, registered.content
    response = get("/v1/operator/snapshot")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    with tarfile.open(fileobj=io.BytesIO(response.content), mode="r:gz") as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    assert set(files) == {"meta.json", "state.bin", "SHA256SUMS"}
    for line in files["SHA256SUMS"].decode().splitlines():
        digest, name = line.split("  ")
        assert hashlib.sha256(files[name]).hexdigest() == digest
    meta = json.loads(files["meta.json"])
    assert meta["Index"] >= registered.json()["Index"] and meta["Term"] >= 1
    assert int(response["X-Nomad-Index"]) == meta["Index"]
    store = StateStore()
    fsm.restore(store, files["state.bin"])
    assert store.snapshot().job_by_id("default", "snap-job") is not None


def test_scheduler_configuration_read_and_check_and_set(cluster: ServerCluster) -> None:
    current = get("/v1/operator/scheduler/configuration")
    assert current.status_code == 200
    body = current.json()
    assert set(body) == {"Index", "KnownLeader", "LastContact", "SchedulerConfig"} and body["KnownLeader"]
    config = body["SchedulerConfig"]
    config["MemoryOversubscriptionEnabled"] = True
    stale = put(f"/v1/operator/scheduler/configuration?cas={config['ModifyIndex'] + 999}", config)
    assert stale.status_code == 200 and stale.json()["Updated"] is False
    fresh = put(f"/v1/operator/scheduler/configuration?cas={config['ModifyIndex']}", config)
    assert fresh.status_code == 200 and fresh.json()["Updated"] is True
    after = get("/v1/operator/scheduler/configuration").json()
    assert after["SchedulerConfig"]["MemoryOversubscriptionEnabled"] is True
    assert after["Index"] == after["SchedulerConfig"]["ModifyIndex"] > body["Index"]
    post = Client().post("/v1/operator/scheduler/configuration", data=json.dumps({"SchedulerAlgorithm": "spread"}),
                         content_type="application/json")
    assert post.status_code == 200 and post.json()["Updated"] is True
    assert get("/v1/operator/scheduler/configuration").json()["SchedulerConfig"]["SchedulerAlgorithm"] == "spread"
    assert put("/v1/operator/scheduler/configuration", {"SchedulerAlgorithm": "random"}).status_code == 400
    assert put("/v1/operator/scheduler/configuration?cas=x", config).status_code == 400


def test_remove_peer_by_id_or_address(cluster: ServerCluster) -> None:
    """Last in the module: it shrinks the cluster to one server."""
    leader = leader_id()
    followers = [n for n in ("s1", "s2", "s3") if n != leader]
    assert Client().delete("/v1/operator/raft/peer?id=nobody").status_code == 404
    assert Client().delete("/v1/operator/raft/peer").status_code == 400
    assert Client().delete(f"/v1/operator/raft/peer?id={followers[0]}").status_code == 200
    servers = get("/v1/operator/raft/configuration").json()["Servers"]
    assert sorted(s["ID"] for s in servers) == sorted([leader, followers[1]])
    address = next(s["Address"] for s in servers if s["ID"] == followers[1])
    assert Client().delete(f"/v1/operator/raft/peer?address={address}").status_code == 200
    assert [s["ID"] for s in get("/v1/operator/raft/configuration").json()["Servers"]] == [leader]
    assert put("/v1/operator/raft/transfer-leadership").status_code == 400  # no other voter


# ---- ACL on ------------------------------------------------------------------------------------------


@pytest.fixture
def acl_on(monkeypatch: pytest.MonkeyPatch, db: None) -> None:
    monkeypatch.setenv("CARAVAN_ACL", "1")
    policy_upsert(name="operator-read", rules='operator { policy = "read" }')
    policy_upsert(name="operator-write", rules='operator { policy = "write" }')


def token(*policies: str) -> dict[str, str]:
    return {"X-Nomad-Token": token_create(name="t", policies=list(policies)).secret_id}


def test_acl_raft_and_snapshot_need_management(cluster: ServerCluster, acl_on: None) -> None:
    writer = token("operator-write")
    management = {"X-Nomad-Token": token_create(name="m", type="management").secret_id}
    for path in ("/v1/operator/raft/configuration", "/v1/operator/snapshot"):
        assert get(path).status_code == 403
        assert get(path, **writer).status_code == 403
        assert get(path, **management).status_code == 200
    assert Client().delete("/v1/operator/raft/peer?id=s9", headers=writer).status_code == 403
    assert put("/v1/operator/raft/transfer-leadership", **writer).status_code == 403


def test_acl_scheduler_configuration_needs_operator_read_and_write(cluster: ServerCluster, acl_on: None) -> None:
    reader, writer = token("operator-read"), token("operator-write")
    assert get("/v1/operator/scheduler/configuration").status_code == 403
    config = get("/v1/operator/scheduler/configuration", **reader).json()["SchedulerConfig"]
    denied = put("/v1/operator/scheduler/configuration", config, **reader)
    assert (denied.status_code, denied.content) == (403, b"Permission denied")
    assert put("/v1/operator/scheduler/configuration", config, **writer).json()["Updated"] is True
