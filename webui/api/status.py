"""/v1/status/leader, /v1/status/peers and /v1/regions: which servers form the region's Raft group, and
which regions there are.

As in Nomad, these need no token: clients use them to find the cluster before they authenticate.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from agents.server.endpoints import StatusLeaderResponse, StatusPeersResponse, StatusRequest
from agents.server.endpoints_operator import AgentRequest, RegionsResponse
from webui.api.http import api_view, json_response
from webui.gateway import gateway

__all__ = ["regions", "status_leader", "status_peers"]


@api_view("GET")
def status_leader(request: HttpRequest) -> HttpResponse:
    """The leader's RPC address as a JSON string ("" while the region has no leader)."""
    args = StatusRequest(Region=request.GET.get("region", ""))
    return json_response(gateway().call_sync("Status.Leader", args, StatusLeaderResponse).Leader)


@api_view("GET")
def status_peers(request: HttpRequest) -> HttpResponse:
    """The RPC addresses of the region's Raft voters, as a JSON list."""
    args = StatusRequest(Region=request.GET.get("region", ""))
    return json_response(gateway().call_sync("Status.Peers", args, StatusPeersResponse).Peers)


@api_view("GET")
def regions(request: HttpRequest) -> HttpResponse:
    """GET /v1/regions: the names of the known regions, sorted (needs no token, as in Nomad)."""
    reply = gateway().call_sync("Status.Regions", AgentRequest(), RegionsResponse)
    return json_response(reply.Regions)
