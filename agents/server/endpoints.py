"""The server's RPC endpoints (Nomad's RPC names): where every endpoint module is registered.

Each endpoint declares the roles that may call it (``agents.rpc`` checks them before the handler runs).
The core endpoints live in ``endpoints_reads`` (jobs, evaluations, allocations, nodes: blocking reads
served here when stale reads are allowed, else on the leader) and ``endpoints_writes`` (job register,
node register and status, allocation updates from clients: run on the leader); the status endpoints
are here. Their messages live in ``agents.server.messages`` and are re-exported from this module, so
``from agents.server.endpoints import JobRegisterRequest`` keeps working, as do the read helpers
(``read``, ``forwarded_read``, ``Query``) the other endpoint modules build on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agents.rpc import CallContext, Registry, Role
from agents.server import endpoints_reads, endpoints_writes
from agents.server.endpoints_reads import DEFAULT_MAX_QUERY_NS, MAX_QUERY_NS, forwarded_read, job_index, read
from agents.server.endpoints_writes import checked_job, no_eval
from agents.server.listing import alloc_stubs
from agents.server.messages import (
    AllocListRequest,
    AllocListResponse,
    AllocListStub,
    AllocSpecificRequest,
    AllocUpdateRequest,
    EvalListRequest,
    EvalListResponse,
    EvalSpecificRequest,
    GenericResponse,
    JobAllocationsResponse,
    JobListRequest,
    JobListResponse,
    JobListStub,
    JobRegisterRequest,
    JobRegisterResponse,
    JobSpecificRequest,
    Member,
    MemberRequest,
    MemberResponse,
    NodeAllocsResponse,
    NodeListRequest,
    NodeListResponse,
    NodeListStub,
    NodeRegisterRequest,
    NodeSpecificRequest,
    NodeUpdateResponse,
    NodeUpdateStatusRequest,
    Query,
    SingleAllocResponse,
    SingleEvalResponse,
    SingleJobResponse,
    SingleNodeResponse,
    StatusLeaderResponse,
    StatusPeersResponse,
    StatusRequest,
)

if TYPE_CHECKING:
    from agents.server.agent import ServerAgent

__all__ = [
    "DEFAULT_MAX_QUERY_NS", "MAX_QUERY_NS",
    "AllocListRequest", "AllocListResponse", "AllocListStub", "AllocSpecificRequest", "AllocUpdateRequest",
    "EvalListRequest", "EvalListResponse", "EvalSpecificRequest", "GenericResponse",
    "JobAllocationsResponse", "JobListRequest", "JobListResponse", "JobListStub", "JobRegisterRequest",
    "JobRegisterResponse", "JobSpecificRequest", "Member", "MemberRequest", "MemberResponse",
    "NodeAllocsResponse", "NodeListRequest", "NodeListResponse", "NodeListStub", "NodeRegisterRequest",
    "NodeSpecificRequest", "NodeUpdateResponse", "NodeUpdateStatusRequest", "Query", "SingleAllocResponse",
    "SingleEvalResponse", "SingleJobResponse", "SingleNodeResponse", "StatusLeaderResponse",
    "StatusPeersResponse", "StatusRequest", "alloc_stubs", "checked_job", "forwarded_read", "job_index",
    "no_eval", "read", "register_endpoints",
]



def register_endpoints(registry: Registry, agent: ServerAgent) -> None:
    """Adds every server endpoint to ``registry``; the handlers close over ``agent``."""
    endpoints_reads.register(registry, agent)
    endpoints_writes.register(registry, agent)
    _status(registry, agent)
    # The other domains' endpoint modules, each with ``register(registry, agent)``. Imported here rather
    # than at the top because they import this module's message types.
    from agents.server import endpoints_events
    endpoints_events.register(registry, agent)
    from agents.server import endpoints_operator
    endpoints_operator.register(registry, agent)
    from agents.server import endpoints_deployments, endpoints_nodes
    endpoints_deployments.register(registry, agent)
    endpoints_nodes.register(registry, agent)
    from agents.server import endpoints_jobs
    endpoints_jobs.register(registry, agent)
    from agents.server import endpoints_client
    endpoints_client.register(registry, agent)
    from agents.server import endpoints_restore
    endpoints_restore.register(registry, agent)


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
