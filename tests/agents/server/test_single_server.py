"""One server agent in this process (fast Raft timers), called over real RPC on loopback.

What a caller notices: invalid jobs and nodes are refused with what is wrong and change nothing; a
command the state machine refuses comes back as its error and the server keeps serving; blocking queries
answer at their deadline with the unchanged index, and at once when what they watch changes; a node that
stops heartbeating is marked down by the leader.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import msgspec
import pytest

from agents.config import load
from agents.rpc import ConnectionPool, Role
from agents.server.agent import ServerAgent
from agents.server.endpoints import (
    AllocUpdateRequest,
    EvalListRequest,
    EvalListResponse,
    GenericResponse,
    JobListRequest,
    JobListResponse,
    JobRegisterRequest,
    JobRegisterResponse,
    NodeAllocsResponse,
    NodeRegisterRequest,
    NodeSpecificRequest,
    NodeUpdateResponse,
    NodeUpdateStatusRequest,
    StatusLeaderResponse,
    StatusRequest,
)
from agents.server.raft_runtime import RuntimeConfig
from cluster import fsm
from cluster.errors import InvalidInput, JobSpecError, NotFound, PermissionDenied
from cluster.state.write_allocs import AllocClientUpdate
from tests.agents.server.support import KEY, eventually, free_ports, pool, server_hcl
from tests.unit.scheduler import factories

FAST_RAFT = RuntimeConfig(cluster_key=KEY, tick_ms=10, election_ticks=10)


@asynccontextmanager
async def single_server(tmp_path: Path, ttl: str, grace: str) -> AsyncIterator[tuple[ServerAgent, ConnectionPool]]:
    rpc, serf, http = free_ports(3)
    config_file = tmp_path / "server.hcl"
    config_file.write_text(server_hcl("solo", tmp_path / "data", rpc, serf, http, [], 1, ttl, grace))
    agent = ServerAgent(load(["-server", "-config", str(config_file)]).config, raft=FAST_RAFT)
    web = pool(Role.WEB, "web-test")
    await agent.start()
    try:
        async with asyncio.timeout(5):
            while agent.loops is None or not agent.loops.running:
                await asyncio.sleep(0.01)
        yield agent, web
    finally:
        await web.close()
        await agent.stop()


def run(tmp_path: Path, body: Callable[[ServerAgent, ConnectionPool], Awaitable[None]], ttl: str = "1s",
        grace: str = "1s") -> None:
    async def main() -> None:
        async with single_server(tmp_path, ttl, grace) as (agent, web):
            await body(agent, web)

    asyncio.run(asyncio.wait_for(main(), 30))


def test_an_invalid_job_is_refused_with_every_problem_and_changes_nothing(tmp_path: Path) -> None:
    async def body(agent: ServerAgent, web: ConnectionPool) -> None:
        address = agent.member.RPCAddr
        job = factories.job("bad", count=1)
        assert job.TaskGroups is not None
        job.Priority = 500
        job.TaskGroups[0].Count = -1
        with pytest.raises(JobSpecError) as refused:
            await web.call(address, "Job.Register", JobRegisterRequest(Job=job), JobRegisterResponse, timeout_s=5)
        assert "priority" in str(refused.value).lower() and "count" in str(refused.value).lower()
        listed = await web.call(address, "Job.List", JobListRequest(), JobListResponse, timeout_s=5)
        assert listed.Jobs == []

    run(tmp_path, body)


def test_a_node_without_a_datacenter_or_an_unknown_node_is_refused(tmp_path: Path) -> None:
    async def body(agent: ServerAgent, web: ConnectionPool) -> None:
        address = agent.member.RPCAddr
        client = pool(Role.CLIENT, "node-x")
        try:
            node = factories.node(name="nodc")
            node.Datacenter = ""
            with pytest.raises(InvalidInput, match="Datacenter"):
                await client.call(address, "Node.Register", NodeRegisterRequest(Node=node), NodeUpdateResponse,
                                  timeout_s=5)
            with pytest.raises(NotFound, match="not registered"):
                await client.call(address, "Node.UpdateStatus",
                                  NodeUpdateStatusRequest(NodeID="missing", Status="ready"), NodeUpdateResponse,
                                  timeout_s=5)
        finally:
            await client.close()

    run(tmp_path, body)


def test_a_refused_command_comes_back_as_its_error_and_the_server_keeps_serving(tmp_path: Path) -> None:
    async def body(agent: ServerAgent, web: ConnectionPool) -> None:
        with pytest.raises(NotFound):
            await agent.propose(fsm.NodeUpdateStatus(NodeID="nobody", Status="down", UpdatedAt=1))
        reply = await web.call(agent.member.RPCAddr, "Job.Register", JobRegisterRequest(Job=factories.job("ok")),
                               JobRegisterResponse, timeout_s=5)
        assert reply.EvalID
        leader = await web.call(agent.member.RPCAddr, "Status.Leader", StatusRequest(), StatusLeaderResponse,
                                timeout_s=5)
        assert leader.Leader == agent.member.RPCAddr

    run(tmp_path, body)


def test_blocking_alloc_query_times_out_with_the_same_index_then_wakes_on_placement(tmp_path: Path) -> None:
    async def body(agent: ServerAgent, web: ConnectionPool) -> None:
        address = agent.member.RPCAddr
        client = pool(Role.CLIENT, "node-1")
        node = factories.node(name="node-1", drivers=("raw_exec",))
        try:
            await client.call(address, "Node.Register", NodeRegisterRequest(Node=node), NodeUpdateResponse,
                              timeout_s=5)
            now = await client.call(address, "Node.GetAllocs", NodeSpecificRequest(NodeID=node.ID, AllowStale=True),
                                    NodeAllocsResponse, timeout_s=5)
            loop = asyncio.get_running_loop()
            started = loop.time()
            idle = await client.call(address, "Node.GetAllocs", NodeSpecificRequest(
                NodeID=node.ID, AllowStale=True, MinQueryIndex=now.Index, MaxQueryTime=300_000_000),
                NodeAllocsResponse, timeout_s=5)
            assert idle.Index == now.Index and idle.Allocs == []
            assert 0.25 <= loop.time() - started < 2

            waiting = asyncio.create_task(client.call(address, "Node.GetAllocs", NodeSpecificRequest(
                NodeID=node.ID, AllowStale=True, MinQueryIndex=now.Index, MaxQueryTime=20_000_000_000),
                NodeAllocsResponse, timeout_s=30))
            await asyncio.sleep(0.1)
            assert not waiting.done()
            job = factories.job("cache", count=2, driver="raw_exec")
            registered = await web.call(address, "Job.Register", JobRegisterRequest(Job=job), JobRegisterResponse,
                                        timeout_s=5)
            woken = await asyncio.wait_for(waiting, 10)
            assert [a.JobID for a in woken.Allocs] == ["cache", "cache"]
            assert woken.Index > registered.Index
            evals = await web.call(address, "Eval.List", EvalListRequest(FilterJobID="cache"), EvalListResponse,
                                   timeout_s=5)
            assert [e.ID for e in evals.Evaluations] == [registered.EvalID]
        finally:
            await client.close()

    run(tmp_path, body)


def test_a_silent_node_is_marked_down_after_its_ttl_and_grace(tmp_path: Path) -> None:
    async def body(agent: ServerAgent, web: ConnectionPool) -> None:
        client = pool(Role.CLIENT, "node-1")
        node = factories.node(name="node-1")
        try:
            reply = await client.call(agent.member.RPCAddr, "Node.Register", NodeRegisterRequest(Node=node),
                                      NodeUpdateResponse, timeout_s=5)
            assert 200_000_000 <= reply.HeartbeatTTL < 400_000_000  # the minimum TTL plus a stagger below it
            async with asyncio.timeout(5):
                while (n := agent.fsm.store.snapshot().node_by_id(node.ID)) is None or n.Status != "down":
                    await asyncio.sleep(0.05)
            assert n.Events is not None and n.Events[-1].Message == "Node heartbeat missed"
        finally:
            await client.close()

    run(tmp_path, body, ttl="0.2s", grace="0.2s")


def test_client_alloc_updates_are_stored_and_a_failure_asks_for_an_evaluation(tmp_path: Path) -> None:
    async def body(agent: ServerAgent, web: ConnectionPool) -> None:
        address = agent.member.RPCAddr
        client = pool(Role.CLIENT, "node-1")
        node = factories.node(name="node-1", drivers=("raw_exec",))
        try:
            await client.call(address, "Node.Register", NodeRegisterRequest(Node=node), NodeUpdateResponse,
                              timeout_s=5)
            registered = await web.call(address, "Job.Register", JobRegisterRequest(
                Job=factories.job("batchy", count=2, driver="raw_exec")), JobRegisterResponse, timeout_s=5)
            placed = await client.call(address, "Node.GetAllocs", NodeSpecificRequest(
                NodeID=node.ID, AllowStale=True, MinQueryIndex=registered.Index, MaxQueryTime=5_000_000_000),
                NodeAllocsResponse, timeout_s=10)
            first, second = placed.Allocs
            with pytest.raises(PermissionDenied):
                await web.call(address, "Alloc.UpdateFromClient", AllocUpdateRequest(
                    Alloc=[AllocClientUpdate(ID=first.ID, ClientStatus="running")]), GenericResponse, timeout_s=5)
            await client.call(address, "Alloc.UpdateFromClient", AllocUpdateRequest(Alloc=[
                AllocClientUpdate(ID=first.ID, ClientStatus="running"),
                AllocClientUpdate(ID=second.ID, ClientStatus="failed", ClientDescription="exit 1"),
            ]), GenericResponse, timeout_s=5)
            snap = agent.fsm.store.snapshot()
            assert snap.alloc_by_id(first.ID).ClientStatus == "running"  # type: ignore[union-attr]
            assert snap.alloc_by_id(second.ID).ClientStatus == "failed"  # type: ignore[union-attr]
            triggers = [e.TriggeredBy for e in snap.evals_by_job("default", "batchy")]
            assert sorted(triggers) == ["alloc-failure", "job-register"]
        finally:
            await client.close()

    run(tmp_path, body)


def test_a_system_job_blocked_on_a_node_runs_once_the_node_has_room(tmp_path: Path) -> None:
    """A system evaluation that did not fit on a node waits on that node; when the node comes back
    with more memory (re-registered), the leader wakes the evaluation and the job lands there."""

    async def body(agent: ServerAgent, web: ConnectionPool) -> None:
        address = agent.member.RPCAddr
        client = pool(Role.CLIENT, "node-1")
        small = factories.node(name="node-1", drivers=("raw_exec",), memory_mb=256)
        try:
            await client.call(address, "Node.Register", NodeRegisterRequest(Node=small), NodeUpdateResponse,
                              timeout_s=5)
            job = factories.job("agent", type="system", driver="raw_exec", memory_mb=1024, count=1)
            await web.call(address, "Job.Register", JobRegisterRequest(Job=job), JobRegisterResponse, timeout_s=5)

            async def blocked() -> bool | None:
                evals = await web.call(address, "Eval.List", EvalListRequest(FilterJobID="agent"), EvalListResponse,
                                       timeout_s=5)
                return True if any(e.Status == "blocked" for e in evals.Evaluations) else None

            await eventually(blocked, 12, "a blocked evaluation for the system job")
            big = msgspec.structs.replace(
                small, NodeResources=factories.node(name="node-1", memory_mb=8192).NodeResources
            )
            await client.call(address, "Node.Register", NodeRegisterRequest(Node=big), NodeUpdateResponse,
                              timeout_s=5)

            async def placed() -> list[str] | None:
                allocs = await client.call(address, "Node.GetAllocs", NodeSpecificRequest(
                    NodeID=small.ID, AllowStale=True), NodeAllocsResponse, timeout_s=5)
                return [a.JobID for a in allocs.Allocs] or None

            assert await eventually(placed, 12, "the system job placed on node-1") == ["agent"]
        finally:
            await client.close()

    run(tmp_path, body)
