"""Scores, as pure functions of arrays over candidate nodes (one entry per node).

Each is Nomad's: ``ScoreFitBinPack`` (best fit) or ``ScoreFitSpread`` (worst fit), normalized by
18; job anti-affinity ``-(collisions + 1) / count`` where the node already runs the group; the
rescheduling penalty -1 on nodes where the allocation failed before; node affinity the sum of the
matching weights over the sum of all weights' magnitudes; and the preemption score, a logistic
curve of the preempted allocations' priorities. The final score is the mean of the scores that
apply to a node: binpack always, the others only where Nomad appends them.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = [
    "BINPACK_MAX_FIT",
    "affinity_score",
    "anti_affinity",
    "fit_scores",
    "net_priority",
    "preemption_score",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

BINPACK_MAX_FIT = 18.0


def fit_scores(cpu_util: IntArray, mem_util: IntArray, cpu_total: IntArray, mem_total: IntArray,
               spread: bool = False) -> FloatArray:
    """Normalized bin-packing fitness of each node, given its utilization with the new allocation
    already added. Binpack prefers fuller nodes; spread prefers emptier ones. Each is in [0, 1].
    A node with no capacity on a dimension counts as fully free on it."""
    free_cpu = 1.0 - np.divide(cpu_util, cpu_total, out=np.zeros(len(cpu_util)), where=cpu_total > 0)
    free_mem = 1.0 - np.divide(mem_util, mem_total, out=np.zeros(len(mem_util)), where=mem_total > 0)
    total = np.power(10.0, free_cpu) + np.power(10.0, free_mem)
    raw = total - 2.0 if spread else 20.0 - total
    return np.minimum(np.maximum(raw, 0.0), BINPACK_MAX_FIT) / BINPACK_MAX_FIT


def anti_affinity(collisions: npt.NDArray[np.int32], desired_count: int) -> FloatArray:
    """Job anti-affinity penalty per node; 0 where it does not apply (no collisions)."""
    return np.where(collisions > 0, -(collisions + 1.0) / max(desired_count, 1), 0.0)


def affinity_score(matches: list[bool], weights: list[int]) -> float:
    """Node affinity: sum of matched weights over the sum of |weights| (Nomad's NodeAffinity)."""
    total = sum(abs(w) for w in weights)
    if total == 0:
        return 0.0
    return sum(w for m, w in zip(matches, weights, strict=True) if m) / total


def net_priority(priorities: list[int]) -> float:
    """Max priority plus sum/max: penalizes evicting many low-priority allocations too."""
    top = float(max(priorities))
    return top + sum(priorities) / top


def preemption_score(priority_net: float) -> float:
    """Logistic in the net priority: 0.5 at 2048, near 1 for cheap evictions."""
    return 1.0 / (1.0 + math.exp(0.0048 * (priority_net - 2048.0)))
