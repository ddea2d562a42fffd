"""Node operations, allocation stop and evaluation reads, as Nomad's RPC endpoints.

- ``Node.UpdateDrain`` starts, changes or cancels a drain (``DrainStrategy`` nil cancels; ``MarkEligible``
  makes a cancelled drain's node eligible again). Starting a drain stamps ``StartedAt`` and, for a
  positive ``Deadline``, ``ForceDeadline``. The leader then takes a first drainer step at once, so the
  allocations that may move (all of them for a forced drain, ``Deadline`` -1) are marked to migrate with
  one evaluation per affected job, and a node with nothing on it finishes its drain right away.
- ``Node.UpdateEligibility`` sets eligible or ineligible (eligible is refused while draining).
- ``Node.Deregister`` purges nodes: each node's jobs get an evaluation, whose scheduler finds their
  allocations on a node that is gone and replaces them as lost.
- ``Node.Evaluate`` forces an evaluation of every job with work on the node (and every system job).
- ``Alloc.Stop`` asks for an allocation to move (``DesiredTransition.Migrate``) with an evaluation of
  its job that stops it and places a replacement.
- ``Eval.Count`` and ``Eval.Allocations`` (the evaluation list, ``Eval.List``, is in ``endpoints_reads``).

Writes answer the indexes Nomad answers (``EvalIDs``, ``EvalCreateIndex``, ``NodeModifyIndex``, ``Index``).
ACL is checked by the web application; writes come only from it (web role) or a forwarding server.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import msgspec

from agents.rpc import CallContext, Registry, Role
from agents.server.endpoints_reads import forwarded_read, read
from agents.server.listing import alloc_stubs, matching_evals
from agents.server.messages import AllocListResponse, EvalSpecificRequest, Query
from cluster import fsm
from cluster.errors import Conflict, InvalidInput, NotFound
from cluster.scheduler.allocs import terminal
from cluster.scheduler.drainer import NodeDrainer
from cluster.state import StateSnapshot
from cluster.structs.alloc import DesiredTransition
from cluster.structs.constants import EvalStatus, EvalTrigger, JobType, NodeEligibility
from cluster.structs.evaluation import Evaluation
from cluster.structs.node import DrainStrategy, Node, NodeEvent

if TYPE_CHECKING:
    from agents.server.agent import ServerAgent

__all__ = [
    "AllocStopRequest", "AllocStopResponse", "EvalCountRequest", "EvalCountResponse", "NodeBatchDeregisterRequest",
    "NodeEvaluateRequest", "NodeUpdateDrainRequest", "NodeUpdateEligibilityRequest", "NodeWriteResponse",
    "node_evals", "register",
]

SUBSYSTEM_DRAIN = "Drain"
SUBSYSTEM_CLUSTER = "Cluster"
EVENT_DRAIN_SET = "Node drain strategy set"
EVENT_DRAIN_DISABLED = "Node drain disabled"
EVENT_DRAIN_UPDATED = "Node drain updated"


# ---- messages -----------------------------------------------------------------------------------


class NodeUpdateDrainRequest(msgspec.Struct, kw_only=True):
    NodeID: str
    DrainStrategy: DrainStrategy | None = None  # None: cancel the drain
    MarkEligible: bool = False
    Meta: dict[str, str] | None = None
    AccessorID: str = ""  # the web application fills in the caller's token accessor (kept in LastDrain)
    Region: str = ""


class NodeUpdateEligibilityRequest(msgspec.Struct, kw_only=True):
    NodeID: str
    Eligibility: str
    Region: str = ""


class NodeBatchDeregisterRequest(msgspec.Struct, kw_only=True):
    NodeIDs: list[str]
    Region: str = ""


class NodeEvaluateRequest(msgspec.Struct, kw_only=True):
    NodeID: str
    Region: str = ""


class NodeWriteResponse(msgspec.Struct, kw_only=True):
    """Nomad's NodeDrainUpdateResponse / NodeEligibilityUpdateResponse / NodeUpdateResponse fields."""

    EvalIDs: list[str] = msgspec.field(default_factory=list)
    EvalCreateIndex: int = 0
    NodeModifyIndex: int = 0
    Index: int = 0


