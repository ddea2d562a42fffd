"""Three servers and two client agents as real processes; the leader is killed with SIGKILL.

What an operator notices: the job's tasks keep running through the leader's death (same pids, never
started again); the other two servers elect a new leader within a few seconds; a job registered afterwards
is placed and runs; the killed server restarts from its data, rejoins, and catches up with every write it
missed.
"""

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
    JobSpecificRequest,
    NodeAllocsResponse,
    NodeSpecificRequest,
    SingleJobResponse,
    StatusPeersResponse,
    StatusRequest,
)
from cluster.structs import Allocation, Job
from tests.agents.client_agent.support import ClientProcess, kill_leftovers
from tests.agents.server.support import ServerCluster, call_any, eventually, leader_of, pool
from tests.unit.scheduler import factories

pytestmark = pytest.mark.slow

SCRIPT = 'echo "$$" >> "$NOMAD_ALLOC_DIR/pids"; exec sleep 300'


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    kill_leftovers(tmp_path)


def sleeper(job_id: str, count: int) -> Job:
    group = factories.group(count=count, cpu=50, memory_mb=32, disk_mb=150, driver="raw_exec")
    assert group.Tasks is not None
    group.Tasks[0].Config = {"command": "/bin/sh", "args": ["-c", SCRIPT]}
    return factories.job(job_id, groups=[group])


def test_tasks_survive_the_leaders_death_and_the_cluster_carries_on(root: Path) -> None:
    cluster = ServerCluster(root / "servers")
    servers = [s.address for s in cluster.servers]
    clients = [ClientProcess(root, f"c{i}", servers) for i in (1, 2)]
    cluster.start()
    for client in clients:
        client.start()
    try:
        asyncio.run(asyncio.wait_for(_scenario(cluster, clients), 150))
    except BaseException:
        print(cluster.logs()[-8000:])
        for client in clients:
            print(f"---- {client.name} ----\n{client.output()[-4000:]}")
        raise
    finally:
        for client in clients:
            client.stop()
        cluster.stop()


async def _scenario(cluster: ServerCluster, clients: list[ClientProcess]) -> None:
    servers = [s.address for s in cluster.servers]
    web = pool(Role.WEB, "test")
    try:
        leader = await leader_of(web, servers)

        async def registered() -> bool | None:
            return True if all(c.starts() == 1 for c in clients) else None

        await eventually(registered, 30, "both clients registered")

        async def running(job_id: str, count: int) -> list[tuple[ClientProcess, Allocation]] | None:
            found = []
            for client in clients:
                reply = await call_any(web, servers, "Node.GetAllocs",
                                       NodeSpecificRequest(NodeID=client.node_id, AllowStale=True), NodeAllocsResponse)
                found += [(client, a) for a in reply.Allocs if a.JobID == job_id and a.ClientStatus == "running"]
            return found if len(found) == count else None

        await web.call(leader, "Job.Register", JobRegisterRequest(Job=sleeper("before", 2)), JobRegisterResponse,
                       timeout_s=10)
        before = await eventually(lambda: running("before", 2), 30, "both allocations running")
        tasks = []
        for client, alloc in before:
            pids = (client.data_dir / "alloc" / alloc.ID / "alloc" / "pids").read_text().split()
            assert len(pids) == 1
            tasks.append((client, alloc, pids, psutil.Process(int(pids[0]))))

        victim = cluster.by_address(leader)
        victim.kill9()
        survivors = [a for a in servers if a != leader]
        new_leader = await leader_of(web, survivors)
        assert new_leader != leader

        await web.call(new_leader, "Job.Register", JobRegisterRequest(Job=sleeper("after", 1)), JobRegisterResponse,
                       timeout_s=10)
        await eventually(lambda: running("after", 1), 30, "the job registered after the failover running")
        for client, alloc, pids, task in tasks:
            assert task.is_running(), f"task of {alloc.ID} died with the leader"
            assert (client.data_dir / "alloc" / alloc.ID / "alloc" / "pids").read_text().split() == pids

        victim.start()

        async def caught_up() -> bool | None:
            peers = await web.call(victim.address, "Status.Peers", StatusRequest(), StatusPeersResponse, timeout_s=3)
            job = await web.call(victim.address, "Job.Get", JobSpecificRequest(JobID="after", AllowStale=True),
                                 SingleJobResponse, timeout_s=3)
            return True if sorted(peers.Peers) == sorted(servers) and job.Job is not None else None

        await eventually(caught_up, 30, "the restarted server back in the cluster with the missed writes")
        assert await leader_of(web, servers) == new_leader  # its return did not disturb the new leader
    finally:
        await web.close()
