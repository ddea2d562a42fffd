"""The core reads (Nomad's RPC names): jobs, evaluations, allocations and nodes, and the helpers every
endpoint module uses to serve a read.

A read answers from this server's state when ``AllowStale`` is set (what clients do for their blocking
queries, as in Nomad), and is forwarded to the leader otherwise (``forwarded_read``). A read with
``MinQueryIndex`` is a blocking query (``read``): it answers as soon as the watch index of what it reads
passes it, or after ``MaxQueryTime`` (ns, default 5 min, capped at 10 min, as Nomad's ``?index=&wait=``).
Lists build their answers with ``agents.server.listing`` (stubs, filter, pages).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import msgspec

from agents.rpc import CallContext, Registry, Role
from agents.server.listing import alloc_stubs, job_list_page, matching_evals, node_stub, page, page_by_id
from agents.server.messages import (
    AllocListRequest,
    AllocListResponse,
    AllocSpecificRequest,
    EvalListRequest,
    EvalListResponse,
    EvalSpecificRequest,
    JobAllocationsResponse,
    JobListRequest,
    JobListResponse,
    JobSpecificRequest,
    NodeAllocsResponse,
    NodeListRequest,
    NodeListResponse,
    NodeSpecificRequest,
    Query,
    SingleAllocResponse,
    SingleEvalResponse,
    SingleJobResponse,
    SingleNodeResponse,
)
from cluster.filter import filter_items
from cluster.state import StateSnapshot

if TYPE_CHECKING:
    from agents.server.agent import ServerAgent

__all__ = ["DEFAULT_MAX_QUERY_NS", "MAX_QUERY_NS", "IndexOf", "forwarded_read", "job_index", "read", "register"]

R = TypeVar("R", bound=msgspec.Struct)
SECOND_NS = 1_000_000_000
DEFAULT_MAX_QUERY_NS = 300 * SECOND_NS
MAX_QUERY_NS = 600 * SECOND_NS
# The early answer of a blocking query: a little before the caller gives up, so it gets the
# (unchanged) index rather than a timeout.
_ANSWER_MARGIN_S = 0.5

IndexOf = Callable[[StateSnapshot], int]
_READERS = {Role.SERVER, Role.WEB}


async def read(agent: ServerAgent, ctx: CallContext, args: Query, index_of: IndexOf) -> tuple[StateSnapshot, int]:
    """The snapshot a read answers from, after its blocking query (if any) fired, and its index."""
    if args.MinQueryIndex <= 0:
        snap = agent.fsm.store.snapshot()
        return snap, max(1, index_of(snap))
    wait_ns = min(args.MaxQueryTime or DEFAULT_MAX_QUERY_NS, MAX_QUERY_NS)
    wait_s = min(wait_ns / SECOND_NS, max(0.0, ctx.remaining_s() - _ANSWER_MARGIN_S))
    snap, index = await agent.fsm.wait_for(index_of, args.MinQueryIndex, wait_s)
    return snap, max(1, index)


async def forwarded_read(agent: ServerAgent, ctx: CallContext, args: Query, result_type: type[R]) -> R | None:
    """The leader's (or the named region's) answer when this read must not be served here, else None."""
    return await agent.forwarder.forward(ctx, args, result_type, region=args.Region or None,
                                         to_leader=not args.AllowStale)


def job_index(snap: StateSnapshot, namespace: str, job_id: str) -> int:
    """The watch index of one job: its ModifyIndex, or the jobs table's while it does not exist."""
    job = snap.job_by_id(namespace, job_id)
    return job.ModifyIndex or 0 if job is not None else snap.table_index("jobs")


def _eval_index(snap: StateSnapshot, eval_id: str) -> int:
    ev = snap.eval_by_id(eval_id)
    return ev.ModifyIndex if ev is not None else snap.table_index("evals")


def _alloc_index(snap: StateSnapshot, alloc_id: str) -> int:
    alloc = snap.alloc_by_id(alloc_id)
    return alloc.ModifyIndex if alloc is not None else snap.table_index("allocs")


def _node_index(snap: StateSnapshot, node_id: str) -> int:
    node = snap.node_by_id(node_id)
    return node.ModifyIndex if node is not None else snap.table_index("nodes")


def register(registry: Registry, agent: ServerAgent) -> None:
    """Adds the core reads to ``registry``; the handlers close over ``agent``."""
    _job_reads(registry, agent)
    _eval_reads(registry, agent)
    _alloc_reads(registry, agent)
    _node_reads(registry, agent)


def _job_reads(registry: Registry, agent: ServerAgent) -> None:
    @registry.endpoint("Job.Get", roles=_READERS)
    async def job_get(ctx: CallContext, args: JobSpecificRequest) -> SingleJobResponse:
        forwarded = await forwarded_read(agent, ctx, args, SingleJobResponse)
        if forwarded is not None:
            return forwarded
        snap, index = await read(agent, ctx, args, lambda s: job_index(s, args.Namespace, args.JobID))
        return SingleJobResponse(Job=snap.job_by_id(args.Namespace, args.JobID), Index=index)

    async def job_list(ctx: CallContext, args: JobListRequest) -> JobListResponse:
        """Nomad's ``Job.List``: prefix, filter and paging done here, so a page of 10,000 jobs is cheap."""
        forwarded = await forwarded_read(agent, ctx, args, JobListResponse)
        if forwarded is not None:
            return forwarded
        snap, index = await read(agent, ctx, args, lambda s: s.table_index("jobs"))
        jobs, token = job_list_page(snap, args)
        return JobListResponse(Jobs=jobs, NextToken=token, Index=index)

    registry.add("Job.List", job_list, roles=_READERS)
    # The dashboard's selectors (webui/ui) still call the list by its former name.

    @registry.endpoint("Job.Allocations", roles=_READERS)
    async def job_allocations(ctx: CallContext, args: JobSpecificRequest) -> JobAllocationsResponse:
        forwarded = await forwarded_read(agent, ctx, args, JobAllocationsResponse)
        if forwarded is not None:
            return forwarded
        key = (args.Namespace, args.JobID)
        snap, index = await read(agent, ctx, args, lambda s: s.group_index("allocs_by_job", key))
        allocs = snap.allocs_by_job(args.Namespace, args.JobID)
        return JobAllocationsResponse(Allocations=alloc_stubs(allocs), Index=index)


