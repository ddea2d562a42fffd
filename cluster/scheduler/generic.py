"""The service and batch scheduler (Nomad's ``GenericScheduler``).

One evaluation: read the job and its allocations, reconcile, place, submit the plan. A plan the
applier only partly commits is retried against a refreshed state, up to 5 attempts for services
and 2 for batch jobs, counting only attempts that made no progress. Placements that found no
node leave a blocked evaluation carrying the failure metrics and the computed classes it failed
on, so it can be woken when a matching node frees up or joins. Failed allocations that may be
rescheduled later get follow-up evaluations that wait until then.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from itertools import chain
from random import Random

import msgspec

from cluster.scheduler.context import EvalContext
from cluster.scheduler.feasible import GroupFeasibility, JobFeasibility
from cluster.scheduler.metrics import MetricBuilder
from cluster.scheduler.nodes import job_node_mask, ready_nodes, tainted_nodes
from cluster.scheduler.placer import GroupKit, Placer
from cluster.scheduler.plan import Plan, PlanResult
from cluster.scheduler.ports import Planner, State
from cluster.scheduler.reconcile import AllocReconciler, ReconcileResults, StopReason
from cluster.scheduler.spec import GroupSpec
from cluster.scheduler.update import in_place_update_fn
from cluster.state.snapshot import ACTIVE_DEPLOYMENT_STATUSES
from cluster.structs.alloc import AllocMetric
from cluster.structs.constants import AllocClientStatus, AllocDesiredStatus, EvalStatus, EvalTrigger
from cluster.structs.deployment import Deployment
from cluster.structs.evaluation import Evaluation
from cluster.structs.group import TaskGroup
from cluster.structs.job import Job

__all__ = ["MAX_BATCH_ATTEMPTS", "MAX_SERVICE_ATTEMPTS", "GenericScheduler", "blocked_eval", "set_status"]

MAX_SERVICE_ATTEMPTS = 5
MAX_BATCH_ATTEMPTS = 2
BLOCKED_PLACEMENTS = "created to place remaining allocations"
BLOCKED_MAX_PLANS = "created due to placement conflicts"

HANDLED_TRIGGERS = frozenset((
    EvalTrigger.JOB_REGISTER, EvalTrigger.JOB_DEREGISTER, EvalTrigger.NODE_DRAIN, EvalTrigger.NODE_UPDATE,
    EvalTrigger.ALLOC_STOP, EvalTrigger.ROLLING_UPDATE, EvalTrigger.QUEUED_ALLOCS, EvalTrigger.PERIODIC_JOB,
    EvalTrigger.MAX_PLANS, EvalTrigger.DEPLOYMENT_WATCHER, EvalTrigger.RETRY_FAILED_ALLOC,
    EvalTrigger.FAILED_FOLLOW_UP, EvalTrigger.PREEMPTION, EvalTrigger.SCALING, EvalTrigger.MAX_DISCONNECT_TIMEOUT,
    EvalTrigger.RECONNECT,
))


def blocked_eval(ev: Evaluation, ctx: EvalContext, failed: dict[str, AllocMetric], now_ns: int,
                 plan_failure: bool) -> Evaluation:
    """The evaluation that waits for capacity (Nomad's ``CreateBlockedEval``)."""
    return Evaluation(
        ID=ctx.new_id(), Namespace=ev.Namespace, Priority=ev.Priority, Type=ev.Type,
        TriggeredBy=EvalTrigger.MAX_PLANS if plan_failure else EvalTrigger.QUEUED_ALLOCS, JobID=ev.JobID,
        JobModifyIndex=ev.JobModifyIndex, Status=EvalStatus.BLOCKED, PreviousEval=ev.ID, FailedTGAllocs=failed or None,
        ClassEligibility=None if ctx.escaped else dict(ctx.class_eligibility), EscapedComputedClass=ctx.escaped,
        StatusDescription=BLOCKED_MAX_PLANS if plan_failure else BLOCKED_PLACEMENTS, CreateTime=now_ns,
        ModifyTime=now_ns, SnapshotIndex=ctx.state.latest_index(),
    )


def set_status(planner: Planner, ev: Evaluation, status: str, description: str, *, blocked: Evaluation | None,
               failed: dict[str, AllocMetric] | None, queued: dict[str, int] | None, deployment_id: str,
               now_ns: int) -> None:
    """Records the evaluation's outcome through the planner (Nomad's ``setStatus``)."""
    done = msgspec.structs.replace(
        ev, Status=status, StatusDescription=description, DeploymentID=deployment_id,
        FailedTGAllocs=failed or None, ModifyTime=now_ns,
        BlockedEval=blocked.ID if blocked is not None else ev.BlockedEval,
        QueuedAllocations=queued if queued is not None else ev.QueuedAllocations)
    planner.update_eval(done)


def _progress(result: PlanResult | None) -> bool:
    return result is not None and (bool(result.NodeUpdate) or bool(result.NodeAllocation)
                                   or result.Deployment is not None or bool(result.DeploymentUpdates))


class GenericScheduler:
    def __init__(self, state: State, planner: Planner, rng: Random, now_ns: int, batch: bool,
                 clock_ns: Callable[[], int] | None = None) -> None:
        self.clock_ns = clock_ns
        self.state = state
        self.planner = planner
        self.rng = rng
        self.now_ns = now_ns
        self.batch = batch
        self.blocked: Evaluation | None = None
        self.failed: dict[str, AllocMetric] = {}
        self.queued: dict[str, int] = {}
        self.deployment: Deployment | None = None
        self.followups: list[Evaluation] = []
        self.plan_result: PlanResult | None = None
        self.ctx: EvalContext | None = None

    def process(self, ev: Evaluation) -> None:
        if ev.TriggeredBy not in HANDLED_TRIGGERS:
            set_status(self.planner, ev, EvalStatus.FAILED,
                       f"scheduler cannot handle '{ev.TriggeredBy}' evaluation reason", blocked=None, failed=None,
                       queued=None, deployment_id="", now_ns=self.now_ns)
            return
        limit = MAX_BATCH_ATTEMPTS if self.batch else MAX_SERVICE_ATTEMPTS
        attempts = 0
        while attempts < limit:
            if self._process_once(ev):
                break
            attempts = 0 if _progress(self.plan_result) else attempts + 1
        else:
            assert self.ctx is not None
            self.blocked = blocked_eval(ev, self.ctx, self.failed, self.now_ns, plan_failure=True)
            self.planner.create_eval(self.blocked)
            set_status(self.planner, ev, EvalStatus.FAILED, f"maximum attempts reached ({limit})",
                       blocked=self.blocked, failed=self.failed, queued=self.queued,
                       deployment_id=self._deployment_id(), now_ns=self.now_ns)
            return
        if ev.Status == EvalStatus.BLOCKED and self.failed:
            assert self.ctx is not None
            again = msgspec.structs.replace(
                ev, EscapedComputedClass=self.ctx.escaped, ClassEligibility=dict(self.ctx.class_eligibility),
                FailedTGAllocs=self.failed, ModifyTime=self.now_ns, SnapshotIndex=self.state.latest_index())
            self.planner.reblock_eval(again)
            return
        set_status(self.planner, ev, EvalStatus.COMPLETE, "", blocked=self.blocked, failed=self.failed,
                   queued=self.queued, deployment_id=self._deployment_id(), now_ns=self.now_ns)

    def _deployment_id(self) -> str:
        return self.deployment.ID if self.deployment is not None else ""

    def _process_once(self, ev: Evaluation) -> bool:
        state = self.state
        job = state.job_by_id(ev.Namespace, ev.JobID)
        self.queued = {}
        self.followups = []
        self.failed = {}
        plan = Plan(EvalID=ev.ID, Priority=ev.Priority, Job=job, AllAtOnce=bool(job.AllAtOnce) if job else False,
                    SnapshotIndex=state.latest_index())
        self.deployment = None if self.batch else state.latest_deployment_by_job(ev.Namespace, ev.JobID)
        ctx = self.ctx = EvalContext(state, plan, self.rng, self.now_ns, self.clock_ns)
        self._compute_job_allocs(ev, job, ctx)
        delay_instead = bool(self.followups) and to_zero(ev)
        if ev.Status != EvalStatus.BLOCKED and self.failed and self.blocked is None and not delay_instead:
            self.blocked = blocked_eval(ev, ctx, self.failed, self.now_ns, plan_failure=False)
            self.planner.create_eval(self.blocked)
        if plan.is_noop() and not ev.AnnotatePlan:
            return True
        if delay_instead:
            for followup in self.followups:
                followup.PreviousEval = ev.ID
                followup.CreateTime = followup.ModifyTime = self.now_ns
                self.planner.create_eval(followup)
        result, new_state = self.planner.submit_plan(plan)
        self.plan_result = result
        self._adjust_queued(result)
        if new_state is not None:
            self.state = new_state
            return False
        full, _, _ = result.full_commit(plan)
        return full

    def _adjust_queued(self, result: PlanResult) -> None:
        """Placements the plan committed are no longer queued (new allocations: created at the
        index that last modified them)."""
        placed = Counter(alloc.TaskGroup for alloc in chain.from_iterable(result.NodeAllocation.values())
                         if alloc.CreateIndex == alloc.ModifyIndex)
        for group, n in placed.items():
            if group in self.queued:
                self.queued[group] -= n

    def _compute_job_allocs(self, ev: Evaluation, job: Job | None, ctx: EvalContext) -> None:
        state = self.state
        allocs = state.allocs_by_job(ev.Namespace, ev.JobID, True)
        tainted = tainted_nodes(state, allocs)
        for alloc in allocs:  # stopped by the servers on a node that went down: now lost
            if alloc.NodeID in tainted and alloc.DesiredStatus == AllocDesiredStatus.STOP \
                    and alloc.ClientStatus in (AllocClientStatus.RUNNING, AllocClientStatus.PENDING):
                ctx.stop(alloc, StopReason.LOST, AllocClientStatus.LOST)
        kits: dict[str, GroupKit] = {}
        job_checks = JobFeasibility(ctx, list((job.Constraints if job else None) or []))
        if job is not None:
            slots, by_dc = ready_nodes(state, job)
            in_job = job_node_mask(ctx.table, job)
        else:
            slots, by_dc, in_job = None, {}, None
        metrics = MetricBuilder(ctx, by_dc, len(slots) if slots is not None else 0, job.NodePool or "" if job else "")

        def kit(tg: TaskGroup) -> GroupKit:
            found = kits.get(tg.Name or "")
            if found is None or found.tg is not tg:
                assert job is not None and slots is not None
                found = kits[tg.Name or ""] = GroupKit(ctx, job, job_checks, tg, metrics, len(slots), self.batch)
            return found

        def groups(tg: TaskGroup) -> tuple[GroupSpec, GroupFeasibility]:
            k = kit(tg)
            return k.spec, k.feasibility

        update_fn = in_place_update_fn(ctx, ev.ID, lambda s: bool(in_job is not None and in_job[s]), groups)
        reconciler = AllocReconciler(
            job=job, job_id=ev.JobID, batch=self.batch, deployment=self.deployment, existing=allocs, tainted=tainted,
            eval_id=ev.ID, eval_priority=ev.Priority, now_ns=self.now_ns, update_fn=update_fn, new_id=ctx.new_id)
        results = reconciler.compute()
        self._apply(results, job, ctx)
        if not results.place and not results.destructive:
            for tg in (job.TaskGroups if job is not None else None) or ():
                self.queued[tg.Name or ""] = 0
            return
        assert job is not None and slots is not None
        for group, n in Counter(p.group.Name or "" for p in chain(results.place, results.destructive)).items():
            self.queued[group] = self.queued.get(group, 0) + n
        ctx.set_nodes(slots)
        deployment_id = self.deployment.ID if self.deployment is not None and \
            self.deployment.Status in ACTIVE_DEPLOYMENT_STATUSES else ""
        placer = Placer(ctx, job, ev.ID, deployment_id, kit, results.name_indexes)
        placer.place_all(results.destructive, results.place)
        self.failed = placer.failed

    def _apply(self, results: ReconcileResults, job: Job | None, ctx: EvalContext) -> None:
        plan = ctx.plan
        if ctx.plan.DesiredTGUpdates is None and results.desired:
            plan.DesiredTGUpdates = results.desired
        plan.Deployment = results.deployment
        plan.DeploymentUpdates = results.deployment_updates
        self.followups.extend(results.followup_evals)
        if results.deployment is not None:
            self.deployment = results.deployment
        for stop in results.stop:
            ctx.stop(stop.alloc, stop.description, stop.client_status, stop.followup_eval_id)
        deployment_id = self._deployment_id()
        for updated in results.inplace:
            if updated.DeploymentID != deployment_id:
                updated.DeploymentID = deployment_id
                updated.DeploymentStatus = None
            old = self.state.alloc_by_id(updated.ID)
            assert old is not None
            ctx.update_in_place(old, updated)
        for updated in results.attribute_updates.values():
            plan.append_alloc(updated)


def to_zero(ev: Evaluation) -> bool:
    """The evaluation does not itself wait for a time (it is not a delayed follow-up)."""
    return ev.WaitUntil.year == 1
