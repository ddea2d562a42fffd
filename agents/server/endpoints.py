"""The server's RPC endpoints: jobs, nodes, allocations, evaluations and status (Nomad's RPC names).

Each endpoint declares the roles that may call it (``agents.rpc`` checks them before the handler runs).
Writes run on the leader: a follower forwards them with the ``Forwarder``, and a forwarded request
arrives with the server role, so every endpoint that may be forwarded allows it. Reads answer from this
server's state when ``AllowStale`` is set (what clients do for their blocking queries, as in Nomad), and
are forwarded to the leader otherwise. Reads with ``MinQueryIndex`` are blocking queries: they answer as
soon as the watch index of what they read passes it, or after ``MaxQueryTime`` (ns, default 5 min,
capped at 10 min, as Nomad's ``?index=&wait=``).

The messages use Nomad's field names; the argument and result types live here so the client agent
and the web application import them from one place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import msgspec

from agents.rpc import CallContext, Registry, Role
from cluster import fsm
from cluster.errors import InvalidInput, JobSpecError, NotFound
from cluster.state import StateSnapshot
from cluster.state.write_allocs import AllocClientUpdate
from cluster.structs.alloc import Allocation, AllocDeploymentStatus, RescheduleTracker, TaskState
from cluster.structs.canonicalize import canonicalize
from cluster.structs.constants import EvalStatus, EvalTrigger, JobType, NodeStatus
from cluster.structs.evaluation import Evaluation
from cluster.structs.job import Job
from cluster.structs.node import DrainMetadata, DriverInfo, Node
from cluster.structs.validate import validate_job

if TYPE_CHECKING:
    from agents.server.agent import ServerAgent

__all__ = [
    "AllocListRequest", "AllocListResponse", "AllocListStub", "AllocSpecificRequest", "AllocUpdateRequest",
    "EvalListRequest", "EvalListResponse", "EvalSpecificRequest", "GenericResponse",
    "JobAllocationsResponse", "JobListRequest", "JobListResponse", "JobListStub", "JobRegisterRequest",
    "JobRegisterResponse", "JobSpecificRequest", "Member", "MemberRequest", "MemberResponse",
    "NodeAllocsResponse", "NodeListRequest", "NodeListResponse", "NodeListStub", "NodeRegisterRequest",
    "NodeSpecificRequest", "NodeUpdateResponse", "NodeUpdateStatusRequest", "SingleAllocResponse",
    "SingleEvalResponse", "SingleJobResponse", "SingleNodeResponse", "StatusLeaderResponse",
    "StatusPeersResponse", "StatusRequest", "register_endpoints",
]

R = TypeVar("R", bound=msgspec.Struct)
SECOND_NS = 1_000_000_000
DEFAULT_MAX_QUERY_NS = 300 * SECOND_NS
MAX_QUERY_NS = 600 * SECOND_NS


class _Query(msgspec.Struct, kw_only=True):
    Region: str = ""
    AllowStale: bool = False
    MinQueryIndex: int = 0
    MaxQueryTime: int = 0  # ns; 0: the default


# ---- messages -----------------------------------------------------------------------------------


class JobRegisterRequest(msgspec.Struct, kw_only=True):
    Job: Job
    Region: str = ""


class JobRegisterResponse(msgspec.Struct, kw_only=True):
    EvalID: str = ""
    EvalCreateIndex: int = 0
    JobModifyIndex: int = 0
    Index: int = 0
    Warnings: str = ""


class JobSpecificRequest(_Query, kw_only=True):
    JobID: str
    Namespace: str = "default"


class SingleJobResponse(msgspec.Struct, kw_only=True):
    Job: Job | None = None
    Index: int = 0


class JobListRequest(_Query, kw_only=True):
    Namespace: str = "default"
    Prefix: str = ""


class JobListStub(msgspec.Struct, kw_only=True):
    ID: str
    Name: str
    Namespace: str
    Type: str
    Priority: int
    Status: str
    Stop: bool
    Version: int
    CreateIndex: int
    ModifyIndex: int
    JobModifyIndex: int
    SubmitTime: int


class JobListResponse(msgspec.Struct, kw_only=True):
    Jobs: list[JobListStub]
    Index: int = 0


class NodeRegisterRequest(msgspec.Struct, kw_only=True):
    Node: Node
    Region: str = ""


class NodeUpdateStatusRequest(msgspec.Struct, kw_only=True):
    NodeID: str
    Status: str
    Region: str = ""


class NodeUpdateResponse(msgspec.Struct, kw_only=True):
    HeartbeatTTL: int = 0  # ns: heartbeat again before it runs out
    EvalIDs: list[str] = msgspec.field(default_factory=list)
    NodeModifyIndex: int = 0
    Index: int = 0
    LeaderRPCAddr: str = ""
    Servers: list[str] = msgspec.field(default_factory=list)


class NodeSpecificRequest(_Query, kw_only=True):
    NodeID: str


class NodeAllocsResponse(msgspec.Struct, kw_only=True):
    Allocs: list[Allocation]
    Index: int = 0


class AllocUpdateRequest(msgspec.Struct, kw_only=True):
    Alloc: list[AllocClientUpdate]
    Region: str = ""


class GenericResponse(msgspec.Struct, kw_only=True):
    Index: int = 0


class EvalSpecificRequest(_Query, kw_only=True):
    EvalID: str


class SingleEvalResponse(msgspec.Struct, kw_only=True):
    Eval: Evaluation | None = None
    Index: int = 0


class EvalListRequest(_Query, kw_only=True):
    Namespace: str = "default"
    JobID: str = ""


class EvalListResponse(msgspec.Struct, kw_only=True):
    Evaluations: list[Evaluation]
    Index: int = 0


class AllocListRequest(_Query, kw_only=True):
    Namespace: str = "default"  # "*": every namespace
    Prefix: str = ""


class AllocListStub(msgspec.Struct, kw_only=True):
    """An allocation without its job and resources, as Nomad lists them."""

    ID: str
    EvalID: str
    Name: str
    Namespace: str
    NodeID: str
    NodeName: str
    JobID: str
    JobType: str
    JobVersion: int
    TaskGroup: str
    DesiredStatus: str
    DesiredDescription: str
    ClientStatus: str
    ClientDescription: str
    TaskStates: dict[str, TaskState] | None
    DeploymentStatus: AllocDeploymentStatus | None
    FollowupEvalID: str
    RescheduleTracker: RescheduleTracker | None
    PreemptedAllocations: list[str] | None
    PreemptedByAllocation: str
    CreateIndex: int
    ModifyIndex: int
    CreateTime: int
    ModifyTime: int


class AllocListResponse(msgspec.Struct, kw_only=True):
    Allocations: list[AllocListStub]
    Index: int = 0


class JobAllocationsResponse(msgspec.Struct, kw_only=True):
    Allocations: list[AllocListStub]
    Index: int = 0


class AllocSpecificRequest(_Query, kw_only=True):
    AllocID: str


class SingleAllocResponse(msgspec.Struct, kw_only=True):
    Alloc: Allocation | None = None
    Index: int = 0


class NodeListRequest(_Query, kw_only=True):
    Prefix: str = ""


class NodeListStub(msgspec.Struct, kw_only=True):
    """A node without its resources and secret, as Nomad lists them."""

    Address: str
    ID: str
    Datacenter: str
    Name: str
    NodeClass: str
    NodePool: str
    Version: str
    Drain: bool
    SchedulingEligibility: str
    Status: str
    StatusDescription: str
    Drivers: dict[str, DriverInfo] | None
    LastDrain: DrainMetadata | None
    CreateIndex: int
    ModifyIndex: int


class NodeListResponse(msgspec.Struct, kw_only=True):
    Nodes: list[NodeListStub]
    Index: int = 0


class SingleNodeResponse(msgspec.Struct, kw_only=True):
    Node: Node | None = None  # SecretID is blanked: a reader must not learn the node's credential
    Index: int = 0


class StatusRequest(msgspec.Struct, kw_only=True):
    Region: str = ""


class StatusLeaderResponse(msgspec.Struct, kw_only=True):
    Leader: str  # the leader's RPC address, "" while there is none


class StatusPeersResponse(msgspec.Struct, kw_only=True):
    Peers: list[str]  # RPC addresses of the Raft voters


class Member(msgspec.Struct, frozen=True, kw_only=True):
    """A server as the others know it: its name (its Raft id), region and addresses."""

    Name: str
    Region: str
    RPCAddr: str
    RaftAddr: str


class MemberRequest(msgspec.Struct, kw_only=True):
    From: Member


class MemberResponse(msgspec.Struct, kw_only=True):
    Self: Member
    Known: list[Member]


# ---- handlers ------------------------------------------------------------------------------------


def register_endpoints(registry: Registry, agent: ServerAgent) -> None:
    """Adds every server endpoint to ``registry``; the handlers close over ``agent``."""
    _jobs(registry, agent)
    _nodes(registry, agent)
    _allocs_and_evals(registry, agent)
    _reads(registry, agent)
    _status(registry, agent)
    # The other domains' endpoint modules, each with ``register(registry, agent)``. Imported here rather
    # than at the top because they import this module's message types.


_IndexOf = Callable[[StateSnapshot], int]


async def _read(agent: ServerAgent, ctx: CallContext, args: _Query,
                index_of: _IndexOf) -> tuple[StateSnapshot, int]:
    """The snapshot a read answers from, after its blocking query (if any) fired."""
    if args.MinQueryIndex <= 0:
        snap = agent.fsm.store.snapshot()
        return snap, max(1, index_of(snap))
    wait_ns = min(args.MaxQueryTime or DEFAULT_MAX_QUERY_NS, MAX_QUERY_NS)
    # Answer a little before the caller gives up, so it gets the (unchanged) index rather than a timeout.
    wait_s = min(wait_ns / SECOND_NS, max(0.0, ctx.remaining_s() - 0.5))
    snap, index = await agent.fsm.wait_for(index_of, args.MinQueryIndex, wait_s)
    return snap, max(1, index)


async def _forwarded_read(agent: ServerAgent, ctx: CallContext, args: _Query,
                          result_type: type[R]) -> R | None:
    """The leader's answer when this read must not be served stale here, else None."""
    return await agent.forwarder.forward(ctx, args, result_type, region=args.Region or None,
                                         to_leader=not args.AllowStale)


