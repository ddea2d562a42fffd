"""Evaluation writes. A successful evaluation (complete, nothing left unplaced) cancels the job's
blocked evaluations: what they waited to place has been placed, as in Nomad."""

from __future__ import annotations

import msgspec

from cluster.state.txn import WriteTxn
from cluster.state.write_jobs import refresh_job_statuses
from cluster.structs.constants import EvalStatus
from cluster.structs.evaluation import Evaluation

__all__ = ["delete_evals", "upsert_evals"]


def upsert_evals(txn: WriteTxn, evals: list[Evaluation], event_type: str) -> None:
    index = txn.index
    jobs: set[tuple[str, str]] = set()
    for ev in evals:
        existing = txn.eval(ev.ID)
        ev.CreateIndex = existing.CreateIndex if existing is not None else index
        ev.ModifyIndex = index
        txn.put_eval(ev, event_type)
        jobs.add((ev.Namespace, ev.JobID))
        if ev.Status == EvalStatus.COMPLETE and not ev.FailedTGAllocs:
            _cancel_blocked(txn, ev, event_type)
    refresh_job_statuses(txn, jobs, event_type)


def _cancel_blocked(txn: WriteTxn, done: Evaluation, event_type: str) -> None:
    for other in txn.group_members("evals_by_job", (done.Namespace, done.JobID)):
        if other.Status == EvalStatus.BLOCKED and other.ID != done.ID:
            txn.put_eval(msgspec.structs.replace(
                other, Status=EvalStatus.CANCELED, StatusDescription=f'evaluation "{done.ID}" successful',
                ModifyIndex=txn.index), event_type)


def delete_evals(txn: WriteTxn, eval_ids: list[str], alloc_ids: list[str]) -> None:
    """Garbage collection: removes evaluations and allocations outright (no events, as Nomad). The jobs
    they belonged to keep a finished status: one left with nothing at all is dead (Nomad's ``evalDelete``)."""
    jobs: set[tuple[str, str]] = set()
    for eval_id in eval_ids:
        ev = txn.eval(eval_id)
        if ev is not None:
            jobs.add((ev.Namespace, ev.JobID))
            txn.delete_eval(eval_id)
    for alloc_id in alloc_ids:
        alloc = txn.alloc(alloc_id)
        if alloc is not None:
            jobs.add((alloc.Namespace, alloc.JobID))
            txn.delete_alloc(alloc_id)
    refresh_job_statuses(txn, jobs, "EvaluationUpdated", eval_delete=True)
