"""Workflows in the dashboard: start a rolling job restart, watch any workflow's progress live, cancel it.

    /ui/workflows                  the newest workflows (job restarts, scheduled snapshots)
    /ui/workflows/<id>             one workflow: progress, log, cancel (live: ``Workflow:<id>``)
    POST /ui/jobs/<ref>/restart    start a rolling restart of the job (needs alloc-lifecycle)

A job restart is visible to whoever may read its job; snapshots (the whole state) to management tokens.
"""

from __future__ import annotations

import uuid

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from cluster.acl import NamespaceCapability
from cluster.errors import InvalidInput, NotFound, PermissionDenied
from cluster.jobspec.values import KindError, parse_duration_ns
from webui import workflows
from webui.api.auth import PERMISSION_DENIED
from webui.models import Workflow
from webui.ui.access import Viewer, require_namespace, viewer
from webui.ui.render import page, ui_view
from webui.ui.views_jobs import split_job_ref

__all__ = ["job_restart", "workflow_cancel", "workflow_detail", "workflow_visible", "workflows_list"]

LIST_LIMIT = 100


def workflow_visible(who: Viewer, wf: Workflow) -> bool:
    return workflows.workflow_allowed(who.acl, wf.kind, wf.namespace)


def _workflow(request: HttpRequest, workflow_id: str) -> tuple[Viewer, Workflow]:
    try:
        key = uuid.UUID(workflow_id)
    except ValueError:
        raise NotFound(f"workflow {workflow_id[:64]!r} not found") from None
    wf = Workflow.objects.filter(id=key).first()
    who = viewer(request)
    if wf is None or not workflow_visible(who, wf):
        raise NotFound(f"workflow {workflow_id} not found")
    return who, wf


@ui_view("GET")
def workflows_list(request: HttpRequest) -> HttpResponse:
    who = viewer(request)
    rows = [wf for wf in Workflow.objects.all()[:LIST_LIMIT] if workflow_visible(who, wf)]
    return page(request, "ui/workflows.html", {"viewer": who, "section": "workflows", "workflows": rows,
                                               "live_fragment": reverse("ui:workflows") + "?fragment=table"},
                {"table": "ui/_workflows_table.html"})


@ui_view("GET")
def workflow_detail(request: HttpRequest, workflow_id: str) -> HttpResponse:
    who, wf = _workflow(request, workflow_id)
    may_cancel = _may_change(who, wf) and wf.status not in Workflow.TERMINAL
    context = {"viewer": who, "section": "workflows", "wf": wf, "events": list(wf.events.all()),
               "may_cancel": may_cancel,
               "live_fragment": reverse("ui:workflow", args=[wf.id]) + "?fragment=progress"}
    return page(request, "ui/workflow.html", context, {"progress": "ui/_workflow_progress.html"})


def _may_change(who: Viewer, wf: Workflow) -> bool:
    return workflows.workflow_allowed(who.acl, wf.kind, wf.namespace, NamespaceCapability.ALLOC_LIFECYCLE)


@ui_view("POST")
def workflow_cancel(request: HttpRequest, workflow_id: str) -> HttpResponse:
    who, wf = _workflow(request, workflow_id)
    if not _may_change(who, wf):
        raise PermissionDenied(PERMISSION_DENIED)
    workflows.request_cancel(wf.id)
    return HttpResponseRedirect(reverse("ui:workflow", args=[wf.id]))


def _positive_int(request: HttpRequest, name: str, default: int) -> int:
    raw = request.POST.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name}: expected a whole number, got {raw[:32]!r}") from None
    if value < 1:
        raise InvalidInput(f"{name}: must be at least 1")
    return value


@ui_view("POST")
def job_restart(request: HttpRequest, job_ref: str) -> HttpResponse:
    """Starts a rolling restart of the job's running allocations (``nomad job restart``) as a workflow."""
    job_id, namespace = split_job_ref(request, job_ref)
    who = require_namespace(request, namespace, NamespaceCapability.ALLOC_LIFECYCLE)
    wait_text = request.POST.get("batch_wait", "").strip() or "0s"
    try:
        wait_s = parse_duration_ns(wait_text) / 1e9
    except KindError as e:
        raise InvalidInput(f"batch_wait: {e}") from None
    groups = [g for g in request.POST.getlist("group") if g]
    wf = workflows.start_job_restart(
        namespace=namespace, job_id=job_id, batch_size=_positive_int(request, "batch_size", 1),
        batch_wait_s=wait_s, groups=groups, requested_by=who.name if who.acl is not None else "")
    return HttpResponseRedirect(reverse("ui:workflow", args=[wf.id]))
