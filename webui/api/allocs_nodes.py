"""/v1 reads of allocations and nodes over RPC, with the query options and index headers of the job reads.

Allocation reads need ``read-job`` in the allocation's namespace; node reads need ``node:read`` (a node
belongs to no namespace). A node's allocations need both: ``node:read`` for the node, and each
allocation is shown only if its namespace may be read, so a node reader learns nothing of other teams.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from agents.server.endpoints import (
    AllocListRequest,
    AllocListResponse,
    AllocSpecificRequest,
    JobAllocationsResponse,
    JobSpecificRequest,
    NodeAllocsResponse,
    NodeListRequest,
    NodeListResponse,
    NodeSpecificRequest,
    SingleAllocResponse,
    SingleNodeResponse,
)
from cluster.acl import NamespaceCapability
from cluster.errors import NotFound, PermissionDenied
from cluster.filter import filter_items
from webui.api.auth import PERMISSION_DENIED, readable_in_all_namespaces, request_acl, require_namespace_op
from webui.api.http import api_view, json_response, paging, with_next_token
from webui.api.jobs_read import query_options, with_index
from webui.api.nodes_write import node_purge
from webui.gateway import gateway

__all__ = ["allocation_get", "allocations_list", "job_allocations", "node_allocations", "node_get",
           "nodes_list", "require_node_read"]


def require_node_read(request: HttpRequest) -> None:
    """PermissionDenied unless the request's token has ``node { policy = "read" }`` (or write)."""
    acl = request_acl(request)
    if acl is not None and not acl.allow_node_read():
        raise PermissionDenied(PERMISSION_DENIED)


@api_view("GET")
def allocations_list(request: HttpRequest) -> HttpResponse:
    """GET /v1/allocations: AllocListStubs oldest first, ``?prefix=`` on the ID, ``?filter=`` on the stubs,
    paged by ``?per_page=&next_token=``; ``namespace=*`` keeps the readable ones."""
    opts = query_options(request)
    require_namespace_op(request, opts.namespace, NamespaceCapability.READ_JOB)
    per_page, token = paging(request)
    args = AllocListRequest(Namespace=opts.namespace, Prefix=request.GET.get("prefix", ""),
                            Filter=request.GET.get("filter", ""), PerPage=per_page, NextToken=token,
                            **opts.rpc_fields())
    reply = gateway().call_sync("Alloc.List", args, AllocListResponse, timeout_s=opts.timeout_s())
    allocs = readable_in_all_namespaces(request, opts.namespace, reply.Allocations, NamespaceCapability.READ_JOB)
    return with_index(with_next_token(json_response(allocs), reply.NextToken), reply.Index)


@api_view("GET")
def allocation_get(request: HttpRequest, alloc_id: str) -> HttpResponse:
    """GET /v1/allocation/:id: the full allocation (with its job), 404 "alloc not found" when there is none."""
    opts = query_options(request)
    args = AllocSpecificRequest(AllocID=alloc_id, **opts.rpc_fields())
    reply = gateway().call_sync("Alloc.Get", args, SingleAllocResponse, timeout_s=opts.timeout_s())
    if reply.Alloc is None:
        # Checked before answering 404, so a token without rights learns nothing about which IDs exist.
        require_namespace_op(request, opts.namespace, NamespaceCapability.READ_JOB)
        raise NotFound("alloc not found")
    require_namespace_op(request, reply.Alloc.Namespace, NamespaceCapability.READ_JOB)
    return with_index(json_response(reply.Alloc), reply.Index)


@api_view("GET")
def job_allocations(request: HttpRequest, job_id: str) -> HttpResponse:
    """GET /v1/job/:id/allocations: the job's AllocListStubs, oldest first (an empty list for no job),
    ``?filter=`` on the stubs."""
    opts = query_options(request)
    require_namespace_op(request, opts.namespace, NamespaceCapability.READ_JOB)
    args = JobSpecificRequest(JobID=job_id, Namespace=opts.namespace, **opts.rpc_fields())
    reply = gateway().call_sync("Job.Allocations", args, JobAllocationsResponse, timeout_s=opts.timeout_s())
    return with_index(json_response(filter_items(reply.Allocations, request.GET.get("filter"))), reply.Index)


@api_view("GET")
def nodes_list(request: HttpRequest) -> HttpResponse:
    """GET /v1/nodes: NodeListStubs sorted by ID, ``?prefix=`` on the ID, ``?filter=`` on the stubs, paged
    by ``?per_page=&next_token=`` (a token is the next page's first node ID)."""
    opts = query_options(request)
    require_node_read(request)
    per_page, token = paging(request)
    args = NodeListRequest(Prefix=request.GET.get("prefix", ""), Filter=request.GET.get("filter", ""),
                           PerPage=per_page, NextToken=token, **opts.rpc_fields())
    reply = gateway().call_sync("Node.List", args, NodeListResponse, timeout_s=opts.timeout_s())
    return with_index(with_next_token(json_response(reply.Nodes), reply.NextToken), reply.Index)


@api_view("GET", "DELETE")
def node_get(request: HttpRequest, node_id: str) -> HttpResponse:
    """GET /v1/node/:id: the node without its SecretID, 404 "node not found" when there is none.
    DELETE purges the node (``nodes_write.node_purge``, as ``POST /v1/node/:id/purge``)."""
    if request.method == "DELETE":
        return node_purge(request, node_id)
    opts = query_options(request)
    require_node_read(request)
    args = NodeSpecificRequest(NodeID=node_id, **opts.rpc_fields())
    reply = gateway().call_sync("Node.Get", args, SingleNodeResponse, timeout_s=opts.timeout_s())
    if reply.Node is None:
        raise NotFound("node not found")
    return with_index(json_response(reply.Node), reply.Index)


@api_view("GET")
def node_allocations(request: HttpRequest, node_id: str) -> HttpResponse:
    """GET /v1/node/:id/allocations: the node's full allocations, those of readable namespaces only."""
    opts = query_options(request)
    require_node_read(request)
    args = NodeSpecificRequest(NodeID=node_id, **opts.rpc_fields())
    reply = gateway().call_sync("Node.GetAllocs", args, NodeAllocsResponse, timeout_s=opts.timeout_s())
    allocs = sorted(reply.Allocs, key=lambda a: (a.CreateIndex, a.ID))
    acl = request_acl(request)
    if acl is not None:
        allocs = [a for a in allocs if acl.allow_namespace_op(a.Namespace, NamespaceCapability.READ_JOB)]
    return with_index(json_response(allocs), reply.Index)
