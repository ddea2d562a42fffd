"""``nomad job plan``: what registering a job would change, without changing anything.

The job is checked as a registration would check it, diffed against the stored version, and handed
to the real scheduler on a snapshot in which it is already registered. The planner the scheduler
talks to never submits: it answers every plan as fully committed and keeps what it was told, so the
answer shows the reconciler's decisions per group (``Annotations.DesiredTGUpdates``), the placements
that could not be made and why (``FailedTGAllocs``), and the blocked evaluation that would wait for
capacity (``CreatedEvals``).
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable

import msgspec

from agents.server.endpoints_writes import checked_job, no_eval
from cluster.errors import InvalidInput
from cluster.jobspec.diff import JobDiff, diff_jobs
from cluster.periodic import next_launch_ns
from cluster.scheduler.plan import DesiredUpdates, Plan, PlanResult
from cluster.scheduler.ports import State
from cluster.scheduler.worker import process_eval
from cluster.state import StateSnapshot
from cluster.state.nodetable import NodeTable
from cluster.state.records import SchedulerConfiguration
from cluster.state.write_jobs import spec_changed
from cluster.structs.alloc import Allocation, AllocMetric
from cluster.structs.constants import EvalStatus, EvalTrigger, JobType
from cluster.structs.deployment import Deployment
from cluster.structs.evaluation import Evaluation
from cluster.structs.job import Job
from cluster.structs.node import Node

__all__ = ["JobPlanRequest", "JobPlanResponse", "PlanAnnotations", "plan_job"]


class JobPlanRequest(msgspec.Struct, kw_only=True):
    Job: Job
    Diff: bool = False
    PolicyOverride: bool = False
    Region: str = ""


class PlanAnnotations(msgspec.Struct, kw_only=True):
    DesiredTGUpdates: dict[str, DesiredUpdates] | None = None
    PreemptedAllocs: list[dict[str, str]] | None = None


class JobPlanResponse(msgspec.Struct, kw_only=True):
    Annotations: PlanAnnotations | None = None
    FailedTGAllocs: dict[str, AllocMetric] | None = None
    JobModifyIndex: int = 0  # of the stored job: ``job run -check-index`` passes it back
    CreatedEvals: list[Evaluation] | None = None
    Diff: JobDiff | None = None
    NextPeriodicLaunch: int = 0  # Unix ns; 0 when not periodic or not known
    Warnings: str = ""
    Index: int = 0


def plan_job(snap: StateSnapshot, args: JobPlanRequest, *, region: str, now_ns: int,
             new_id: Callable[[], str]) -> JobPlanResponse:
    """The plan of registering ``args.Job`` on ``snap``; the snapshot is only read."""
    job = checked_job(args.Job, region)
    namespace, job_id = job.Namespace or "default", job.ID or ""
    existing = snap.job_by_id(namespace, job_id)
    planned = _as_registered(job, existing, snap.latest_index() + 1, now_ns)
    answer = JobPlanResponse(JobModifyIndex=existing.JobModifyIndex or 0 if existing else 0,
                             Index=snap.latest_index())
    if args.Diff:
        answer.Diff = diff_jobs(existing, planned)
    if planned.Periodic is not None and planned.Periodic.Enabled and not planned.Stop:
        with contextlib.suppress(InvalidInput):
            answer.NextPeriodicLaunch = next_launch_ns(planned.Periodic, now_ns) or 0
    if no_eval(planned):
        answer.Annotations = PlanAnnotations(DesiredTGUpdates={})
        return answer
    ev = Evaluation(ID=new_id(), Namespace=namespace, Priority=planned.Priority or 50,
                    Type=planned.Type or JobType.SERVICE, TriggeredBy=EvalTrigger.JOB_REGISTER, JobID=job_id,
                    JobModifyIndex=planned.JobModifyIndex or 0, Status=EvalStatus.PENDING, AnnotatePlan=True,
                    CreateTime=now_ns, ModifyTime=now_ns)
    planner = PreviewPlanner()
    process_eval(PlannedJobState(snap, planned), planner, ev, random.Random(now_ns), now_ns)
    plan = planner.plans[-1] if planner.plans else None
    answer.Annotations = PlanAnnotations(
        DesiredTGUpdates=plan.DesiredTGUpdates if plan is not None and plan.DesiredTGUpdates else {},
        PreemptedAllocs=_preempted(plan) if plan is not None else None)
    failed = planner.updated[-1].FailedTGAllocs if planner.updated else None
    answer.FailedTGAllocs = failed or None
    answer.CreatedEvals = planner.created or None
    return answer


def _as_registered(job: Job, existing: Job | None, index: int, now_ns: int) -> Job:
    """``job`` with the server fields a registration at ``index`` would give it."""
    planned = msgspec.structs.replace(job)
    if existing is None:
        planned.Version, planned.CreateIndex, planned.JobModifyIndex = 0, index, index
    elif spec_changed(existing, job):
        planned.Version, planned.CreateIndex = (existing.Version or 0) + 1, existing.CreateIndex
        planned.JobModifyIndex = index
    else:
        planned.Version, planned.CreateIndex = existing.Version, existing.CreateIndex
        planned.JobModifyIndex = existing.JobModifyIndex
    planned.ModifyIndex, planned.SubmitTime, planned.Stable = index, now_ns, False
    planned.Status = existing.Status if existing is not None else "pending"
    return planned


def _preempted(plan: Plan) -> list[dict[str, str]] | None:
    found = [{"ID": d.ID, "PreemptedByAllocation": d.PreemptedByAllocation}
             for diffs in plan.NodePreemptions.values() for d in diffs]
    return found or None


class PreviewPlanner:
    """A planner that commits nothing: each plan is answered as if it all fit, and kept."""

    def __init__(self) -> None:
        self.plans: list[Plan] = []
        self.updated: list[Evaluation] = []
        self.created: list[Evaluation] = []

    def submit_plan(self, plan: Plan) -> tuple[PlanResult, State | None]:
        self.plans.append(plan)
        result = PlanResult(NodeUpdate=plan.NodeUpdate, NodeAllocation=plan.NodeAllocation,
                            NodePreemptions=plan.NodePreemptions, Deployment=plan.Deployment,
                            DeploymentUpdates=plan.DeploymentUpdates)
        return result, None

    def update_eval(self, ev: Evaluation) -> None:
        self.updated.append(ev)

    def create_eval(self, ev: Evaluation) -> None:
        self.created.append(ev)

    def reblock_eval(self, ev: Evaluation) -> None:
        self.updated.append(ev)


class PlannedJobState:
    """A snapshot in which one job is replaced by its planned version (the scheduler's ``State``)."""

    def __init__(self, snap: StateSnapshot, job: Job) -> None:
        self._snap = snap
        self._job = job
        self._key = (job.Namespace or "default", job.ID or "")

    @property
    def node_table(self) -> NodeTable:
        return self._snap.node_table

    def latest_index(self) -> int:
        return self._snap.latest_index()

    def job_by_id(self, namespace: str, job_id: str) -> Job | None:
        return self._job if (namespace, job_id) == self._key else self._snap.job_by_id(namespace, job_id)

    def job_by_id_and_version(self, namespace: str, job_id: str, version: int) -> Job | None:
        if (namespace, job_id) == self._key and version == self._job.Version:
            return self._job
        return self._snap.job_by_id_and_version(namespace, job_id, version)

    def node_by_id(self, node_id: str) -> Node | None:
        return self._snap.node_by_id(node_id)

    def alloc_by_id(self, alloc_id: str) -> Allocation | None:
        return self._snap.alloc_by_id(alloc_id)

    def alloc_getter(self) -> Callable[[str], Allocation | None]:
        return self._snap.alloc_getter()

    def allocs_by_job(self, namespace: str, job_id: str, any_create_index: bool = True) -> list[Allocation]:
        return self._snap.allocs_by_job(namespace, job_id, any_create_index)

    def allocs_by_node(self, node_id: str) -> list[Allocation]:
        return self._snap.allocs_by_node(node_id)

    def deployment_by_id(self, deployment_id: str) -> Deployment | None:
        return self._snap.deployment_by_id(deployment_id)

    def deployments_by_job(self, namespace: str, job_id: str) -> list[Deployment]:
        return self._snap.deployments_by_job(namespace, job_id)

    def latest_deployment_by_job(self, namespace: str, job_id: str) -> Deployment | None:
        return self._snap.latest_deployment_by_job(namespace, job_id)

    def eval_by_id(self, eval_id: str) -> Evaluation | None:
        return self._snap.eval_by_id(eval_id)

    def scheduler_config(self) -> SchedulerConfiguration:
        return self._snap.scheduler_config()
