"""Job summaries (Nomad's ``JobSummary``): how many allocations of each task group are queued,
starting, running, complete, failed, lost or unknown, and for periodic and parameterized parents
how many child jobs are pending, running or dead.

The counts are kept up to date by the writes themselves, never recomputed from the allocations:
``SummaryStager`` belongs to one ``WriteTxn`` and turns every job, allocation and evaluation write
into changes of private copies of the touched summaries, which the commit seals into the
``job_summaries`` table (watch index ``"job_summary"``, one ``JobSummary`` event per changed summary).

Nomad's rules: registering a job adds the task groups its summary lacks; a new allocation counts by
its client status and, when pending, takes one from Queued; a changed client status moves one
allocation from the old bin to the new; an evaluation's ``QueuedAllocations`` sets Queued; a child
job (``ParentID`` set) counts in its parent's ``Children`` by its status. Allocations of an earlier
job of the same ID (purged and registered again) do not count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import msgspec

from cluster.structs.alloc import Allocation
from cluster.structs.base import ApiStruct
from cluster.structs.constants import AllocClientStatus, JobStatus
from cluster.structs.job import Job

__all__ = [
    "JobChildrenSummary",
    "JobSummary",
    "SummaryStager",
    "TaskGroupSummary",
    "count_changed_alloc",
    "count_new_allocs",
]

JobKey = tuple[str, str]


class TaskGroupSummary(ApiStruct, kw_only=True):
    """Allocation counts of one task group, by client status (Queued: not yet placed)."""

    Queued: int = 0
    Complete: int = 0
    Failed: int = 0
    Running: int = 0
    Starting: int = 0
    Lost: int = 0
    Unknown: int = 0


class JobChildrenSummary(ApiStruct, kw_only=True):
    """Child jobs of a periodic or parameterized job, by job status."""

    Pending: int = 0
    Running: int = 0
    Dead: int = 0


class JobSummary(ApiStruct, kw_only=True):
    """Nomad's ``/v1/job/:id/summary`` answer, as stored."""

    JobID: str
    Namespace: str
    Summary: dict[str, TaskGroupSummary] = msgspec.field(default_factory=dict)
    Children: JobChildrenSummary = msgspec.field(default_factory=JobChildrenSummary)
    CreateIndex: int = 0
    ModifyIndex: int = 0


# Client status -> the TaskGroupSummary field that counts it.
_BIN = {
    AllocClientStatus.PENDING: "Starting",
    AllocClientStatus.RUNNING: "Running",
    AllocClientStatus.COMPLETE: "Complete",
    AllocClientStatus.FAILED: "Failed",
    AllocClientStatus.LOST: "Lost",
    AllocClientStatus.UNKNOWN: "Unknown",
}
# Job status -> the JobChildrenSummary field that counts it.
_CHILD_BIN = {JobStatus.PENDING: "Pending", JobStatus.RUNNING: "Running", JobStatus.DEAD: "Dead"}

# (namespace, job ID, task group, job create index or -1 when unknown) -> {(old status, new status): n};
# old status "" means a new allocation.
TransitionKey = tuple[str, str, str, int]
Transitions = dict[TransitionKey, dict[tuple[str, str], int]]


def _own_copy(summary: JobSummary) -> JobSummary:
    return msgspec.structs.replace(
        summary,
        Summary={name: msgspec.structs.replace(tg) for name, tg in summary.Summary.items()},
        Children=msgspec.structs.replace(summary.Children),
    )