class AllocStopRequest(msgspec.Struct, kw_only=True):
    AllocID: str
    NoShutdownDelay: bool = False
    Region: str = ""


class AllocStopResponse(msgspec.Struct, kw_only=True):
    EvalID: str = ""
    Index: int = 0


class EvalCountRequest(Query, kw_only=True):
    Namespace: str = "default"
    FilterJobID: str = ""
    FilterEvalStatus: str = ""
    Filter: str = ""


class EvalCountResponse(msgspec.Struct, kw_only=True):
    Count: int = 0
    Index: int = 0


# ---- helpers -------------------------------------------------------------------------------------


def need_node(snap: StateSnapshot, node_id: str) -> Node:
    node = snap.node_by_id(node_id)
    if node is None:
        raise NotFound(f'node "{node_id}" not found')
    return node


def node_evals(agent: ServerAgent, snap: StateSnapshot, node: Node, now_ns: int) -> list[Evaluation]:
    """One evaluation per job with live work on the node, and per system job (Nomad's node evals)."""
    jobs: dict[tuple[str, str], tuple[int, str]] = {}
    for alloc in snap.allocs_by_node(node.ID):
        if not terminal(alloc) and alloc.Job is not None:
            jobs[(alloc.Namespace, alloc.JobID)] = (alloc.Job.Priority or 50, alloc.Job.Type or JobType.SERVICE)
    for job in snap.jobs():
        if job.Type in (JobType.SYSTEM, JobType.SYSBATCH) and not job.Stop:
            jobs.setdefault((job.Namespace or "default", job.ID or ""), (job.Priority or 50, job.Type))
    return [Evaluation(ID=agent.new_id(), Namespace=ns, Priority=priority, Type=kind,
                       TriggeredBy=EvalTrigger.NODE_UPDATE, JobID=job_id, NodeID=node.ID,
                       NodeModifyIndex=node.ModifyIndex, Status=EvalStatus.PENDING, CreateTime=now_ns,
                       ModifyTime=now_ns)
            for (ns, job_id), (priority, kind) in sorted(jobs.items())]


def node_answer(agent: ServerAgent, node_id: str, eval_ids: list[str]) -> NodeWriteResponse:
    snap = agent.fsm.store.snapshot()
    node = snap.node_by_id(node_id)
    created = [ev.CreateIndex for i in eval_ids if (ev := snap.eval_by_id(i)) is not None]
    return NodeWriteResponse(EvalIDs=eval_ids, EvalCreateIndex=max(created, default=0),
                             NodeModifyIndex=node.ModifyIndex if node is not None else 0, Index=snap.latest_index())


def as_datetime(now_ns: int) -> datetime:
    return datetime.fromtimestamp(now_ns / 1e9, tz=UTC)


