"""Deployment RPC endpoints: list, read and allocations (blocking reads), and the operator's writes
(promote, fail, pause and resume, unblock, set allocation health), as Nomad's ``Deployment.*``.

Writes run on the leader (a follower forwards them) and answer Nomad's ``DeploymentUpdateResponse``:
the evaluation that carries the deployment on, the deployment's new modify index and, when failing it
reverted the job, the stable version it went back to. A write the deployment's state forbids (promoting
unhealthy canaries, pausing a finished deployment) is refused with ``Conflict`` and changes nothing.
ACL is the web application's business: writes come only from the web role or a forwarding server.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import msgspec

from agents.rpc import CallContext, Registry, Role
from agents.server.endpoints_reads import forwarded_read, read
from agents.server.listing import alloc_stubs, page
from agents.server.messages import AllocListResponse, Query
from cluster import fsm
from cluster.deployments.descriptions import DeploymentDescription
from cluster.deployments.watcher import latest_stable_job
from cluster.errors import Conflict, InvalidInput, NotFound
from cluster.filter import filter_items
from cluster.state import StateSnapshot
from cluster.state.requests import DeploymentStatusUpdate
from cluster.state.snapshot import ACTIVE_DEPLOYMENT_STATUSES
from cluster.state.write_jobs import spec_changed
from cluster.structs.constants import DeploymentStatus, EvalStatus, EvalTrigger, JobType
from cluster.structs.deployment import Deployment
from cluster.structs.evaluation import Evaluation
from cluster.structs.job import Job

if TYPE_CHECKING:
    from agents.server.agent import ServerAgent

__all__ = [
    "DeploymentAllocHealthRequest", "DeploymentFailRequest", "DeploymentListRequest", "DeploymentListResponse",
    "DeploymentPauseRequest", "DeploymentPromoteRequest", "DeploymentSpecificRequest", "DeploymentUnblockRequest",
    "DeploymentUpdateResponse", "SingleDeploymentResponse", "register",
]



# ---- messages -----------------------------------------------------------------------------------


class DeploymentListRequest(Query, kw_only=True):
    Namespace: str = "default"  # "*": every namespace
    Prefix: str = ""
    PerPage: int = 0  # 0: everything
    NextToken: str = ""
    Filter: str = ""  # a filter expression (go-bexpr, as Nomad's ?filter=)


class DeploymentListResponse(msgspec.Struct, kw_only=True):
    Deployments: list[Deployment]
    NextToken: str = ""
    Index: int = 0


class DeploymentSpecificRequest(Query, kw_only=True):
    DeploymentID: str


class SingleDeploymentResponse(msgspec.Struct, kw_only=True):
    Deployment: Deployment | None = None
    Index: int = 0


class DeploymentPromoteRequest(msgspec.Struct, kw_only=True):
    DeploymentID: str
    All: bool = False
    Groups: list[str] | None = None
    Region: str = ""


class DeploymentFailRequest(msgspec.Struct, kw_only=True):
    DeploymentID: str
    Region: str = ""


class DeploymentPauseRequest(msgspec.Struct, kw_only=True):
    DeploymentID: str
    Pause: bool
    Region: str = ""


class DeploymentUnblockRequest(msgspec.Struct, kw_only=True):
    DeploymentID: str
    Region: str = ""


class DeploymentAllocHealthRequest(msgspec.Struct, kw_only=True):
    DeploymentID: str
    HealthyAllocationIDs: list[str] | None = None
    UnhealthyAllocationIDs: list[str] | None = None
    Region: str = ""


class DeploymentUpdateResponse(msgspec.Struct, kw_only=True):
    EvalID: str = ""
    EvalCreateIndex: int = 0
    DeploymentModifyIndex: int = 0
    RevertedJobVersion: int | None = None
    Index: int = 0


def _deployment_key(d: Deployment) -> tuple[int, str]:
    return d.CreateIndex, d.ID


# ---- handlers ------------------------------------------------------------------------------------


def register(registry: Registry, agent: ServerAgent) -> None:
    """Adds the deployment endpoints to ``registry``; the handlers close over ``agent``."""
    _reads(registry, agent)
    _writes(registry, agent)


def _deployment_index(snap: StateSnapshot, deployment_id: str) -> int:
    d = snap.deployment_by_id(deployment_id)
    return d.ModifyIndex if d is not None else snap.table_index("deployments")


def _reads(registry: Registry, agent: ServerAgent) -> None:
    @registry.endpoint("Deployment.List", roles={Role.SERVER, Role.WEB})
    async def deployment_list(ctx: CallContext, args: DeploymentListRequest) -> DeploymentListResponse:
        forwarded = await forwarded_read(agent, ctx, args, DeploymentListResponse)
        if forwarded is not None:
            return forwarded
        snap, index = await read(agent, ctx, args, lambda s: s.table_index("deployments"))
        found = filter_items((d for d in snap.deployments()
                              if args.Namespace in ("*", d.Namespace) and d.ID.startswith(args.Prefix)), args.Filter)
        listed, token = page(found, _deployment_key, args.PerPage, args.NextToken)
        return DeploymentListResponse(Deployments=listed, NextToken=token, Index=index)

    @registry.endpoint("Deployment.GetDeployment", roles={Role.SERVER, Role.WEB})
    async def deployment_get(ctx: CallContext, args: DeploymentSpecificRequest) -> SingleDeploymentResponse:
        forwarded = await forwarded_read(agent, ctx, args, SingleDeploymentResponse)
        if forwarded is not None:
            return forwarded
        snap, index = await read(agent, ctx, args, lambda s: _deployment_index(s, args.DeploymentID))
        return SingleDeploymentResponse(Deployment=snap.deployment_by_id(args.DeploymentID), Index=index)

    @registry.endpoint("Deployment.Allocations", roles={Role.SERVER, Role.WEB})
    async def deployment_allocations(ctx: CallContext, args: DeploymentSpecificRequest) -> AllocListResponse:
        forwarded = await forwarded_read(agent, ctx, args, AllocListResponse)
        if forwarded is not None:
            return forwarded
        snap, index = await read(agent, ctx, args, lambda s: s.table_index("allocs"))
        return AllocListResponse(Allocations=alloc_stubs(snap.allocs_by_deployment(args.DeploymentID)), Index=index)


class _Target(msgspec.Struct, kw_only=True):
    """A deployment about to be changed, with its job (for the evaluation and any revert)."""

    deployment: Deployment
    job: Job


def _active(snap: StateSnapshot, deployment_id: str, verb: str) -> _Target:
    """The deployment if it may still be changed; Nomad's "can't <verb> terminal deployment" otherwise."""
    d = snap.deployment_by_id(deployment_id)
    if d is None:
        raise NotFound(f'deployment "{deployment_id}" not found')
    if d.Status not in ACTIVE_DEPLOYMENT_STATUSES:
        raise Conflict(f"can't {verb} terminal deployment (it is {d.Status})")
    job = snap.job_by_id(d.Namespace, d.JobID)
    if job is None:
        raise NotFound(f'job "{d.JobID}" of deployment "{deployment_id}" not found')
    return _Target(deployment=d, job=job)


