"""/v1/agent: the servers of every region (members), the answering server itself (self), and its health.

Caravan's web application is not an agent itself: it answers with the server its gateway reaches, as a
Nomad client agent would answer about the servers it knows. ACL as Nomad's: members need ``node:read``,
self needs ``agent:read``, health needs no token (load balancers call it).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from agents.server.endpoints_operator import (
    AgentHealthResponse,
    AgentMembersResponse,
    AgentRequest,
    AgentSelfResponse,
)
from cluster.errors import PermissionDenied
from webui.api.auth import PERMISSION_DENIED, request_acl
from webui.api.http import api_view, json_response
from webui.gateway import gateway

__all__ = ["agent_health", "agent_members", "agent_self"]


def _args(request: HttpRequest) -> AgentRequest:
    return AgentRequest(Region=request.GET.get("region", ""))


@api_view("GET")
def agent_members(request: HttpRequest) -> HttpResponse:
    """GET /v1/agent/members: every server of every known region (Nomad's WAN pool), alive or failed."""
    acl = request_acl(request)
    if acl is not None and not acl.allow_node_read():
        raise PermissionDenied(PERMISSION_DENIED)
    return json_response(gateway().call_sync("Agent.Members", _args(request), AgentMembersResponse))


@api_view("GET")
def agent_self(request: HttpRequest) -> HttpResponse:
    """GET /v1/agent/self: the answering server's configuration, member entry and Raft statistics."""
    acl = request_acl(request)
    if acl is not None and not acl.allow_agent_read():
        raise PermissionDenied(PERMISSION_DENIED)
    return json_response(gateway().call_sync("Agent.Self", _args(request), AgentSelfResponse))


@api_view("GET")
def agent_health(request: HttpRequest) -> HttpResponse:
    """GET /v1/agent/health: 200 when the server knows a leader, else 500 with the same body shape."""
    reply = gateway().call_sync("Agent.Health", _args(request), AgentHealthResponse)
    return json_response(reply, status=200 if reply.server.ok else 500)