def _eval_reads(registry: Registry, agent: ServerAgent) -> None:
    @registry.endpoint("Eval.Get", roles=_READERS)
    async def eval_get(ctx: CallContext, args: EvalSpecificRequest) -> SingleEvalResponse:
        forwarded = await forwarded_read(agent, ctx, args, SingleEvalResponse)
        if forwarded is not None:
            return forwarded
        snap, index = await read(agent, ctx, args, lambda s: _eval_index(s, args.EvalID))
        return SingleEvalResponse(Eval=snap.eval_by_id(args.EvalID), Index=index)

    @registry.endpoint("Eval.List", roles=_READERS)
    async def eval_list(ctx: CallContext, args: EvalListRequest) -> EvalListResponse:
        """Nomad's Eval.List with its filters and paging, oldest first (tokens ``<CreateIndex>.<ID>``)."""
        forwarded = await forwarded_read(agent, ctx, args, EvalListResponse)
        if forwarded is not None:
            return forwarded
        snap, index = await read(agent, ctx, args, lambda s: s.table_index("evals"))
        found = matching_evals(snap, args.Namespace, args.FilterJobID, args.FilterEvalStatus,
                               args.Prefix, args.Filter)
        listed, token = page(found, lambda e: (e.CreateIndex, e.ID), args.PerPage, args.NextToken)
        return EvalListResponse(Evaluations=listed, NextToken=token, Index=index)


def _alloc_reads(registry: Registry, agent: ServerAgent) -> None:
    @registry.endpoint("Alloc.List", roles=_READERS)
    async def alloc_list(ctx: CallContext, args: AllocListRequest) -> AllocListResponse:
        forwarded = await forwarded_read(agent, ctx, args, AllocListResponse)
        if forwarded is not None:
            return forwarded
        snap, index = await read(agent, ctx, args, lambda s: s.table_index("allocs"))
        allocs = [a for a in snap.allocs()
                  if args.Namespace in ("*", a.Namespace) and a.ID.startswith(args.Prefix)]
        stubs = alloc_stubs(allocs, args.Filter)
        listed, token = page(stubs, lambda a: (a.CreateIndex, a.ID), args.PerPage, args.NextToken)
        return AllocListResponse(Allocations=listed, NextToken=token, Index=index)

    @registry.endpoint("Alloc.Get", roles=_READERS)
    async def alloc_get(ctx: CallContext, args: AllocSpecificRequest) -> SingleAllocResponse:
        forwarded = await forwarded_read(agent, ctx, args, SingleAllocResponse)
        if forwarded is not None:
            return forwarded
        snap, index = await read(agent, ctx, args, lambda s: _alloc_index(s, args.AllocID))
        return SingleAllocResponse(Alloc=snap.alloc_by_id(args.AllocID), Index=index)


def _node_reads(registry: Registry, agent: ServerAgent) -> None:
    @registry.endpoint("Node.List", roles=_READERS)
    async def node_list(ctx: CallContext, args: NodeListRequest) -> NodeListResponse:
        forwarded = await forwarded_read(agent, ctx, args, NodeListResponse)
        if forwarded is not None:
            return forwarded
        snap, index = await read(agent, ctx, args, lambda s: s.table_index("nodes"))
        stubs = filter_items((node_stub(n) for n in snap.nodes() if n.ID.startswith(args.Prefix)), args.Filter)
        listed, token = page_by_id(stubs, lambda n: n.ID, args.PerPage, args.NextToken)
        return NodeListResponse(Nodes=listed, NextToken=token, Index=index)

    @registry.endpoint("Node.Get", roles=_READERS)
    async def node_get(ctx: CallContext, args: NodeSpecificRequest) -> SingleNodeResponse:
        forwarded = await forwarded_read(agent, ctx, args, SingleNodeResponse)
        if forwarded is not None:
            return forwarded
        snap, index = await read(agent, ctx, args, lambda s: _node_index(s, args.NodeID))
        node = snap.node_by_id(args.NodeID)
        return SingleNodeResponse(Node=msgspec.structs.replace(node, SecretID="") if node else None, Index=index)

    @registry.endpoint("Node.GetAllocs", roles={Role.CLIENT, Role.SERVER, Role.WEB})
    async def node_get_allocs(ctx: CallContext, args: NodeSpecificRequest) -> NodeAllocsResponse:
        forwarded = await forwarded_read(agent, ctx, args, NodeAllocsResponse)
        if forwarded is not None:
            return forwarded
        snap, index = await read(agent, ctx, args, lambda s: s.group_index("allocs_by_node", args.NodeID))
        return NodeAllocsResponse(Allocs=snap.allocs_by_node(args.NodeID), Index=index)
