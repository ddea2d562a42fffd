"""A client that stops heartbeating and comes back within its allocations' disconnect window, on one
in-process server agent with fake clients over real RPC.

What a user notices (Nomad's `disconnect { lost_after }`): the silent node becomes `disconnected` (not
`down`), its running allocation `unknown`, and a replacement is placed on another node; when the node
heartbeats again the original allocation stays and the replacement is stopped.
"""

from __future__ import annotations

import msgspec
import pytest

from agents.server.endpoints import NodeUpdateResponse, NodeUpdateStatusRequest
from cluster.structs.group import DisconnectStrategy
from tests.agents.server.test_leader_loops import Cluster, run, until
from tests.unit.scheduler import factories

pytestmark = pytest.mark.slow

SECOND_NS = 1_000_000_000


def test_a_client_back_within_its_window_keeps_its_allocation(tmp_path: object) -> None:
    async def body(c: Cluster) -> None:
        first = await c.add_node()
        job = factories.job("steady", count=1, driver="raw_exec", memory_mb=64)
        groups = [msgspec.structs.replace(g, Disconnect=DisconnectStrategy(LostAfter=60 * SECOND_NS))
                  for g in job.TaskGroups or []]
        await c.register(msgspec.structs.replace(job, TaskGroups=groups))
        original = (await until(lambda: c.live("steady"), "the allocation"))[0]
        assert original.NodeID == first
        await c.report([original], healthy=True)
        second = await c.add_node()

        silent = c.nodes[0]
        await silent.stop_heartbeats()
        await until(lambda: (n := c.snap.node_by_id(first)) is not None and n.Status == "disconnected",
                    "the node to be marked disconnected", 15)
        unknown = await until(lambda: (a := c.snap.alloc_by_id(original.ID)) is not None
                              and a.ClientStatus == "unknown" and a, "the allocation to become unknown", 10)
        assert unknown.AllocStates, "the unknown state is recorded"
        replacement = await until(lambda: [a for a in c.live("steady") if a.ID != original.ID], "a replacement")
        assert replacement[0].NodeID == second

        # Back: the client's heartbeat says ready again.
        await c.client.call(c.address, "Node.UpdateStatus",
                            NodeUpdateStatusRequest(NodeID=first, Status="ready"), NodeUpdateResponse, timeout_s=5)
        await c.report([original], healthy=True)  # and it reports its allocation still running
        await until(lambda: (a := c.snap.alloc_by_id(replacement[0].ID)) is not None
                    and a.DesiredStatus == "stop", "the replacement to be stopped", 10)
        kept = c.snap.alloc_by_id(original.ID)
        assert kept is not None and kept.DesiredStatus == "run" and kept.ClientStatus == "running"

    run(tmp_path, body)  # type: ignore[arg-type]
