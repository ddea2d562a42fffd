"""Allocation sets and the name index the reconciler works with (Nomad's ``allocSet`` filters and
``AllocNameIndex``).

An allocation set maps IDs to allocations. The filters split a group's allocations by what their
node says about them (untainted, migrate, lost), by whether they must be rescheduled now or later,
and so on. The name index hands out and takes back the ``[n]`` of ``job.group[n]``: new
placements fill the lowest free indexes below the count, scale-downs remove the highest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cluster.scheduler.allocs import (
    alloc_index,
    client_terminal,
    disconnect_expired,
    disconnect_window_ns,
    is_canary,
    needs_to_reconnect,
    ran_successfully,
    server_terminal,
    should_force_reschedule,
    should_migrate,
    should_reschedule,
    terminal,
)
from cluster.scheduler.reschedule import next_reschedule_time
from cluster.state.snapshot import ACTIVE_DEPLOYMENT_STATUSES
from cluster.structs.alloc import Allocation
from cluster.structs.constants import AllocClientStatus, AllocDesiredStatus, JobType, NodeStatus
from cluster.structs.deployment import Deployment
from cluster.structs.node import Node

__all__ = [
    "AllocNameIndex",
    "AllocSet",
    "DelayedReschedule",
    "alloc_name",
    "by_reschedulable",
    "by_tainted",
    "name_order",
]

AllocSet = dict[str, Allocation]
RESCHEDULE_WINDOW_NS = 1_000_000_000  # reschedule now if due within a second (clock drift)


def alloc_name(job_id: str, group: str, index: int) -> str:
    return f"{job_id}.{group}[{index}]"


def name_order(allocs: AllocSet) -> list[Allocation]:
    return sorted(allocs.values(), key=alloc_index)


def difference(a: AllocSet, *others: AllocSet) -> AllocSet:
    return {k: v for k, v in a.items() if not any(k in o for o in others)}


def union(*sets: AllocSet) -> AllocSet:
    out: AllocSet = {}
    for s in sets:
        out.update(s)
    return out


def non_terminal(allocs: AllocSet) -> AllocSet:
    return {k: v for k, v in allocs.items() if not terminal(v)}


@dataclass(slots=True)
class DelayedReschedule:
    alloc: Allocation
    at_ns: int


class AllocNameIndex:
    """Which ``[n]`` indexes of one group are taken."""

    def __init__(self, job_id: str, group: str, count: int, existing: AllocSet) -> None:
        self.job_id, self.group, self.count = job_id, group, count
        self.used: set[int] = set()
        self.duplicates: dict[int, int] = {}
        for alloc in existing.values():
            i = alloc_index(alloc)
            if i in self.used:
                self.duplicates[i] = self.duplicates.get(i, 0) + 1
            else:
                self.used.add(i)

    def _name(self, i: int) -> str:
        return alloc_name(self.job_id, self.group, i)

    def highest(self, n: int) -> set[str]:
        """Removes and returns the ``n`` highest used names."""
        top = sorted(self.used, reverse=True)[:n]
        self.used.difference_update(top)
        return {self._name(i) for i in top}

    def is_duplicate(self, i: int) -> bool:
        return self.duplicates.get(i, 0) > 0

    def unset(self, i: int) -> None:
        if i in self.duplicates:
            self.duplicates[i] -= 1
            if not self.duplicates[i]:
                del self.duplicates[i]
        else:
            self.used.discard(i)

    def next(self, n: int) -> list[str]:
        """The next ``n`` names: free indexes below the count first, then overlapping ones from 0."""
        used = self.used
        free = [i for i in range(self.count) if i not in used][:n]
        used.update(free)
        overlap = list(range(n - len(free)))
        used.update(overlap)
        prefix = f"{self.job_id}.{self.group}["
        return [f"{prefix}{i}]" for i in (*free, *overlap)]

    def next_canaries(self, n: int, existing: AllocSet, destructive: AllocSet) -> list[str]:
        """Canary names: first the indexes of allocations being replaced, then free ones, then
        indexes above the count (so they do not overlap the allocations they will replace)."""
        taken = {a.Name for a in existing.values()}
        out: list[str] = []
        replacing = sorted({alloc_index(a) for a in destructive.values() if alloc_index(a) < self.count})
        free = [i for i in range(self.count) if i not in self.used]
        for i in [*replacing, *free]:
            name = self._name(i)
            if name not in taken and name not in out:
                self.used.add(i)
                out.append(name)
                if len(out) == n:
                    return out
        i = self.count
        while len(out) < n:
            out.append(self._name(i))
            i += 1
        return out


@dataclass(slots=True)
class Tainted:
    untainted: AllocSet
    migrate: AllocSet
    lost: AllocSet
    ignore: AllocSet
    # Running on a client that just disconnected, with a disconnect window: to mark unknown.
    disconnecting: AllocSet = field(default_factory=dict)
    # Were unknown and their client is back: to reconcile with their replacements.
    reconnecting: AllocSet = field(default_factory=dict)


def by_tainted(allocs: AllocSet, tainted: dict[str, Node | None], now_ns: int | None = None) -> Tainted:
    """Splits by what the allocation's node says (Nomad's ``filterByTainted``). With ``now_ns``,
    groups with a disconnect window get Nomad's disconnected-client rules: running allocations of
    a disconnected node are disconnecting (pending ones lost), unknown ones wait (ignored) until
    their window runs out (lost) or their client comes back (reconnecting). Without it, or without
    a window, a disconnected node's allocations are lost."""
    out = Tainted({}, {}, {}, {})
    for alloc_id, alloc in allocs.items():
        supports = now_ns is not None and disconnect_window_ns(alloc) is not None
        if supports and alloc.NodeID not in tainted and needs_to_reconnect(alloc) \
                and alloc.DesiredStatus == AllocDesiredStatus.RUN:
            out.reconnecting[alloc_id] = alloc
            continue
        if terminal(alloc):
            if server_terminal(alloc):
                out.ignore[alloc_id] = alloc
            elif is_canary(alloc) and should_migrate(alloc):
                out.migrate[alloc_id] = alloc
            else:
                out.untainted[alloc_id] = alloc
            continue
        if should_migrate(alloc):
            out.migrate[alloc_id] = alloc
            continue
        if supports and now_ns is not None and disconnect_expired(alloc, now_ns):
            out.lost[alloc_id] = alloc
            continue
        if supports and alloc.ClientStatus == AllocClientStatus.UNKNOWN:
            out.ignore[alloc_id] = alloc  # waits for its client, or for its window to run out
            continue
        if alloc.NodeID not in tainted:
            out.untainted[alloc_id] = alloc
            continue
        node = tainted[alloc.NodeID]
        if supports and node is not None and node.Status == NodeStatus.DISCONNECTED:
            if alloc.ClientStatus == AllocClientStatus.RUNNING:
                out.disconnecting[alloc_id] = alloc
            else:
                out.lost[alloc_id] = alloc
        elif node is None or node.Status in (NodeStatus.DOWN, NodeStatus.DISCONNECTED):
            out.lost[alloc_id] = alloc
        else:
            out.untainted[alloc_id] = alloc
    return out


