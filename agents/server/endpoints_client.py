"""What a client agent reports to the servers beyond Nomad's node RPCs: disk pressure (a Caravan addition).

``Node.UpdateDiskPressure``: a client whose data dir's free space fell below ``client.disk_free_threshold``
says so; its node gets an event (subsystem ``Storage``) and becomes ineligible, so no new work lands where
it could not write its logs and files. When the space comes back, the client says so again and the node
is made eligible again, but only if the last eligibility change was the disk pressure's own: a node an
operator made ineligible, or one draining, stays as the operator left it.

The client proves it is the node with the node's ``SecretID`` (as Nomad's clients do on every node RPC),
so one client cannot mark another's node.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from agents.rpc import CallContext, Registry, Role
from agents.server.endpoints_nodes import NodeWriteResponse, as_datetime, need_node, node_answer, node_evals
from cluster import fsm
from cluster.errors import PermissionDenied
from cluster.structs.constants import NodeEligibility
from cluster.structs.node import Node, NodeEvent

if TYPE_CHECKING:
    from agents.server.agent import ServerAgent

__all__ = ["SUBSYSTEM_STORAGE", "NodeDiskPressureRequest", "register"]

SUBSYSTEM_STORAGE = "Storage"
_PRESSURE_KEY = "disk_pressure"


class NodeDiskPressureRequest(msgspec.Struct, kw_only=True):
    NodeID: str
    SecretID: str
    UnderPressure: bool
    FreeBytes: int = 0
    ThresholdBytes: int = 0
    Region: str = ""


def _pressure_set_eligibility(node: Node) -> bool:
    """Whether the node's ineligibility is the disk pressure's (its latest eligibility event is ours)."""
    for event in reversed(node.Events or []):
        if event.Subsystem == SUBSYSTEM_STORAGE and (event.Details or {}).get(_PRESSURE_KEY) == "true":
            return True
        if event.Message.startswith("Node marked as") or event.Subsystem == "Drain":
            return False
    return False


def register(registry: Registry, agent: ServerAgent) -> None:
    @registry.endpoint("Node.UpdateDiskPressure", roles={Role.CLIENT, Role.SERVER})
    async def update_disk_pressure(ctx: CallContext, args: NodeDiskPressureRequest) -> NodeWriteResponse:
        forwarded = await agent.forwarder.forward(ctx, args, NodeWriteResponse, region=args.Region or None,
                                                  to_leader=True)
        if forwarded is not None:
            return forwarded
        agent.check_leading()
        snap = agent.fsm.store.snapshot()
        node = need_node(snap, args.NodeID)
        if not args.SecretID or args.SecretID != node.SecretID:
            raise PermissionDenied(f'node "{args.NodeID}": the secret does not match')
        now_ns = agent.now_ns()
        free_mb, threshold_mb = args.FreeBytes >> 20, args.ThresholdBytes >> 20
        if args.UnderPressure:
            if node.SchedulingEligibility == NodeEligibility.INELIGIBLE:
                return node_answer(agent, node.ID, [])
            event = NodeEvent(Message=f"Disk pressure: {free_mb} MB free in the data dir, below {threshold_mb} MB; "
                                      "node marked as ineligible", Subsystem=SUBSYSTEM_STORAGE,
                              Details={_PRESSURE_KEY: "true", "free_mb": str(free_mb)}, Timestamp=as_datetime(now_ns))
            await agent.propose(fsm.NodeUpdateEligibility(NodeID=node.ID, Eligibility=NodeEligibility.INELIGIBLE,
                                                          NodeEvent=event))
            return node_answer(agent, node.ID, [])
        if node.SchedulingEligibility != NodeEligibility.INELIGIBLE or node.DrainStrategy is not None \
                or not _pressure_set_eligibility(node):
            return node_answer(agent, node.ID, [])
        evals = node_evals(agent, snap, node, now_ns)
        event = NodeEvent(Message=f"Disk pressure over: {free_mb} MB free in the data dir; node marked as eligible",
                          Subsystem=SUBSYSTEM_STORAGE, Details={_PRESSURE_KEY: "false", "free_mb": str(free_mb)},
                          Timestamp=as_datetime(now_ns))
        await agent.propose(fsm.NodeUpdateEligibility(NodeID=node.ID, Eligibility=NodeEligibility.ELIGIBLE,
                                                      NodeEvent=event, Evals=evals or None))
        return node_answer(agent, node.ID, [e.ID for e in evals])
