"""The dashboard's reads: one function per question, each one RPC (or a few) through the gateway.

Reads are not stale (they go to the leader), so a page shown right after an action shows its effect.
"""

from __future__ import annotations

from agents.server.endpoints import (
    AllocListStub,
    AllocSpecificRequest,
    EvalListRequest,
    EvalListResponse,
    JobAllocationsResponse,
    JobSpecificRequest,
    NodeAllocsResponse,
    NodeListRequest,
    NodeListResponse,
    NodeListStub,
    NodeSpecificRequest,
    SingleAllocResponse,
    SingleJobResponse,
    SingleNodeResponse,
    StatusLeaderResponse,
    StatusPeersResponse,
    StatusRequest,
)
from agents.server.endpoints_operator import AgentMember, AgentMembersResponse, AgentRequest
from cluster.structs.alloc import Allocation
from cluster.structs.evaluation import Evaluation
from cluster.structs.job import Job
from cluster.structs.node import Node
from webui.gateway import gateway

__all__ = [
    "alloc_get",
    "evals_list",
    "job_allocs",
    "job_get",
    "members",
    "node_allocs",
    "node_get",
    "nodes_list",
    "servers",
]


def job_get(*, region: str, namespace: str, job_id: str) -> Job | None:
    args = JobSpecificRequest(JobID=job_id, Namespace=namespace, Region=region)
    return gateway().call_sync("Job.Get", args, SingleJobResponse).Job


def job_allocs(*, region: str, namespace: str, job_id: str) -> list[AllocListStub]:
    args = JobSpecificRequest(JobID=job_id, Namespace=namespace, Region=region)
    return gateway().call_sync("Job.Allocations", args, JobAllocationsResponse).Allocations


def evals_list(*, region: str, namespace: str, job_id: str = "") -> list[Evaluation]:
    """Evaluations of one job, or of a namespace ("*": all), newest first."""
    args = EvalListRequest(Namespace=namespace, FilterJobID=job_id, Region=region)
    evals = gateway().call_sync("Eval.List", args, EvalListResponse).Evaluations
    return sorted(evals, key=lambda e: (e.CreateIndex, e.ID), reverse=True)


def alloc_get(*, region: str, alloc_id: str) -> Allocation | None:
    args = AllocSpecificRequest(AllocID=alloc_id, Region=region)
    return gateway().call_sync("Alloc.Get", args, SingleAllocResponse).Alloc


def nodes_list(*, region: str) -> list[NodeListStub]:
    return gateway().call_sync("Node.List", NodeListRequest(Region=region), NodeListResponse).Nodes


def node_get(*, region: str, node_id: str) -> Node | None:
    args = NodeSpecificRequest(NodeID=node_id, Region=region)
    return gateway().call_sync("Node.Get", args, SingleNodeResponse).Node


def node_allocs(*, region: str, node_id: str) -> list[Allocation]:
    args = NodeSpecificRequest(NodeID=node_id, Region=region)
    allocs = gateway().call_sync("Node.GetAllocs", args, NodeAllocsResponse).Allocs
    return sorted(allocs, key=lambda a: (a.CreateIndex, a.ID))


def members(*, region: str) -> list[AgentMember]:
    """The region's servers as ``nomad server members`` lists them (alive or failed)."""
    return gateway().call_sync("Agent.Members", AgentRequest(Region=region), AgentMembersResponse).Members


def servers(*, region: str) -> tuple[str, list[str]]:
    """The leader's RPC address ("" while there is none) and the Raft voters' addresses."""
    leader = gateway().call_sync("Status.Leader", StatusRequest(Region=region), StatusLeaderResponse).Leader
    peers = gateway().call_sync("Status.Peers", StatusRequest(Region=region), StatusPeersResponse).Peers
    return leader, peers
