"""Allocation writes: from the scheduler (placements, stops, in-place updates), from clients
(status, task states, deployment health) and from the drainer (desired transitions).

Each write keeps the allocation's deployment counters in step (placed, healthy, unhealthy
allocations and the progress deadline), batched per deployment so a plan of thousands of
allocations rewrites each deployment once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import msgspec

from cluster.state.nodetable import alloc_uses_resources
from cluster.state.txn import WriteTxn
from cluster.state.write_jobs import refresh_job_statuses
from cluster.structs.alloc import (
    Allocation,
    AllocDeploymentStatus,
    AllocNetworkStatus,
    DesiredTransition,
    TaskState,
)
from cluster.structs.base import GO_ZERO_TIME
from cluster.structs.constants import AllocClientStatus
from cluster.structs.deployment import Deployment, DeploymentState

__all__ = [
    "AllocClientUpdate",
    "DeploymentCounters",
    "update_alloc_desired_transitions",
    "update_allocs_from_client",
    "upsert_allocs",
]

_KEEP_SCHEDULER_CLIENT_STATUS = frozenset((AllocClientStatus.LOST, AllocClientStatus.UNKNOWN))


class AllocClientUpdate(msgspec.Struct, kw_only=True, gc=False):
    """What a client reports about one of its allocations (Nomad's ``Node.UpdateAlloc``)."""

    ID: str
    ClientStatus: str
    ClientDescription: str = ""
    TaskStates: dict[str, TaskState] | None = None
    DeploymentStatus: AllocDeploymentStatus | None = None
    NetworkStatus: AllocNetworkStatus | None = None


def _healthy(status: AllocDeploymentStatus | None) -> bool | None:
    return None if status is None else status.Healthy


@dataclass
class _Delta:
    placed: int = 0
    healthy: int = 0
    unhealthy: int = 0
    canaries: list[str] = field(default_factory=list)
    progress_by: datetime | None = None


class DeploymentCounters:
    """Collects per-deployment, per-group counter changes during one transaction."""

    def __init__(self) -> None:
        self._deltas: dict[str, dict[str, _Delta]] = {}
        self._deployments: dict[str, Deployment] = {}
        self._fast: dict[tuple[str, str], tuple[_Delta, DeploymentState]] = {}

    def _delta(self, txn: WriteTxn, dep_id: str, group: str) -> tuple[_Delta, DeploymentState] | None:
        key = (dep_id, group)
        hit = self._fast.get(key)
        if hit is not None:
            return hit
        deployment = self._deployments.get(dep_id) or txn.deployment(dep_id)
        if deployment is None:
            return None
        self._deployments[dep_id] = deployment
        state = (deployment.TaskGroups or {}).get(group)
        if state is None:
            return None
        delta = self._deltas.setdefault(dep_id, {}).setdefault(group, _Delta())
        hit = self._fast[key] = (delta, state)
        return hit

    def observe_placed(self, txn: WriteTxn, allocs: list[Allocation]) -> None:
        """``observe`` for many new allocations without health (a plan's placements), in bulk."""
        last: tuple[str, str] | None = None
        hit: tuple[_Delta, DeploymentState] | None = None
        for alloc in allocs:
            key = (alloc.DeploymentID, alloc.TaskGroup)
            if key != last:
                last, hit = key, self._delta(txn, *key)
            if hit is None:
                continue
            delta, state = hit
            delta.placed += 1
            if state.ProgressDeadline and delta.progress_by is None and state.RequireProgressBy == GO_ZERO_TIME:
                delta.progress_by = _from_unix_ns(alloc.ModifyTime) + _ns_delta(state.ProgressDeadline)

    def observe(self, txn: WriteTxn, old: Allocation | None, new: Allocation) -> None:
        """Nomad's ``updateDeploymentWithAlloc`` for one allocation write."""
        dep_id = new.DeploymentID
        if not dep_id:
            return
        hit = self._delta(txn, dep_id, new.TaskGroup)
        if hit is None:
            return
        delta, state = hit
        placed = old is None or old.DeploymentID != dep_id
        status = new.DeploymentStatus
        if placed:
            delta.placed += 1
            if status is not None and status.Canary:
                delta.canaries.append(new.ID)
        became_healthy = False
        if status is not None and status.Healthy is not None:
            was = _healthy(old.DeploymentStatus) if old is not None and not placed else None
            if status.Healthy and was is not True:
                delta.healthy += 1
                became_healthy = True
            elif not status.Healthy and was is not False:
                delta.unhealthy += 1
        pd = state.ProgressDeadline
        if not pd:
            return
        if placed and delta.progress_by is None and state.RequireProgressBy == GO_ZERO_TIME:
            # The first placement starts the clock (modify time: an in-place update may move an
            # allocation into the deployment).
            delta.progress_by = _from_unix_ns(new.ModifyTime) + _ns_delta(pd)
        elif became_healthy and status is not None:
            current = delta.progress_by or state.RequireProgressBy
            candidate = status.Timestamp + _ns_delta(pd)
            if candidate > current:
                delta.progress_by = candidate

    def apply(self, txn: WriteTxn, event_type: str) -> None:
        for dep_id, groups in self._deltas.items():
            deployment = txn.deployment(dep_id)
            assert deployment is not None and deployment.TaskGroups is not None
            states = dict(deployment.TaskGroups)
            for name, d in groups.items():
                state = states[name]
                states[name] = msgspec.structs.replace(
                    state,
                    PlacedAllocs=state.PlacedAllocs + d.placed,
                    HealthyAllocs=state.HealthyAllocs + d.healthy,
                    UnhealthyAllocs=state.UnhealthyAllocs + d.unhealthy,
                    PlacedCanaries=[*(state.PlacedCanaries or []), *d.canaries] or None,
                    RequireProgressBy=d.progress_by or state.RequireProgressBy,
                )
            txn.put_deployment(_with_groups(deployment, states, txn.index), event_type)
        self._deltas = {}
        self._deployments = {}
        self._fast = {}


def _with_groups(deployment: Deployment, states: dict[str, DeploymentState], index: int) -> Deployment:
    return msgspec.structs.replace(deployment, TaskGroups=states, ModifyIndex=index)


def _from_unix_ns(ns: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1000)


def _ns_delta(ns: int) -> timedelta:
    return timedelta(microseconds=ns // 1000)


def upsert_allocs(txn: WriteTxn, allocs: list[Allocation], now_ns: int, event_type: str,
                  counters: DeploymentCounters | None = None) -> None:
    """Stores allocations the servers created or changed (Nomad's ``upsertAllocsImpl``).

    New allocations get their create indexes and times; changed ones keep what only the client
    knows (status and task states) unless the servers mark them lost or unknown. A replacement
    links its predecessor through ``NextAllocation``.
    """
    index = txn.index
    own_counters = counters is None
    counters = counters or DeploymentCounters()
    jobs: set[tuple[str, str]] = set()
    running: set[tuple[str, str]] = set()
    existing_of = txn.alloc_getter()
    observe = counters.observe
    placed: list[Allocation] = []
    replaced: list[Allocation | None] = []
    last_key, last_running = ("", ""), False
    for alloc in allocs:
        existing = existing_of(alloc.ID)
        replaced.append(existing)
        alloc.ModifyIndex = alloc.AllocModifyIndex = index
        alloc.ModifyTime = now_ns
        if existing is None:
            alloc.CreateIndex = index
            if not alloc.CreateTime:
                alloc.CreateTime = now_ns
        else:
            alloc.CreateIndex = existing.CreateIndex
            alloc.CreateTime = existing.CreateTime
            alloc.TaskStates = existing.TaskStates
            if alloc.ClientStatus not in _KEEP_SCHEDULER_CLIENT_STATUS:
                alloc.ClientStatus = existing.ClientStatus
                alloc.ClientDescription = existing.ClientDescription
            if alloc.Job is None:
                alloc.Job = existing.Job
        if alloc.DeploymentID:
            if existing is None and alloc.DeploymentStatus is None:
                placed.append(alloc)
            else:
                observe(txn, existing, alloc)
        if alloc.JobID is last_key[1] and alloc.Namespace is last_key[0] and last_running:
            continue  # a plan's allocations mostly belong to one job, already known to be running
        key = last_key = (alloc.Namespace, alloc.JobID)
        if key not in running:
            jobs.add(key)
            if alloc_uses_resources(alloc):
                running.add(key)
        last_running = key in running
    if placed:
        counters.observe_placed(txn, placed)
    distinct = len({alloc.ID for alloc in allocs}) == len(allocs)
    txn.put_allocs(allocs, event_type, replaced if distinct else None)
    for alloc in allocs:
        if alloc.PreviousAllocation:
            prev = txn.alloc(alloc.PreviousAllocation)
            if prev is not None and prev.NextAllocation != alloc.ID:
                txn.put_alloc(msgspec.structs.replace(prev, NextAllocation=alloc.ID, ModifyIndex=index), event_type)
    if own_counters:
        counters.apply(txn, event_type)
    refresh_job_statuses(txn, jobs, event_type, running)


def update_allocs_from_client(txn: WriteTxn, updates: list[AllocClientUpdate], now_ns: int,
                              event_type: str) -> list[Allocation]:
    """Applies client reports; unknown allocation IDs are skipped (the alloc may be GC'd)."""
    index = txn.index
    counters = DeploymentCounters()
    jobs: set[tuple[str, str]] = set()
    stored: list[Allocation] = []
    for update in updates:
        existing = txn.alloc(update.ID)
        if existing is None:
            continue
        alloc = msgspec.structs.replace(
            existing,
            ClientStatus=update.ClientStatus,
            ClientDescription=update.ClientDescription,
            TaskStates=update.TaskStates if update.TaskStates is not None else existing.TaskStates,
            NetworkStatus=update.NetworkStatus if update.NetworkStatus is not None else existing.NetworkStatus,
            ModifyIndex=index,
            ModifyTime=now_ns,
        )
        reported = update.DeploymentStatus
        current = existing.DeploymentStatus
        if reported is not None and current is None:
            alloc.DeploymentStatus = msgspec.structs.replace(reported, ModifyIndex=index)
        elif reported is not None and current is not None and reported.Healthy is not None \
                and reported.Healthy != current.Healthy:
            # The client only decides health and its time; the canary flag is the servers'.
            alloc.DeploymentStatus = msgspec.structs.replace(current, Healthy=reported.Healthy,
                                                             Timestamp=reported.Timestamp, ModifyIndex=index)
        counters.observe(txn, existing, alloc)
        txn.put_alloc(alloc, event_type)
        jobs.add((alloc.Namespace, alloc.JobID))
        stored.append(alloc)
    counters.apply(txn, event_type)
    refresh_job_statuses(txn, jobs, event_type)
    return stored


def update_alloc_desired_transitions(txn: WriteTxn, transitions: dict[str, DesiredTransition], now_ns: int,
                                     event_type: str) -> None:
    """Merges the set fields of each transition into the allocation (drains, ``alloc stop``)."""
    for alloc_id, transition in transitions.items():
        existing = txn.alloc(alloc_id)
        if existing is None:
            continue
        given = {f: v for f in transition.__struct_fields__ if (v := getattr(transition, f)) is not None}
        merged = msgspec.structs.replace(existing.DesiredTransition, **given)
        txn.put_alloc(msgspec.structs.replace(existing, DesiredTransition=merged, ModifyIndex=txn.index,
                                              ModifyTime=now_ns), event_type)
