"""The /v1 allocation and node reads, through Django's test client, against one real server process with
two nodes registered (and heartbeating) over RPC, as client agents would.

What a Nomad user notices: the nodes are listed (by prefix) and read back without their secret; a
placed job's allocations are found from the job, the node and the allocation list; namespaces separate
them; blocking queries wake on a placement; with ACL on, node reads need ``node:read`` and allocation
reads need ``read-job`` in their namespace.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar
from urllib.parse import quote

import pytest

from cluster.errors import Unavailable
from tests.agents.server.support import FakeNode
from tests.unit.scheduler import factories
from tests.web.test_api_v1 import acl_off, acl_on, get, job_json, put, register, secret, server
from webui.acl import policy_upsert, token_create

pytestmark = pytest.mark.slow
__all__ = ["acl_off", "acl_on", "server"]  # fixtures this module uses, imported from the job tests

T = TypeVar("T")
NODE_SECRET = "node-secret-that-must-not-leak"


class Nodes:
    """Two FakeNodes heartbeating from an event loop of their own, so they stay ready while the tests
    drive the synchronous Django client."""

    def __init__(self, address: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.fakes: list[FakeNode] = []
        for i in (1, 2):
            node = factories.node(name=f"web-node-{i}", drivers=("raw_exec",))
            node.SecretID = NODE_SECRET
            self.fakes.append(FakeNode(node, [address]))

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(15)

    def close(self) -> None:
        for fake in self.fakes:
            self.run(fake.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    @property
    def ids(self) -> list[str]:
        return [f.node.ID for f in self.fakes]


@pytest.fixture(scope="module")
def nodes(server: str) -> Iterator[Nodes]:
    fleet = Nodes(server)
    try:
        for fake in fleet.fakes:
            # The leader is named a moment before it takes writes ("not leading yet"): retry until then.
            eventually(lambda f=fake: _registered(fleet, f), f"{fake.node.Name} registered")
        yield fleet
    finally:
        fleet.close()


def _registered(fleet: Nodes, fake: FakeNode) -> bool:
    try:
        fleet.run(fake.register())
    except Unavailable:
        return False
    return True


def eventually(check: Callable[[], T | None], what: str, timeout_s: float = 15) -> T:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def placed(job_id: str, count: int = 1, query: str = "", **headers: str) -> list[dict[str, Any]]:
    """The job's allocations once the scheduler has placed ``count`` of them."""

    def check() -> list[dict[str, Any]] | None:
        allocs: list[dict[str, Any]] = get(f"/v1/job/{job_id}/allocations{query}", **headers).json()
        return allocs if len(allocs) >= count else None

    return eventually(check, f"{count} allocation(s) of {job_id}")


def test_nodes_are_listed_by_prefix_without_their_secret(nodes: Nodes) -> None:
    listed = get("/v1/nodes")
    assert listed.status_code == 200
    assert int(listed["X-Nomad-Index"]) > 0
    stubs = {n["ID"]: n for n in listed.json()}
    assert set(nodes.ids) <= set(stubs)
    stub = stubs[nodes.ids[0]]
    assert stub["Name"] == "web-node-1" and stub["Datacenter"] == "dc1" and stub["Status"] == "ready"
    assert stub["SchedulingEligibility"] == "eligible" and stub["Version"] == "1.7.2"
    assert stub["Drivers"]["raw_exec"]["Healthy"] is True
    assert "SecretID" not in stub and "NodeResources" not in stub
    assert [n["ID"] for n in get(f"/v1/nodes?prefix={nodes.ids[1]}").json()] == [nodes.ids[1]]


def test_node_reads_back_whole_but_without_its_secret(nodes: Nodes) -> None:
    response = get(f"/v1/node/{nodes.ids[1]}")
    assert response.status_code == 200
    node = response.json()
    assert node["Name"] == "web-node-2" and node["Status"] == "ready"
    assert node["NodeResources"]["Cpu"]["CpuShares"] == 4000
    assert node["SecretID"] == "" and NODE_SECRET.encode() not in response.content
    assert int(response["X-Nomad-Index"]) >= node["ModifyIndex"] > 0
    missing = get("/v1/node/00000000-0000-4000-8000-000000000000")
    assert (missing.status_code, missing.content) == (404, b"node not found")


