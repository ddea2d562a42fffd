"""Scheduling never starves Raft: three server processes place 20,000 allocations on 40 fake nodes while
every server's Raft term is watched.

What an operator notices: a burst of big jobs is placed in full, and no server loses its leader meanwhile (no
election: the term and the leader stay what they were), because the scheduler workers run off the event
loop that carries Raft's heartbeats.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agents.rpc import Role
from agents.server.endpoints import JobRegisterRequest, JobRegisterResponse, JobSpecificRequest
from agents.server.endpoints_jobs import JobSummaryResponse
from agents.server.endpoints_operator import AgentRequest, AgentSelfResponse
from tests.agents.server.support import FakeNode, ServerCluster, eventually, leader_of, pool
from tests.unit.scheduler import factories

pytestmark = pytest.mark.slow

JOBS = 20
COUNT = 1000
NODES = 40


async def raft_view(web: object, address: str) -> tuple[str, str]:
    """(term, leader id) as the server at ``address`` sees them."""
    reply = await web.call(address, "Agent.Self", AgentRequest(), AgentSelfResponse, timeout_s=5)  # type: ignore[attr-defined]
    raft = reply.stats["raft"]
    return raft["term"], raft["leader_id"]


async def scenario(cluster: ServerCluster) -> None:
    servers = [s.address for s in cluster.servers]
    web = pool(Role.WEB, "web-load")
    nodes = [FakeNode(factories.node(name=f"big-{i}", cpu=200_000, memory_mb=400_000, disk_mb=10_000_000,
                                    drivers=("raw_exec",)),
                      servers) for i in range(NODES)]
    try:
        leader = await leader_of(web, servers)
        for node in nodes:
            await node.register()
        before = {a: await raft_view(web, a) for a in servers}
        assert len(set(before.values())) == 1, before

        watching = True
        seen: dict[str, set[tuple[str, str]]] = {a: set() for a in servers}

        async def watch() -> None:
            while watching:
                for address in servers:
                    seen[address].add(await raft_view(web, address))
                await asyncio.sleep(0.1)

        watcher = asyncio.create_task(watch())
        for i in range(JOBS):
            job = factories.job(f"load-{i}", count=COUNT, driver="raw_exec", cpu=10, memory_mb=10)
            await web.call(leader, "Job.Register", JobRegisterRequest(Job=job), JobRegisterResponse, timeout_s=30)

        last_summary: list[object] = []

        async def all_placed() -> bool | None:
            for i in range(JOBS):
                summary = await web.call(leader, "Job.Summary", JobSpecificRequest(JobID=f"load-{i}"),
                                         JobSummaryResponse, timeout_s=10)
                groups = list((summary.JobSummary.Summary or {}).values()) if summary.JobSummary else []
                group = groups[0] if len(groups) == 1 else None
                if group is None or group.Starting + group.Running + group.Queued < COUNT or group.Queued:
                    last_summary[:] = [summary.JobSummary]
                    return None
            return True

        try:
            await eventually(all_placed, 120, f"{JOBS * COUNT} placements")
        except AssertionError as e:
            raise AssertionError(f"{e}; last summary: {last_summary}") from None
        watching = False
        await watcher
        for address in servers:
            assert seen[address] == {before[address]}, (
                f"{address} saw the Raft term or leader change under scheduling load: {sorted(seen[address])}")
    finally:
        for node in nodes:
            await node.close()
        await web.close()


def test_a_burst_of_placements_causes_no_election(tmp_path: Path) -> None:
    cluster = ServerCluster(tmp_path)
    cluster.start()
    try:
        asyncio.run(asyncio.wait_for(scenario(cluster), 180))
    except BaseException:
        print(cluster.logs()[-8000:])
        raise
    finally:
        cluster.stop()
