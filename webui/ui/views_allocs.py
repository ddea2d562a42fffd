"""/ui/allocations/<id>: one allocation's tasks, their states and events, and its resources.

The CPU/memory chart and the log pane are empty containers that the live layer fills
(``#alloc-stats`` and ``#alloc-logs`` with ``data-alloc-id`` and ``data-tasks``).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse

from cluster.acl import NamespaceCapability
from cluster.errors import NotFound
from webui.ui import present, selectors
from webui.ui.access import namespace_allowed, require_namespace
from webui.ui.render import page, region_of, ui_view
from webui.ui.views_jobs import job_url

__all__ = ["alloc_detail"]


def _task_rows(alloc: Any) -> list[dict[str, Any]]:
    """Per task (by name): its state and its events newest first, times as datetimes."""
    resources = (alloc.AllocatedResources.Tasks or {}) if alloc.AllocatedResources else {}
    names = sorted(set(alloc.TaskStates or {}) | set(resources))
    rows = []
    for name in names:
        state = (alloc.TaskStates or {}).get(name)
        events = list(reversed((state.Events or []) if state is not None else []))
        task_res = resources.get(name)
        rows.append(
            {
                "name": name,
                "state": state,
                "restarts": state.Restarts if state is not None else 0,
                "events": [{"event": e, "time": present.from_ns(e.Time)} for e in events],
                "cpu": task_res.Cpu.CpuShares if task_res else 0,
                "memory": task_res.Memory.MemoryMB if task_res else 0,
            }
        )
    return rows


@ui_view("GET")
def alloc_detail(request: HttpRequest, alloc_id: str) -> HttpResponse:
    alloc = selectors.alloc_get(region=region_of(request), alloc_id=alloc_id)
    if alloc is None:
        # Checked before answering 404, so a token without rights learns nothing about which IDs exist.
        require_namespace(request, request.GET.get("namespace") or "default", NamespaceCapability.READ_JOB)
        raise NotFound(f'allocation "{alloc_id}" not found')
    who = require_namespace(request, alloc.Namespace, NamespaceCapability.READ_JOB)
    tasks = _task_rows(alloc)
    cpu, memory = present.alloc_cpu_memory(alloc)
    context = {
        "viewer": who,
        "alloc": alloc,
        "tasks": tasks,
        "cpu": cpu,
        "memory": memory,
        "task_names": " ".join(t["name"] for t in tasks),
        "created": present.from_ns(alloc.CreateTime),
        "modified": present.from_ns(alloc.ModifyTime),
        "job_url": job_url(alloc.JobID, alloc.Namespace),
        "may_read_logs": namespace_allowed(who, alloc.Namespace, NamespaceCapability.READ_LOGS),
        "live_topics": f"Allocation:{alloc.ID}",
        "live_fragment": request.path + "?fragment=tasks",
        "failures": {
            g: present.failure_lines(m)
            for g, m in (
                {alloc.TaskGroup: alloc.Metrics} if alloc.Metrics and alloc.Metrics.NodesExhausted else {}
            ).items()
        },
    }
    return page(request, "ui/alloc.html", context, {"tasks": "ui/_alloc_tasks.html"})