def test_placed_job_allocations_are_found_from_job_node_and_list(nodes: Nodes) -> None:
    register("alloc-web")
    (stub,) = placed("alloc-web")
    assert stub["JobID"] == "alloc-web" and stub["TaskGroup"] == "g" and stub["Namespace"] == "default"
    assert stub["NodeID"] in nodes.ids and stub["DesiredStatus"] == "run" and stub["JobType"] == "service"
    assert "Job" not in stub and "AllocatedResources" not in stub

    full = get(f"/v1/allocation/{stub['ID']}")
    assert full.status_code == 200
    assert full.json()["Job"]["ID"] == "alloc-web" and full.json()["EvalID"] == stub["EvalID"]
    assert int(full["X-Nomad-Index"]) >= full.json()["ModifyIndex"]

    on_node = get(f"/v1/node/{stub['NodeID']}/allocations").json()
    assert stub["ID"] in [a["ID"] for a in on_node]
    other = next(i for i in nodes.ids if i != stub["NodeID"])
    assert stub["ID"] not in [a["ID"] for a in get(f"/v1/node/{other}/allocations").json()]

    by_prefix = get(f"/v1/allocations?prefix={stub['ID'][:8]}").json()
    assert [a["ID"] for a in by_prefix] == [stub["ID"]]
    assert stub["ID"] in [a["ID"] for a in get("/v1/allocations").json()]


def test_allocation_lists_filter_and_page_as_nomad(nodes: Nodes) -> None:
    job = job_json("alloc-pages")
    job["TaskGroups"][0]["Count"] = 3
    put("/v1/jobs", {"Job": job})
    stubs = placed("alloc-pages", count=3)
    ids = [a["ID"] for a in stubs]
    first = get("/v1/allocations?per_page=2&filter=" + quote('JobID == "alloc-pages"'))
    assert first.status_code == 200
    assert [a["ID"] for a in first.json()] == ids[:2]
    token = first["X-Nomad-NextToken"]
    rest = get("/v1/allocations?per_page=2&filter=" + quote('JobID == "alloc-pages"') + f"&next_token={token}")
    assert [a["ID"] for a in rest.json()] == ids[2:] and "X-Nomad-NextToken" not in rest
    on_one_node = get("/v1/job/alloc-pages/allocations?filter=" + quote(f'NodeID == "{stubs[0]["NodeID"]}"'))
    assert {a["NodeID"] for a in on_one_node.json()} == {stubs[0]["NodeID"]}
    assert get("/v1/job/alloc-pages/allocations?filter=" + quote('ClientStatus == "nope"')).json() == []
    bad = get("/v1/allocations?filter=" + quote("JobID =="))
    assert bad.status_code == 400 and b"filter" in bad.content.lower()
    assert get("/v1/job/alloc-pages/allocations?filter=" + quote("JobID ==")).status_code == 400


def test_node_list_filters_and_pages_by_id(nodes: Nodes) -> None:
    ordered = sorted(nodes.ids)
    named = get("/v1/nodes?filter=" + quote('Name == "web-node-2"')).json()
    assert [n["ID"] for n in named] == [nodes.ids[1]]
    mine = quote('Name matches "^web-node-"')
    first = get(f"/v1/nodes?per_page=1&filter={mine}")
    assert [n["ID"] for n in first.json()] == ordered[:1]
    assert first["X-Nomad-NextToken"] == ordered[1]  # Nomad's node tokens: the next page's first ID
    second = get(f"/v1/nodes?per_page=1&filter={mine}&next_token={first['X-Nomad-NextToken']}")
    assert [n["ID"] for n in second.json()] == ordered[1:] and "X-Nomad-NextToken" not in second
    assert get("/v1/nodes?per_page=-1").status_code == 400


def test_unknown_allocation_is_404_and_unknown_job_has_none(nodes: Nodes) -> None:
    missing = get("/v1/allocation/00000000-0000-4000-8000-000000000000")
    assert (missing.status_code, missing.content) == (404, b"alloc not found")
    assert get("/v1/job/no-such-job/allocations").json() == []


def test_namespace_separates_allocations(nodes: Nodes) -> None:
    register("alloc-ns", namespace="team-x")
    (stub,) = placed("alloc-ns", query="?namespace=team-x")
    assert stub["Namespace"] == "team-x"
    assert get("/v1/job/alloc-ns/allocations").json() == []
    assert stub["ID"] not in [a["ID"] for a in get("/v1/allocations").json()]
    assert stub["ID"] in [a["ID"] for a in get("/v1/allocations?namespace=team-x").json()]
    assert stub["ID"] in [a["ID"] for a in get("/v1/allocations?namespace=*").json()]


