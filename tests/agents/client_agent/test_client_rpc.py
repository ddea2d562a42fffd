"""The client agent's own RPC listener (one server and one client process): the node's ``HTTPAddr`` is
where the web role reads an allocation's stats, logs (followed across calls) and files, restarts and
signals its task, and reads the host's stats; no path leaves the allocation directory; a client role
may not call it."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from pathlib import Path

import pytest

from agents.client.rpc_endpoints import (
    AllocResourceUsage,
    AllocRestartRequest,
    AllocSignalRequest,
    AllocStatsRequest,
    ClientStatsRequest,
    ClientStatsResponse,
    Empty,
    FsCatRequest,
    FsCatResponse,
    FsListRequest,
    FsListResponse,
    FsLogsRequest,
    FsLogsResponse,
    FsStatRequest,
    FsStatResponse,
)
from agents.rpc import ConnectionPool, Role
from agents.server.endpoints import (
    JobAllocationsResponse,
    JobRegisterRequest,
    JobRegisterResponse,
    JobSpecificRequest,
    NodeAllocsResponse,
    NodeSpecificRequest,
    SingleNodeResponse,
)
from agents.server.endpoints_jobs import SingleDeploymentResponse
from cluster.errors import NotFound, PermissionDenied
from cluster.structs import Allocation, Deployment, UpdateStrategy
from cluster.structs.base import SECOND_NS
from tests.agents.client_agent.support import ClientProcess, kill_leftovers
from tests.agents.server.support import ServerProcess, eventually, free_ports, leader_of, pool
from tests.unit.scheduler import factories

pytestmark = pytest.mark.slow

# Counts lines to stdout, says it got a USR1 on stderr, and keeps its CPU a little busy.
SCRIPT = ('trap "echo got-usr1 >&2" USR1; i=0; while true; do i=$((i+1)); echo "line $i"; '
          'echo "$$" >> "$NOMAD_ALLOC_DIR/pids"; sleep 0.2; done')


class Cluster:
    def __init__(self, server: ServerProcess, client: ClientProcess) -> None:
        self.server, self.client = server, client


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = Path(tmp_path_factory.mktemp("client-rpc"))
    rpc, serf, http = free_ports(3)
    server = ServerProcess(root, "s1", rpc, serf, http, [], 1)
    client = ClientProcess(root, "c1", [server.address])
    server.start()
    client.start()
    try:
        yield Cluster(server, client)
    finally:
        client.stop()
        server.stop()
        kill_leftovers(root)


async def _running(web: ConnectionPool, cluster: Cluster) -> tuple[Allocation, str]:
    """The running allocation of the job (registered once) and the client's RPC address."""
    address = cluster.server.address
    await leader_of(web, [address])
    node_id = await eventually(lambda: _node_id(cluster), 30, "the client registered")
    group = factories.group(count=1, cpu=100, memory_mb=64, disk_mb=150, driver="raw_exec")
    assert group.Tasks is not None
    group.Tasks[0].Config = {"command": "/bin/sh", "args": ["-c", SCRIPT]}
    await web.call(address, "Job.Register", JobRegisterRequest(Job=factories.job("counter", groups=[group])),
                   JobRegisterResponse, timeout_s=5)

    async def running() -> Allocation | None:
        reply = await web.call(address, "Node.GetAllocs", NodeSpecificRequest(NodeID=node_id),
                               NodeAllocsResponse, timeout_s=5)
        return next((a for a in reply.Allocs if a.ClientStatus == "running"), None)

    alloc = await eventually(running, 30, "the allocation running")
    node = (await web.call(address, "Node.Get", NodeSpecificRequest(NodeID=node_id), SingleNodeResponse)).Node
    assert node is not None
    return alloc, node.HTTPAddr


async def _node_id(cluster: Cluster) -> str | None:
    return cluster.client.node_id if '"event": "client-started"' in cluster.client.output() else None


def _logs_on_failure(cluster: Cluster, scenario: Coroutine[object, object, None]) -> None:
    try:
        asyncio.run(scenario)
    except BaseException:
        print(f"---- s1 ----\n{cluster.server.output()[-5000:]}\n---- c1 ----\n{cluster.client.output()[-5000:]}")
        raise


def test_client_endpoints_on_the_nodes_http_addr(cluster: Cluster) -> None:
    _logs_on_failure(cluster, _client_endpoints(cluster))


async def _client_endpoints(cluster: Cluster) -> None:
    web = pool(Role.WEB, "test")
    try:
        await _scenario(web, cluster)
    finally:
        await web.close()


