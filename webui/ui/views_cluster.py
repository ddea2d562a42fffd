"""Cluster-wide pages: servers (Raft peers and leader), topology (datacenters, nodes sized by capacity,
allocations as CPU and memory blocks) and evaluations (with placement-failure explanations).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.http import HttpRequest, HttpResponse

from cluster.acl import ALL_NAMESPACES, NamespaceCapability
from webui.ui import present, selectors
from webui.ui.access import namespace_allowed, require_agent_read, require_namespace, require_node_read
from webui.ui.render import page, region_of, ui_view

__all__ = ["evaluations", "servers", "topology"]

EVAL_STATUSES = ("pending", "blocked", "complete", "failed", "canceled")
MAX_EVALS_SHOWN = 200


@ui_view("GET")
def servers(request: HttpRequest) -> HttpResponse:
    """The region's servers: name, addresses, alive or failed, leader, Raft voter."""
    who = require_agent_read(request)
    region = region_of(request)
    leader, peers = selectors.servers(region=region)
    rows = []
    for member in sorted(selectors.members(region=region), key=lambda m: m.Name):
        tags = member.Tags
        rpc = f"{tags.get('rpc_addr', '')}:{tags.get('port', '')}" if tags.get("rpc_addr") else ""
        rows.append(
            {
                "member": member,
                "rpc": rpc,
                "leader": bool(rpc) and rpc == leader,
                "voter": rpc in peers,
                "raft": f"{member.Addr}:{member.Port}" if member.Addr else "",
                "datacenter": tags.get("dc", ""),
                "build": tags.get("build", ""),
            }
        )
    return page(request, "ui/servers.html", {"viewer": who, "rows": rows, "leader": leader, "peers": peers})


def _node_block(node: Any, allocs: list[Any], largest_mhz: int) -> dict[str, Any]:
    usage = present.node_usage(node, allocs)
    blocks = []
    for alloc in allocs:
        if not present.is_live(alloc):
            continue
        cpu, memory = present.alloc_cpu_memory(alloc)
        blocks.append(
            {
                "alloc": alloc,
                "cpu_percent": round(100.0 * cpu / usage.cpu_total, 2) if usage.cpu_total else 0,
                "memory_percent": round(100.0 * memory / usage.memory_total, 2) if usage.memory_total else 0,
                "cpu": cpu,
                "memory": memory,
            }
        )
    # Width relative to the largest node, so capacity differences are visible at a glance.
    width = max(12.0, round(100.0 * usage.cpu_total / largest_mhz, 1)) if largest_mhz else 100.0
    return {"node": node, "usage": usage, "blocks": blocks, "width": width}


@ui_view("GET")
def topology(request: HttpRequest) -> HttpResponse:
    """Every node's full record and allocations: two reads per node, fine for tens of nodes."""
    who = require_node_read(request)
    region = region_of(request)
    nodes = []
    for stub in selectors.nodes_list(region=region):
        node = selectors.node_get(region=region, node_id=stub.ID)
        if node is not None:
            allocs = [
                a
                for a in selectors.node_allocs(region=region, node_id=stub.ID)
                if namespace_allowed(who, a.Namespace, NamespaceCapability.READ_JOB)
            ]
            nodes.append((node, allocs))
    largest = max((present.node_usage(n, []).cpu_total for n, _ in nodes), default=0)
    by_dc: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for node, allocs in sorted(nodes, key=lambda pair: pair[0].Name):
        by_dc[node.Datacenter].append(_node_block(node, allocs, largest))
    context = {
        "viewer": who,
        "datacenters": sorted(by_dc.items()),
        "live_fragment": request.path + "?fragment=topology",
    }
    return page(request, "ui/topology.html", context, {"topology": "ui/_topology.html"})


@ui_view("GET")
def evaluations(request: HttpRequest) -> HttpResponse:
    namespace = request.GET.get("namespace") or "default"
    who = require_namespace(request, namespace, NamespaceCapability.READ_JOB)
    status = request.GET.get("status", "")
    evals = selectors.evals_list(region=region_of(request), namespace=namespace)
    if namespace == ALL_NAMESPACES:
        evals = [e for e in evals if namespace_allowed(who, e.Namespace, NamespaceCapability.READ_JOB)]
    if status:
        evals = [e for e in evals if e.Status == status]
    if request.GET.get("failures"):
        evals = [e for e in evals if e.FailedTGAllocs]
    rows = [
        {
            "eval": e,
            "created": present.from_ns(e.CreateTime),
            "failures": {g: present.failure_lines(m) for g, m in sorted((e.FailedTGAllocs or {}).items())},
        }
        for e in evals[:MAX_EVALS_SHOWN]
    ]
    context = {
        "viewer": who,
        "rows": rows,
        "total": len(evals),
        "status": status,
        "statuses": EVAL_STATUSES,
        "failures_only": bool(request.GET.get("failures")),
        "namespace": namespace,
        "live_fragment": request.get_full_path() + ("&" if request.GET else "?") + "fragment=evals",
    }
    return page(request, "ui/evaluations.html", context, {"evals": "ui/_evals_table.html"})
