"""Turning the reconciler's placements into allocations on chosen nodes (Nomad's
``computePlacements``).

Destructive updates go first (their old allocation is stopped before the new one is ranked, so
its resources count as free), then the other placements, in the reconciler's order. Runs of
plain placements of one group (no previous allocation to avoid or prefer, nothing to stop first)
are handed to the selector together and placed a whole pass at a time; the others one by one.
Once a group fails to place, its remaining placements are only counted (``CoalescedFailures``).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import groupby

import msgspec

from cluster.scheduler.allocs import index_of_name, lookup_group
from cluster.scheduler.context import EvalContext
from cluster.scheduler.feasible import GroupFeasibility, JobFeasibility
from cluster.scheduler.metrics import MetricBuilder, exhaust_resources
from cluster.scheduler.network import assign_ports
from cluster.scheduler.reconcile import PlaceResult
from cluster.scheduler.reconcile_sets import AllocNameIndex
from cluster.scheduler.reschedule import updated_tracker
from cluster.scheduler.scoring import GroupScoring
from cluster.scheduler.select import GroupSelector, Pass, SelectOptions, placement_limit
from cluster.scheduler.spec import GroupSpec, group_spec
from cluster.structs.alloc import Allocation, AllocDeploymentStatus, AllocMetric
from cluster.structs.constants import AllocClientStatus, AllocDesiredStatus
from cluster.structs.group import TaskGroup
from cluster.structs.job import Job

__all__ = ["GroupKit", "Placer"]


class GroupKit:
    """The per-group machinery of one evaluation: spec, feasibility, scoring, selector."""

    def __init__(self, ctx: EvalContext, job: Job, job_checks: JobFeasibility, tg: TaskGroup, metrics: MetricBuilder,
                 node_count: int, batch: bool) -> None:
        self.tg = tg
        self.spec = group_spec(job, tg)
        self.feasibility = GroupFeasibility(ctx, job_checks, self.spec)
        self._ctx, self._job, self._metrics = ctx, job, metrics
        self._node_count, self._batch = node_count, batch
        self._selector: GroupSelector | None = None

    @property
    def selector(self) -> GroupSelector:
        if self._selector is None:
            spec = self.spec
            limit = placement_limit(self._node_count, self._batch, spec.count, bool(spec.affinities or spec.spreads))
            scoring = GroupScoring(self._ctx, self._job, spec)
            self._selector = GroupSelector(self._ctx, spec, self.feasibility, scoring, self._metrics, limit)
        return self._selector


def _options(ctx: EvalContext, p: PlaceResult) -> SelectOptions:
    prev = p.previous
    if prev is None:
        return SelectOptions()
    penalty: set[str] = set()
    if prev.ClientStatus == AllocClientStatus.FAILED:
        penalty.add(prev.NodeID)
    for event in (prev.RescheduleTracker.Events if prev.RescheduleTracker else None) or ():
        penalty.add(event.PrevNodeID)
    preferred = None
    disk = p.group.EphemeralDisk
    if disk is not None and (disk.Sticky or disk.Migrate):
        slot = ctx.table.slot_of.get(prev.NodeID)
        if slot is not None and ctx.table.ready[slot]:
            preferred = slot
    return SelectOptions(penalty_nodes=frozenset(penalty), preferred_slot=preferred)


def _plain(p: PlaceResult) -> bool:
    return p.previous is None and not p.stop_previous and not p.downgrade_non_canary


def _one_plain_run(results: list[PlaceResult]) -> bool:
    """All of ``results`` are plain placements of one group (what ``groupby`` would make one run)."""
    name = results[0].group.Name
    return all(p.group.Name == name and p.previous is None and not p.stop_previous and not p.downgrade_non_canary
               for p in results)


class Placer:
    def __init__(self, ctx: EvalContext, job: Job, eval_id: str, deployment_id: str,
                 kit: Callable[[TaskGroup], GroupKit], names: dict[str, AllocNameIndex]) -> None:
        self.ctx = ctx
        self.job = job
        self.eval_id = eval_id
        self.deployment_id = deployment_id
        self.kit = kit
        self.names = names
        self.failed: dict[str, AllocMetric] = {}

    def place_all(self, destructive: list[PlaceResult], place: list[PlaceResult]) -> None:
        for results in (destructive, place):
            if results and _one_plain_run(results):
                self._place_run(results)  # the common case (a new job or a scale up of one group)
                continue
            for plain, run in groupby(results, key=lambda p: (p.group.Name, _plain(p))):
                items = list(run)
                if plain[1]:
                    self._place_run(items)
                else:
                    for item in items:
                        self._place_one(item)

    def _coalesce(self, tg: TaskGroup, n: int) -> bool:
        metric = self.failed.get(tg.Name or "")
        if metric is None:
            return False
        metric.CoalescedFailures += n
        exhaust_resources(metric, tg)
        return True

    def _fail(self, tg: TaskGroup, metric: AllocMetric, remaining: int) -> None:
        exhaust_resources(metric, tg)
        metric.CoalescedFailures += remaining
        self.failed[tg.Name or ""] = metric

    def _place_run(self, items: list[PlaceResult]) -> None:
        tg = items[0].group
        if self._coalesce(tg, len(items)):
            return
        kit = self.kit(tg)
        done = 0  # items placed by the passes so far, in order
        timer = _PassTimer(self.ctx.clock_ns)

        def commit(p: Pass) -> None:
            nonlocal done
            timer.stamp(p)
            n = len(p.slots)
            assert done + n <= len(items), "the selector placed more than it was asked"
            self._commit(kit.spec, p, items[done:done + n])
            done += n

        failure = kit.selector.select(len(items), SelectOptions(), commit)
        if failure is not None:
            self._fail(tg, failure, len(items) - done - 1)

    def _place_one(self, item: PlaceResult) -> None:
        tg = item.group
        if self._coalesce(tg, 1):
            return
        job = self.job
        if item.downgrade_non_canary:
            tg = lookup_group(job, tg.Name or "") or tg
        kit = self.kit(tg)
        prev = item.previous
        if item.stop_previous and prev is not None:
            self.ctx.stop(prev, item.stop_previous)
        timer = _PassTimer(self.ctx.clock_ns)

        def commit(p: Pass) -> None:
            timer.stamp(p)
            self._commit(kit.spec, p, [item])

        failure = kit.selector.select(1, _options(self.ctx, item), commit)
        if failure is not None:
            self._fail(tg, failure, 0)
            if item.stop_previous and prev is not None:
                self.ctx.unstop(prev)

    def _name(self, item: PlaceResult) -> str:
        names = self.names.get(item.group.Name or "")
        if names is not None and names.duplicates:
            index = index_of_name(item.name)
            if names.is_duplicate(index):
                fresh = names.next(1)[0]
                names.unset(index)
                return fresh
        return item.name

    def _commit(self, spec: GroupSpec, p: Pass, items: list[PlaceResult]) -> None:
        ctx, job = self.ctx, self.job
        nodes = ctx.table.nodes
        allocs: list[Allocation] = []
        shared = None if spec.asks_ports else spec.resources
        names = self.names.get(spec.name)
        check_duplicates = names is not None and bool(names.duplicates)
        deployment_id = self.deployment_id
        # What the pass's allocations share; each is this plus its own ID, name, node and metric.
        proto = Allocation(Namespace=job.Namespace or "", EvalID=self.eval_id, JobID=job.ID or "",
                           TaskGroup=spec.name, DeploymentID=deployment_id, AllocatedResources=shared,
                           DesiredStatus=AllocDesiredStatus.RUN, ClientStatus=AllocClientStatus.PENDING)
        replace = msgspec.structs.replace
        if shared is not None and not check_duplicates and not any(
                item.previous is not None or item.canary for item in items):
            # The common case (new allocations of a group without ports): each differs from the
            # prototype only by its ID, name, node and metric.
            chosen = [nodes[slot] for slot in p.slots.tolist()]
            allocs = [replace(proto, ID=alloc_id, Name=item.name, NodeID=node.ID,
                              NodeName=node.Name, Metrics=metric)
                      for alloc_id, node, metric, item in zip(ctx.new_ids(len(items)), chosen, p.metrics, items,
                                                              strict=True)]
            ctx.place_many(allocs, p.slots, spec.cpu, spec.memory_mb, spec.disk_mb)
            return
        for alloc_id, slot, metric, item in zip(ctx.new_ids(len(items)), p.slots.tolist(), p.metrics, items,
                                                strict=True):
            node = nodes[slot]
            assert node is not None
            alloc = replace(proto, ID=alloc_id, Name=self._name(item) if check_duplicates else item.name,
                            NodeID=node.ID, NodeName=node.Name, Metrics=metric)
            if shared is None:
                alloc.AllocatedResources = assign_ports(ctx, spec, node)
            prev = item.previous
            if prev is not None:
                alloc.PreviousAllocation = prev.ID
                if item.reschedule:
                    alloc.RescheduleTracker = updated_tracker(prev, ctx.now_ns)
            if item.canary and deployment_id:
                alloc.DeploymentStatus = AllocDeploymentStatus(Canary=True)
            allocs.append(alloc)
            if shared is None:
                ctx.place(alloc, slot)
        if shared is not None:
            ctx.place_many(allocs, p.slots, spec.cpu, spec.memory_mb, spec.disk_mb)


class _PassTimer:
    """Nomad's ``AllocMetric.AllocationTime``: the time since the previous pass (or the start),
    shared out over the pass's placements. Without a clock it does nothing."""

    __slots__ = ("_clock", "_last_ns")

    def __init__(self, clock_ns: Callable[[], int] | None) -> None:
        self._clock = clock_ns
        self._last_ns = clock_ns() if clock_ns is not None else 0

    def stamp(self, p: Pass) -> None:
        if self._clock is None or not p.metrics:
            return
        now_ns = self._clock()
        each_ns = (now_ns - self._last_ns) // len(p.metrics)
        self._last_ns = now_ns
        for metric in p.metrics:
            metric.AllocationTime = each_ns