def _jobs(registry: Registry, agent: ServerAgent) -> None:
    @registry.endpoint("Job.Register", roles={Role.SERVER, Role.WEB})
    async def job_register(ctx: CallContext, args: JobRegisterRequest) -> JobRegisterResponse:
        region = args.Region or args.Job.Region or None
        forwarded = await agent.forwarder.forward(ctx, args, JobRegisterResponse, region=region, to_leader=True)
        if forwarded is not None:
            return forwarded
        job = _checked_job(args.Job, agent.region)
        now_ns = agent.now_ns()
        ev = None if _no_eval(job) else Evaluation(
            ID=agent.new_id(), Namespace=job.Namespace or "default", Priority=job.Priority or 50,
            Type=job.Type or JobType.SERVICE, TriggeredBy=EvalTrigger.JOB_REGISTER, JobID=job.ID or "",
            Status=EvalStatus.PENDING, CreateTime=now_ns, ModifyTime=now_ns)
        stored = await agent.propose(fsm.JobRegister(Job=job, Eval=ev, SubmitTime=now_ns))
        assert isinstance(stored, Job)
        snap = agent.fsm.store.snapshot()
        created = snap.eval_by_id(ev.ID) if ev is not None else None
        return JobRegisterResponse(
            EvalID=ev.ID if ev is not None else "", EvalCreateIndex=created.CreateIndex if created else 0,
            JobModifyIndex=stored.JobModifyIndex or 0, Index=stored.ModifyIndex or 0)

    @registry.endpoint("Job.Get", roles={Role.SERVER, Role.WEB})
    async def job_get(ctx: CallContext, args: JobSpecificRequest) -> SingleJobResponse:
        forwarded = await _forwarded_read(agent, ctx, args, SingleJobResponse)
        if forwarded is not None:
            return forwarded
        snap, index = await _read(agent, ctx, args, lambda s: _job_index(s, args.Namespace, args.JobID))
        return SingleJobResponse(Job=snap.job_by_id(args.Namespace, args.JobID), Index=index)

    @registry.endpoint("Job.List", roles={Role.SERVER, Role.WEB})
    async def job_list(ctx: CallContext, args: JobListRequest) -> JobListResponse:
        forwarded = await _forwarded_read(agent, ctx, args, JobListResponse)
        if forwarded is not None:
            return forwarded
        snap, index = await _read(agent, ctx, args, lambda s: s.table_index("jobs"))
        namespace = None if args.Namespace == "*" else args.Namespace
        jobs = [_stub(j) for j in snap.jobs(namespace) if (j.ID or "").startswith(args.Prefix)]
        return JobListResponse(Jobs=sorted(jobs, key=lambda j: (j.Namespace, j.ID)), Index=index)