def _eval(agent: ServerAgent, target: _Target, now_ns: int) -> Evaluation:
    """The evaluation that lets the scheduler carry the deployment on (Nomad's deployment-watcher eval)."""
    d, job = target.deployment, target.job
    return Evaluation(ID=agent.new_id(), Namespace=d.Namespace, Priority=d.EvalPriority or job.Priority or 50,
                      Type=job.Type or JobType.SERVICE, TriggeredBy=EvalTrigger.DEPLOYMENT_WATCHER, JobID=d.JobID,
                      DeploymentID=d.ID, Status=EvalStatus.PENDING, CreateTime=now_ns, ModifyTime=now_ns)


def _revert(snap: StateSnapshot, target: _Target, description: str) -> tuple[Job | None, str, int | None]:
    """(the job to register to roll back, the failed description, the version rolled back to) for a
    deployment that fails: only groups with ``auto_revert`` roll back, to the newest stable version
    whose specification differs (the same rule as the deployment watcher)."""
    groups = target.deployment.TaskGroups or {}
    if not any(state.AutoRevert for state in groups.values()):
        return None, description, None
    stable = latest_stable_job(snap, target.job)
    if stable is None:
        return None, description, None
    if not spec_changed(stable, target.job):
        return None, DeploymentDescription.no_rollback_target(description, stable.Version or 0), None
    job = msgspec.structs.replace(stable, Stable=None)
    return job, DeploymentDescription.rollback(description, stable.Version or 0), stable.Version or 0


