"""/v1 deployments: list, read and allocations (blocking reads), and the operator's writes: promote, fail,
pause and resume, unblock, allocation health.

Reads need ``read-job`` in the namespace; writes need ``submit-job`` in the deployment's namespace, as
Nomad checks them. A write body may spell its fields in any case (Nomad's JSON decoding ignores case,
and python-nomad sends ``UnHealthyAllocationIDs``). Writes answer Nomad's DeploymentUpdateResponse with
its index in ``X-Nomad-Index``.
"""

from __future__ import annotations

from typing import Any

import msgspec
from django.http import HttpRequest, HttpResponse

from agents.server.endpoints import AllocListResponse
from agents.server.endpoints_deployments import (
    DeploymentAllocHealthRequest,
    DeploymentFailRequest,
    DeploymentListRequest,
    DeploymentListResponse,
    DeploymentPauseRequest,
    DeploymentPromoteRequest,
    DeploymentSpecificRequest,
    DeploymentUnblockRequest,
    DeploymentUpdateResponse,
    SingleDeploymentResponse,
)
from cluster.acl import NamespaceCapability
from cluster.errors import InvalidInput, NotFound
from cluster.structs.deployment import Deployment
from webui.api.auth import readable_in_all_namespaces, require_namespace_op
from webui.api.http import api_view, body_field, json_response, paging, read_json, with_next_token
from webui.api.jobs_read import query_options, with_index
from webui.gateway import gateway

__all__ = ["deployment_allocation_health", "deployment_allocations", "deployment_fail",
           "deployment_get", "deployment_pause", "deployment_promote", "deployment_unblock", "deployments_list"]

def _id_list(body: dict[str, Any], name: str) -> list[str]:
    values = body_field(body, name, list) or []
    if not all(isinstance(v, str) for v in values):
        raise InvalidInput(f"{name}: expected a list of allocation IDs")
    return list(values)


def _paged(response: HttpResponse, index: int, next_token: str) -> HttpResponse:
    return with_index(with_next_token(response, next_token), index)


@api_view("GET")
def deployments_list(request: HttpRequest) -> HttpResponse:
    """GET /v1/deployments: deployments oldest first, ``?prefix=`` on the ID, ``?filter=`` expressions,
    paged by ``per_page``."""
    opts = query_options(request)
    require_namespace_op(request, opts.namespace, NamespaceCapability.READ_JOB)
    per_page, token = paging(request)
    args = DeploymentListRequest(Namespace=opts.namespace, Prefix=request.GET.get("prefix", ""), PerPage=per_page,
                                 NextToken=token, Filter=request.GET.get("filter", ""), **opts.rpc_fields())
    reply = gateway().call_sync("Deployment.List", args, DeploymentListResponse, timeout_s=opts.timeout_s())
    found = readable_in_all_namespaces(request, opts.namespace, reply.Deployments, NamespaceCapability.READ_JOB)
    return _paged(json_response(found), reply.Index, reply.NextToken)


def _deployment(request: HttpRequest, deployment_id: str, capability: str) -> tuple[Deployment, int]:
    """The deployment if the token has ``capability`` in its namespace; 404 "deployment not found"."""
    opts = query_options(request)
    args = DeploymentSpecificRequest(DeploymentID=deployment_id, **opts.rpc_fields())
    reply = gateway().call_sync("Deployment.GetDeployment", args, SingleDeploymentResponse, timeout_s=opts.timeout_s())
    if reply.Deployment is None:
        # Checked before answering 404, so a token without rights learns nothing about which IDs exist.
        require_namespace_op(request, opts.namespace, capability)
        raise NotFound("deployment not found")
    require_namespace_op(request, reply.Deployment.Namespace, capability)
    return reply.Deployment, reply.Index


@api_view("GET")
def deployment_get(request: HttpRequest, deployment_id: str) -> HttpResponse:
    """GET /v1/deployment/:id."""
    deployment, index = _deployment(request, deployment_id, NamespaceCapability.READ_JOB)
    return with_index(json_response(deployment), index)


@api_view("GET")
def deployment_allocations(request: HttpRequest, deployment_id: str) -> HttpResponse:
    """GET /v1/deployment/allocations/:id: the deployment's AllocListStubs, oldest first."""
    deployment, _ = _deployment(request, deployment_id, NamespaceCapability.READ_JOB)
    opts = query_options(request)
    args = DeploymentSpecificRequest(DeploymentID=deployment.ID, **opts.rpc_fields())
    reply = gateway().call_sync("Deployment.Allocations", args, AllocListResponse, timeout_s=opts.timeout_s())
    return with_index(json_response(reply.Allocations), reply.Index)


def _write(request: HttpRequest, deployment_id: str, method: str, args: msgspec.Struct) -> HttpResponse:
    _deployment(request, deployment_id, NamespaceCapability.SUBMIT_JOB)
    reply = gateway().call_sync(method, args, DeploymentUpdateResponse)
    return with_index(json_response(reply), reply.Index)


@api_view("POST", "PUT")
def deployment_promote(request: HttpRequest, deployment_id: str) -> HttpResponse:
    """POST /v1/deployment/promote/:id {"All": true} or {"Groups": [...]}."""
    body = read_json(request)
    groups = body_field(body, "Groups", list)
    if groups is not None and not all(isinstance(g, str) for g in groups):
        raise InvalidInput("Groups: expected a list of task group names")
    args = DeploymentPromoteRequest(DeploymentID=deployment_id, All=bool(body_field(body, "All", bool, False)),
                                    Groups=groups or None, Region=request.GET.get("region", ""))
    return _write(request, deployment_id, "Deployment.Promote", args)


@api_view("POST", "PUT")
def deployment_fail(request: HttpRequest, deployment_id: str) -> HttpResponse:
    """POST /v1/deployment/fail/:id: failed by the user, reverted when the job asks for ``auto_revert``."""
    args = DeploymentFailRequest(DeploymentID=deployment_id, Region=request.GET.get("region", ""))
    return _write(request, deployment_id, "Deployment.Fail", args)


@api_view("POST", "PUT")
def deployment_pause(request: HttpRequest, deployment_id: str) -> HttpResponse:
    """POST /v1/deployment/pause/:id {"Pause": true|false}."""
    pause = body_field(read_json(request), "Pause", bool)
    if pause is None:
        raise InvalidInput('expected {"Pause": true} or {"Pause": false}')
    args = DeploymentPauseRequest(DeploymentID=deployment_id, Pause=pause, Region=request.GET.get("region", ""))
    return _write(request, deployment_id, "Deployment.Pause", args)


@api_view("POST", "PUT")
def deployment_unblock(request: HttpRequest, deployment_id: str) -> HttpResponse:
    """POST /v1/deployment/unblock/:id: completes a multi-region deployment blocked on its peers."""
    args = DeploymentUnblockRequest(DeploymentID=deployment_id, Region=request.GET.get("region", ""))
    return _write(request, deployment_id, "Deployment.Unblock", args)


@api_view("POST", "PUT")
def deployment_allocation_health(request: HttpRequest, deployment_id: str) -> HttpResponse:
    """POST /v1/deployment/allocation-health/:id {"HealthyAllocationIDs": [...], "UnhealthyAllocationIDs": [...]}."""
    body = read_json(request)
    args = DeploymentAllocHealthRequest(
        DeploymentID=deployment_id, HealthyAllocationIDs=_id_list(body, "HealthyAllocationIDs"),
        UnhealthyAllocationIDs=_id_list(body, "UnhealthyAllocationIDs"), Region=request.GET.get("region", ""))
    return _write(request, deployment_id, "Deployment.SetAllocHealth", args)