class SummaryStager:
    """The summary changes of one write transaction, on private copies until ``finish``."""

    def __init__(self, get_stored: Callable[[JobKey], JobSummary | None], index: int) -> None:
        self._get_stored = get_stored
        self._index = index
        self._staged: dict[JobKey, JobSummary | None] = {}  # None: deleted
        self._event_types: dict[JobKey, str] = {}

    def _stored(self, key: JobKey) -> JobSummary | None:
        return self._get_stored(key)

    def get(self, key: JobKey) -> JobSummary | None:
        """The summary as this transaction sees it."""
        if key in self._staged:
            return self._staged[key]
        return self._stored(key)

    def _writable(self, key: JobKey, event_type: str) -> JobSummary | None:
        if key in self._staged:
            summary = self._staged[key]
        else:
            stored = self._stored(key)
            summary = self._staged[key] = _own_copy(stored) if stored is not None else None
            if summary is None:
                del self._staged[key]
        if summary is not None:
            self._event_types[key] = event_type
        return summary

    # -- writes --------------------------------------------------------------------------------

    def job_put(self, old: Job | None, job: Job, event_type: str) -> None:
        """A job was registered or changed: its summary gains missing task groups, and its
        parent's children counts follow its status."""
        key = (job.Namespace or "", job.ID or "")
        summary = self._writable(key, event_type)
        if summary is None:
            summary = self._staged[key] = JobSummary(JobID=key[1], Namespace=key[0],
                                                     CreateIndex=job.CreateIndex or self._index)
            self._event_types[key] = event_type
        for group in job.TaskGroups or ():
            if group.Name is not None and group.Name not in summary.Summary:
                summary.Summary[group.Name] = TaskGroupSummary()
        if job.ParentID:
            before = old.Status if old is not None else None
            if before != job.Status:
                self._child_moved(key[0], job.ParentID, before, job.Status, event_type)

    def job_deleted(self, job: Job, event_type: str) -> None:
        key = (job.Namespace or "", job.ID or "")
        if self.get(key) is not None:
            self._staged[key] = None
            self._event_types[key] = event_type
        if job.ParentID:
            self._child_moved(key[0], job.ParentID, job.Status, None, event_type)

    def _child_moved(self, namespace: str, parent_id: str, before: str | None, after: str | None,
                     event_type: str) -> None:
        parent = self._writable((namespace, parent_id), event_type)
        if parent is None:
            return
        children = parent.Children
        if before in _CHILD_BIN:
            name = _CHILD_BIN[before]
            setattr(children, name, max(0, getattr(children, name) - 1))
        if after in _CHILD_BIN:
            name = _CHILD_BIN[after]
            setattr(children, name, getattr(children, name) + 1)

    def allocs_moved(self, transitions: Transitions, event_type: str) -> None:
        """Counts allocation changes gathered by the transaction's allocation writes."""
        for (namespace, job_id, group, create_index), moves in transitions.items():
            summary = self._writable((namespace, job_id), event_type)
            if summary is None or (create_index >= 0 and create_index != summary.CreateIndex):
                continue
            tg = summary.Summary.get(group)
            if tg is None:
                tg = summary.Summary[group] = TaskGroupSummary()
            for (before, after), n in moves.items():
                _move(tg, before, after, n)

    def queued(self, namespace: str, job_id: str, queued: dict[str, int] | None, event_type: str) -> None:
        """An evaluation reported how many allocations per task group it could not place yet."""
        if not queued:
            return
        current = self.get((namespace, job_id))
        if current is None or all(current.Summary.get(g) is None or current.Summary[g].Queued == n
                                  for g, n in queued.items()):
            return
        summary = self._writable((namespace, job_id), event_type)
        assert summary is not None
        for group, n in queued.items():
            tg = summary.Summary.get(group)
            if tg is not None:  # Nomad ignores task groups the job does not have
                tg.Queued = n

    # -- commit --------------------------------------------------------------------------------

    def changes(self) -> Iterable[tuple[JobKey, JobSummary | None, str]]:
        """(key, sealed summary or None when deleted, event type) per changed summary."""
        for key, summary in self._staged.items():
            if summary is not None:
                summary.ModifyIndex = self._index
            yield key, summary, self._event_types[key]


def _move(tg: TaskGroupSummary, before: str, after: str, n: int) -> None:
    if not before:
        if after == AllocClientStatus.PENDING:
            tg.Queued = max(0, tg.Queued - n)
    else:
        name = _BIN.get(before)
        if name is not None:
            setattr(tg, name, max(0, getattr(tg, name) - n))
    name = _BIN.get(after)
    if name is not None:
        setattr(tg, name, getattr(tg, name) + n)


def _transition_key(alloc: Allocation) -> TransitionKey:
    job = alloc.Job
    create_index = job.CreateIndex if job is not None and job.CreateIndex is not None else -1
    return (alloc.Namespace, alloc.JobID, alloc.TaskGroup, create_index)


def count_new_allocs(transitions: Transitions, allocs: list[Allocation]) -> None:
    """Adds new allocations to ``transitions``. A plan's allocations come in runs of one job, task
    group and status, so the loop only counts, and files a run when the next one starts."""
    if not allocs:
        return
    first = allocs[0]
    job, group, status = first.Job, first.TaskGroup, first.ClientStatus
    run = 0
    for alloc in allocs:
        if alloc.Job is job and alloc.TaskGroup == group and alloc.ClientStatus == status:
            run += 1
            continue
        _file_run(transitions, first, status, run)
        first, run = alloc, 1
        job, group, status = alloc.Job, alloc.TaskGroup, alloc.ClientStatus
    _file_run(transitions, first, status, run)


def _file_run(transitions: Transitions, alloc: Allocation, status: str, n: int) -> None:
    moves = transitions.setdefault(_transition_key(alloc), {})
    move = ("", status)
    moves[move] = moves.get(move, 0) + n


def count_changed_alloc(transitions: Transitions, old: Allocation, new: Allocation) -> None:
    if old.ClientStatus == new.ClientStatus:
        return
    moves = transitions.setdefault(_transition_key(new), {})
    move = (old.ClientStatus, new.ClientStatus)
    moves[move] = moves.get(move, 0) + 1
