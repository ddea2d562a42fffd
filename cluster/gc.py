"""What the core garbage collector removes (Nomad's ``core_sched.go``), chosen from a snapshot and a time.

Nomad ages objects by Raft index through a time table; Caravan ages them by the modify times the state
holds (Unix ns): an object is old once ``now - threshold`` has passed its last change. ``force`` (the
``PUT /v1/system/gc`` path) treats every threshold as zero, as Nomad's forced GC does.

- **evaluations**: terminal and old, with every allocation they created terminal and old; the
  allocations go with them. An evaluation of a batch job is kept while the job is live (not stopped,
  not dead): its allocations are the job's results, and Nomad keeps them for ``nomad job status``.
- **jobs**: dead (or stopped) and old, with every evaluation and allocation terminal; purged with them.
- **deployments**: terminal (not running, paused or pending) and old by their own last status change,
  with no live allocation.
- **nodes**: down and old, with no allocations left at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cluster.scheduler.allocs import terminal
from cluster.state.snapshot import ACTIVE_DEPLOYMENT_STATUSES, StateSnapshot
from cluster.structs.alloc import Allocation
from cluster.structs.constants import EvalStatus, JobStatus, JobType, NodeStatus
from cluster.structs.deployment import Deployment
from cluster.structs.evaluation import Evaluation
from cluster.structs.job import Job

__all__ = ["GCSelection", "GCThresholds", "select_garbage"]

SECOND_NS = 1_000_000_000
TERMINAL_EVAL_STATUSES = (EvalStatus.COMPLETE, EvalStatus.FAILED, EvalStatus.CANCELED)


@dataclass(frozen=True, slots=True)
class GCThresholds:
    """Ages (ns) past which terminal objects go; the ``server`` block's ``*_gc_threshold``."""

    eval_ns: int
    job_ns: int
    deployment_ns: int
    node_ns: int

    @staticmethod
    def forced() -> GCThresholds:
        return GCThresholds(0, 0, 0, 0)


@dataclass(slots=True)
class GCSelection:
    """What to delete; jobs as (namespace, id). ``evals`` and ``allocs`` include those of the jobs,
    which go first: a job is purged only after its evaluations and allocations."""

    evals: list[str] = field(default_factory=list)
    allocs: list[str] = field(default_factory=list)
    jobs: list[tuple[str, str]] = field(default_factory=list)
    deployments: list[str] = field(default_factory=list)
    nodes: list[str] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.evals or self.allocs or self.jobs or self.deployments or self.nodes)


def _old_alloc(alloc: Allocation, cutoff_ns: int) -> bool:
    return terminal(alloc) and alloc.ModifyTime <= cutoff_ns


def _job_dead(job: Job | None) -> bool:
    return job is None or bool(job.Stop) or job.Status == JobStatus.DEAD


def _eval_garbage(snap: StateSnapshot, ev: Evaluation, cutoff_ns: int) -> list[str] | None:
    """The allocations to delete with ``ev``, or None if the evaluation must stay."""
    if ev.Status not in TERMINAL_EVAL_STATUSES or ev.ModifyTime > cutoff_ns:
        return None
    allocs = snap.allocs_by_eval(ev.ID)
    if not all(_old_alloc(a, cutoff_ns) for a in allocs):
        return None
    job = snap.job_by_id(ev.Namespace, ev.JobID)
    if ev.Type == JobType.BATCH and not _job_dead(job):
        return None
    return [a.ID for a in allocs]


def _job_garbage(snap: StateSnapshot, job: Job, cutoff_ns: int) -> tuple[list[str], list[str]] | None:
    """(evals, allocs) to purge with a dead job, or None if the job must stay."""
    namespace, job_id = job.Namespace or "default", job.ID or ""
    evals = snap.evals_by_job(namespace, job_id)
    allocs = snap.allocs_by_job(namespace, job_id)
    if not _job_dead(job):
        return None
    newest_ns = max([job.SubmitTime or 0, *(e.ModifyTime for e in evals), *(a.ModifyTime for a in allocs)])
    if newest_ns > cutoff_ns:
        return None
    if any(e.Status not in TERMINAL_EVAL_STATUSES for e in evals) or not all(terminal(a) for a in allocs):
        return None
    return [e.ID for e in evals], [a.ID for a in allocs]


def _deployment_garbage(snap: StateSnapshot, d: Deployment, cutoff_ns: int) -> bool:
    """A terminal deployment whose allocations are all terminal, aged by its own ``ModifyTime`` (which
    every status write moves), as Nomad ages it by its own modify index."""
    if d.Status in ACTIVE_DEPLOYMENT_STATUSES or d.ModifyTime > cutoff_ns:
        return False
    return all(terminal(a) for a in snap.allocs_by_deployment(d.ID))


def select_garbage(snap: StateSnapshot, now_ns: int, thresholds: GCThresholds) -> GCSelection:
    """Everything the collector removes at ``now_ns``; see the module docstring."""
    out = GCSelection()
    gone_evals: set[str] = set()
    for job in list(snap.jobs()):
        found = _job_garbage(snap, job, now_ns - thresholds.job_ns)
        if found is not None:
            out.jobs.append((job.Namespace or "default", job.ID or ""))
            gone_evals.update(found[0])
            out.evals.extend(found[0])
            out.allocs.extend(found[1])
    eval_cutoff = now_ns - thresholds.eval_ns
    for ev in snap.evals():
        if ev.ID in gone_evals:
            continue
        allocs = _eval_garbage(snap, ev, eval_cutoff)
        if allocs is not None:
            out.evals.append(ev.ID)
            out.allocs.extend(allocs)
    deployment_cutoff = now_ns - thresholds.deployment_ns
    purged = set(out.jobs)
    out.deployments = [d.ID for d in snap.deployments() if (d.Namespace, d.JobID) not in purged
                       and _deployment_garbage(snap, d, deployment_cutoff)]
    node_cutoff_s = (now_ns - thresholds.node_ns) // SECOND_NS
    out.nodes = [n.ID for n in snap.nodes() if n.Status == NodeStatus.DOWN
                 and n.StatusUpdatedAt <= node_cutoff_s and not snap.allocs_by_node(n.ID)]
    return out
