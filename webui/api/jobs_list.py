"""GET /v1/jobs as Nomad answers it: full ``JobListStub``s (with ``JobSummary``), ``?prefix=``,
``?namespace=*``, ``?meta=true`` (each job's ``Meta``), ``?filter=`` (Nomad's filter language, ``cluster.filter``), and paging with
``?per_page=`` and ``?next_token=``, the next page's token in ``X-Nomad-NextToken``.

Prefix, filter and paging run on the server, so a page costs the page, not the 10,000 jobs. With
``namespace=*`` the server pages over every namespace and this view then drops the jobs of namespaces
the token may not list (a page may come back shorter than ``per_page``; the token still moves on).
"""

from __future__ import annotations

import msgspec
from django.http import HttpRequest, HttpResponse

from agents.server.endpoints import JobListRequest, JobListResponse
from cluster.acl import NamespaceCapability
from webui.api.auth import readable_in_all_namespaces, require_namespace_op
from webui.api.http import api_view, json_response, paging, with_next_token
from webui.api.jobs_read import query_options, with_index
from webui.gateway import gateway

__all__ = ["jobs_list"]


@api_view("GET")
def jobs_list(request: HttpRequest) -> HttpResponse:
    """GET /v1/jobs: a page of JobListStubs in (namespace, ID) order."""
    opts = query_options(request)
    require_namespace_op(request, opts.namespace, NamespaceCapability.LIST_JOBS)
    per_page, token = paging(request)
    args = JobListRequest(Namespace=opts.namespace, Prefix=request.GET.get("prefix", ""),
                          Filter=request.GET.get("filter", ""), PerPage=per_page, NextToken=token, **opts.rpc_fields())
    reply = gateway().call_sync("Job.List", args, JobListResponse, timeout_s=opts.timeout_s())
    jobs = readable_in_all_namespaces(request, opts.namespace, reply.Jobs, NamespaceCapability.LIST_JOBS)
    if request.GET.get("meta", "").lower() not in ("true", "1"):
        jobs = [msgspec.structs.replace(j, Meta=None) if j.Meta else j for j in jobs]  # Nomad: only ?meta=true
    return with_index(with_next_token(json_response(jobs), reply.NextToken), reply.Index)