def test_blocking_query_on_job_allocations_wakes_on_placement(nodes: Nodes) -> None:
    index = int(get("/v1/job/alloc-block/allocations")["X-Nomad-Index"])
    answers: list[Any] = []

    def until_placed() -> None:
        seen = index
        # Several writes come before the placement (job, evaluation): follow the index as a UI does.
        while not answers or not answers[-1].json():
            answers.append(get(f"/v1/job/alloc-block/allocations?index={seen}&wait=20s"))
            seen = int(answers[-1]["X-Nomad-Index"])

    waiter = threading.Thread(target=until_placed)
    started = time.monotonic()
    waiter.start()
    time.sleep(0.2)  # a real server process: the query must be parked there before the change
    register("alloc-block")
    waiter.join(20)
    assert time.monotonic() - started < 10
    assert int(answers[0]["X-Nomad-Index"]) > index
    assert [a["JobID"] for a in answers[-1].json()] == ["alloc-block"]


def test_blocking_query_on_nodes_answers_at_its_deadline(nodes: Nodes) -> None:
    index = int(get("/v1/nodes")["X-Nomad-Index"])
    started = time.monotonic()
    response = get(f"/v1/nodes?index={index}&wait=300ms")
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.25
    assert int(response["X-Nomad-Index"]) == index


def test_bad_query_parameters_are_400(nodes: Nodes) -> None:
    assert get("/v1/nodes?index=abc").status_code == 400
    assert get("/v1/allocations?index=1&wait=soon").status_code == 400


# ---- ACL on ------------------------------------------------------------------------------------------


@pytest.fixture
def node_reader(acl_on: None) -> str:
    policy_upsert(name="node-read", rules='node { policy = "read" }')
    return secret("node-read")


def test_acl_without_token_reads_nothing(nodes: Nodes, acl_on: None) -> None:
    for path in ("/v1/nodes", f"/v1/node/{nodes.ids[0]}", f"/v1/node/{nodes.ids[0]}/allocations",
                 "/v1/allocations", "/v1/job/x/allocations",
                 "/v1/allocation/00000000-0000-4000-8000-000000000000"):
        response = get(path)
        assert (response.status_code, response.content) == (403, b"Permission denied"), path


def test_acl_job_reader_reads_allocations_but_not_nodes(nodes: Nodes, acl_on: None) -> None:
    register("acl-alloc", **{"X-Nomad-Token": secret("write-default")})
    reader = {"X-Nomad-Token": secret("read-default")}
    (stub,) = placed("acl-alloc", **reader)
    assert get(f"/v1/allocation/{stub['ID']}", **reader).status_code == 200
    assert stub["ID"] in [a["ID"] for a in get("/v1/allocations", **reader).json()]
    assert get("/v1/nodes", **reader).status_code == 403
    assert get(f"/v1/node/{stub['NodeID']}", **reader).status_code == 403


def test_acl_node_reader_sees_nodes_but_no_allocations_of_unreadable_namespaces(
        nodes: Nodes, node_reader: str) -> None:
    management = {"X-Nomad-Token": token_create(name="m", type="management").secret_id}
    register("acl-hidden", namespace="hidden", **management)
    (stub,) = placed("acl-hidden", query="?namespace=hidden", **management)
    reader = {"X-Nomad-Token": node_reader}
    assert set(nodes.ids) <= {n["ID"] for n in get("/v1/nodes", **reader).json()}
    assert get(f"/v1/node/{stub['NodeID']}", **reader).status_code == 200
    on_node = get(f"/v1/node/{stub['NodeID']}/allocations", **reader)
    assert on_node.status_code == 200 and on_node.json() == []
    everything = get(f"/v1/node/{stub['NodeID']}/allocations", **management).json()
    assert stub["ID"] in [a["ID"] for a in everything]
    assert get(f"/v1/allocation/{stub['ID']}", **reader).status_code == 403
    assert get("/v1/allocations?namespace=hidden", **reader).status_code == 403


def test_acl_wildcard_allocation_list_keeps_readable_namespaces(nodes: Nodes, acl_on: None) -> None:
    management = {"X-Nomad-Token": token_create(name="m", type="management").secret_id}
    register("acl-mine-alloc", **management)
    register("acl-theirs-alloc", namespace="theirs-alloc", **management)
    mine = placed("acl-mine-alloc", **management)[0]
    theirs = placed("acl-theirs-alloc", query="?namespace=theirs-alloc", **management)[0]
    listed = [a["ID"] for a in get("/v1/allocations?namespace=*",
                                   **{"X-Nomad-Token": secret("read-default")}).json()]
    assert mine["ID"] in listed and theirs["ID"] not in listed
