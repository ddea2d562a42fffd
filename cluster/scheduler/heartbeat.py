"""Client heartbeats: how long a node may stay silent, and what happens when it does.

Nomad scales the heartbeat TTL with the cluster so the servers see at most 50 heartbeats a
second: ``max(10 s, nodes / 50 s)``, plus a random stagger of up to one TTL so clients spread out.
A node is marked down only after its TTL plus a grace period (10 s by default) has passed without
a heartbeat. ``HeartbeatTracker`` keeps the deadlines (the shell calls ``expired`` from a timer);
``node_down_command`` is the write that marks a node down and asks for an evaluation of every job
with allocations on it (or marks it ``disconnected``, when allocations there may wait for it);
``node_reconnect_evals`` are the evaluations its return to ``ready`` needs.
"""

from __future__ import annotations

from collections.abc import Callable
from random import Random

from cluster import fsm
from cluster.scheduler.allocs import disconnect_window_ns, needs_to_reconnect, terminal
from cluster.state.snapshot import StateSnapshot
from cluster.structs.base import SECOND_NS
from cluster.structs.constants import EvalStatus, EvalTrigger, JobType, NodeStatus
from cluster.structs.evaluation import Evaluation
from cluster.structs.node import NodeEvent

__all__ = [
    "HEARTBEAT_GRACE_NS",
    "MAX_HEARTBEATS_PER_SECOND",
    "MIN_HEARTBEAT_TTL_NS",
    "HeartbeatTracker",
    "heartbeat_ttl_ns",
    "node_down_command",
    "node_reconnect_evals",
]

MIN_HEARTBEAT_TTL_NS = 10 * SECOND_NS
MAX_HEARTBEATS_PER_SECOND = 50.0
HEARTBEAT_GRACE_NS = 10 * SECOND_NS


def rate_scaled_interval_ns(rate: float, minimum_ns: int, count: int) -> int:
    """The interval at which ``count`` clients produce ``rate`` events a second, at least ``minimum_ns``."""
    return max(minimum_ns, int(count / rate * SECOND_NS))


def heartbeat_ttl_ns(node_count: int, rng: Random) -> int:
    """The TTL handed to a client: ``max(10 s, nodes/50 s)`` plus a random stagger below that."""
    ttl = rate_scaled_interval_ns(MAX_HEARTBEATS_PER_SECOND, MIN_HEARTBEAT_TTL_NS, node_count)
    return ttl + int(rng.random() * ttl)


class HeartbeatTracker:
    """Per-node deadlines: a heartbeat resets one, ``expired`` returns the nodes past theirs."""

    def __init__(self, grace_ns: int = HEARTBEAT_GRACE_NS) -> None:
        self.grace_ns = grace_ns
        self._deadlines: dict[str, int] = {}

    def heartbeat(self, node_id: str, now_ns: int, ttl_ns: int) -> None:
        self._deadlines[node_id] = now_ns + ttl_ns + self.grace_ns

    def forget(self, node_id: str) -> None:
        self._deadlines.pop(node_id, None)

    def expired(self, now_ns: int) -> list[str]:
        """Nodes whose deadline passed (no longer tracked afterwards)."""
        gone = [node_id for node_id, deadline in self._deadlines.items() if deadline <= now_ns]
        for node_id in gone:
            del self._deadlines[node_id]
        return gone

    def next_deadline_ns(self) -> int | None:
        return min(self._deadlines.values(), default=None)

    def __len__(self) -> int:
        return len(self._deadlines)


def node_down_command(snap: StateSnapshot, node_id: str, now_ns: int,
                      new_id: Callable[[], str]) -> fsm.NodeUpdateStatus:
    """Marks the node down with an evaluation for each job that has live allocations on it, and
    for every system job (Nomad's ``createNodeEvals``). A node running allocations whose group
    has a disconnect window (``disconnect { lost_after }``, ``max_client_disconnect``) is marked
    ``disconnected`` instead, the first time: those allocations wait for it as ``unknown``."""
    jobs: dict[tuple[str, str], tuple[int, str]] = {}
    waits = False
    for alloc in snap.allocs_by_node(node_id):
        if not terminal(alloc) and alloc.Job is not None:
            jobs[(alloc.Namespace, alloc.JobID)] = (alloc.Job.Priority or 50, alloc.Job.Type or JobType.SERVICE)
            waits = waits or disconnect_window_ns(alloc) is not None
    node = snap.node_by_id(node_id)
    already = node is not None and node.Status == NodeStatus.DISCONNECTED
    status = NodeStatus.DISCONNECTED if waits and not already else NodeStatus.DOWN
    for job in snap.jobs():
        if job.Type in (JobType.SYSTEM, JobType.SYSBATCH) and not job.Stop:
            jobs.setdefault((job.Namespace or "", job.ID or ""), (job.Priority or 50, job.Type))
    evals = [Evaluation(ID=new_id(), Namespace=ns, Priority=priority, Type=kind, TriggeredBy=EvalTrigger.NODE_UPDATE,
                        JobID=job_id, NodeID=node_id, Status=EvalStatus.PENDING, CreateTime=now_ns, ModifyTime=now_ns)
             for (ns, job_id), (priority, kind) in sorted(jobs.items())]
    event = NodeEvent(Message="Node heartbeat missed", Subsystem="Cluster")
    return fsm.NodeUpdateStatus(NodeID=node_id, Status=status, UpdatedAt=now_ns // SECOND_NS,
                                NodeEvent=event, Evals=evals)


def node_reconnect_evals(snap: StateSnapshot, node_id: str, now_ns: int,
                         new_id: Callable[[], str]) -> list[Evaluation]:
    """Evaluations to write with a disconnected node's return to ``ready``: one per job whose
    allocations there went ``unknown``, so the scheduler keeps them and stops their replacements
    (the shell's ``Node.UpdateStatus`` adds them to the status write)."""
    jobs: dict[tuple[str, str], tuple[int, str]] = {}
    for alloc in snap.allocs_by_node(node_id):
        if alloc.Job is not None and needs_to_reconnect(alloc):
            jobs[(alloc.Namespace, alloc.JobID)] = (alloc.Job.Priority or 50, alloc.Job.Type or JobType.SERVICE)
    return [Evaluation(ID=new_id(), Namespace=ns, Priority=priority, Type=kind, TriggeredBy=EvalTrigger.RECONNECT,
                       JobID=job_id, NodeID=node_id, Status=EvalStatus.PENDING, CreateTime=now_ns, ModifyTime=now_ns)
            for (ns, job_id), (priority, kind) in sorted(jobs.items())]
