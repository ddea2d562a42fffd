"""Deployment writes: status changes, canary promotion and allocation health, as Nomad's state
store does them. A deployment that succeeds marks its job version stable: the version a later
auto-revert returns to."""

from __future__ import annotations

from datetime import datetime

import msgspec

from cluster.deployments.descriptions import DeploymentDescription
from cluster.errors import Conflict, InvalidInput, NotFound
from cluster.state.requests import DeploymentStatusUpdate
from cluster.state.snapshot import ACTIVE_DEPLOYMENT_STATUSES
from cluster.state.txn import WriteTxn
from cluster.state.write_allocs import DeploymentCounters
from cluster.state.write_jobs import set_job_stability
from cluster.structs.alloc import AllocDeploymentStatus
from cluster.structs.constants import DeploymentStatus
from cluster.structs.deployment import Deployment

__all__ = [
    "delete_deployments",
    "update_deployment_alloc_health",
    "update_deployment_promotion",
    "update_deployment_status",
    "upsert_deployment",
]


def _need(txn: WriteTxn, deployment_id: str) -> Deployment:
    d = txn.deployment(deployment_id)
    if d is None:
        raise NotFound(f'deployment "{deployment_id}" not found')
    return d


def upsert_deployment(txn: WriteTxn, deployment: Deployment, event_type: str) -> None:
    existing = txn.deployment(deployment.ID)
    deployment.CreateIndex = existing.CreateIndex if existing is not None else txn.index
    deployment.ModifyIndex = txn.index
    txn.put_deployment(deployment, event_type)


def delete_deployments(txn: WriteTxn, deployment_ids: list[str]) -> None:
    """Garbage collection: removes deployments outright (unknown IDs are skipped, no events, as Nomad)."""
    for deployment_id in deployment_ids:
        txn.delete_deployment(deployment_id)


def update_deployment_status(txn: WriteTxn, update: DeploymentStatusUpdate, event_type: str,
                             now_ns: int = 0) -> Deployment:
    """Moves the deployment to its new status at ``update.UpdatedAt`` (else ``now_ns``, the command's
    time): its ``ModifyTime``, so that garbage collection ages it from its last status change."""
    d = _need(txn, update.DeploymentID)
    updated = msgspec.structs.replace(d, Status=update.Status, StatusDescription=update.StatusDescription,
                                      ModifyIndex=txn.index, ModifyTime=_modified_at(d, update.UpdatedAt or now_ns))
    txn.put_deployment(updated, event_type)
    if update.Status == DeploymentStatus.SUCCESSFUL:
        job = txn.job(d.Namespace, d.JobID)
        if job is not None and any(v.Version == d.JobVersion for v in txn.job_versions(d.Namespace, d.JobID)):
            set_job_stability(txn, d.Namespace, d.JobID, d.JobVersion, True, event_type)
    return updated


def _modified_at(d: Deployment, now_ns: int) -> int:
    """The deployment's new ``ModifyTime``: ``now_ns``, or the old one for a command that carries no
    time (an older log entry); it never goes back."""
    return max(d.ModifyTime, now_ns)


def update_deployment_promotion(txn: WriteTxn, deployment_id: str, all_groups: bool, groups: list[str],
                                event_type: str, now_ns: int = 0) -> Deployment:
    """Promotes the canaries of the named groups (or all groups): each must have as many healthy
    canaries as it wants. The promoted canaries stop being canaries."""
    d = _need(txn, deployment_id)
    if d.Status not in ACTIVE_DEPLOYMENT_STATUSES:
        raise Conflict(f'deployment "{deployment_id}" is {d.Status}: only an active deployment can be promoted')
    states = dict(d.TaskGroups or {})
    wanted = list(states) if all_groups else groups
    unknown = [g for g in wanted if g not in states]
    if unknown:
        raise InvalidInput(f"deployment has no task group {', '.join(repr(g) for g in unknown)}")
    promoted: list[str] = []
    for name in wanted:
        state = states[name]
        if state.DesiredCanaries == 0 or state.Promoted:
            continue
        healthy = [a for a in state.PlacedCanaries or []
                   if (alloc := txn.alloc(a)) is not None and alloc.DeploymentStatus is not None
                   and alloc.DeploymentStatus.Healthy is True]
        if len(healthy) < state.DesiredCanaries:
            raise Conflict(f'task group "{name}" has {len(healthy)}/{state.DesiredCanaries} healthy allocations')
        states[name] = msgspec.structs.replace(state, Promoted=True)
        promoted.extend(healthy)
    if not promoted and not any(s.DesiredCanaries for s in states.values()):
        raise Conflict(f'deployment "{deployment_id}" has no canaries to promote')
    description = d.StatusDescription
    if description in (DeploymentDescription.RUNNING_NEEDS_PROMOTION, DeploymentDescription.RUNNING_AUTO_PROMOTION):
        description = DeploymentDescription.RUNNING
    updated = msgspec.structs.replace(d, TaskGroups=states, StatusDescription=description, ModifyIndex=txn.index,
                                      ModifyTime=_modified_at(d, now_ns))
    txn.put_deployment(updated, event_type)
    for alloc_id in promoted:
        alloc = txn.alloc(alloc_id)
        assert alloc is not None and alloc.DeploymentStatus is not None
        status = msgspec.structs.replace(alloc.DeploymentStatus, Canary=False, ModifyIndex=txn.index)
        txn.put_alloc(msgspec.structs.replace(alloc, DeploymentStatus=status, ModifyIndex=txn.index), event_type)
    return updated


def update_deployment_alloc_health(txn: WriteTxn, deployment_id: str, healthy: list[str], unhealthy: list[str],
                                   timestamp: datetime, event_type: str) -> None:
    """Records health decided by an operator or the watcher (``nomad deployment fail``/manual
    health checks): each allocation must belong to the deployment."""
    d = _need(txn, deployment_id)
    if d.Status not in ACTIVE_DEPLOYMENT_STATUSES:
        raise Conflict(f'deployment "{deployment_id}" is {d.Status}: health can only be set while it is active')
    counters = DeploymentCounters()
    for alloc_id, is_healthy in [*((a, True) for a in healthy), *((a, False) for a in unhealthy)]:
        alloc = txn.alloc(alloc_id)
        if alloc is None or alloc.DeploymentID != deployment_id:
            raise InvalidInput(f'allocation "{alloc_id}" is not part of deployment "{deployment_id}"')
        base = alloc.DeploymentStatus or AllocDeploymentStatus()
        status = msgspec.structs.replace(base, Healthy=is_healthy, Timestamp=timestamp, ModifyIndex=txn.index)
        updated = msgspec.structs.replace(alloc, DeploymentStatus=status, ModifyIndex=txn.index)
        counters.observe(txn, alloc, updated)
        txn.put_alloc(updated, event_type)
    counters.apply(txn, event_type)
