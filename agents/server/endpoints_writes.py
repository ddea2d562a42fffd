"""The core writes (Nomad's RPC names): job register, node register and status, allocation updates from
clients; and the job checks the other job writes share (``checked_job``, ``no_eval``).

Writes run on the leader: a follower forwards them with the ``Forwarder``, and a forwarded request
arrives with the server role, so every write allows it. ``Job.Register`` comes from the web application
(which checked the caller's ACL); the node and allocation writes come from client agents.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Hashable
from typing import TYPE_CHECKING

import msgspec

from agents.rpc import CallContext, Registry, Role
from agents.server.messages import (
    AllocUpdateRequest,
    GenericResponse,
    JobRegisterRequest,
    JobRegisterResponse,
    NodeRegisterRequest,
    NodeUpdateResponse,
    NodeUpdateStatusRequest,
)
from cluster import fsm
from cluster.errors import Conflict, InvalidInput, JobSpecError, NotFound
from cluster.scheduler import node_reconnect_evals
from cluster.state import StateSnapshot
from cluster.state.write_allocs import AllocClientUpdate
from cluster.structs.canonicalize import canonicalize
from cluster.structs.constants import EvalStatus, EvalTrigger, JobType, NodeStatus
from cluster.structs.evaluation import Evaluation
from cluster.structs.job import Job
from cluster.structs.node import Node
from cluster.structs.validate import validate_job

if TYPE_CHECKING:
    from agents.server.agent import ServerAgent

__all__ = ["ENFORCE_INDEX_PREFIX", "KeyedLocks", "check_job_index", "checked_job", "job_eval", "no_eval", "register"]

SECOND_NS = 1_000_000_000
ENFORCE_INDEX_PREFIX = "Enforcing job modify index"  # Nomad's words, which its CLI users know
_NODE_STATUSES = (NodeStatus.INIT, NodeStatus.READY, NodeStatus.DOWN, NodeStatus.DISCONNECTED)


def checked_job(job: Job, region: str) -> Job:
    """The job as it will be stored: Nomad's defaults filled in, every problem reported at once."""
    if not job.Region:
        job = msgspec.structs.replace(job, Region=region)  # Nomad fills the region of the server asked
    problems = validate_job(job)
    if problems:
        raise JobSpecError(problems)
    job = canonicalize(job)
    if job.Region and job.Region != region:
        raise InvalidInput(f'job region "{job.Region}" is not this cluster\'s region "{region}"')
    return job


def no_eval(job: Job) -> bool:
    """Periodic and parameterized jobs are templates: their launches get evaluations, not the job."""
    periodic = job.Periodic is not None and bool(job.Periodic.Enabled)
    return periodic or (job.ParameterizedJob is not None and not job.Dispatched)


def check_job_index(existing: Job | None, job_modify_index: int) -> None:
    """Nomad's check-index: 0 means the job must not exist, N that its JobModifyIndex is N."""
    if existing is None:
        if job_modify_index != 0:
            raise Conflict(f"{ENFORCE_INDEX_PREFIX} {job_modify_index}: job does not exist")
        return
    current = existing.JobModifyIndex or 0
    if job_modify_index == 0:
        raise Conflict(f"{ENFORCE_INDEX_PREFIX} 0: job already exists")
    if job_modify_index != current:
        raise Conflict(f"{ENFORCE_INDEX_PREFIX} {job_modify_index}: job exists with conflicting job modify "
                       f"index: {current}")


