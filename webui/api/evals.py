"""/v1 evaluations: the list (``?job=``, ``?status=``, ``?prefix=``, ``?filter=`` expressions, paged by ``per_page``/``next_token``
with ``X-Nomad-NextToken``), the count, and an evaluation's allocations. All need ``read-job``; with
``namespace=*`` only the readable namespaces' evaluations are shown.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from agents.server.endpoints import AllocListResponse, EvalListRequest, EvalListResponse, EvalSpecificRequest
from agents.server.endpoints_nodes import EvalCountRequest, EvalCountResponse
from cluster.acl import NamespaceCapability
from webui.api.auth import readable_in_all_namespaces, request_acl, require_namespace_op
from webui.api.http import api_view, json_response, paging, with_next_token
from webui.api.jobs_read import query_options, with_index
from webui.gateway import gateway

__all__ = ["evaluation_allocations", "evaluations_count", "evaluations_list"]


@api_view("GET")
def evaluations_list(request: HttpRequest) -> HttpResponse:
    """GET /v1/evaluations: evaluations oldest first."""
    opts = query_options(request)
    require_namespace_op(request, opts.namespace, NamespaceCapability.READ_JOB)
    per_page, token = paging(request)
    args = EvalListRequest(
        Namespace=opts.namespace, Prefix=request.GET.get("prefix", ""), FilterJobID=request.GET.get("job", ""),
        FilterEvalStatus=request.GET.get("status", ""), PerPage=per_page, NextToken=token,
        Filter=request.GET.get("filter", ""), **opts.rpc_fields())
    reply = gateway().call_sync("Eval.List", args, EvalListResponse, timeout_s=opts.timeout_s())
    evals = readable_in_all_namespaces(request, opts.namespace, reply.Evaluations, NamespaceCapability.READ_JOB)
    return with_index(with_next_token(json_response(evals), reply.NextToken), reply.Index)


@api_view("GET")
def evaluations_count(request: HttpRequest) -> HttpResponse:
    """GET /v1/evaluations/count: {"Count": N} of the namespace's evaluations (``?job=``, ``?status=``)."""
    opts = query_options(request)
    require_namespace_op(request, opts.namespace, NamespaceCapability.READ_JOB)
    if opts.namespace == "*" and request_acl(request) is not None:
        # Only what the token may read counts: list them all and keep the readable ones.
        listed = EvalListRequest(Namespace="*", FilterJobID=request.GET.get("job", ""),
                                 FilterEvalStatus=request.GET.get("status", ""), Filter=request.GET.get("filter", ""),
                                 **opts.rpc_fields())
        page = gateway().call_sync("Eval.List", listed, EvalListResponse, timeout_s=opts.timeout_s())
        readable = readable_in_all_namespaces(request, "*", page.Evaluations, NamespaceCapability.READ_JOB)
        return with_index(json_response({"Count": len(readable)}), page.Index)
    args = EvalCountRequest(Namespace=opts.namespace, FilterJobID=request.GET.get("job", ""),
                            FilterEvalStatus=request.GET.get("status", ""), Filter=request.GET.get("filter", ""),
                            **opts.rpc_fields())
    reply = gateway().call_sync("Eval.Count", args, EvalCountResponse, timeout_s=opts.timeout_s())
    return with_index(json_response({"Count": reply.Count}), reply.Index)


@api_view("GET")
def evaluation_allocations(request: HttpRequest, eval_id: str) -> HttpResponse:
    """GET /v1/evaluation/:id/allocations: the AllocListStubs the evaluation placed, readable ones only."""
    opts = query_options(request)
    require_namespace_op(request, opts.namespace, NamespaceCapability.READ_JOB)
    args = EvalSpecificRequest(EvalID=eval_id, **opts.rpc_fields())
    reply = gateway().call_sync("Eval.Allocations", args, AllocListResponse, timeout_s=opts.timeout_s())
    acl = request_acl(request)
    allocs = reply.Allocations
    if acl is not None:
        allocs = [a for a in allocs if acl.allow_namespace_op(a.Namespace, NamespaceCapability.READ_JOB)]
    return with_index(json_response(allocs), reply.Index)
