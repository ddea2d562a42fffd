"""Applying a committed plan result (Nomad's ``UpsertPlanResults``): the deployment it creates or
changes, the allocations it stops or preempts, and the allocations it places or updates in place,
all at one Raft index and with ``PlanResult`` events."""

from __future__ import annotations

import msgspec

from cluster.state.requests import AllocPreemptDiff, AllocStopDiff, DeploymentStatusUpdate
from cluster.state.txn import WriteTxn
from cluster.state.write_allocs import DeploymentCounters, upsert_allocs
from cluster.state.write_deployments import update_deployment_status, upsert_deployment
from cluster.state.write_evals import upsert_evals
from cluster.structs.alloc import Allocation
from cluster.structs.constants import AllocDesiredStatus
from cluster.structs.deployment import Deployment
from cluster.structs.evaluation import Evaluation
from cluster.structs.job import Job

__all__ = ["apply_plan_results"]


def apply_plan_results(
    txn: WriteTxn,
    *,
    job: Job | None,
    allocs_updated: list[Allocation],
    allocs_stopped: list[AllocStopDiff],
    allocs_preempted: list[AllocPreemptDiff],
    deployment: Deployment | None,
    deployment_updates: list[DeploymentStatusUpdate],
    evals: list[Evaluation],
    now_ns: int,
    event_type: str,
) -> None:
    if deployment is not None:
        upsert_deployment(txn, deployment, event_type)
    for update in deployment_updates:
        if txn.deployment(update.DeploymentID) is not None:
            update_deployment_status(txn, update, event_type, now_ns)
    stopped = [_stopped(txn, diff, now_ns) for diff in allocs_stopped]
    preempted = [_preempted(txn, diff, now_ns) for diff in allocs_preempted]
    if job is not None:
        for alloc in allocs_updated:
            if alloc.Job is None:
                alloc.Job = job
    counters = DeploymentCounters()
    upsert_allocs(txn, [a for a in (*stopped, *preempted) if a is not None], now_ns, event_type, counters)
    upsert_allocs(txn, allocs_updated, now_ns, event_type, counters)
    counters.apply(txn, event_type)
    if evals:
        upsert_evals(txn, evals, event_type)


def _stopped(txn: WriteTxn, diff: AllocStopDiff, now_ns: int) -> Allocation | None:
    existing = txn.alloc(diff.ID)
    if existing is None:
        return None
    alloc = msgspec.structs.replace(existing, DesiredStatus=AllocDesiredStatus.STOP,
                                    DesiredDescription=diff.DesiredDescription, ModifyTime=now_ns)
    if diff.ClientStatus:
        alloc.ClientStatus = diff.ClientStatus
    if diff.FollowupEvalID:
        alloc.FollowupEvalID = diff.FollowupEvalID
    return alloc


def _preempted(txn: WriteTxn, diff: AllocPreemptDiff, now_ns: int) -> Allocation | None:
    existing = txn.alloc(diff.ID)
    if existing is None:
        return None
    return msgspec.structs.replace(
        existing, DesiredStatus=AllocDesiredStatus.EVICT, PreemptedByAllocation=diff.PreemptedByAllocation,
        DesiredDescription=f"Preempted by alloc ID {diff.PreemptedByAllocation}", ModifyTime=now_ns)
