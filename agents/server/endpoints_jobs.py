"""The server's job endpoints beyond register and read (Nomad's RPC names): deregister, versions, revert,
stable, scale, scale status, dispatch, plan, summary, periodic force and a job's deployments.

Writes run on the leader (a follower forwards them) and come from the web application, which has
checked the caller's ACL, or from another server forwarding. Reads are blocking queries as in
``endpoints_reads``: stale ones answer here, others on the leader. The messages are in
``agents.server.messages_jobs`` and re-exported here.
"""

from __future__ import annotations

import base64
import itertools
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from agents.rpc import CallContext, Registry, Role
from agents.server import job_plan, periodic
from agents.server.endpoints_deployments import DeploymentListResponse, SingleDeploymentResponse
from agents.server.endpoints_reads import forwarded_read, job_index, read
from agents.server.endpoints_writes import job_eval, no_eval
from agents.server.listing import job_list_page, job_stub
from agents.server.messages import (
    JobListStub,
    JobRegisterResponse,
    JobSpecificRequest,
)
from agents.server.messages_jobs import (
    JobDeregisterRequest,
    JobDeregisterResponse,
    JobDispatchRequest,
    JobDispatchResponse,
    JobRevertRequest,
    JobScaleRequest,
    JobScaleStatusResponse,
    JobStabilityRequest,
    JobStabilityResponse,
    JobSummaryResponse,
    JobVersionsRequest,
    JobVersionsResponse,
    PeriodicForceRequest,
    PeriodicForceResponse,
    ScaleStatus,
    TaskGroupScaleStatus,
)
from cluster import fsm
from cluster.errors import Conflict, InvalidInput, NotFound
from cluster.jobspec.diff import diff_jobs
from cluster.state import StateSnapshot
from cluster.state.records import ScalingEvent
from cluster.structs.constants import EvalStatus, EvalTrigger, JobType
from cluster.structs.evaluation import Evaluation
from cluster.structs.job import Job

if TYPE_CHECKING:
    from agents.server.agent import ServerAgent

__all__ = [
    "DeploymentListResponse",
    "JobDeregisterRequest",
    "JobDeregisterResponse",
    "JobDispatchRequest",
    "JobDispatchResponse",
    "JobListStub",
    "JobRevertRequest",
    "JobScaleRequest",
    "JobScaleStatusResponse",
    "JobStabilityRequest",
    "JobStabilityResponse",
    "JobSummaryResponse",
    "JobVersionsRequest",
    "JobVersionsResponse",
    "PeriodicForceRequest",
    "PeriodicForceResponse",
    "ScaleStatus",
    "SingleDeploymentResponse",
    "TaskGroupScaleStatus",
    "decode_payload",
    "dispatch_child_id",
    "job_list_page",
    "job_stub",
    "register",
]

R = TypeVar("R", bound=msgspec.Struct)
SECOND_NS = 1_000_000_000
DISPATCH_PAYLOAD_LIMIT_BYTES = 16 * 1024  # Nomad's limit on a dispatch payload

# The former names of the job list's messages (now ``Job.List``'s), kept for the dashboard's selectors
# (webui/ui, owned elsewhere), which still import them from here.


# ---- registration --------------------------------------------------------------------------------


def register(registry: Registry, agent: ServerAgent) -> None:
    """Adds the job endpoints of this module to ``registry``."""
    _writes(registry, agent)
    _dispatch_and_plan(registry, agent)
    _reads(registry, agent)


_WEB = {Role.SERVER, Role.WEB}


async def _forward_write(agent: ServerAgent, ctx: CallContext, args: Any, result_type: type[R]) -> R | None:
    """The leader's answer when this server does not lead (or the request names another region)."""
    return await agent.forwarder.forward(ctx, args, result_type, region=args.Region or None, to_leader=True)


async def _register(agent: ServerAgent, job: Job, trigger: str) -> tuple[Job, Evaluation | None]:
    """Commits ``job`` as a new version with its evaluation (none for periodic/parameterized templates)."""
    ev = None if no_eval(job) else job_eval(agent, job, trigger)
    stored = await agent.propose(fsm.JobRegister(Job=job, Eval=ev, SubmitTime=agent.now_ns()))
    assert isinstance(stored, Job)
    return stored, ev


def _register_answer(agent: ServerAgent, stored: Job, ev: Evaluation | None) -> JobRegisterResponse:
    created = agent.fsm.store.snapshot().eval_by_id(ev.ID) if ev is not None else None
    return JobRegisterResponse(
        EvalID=ev.ID if ev is not None else "", EvalCreateIndex=created.CreateIndex if created else 0,
        JobModifyIndex=stored.JobModifyIndex or 0, Index=stored.ModifyIndex or 0)


