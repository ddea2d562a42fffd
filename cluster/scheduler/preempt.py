"""Preemption: which lower-priority allocations to evict so a placement fits on a node (Nomad's
``Preemptor.PreemptForTaskGroup``).

Only allocations of jobs at least 10 priority levels below the placing job may be evicted. They
are taken lowest priority first; within a priority, the one whose resources are closest to what
is still missing (Euclidean distance over cpu, memory and disk, as fractions of the ask), with a
penalty for evicting more of one group than its ``migrate.max_parallel``. Once enough is free, a
second pass keeps only as many of the chosen allocations (largest first) as the placement needs.
"""

from __future__ import annotations

import math
from itertools import groupby

from cluster.scheduler.allocs import lookup_group
from cluster.scheduler.context import EvalContext
from cluster.scheduler.rank import net_priority, preemption_score
from cluster.scheduler.spec import GroupSpec
from cluster.state.nodetable import alloc_usage, alloc_uses_resources
from cluster.structs.alloc import Allocation

__all__ = ["PRIORITY_DELTA", "find_preemptions", "preemption_score_of"]

PRIORITY_DELTA = 10
MAX_PARALLEL_PENALTY = 50.0

Vec = tuple[int, int, int]


def _distance(ask: Vec, used: Vec) -> float:
    coords = [(a - u) / a for a, u in zip(ask, used, strict=True) if a > 0]
    return math.sqrt(sum(c * c for c in coords))


def _priority(alloc: Allocation) -> int:
    return (alloc.Job.Priority or 0) if alloc.Job is not None else 0


def _max_parallel(alloc: Allocation) -> int:
    tg = lookup_group(alloc.Job, alloc.TaskGroup)
    return (tg.Migrate.MaxParallel or 0) if tg is not None and tg.Migrate is not None else 0


def _superset(free: Vec, ask: Vec) -> bool:
    return all(f >= a for f, a in zip(free, ask, strict=True))


def _score(alloc: Allocation, needed: Vec, already: dict[tuple[str, str], int]) -> float:
    """Distance to what is still needed, plus the max_parallel penalty."""
    penalty = 0.0
    limit = _max_parallel(alloc)
    count = already.get((alloc.JobID, alloc.TaskGroup), 0)
    if limit > 0 and count >= limit:
        penalty = (count + 1 - limit) * MAX_PARALLEL_PENALTY
    return _distance(needed, alloc_usage(alloc.AllocatedResources)) + penalty


def find_preemptions(ctx: EvalContext, slot: int, spec: GroupSpec, job_priority: int,
                     job_id: str) -> list[Allocation] | None:
    """Allocations to evict from node ``slot`` so ``spec`` fits, or None if evicting cannot help."""
    t = ctx.table
    node = t.nodes[slot]
    assert node is not None
    free: Vec = (int(t.cpu_total[slot] - ctx.cpu_used[slot]), int(t.mem_total[slot] - ctx.mem_used[slot]),
                 int(t.disk_total[slot] - ctx.disk_used[slot]))
    ask: Vec = (spec.cpu, spec.memory_mb, spec.disk_mb)
    if _superset(free, ask):
        return []
    candidates = [a for a in ctx.state.allocs_by_node(node.ID)
                  if alloc_uses_resources(a) and not ctx.is_stopped(a.ID) and a.JobID != job_id
                  and job_priority - _priority(a) >= PRIORITY_DELTA]
    if not candidates:
        return None
    already: dict[tuple[str, str], int] = {}
    for diffs in ctx.plan.NodePreemptions.values():
        for diff in diffs:
            gone = ctx.state.alloc_by_id(diff.ID)
            if gone is not None:
                key = (gone.JobID, gone.TaskGroup)
                already[key] = already.get(key, 0) + 1
    chosen: list[Allocation] = []
    available = free
    needed = ask
    done = False
    for _, group in groupby(sorted(candidates, key=_priority), key=_priority):
        pool = list(group)
        while pool and not done:
            best = min(pool, key=lambda a, want=needed: _score(a, want, already))  # type: ignore[misc]
            pool.remove(best)
            used = alloc_usage(best.AllocatedResources)
            available = (available[0] + used[0], available[1] + used[1], available[2] + used[2])
            needed = (needed[0] - used[0], needed[1] - used[1], needed[2] - used[2])
            chosen.append(best)
            key = (best.JobID, best.TaskGroup)
            already[key] = already.get(key, 0) + 1
            done = _superset(available, ask)
        if done:
            break
    if not done:
        return None
    chosen.sort(key=lambda a: _distance(ask, alloc_usage(a.AllocatedResources)), reverse=True)
    kept: list[Allocation] = []
    available = free
    for alloc in chosen:
        kept.append(alloc)
        used = alloc_usage(alloc.AllocatedResources)
        available = (available[0] + used[0], available[1] + used[1], available[2] + used[2])
        if _superset(available, ask):
            break
    return kept


def preemption_score_of(preempted: list[Allocation]) -> float:
    """Nomad's preemption score of a node: cheaper evictions score nearer 1."""
    return preemption_score(net_priority([_priority(a) for a in preempted]))
