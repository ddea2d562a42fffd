"""Three server agents as real processes on loopback, with two fake client nodes.

What a user notices: the servers elect a leader; nodes register and heartbeat over RPC; a job registered
through a follower is forwarded, evaluated and placed, and the nodes' blocking alloc queries return the
placements as soon as they are committed; after kill -9 of the leader a new one takes over and later jobs
are scheduled; a node that stops heartbeating is marked down, its allocations lost and replaced on the
other node; the killed server restarts from its data and catches up.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agents.rpc import Role
from agents.server.endpoints import (
    EvalSpecificRequest,
    JobRegisterRequest,
    JobRegisterResponse,
    JobSpecificRequest,
    NodeAllocsResponse,
    NodeSpecificRequest,
    SingleEvalResponse,
    SingleJobResponse,
    StatusPeersResponse,
    StatusRequest,
)
from cluster.errors import PermissionDenied
from cluster.structs.alloc import Allocation
from tests.agents.server.support import FakeNode, ServerCluster, call_any, eventually, leader_of, pool
from tests.unit.scheduler import factories

pytestmark = pytest.mark.slow


def live(allocs: list[Allocation], job_id: str) -> list[Allocation]:
    return [a for a in allocs if a.JobID == job_id and a.DesiredStatus == "run"
            and a.ClientStatus not in ("lost", "failed", "complete")]


async def allocs_of(web_pool: object, servers: list[str], node_id: str) -> list[Allocation]:
    from agents.rpc import ConnectionPool

    assert isinstance(web_pool, ConnectionPool)
    reply = await call_any(web_pool, servers, "Node.GetAllocs", NodeSpecificRequest(NodeID=node_id, AllowStale=True),
                           NodeAllocsResponse)
    return reply.Allocs


async def scenario(cluster: ServerCluster) -> None:
    servers = [s.address for s in cluster.servers]
    web = pool(Role.WEB, "web-test")
    nodes = [FakeNode(factories.node(name=f"node-{i}", drivers=("raw_exec",)), servers) for i in (1, 2)]
    try:
        leader = await leader_of(web, servers)
        peers = await web.call(servers[0], "Status.Peers", StatusRequest(), StatusPeersResponse, timeout_s=5)
        assert sorted(peers.Peers) == sorted(servers)
        followers = [a for a in servers if a != leader]

        for n in nodes:
            registered = await n.register()
            assert registered.HeartbeatTTL >= 1_000_000_000  # the configured minimum TTL
            assert registered.LeaderRPCAddr == leader

        # The nodes' blocking queries are waiting before the job exists.
        first = await nodes[0].pool.call(followers[0], "Node.GetAllocs",
                                         NodeSpecificRequest(NodeID=nodes[0].node.ID, AllowStale=True),
                                         NodeAllocsResponse, timeout_s=5)
        assert first.Allocs == []
        waits = [asyncio.create_task(n.pool.call(
            followers[0], "Node.GetAllocs",
            NodeSpecificRequest(NodeID=n.node.ID, AllowStale=True, MinQueryIndex=first.Index,
                                MaxQueryTime=20_000_000_000),
            NodeAllocsResponse, timeout_s=30)) for n in nodes]

        # A client may not register jobs.
        with pytest.raises(PermissionDenied):
            await nodes[0].pool.call(followers[0], "Job.Register", JobRegisterRequest(Job=factories.job("nope")),
                                     JobRegisterResponse, timeout_s=5)

        job = factories.job("web", count=4, driver="raw_exec")
        reply = await web.call(followers[0], "Job.Register", JobRegisterRequest(Job=job), JobRegisterResponse,
                               timeout_s=10)
        assert reply.EvalID and reply.JobModifyIndex > 0
        stored = await web.call(followers[1], "Job.Get", JobSpecificRequest(JobID="web"), SingleJobResponse,
                                timeout_s=5)
        assert stored.Job is not None and stored.Job.Version == 0

        # Both queries answer at the placement, long before their 20 s: the node that got allocations sees
        # them; a node that got none may wake too (an empty group answers with its table's index).
        loop = asyncio.get_running_loop()
        started = loop.time()
        woken = await asyncio.wait_for(asyncio.gather(*waits), 20)
        assert loop.time() - started < 15, "a blocking query waited for its timeout instead of the placement"
        assert all(w.Index > first.Index for w in woken)
        assert len([a for w in woken for a in live(w.Allocs, "web")]) == 4

        async def placed(job_id: str, count: int) -> list[Allocation] | None:
            allocs = [a for n in nodes for a in live(await allocs_of(web, servers, n.node.ID), job_id)]
            return allocs if len(allocs) == count else None

        await eventually(lambda: placed("web", 4), 20, "4 allocations of web")

        async def eval_complete() -> bool | None:
            ev = await web.call(leader, "Eval.Get", EvalSpecificRequest(EvalID=reply.EvalID), SingleEvalResponse,
                                timeout_s=5)
            return True if ev.Eval is not None and ev.Eval.Status == "complete" else None

        await eventually(eval_complete, 10, "the job's evaluation to complete")

        # A burst of scheduling (one evaluation placing 300 allocations) does not starve Raft: no election.
        bulk = factories.job("bulk", count=300, driver="raw_exec", cpu=2, memory_mb=10, disk_mb=150)
        await web.call(followers[1], "Job.Register", JobRegisterRequest(Job=bulk), JobRegisterResponse, timeout_s=10)
        await eventually(lambda: placed("bulk", 300), 30, "300 allocations of bulk")
        assert await leader_of(web, servers) == leader

        # kill -9 of the leader: a new leader takes over and schedules a new job.
        cluster.by_address(leader).kill9()
        survivors = [a for a in servers if a != leader]
        new_leader = await leader_of(web, survivors)
        assert new_leader != leader
        job2 = factories.job("api", count=2, driver="raw_exec")
        await eventually(lambda: web.call(survivors[0], "Job.Register", JobRegisterRequest(Job=job2),
                                          JobRegisterResponse, timeout_s=10), 20, "Job.Register after failover")
        await eventually(lambda: placed("api", 2), 20, "2 allocations of api after failover")

        # The node with the most allocations stops heartbeating: it is marked down, its allocations lost
        # and replaced on the other node.
        counts = [len([a for a in await allocs_of(web, survivors, n.node.ID) if a.DesiredStatus == "run"])
                  for n in nodes]
        gone, kept = (nodes[0], nodes[1]) if counts[0] >= counts[1] else (nodes[1], nodes[0])
        await gone.stop_heartbeats()

        async def replaced() -> bool | None:
            on_kept = await allocs_of(web, survivors, kept.node.ID)
            on_gone = await allocs_of(web, survivors, gone.node.ID)
            ok = all(len(live(on_kept, job)) == count for job, count in (("web", 4), ("api", 2), ("bulk", 300)))
            return True if ok and not [a for a in on_gone if a.ClientStatus != "lost"] else None

        await eventually(replaced, 25, "the silent node's allocations replaced on the other node")
        lost = [a for a in await allocs_of(web, survivors, gone.node.ID) if a.ClientStatus == "lost"]
        assert len(lost) == max(counts)

        # The killed server restarts from its data directory, rejoins, and catches up.
        cluster.by_address(leader).start()

        async def caught_up() -> bool | None:
            got = await web.call(leader, "Job.Get", JobSpecificRequest(JobID="api", AllowStale=True),
                                 SingleJobResponse, timeout_s=2)
            return True if got.Job is not None else None

        await eventually(caught_up, 20, "the restarted server to catch up")
        assert await leader_of(web, servers) == new_leader
    finally:
        for n in nodes:
            await n.close()
        await web.close()


def test_three_servers_schedule_fail_over_and_replace_a_lost_node(tmp_path: Path) -> None:
    cluster = ServerCluster(tmp_path)
    cluster.start()
    try:
        asyncio.run(asyncio.wait_for(scenario(cluster), 90))
    except BaseException:
        print(cluster.logs())
        raise
    finally:
        cluster.stop()
