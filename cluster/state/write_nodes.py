"""Node writes: registration, status, drain and eligibility, as Nomad's state store does them.

The servers own a node's scheduling eligibility and drain: a client re-registering keeps what the
servers set. Registration computes the node's class (``node_class``). Each node keeps its last
``MAX_NODE_EVENTS`` events, the history ``nomad node status`` prints.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from cluster.errors import Conflict, NotFound
from cluster.state.node_class import compute_node_class
from cluster.state.txn import WriteTxn
from cluster.structs.constants import NodeEligibility, NodeStatus
from cluster.structs.node import DrainMetadata, DrainStrategy, Node, NodeEvent

__all__ = [
    "MAX_NODE_EVENTS",
    "delete_node",
    "update_node_drain",
    "update_node_eligibility",
    "update_node_status",
    "upsert_node",
]

MAX_NODE_EVENTS = 10
SUBSYSTEM_CLUSTER = "Cluster"
SUBSYSTEM_DRAIN = "Drain"
EVENT_REGISTERED = "Node registered"
EVENT_REREGISTERED = "Node re-registered"
DRAIN_STATUS_DRAINING = "draining"
DRAIN_STATUS_COMPLETE = "complete"
DRAIN_STATUS_CANCELED = "canceled"


def _at(unix_s: int) -> datetime:
    return datetime.fromtimestamp(unix_s, tz=UTC)


def _with_events(node: Node, events: list[NodeEvent], index: int) -> list[NodeEvent]:
    stamped = [msgspec.structs.replace(e, CreateIndex=index) for e in events]
    return [*(node.Events or []), *stamped][-MAX_NODE_EVENTS:]


def _need(txn: WriteTxn, node_id: str) -> Node:
    node = txn.node(node_id)
    if node is None:
        raise NotFound(f'node "{node_id}" not found')
    return node


def upsert_node(txn: WriteTxn, node: Node, event_type: str) -> Node:
    """Registers or re-registers ``node`` (a fresh object the caller hands over)."""
    index = txn.index
    existing = txn.node(node.ID)
    node.ComputedClass = compute_node_class(node)
    if not node.NodePool:
        node.NodePool = "default"
    if existing is None:
        node.CreateIndex = node.ModifyIndex = index
        node.SchedulingEligibility = node.SchedulingEligibility or NodeEligibility.ELIGIBLE
        event = NodeEvent(Message=EVENT_REGISTERED, Subsystem=SUBSYSTEM_CLUSTER, Timestamp=_at(node.StatusUpdatedAt))
        node.Events = _with_events(node, [event], index)
    else:
        node.CreateIndex, node.ModifyIndex = existing.CreateIndex, index
        node.SchedulingEligibility = existing.SchedulingEligibility
        node.DrainStrategy, node.Drain, node.LastDrain = existing.DrainStrategy, existing.Drain, existing.LastDrain
        node.Events = existing.Events
        if existing.Status == NodeStatus.DOWN and node.Status != NodeStatus.DOWN:
            event = NodeEvent(Message=EVENT_REREGISTERED, Subsystem=SUBSYSTEM_CLUSTER,
                              Timestamp=_at(node.StatusUpdatedAt))
            node.Events = _with_events(node, [event], index)
    txn.put_node(node, event_type)
    return node


def update_node_status(txn: WriteTxn, node_id: str, status: str, updated_at_s: int,
                       event: NodeEvent | None, event_type: str) -> Node:
    node = _need(txn, node_id)
    updated = msgspec.structs.replace(node, Status=status, StatusUpdatedAt=updated_at_s, ModifyIndex=txn.index)
    if event is not None:
        updated.Events = _with_events(node, [event], txn.index)
    txn.put_node(updated, event_type)
    return updated


def update_node_drain(txn: WriteTxn, node_id: str, strategy: DrainStrategy | None, mark_eligible: bool,
                      complete: bool, updated_at: datetime, event: NodeEvent | None, event_type: str,
                      meta: dict[str, str] | None = None, accessor_id: str = "") -> Node:
    """Starts, changes or ends a drain. A draining node is ineligible; ending a drain leaves it
    ineligible unless ``mark_eligible``. ``complete`` says the drainer finished (not a cancel).
    ``meta`` and ``accessor_id`` (the operator's reason, the token that asked) go into ``LastDrain``."""
    node = _need(txn, node_id)
    updated = msgspec.structs.replace(node, DrainStrategy=strategy, Drain=strategy is not None,
                                      ModifyIndex=txn.index)
    if strategy is not None:
        updated.SchedulingEligibility = NodeEligibility.INELIGIBLE
    elif mark_eligible:
        updated.SchedulingEligibility = NodeEligibility.ELIGIBLE
    if strategy is not None or node.DrainStrategy is not None:
        updated.LastDrain = _last_drain(node, strategy, complete, updated_at, meta, accessor_id)
    if event is not None:
        updated.Events = _with_events(node, [event], txn.index)
    txn.put_node(updated, event_type)
    return updated


def _last_drain(node: Node, strategy: DrainStrategy | None, complete: bool, updated_at: datetime,
                meta: dict[str, str] | None, accessor_id: str) -> DrainMetadata:
    """Nomad's ``LastDrain`` rules: a new drain starts a fresh record; later writes keep the operator's
    meta and accessor unless they bring their own (the drainer's completion brings neither)."""
    previous = node.LastDrain if node.DrainStrategy is not None else None
    if previous is None:
        started = updated_at if node.DrainStrategy is None else node.DrainStrategy.StartedAt
        previous = DrainMetadata(StartedAt=started)
    if strategy is not None:
        status = DRAIN_STATUS_DRAINING
    else:
        status = DRAIN_STATUS_COMPLETE if complete else DRAIN_STATUS_CANCELED
    return msgspec.structs.replace(previous, UpdatedAt=updated_at, Status=status, Meta=meta or previous.Meta,
                                   AccessorID=accessor_id or previous.AccessorID)


def update_node_eligibility(txn: WriteTxn, node_id: str, eligibility: str, event: NodeEvent | None,
                            event_type: str) -> Node:
    node = _need(txn, node_id)
    if eligibility == NodeEligibility.ELIGIBLE and node.DrainStrategy is not None:
        raise Conflict(f'node "{node_id}" is draining: it cannot be made eligible until the drain ends')
    updated = msgspec.structs.replace(node, SchedulingEligibility=eligibility, ModifyIndex=txn.index)
    if event is not None:
        updated.Events = _with_events(node, [event], txn.index)
    txn.put_node(updated, event_type)
    return updated


def delete_node(txn: WriteTxn, node_id: str, event_type: str) -> None:
    _need(txn, node_id)
    txn.delete_node(node_id, event_type)
