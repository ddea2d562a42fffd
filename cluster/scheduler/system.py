"""The system and sysbatch schedulers: one allocation of each task group on every eligible node
(Nomad's ``SystemScheduler``).

Per node the job's allocations are diffed against what should run there: missing ones are placed,
ones of a changed job updated (in place when possible, else replaced, ``update.max_parallel`` at a
time), ones of removed groups or on nodes left out of the job's datacenters stopped, ones on down
nodes marked lost. A node a group's constraints exclude is skipped silently. A node without room
evicts lower-priority allocations when preemption is enabled for the scheduler (it is for system
jobs by default); otherwise the placement fails and the evaluation blocks until capacity appears.
Sysbatch allocations that completed successfully are not run again for the same job version.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from random import Random

import msgspec
import numpy as np

from cluster.scheduler.allocs import ran_successfully, terminal
from cluster.scheduler.context import EvalContext
from cluster.scheduler.feasible import GroupFeasibility, JobFeasibility
from cluster.scheduler.generic import MAX_SERVICE_ATTEMPTS, blocked_eval, set_status
from cluster.scheduler.metrics import exhaust_resources
from cluster.scheduler.network import assign_ports, ports_reason
from cluster.scheduler.nodes import job_node_mask, ready_nodes, tainted_nodes
from cluster.scheduler.plan import DesiredUpdates, Plan, PlanResult
from cluster.scheduler.ports import Planner, State
from cluster.scheduler.preempt import find_preemptions
from cluster.scheduler.reconcile import StopReason, update_empty
from cluster.scheduler.select import binpack_only
from cluster.scheduler.spec import GroupSpec, group_spec
from cluster.scheduler.update import in_place_update_fn
from cluster.structs.alloc import Allocation, AllocMetric, NodeScoreMeta
from cluster.structs.constants import AllocClientStatus, AllocDesiredStatus, EvalStatus, NodeStatus
from cluster.structs.evaluation import Evaluation
from cluster.structs.group import TaskGroup
from cluster.structs.job import Job

__all__ = ["SystemScheduler"]


@dataclass
class _Diff:
    place: list[tuple[TaskGroup, int, Allocation | None]] = field(default_factory=list)
    update: list[tuple[TaskGroup, Allocation]] = field(default_factory=list)
    desired: dict[str, DesiredUpdates] = field(default_factory=dict)


def _name(job: Job, tg: TaskGroup) -> str:
    return f"{job.ID}.{tg.Name}[0]"


class SystemScheduler:
    def __init__(self, state: State, planner: Planner, rng: Random, now_ns: int, sysbatch: bool,
                 clock_ns: Callable[[], int] | None = None) -> None:
        self.clock_ns = clock_ns
        self.state = state
        self.planner = planner
        self.rng = rng
        self.now_ns = now_ns
        self.sysbatch = sysbatch
        self.failed: dict[str, AllocMetric] = {}
        self.queued: dict[str, int] = {}
        self.blocked: Evaluation | None = None
        self.failed_node_id = ""  # the first node a placement did not fit on
        self.ctx: EvalContext | None = None
        self.result: PlanResult | None = None

    def process(self, ev: Evaluation) -> None:
        attempts = 0
        while attempts < MAX_SERVICE_ATTEMPTS:
            if self._process_once(ev):
                break
            progress = self.result is not None and not self.result.is_noop()
            attempts = 0 if progress else attempts + 1
        else:
            assert self.ctx is not None
            self.blocked = blocked_eval(ev, self.ctx, self.failed, self.now_ns, plan_failure=True)
            self.planner.create_eval(self.blocked)
            set_status(self.planner, ev, EvalStatus.FAILED, f"maximum attempts reached ({MAX_SERVICE_ATTEMPTS})",
                       blocked=self.blocked, failed=self.failed, queued=self.queued, deployment_id="",
                       now_ns=self.now_ns)
            return
        if ev.Status == EvalStatus.BLOCKED and self.failed:
            assert self.ctx is not None
            self.planner.reblock_eval(msgspec.structs.replace(
                ev, ClassEligibility=dict(self.ctx.class_eligibility), EscapedComputedClass=self.ctx.escaped,
                FailedTGAllocs=self.failed, ModifyTime=self.now_ns))
            return
        set_status(self.planner, ev, EvalStatus.COMPLETE, "", blocked=self.blocked, failed=self.failed,
                   queued=self.queued, deployment_id="", now_ns=self.now_ns)

    def _process_once(self, ev: Evaluation) -> bool:
        state = self.state
        job = state.job_by_id(ev.Namespace, ev.JobID)
        plan = Plan(EvalID=ev.ID, Priority=ev.Priority, Job=job, SnapshotIndex=state.latest_index())
        ctx = self.ctx = EvalContext(state, plan, self.rng, self.now_ns, self.clock_ns)
        self.failed, self.queued = {}, {}
        self.failed_node_id = ""
        allocs = state.allocs_by_job(ev.Namespace, ev.JobID, True)
        diff = self._diff(job, allocs, ctx)
        plan.DesiredTGUpdates = diff.desired
        if job is not None and not job.Stop:
            self._place(ev, job, diff, ctx)
        if self.failed and self.blocked is None and ev.Status != EvalStatus.BLOCKED:
            # Tied to the first node that lacked room (Nomad blocks per node): freed capacity there
            # retries it even if that node's class looked ineligible elsewhere.
            blocked = blocked_eval(ev, ctx, self.failed, self.now_ns, plan_failure=False)
            self.blocked = msgspec.structs.replace(blocked, NodeID=self.failed_node_id)
            self.planner.create_eval(self.blocked)
        if plan.is_noop():
            return True
        result, new_state = self.planner.submit_plan(plan)
        self.result = result
        if new_state is not None:
            self.state = new_state
            return False
        return result.full_commit(plan)[0]

    # -- the per-node diff -----------------------------------------------------------------------

    def _diff(self, job: Job | None, allocs: list[Allocation], ctx: EvalContext) -> _Diff:
        diff = _Diff()
        table = ctx.table
        required = {} if job is None or job.Stop else {_name(job, tg): tg for tg in job.TaskGroups or ()}
        for tg in required.values():
            diff.desired[tg.Name or ""] = DesiredUpdates()
        in_job = job_node_mask(table, job) if job is not None else np.zeros(len(table), np.bool_)
        tainted = tainted_nodes(self.state, allocs)
        present: set[tuple[str, str]] = set()
        finished: dict[tuple[str, str], Allocation] = {}
        for alloc in allocs:
            desired = diff.desired.setdefault(alloc.TaskGroup, DesiredUpdates())
            if terminal(alloc):
                key = (alloc.NodeID, alloc.Name)
                if key not in finished or finished[key].CreateIndex < alloc.CreateIndex:
                    finished[key] = alloc
                continue
            wanted = required.get(alloc.Name)
            if wanted is None:
                ctx.stop(alloc, StopReason.NOT_NEEDED)
                desired.Stop += 1
                continue
            present.add((alloc.NodeID, alloc.Name))
            if alloc.NodeID in tainted:
                node = tainted[alloc.NodeID]
                if node is None or node.Status in (NodeStatus.DOWN, NodeStatus.DISCONNECTED):
                    ctx.stop(alloc, StopReason.LOST, AllocClientStatus.LOST)
                    desired.Stop += 1
                elif alloc.DesiredTransition.Migrate:
                    ctx.stop(alloc, StopReason.MIGRATING)
                    desired.Migrate += 1
                else:
                    desired.Ignore += 1
                continue
            slot = table.slot_of.get(alloc.NodeID)
            if slot is None or not in_job[slot]:
                ctx.stop(alloc, StopReason.NODE_TAINTED)
                desired.Stop += 1
            elif not table.schedulable[slot]:
                desired.Ignore += 1
            elif alloc.Job is not None and job is not None and alloc.Job.JobModifyIndex != job.JobModifyIndex:
                diff.update.append((wanted, alloc))
            else:
                desired.Ignore += 1
        if job is None or job.Stop:
            return diff
        slots, _ = ready_nodes(self.state, job)
        for slot in slots.tolist():
            node = table.nodes[slot]
            assert node is not None
            for name, tg in required.items():
                if (node.ID, name) in present:
                    continue
                prev = finished.get((node.ID, name))
                if self.sysbatch and prev is not None and ran_successfully(prev) and prev.Job is not None \
                        and prev.Job.JobModifyIndex == job.JobModifyIndex:
                    diff.desired[tg.Name or ""].Ignore += 1
                    continue
                diff.place.append((tg, slot, prev))
        return diff

    # -- placing ---------------------------------------------------------------------------------

    def _place(self, ev: Evaluation, job: Job, diff: _Diff, ctx: EvalContext) -> None:
        job_checks = JobFeasibility(ctx, list(job.Constraints or []))
        slots, by_dc = ready_nodes(self.state, job)
        in_job = job_node_mask(ctx.table, job)
        specs: dict[str, tuple[GroupSpec, GroupFeasibility]] = {}

        def kit(tg: TaskGroup) -> tuple[GroupSpec, GroupFeasibility]:
            found = specs.get(tg.Name or "")
            if found is None:
                spec = group_spec(job, tg)
                feasibility = GroupFeasibility(ctx, job_checks, spec)
                feasibility.mask(slots)
                found = specs[tg.Name or ""] = (spec, feasibility)
            return found

        update = in_place_update_fn(ctx, ev.ID, lambda s: bool(in_job[s]), kit)
        limits: dict[str, int] = {}
        for tg, alloc in diff.update:
            desired = diff.desired[tg.Name or ""]
            skip, destructive, updated = update(alloc, job, tg)
            if skip:
                desired.Ignore += 1
            elif not destructive:
                assert updated is not None
                ctx.update_in_place(alloc, updated)
                desired.InPlaceUpdate += 1
            else:
                limit = limits.setdefault(tg.Name or "", len(diff.update) if update_empty(tg.Update)
                                          else (tg.Update.MaxParallel or 0) if tg.Update else len(diff.update))
                if limit <= 0:
                    desired.Ignore += 1
                    continue
                limits[tg.Name or ""] = limit - 1
                ctx.stop(alloc, StopReason.UPDATING)
                desired.DestructiveUpdate += 1
                slot = ctx.table.slot_of.get(alloc.NodeID)
                if slot is not None:
                    diff.place.append((tg, slot, alloc))
        for tg, _slot, prev in diff.place:
            self.queued[tg.Name or ""] = self.queued.get(tg.Name or "", 0) + 1
            if prev is None or terminal(prev):
                diff.desired[tg.Name or ""].Place += 1
        for tg, slot, prev in diff.place:
            spec, feasibility = kit(tg)
            self._place_one(ev, job, tg, spec, feasibility, slot, prev, ctx, by_dc, len(slots))

    def _place_one(self, ev: Evaluation, job: Job, tg: TaskGroup, spec: GroupSpec, feasibility: GroupFeasibility,
                   slot: int, prev: Allocation | None, ctx: EvalContext, by_dc: dict[str, int], in_pool: int) -> None:
        name = tg.Name or ""
        t = ctx.table
        node = t.nodes[slot]
        assert node is not None
        metric = AllocMetric(NodesEvaluated=1, NodesInPool=in_pool, NodePool=job.NodePool or "",
                             NodesAvailable=by_dc)
        if feasibility.node_reason(slot) is not None:
            self.queued[name] = max(self.queued.get(name, 1) - 1, 0)  # filtered nodes are not failures
            return
        reason = ports_reason(ctx, spec, node) if spec.asks_ports else None
        fits = reason is None and (ctx.cpu_used[slot] + spec.cpu <= t.cpu_total[slot]
                                   and ctx.mem_used[slot] + spec.memory_mb <= t.mem_total[slot]
                                   and ctx.disk_used[slot] + spec.disk_mb <= t.disk_total[slot])
        preempted: list[Allocation] = []
        if not fits:
            config = ctx.config.PreemptionConfig
            enabled = config.SysBatchSchedulerEnabled if self.sysbatch else config.SystemSchedulerEnabled
            found = find_preemptions(ctx, slot, spec, ev.Priority, job.ID or "") if enabled and reason is None else None
            if not found:
                self._failed(tg, metric, ctx, slot, spec, reason)
                return
            preempted = found
        alloc_id = ctx.new_id()
        for victim in preempted:
            ctx.preempt(victim, alloc_id)
        score = float(binpack_only(ctx, spec, np.array([slot]))[0])
        metric.ScoreMetaData = [NodeScoreMeta(NodeID=node.ID, Scores={"binpack": score}, NormScore=score)]
        alloc = Allocation(
            ID=alloc_id, Namespace=job.Namespace or "", EvalID=ev.ID, Name=_name(job, tg), NodeID=node.ID,
            NodeName=node.Name, JobID=job.ID or "", TaskGroup=name, Metrics=metric,
            AllocatedResources=assign_ports(ctx, spec, node) if spec.asks_ports else spec.resources,
            DesiredStatus=AllocDesiredStatus.RUN, ClientStatus=AllocClientStatus.PENDING,
            PreviousAllocation=prev.ID if prev is not None else "",
            PreemptedAllocations=[v.ID for v in preempted] or None,
        )
        ctx.place(alloc, slot)
        if preempted:
            ctx.plan.DesiredTGUpdates = ctx.plan.DesiredTGUpdates or {}
            ctx.plan.DesiredTGUpdates.setdefault(name, DesiredUpdates()).Preemptions += len(preempted)
        self.queued[name] = max(self.queued.get(name, 1) - 1, 0)

    def _failed(self, tg: TaskGroup, metric: AllocMetric, ctx: EvalContext, slot: int, spec: GroupSpec,
                reason: str | None) -> None:
        name = tg.Name or ""
        node = ctx.table.nodes[slot]
        if not self.failed_node_id and node is not None:
            self.failed_node_id = node.ID
        known = self.failed.get(name)
        if known is not None:
            known.CoalescedFailures += 1
            exhaust_resources(known, tg)
            return
        t = ctx.table
        if reason is None:
            reason = ("cpu" if ctx.cpu_used[slot] + spec.cpu > t.cpu_total[slot]
                      else "memory" if ctx.mem_used[slot] + spec.memory_mb > t.mem_total[slot] else "disk")
        metric.NodesExhausted = 1
        metric.DimensionExhausted = {reason: 1}
        if node is not None and node.NodeClass:
            metric.ClassExhausted = {node.NodeClass: 1}
        exhaust_resources(metric, tg)
        self.failed[name] = metric