def _strategy(node: Node, given: DrainStrategy, now_ns: int) -> DrainStrategy:
    """The drain as stored: started now (or when the running drain started), with its force deadline."""
    now = as_datetime(now_ns)
    started = node.DrainStrategy.StartedAt if node.DrainStrategy is not None else now
    force = now + timedelta(microseconds=given.Deadline // 1000) if given.Deadline > 0 else given.ForceDeadline
    return msgspec.structs.replace(given, StartedAt=started, ForceDeadline=force)


def _drain_event(node: Node, strategy: DrainStrategy | None, meta: dict[str, str] | None, now_ns: int) -> NodeEvent:
    if strategy is None:
        message = EVENT_DRAIN_DISABLED
    else:
        message = EVENT_DRAIN_UPDATED if node.DrainStrategy is not None else EVENT_DRAIN_SET
    return NodeEvent(Message=message, Subsystem=SUBSYSTEM_DRAIN, Details=dict(meta) if meta else None,
                     Timestamp=as_datetime(now_ns))


# ---- handlers ------------------------------------------------------------------------------------


def register(registry: Registry, agent: ServerAgent) -> None:
    """Adds the node operation, allocation stop and evaluation endpoints; the handlers close over ``agent``."""
    _node_writes(registry, agent)
    _alloc_stop(registry, agent)
    _eval_reads(registry, agent)


async def _drain(agent: ServerAgent, args: NodeUpdateDrainRequest) -> list[str]:
    """Writes the drain, then takes the drainer's first step; the IDs of the evaluations created."""
    snap = agent.fsm.store.snapshot()
    node = need_node(snap, args.NodeID)
    now_ns = agent.now_ns()
    strategy = _strategy(node, args.DrainStrategy, now_ns) if args.DrainStrategy is not None else None
    evals: list[Evaluation] = []
    if strategy is None and args.MarkEligible and node.SchedulingEligibility == NodeEligibility.INELIGIBLE:
        evals = node_evals(agent, snap, node, now_ns)  # it may take work again: let its jobs use it
    await agent.propose(fsm.NodeUpdateDrain(
        NodeID=node.ID, DrainStrategy=strategy, MarkEligible=args.MarkEligible and strategy is None,
        UpdatedAt=as_datetime(now_ns), NodeEvent=_drain_event(node, strategy, args.Meta, now_ns), Evals=evals or None,
        Meta=args.Meta, AccessorID=args.AccessorID))
    eval_ids = [e.ID for e in evals]
    if strategy is not None:
        for command in NodeDrainer(agent.new_id).step(agent.fsm.store.snapshot(), now_ns):
            await agent.propose(command)
            if isinstance(command, fsm.AllocUpdateDesiredTransition):
                eval_ids += [e.ID for e in command.Evals or []]
    return eval_ids


def _node_writes(registry: Registry, agent: ServerAgent) -> None:
    writers = {Role.SERVER, Role.WEB}

    async def forwarded(ctx: CallContext, args: msgspec.Struct, region: str) -> NodeWriteResponse | None:
        return await agent.forwarder.forward(ctx, args, NodeWriteResponse, region=region or None, to_leader=True)

    @registry.endpoint("Node.UpdateDrain", roles=writers)
    async def update_drain(ctx: CallContext, args: NodeUpdateDrainRequest) -> NodeWriteResponse:
        if (answer := await forwarded(ctx, args, args.Region)) is not None:
            return answer
        agent.check_leading()
        return node_answer(agent, args.NodeID, await _drain(agent, args))

    @registry.endpoint("Node.UpdateEligibility", roles=writers)
    async def update_eligibility(ctx: CallContext, args: NodeUpdateEligibilityRequest) -> NodeWriteResponse:
        if (answer := await forwarded(ctx, args, args.Region)) is not None:
            return answer
        if args.Eligibility not in (NodeEligibility.ELIGIBLE, NodeEligibility.INELIGIBLE):
            raise InvalidInput(f'invalid scheduling eligibility "{args.Eligibility}": use eligible or ineligible')
        snap = agent.fsm.store.snapshot()
        node = need_node(snap, args.NodeID)
        eligible = args.Eligibility == NodeEligibility.ELIGIBLE
        if eligible and node.DrainStrategy is not None:
            raise Conflict(f'node "{node.ID}" is draining: it cannot be made eligible until the drain ends')
        now_ns = agent.now_ns()
        becomes_eligible = eligible and node.SchedulingEligibility != NodeEligibility.ELIGIBLE
        evals = node_evals(agent, snap, node, now_ns) if becomes_eligible else []
        event = NodeEvent(Message=f"Node marked as {args.Eligibility}", Subsystem=SUBSYSTEM_CLUSTER,
                          Timestamp=as_datetime(now_ns))
        await agent.propose(fsm.NodeUpdateEligibility(NodeID=node.ID, Eligibility=args.Eligibility,
                                                      NodeEvent=event, Evals=evals or None))
        return node_answer(agent, node.ID, [e.ID for e in evals])

    @registry.endpoint("Node.Deregister", roles=writers)
    async def deregister(ctx: CallContext, args: NodeBatchDeregisterRequest) -> NodeWriteResponse:
        """Purges nodes; their jobs are evaluated so that what ran there is replaced as lost."""
        if (answer := await forwarded(ctx, args, args.Region)) is not None:
            return answer
        if not args.NodeIDs:
            raise InvalidInput("node deregister: no node IDs given")
        snap = agent.fsm.store.snapshot()
        now_ns = agent.now_ns()
        evals = [ev for node_id in args.NodeIDs for ev in node_evals(agent, snap, need_node(snap, node_id), now_ns)]
        await agent.propose(fsm.NodeDeregister(NodeIDs=list(args.NodeIDs), Evals=evals or None))
        answer = node_answer(agent, args.NodeIDs[0], [e.ID for e in evals])
        answer.NodeModifyIndex = answer.Index  # the node is gone: the index of its removal
        return answer

    @registry.endpoint("Node.Evaluate", roles=writers)
    async def evaluate(ctx: CallContext, args: NodeEvaluateRequest) -> NodeWriteResponse:
        if (answer := await forwarded(ctx, args, args.Region)) is not None:
            return answer
        snap = agent.fsm.store.snapshot()
        node = need_node(snap, args.NodeID)
        evals = node_evals(agent, snap, node, agent.now_ns())
        if evals:
            await agent.propose(fsm.EvalUpdate(Evals=evals))
        return node_answer(agent, node.ID, [e.ID for e in evals])


def _alloc_stop(registry: Registry, agent: ServerAgent) -> None:
    @registry.endpoint("Alloc.Stop", roles={Role.SERVER, Role.WEB})
    async def alloc_stop(ctx: CallContext, args: AllocStopRequest) -> AllocStopResponse:
        """Marks the allocation to migrate; its job's evaluation stops it and places a replacement."""
        forwarded = await agent.forwarder.forward(ctx, args, AllocStopResponse, region=args.Region or None,
                                                  to_leader=True)
        if forwarded is not None:
            return forwarded
        alloc = agent.fsm.store.snapshot().alloc_by_id(args.AllocID)
        if alloc is None:
            raise NotFound(f'allocation "{args.AllocID}" not found')
        job = alloc.Job
        now_ns = agent.now_ns()
        ev = Evaluation(ID=agent.new_id(), Namespace=alloc.Namespace, Priority=(job.Priority or 50) if job else 50,
                        Type=(job.Type or JobType.SERVICE) if job else JobType.SERVICE,
                        TriggeredBy=EvalTrigger.ALLOC_STOP, JobID=alloc.JobID, Status=EvalStatus.PENDING,
                        CreateTime=now_ns, ModifyTime=now_ns)
        transition = DesiredTransition(Migrate=True, NoShutdownDelay=True if args.NoShutdownDelay else None)
        await agent.propose(fsm.AllocUpdateDesiredTransition(Allocs={alloc.ID: transition}, Evals=[ev],
                                                             UpdatedAt=now_ns))
        return AllocStopResponse(EvalID=ev.ID, Index=agent.fsm.store.latest_index())


def _eval_reads(registry: Registry, agent: ServerAgent) -> None:
    @registry.endpoint("Eval.Count", roles={Role.SERVER, Role.WEB})
    async def eval_count(ctx: CallContext, args: EvalCountRequest) -> EvalCountResponse:
        forwarded = await forwarded_read(agent, ctx, args, EvalCountResponse)
        if forwarded is not None:
            return forwarded
        snap, index = await read(agent, ctx, args, lambda s: s.table_index("evals"))
        found = matching_evals(snap, args.Namespace, args.FilterJobID, args.FilterEvalStatus, "", args.Filter)
        return EvalCountResponse(Count=len(found), Index=index)

    @registry.endpoint("Eval.Allocations", roles={Role.SERVER, Role.WEB})
    async def eval_allocations(ctx: CallContext, args: EvalSpecificRequest) -> AllocListResponse:
        forwarded = await forwarded_read(agent, ctx, args, AllocListResponse)
        if forwarded is not None:
            return forwarded
        snap, index = await read(agent, ctx, args, lambda s: s.table_index("allocs"))
        return AllocListResponse(Allocations=alloc_stubs(snap.allocs_by_eval(args.EvalID)), Index=index)
