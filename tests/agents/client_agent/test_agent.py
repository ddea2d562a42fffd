"""A client agent in this process against a real server in this process: it registers through a dead
server address, runs a job, stops the task when the job is stopped, and staggers failed heartbeats."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import msgspec
import pytest

from agents.client.agent import ClientAgent, ClientTimings
from agents.config import load
from agents.rpc import ConnectionPool, Role
from agents.server.agent import ServerAgent
from agents.server.endpoints import (
    JobRegisterRequest,
    JobRegisterResponse,
    NodeAllocsResponse,
    NodeSpecificRequest,
)
from agents.server.raft_runtime import RuntimeConfig
from cluster.structs import Allocation
from tests.agents.client_agent.support import client_hcl, kill_leftovers
from tests.agents.server.support import KEY, free_ports, pool, server_hcl
from tests.unit.scheduler import factories

FAST_RAFT = RuntimeConfig(cluster_key=KEY, tick_ms=10, election_ticks=10)
FAST = ClientTimings(register_retry_s=0.1, watch_wait_s=5.0, sync_interval_s=0.05, update_batch_s=0.05)


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    kill_leftovers(tmp_path)


@asynccontextmanager
async def server_and_client(root: Path) -> AsyncIterator[tuple[ClientAgent, ConnectionPool, str]]:
    rpc, serf, http, dead = free_ports(4)
    server_file = root / "server.hcl"
    server_file.write_text(server_hcl("solo", root / "server", rpc, serf, http, [], 1))
    server = ServerAgent(load(["-server", "-config", str(server_file)]).config, raft=FAST_RAFT)
    await server.start()
    client_file = root / "client.hcl"
    # The first server listed does not answer: the client must go on to the next.
    client_file.write_text(client_hcl("c1", root / "client", [f"127.0.0.1:{dead}", server.member.RPCAddr], http))
    client = ClientAgent(load(["-config", str(client_file)]).config, timings=FAST)
    web = pool(Role.WEB, "test")
    try:
        await asyncio.wait_for(client.start(), 10)
        yield client, web, server.member.RPCAddr
    finally:
        await client.stop()
        await web.close()
        await server.stop()


def test_a_stopped_job_stops_its_task_on_the_client(root: Path) -> None:
    async def scenario() -> None:
        async with server_and_client(root) as (client, web, address):
            assert client.node is not None
            group = factories.group(count=1, cpu=100, memory_mb=64, disk_mb=150, driver="raw_exec")
            assert group.Tasks is not None
            group.Tasks[0].Config = {"command": "/bin/sh", "args": ["-c", "exec sleep 300"]}
            group.Tasks[0].KillTimeout = 2_000_000_000
            job = factories.job("stoppable", groups=[group])
            await web.call(address, "Job.Register", JobRegisterRequest(Job=job), JobRegisterResponse, timeout_s=5)

            async def status() -> Allocation | None:
                reply = await web.call(address, "Node.GetAllocs", NodeSpecificRequest(NodeID=client.node.ID
                                       if client.node else ""), NodeAllocsResponse, timeout_s=5)
                return reply.Allocs[0] if reply.Allocs else None

            async def until(wanted: str) -> Allocation:
                while True:
                    alloc = await status()
                    if alloc is not None and alloc.ClientStatus == wanted:
                        return alloc
                    await asyncio.sleep(0.05)

            running = await asyncio.wait_for(until("running"), 15)
            runner = client.runners[running.ID]
            assert runner.runners["web"].state.State == "running"
            await web.call(address, "Job.Register", JobRegisterRequest(Job=msgspec.structs.replace(job, Stop=True)),
                           JobRegisterResponse, timeout_s=5)
            stopped = await asyncio.wait_for(until("complete"), 15)
            assert stopped.ID == running.ID
            assert stopped.TaskStates is not None and stopped.TaskStates["web"].State == "dead"

    asyncio.run(asyncio.wait_for(scenario(), 60))


class StillClock:
    def __init__(self) -> None:
        self.now = 1_000 * 1_000_000_000

    def now_ns(self) -> int:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += int(seconds * 1e9)


def test_failed_heartbeats_retry_within_what_is_left_of_the_ttl(tmp_path: Path) -> None:
    config_file = tmp_path / "client.hcl"
    config_file.write_text(client_hcl("c1", tmp_path / "client", ["127.0.0.1:1"], 4646))
    clock = StillClock()
    agent = ClientAgent(load(["-config", str(config_file)]).config, clock=clock, rng=random.Random(3))
    agent.heartbeat_ttl_ns = 10 * 1_000_000_000
    last_ok = clock.now - 4 * 1_000_000_000  # 6 s of the TTL left
    waits = [agent._retry_wait_s(last_ok) for _ in range(200)]
    assert all(agent.timings.heartbeat_retry_min_s <= w <= 6.0 for w in waits)
    assert len({round(w, 3) for w in waits}) > 100, "retries are spread, not all at once"
    assert agent._retry_wait_s(clock.now - 20 * 1_000_000_000) == agent.timings.heartbeat_retry_min_s