def _existing(snap: StateSnapshot, namespace: str, job_id: str) -> Job:
    job = snap.job_by_id(namespace, job_id)
    if job is None:
        raise NotFound(f'job "{job_id}" not found')
    return job


def _fresh_copy(job: Job) -> Job:
    """A stored job's specification to register again (server fields are set by the write)."""
    return msgspec.convert(msgspec.to_builtins(job), Job)


def _writes(registry: Registry, agent: ServerAgent) -> None:
    @registry.endpoint("Job.Deregister", roles=_WEB)
    async def job_deregister(ctx: CallContext, args: JobDeregisterRequest) -> JobDeregisterResponse:
        """Stops the job (an evaluation stops its allocations); ``Purge`` also removes it and its versions."""
        forwarded = await _forward_write(agent, ctx, args, JobDeregisterResponse)
        if forwarded is not None:
            return forwarded
        job = _existing(agent.fsm.store.snapshot(), args.Namespace, args.JobID)
        ev = None if no_eval(job) else job_eval(agent, job, EvalTrigger.JOB_DEREGISTER)
        stored = await agent.propose(fsm.JobDeregister(Namespace=args.Namespace, JobID=args.JobID,
                                                       Purge=args.Purge, Eval=ev, SubmitTime=agent.now_ns()))
        if args.Purge:
            await _purge_finished(agent, args.Namespace, args.JobID, keep_eval=ev.ID if ev else "")
        snap = agent.fsm.store.snapshot()
        created = snap.eval_by_id(ev.ID) if ev is not None else None
        modify = stored.JobModifyIndex or 0 if isinstance(stored, Job) else snap.latest_index()
        return JobDeregisterResponse(EvalID=ev.ID if ev else "", EvalCreateIndex=created.CreateIndex if created else 0,
                                     JobModifyIndex=modify, Index=snap.latest_index())

    @registry.endpoint("Job.Revert", roles=_WEB)
    async def job_revert(ctx: CallContext, args: JobRevertRequest) -> JobRegisterResponse:
        """Registers an older version again as the newest (Nomad's ``job revert``)."""
        forwarded = await _forward_write(agent, ctx, args, JobRegisterResponse)
        if forwarded is not None:
            return forwarded
        snap = agent.fsm.store.snapshot()
        current = _existing(snap, args.Namespace, args.JobID)
        if args.EnforcePriorVersion is not None and args.EnforcePriorVersion != current.Version:
            raise Conflict(f"current job has version {current.Version}; enforcing version "
                           f"{args.EnforcePriorVersion}")
        if args.JobVersion == current.Version:
            raise InvalidInput(f"can't revert to current version {args.JobVersion}")
        target = snap.job_by_id_and_version(args.Namespace, args.JobID, args.JobVersion)
        if target is None:
            raise NotFound(f'job "{args.JobID}" in namespace "{args.Namespace}" at version '
                           f"{args.JobVersion} not found")
        stored, ev = await _register(agent, _fresh_copy(target), EvalTrigger.JOB_REGISTER)
        return _register_answer(agent, stored, ev)

    @registry.endpoint("Job.Stable", roles=_WEB)
    async def job_stable(ctx: CallContext, args: JobStabilityRequest) -> JobStabilityResponse:
        forwarded = await _forward_write(agent, ctx, args, JobStabilityResponse)
        if forwarded is not None:
            return forwarded
        _existing(agent.fsm.store.snapshot(), args.Namespace, args.JobID)
        await agent.propose(fsm.JobStability(Namespace=args.Namespace, JobID=args.JobID,
                                             JobVersion=args.JobVersion, Stable=args.Stable))
        return JobStabilityResponse(Index=agent.fsm.store.latest_index())

    @registry.endpoint("Job.Scale", roles=_WEB)
    async def job_scale(ctx: CallContext, args: JobScaleRequest) -> JobRegisterResponse:
        """Sets one group's count as a new job version (an error report changes nothing)."""
        forwarded = await _forward_write(agent, ctx, args, JobRegisterResponse)
        if forwarded is not None:
            return forwarded
        job = _existing(agent.fsm.store.snapshot(), args.Namespace, args.JobID)
        scaled = _scaled(job, args)
        group = args.Target.get("Group", "")
        previous = next((g.Count or 0 for g in job.TaskGroups or [] if g.Name == group), 0)
        event = ScalingEvent(Time=agent.now_ns(), Count=args.Count if scaled is not None else None,
                             PreviousCount=previous, Message=args.Message, Error=args.Error, Meta=args.Meta)
        if scaled is None:  # a report (an autoscaler's error, say): kept as an event, nothing else changes
            await agent.propose(fsm.JobScalingEvent(Namespace=args.Namespace, JobID=args.JobID, TaskGroup=group,
                                                    ScalingEvent=event))
            return JobRegisterResponse(JobModifyIndex=job.JobModifyIndex or 0, Index=agent.fsm.store.latest_index())
        stored, ev = await _register(agent, scaled, EvalTrigger.SCALING)
        event = msgspec.structs.replace(event, EvalID=ev.ID if ev is not None else None)
        await agent.propose(fsm.JobScalingEvent(Namespace=args.Namespace, JobID=args.JobID, TaskGroup=group,
                                                ScalingEvent=event))
        return _register_answer(agent, stored, ev)