def _running_description(d: Deployment) -> str:
    """What a running deployment says: whether it waits for a (manual or automatic) promotion."""
    waiting = [s for s in (d.TaskGroups or {}).values() if s.DesiredCanaries > 0 and not s.Promoted]
    if not waiting:
        return DeploymentDescription.RUNNING
    if all(s.AutoPromote for s in waiting):
        return DeploymentDescription.RUNNING_AUTO_PROMOTION
    return DeploymentDescription.RUNNING_NEEDS_PROMOTION


def _answer(agent: ServerAgent, deployment_id: str, ev: Evaluation | None,
            reverted: int | None = None) -> DeploymentUpdateResponse:
    snap = agent.fsm.store.snapshot()
    d = snap.deployment_by_id(deployment_id)
    created = snap.eval_by_id(ev.ID) if ev is not None else None
    return DeploymentUpdateResponse(
        EvalID=ev.ID if ev is not None else "", EvalCreateIndex=created.CreateIndex if created else 0,
        DeploymentModifyIndex=d.ModifyIndex if d is not None else 0, RevertedJobVersion=reverted,
        Index=snap.latest_index())


def _writes(registry: Registry, agent: ServerAgent) -> None:
    writers = {Role.SERVER, Role.WEB}

    async def forwarded(ctx: CallContext, args: msgspec.Struct, region: str) -> DeploymentUpdateResponse | None:
        return await agent.forwarder.forward(ctx, args, DeploymentUpdateResponse, region=region or None,
                                             to_leader=True)

    @registry.endpoint("Deployment.Promote", roles=writers)
    async def promote(ctx: CallContext, args: DeploymentPromoteRequest) -> DeploymentUpdateResponse:
        """Promotes the canaries of every group (``All``) or of the named ones, once they are healthy."""
        if (answer := await forwarded(ctx, args, args.Region)) is not None:
            return answer
        if not args.All and not args.Groups:
            raise InvalidInput("promote: set All, or name the Groups to promote")
        target = _active(agent.fsm.store.snapshot(), args.DeploymentID, "promote")
        ev = _eval(agent, target, agent.now_ns())
        await agent.propose(fsm.DeploymentPromote(DeploymentID=args.DeploymentID, All=args.All,
                                                  Groups=args.Groups, Eval=ev))
        return _answer(agent, args.DeploymentID, ev)

    @registry.endpoint("Deployment.Fail", roles=writers)
    async def fail(ctx: CallContext, args: DeploymentFailRequest) -> DeploymentUpdateResponse:
        """Marks the deployment failed; groups with ``auto_revert`` roll the job back to its last stable
        version."""
        if (answer := await forwarded(ctx, args, args.Region)) is not None:
            return answer
        snap = agent.fsm.store.snapshot()
        target = _active(snap, args.DeploymentID, "fail")
        now_ns = agent.now_ns()
        job, description, reverted = _revert(snap, target, DeploymentDescription.FAILED_BY_USER)
        update = DeploymentStatusUpdate(DeploymentID=args.DeploymentID, Status=DeploymentStatus.FAILED,
                                        StatusDescription=description)
        ev = _eval(agent, target, now_ns)
        await agent.propose(fsm.DeploymentStatusUpdateRequest(DeploymentUpdate=update, Job=job, Eval=ev,
                                                              SubmitTime=now_ns))
        return _answer(agent, args.DeploymentID, ev, reverted)

    @registry.endpoint("Deployment.Pause", roles=writers)
    async def pause(ctx: CallContext, args: DeploymentPauseRequest) -> DeploymentUpdateResponse:
        """Pauses a rollout, or resumes it with an evaluation that places what it was waiting for."""
        if (answer := await forwarded(ctx, args, args.Region)) is not None:
            return answer
        target = _active(agent.fsm.store.snapshot(), args.DeploymentID, "pause" if args.Pause else "resume")
        if args.Pause:
            status, description, ev = DeploymentStatus.PAUSED, DeploymentDescription.PAUSED, None
        else:
            status, description = DeploymentStatus.RUNNING, _running_description(target.deployment)
            ev = _eval(agent, target, agent.now_ns())
        update = DeploymentStatusUpdate(DeploymentID=args.DeploymentID, Status=status, StatusDescription=description,
                                        UpdatedAt=agent.now_ns())
        await agent.propose(fsm.DeploymentStatusUpdateRequest(DeploymentUpdate=update, Eval=ev))
        return _answer(agent, args.DeploymentID, ev)

    @registry.endpoint("Deployment.Unblock", roles=writers)
    async def unblock(ctx: CallContext, args: DeploymentUnblockRequest) -> DeploymentUpdateResponse:
        """Completes a multi-region deployment that waits for its peer regions (``nomad deployment
        unblock``, for when a peer region is lost)."""
        if (answer := await forwarded(ctx, args, args.Region)) is not None:
            return answer
        target = _active(agent.fsm.store.snapshot(), args.DeploymentID, "unblock")
        d = target.deployment
        if not d.IsMultiregion:
            raise InvalidInput(f'deployment "{d.ID}" is not multiregion: only those can be unblocked')
        if d.Status != DeploymentStatus.BLOCKED:
            raise Conflict(f'deployment "{d.ID}" is {d.Status}: only a blocked deployment can be unblocked')
        update = DeploymentStatusUpdate(DeploymentID=d.ID, Status=DeploymentStatus.SUCCESSFUL,
                                        StatusDescription=DeploymentDescription.SUCCESSFUL)
        ev = _eval(agent, target, agent.now_ns())
        await agent.propose(fsm.DeploymentStatusUpdateRequest(DeploymentUpdate=update, Eval=ev))
        return _answer(agent, d.ID, ev)

    @registry.endpoint("Deployment.SetAllocHealth", roles=writers)
    async def set_alloc_health(ctx: CallContext, args: DeploymentAllocHealthRequest) -> DeploymentUpdateResponse:
        """Records health an operator decided (``health_check = "manual"``); an unhealthy allocation
        fails the deployment (and reverts, with ``auto_revert``). The evaluation continues the rollout."""
        if (answer := await forwarded(ctx, args, args.Region)) is not None:
            return answer
        healthy, unhealthy = args.HealthyAllocationIDs or [], args.UnhealthyAllocationIDs or []
        if not healthy and not unhealthy:
            raise InvalidInput("allocation health: name at least one healthy or unhealthy allocation")
        both = set(healthy) & set(unhealthy)
        if both:
            raise InvalidInput(f"allocation {sorted(both)[0]} is listed as both healthy and unhealthy")
        snap = agent.fsm.store.snapshot()
        target = _active(snap, args.DeploymentID, "set health of allocations of")
        now_ns = agent.now_ns()
        update, job, reverted = None, None, None
        if unhealthy:
            job, description, reverted = _revert(snap, target, DeploymentDescription.FAILED_ALLOCATIONS)
            update = DeploymentStatusUpdate(DeploymentID=args.DeploymentID, Status=DeploymentStatus.FAILED,
                                            StatusDescription=description)
        ev = _eval(agent, target, now_ns)
        await agent.propose(fsm.DeploymentAllocHealth(
            DeploymentID=args.DeploymentID, HealthyAllocationIDs=healthy, UnhealthyAllocationIDs=unhealthy,
            Timestamp=_timestamp(now_ns), DeploymentUpdate=update, Job=job, Eval=ev, SubmitTime=now_ns))
        return _answer(agent, args.DeploymentID, ev, reverted)


def _timestamp(now_ns: int) -> datetime:
    return datetime.fromtimestamp(now_ns / 1e9, tz=UTC)
