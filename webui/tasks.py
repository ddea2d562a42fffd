"""Celery tasks: the long workflows (``webui.workflows`` starts them, the ``Workflow`` row tracks them).

- ``job_restart``: a rolling in-place restart of a job's running allocations, batch by batch, as
  ``nomad job restart`` does; cancellable between allocations.
- ``snapshot_save``: one state snapshot (``Operator.SnapshotSave``) written to a schedule's directory,
  keeping the newest ``retain`` files.
- ``snapshot_tick``: run by Celery beat every ``SNAPSHOT_TICK_S``; starts the schedules that are due.

Every RPC goes through ``webui.gateway`` (servers) or ``gateway().call_at`` (the allocation's client).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from celery import shared_task
from django.utils import timezone

from agents.client.rpc_endpoints import AllocRestartRequest, Empty
from agents.server.endpoints import (
    AllocListStub,
    JobAllocationsResponse,
    JobSpecificRequest,
    NodeSpecificRequest,
    SingleNodeResponse,
)
from cluster.errors import CaravanError
from webui import workflows
from webui.gateway import gateway
from webui.models import Workflow

__all__ = ["job_restart", "snapshot_save", "snapshot_tick"]

log = logging.getLogger("caravan.tasks")

SNAPSHOT_TICK_S = 30.0
SNAPSHOT_SUFFIX = ".snap"
CANCEL_POLL_S = 0.5


def _sleep_unless_cancelled(wf: Workflow, seconds: float, sleep: Callable[[float], None] = time.sleep) -> bool:
    """Waits ``seconds``; False as soon as a cancel is requested."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if workflows.is_cancel_requested(wf.id):
            return False
        sleep(min(CANCEL_POLL_S, max(0.0, deadline - time.monotonic())))
    return not workflows.is_cancel_requested(wf.id)


def _restartable(stubs: list[AllocListStub], groups: list[str]) -> list[AllocListStub]:
    running = [a for a in stubs if a.ClientStatus == "running" and a.DesiredStatus == "run"
               and (not groups or a.TaskGroup in groups)]
    return sorted(running, key=lambda a: (a.TaskGroup, a.Name))


@shared_task(name="caravan.job_restart")
def job_restart(workflow_id: str) -> str:
    wf = Workflow.objects.get(id=workflow_id)
    p: dict[str, Any] = wf.params
    gw = gateway()
    try:
        reply = gw.call_sync("Job.Allocations", JobSpecificRequest(JobID=p["job_id"], Namespace=p["namespace"]),
                             JobAllocationsResponse)
        allocs = _restartable(reply.Allocations, p["groups"])
        workflows.step(wf, f"restarting {len(allocs)} running allocations", status=Workflow.RUNNING,
                       total=len(allocs), done=0)
        size = int(p["batch_size"])
        addresses: dict[str, str] = {}
        for start in range(0, len(allocs), size):
            if start and not _sleep_unless_cancelled(wf, float(p["batch_wait_s"])):
                workflows.finish(wf, Workflow.CANCELLED, f"cancelled after {wf.done} of {wf.total} allocations")
                return wf.status
            for alloc in allocs[start:start + size]:
                if workflows.is_cancel_requested(wf.id):
                    workflows.finish(wf, Workflow.CANCELLED, f"cancelled after {wf.done} of {wf.total} allocations")
                    return wf.status
                address = addresses.get(alloc.NodeID) or _client_address(alloc.NodeID)
                addresses[alloc.NodeID] = address
                for task in p["tasks"] or [""]:
                    gw.call_at_sync(address, "ClientAllocations.Restart",
                                    AllocRestartRequest(AllocID=alloc.ID, TaskName=task,
                                                        AllTasks=bool(p["all_tasks"]) and not task), Empty)
                what = ", ".join(p["tasks"]) or "running tasks"
                workflows.step(wf, f"restarted {what} of {alloc.Name} ({alloc.ID[:8]}) on node {alloc.NodeID[:8]}",
                               done=wf.done + 1)
        workflows.finish(wf, Workflow.SUCCEEDED, f"all {wf.total} allocations restarted")
    except CaravanError as e:
        workflows.finish(wf, Workflow.FAILED, f"failed: {e}", error=str(e))
    return wf.status


def _client_address(node_id: str) -> str:
    node = gateway().call_sync("Node.Get", NodeSpecificRequest(NodeID=node_id), SingleNodeResponse).Node
    if node is None or not node.HTTPAddr:
        raise CaravanError(f"node {node_id[:8]} cannot be reached (unknown, or no address)")
    return node.HTTPAddr


@shared_task(name="caravan.snapshot_save")
def snapshot_save(workflow_id: str) -> str:
    from webui.api.operator import save_snapshot

    wf = Workflow.objects.get(id=workflow_id)
    p: dict[str, Any] = wf.params
    try:
        workflows.step(wf, "taking a snapshot of the state", status=Workflow.RUNNING)
        archive, index = save_snapshot(region="")
        directory = Path(p["directory"])
        directory.mkdir(parents=True, exist_ok=True)
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        path = directory / f"{p['schedule']}-{stamp}-{index}{SNAPSHOT_SUFFIX}"
        partial = path.with_name(path.name + ".part")
        partial.write_bytes(archive)
        partial.replace(path)
        removed = prune_snapshots(directory, p["schedule"], int(p["retain"]))
        workflows.step(wf, f"wrote {path} ({len(archive)} bytes, Raft index {index})", done=1)
        message = f"snapshot saved; {len(removed)} old files removed" if removed else "snapshot saved"
        workflows.finish(wf, Workflow.SUCCEEDED, message,
                         result={"path": str(path), "bytes": len(archive), "index": index,
                                 "removed": [str(r) for r in removed]})
    except (CaravanError, OSError) as e:
        workflows.finish(wf, Workflow.FAILED, f"failed: {e}", error=str(e))
    return wf.status


def prune_snapshots(directory: Path, schedule: str, retain: int) -> list[Path]:
    """Deletes all but the newest ``retain`` snapshot files of ``schedule``; the paths removed."""
    files = sorted(directory.glob(f"{schedule}-*{SNAPSHOT_SUFFIX}"), key=lambda f: f.name)
    old = files[:-retain] if retain > 0 else files
    for f in old:
        f.unlink(missing_ok=True)
    return old


@shared_task(name="caravan.snapshot_tick")
def snapshot_tick() -> int:
    started = 0
    for schedule in workflows.due_schedules(timezone.now()):
        workflows.start_snapshot(schedule)
        started += 1
    return started