_FINISHED_EVAL = frozenset((EvalStatus.COMPLETE, EvalStatus.FAILED, EvalStatus.CANCELED))
_FINISHED_ALLOC = frozenset(("complete", "failed", "lost"))


async def _purge_finished(agent: ServerAgent, namespace: str, job_id: str, keep_eval: str) -> None:
    """A purged job's finished evaluations and allocations go at once; the ones still running are
    stopped by the deregister evaluation and collected later, so no client loses track of a task."""
    snap = agent.fsm.store.snapshot()
    evals = [e.ID for e in snap.evals_by_job(namespace, job_id) if e.Status in _FINISHED_EVAL and e.ID not in {keep_eval}]
    allocs = [a.ID for a in snap.allocs_by_job(namespace, job_id) if a.ClientStatus in _FINISHED_ALLOC]
    if evals or allocs:
        await agent.propose(fsm.EvalDelete(Evals=evals, Allocs=allocs or None))


def _scaled(job: Job, args: JobScaleRequest) -> Job | None:
    """The job with the group's new count; None when the request only reports (no count, or an error)."""
    group_name = args.Target.get("Group", "")
    if not group_name:
        raise InvalidInput("missing task group name in scaling target")
    groups = job.TaskGroups or []
    if not any(g.Name == group_name for g in groups):
        raise InvalidInput(f'task group "{group_name}" specified for scaling does not exist in job')
    if args.Count is None or args.Error:
        if args.Count is not None:
            raise InvalidInput("scaling action should not contain count if error is true")
        return None
    if args.Count < 0:
        raise InvalidInput("scaling action count can't be negative")
    if job.Type == JobType.SYSTEM:
        raise InvalidInput("cannot scale jobs of type system")
    if job.Stop:
        raise InvalidInput("job is stopped; register it again before scaling")
    copy = _fresh_copy(job)
    for group in copy.TaskGroups or []:
        if group.Name == group_name:
            policy = group.Scaling
            if policy is not None and policy.Enabled is not False:
                low, high = policy.Min, policy.Max
                if (low is not None and args.Count < low) or (high is not None and args.Count > high):
                    raise InvalidInput(f"group count was not within the scaling policy's range "
                                       f"[{low}, {high}]: {args.Count}")
            group.Count = args.Count
    return copy


def dispatch_child_id(parent_id: str, now_ns: int, unique_hex: str) -> str:
    """Nomad's name of a dispatched job: ``<parent>/dispatch-<unix seconds>-<8 hex>``."""
    return f"{parent_id}/dispatch-{now_ns // SECOND_NS}-{unique_hex[:8]}"


def _dispatched(parent: Job, args: JobDispatchRequest, child_id: str) -> Job:
    """The child job of a dispatch, its payload and meta checked against the parent's rules."""
    config = parent.ParameterizedJob
    if config is None:
        raise InvalidInput(f'specified job "{parent.ID}" is not a parameterized job')
    if parent.Stop:
        raise InvalidInput(f'specified job "{parent.ID}" is stopped')
    payload = args.Payload or b""
    rule = config.Payload or "optional"
    if rule == "forbidden" and payload:
        raise InvalidInput("payload is not allowed")
    if rule == "required" and not payload:
        raise InvalidInput("payload is required")
    if len(payload) > DISPATCH_PAYLOAD_LIMIT_BYTES:
        raise InvalidInput(f"payload exceeds maximum size; {len(payload)} > {DISPATCH_PAYLOAD_LIMIT_BYTES}")
    meta = args.Meta or {}
    required, optional = set(config.MetaRequired or ()), set(config.MetaOptional or ())
    missing = sorted(required - set(meta))
    if missing:
        raise InvalidInput(f"dispatch did not provide required meta keys: {missing}")
    unknown = sorted(set(meta) - required - optional)
    if unknown:
        raise InvalidInput(f"dispatch has unpermitted meta keys: {unknown}")
    child = _fresh_copy(parent)
    child.ID = child_id
    child.ParentID = parent.ID
    child.Dispatched = True
    child.Payload = payload or None
    child.DispatchIdempotencyToken = args.IdempotencyToken or None
    child.Meta = {**(parent.Meta or {}), **meta} or None
    child.Status = child.StatusDescription = None
    return child