class KeyedLocks:
    """One asyncio lock per key, kept only while someone holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


def register(registry: Registry, agent: ServerAgent) -> None:
    """Adds the core writes to ``registry``; the handlers close over ``agent``."""
    _job_register(registry, agent)
    _node_writes(registry, agent)
    _alloc_updates(registry, agent)


def _job_register(registry: Registry, agent: ServerAgent) -> None:
    # A job's registers are serialized on the leader, so a check-index holds until its write commits.
    job_locks = KeyedLocks()

    @registry.endpoint("Job.Register", roles={Role.SERVER, Role.WEB})
    async def job_register(ctx: CallContext, args: JobRegisterRequest) -> JobRegisterResponse:
        region = args.Region or args.Job.Region or None
        forwarded = await agent.forwarder.forward(ctx, args, JobRegisterResponse, region=region, to_leader=True)
        if forwarded is not None:
            return forwarded
        job = checked_job(args.Job, agent.region)
        async with job_locks.hold((job.Namespace or "default", job.ID or "")):
            if args.EnforceIndex:
                check_job_index(agent.fsm.store.snapshot().job_by_id(job.Namespace or "default", job.ID or ""),
                                args.JobModifyIndex)
            return await _register_job(agent, job)


def job_eval(agent: ServerAgent, job: Job, trigger: str) -> Evaluation:
    """A pending evaluation of ``job``, triggered by ``trigger``: what every job write hands the scheduler."""
    now_ns = agent.now_ns()
    return Evaluation(
        ID=agent.new_id(), Namespace=job.Namespace or "default", Priority=job.Priority or 50,
        Type=job.Type or JobType.SERVICE, TriggeredBy=trigger, JobID=job.ID or "", Status=EvalStatus.PENDING,
        CreateTime=now_ns, ModifyTime=now_ns)


async def _register_job(agent: ServerAgent, job: Job) -> JobRegisterResponse:
    ev = None if no_eval(job) else job_eval(agent, job, EvalTrigger.JOB_REGISTER)
    stored = await agent.propose(fsm.JobRegister(Job=job, Eval=ev, SubmitTime=agent.now_ns()))
    assert isinstance(stored, Job)
    created = agent.fsm.store.snapshot().eval_by_id(ev.ID) if ev is not None else None
    return JobRegisterResponse(
        EvalID=ev.ID if ev is not None else "", EvalCreateIndex=created.CreateIndex if created else 0,
        JobModifyIndex=stored.JobModifyIndex or 0, Index=stored.ModifyIndex or 0)


def _node_writes(registry: Registry, agent: ServerAgent) -> None:
    @registry.endpoint("Node.Register", roles={Role.CLIENT, Role.SERVER})
    async def node_register(ctx: CallContext, args: NodeRegisterRequest) -> NodeUpdateResponse:
        forwarded = await agent.forwarder.forward(ctx, args, NodeUpdateResponse, region=args.Region or None,
                                                  to_leader=True)
        if forwarded is not None:
            return forwarded
        agent.check_leading()
        node = _checked_node(args.Node)
        now_ns = agent.now_ns()
        node.StatusUpdatedAt = now_ns // SECOND_NS
        snap = agent.fsm.store.snapshot()
        existing = snap.node_by_id(node.ID)
        became_ready = node.Status == NodeStatus.READY and (existing is None or existing.Status != NodeStatus.READY)
        evals = _system_evals(agent, snap, node.ID, now_ns) if became_ready else []
        await agent.propose(fsm.NodeRegister(Node=node, Evals=evals or None))
        return _node_answer(agent, node.ID, evals)

    @registry.endpoint("Node.UpdateStatus", roles={Role.CLIENT, Role.SERVER})
    async def node_update_status(ctx: CallContext, args: NodeUpdateStatusRequest) -> NodeUpdateResponse:
        """A client's heartbeat: resets its TTL; writes to Raft only when the status changes."""
        forwarded = await agent.forwarder.forward(ctx, args, NodeUpdateResponse, region=args.Region or None,
                                                  to_leader=True)
        if forwarded is not None:
            return forwarded
        agent.check_leading()
        if args.Status not in _NODE_STATUSES:
            raise InvalidInput(f'unknown node status "{args.Status}"; use one of {", ".join(_NODE_STATUSES)}')
        snap = agent.fsm.store.snapshot()
        node = snap.node_by_id(args.NodeID)
        if node is None:
            raise NotFound(f'node "{args.NodeID}" is not registered')
        evals: list[Evaluation] = []
        if node.Status != args.Status:
            now_ns = agent.now_ns()
            if args.Status == NodeStatus.READY:
                evals = _system_evals(agent, snap, args.NodeID, now_ns)
                if node.Status == NodeStatus.DISCONNECTED:
                    # Back within its disconnect window: its ``unknown`` allocations are reconciled (kept,
                    # their replacements stopped) by one evaluation per job, as Nomad does on reconnect.
                    known = {(e.Namespace, e.JobID) for e in evals}
                    evals += [e for e in node_reconnect_evals(snap, args.NodeID, now_ns, agent.new_id)
                              if (e.Namespace, e.JobID) not in known]
            await agent.propose(fsm.NodeUpdateStatus(NodeID=args.NodeID, Status=args.Status,
                                                     UpdatedAt=now_ns // SECOND_NS, Evals=evals or None))
        return _node_answer(agent, args.NodeID, evals)


def _checked_node(node: Node) -> Node:
    if not node.ID:
        raise InvalidInput("node: ID is required")
    if not node.Datacenter:
        raise InvalidInput("node: Datacenter is required")
    if not node.Name:
        raise InvalidInput("node: Name is required")
    if not node.Status:
        node.Status = NodeStatus.INIT
    if node.Status not in _NODE_STATUSES:
        raise InvalidInput(f'node: unknown status "{node.Status}"')
    if not node.SchedulingEligibility:
        node.SchedulingEligibility = "eligible"
    return node


def _system_evals(agent: ServerAgent, snap: StateSnapshot, node_id: str, now_ns: int) -> list[Evaluation]:
    """A node that becomes ready may run every system job: one evaluation each (Nomad's node evals)."""
    return [
        Evaluation(ID=agent.new_id(), Namespace=job.Namespace or "default", Priority=job.Priority or 50,
                   Type=job.Type or JobType.SYSTEM, TriggeredBy=EvalTrigger.NODE_UPDATE, JobID=job.ID or "",
                   NodeID=node_id, Status=EvalStatus.PENDING, CreateTime=now_ns, ModifyTime=now_ns)
        for job in snap.jobs()
        if job.Type in (JobType.SYSTEM, JobType.SYSBATCH) and not job.Stop
    ]


def _node_answer(agent: ServerAgent, node_id: str, evals: list[Evaluation]) -> NodeUpdateResponse:
    ttl_ns = agent.heartbeat(node_id)
    snap = agent.fsm.store.snapshot()
    node = snap.node_by_id(node_id)
    return NodeUpdateResponse(
        HeartbeatTTL=ttl_ns, EvalIDs=[e.ID for e in evals], NodeModifyIndex=node.ModifyIndex if node else 0,
        Index=snap.latest_index(), LeaderRPCAddr=agent.leader_rpc() or "", Servers=agent.server_rpc_addrs())


def _alloc_updates(registry: Registry, agent: ServerAgent) -> None:
    @registry.endpoint("Alloc.UpdateFromClient", roles={Role.CLIENT, Role.SERVER})
    async def alloc_update(ctx: CallContext, args: AllocUpdateRequest) -> GenericResponse:
        forwarded = await agent.forwarder.forward(ctx, args, GenericResponse, region=args.Region or None,
                                                  to_leader=True)
        if forwarded is not None:
            return forwarded
        if not args.Alloc:
            raise InvalidInput("Alloc.UpdateFromClient: no allocations to update")
        now_ns = agent.now_ns()
        evals = _update_evals(agent, agent.fsm.store.snapshot(), args.Alloc, now_ns)
        await agent.propose(fsm.AllocClientUpdateRequest(Allocs=args.Alloc, Evals=evals or None, UpdatedAt=now_ns))
        return GenericResponse(Index=agent.fsm.store.latest_index())


def _update_evals(agent: ServerAgent, snap: StateSnapshot, updates: list[AllocClientUpdate],
                  now_ns: int) -> list[Evaluation]:
    """An evaluation per job with a newly failed allocation (its reschedule policy applies), or with an
    ``unknown`` allocation its client reports running again (the reconnect: keep it, stop its
    replacement), as Nomad's ``Node.UpdateAlloc`` creates them."""
    jobs: dict[tuple[str, str], Evaluation] = {}
    for update in updates:
        alloc = snap.alloc_by_id(update.ID)
        if alloc is None or alloc.Job is None:
            continue
        if update.ClientStatus == "failed" and alloc.ClientStatus != "failed":
            trigger = EvalTrigger.RETRY_FAILED_ALLOC
        elif update.ClientStatus == "running" and alloc.ClientStatus == "unknown":
            trigger = EvalTrigger.RECONNECT
        else:
            continue
        key = (alloc.Namespace, alloc.JobID)
        if key not in jobs:
            jobs[key] = Evaluation(
                ID=agent.new_id(), Namespace=alloc.Namespace, Priority=alloc.Job.Priority or 50,
                Type=alloc.Job.Type or JobType.SERVICE, TriggeredBy=trigger,
                JobID=alloc.JobID, Status=EvalStatus.PENDING, CreateTime=now_ns, ModifyTime=now_ns)
    return list(jobs.values())
