"""/v1 node operations (drain, eligibility, purge, evaluate) and allocation stop.

Node operations need ``node { policy = "write" }``; stopping an allocation needs ``alloc-lifecycle`` in
its namespace, as in Nomad. Each answers Nomad's write response with its index in ``X-Nomad-Index``.
"""

from __future__ import annotations

from typing import Any

import msgspec
from django.http import HttpRequest, HttpResponse

from agents.server.endpoints import AllocSpecificRequest, SingleAllocResponse
from agents.server.endpoints_nodes import (
    AllocStopRequest,
    AllocStopResponse,
    NodeBatchDeregisterRequest,
    NodeEvaluateRequest,
    NodeUpdateDrainRequest,
    NodeUpdateEligibilityRequest,
    NodeWriteResponse,
)
from cluster.acl import NamespaceCapability
from cluster.errors import InvalidInput, NotFound, PermissionDenied
from cluster.structs.node import DrainStrategy
from webui.api.auth import PERMISSION_DENIED, request_accessor, request_acl, require_namespace_op
from webui.api.http import api_view, body_field, json_response, read_json
from webui.api.jobs_read import query_options, with_index
from webui.gateway import gateway

__all__ = ["allocation_stop", "node_drain", "node_eligibility", "node_evaluate", "node_purge", "require_node_write"]

_TRUE = frozenset({"1", "true", "yes"})


def require_node_write(request: HttpRequest) -> None:
    """PermissionDenied unless the request's token has ``node { policy = "write" }``."""
    acl = request_acl(request)
    if acl is not None and not acl.allow_node_write():
        raise PermissionDenied(PERMISSION_DENIED)


def _node_write(request: HttpRequest, method: str, args: msgspec.Struct) -> HttpResponse:
    reply = gateway().call_sync(method, args, NodeWriteResponse)
    return with_index(json_response(reply), reply.Index)


def _drain_spec(raw: Any) -> DrainStrategy | None:
    """Nomad's DrainSpec: {"Deadline": ns (-1 forces at once, 0 no deadline), "IgnoreSystemJobs": bool}."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InvalidInput('DrainSpec: expected {"Deadline": <ns>, "IgnoreSystemJobs": <bool>} or null')
    deadline = body_field(raw, "Deadline", int, 0)
    return DrainStrategy(Deadline=deadline, IgnoreSystemJobs=bool(body_field(raw, "IgnoreSystemJobs", bool, False)))


@api_view("POST", "PUT")
def node_drain(request: HttpRequest, node_id: str) -> HttpResponse:
    """POST /v1/node/:id/drain {"DrainSpec": {...} | null, "MarkEligible": bool, "Meta": {...}}."""
    require_node_write(request)
    body = read_json(request)
    meta = body_field(body, "Meta", dict)
    if meta is not None and not all(isinstance(v, str) for v in meta.values()):
        raise InvalidInput("Meta: expected string values")
    args = NodeUpdateDrainRequest(
        NodeID=node_id, DrainStrategy=_drain_spec(body_field(body, "DrainSpec", (dict, type(None)))),
        MarkEligible=bool(body_field(body, "MarkEligible", bool, False)), Meta=meta,
        AccessorID=request_accessor(request), Region=request.GET.get("region", ""))
    return _node_write(request, "Node.UpdateDrain", args)


@api_view("POST", "PUT")
def node_eligibility(request: HttpRequest, node_id: str) -> HttpResponse:
    """POST /v1/node/:id/eligibility {"Eligibility": "eligible" | "ineligible"}."""
    require_node_write(request)
    eligibility = body_field(read_json(request), "Eligibility", str)
    if eligibility is None:
        raise InvalidInput('expected {"Eligibility": "eligible"} or {"Eligibility": "ineligible"}')
    args = NodeUpdateEligibilityRequest(NodeID=node_id, Eligibility=eligibility, Region=request.GET.get("region", ""))
    return _node_write(request, "Node.UpdateEligibility", args)


@api_view("POST", "PUT", "DELETE")
def node_purge(request: HttpRequest, node_id: str) -> HttpResponse:
    """POST /v1/node/:id/purge (and DELETE /v1/node/:id): forget the node; its work is replaced as lost."""
    require_node_write(request)
    args = NodeBatchDeregisterRequest(NodeIDs=[node_id], Region=request.GET.get("region", ""))
    return _node_write(request, "Node.Deregister", args)


@api_view("POST", "PUT")
def node_evaluate(request: HttpRequest, node_id: str) -> HttpResponse:
    """POST /v1/node/:id/evaluate: an evaluation of every job with work on the node."""
    require_node_write(request)
    args = NodeEvaluateRequest(NodeID=node_id, Region=request.GET.get("region", ""))
    return _node_write(request, "Node.Evaluate", args)


@api_view("POST", "PUT")
def allocation_stop(request: HttpRequest, alloc_id: str) -> HttpResponse:
    """POST /v1/allocation/:id/stop[?no_shutdown_delay=true]: {"EvalID": ..., "Index": ...}."""
    opts = query_options(request)
    found = gateway().call_sync("Alloc.Get", AllocSpecificRequest(AllocID=alloc_id, Region=opts.region),
                                SingleAllocResponse)
    if found.Alloc is None:
        require_namespace_op(request, opts.namespace, NamespaceCapability.ALLOC_LIFECYCLE)
        raise NotFound("alloc not found")
    require_namespace_op(request, found.Alloc.Namespace, NamespaceCapability.ALLOC_LIFECYCLE)
    no_delay = request.GET.get("no_shutdown_delay", "").lower() in _TRUE
    args = AllocStopRequest(AllocID=found.Alloc.ID, NoShutdownDelay=no_delay, Region=opts.region)
    reply = gateway().call_sync("Alloc.Stop", args, AllocStopResponse)
    return with_index(json_response(reply), reply.Index)
