"""Clients: the list of nodes and one node's detail (resources used against total, attributes, meta,
allocations), with the drain dialog and the eligibility toggle (``node:write``). Node pages need
``node:read``; a node's allocations are shown only for namespaces the token may read, so a node
reader learns nothing of other teams' jobs.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from cluster.acl import NamespaceCapability
from cluster.errors import InvalidInput, NotFound
from webui.api.jobs_read import SECOND_NS, parse_wait_ns
from webui.ui import present, selectors, services
from webui.ui.access import namespace_allowed, require_node_read, require_node_write
from webui.ui.render import page, region_of, ui_view

__all__ = ["client_detail", "client_drain", "client_eligibility", "clients_list"]


@ui_view("GET")
def clients_list(request: HttpRequest) -> HttpResponse:
    who = require_node_read(request)
    nodes = selectors.nodes_list(region=region_of(request))
    search = request.GET.get("search", "").strip().lower()
    if search:
        nodes = [n for n in nodes if n.ID.startswith(search) or search in n.Name.lower()]
    context = {
        "viewer": who,
        "nodes": sorted(nodes, key=lambda n: (n.Datacenter, n.Name, n.ID)),
        "search": request.GET.get("search", ""),
        "live_fragment": request.path + "?fragment=clients",
    }
    return page(request, "ui/clients.html", context, {"clients": "ui/_clients_table.html"})


@ui_view("GET")
def client_detail(request: HttpRequest, node_id: str) -> HttpResponse:
    who = require_node_read(request)
    region = region_of(request)
    node = selectors.node_get(region=region, node_id=node_id)
    if node is None:
        raise NotFound(f'client "{node_id}" not found')
    allocs = selectors.node_allocs(region=region, node_id=node_id)
    visible = [a for a in allocs if namespace_allowed(who, a.Namespace, NamespaceCapability.READ_JOB)]
    context: dict[str, Any] = {
        "viewer": who,
        "node": node,
        "usage": present.node_usage(node, allocs),
        "attributes": sorted((node.Attributes or {}).items()),
        "meta": sorted((node.Meta or {}).items()),
        "drivers": sorted((node.Drivers or {}).items()),
        "allocs": [
            {
                "alloc": a,
                "version": (a.Job.Version or 0) if a.Job else 0,
                "created": present.from_ns(a.CreateTime),
                "modified": present.from_ns(a.ModifyTime),
            }
            for a in reversed(visible)
        ],
        "may_write": who.acl is None or who.acl.allow_node_write(),
        "drain_deadline": _duration_text(node.DrainStrategy.Deadline // SECOND_NS)
        if node.DrainStrategy
        else "",
        "live_topics": f"Node:{node.ID} Allocation:*",
        "live_fragment": request.path + "?fragment=live",
        "actions_fragment": request.path + "?fragment=actions",  # the buttons follow the drain too
    }
    fragments = {"live": "ui/_client_live.html", "actions": "ui/_client_actions.html"}
    return page(request, "ui/client.html", context, fragments)


def _duration_text(seconds: int) -> str:
    hours, rest = divmod(max(0, seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return "".join(f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if n) or "0s"


def _deadline_s(request: HttpRequest) -> int:
    """The drain deadline from the dialog: a Go duration ("1h", "30m"), "force" (now), or empty (none)."""
    if request.POST.get("force"):
        return -1
    text = request.POST.get("deadline", "").strip()
    if not text:
        return 0
    seconds = parse_wait_ns(text) // SECOND_NS
    if seconds <= 0:
        raise InvalidInput(f"deadline: expected a positive duration such as 1h or 30m, got {text!r}")
    return seconds


@ui_view("POST")
def client_drain(request: HttpRequest, node_id: str) -> HttpResponse:
    """Starts (``enable=1``, deadline, ignore system jobs) or cancels (``enable=0``) a node's drain; a cancel
    with ``mark_eligible=1`` (the page's Stop button) also makes it eligible, as ``nomad node drain -disable``."""
    require_node_write(request)
    enable = request.POST.get("enable") == "1"
    services.node_drain(
        node_id=node_id,
        enable=enable,
        deadline_s=_deadline_s(request) if enable else 0,
        ignore_system_jobs=bool(request.POST.get("ignore_system_jobs")),
        mark_eligible=not enable and request.POST.get("mark_eligible") == "1",
        region=region_of(request),
    )
    return HttpResponseRedirect(reverse("ui:client", args=[node_id]))


@ui_view("POST")
def client_eligibility(request: HttpRequest, node_id: str) -> HttpResponse:
    require_node_write(request)
    services.node_eligibility(
        node_id=node_id, eligible=request.POST.get("eligible") == "1", region=region_of(request)
    )
    return HttpResponseRedirect(reverse("ui:client", args=[node_id]))
