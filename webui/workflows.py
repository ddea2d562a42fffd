"""Long operator workflows (Celery tasks), each a ``Workflow`` row with its progress and log.

    wf = start_job_restart(namespace="default", job_id="web", batch_size=2, batch_wait_s=10, requested_by="ops")
    request_cancel(wf.id)

Views start workflows here; ``webui.tasks`` runs them and reports through :func:`step` and :func:`finish`,
which save the row and tell the workflow's page (channel-layer group ``workflow.<id>``) so it updates live.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from asgiref.sync import async_to_sync
from django import db
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cluster.acl import ACL, NamespaceCapability
from cluster.errors import InvalidInput, NotFound
from webui.models import SnapshotSchedule, Workflow, WorkflowEvent

__all__ = [
    "ALL_WORKFLOWS_GROUP",
    "WORKFLOW_GROUP_PREFIX",
    "due_schedules",
    "finish",
    "group_name",
    "is_cancel_requested",
    "request_cancel",
    "start_job_restart",
    "start_snapshot",
    "step",
    "workflow_allowed",
]

log = logging.getLogger("caravan.workflows")

WORKFLOW_GROUP_PREFIX = "workflow."
ALL_WORKFLOWS_GROUP = "workflow.all"
MAX_BATCH_WAIT_S = 3600.0


def workflow_allowed(acl: ACL | None, kind: str, namespace: str,
                     capability: str = NamespaceCapability.READ_JOB) -> bool:
    """Whether a token may see (``read-job``) or act on (``alloc-lifecycle``) a workflow: a job restart is
    the business of its job's namespace, a snapshot (the whole state) of management tokens. ``acl`` None:
    enforcement is off. The pages and the live socket both ask this."""
    if acl is None:
        return True
    if kind == Workflow.KIND_JOB_RESTART:
        return acl.allow_namespace_op(namespace or "default", capability)
    return acl.is_management


def group_name(workflow_id: uuid.UUID | str) -> str:
    """The channel-layer group a workflow's page listens on (letters, digits, ``.`` and ``-``: valid)."""
    return f"{WORKFLOW_GROUP_PREFIX}{workflow_id}"


def _notify(wf: Workflow) -> None:
    """Tells the workflow's page it changed. Best effort: the row is the truth, the page re-reads it."""
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "workflow.changed", "id": str(wf.id), "kind": wf.kind, "status": wf.status,
               "done": wf.done, "total": wf.total, "namespace": wf.namespace}
    try:
        async_to_sync(layer.group_send)(group_name(wf.id), message)
        async_to_sync(layer.group_send)(ALL_WORKFLOWS_GROUP, message)
    except Exception as e:  # a broken channel layer must not fail the workflow itself
        log.warning("workflow %s: could not notify its page: %s", wf.id, e)


def _enqueue(task_name: str, workflow_id: uuid.UUID) -> None:
    """Queues the task once the workflow's row is committed. Without a broker (dev: Celery runs tasks
    eagerly) it runs on a thread of this process, so the request that started it answers at once and the
    workflow's page shows its progress live; ``WORKFLOWS_INLINE`` (tests) runs it in the request."""
    from webui import tasks

    task = getattr(tasks, task_name)
    if settings.CELERY_TASK_ALWAYS_EAGER and not getattr(settings, "WORKFLOWS_INLINE", False):
        transaction.on_commit(lambda: _run_on_thread(task, str(workflow_id)))
    else:
        transaction.on_commit(lambda: task.delay(str(workflow_id)))


def _run_on_thread(task: Any, workflow_id: str) -> None:
    def run() -> None:
        try:
            task.apply(args=[workflow_id])
        finally:
            db.connections.close_all()  # this thread's connections, not the request's

    threading.Thread(target=run, name=f"workflow-{workflow_id[:8]}", daemon=True).start()


