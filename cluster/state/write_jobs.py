"""Job writes as Nomad's state store does them: versions, indexes, status and stability.

A registration bumps the job's ``Version`` and ``JobModifyIndex`` only when its specification
changed (server-set fields aside); every version starts unstable. The job's ``Status`` follows
its allocations and evaluations (``job_status``) and is refreshed by any write that touches them.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from cluster.errors import NotFound
from cluster.state.nodetable import alloc_uses_resources
from cluster.state.records import MAX_SCALING_EVENTS, JobScalingEvents, ScalingEvent
from cluster.state.txn import WriteTxn
from cluster.structs.constants import EvalStatus, JobStatus, JobType
from cluster.structs.job import Job

__all__ = [
    "add_scaling_event",
    "job_status",
    "refresh_job_statuses",
    "set_job_stability",
    "spec_changed",
    "upsert_job",
]

# Fields the servers set; a change to them alone is not a new version of the job.
_SERVER_FIELDS = (
    "Status", "StatusDescription", "Stable", "Version", "SubmitTime", "CreateIndex", "ModifyIndex",
    "JobModifyIndex", "VersionTag",
)
_TERMINAL_EVAL = frozenset((EvalStatus.COMPLETE, EvalStatus.FAILED, EvalStatus.CANCELED))


def _spec(job: Job) -> Job:
    return msgspec.structs.replace(job, **dict.fromkeys(_SERVER_FIELDS))


def spec_changed(old: Job, new: Job) -> bool:
    """Nomad's ``Job.SpecChanged``: anything a user wrote differs."""
    return _spec(old) != _spec(new)


def job_status(txn: WriteTxn, job: Job, eval_delete: bool = False) -> str:
    """Nomad's job status: system, periodic and parameterized jobs run until stopped; others are
    running while an allocation is not terminal, pending while an evaluation is not, else dead
    (pending if nothing ever happened)."""
    if job.Type == JobType.SYSTEM or job.Periodic is not None or job.ParameterizedJob is not None:
        return JobStatus.DEAD if job.Stop else JobStatus.RUNNING
    key = (job.Namespace or "", job.ID or "")
    if txn.any_member("allocs_by_job", key, alloc_uses_resources):
        return JobStatus.RUNNING
    evals = txn.group_members("evals_by_job", key)
    if any(e.Status not in _TERMINAL_EVAL for e in evals):
        return JobStatus.PENDING
    if eval_delete or evals or txn.any_member("allocs_by_job", key, lambda a: True):
        return JobStatus.DEAD
    return JobStatus.PENDING


def upsert_job(txn: WriteTxn, job: Job, submit_time_ns: int, event_type: str, keep_version: bool = False) -> Job:
    """Registers ``job`` (a fresh object the caller hands over) and returns the stored version."""
    index = txn.index
    existing = txn.job(job.Namespace or "", job.ID or "")
    if existing is None:
        job.CreateIndex = job.ModifyIndex = job.JobModifyIndex = index
        job.Version = 0
        job.Stable = False
        job.SubmitTime = submit_time_ns
    else:
        job.CreateIndex = existing.CreateIndex
        job.ModifyIndex = index
        if keep_version:
            job.JobModifyIndex, job.Version = existing.JobModifyIndex, existing.Version
            job.SubmitTime = existing.SubmitTime
            job.Stable = existing.Stable if job.Stable is None else job.Stable
        elif not spec_changed(existing, job):
            job.JobModifyIndex, job.Version = existing.JobModifyIndex, existing.Version
            job.SubmitTime, job.Stable = existing.SubmitTime, existing.Stable
        else:
            job.JobModifyIndex = index
            job.Version = (existing.Version or 0) + 1
            job.Stable = False
            job.SubmitTime = submit_time_ns
    job.Status = job_status(txn, job)
    txn.put_job(job, event_type)
    return job


def refresh_job_statuses(txn: WriteTxn, keys: Iterable[tuple[str, str]], event_type: str,
                         running_hint: Iterable[tuple[str, str]] = (), eval_delete: bool = False) -> None:
    """Recomputes the status of the given jobs after their allocations or evaluations changed.
    Jobs in ``running_hint`` just received a live allocation, so they are running without a scan.
    ``eval_delete``: the change was garbage collection, so a job left with nothing is dead, not pending."""
    hinted = set(running_hint)
    for ns, job_id in set(keys):
        job = txn.job(ns, job_id)
        if job is None:
            continue
        if (ns, job_id) in hinted and job.Type != JobType.SYSTEM and job.Periodic is None \
                and job.ParameterizedJob is None:
            status = JobStatus.RUNNING
        else:
            status = job_status(txn, job, eval_delete)
        if status != job.Status:
            updated = msgspec.structs.replace(job, Status=status, ModifyIndex=txn.index)
            txn.put_job(updated, event_type)


def set_job_stability(txn: WriteTxn, namespace: str, job_id: str, version: int, stable: bool,
                      event_type: str) -> None:
    """Marks one version of a job stable (or not): the version auto-revert goes back to."""
    target = None
    for v in txn.job_versions(namespace, job_id):
        if v.Version == version:
            target = v
            break
    if target is None:
        raise NotFound(f'job "{job_id}" has no version {version}')
    updated = msgspec.structs.replace(target, Stable=stable)
    txn.put_job_version(updated)
    current = txn.job(namespace, job_id)
    if current is not None and current.Version == version:
        txn.put_job(msgspec.structs.replace(current, Stable=stable, ModifyIndex=txn.index), event_type)


def add_scaling_event(txn: WriteTxn, namespace: str, job_id: str, group: str, event: ScalingEvent) -> JobScalingEvents:
    """Records a scaling action or report on one of the job's groups, newest first, keeping the newest
    ``MAX_SCALING_EVENTS`` of the group (Nomad's ``JobTrackedScalingEvents``)."""
    if txn.job(namespace, job_id) is None:
        raise NotFound(f'job "{job_id}" not found in namespace "{namespace}"')
    existing = txn.scaling_events(namespace, job_id)
    by_group = dict(existing.ScalingEvents) if existing is not None else {}
    stamped = msgspec.structs.replace(event, CreateIndex=txn.index)
    by_group[group] = [stamped, *by_group.get(group, [])][:MAX_SCALING_EVENTS]
    stored = JobScalingEvents(Namespace=namespace, JobID=job_id, ScalingEvents=by_group, ModifyIndex=txn.index)
    txn.put_scaling_events(stored)
    return stored
