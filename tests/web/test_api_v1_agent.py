"""/v1/agent, /v1/regions and /v1/status through Django's test client against one real server process, and the
python-nomad contract (operator, agent, regions, status) against a real `caravan web` process.

What a user notices: members lists the server alive with Nomad's tags; self shows its configuration and
Raft statistics; health is ok while there is a leader; regions names this region; with ACL on, members
need node:read and self agent:read, while health and regions need no token.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nomad
import pytest
from django.test import Client

from tests.web.support import one_server_gateway
from tests.web.test_api_v1_nomad import start_web
from webui.acl import DEFAULT_CACHE, policy_upsert, token_create

pytestmark = pytest.mark.slow

Response = Any


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One server with a leader, and the gateway pointed at it; its RPC address."""
    with one_server_gateway(Path(tmp_path_factory.mktemp("v1-agent"))) as address:
        yield address


@pytest.fixture(autouse=True)
def acl_off(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CARAVAN_ACL", "0")
    DEFAULT_CACHE.clear()
    yield
    DEFAULT_CACHE.clear()


def get(path: str, **headers: str) -> Response:
    return Client().get(path, headers=headers)


def test_members_list_the_server_alive_with_nomads_tags(server: str) -> None:
    response = get("/v1/agent/members")
    assert response.status_code == 200
    body = response.json()
    assert (body["ServerName"], body["ServerRegion"], body["ServerDC"]) == ("s1.global", "global", "dc1")
    (member,) = body["Members"]
    assert (member["Name"], member["Status"], member["Addr"]) == ("s1.global", "alive", "127.0.0.1")
    assert member["Port"] > 0
    tags = member["Tags"]
    assert (tags["role"], tags["region"], tags["dc"], tags["port"]) == ("nomad", "global", "dc1",
                                                                        server.rsplit(":", 1)[1])
    assert tags["build"]


def test_self_shows_configuration_member_and_raft_stats(server: str) -> None:
    body = get("/v1/agent/self").json()
    assert body["config"]["Region"] == "global" and body["config"]["Datacenter"] == "dc1"
    assert body["config"]["NodeName"] == "s1" and body["config"]["Server"]["Enabled"] is True
    assert body["member"]["Name"] == "s1.global"
    assert body["stats"]["raft"]["state"] == "Leader"
    assert int(body["stats"]["raft"]["applied_index"]) >= 1
    assert body["stats"]["nomad"]["leader"] == "true"


def test_health_is_ok_with_a_leader(server: str) -> None:
    response = get("/v1/agent/health")
    assert response.status_code == 200
    assert response.json() == {"server": {"ok": True, "message": "ok"}}


def test_regions_name_this_region(server: str) -> None:
    assert get("/v1/regions").json() == ["global"]


def test_only_get_is_allowed(server: str) -> None:
    assert Client().post("/v1/agent/members").status_code == 405
    assert Client().put("/v1/regions").status_code == 405


@pytest.fixture
def acl_on(monkeypatch: pytest.MonkeyPatch, db: None) -> None:
    monkeypatch.setenv("CARAVAN_ACL", "1")
    policy_upsert(name="node-read", rules='node { policy = "read" }')
    policy_upsert(name="agent-read", rules='agent { policy = "read" }')


def token(*policies: str) -> dict[str, str]:
    return {"X-Nomad-Token": token_create(name="t", policies=list(policies)).secret_id}


def test_acl_members_need_node_read_and_self_agent_read(server: str, acl_on: None) -> None:
    node_reader, agent_reader = token("node-read"), token("agent-read")
    assert get("/v1/agent/members").status_code == 403
    assert get("/v1/agent/members", **agent_reader).status_code == 403
    assert get("/v1/agent/members", **node_reader).status_code == 200
    assert get("/v1/agent/self").status_code == 403
    assert get("/v1/agent/self", **node_reader).status_code == 403
    assert get("/v1/agent/self", **agent_reader).status_code == 200
    assert get("/v1/agent/health").status_code == 200
    assert get("/v1/regions").status_code == 200


# ---- python-nomad against `caravan web` ------------------------------------------------------------------


@pytest.fixture(scope="module")
def web_port(server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str]]:
    proc, port, management = start_web(tmp_path_factory.mktemp("web-agent"), server, "1")
    try:
        yield port, management
    finally:
        proc.terminate()
        proc.wait(10)


def test_python_nomad_operator_agent_regions_status(server: str, web_port: tuple[int, str]) -> None:
    port, management = web_port
    n = nomad.Nomad(host="127.0.0.1", port=port, timeout=10, token=management)
    config = n.operator.get_configuration()
    assert [(s["ID"], s["Leader"], s["Voter"]) for s in config["Servers"]] == [("s1", True, True)]
    members = n.agent.get_members()
    assert [(m["Name"], m["Status"]) for m in members["Members"]] == [("s1.global", "alive")]
    assert n.agent.get_agent()["config"]["Region"] == "global"
    assert n.regions.get_regions() == ["global"]
    assert n.status.leader.get_leader() == server
    anonymous = nomad.Nomad(host="127.0.0.1", port=port, timeout=10)
    with pytest.raises(nomad.api.exceptions.URLNotAuthorizedNomadException):
        anonymous.operator.get_configuration()
    assert anonymous.regions.get_regions() == ["global"]