def start_job_restart(*, namespace: str, job_id: str, batch_size: int = 1, batch_wait_s: float = 0.0,
                      groups: Sequence[str] = (), tasks: Sequence[str] = (), all_tasks: bool = False,
                      requested_by: str = "") -> Workflow:
    """A rolling restart of the job's running allocations, as ``nomad job restart``: ``batch_size`` at a
    time (in place, on their clients), ``batch_wait_s`` between batches."""
    if not job_id:
        raise InvalidInput("job: required")
    if batch_size < 1:
        raise InvalidInput(f"batch_size: must be at least 1, got {batch_size}")
    if not 0 <= batch_wait_s <= MAX_BATCH_WAIT_S:
        raise InvalidInput(f"batch_wait: must be between 0 and {MAX_BATCH_WAIT_S:.0f} s, got {batch_wait_s}")
    params: dict[str, Any] = {"namespace": namespace or "default", "job_id": job_id, "batch_size": batch_size,
                              "batch_wait_s": batch_wait_s, "groups": list(groups), "tasks": list(tasks),
                              "all_tasks": all_tasks}
    with transaction.atomic():
        wf = Workflow.objects.create(kind=Workflow.KIND_JOB_RESTART, title=f"Restart job {job_id}", params=params,
                                     requested_by=requested_by)
        WorkflowEvent.objects.create(workflow=wf, message=f"queued: batches of {batch_size}, "
                                                          f"{batch_wait_s:g} s between batches")
        _enqueue("job_restart", wf.id)
    return wf


def start_snapshot(schedule: SnapshotSchedule, *, requested_by: str = "schedule") -> Workflow:
    params = {"schedule": schedule.name, "directory": schedule.directory, "retain": schedule.retain}
    with transaction.atomic():
        wf = Workflow.objects.create(kind=Workflow.KIND_SNAPSHOT, title=f"Snapshot {schedule.name}", params=params,
                                     requested_by=requested_by, total=1)
        SnapshotSchedule.objects.filter(pk=schedule.pk).update(last_run=timezone.now())
        _enqueue("snapshot_save", wf.id)
    return wf


def due_schedules(now: datetime) -> list[SnapshotSchedule]:
    """Enabled schedules whose interval has passed since their last run (or that never ran)."""
    due = []
    for schedule in SnapshotSchedule.objects.filter(enabled=True):
        if schedule.last_run is None or schedule.last_run + max(schedule.interval, timedelta(seconds=1)) <= now:
            due.append(schedule)
    return due


def request_cancel(workflow_id: uuid.UUID | str) -> Workflow:
    wf = Workflow.objects.filter(id=workflow_id).first()
    if wf is None:
        raise NotFound(f"workflow {workflow_id} not found")
    if wf.status not in Workflow.TERMINAL:
        Workflow.objects.filter(id=wf.id).update(cancel_requested=True)
        WorkflowEvent.objects.create(workflow=wf, message="cancel requested")
        wf.refresh_from_db()
        _notify(wf)
    return wf


def is_cancel_requested(workflow_id: uuid.UUID | str) -> bool:
    return Workflow.objects.filter(id=workflow_id, cancel_requested=True).exists()


def step(wf: Workflow, message: str, **fields: Any) -> None:
    """Records progress: a log line and the changed fields (``done``, ``total``, ``status``...)."""
    for name, value in fields.items():
        setattr(wf, name, value)
    if fields.get("status") == Workflow.RUNNING and wf.started is None:
        wf.started = timezone.now()
        fields["started"] = wf.started
    with transaction.atomic():
        if fields:
            wf.save(update_fields=list(fields))
        WorkflowEvent.objects.create(workflow=wf, message=message)
    _notify(wf)


def finish(wf: Workflow, status: str, message: str, *, error: str = "", result: dict[str, Any] | None = None) -> None:
    assert status in Workflow.TERMINAL, status
    wf.status, wf.error, wf.finished = status, error, timezone.now()
    if result is not None:
        wf.result = result
    with transaction.atomic():
        wf.save(update_fields=["status", "error", "finished", "result"])
        WorkflowEvent.objects.create(workflow=wf, message=message)
    log.info("workflow %s (%s) %s: %s", wf.id, wf.kind, status, message)
    _notify(wf)