def _dispatch_and_plan(registry: Registry, agent: ServerAgent) -> None:
    @registry.endpoint("Job.Dispatch", roles=_WEB)
    async def job_dispatch(ctx: CallContext, args: JobDispatchRequest) -> JobDispatchResponse:
        """Launches a child of a parameterized job with a payload and meta (``nomad job dispatch``)."""
        forwarded = await _forward_write(agent, ctx, args, JobDispatchResponse)
        if forwarded is not None:
            return forwarded
        snap = agent.fsm.store.snapshot()
        parent = _existing(snap, args.Namespace, args.JobID)
        if args.IdempotencyToken:
            earlier = _earlier_dispatch(snap, parent, args.IdempotencyToken)
            if earlier is not None:
                return JobDispatchResponse(DispatchedJobID=earlier.ID or "", JobCreateIndex=earlier.CreateIndex or 0,
                                           Index=snap.latest_index())
        child = _dispatched(parent, args, dispatch_child_id(parent.ID or "", agent.now_ns(),
                                                            agent.new_id().replace("-", "")))
        stored, ev = await _register(agent, child, EvalTrigger.JOB_REGISTER)
        answer = _register_answer(agent, stored, ev)
        return JobDispatchResponse(DispatchedJobID=stored.ID or "", EvalID=answer.EvalID,
                                   EvalCreateIndex=answer.EvalCreateIndex, JobCreateIndex=stored.CreateIndex or 0,
                                   Index=answer.Index)

    @registry.endpoint("Job.Plan", roles=_WEB)
    async def job_plan_endpoint(ctx: CallContext, args: job_plan.JobPlanRequest) -> job_plan.JobPlanResponse:
        forwarded = await _forward_write(agent, ctx, args, job_plan.JobPlanResponse)
        if forwarded is not None:
            return forwarded
        return job_plan.plan_job(agent.fsm.store.snapshot(), args, region=agent.region, now_ns=agent.now_ns(),
                                 new_id=agent.new_id)

    @registry.endpoint("Periodic.Force", roles=_WEB)
    async def periodic_force(ctx: CallContext, args: PeriodicForceRequest) -> PeriodicForceResponse:
        """Launches a periodic job now, whatever its schedule (``nomad job periodic force``)."""
        forwarded = await _forward_write(agent, ctx, args, PeriodicForceResponse)
        if forwarded is not None:
            return forwarded
        _, eval_id = await periodic.force_launch(agent, args.Namespace, args.JobID)
        snap = agent.fsm.store.snapshot()
        created = snap.eval_by_id(eval_id) if eval_id else None
        return PeriodicForceResponse(EvalID=eval_id, EvalCreateIndex=created.CreateIndex if created else 0,
                                     Index=snap.latest_index())


def _earlier_dispatch(snap: StateSnapshot, parent: Job, token: str) -> Job | None:
    """A live child of ``parent`` dispatched with the same idempotency token: dispatching again returns it."""
    namespace = parent.Namespace or "default"
    for job in snap.jobs(namespace):
        if job.ParentID == parent.ID and job.DispatchIdempotencyToken == token and job.Status != "dead":
            return job
    return None


