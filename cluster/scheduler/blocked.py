"""Blocked evaluations: evaluations that could not place everything, waiting for capacity
(Nomad's ``BlockedEvals``).

A blocked evaluation records, per computed node class, whether the job could use such nodes. When
capacity appears on a node (a node joins or becomes ready, an allocation stops), ``unblock`` is
called with the node's class: evaluations that were eligible on it, or never saw it, go back to
the broker; evaluations that found the class ineligible keep waiting. Evaluations whose
constraints escaped the class (``EscapedComputedClass``) are woken by any change. A system job's
blocked evaluation also names the node it did not fit on (``NodeID``): ``unblock_node`` wakes it
when that node changes. ``capacity_changes`` reads the classes and nodes to wake from the events
of a committed write; ``unblock_changes`` wakes them all.

Only the newest blocked evaluation of a job is kept; older ones are returned by ``duplicates()``
to be canceled. An evaluation blocked on a snapshot older than a later unblock of a class it could
use is woken at once (the capacity it waited for appeared while it was being scheduled).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from cluster.state.events import EventType, Topic
from cluster.structs.alloc import Allocation
from cluster.structs.constants import AllocClientStatus, EvalTrigger, NodeEligibility, NodeStatus
from cluster.structs.evaluation import Evaluation
from cluster.structs.node import Node

__all__ = ["BlockedEvals", "BlockedStats", "CapacityChanges", "capacity_changes"]

_FREED = frozenset((AllocClientStatus.COMPLETE, AllocClientStatus.FAILED))


@dataclass(slots=True)
class CapacityChanges:
    """Computed node classes and nodes where capacity appeared, at Raft ``index``."""

    index: int
    classes: set[str] = field(default_factory=set)
    nodes: set[str] = field(default_factory=set)


def capacity_changes(index: int, objects: Iterable[tuple[str, str, object]],
                     node_by_id: Callable[[str], Node | None]) -> CapacityChanges:
    """Where a committed write (``EventBatch.objects()``) made room, as Nomad's FSM decides it: a
    node that is ready and eligible (registered, back up, made eligible again), or a client report
    that an allocation finished or failed (its node looked up with ``node_by_id`` in the state
    after the write, e.g. ``snapshot.node_by_id``). Allocations stopped by a plan do not count:
    their client has yet to stop them."""
    changes = CapacityChanges(index)
    for topic, event_type, obj in objects:
        node: Node | None = None
        if topic == Topic.NODE and event_type != EventType.NODE_DEREGISTRATION and isinstance(obj, Node):
            if obj.Status == NodeStatus.READY and obj.SchedulingEligibility == NodeEligibility.ELIGIBLE:
                node = obj
        elif (topic == Topic.ALLOCATION and event_type == EventType.ALLOCATION_UPDATED
              and isinstance(obj, Allocation) and obj.ClientStatus in _FREED):
            node = node_by_id(obj.NodeID)
        if node is not None:
            changes.classes.add(node.ComputedClass)
            changes.nodes.add(node.ID)
    return changes


@dataclass(slots=True)
class BlockedStats:
    total_blocked: int = 0
    total_escaped: int = 0


class BlockedEvals:
    def __init__(self) -> None:
        self.enabled = False
        self._captured: dict[str, Evaluation] = {}
        self._escaped: dict[str, Evaluation] = {}
        self._by_job: dict[tuple[str, str], str] = {}
        self._by_node: dict[str, set[str]] = {}  # system evaluations blocked on one node
        self._unblock_indexes: dict[str, int] = {}
        self._duplicates: list[Evaluation] = []

    def set_enabled(self, enabled: bool) -> None:
        self.enabled = enabled
        if not enabled:
            self.__init__()  # type: ignore[misc]

    def _all(self) -> dict[str, Evaluation]:
        return {**self._captured, **self._escaped}

    def block(self, ev: Evaluation) -> list[Evaluation]:
        """Tracks ``ev``; returns it at once (in a list) if capacity it can use appeared since its snapshot."""
        if not self.enabled or ev.ID in self._captured or ev.ID in self._escaped:
            return []
        job = (ev.Namespace, ev.JobID)
        current = self._by_job.get(job)
        if current is not None:
            older = self._all()[current]
            if older.CreateIndex > ev.CreateIndex:
                self._duplicates.append(ev)
                return []
            self._remove(current)
            self._duplicates.append(older)
        if self._missed_unblock(ev):
            return [ev]
        self._by_job[job] = ev.ID
        (self._escaped if ev.EscapedComputedClass else self._captured)[ev.ID] = ev
        if ev.NodeID:
            self._by_node.setdefault(ev.NodeID, set()).add(ev.ID)
        return []

    def _missed_unblock(self, ev: Evaluation) -> bool:
        for cls, index in self._unblock_indexes.items():
            if index <= ev.SnapshotIndex:
                continue
            if ev.EscapedComputedClass:
                return True
            eligible = (ev.ClassEligibility or {}).get(cls)
            if eligible is None or eligible:
                return True
        return False

    def _remove(self, eval_id: str) -> Evaluation | None:
        ev = self._captured.pop(eval_id, None) or self._escaped.pop(eval_id, None)
        if ev is not None:
            if self._by_job.get((ev.Namespace, ev.JobID)) == eval_id:
                del self._by_job[(ev.Namespace, ev.JobID)]
            if ev.NodeID and ev.NodeID in self._by_node:
                self._by_node[ev.NodeID].discard(eval_id)
        return ev

    def unblock(self, computed_class: str, index: int) -> list[Evaluation]:
        """Capacity appeared on nodes of ``computed_class`` at Raft ``index``: the evaluations to
        enqueue again."""
        if not self.enabled:
            return []
        self._unblock_indexes[computed_class] = index
        woken = list(self._escaped)
        for eval_id, captured in self._captured.items():
            eligible = (captured.ClassEligibility or {}).get(computed_class)
            if eligible is None or eligible:
                woken.append(eval_id)
        return [ev for eval_id in woken if (ev := self._remove(eval_id)) is not None]

    def unblock_changes(self, changes: CapacityChanges) -> list[Evaluation]:
        """``unblock`` for each class and ``unblock_node`` for each node of ``changes``."""
        woken: list[Evaluation] = []
        for computed_class in sorted(changes.classes):
            woken.extend(self.unblock(computed_class, changes.index))
        for node_id in sorted(changes.nodes):
            woken.extend(self.unblock_node(node_id))
        return woken

    def unblock_node(self, node_id: str) -> list[Evaluation]:
        """A node changed: system evaluations blocked on it are retried."""
        ids = list(self._by_node.pop(node_id, set()))
        return [ev for eval_id in ids if (ev := self._remove(eval_id)) is not None]

    def unblock_failed(self) -> list[Evaluation]:
        """Evaluations blocked after too many plan conflicts (retried periodically by the leader)."""
        ids = [i for i, ev in self._all().items() if ev.TriggeredBy == EvalTrigger.MAX_PLANS]
        return [ev for eval_id in ids if (ev := self._remove(eval_id)) is not None]

    def untrack(self, namespace: str, job_id: str) -> Evaluation | None:
        """The job went away: stop tracking its blocked evaluation (returned, to be canceled)."""
        eval_id = self._by_job.get((namespace, job_id))
        return self._remove(eval_id) if eval_id is not None else None

    def duplicates(self) -> list[Evaluation]:
        """Superseded blocked evaluations to cancel (drained on each call)."""
        out, self._duplicates = self._duplicates, []
        return out

    def stats(self) -> BlockedStats:
        return BlockedStats(total_blocked=len(self._captured) + len(self._escaped), total_escaped=len(self._escaped))