def _checked_job(job: Job, region: str) -> Job:
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


def _job_index(snap: StateSnapshot, namespace: str, job_id: str) -> int:
    job = snap.job_by_id(namespace, job_id)
    return job.ModifyIndex or 0 if job is not None else snap.table_index("jobs")


def _no_eval(job: Job) -> bool:
    """Periodic and parameterized jobs are templates: their launches get evaluations, not the job."""
    periodic = job.Periodic is not None and bool(job.Periodic.Enabled)
    return periodic or (job.ParameterizedJob is not None and not job.Dispatched)


def _stub(job: Job) -> JobListStub:
    return JobListStub(
        ID=job.ID or "", Name=job.Name or "", Namespace=job.Namespace or "", Type=job.Type or "",
        Priority=job.Priority or 0, Status=job.Status or "", Stop=bool(job.Stop), Version=job.Version or 0,
        CreateIndex=job.CreateIndex or 0, ModifyIndex=job.ModifyIndex or 0,
        JobModifyIndex=job.JobModifyIndex or 0, SubmitTime=job.SubmitTime or 0)


def _nodes(registry: Registry, agent: ServerAgent) -> None:
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
            await agent.propose(fsm.NodeUpdateStatus(NodeID=args.NodeID, Status=args.Status,
                                                     UpdatedAt=now_ns // SECOND_NS, Evals=evals or None))
        return _node_answer(agent, args.NodeID, evals)

    @registry.endpoint("Node.GetAllocs", roles={Role.CLIENT, Role.SERVER, Role.WEB})
    async def node_get_allocs(ctx: CallContext, args: NodeSpecificRequest) -> NodeAllocsResponse:
        forwarded = await _forwarded_read(agent, ctx, args, NodeAllocsResponse)
        if forwarded is not None:
            return forwarded
        snap, index = await _read(agent, ctx, args, lambda s: s.group_index("allocs_by_node", args.NodeID))
        return NodeAllocsResponse(Allocs=snap.allocs_by_node(args.NodeID), Index=index)


_NODE_STATUSES = (NodeStatus.INIT, NodeStatus.READY, NodeStatus.DOWN, NodeStatus.DISCONNECTED)


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


def _allocs_and_evals(registry: Registry, agent: ServerAgent) -> None:
    @registry.endpoint("Alloc.UpdateFromClient", roles={Role.CLIENT, Role.SERVER})
    async def alloc_update(ctx: CallContext, args: AllocUpdateRequest) -> GenericResponse:
        forwarded = await agent.forwarder.forward(ctx, args, GenericResponse, region=args.Region or None,
                                                  to_leader=True)
        if forwarded is not None:
            return forwarded
        if not args.Alloc:
            raise InvalidInput("Alloc.UpdateFromClient: no allocations to update")
        now_ns = agent.now_ns()
        evals = _failure_evals(agent, agent.fsm.store.snapshot(), args.Alloc, now_ns)
        await agent.propose(fsm.AllocClientUpdateRequest(Allocs=args.Alloc, Evals=evals or None, UpdatedAt=now_ns))
        return GenericResponse(Index=agent.fsm.store.latest_index())

    @registry.endpoint("Eval.Get", roles={Role.SERVER, Role.WEB})
    async def eval_get(ctx: CallContext, args: EvalSpecificRequest) -> SingleEvalResponse:
        forwarded = await _forwarded_read(agent, ctx, args, SingleEvalResponse)
        if forwarded is not None:
            return forwarded
        snap, index = await _read(agent, ctx, args, lambda s: _eval_index(s, args.EvalID))
        return SingleEvalResponse(Eval=snap.eval_by_id(args.EvalID), Index=index)

    @registry.endpoint("Eval.List", roles={Role.SERVER, Role.WEB})
    async def eval_list(ctx: CallContext, args: EvalListRequest) -> EvalListResponse:
        forwarded = await _forwarded_read(agent, ctx, args, EvalListResponse)
        if forwarded is not None:
            return forwarded
        snap, index = await _read(agent, ctx, args, lambda s: s.table_index("evals"))
        if args.JobID:
            evals = snap.evals_by_job(args.Namespace, args.JobID)
        else:
            evals = [e for e in snap.evals() if args.Namespace in ("*", e.Namespace)]
        return EvalListResponse(Evaluations=sorted(evals, key=lambda e: (e.CreateIndex, e.ID)), Index=index)


def _eval_index(snap: StateSnapshot, eval_id: str) -> int:
    ev = snap.eval_by_id(eval_id)
    return ev.ModifyIndex if ev is not None else snap.table_index("evals")


def _failure_evals(agent: ServerAgent, snap: StateSnapshot, updates: list[AllocClientUpdate],
                   now_ns: int) -> list[Evaluation]:
    """An evaluation per job with a newly failed allocation, so its reschedule policy is applied."""
    jobs: dict[tuple[str, str], Evaluation] = {}
    for update in updates:
        alloc = snap.alloc_by_id(update.ID)
        if alloc is None or update.ClientStatus != "failed" or alloc.ClientStatus == "failed" or alloc.Job is None:
            continue
        key = (alloc.Namespace, alloc.JobID)
        if key not in jobs:
            jobs[key] = Evaluation(
                ID=agent.new_id(), Namespace=alloc.Namespace, Priority=alloc.Job.Priority or 50,
                Type=alloc.Job.Type or JobType.SERVICE, TriggeredBy=EvalTrigger.RETRY_FAILED_ALLOC,
                JobID=alloc.JobID, Status=EvalStatus.PENDING, CreateTime=now_ns, ModifyTime=now_ns)
    return list(jobs.values())


def _reads(registry: Registry, agent: ServerAgent) -> None:
    """Reads of allocations and nodes for the web application (Nomad's /v1 allocation and node reads)."""

    @registry.endpoint("Alloc.List", roles={Role.SERVER, Role.WEB})
    async def alloc_list(ctx: CallContext, args: AllocListRequest) -> AllocListResponse:
        forwarded = await _forwarded_read(agent, ctx, args, AllocListResponse)
        if forwarded is not None:
            return forwarded
        snap, index = await _read(agent, ctx, args, lambda s: s.table_index("allocs"))
        allocs = [a for a in snap.allocs()
                  if args.Namespace in ("*", a.Namespace) and a.ID.startswith(args.Prefix)]
        return AllocListResponse(Allocations=_alloc_stubs(allocs), Index=index)

    @registry.endpoint("Alloc.Get", roles={Role.SERVER, Role.WEB})
    async def alloc_get(ctx: CallContext, args: AllocSpecificRequest) -> SingleAllocResponse:
        forwarded = await _forwarded_read(agent, ctx, args, SingleAllocResponse)
        if forwarded is not None:
            return forwarded
        snap, index = await _read(agent, ctx, args, lambda s: _alloc_index(s, args.AllocID))
        return SingleAllocResponse(Alloc=snap.alloc_by_id(args.AllocID), Index=index)

    @registry.endpoint("Job.Allocations", roles={Role.SERVER, Role.WEB})
    async def job_allocations(ctx: CallContext, args: JobSpecificRequest) -> JobAllocationsResponse:
        forwarded = await _forwarded_read(agent, ctx, args, JobAllocationsResponse)
        if forwarded is not None:
            return forwarded
        key = (args.Namespace, args.JobID)
        snap, index = await _read(agent, ctx, args, lambda s: s.group_index("allocs_by_job", key))
        allocs = snap.allocs_by_job(args.Namespace, args.JobID)
        return JobAllocationsResponse(Allocations=_alloc_stubs(allocs), Index=index)

    @registry.endpoint("Node.List", roles={Role.SERVER, Role.WEB})
    async def node_list(ctx: CallContext, args: NodeListRequest) -> NodeListResponse:
        forwarded = await _forwarded_read(agent, ctx, args, NodeListResponse)
        if forwarded is not None:
            return forwarded
        snap, index = await _read(agent, ctx, args, lambda s: s.table_index("nodes"))
        nodes = [_node_stub(n) for n in snap.nodes() if n.ID.startswith(args.Prefix)]
        return NodeListResponse(Nodes=sorted(nodes, key=lambda n: n.ID), Index=index)

    @registry.endpoint("Node.Get", roles={Role.SERVER, Role.WEB})
    async def node_get(ctx: CallContext, args: NodeSpecificRequest) -> SingleNodeResponse:
        forwarded = await _forwarded_read(agent, ctx, args, SingleNodeResponse)
        if forwarded is not None:
            return forwarded
        snap, index = await _read(agent, ctx, args, lambda s: _node_index(s, args.NodeID))
        node = snap.node_by_id(args.NodeID)
        return SingleNodeResponse(Node=msgspec.structs.replace(node, SecretID="") if node else None, Index=index)


def _alloc_index(snap: StateSnapshot, alloc_id: str) -> int:
    alloc = snap.alloc_by_id(alloc_id)
    return alloc.ModifyIndex if alloc is not None else snap.table_index("allocs")


def _node_index(snap: StateSnapshot, node_id: str) -> int:
    node = snap.node_by_id(node_id)
    return node.ModifyIndex if node is not None else snap.table_index("nodes")


def _alloc_stubs(allocs: list[Allocation]) -> list[AllocListStub]:
    """Stubs in creation order, as Nomad lists them (its ID index order differs; creation reads better)."""
    return [_alloc_stub(a) for a in sorted(allocs, key=lambda a: (a.CreateIndex, a.ID))]


def _alloc_stub(alloc: Allocation) -> AllocListStub:
    job = alloc.Job
    return AllocListStub(
        ID=alloc.ID, EvalID=alloc.EvalID, Name=alloc.Name, Namespace=alloc.Namespace, NodeID=alloc.NodeID,
        NodeName=alloc.NodeName, JobID=alloc.JobID, JobType=(job.Type or "") if job else "",
        JobVersion=(job.Version or 0) if job else 0, TaskGroup=alloc.TaskGroup,
        DesiredStatus=alloc.DesiredStatus, DesiredDescription=alloc.DesiredDescription,
        ClientStatus=alloc.ClientStatus, ClientDescription=alloc.ClientDescription, TaskStates=alloc.TaskStates,
        DeploymentStatus=alloc.DeploymentStatus, FollowupEvalID=alloc.FollowupEvalID,
        RescheduleTracker=alloc.RescheduleTracker, PreemptedAllocations=alloc.PreemptedAllocations,
        PreemptedByAllocation=alloc.PreemptedByAllocation, CreateIndex=alloc.CreateIndex,
        ModifyIndex=alloc.ModifyIndex, CreateTime=alloc.CreateTime, ModifyTime=alloc.ModifyTime)


def _node_stub(node: Node) -> NodeListStub:
    attributes = node.Attributes or {}
    return NodeListStub(
        Address=attributes.get("unique.network.ip-address", ""), ID=node.ID, Datacenter=node.Datacenter,
        Name=node.Name, NodeClass=node.NodeClass, NodePool=node.NodePool,
        Version=attributes.get("nomad.version", ""), Drain=node.Drain,
        SchedulingEligibility=node.SchedulingEligibility, Status=node.Status,
        StatusDescription=node.StatusDescription, Drivers=node.Drivers, LastDrain=node.LastDrain,
        CreateIndex=node.CreateIndex, ModifyIndex=node.ModifyIndex)


def _status(registry: Registry, agent: ServerAgent) -> None:
    @registry.endpoint("Status.Leader", roles=set(Role))
    async def status_leader(ctx: CallContext, args: StatusRequest) -> StatusLeaderResponse:
        forwarded = await agent.forwarder.forward(ctx, args, StatusLeaderResponse, region=args.Region or None)
        if forwarded is not None:
            return forwarded
        return StatusLeaderResponse(Leader=agent.leader_rpc() or "")

    @registry.endpoint("Status.Peers", roles=set(Role))
    async def status_peers(ctx: CallContext, args: StatusRequest) -> StatusPeersResponse:
        forwarded = await agent.forwarder.forward(ctx, args, StatusPeersResponse, region=args.Region or None)
        if forwarded is not None:
            return forwarded
        return StatusPeersResponse(Peers=agent.server_rpc_addrs())

    @registry.endpoint("Status.Member", roles={Role.SERVER})
    async def status_member(ctx: CallContext, args: MemberRequest) -> MemberResponse:
        """Discovery before Raft starts: servers that join each other learn each other's addresses."""
        agent.learn_members([args.From])
        return MemberResponse(Self=agent.member, Known=agent.known_members())