def _reads(registry: Registry, agent: ServerAgent) -> None:
    @registry.endpoint("Job.GetJobVersions", roles=_WEB)
    async def job_versions(ctx: CallContext, args: JobVersionsRequest) -> JobVersionsResponse:
        forwarded = await forwarded_read(agent, ctx, args, JobVersionsResponse)
        if forwarded is not None:
            return forwarded
        snap, index = await read(agent, ctx, args, lambda s: job_index(s, args.Namespace, args.JobID))
        versions = snap.job_versions(args.Namespace, args.JobID)
        diffs = None
        if args.Diffs:
            diffs = [diff_jobs(older, newer) for newer, older in itertools.pairwise(versions)]
        return JobVersionsResponse(Versions=versions, Diffs=diffs, Index=index)

    @registry.endpoint("Job.ScaleStatus", roles=_WEB)
    async def job_scale_status(ctx: CallContext, args: JobSpecificRequest) -> JobScaleStatusResponse:
        forwarded = await forwarded_read(agent, ctx, args, JobScaleStatusResponse)
        if forwarded is not None:
            return forwarded
        key = (args.Namespace, args.JobID)
        snap, index = await read(agent, ctx, args, lambda s: max(job_index(s, *key),
                                                                  s.group_index("allocs_by_job", key),
                                                                  s.table_index("scaling_events")))
        job = snap.job_by_id(args.Namespace, args.JobID)
        status = _scale_status(snap, job) if job is not None else None
        return JobScaleStatusResponse(JobScaleStatus=status, Index=index)

    @registry.endpoint("Job.Summary", roles=_WEB)
    async def job_summary(ctx: CallContext, args: JobSpecificRequest) -> JobSummaryResponse:
        forwarded = await forwarded_read(agent, ctx, args, JobSummaryResponse)
        if forwarded is not None:
            return forwarded
        snap, index = await read(agent, ctx, args, lambda s: _summary_index(s, args.Namespace, args.JobID))
        return JobSummaryResponse(JobSummary=snap.job_summary(args.Namespace, args.JobID), Index=index)

    @registry.endpoint("Job.Deployments", roles=_WEB)
    async def job_deployments(ctx: CallContext, args: JobSpecificRequest) -> DeploymentListResponse:
        forwarded = await forwarded_read(agent, ctx, args, DeploymentListResponse)
        if forwarded is not None:
            return forwarded
        snap, index = await read(agent, ctx, args, lambda s: s.table_index("deployments"))
        found = snap.deployments_by_job(args.Namespace, args.JobID)
        return DeploymentListResponse(Deployments=sorted(found, key=lambda d: -d.CreateIndex), Index=index)

    @registry.endpoint("Job.LatestDeployment", roles=_WEB)
    async def job_latest_deployment(ctx: CallContext, args: JobSpecificRequest) -> SingleDeploymentResponse:
        forwarded = await forwarded_read(agent, ctx, args, SingleDeploymentResponse)
        if forwarded is not None:
            return forwarded
        snap, index = await read(agent, ctx, args, lambda s: s.table_index("deployments"))
        return SingleDeploymentResponse(Deployment=snap.latest_deployment_by_job(args.Namespace, args.JobID),
                                        Index=index)


def _summary_index(snap: StateSnapshot, namespace: str, job_id: str) -> int:
    summary = snap.job_summary(namespace, job_id)
    return summary.ModifyIndex if summary is not None else snap.table_index("job_summary")


def _scale_status(snap: StateSnapshot, job: Job) -> ScaleStatus:
    groups: dict[str, TaskGroupScaleStatus] = {
        g.Name or "": TaskGroupScaleStatus(Desired=g.Count or 0, Placed=0, Running=0, Healthy=0, Unhealthy=0)
        for g in job.TaskGroups or []}
    for alloc in snap.allocs_by_job(job.Namespace or "default", job.ID or ""):
        counts = groups.get(alloc.TaskGroup)
        if counts is None or alloc.DesiredStatus != "run" or alloc.ClientStatus in ("complete", "failed", "lost"):
            continue
        counts.Placed += 1
        counts.Running += alloc.ClientStatus == "running"
        health = alloc.DeploymentStatus.Healthy if alloc.DeploymentStatus is not None else None
        counts.Healthy += health is True
        counts.Unhealthy += health is False
    recorded = snap.scaling_events(job.Namespace or "default", job.ID or "")
    for name, events in (recorded.ScalingEvents if recorded is not None else {}).items():
        if name in groups:
            groups[name].Events = [msgspec.to_builtins(e) for e in events]
    return ScaleStatus(JobID=job.ID or "", Namespace=job.Namespace or "", JobCreateIndex=job.CreateIndex or 0,
                       JobModifyIndex=job.JobModifyIndex or 0, JobStopped=bool(job.Stop), TaskGroups=groups)


def decode_payload(text: str | None) -> bytes | None:
    """A dispatch payload as the HTTP API sends it (base64); InvalidInput when it is not base64."""
    if not text:
        return None
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise InvalidInput("Payload: expected base64") from None
