"""One server and two client agents as real processes: a raw_exec job runs and is reported running; a
client killed with SIGKILL and restarted reattaches to its task (same pid, never started again); a client
stopped for good has its allocation marked lost and replaced on the other client."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from agents.rpc import Role
from agents.server.endpoints import (
    JobRegisterRequest,
    JobRegisterResponse,
    NodeAllocsResponse,
    NodeSpecificRequest,
)
from cluster.structs import Allocation, Job
from tests.agents.client_agent.support import ClientProcess, kill_leftovers
from tests.agents.server.support import ServerProcess, eventually, free_ports, leader_of, pool, server_hcl
from tests.unit.scheduler import factories

pytestmark = pytest.mark.slow

# The task appends its pid at every start: one line means it never started again.
SCRIPT = 'echo "$$" >> "$NOMAD_ALLOC_DIR/pids"; echo hi; exec sleep 300'


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    kill_leftovers(tmp_path)


def _job() -> Job:
    group = factories.group(count=1, cpu=100, memory_mb=64, disk_mb=150, driver="raw_exec")
    assert group.Tasks is not None
    group.Tasks[0].Config = {"command": "/bin/sh", "args": ["-c", SCRIPT]}
    return factories.job("hello", groups=[group])


def test_job_runs_reattaches_after_kill9_and_moves_when_a_client_is_gone(root: Path) -> None:
    rpc, serf, http = free_ports(3)
    server = ServerProcess(root, "s1", rpc, serf, http, [], 1)
    # A heartbeat grace long enough for a killed client to restart before its node is declared down.
    server.config.write_text(server_hcl("s1", server.dir / "data", rpc, serf, http, [], 1, ttl="1s", grace="5s"))
    clients = [ClientProcess(root, f"c{i}", [server.address]) for i in (1, 2)]
    server.start()
    for client in clients:
        client.start()
    try:
        asyncio.run(_scenario(server.address, clients))
    except BaseException:
        print(f"---- s1 ----\n{server.output()[-6000:]}")
        for client in clients:
            print(f"---- {client.name} ----\n{client.output()[-6000:]}")
        raise
    finally:
        for client in clients:
            client.stop()
        server.stop()


async def _scenario(address: str, clients: list[ClientProcess]) -> None:
    web = pool(Role.WEB, "test")
    try:
        await leader_of(web, [address])

        async def started() -> bool | None:
            return True if all(c.starts() == 1 for c in clients) else None

        await eventually(started, 30, "both clients registered")

        async def allocs_of(client: ClientProcess) -> list[Allocation]:
            reply = await web.call(address, "Node.GetAllocs", NodeSpecificRequest(NodeID=client.node_id),
                                   NodeAllocsResponse, timeout_s=5)
            return reply.Allocs

        job = _job()
        await web.call(address, "Job.Register", JobRegisterRequest(Job=job), JobRegisterResponse, timeout_s=5)

        async def running() -> tuple[ClientProcess, Allocation] | None:
            for client in clients:
                for alloc in await allocs_of(client):
                    if alloc.ClientStatus == "running":
                        return client, alloc
            return None

        first, alloc = await eventually(running, 20, "the allocation reported running")
        other = next(c for c in clients if c is not first)
        assert alloc.TaskStates is not None and alloc.TaskStates["web"].State == "running"
        pids_file = first.data_dir / "alloc" / alloc.ID / "alloc" / "pids"
        pids = pids_file.read_text().split()
        assert len(pids) == 1
        task = psutil.Process(int(pids[0]))

        # SIGKILL and restart: the task keeps running and the new agent reattaches to it.
        first.kill9()
        assert task.is_running()
        first.start()

        async def restarted() -> bool | None:
            return True if first.starts() == 2 else None

        await eventually(restarted, 20, "the killed client registered again")
        await asyncio.sleep(1.5)  # time for a wrongful restart or replacement to show
        assert pids_file.read_text().split() == pids, "the task was started again"
        assert task.is_running()
        now = {a.ID: a.ClientStatus for a in await allocs_of(first)}
        assert now == {alloc.ID: "running"}
        assert await allocs_of(other) == []

        # Stopped for good: the node goes down, the allocation is lost and replaced on the other client.
        first.stop()

        async def replaced() -> Allocation | None:
            lost = {a.ID: a.ClientStatus for a in await allocs_of(first)}.get(alloc.ID) == "lost"
            moved = [a for a in await allocs_of(other) if a.ClientStatus == "running"]
            return moved[0] if lost and moved else None

        moved = await eventually(replaced, 30, "the allocation lost and replaced on the other client")
        assert moved.ID != alloc.ID
        assert (other.data_dir / "alloc" / moved.ID / "alloc" / "pids").read_text().count("\n") == 1
    finally:
        await web.close()