async def _scenario(web: ConnectionPool, cluster: Cluster) -> None:
    alloc, addr = await _running(web, cluster)
    assert addr != cluster.server.address  # the client's own listener

    # Logs from the start, then followed: the next call continues where the last one ended.
    first = await web.call(addr, "FileSystem.Logs", FsLogsRequest(AllocID=alloc.ID, Task="web", WaitMs=3000),
                           FsLogsResponse)
    assert first.Data.startswith(b"line 1\n") and first.File == "web.stdout.0" and not first.TaskDead
    follow = await web.call(addr, "FileSystem.Logs", FsLogsRequest(
        AllocID=alloc.ID, Task="web", File=first.File, Offset=first.Offset, WaitMs=3000), FsLogsResponse)
    assert follow.Data.startswith(b"line ") and follow.Offset == first.Offset + len(follow.Data)
    tail = await web.call(addr, "FileSystem.Logs", FsLogsRequest(AllocID=alloc.ID, Task="web", Origin="end",
                                                                 Offset=7), FsLogsResponse)
    assert 7 <= len(tail.Data) <= 7 + 20 and tail.Data.endswith(b"\n")  # and a line written meanwhile

    # Files: list, stat and cat inside; a way out is refused.
    listing = await web.call(addr, "FileSystem.List", FsListRequest(AllocID=alloc.ID, Path="/alloc"),
                             FsListResponse)
    assert {"logs", "data", "tmp", "pids"} <= {f.Name for f in listing.Files}
    stat = await web.call(addr, "FileSystem.Stat", FsStatRequest(AllocID=alloc.ID, Path="alloc/pids"),
                          FsStatResponse)
    assert not stat.Info.IsDir and stat.Info.Size > 0
    cat = await web.call(addr, "FileSystem.Cat", FsCatRequest(AllocID=alloc.ID, Path="alloc/pids"), FsCatResponse)
    pid = int(cat.Data.split()[0])
    with pytest.raises(PermissionDenied):
        await web.call(addr, "FileSystem.Cat", FsCatRequest(AllocID=alloc.ID, Path="../../client/secret-id"),
                       FsCatResponse)
    with pytest.raises(NotFound):
        await web.call(addr, "FileSystem.List", FsListRequest(AllocID="no-such-alloc"), FsListResponse)

    # Stats of the task (psutil over its process group) and of the host.
    stats = await web.call(addr, "ClientAllocations.Stats", AllocStatsRequest(AllocID=alloc.ID),
                           AllocResourceUsage)
    usage = stats.Tasks["web"].ResourceUsage
    assert usage.MemoryStats.RSS > 0 and usage.CpuStats.Percent >= 0
    assert stats.ResourceUsage.MemoryStats.RSS == usage.MemoryStats.RSS
    host = await web.call(addr, "ClientStats.Stats", ClientStatsRequest(), ClientStatsResponse)
    assert host.HostStats.Memory is not None and host.HostStats.Memory.Total > 0
    assert host.HostStats.AllocDirStats is not None and host.HostStats.AllocDirStats.Size > 0
    assert host.HostStats.CPU

    # Signal: the task's trap writes to stderr.
    await web.call(addr, "ClientAllocations.Signal", AllocSignalRequest(AllocID=alloc.ID, Task="web",
                                                                         Signal="SIGUSR1"), Empty)

    async def trapped() -> bool | None:
        chunk = await web.call(addr, "FileSystem.Logs", FsLogsRequest(AllocID=alloc.ID, Task="web",
                                                                      LogType="stderr"), FsLogsResponse)
        return True if b"got-usr1" in chunk.Data else None

    await eventually(trapped, 10, "the task trapped SIGUSR1")

    # Restart: the task starts again with a new pid, the allocation stays.
    await web.call(addr, "ClientAllocations.Restart", AllocRestartRequest(AllocID=alloc.ID, TaskName="web"),
                   Empty)

    async def restarted() -> bool | None:
        data = (await web.call(addr, "FileSystem.Cat", FsCatRequest(AllocID=alloc.ID, Path="alloc/pids"),
                               FsCatResponse)).Data
        return True if any(int(p) != pid for p in data.split()) else None

    await eventually(restarted, 15, "the task restarted with a new pid")

    # Only the web application and servers may call a client.
    client_role = pool(Role.CLIENT, "intruder")
    try:
        with pytest.raises(PermissionDenied):
            await client_role.call(addr, "FileSystem.List", FsListRequest(AllocID=alloc.ID), FsListResponse)
    finally:
        await client_role.close()


def test_deployment_health_reported_by_the_client(cluster: Cluster) -> None:
    _logs_on_failure(cluster, _deployment(cluster))


async def _deployment(cluster: Cluster) -> None:
    """A job with ``update { health_check = "task_states" }``: the client reports the allocation healthy
    after min_healthy_time and the deployment succeeds."""
    web = pool(Role.WEB, "test")
    address = cluster.server.address
    try:
        await leader_of(web, [address])
        await eventually(lambda: _node_id(cluster), 30, "the client registered")
        update = UpdateStrategy(HealthCheck="task_states", MinHealthyTime=SECOND_NS // 2, MaxParallel=1,
                                HealthyDeadline=30 * SECOND_NS, ProgressDeadline=60 * SECOND_NS)
        group = factories.group(count=1, cpu=100, memory_mb=64, disk_mb=150, driver="raw_exec", update=update)
        assert group.Tasks is not None
        group.Tasks[0].Config = {"command": "/bin/sh", "args": ["-c", "exec sleep 300"]}
        await web.call(address, "Job.Register", JobRegisterRequest(Job=factories.job("rolled", groups=[group])),
                       JobRegisterResponse, timeout_s=5)

        async def finished() -> Deployment | None:
            reply = await web.call(address, "Job.LatestDeployment", JobSpecificRequest(JobID="rolled"),
                                   SingleDeploymentResponse)
            d = reply.Deployment
            return d if d is not None and d.Status in ("successful", "failed") else None

        deployment = await eventually(finished, 30, "the deployment finished")
        assert deployment.Status == "successful", deployment
        reply = await web.call(address, "Job.Allocations", JobSpecificRequest(JobID="rolled"),
                               JobAllocationsResponse)
        assert [a.DeploymentStatus.Healthy for a in reply.Allocations if a.DeploymentStatus] == [True]
    finally:
        await web.close()
