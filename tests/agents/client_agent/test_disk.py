"""A client agent (in this process, so its disk can be made to fill up) against a real server process:
disk pressure makes the node ineligible with an event and recovery makes it eligible again; finished
allocations are garbage collected, oldest first, down to ``gc_max_allocs``; ``client.reserved`` is in the
registered node."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agents.client.agent import ClientAgent, ClientTimings
from agents.client.gc import DiskUsage
from agents.config import load
from agents.rpc import ConnectionPool, Role
from agents.server.endpoints import (
    JobRegisterRequest,
    JobRegisterResponse,
    NodeAllocsResponse,
    NodeSpecificRequest,
    SingleNodeResponse,
)
from cluster.structs import Node
from tests.agents.client_agent.support import client_hcl, kill_leftovers
from tests.agents.server.support import ServerProcess, eventually, free_ports, leader_of, pool
from tests.unit.scheduler import factories

pytestmark = pytest.mark.slow

GB = 1 << 30


class FakeDisk:
    """The data dir's disk: 100 GB with as much free as the test says."""

    def __init__(self) -> None:
        self.free_bytes = 50 * GB

    def __call__(self, _path: Path) -> DiskUsage:
        return DiskUsage(total_bytes=100 * GB, free_bytes=self.free_bytes)


def test_disk_pressure_gc_and_reserved(tmp_path: Path) -> None:
    rpc, serf, http = free_ports(3)
    server = ServerProcess(tmp_path, "s1", rpc, serf, http, [], 1)
    server.start()
    try:
        asyncio.run(_scenario(tmp_path, server))
    except BaseException:
        print(f"---- s1 ----\n{server.output()[-6000:]}")
        raise
    finally:
        server.stop()
        kill_leftovers(tmp_path)


async def _scenario(root: Path, server: ServerProcess) -> None:
    web = pool(Role.WEB, "test")
    data = root / "c1"
    hcl = root / "c1.hcl"
    hcl.write_text(client_hcl("c1", data, [server.address], free_ports(1)[0]).replace("client {", '''client {
  gc_interval = "300ms"
  gc_max_allocs = 1
  disk_free_threshold = "10%"
  reserved {
    cpu    = 250
    memory = 128
  }''', 1))
    disk = FakeDisk()
    agent = ClientAgent(load(["-client", "-config", str(hcl)]).config, disk=disk,
                        timings=ClientTimings(disk_check_interval_s=0.1))
    try:
        await leader_of(web, [server.address])
        await agent.start()
        assert agent.node is not None
        node_id = agent.node.ID
        node = await _node(web, server.address, node_id)
        assert node.ReservedResources is not None
        assert (node.ReservedResources.Cpu.CpuShares, node.ReservedResources.Memory.MemoryMB) == (250, 128)

        disk.free_bytes = 5 * GB  # below 10% of 100 GB
        node = await eventually(lambda: _eligibility(web, server.address, node_id, "ineligible"), 10,
                                "the node ineligible under disk pressure")
        assert any(e.Subsystem == "Storage" and "Disk pressure" in e.Message for e in node.Events or [])
        disk.free_bytes = 40 * GB
        await eventually(lambda: _eligibility(web, server.address, node_id, "eligible"), 10,
                         "the node eligible again")

        for name in ("first", "second", "third"):
            await _run_batch(web, server.address, node_id, name)
        alloc_ids = await _alloc_ids_by_job(web, server.address, node_id)

        async def collected() -> bool | None:
            left = sorted(p.name for p in (data / "alloc").iterdir())
            return True if left == [alloc_ids["third"]] else None

        await eventually(collected, 10, "all but the newest finished allocation collected")
        assert [a.ID for a in agent.state.allocs()] == [alloc_ids["third"]]
    finally:
        await agent.stop()
        await web.close()


async def _node(web: ConnectionPool, address: str, node_id: str) -> Node:
    reply = await web.call(address, "Node.Get", NodeSpecificRequest(NodeID=node_id), SingleNodeResponse)
    assert reply.Node is not None
    return reply.Node


async def _eligibility(web: ConnectionPool, address: str, node_id: str, wanted: str) -> Node | None:
    node = await _node(web, address, node_id)
    return node if node.SchedulingEligibility == wanted else None


async def _run_batch(web: ConnectionPool, address: str, node_id: str, name: str) -> None:
    group = factories.group(count=1, cpu=100, memory_mb=64, disk_mb=150, driver="raw_exec")
    assert group.Tasks is not None
    group.Tasks[0].Config = {"command": "/bin/sh", "args": ["-c", f"echo {name}"]}
    await web.call(address, "Job.Register", JobRegisterRequest(Job=factories.job(name, type="batch", groups=[group])),
                   JobRegisterResponse, timeout_s=5)

    async def complete() -> bool | None:
        reply = await web.call(address, "Node.GetAllocs", NodeSpecificRequest(NodeID=node_id), NodeAllocsResponse)
        return True if any(a.JobID == name and a.ClientStatus == "complete" for a in reply.Allocs) else None

    await eventually(complete, 20, f"{name} complete")


async def _alloc_ids_by_job(web: ConnectionPool, address: str, node_id: str) -> dict[str, str]:
    reply = await web.call(address, "Node.GetAllocs", NodeSpecificRequest(NodeID=node_id), NodeAllocsResponse)
    return {a.JobID: a.ID for a in reply.Allocs}
