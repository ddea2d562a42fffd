"""/v1/status/leader and /v1/status/peers: which servers form the region's Raft group.

As in Nomad, these need no token: clients use them to find the cluster before they authenticate.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from agents.server.endpoints import StatusLeaderResponse, StatusPeersResponse, StatusRequest
from webui.api.http import api_view, json_response
from webui.gateway import gateway

__all__ = ["status_leader", "status_peers"]


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