def _last_reschedule_failed(alloc: Allocation) -> bool:
    return alloc.RescheduleTracker is not None and alloc.RescheduleTracker.LastReschedule == "failed"


def _filter(alloc: Allocation, batch: bool) -> tuple[bool, bool]:
    """(untainted, ignore): Nomad's ``shouldFilter``."""
    if batch:
        if should_reschedule(alloc):
            return False, False
        if alloc.DesiredStatus == AllocDesiredStatus.STOP:
            if ran_successfully(alloc):
                return True, False
            return (False, False) if _last_reschedule_failed(alloc) else (False, True)
        if alloc.DesiredStatus == AllocDesiredStatus.EVICT:
            return False, True
        return (False, False) if alloc.ClientStatus == AllocClientStatus.FAILED else (True, False)
    if alloc.DesiredStatus in (AllocDesiredStatus.STOP, AllocDesiredStatus.EVICT):
        return (False, False) if _last_reschedule_failed(alloc) else (False, True)
    if alloc.ClientStatus in (AllocClientStatus.COMPLETE, AllocClientStatus.LOST):
        return False, True
    return False, False


def _active(d: Deployment | None) -> bool:
    return d is not None and d.Status in ACTIVE_DEPLOYMENT_STATUSES


def by_reschedulable(allocs: AllocSet, batch: bool, now_ns: int, eval_id: str, deployment: Deployment | None,
                     ) -> tuple[AllocSet, AllocSet, list[DelayedReschedule]]:
    """(untainted, reschedule now, reschedule later): failed allocations whose policy allows a
    replacement now or at a later time; the rest stay (running, or done for good)."""
    untainted: AllocSet = {}
    now: AllocSet = {}
    later: list[DelayedReschedule] = []
    for alloc_id, alloc in allocs.items():
        if alloc.NextAllocation and terminal(alloc):
            continue  # already replaced
        keep, ignore = _filter(alloc, batch)
        if keep:
            untainted[alloc_id] = alloc
            continue
        if ignore:
            continue
        in_deployment = deployment is not None and alloc.DeploymentID == deployment.ID and _active(deployment)
        if in_deployment and not should_reschedule(alloc):
            untainted[alloc_id] = alloc
            continue
        if should_force_reschedule(alloc):
            now[alloc_id] = alloc
            continue
        at, eligible = next_reschedule_time(alloc)
        if eligible and (alloc.FollowupEvalID == eval_id or at - now_ns <= RESCHEDULE_WINDOW_NS):
            now[alloc_id] = alloc
            continue
        untainted[alloc_id] = alloc
        if eligible and not alloc.FollowupEvalID:
            later.append(DelayedReschedule(alloc, at))
    return untainted, now, later


def server_live_or_batch(allocs: AllocSet) -> AllocSet:
    """Nomad's ``filterServerTerminalAllocs``: drop what the servers stopped, except batch
    allocations not marked for rescheduling (their completions count towards the job)."""
    return {k: a for k, a in allocs.items()
            if not server_terminal(a) or (a.Job is not None and a.Job.Type == JobType.BATCH
                                          and not should_reschedule(a))}


def old_terminal(allocs: AllocSet, batch: bool, version: int, create_index: int) -> tuple[AllocSet, AllocSet]:
    """(remaining, ignored): terminal batch allocations of an older job version are left alone."""
    if not batch:
        return allocs, {}
    remain: AllocSet = {}
    ignored: AllocSet = {}
    for k, a in allocs.items():
        older = a.Job is not None and ((a.Job.Version or 0) < version or (a.Job.CreateIndex or 0) < create_index)
        (ignored if older and terminal(a) else remain)[k] = a
    return remain, ignored


__all__ += ["Tainted", "client_terminal", "difference", "non_terminal", "old_terminal", "server_live_or_batch", "union"]
