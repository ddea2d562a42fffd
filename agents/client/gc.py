"""The client's disk: garbage collection of finished allocations and disk pressure, as Nomad's client has.

**Garbage collection** (Nomad's client GC): every ``gc_interval``, while the data dir's disk is fuller
than ``gc_disk_usage_threshold`` percent or the client holds more than ``gc_max_allocs`` allocations, the
terminal allocation that finished first is destroyed (its directory and its kept state). Live
allocations are never touched; a terminal one is collected only once the servers have its final state,
so nothing the servers have not heard is lost.

**Disk pressure**: free space in the data dir below ``disk_free_threshold`` (a percentage of the disk or
a number of MB). The agent reports a change to the servers, which mark the node ineligible (and
eligible again when the space comes back).

``collect`` is the rule alone, over callables for the disk and for destroying, so tests drive it with
plain numbers.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from agents.config.model import DiskThreshold

__all__ = ["DiskUsage", "GCCandidate", "GCLimits", "collect", "disk_usage", "pressure_threshold_bytes"]

MB = 1 << 20


@dataclass(frozen=True, slots=True)
class DiskUsage:
    total_bytes: int
    free_bytes: int

    @property
    def used_percent(self) -> float:
        return 100.0 * (self.total_bytes - self.free_bytes) / self.total_bytes if self.total_bytes else 0.0


def disk_usage(path: Path) -> DiskUsage:
    usage = shutil.disk_usage(path)
    return DiskUsage(total_bytes=usage.total, free_bytes=usage.free)


def pressure_threshold_bytes(usage: DiskUsage, threshold: DiskThreshold) -> int:
    """The free space below which the disk is under pressure."""
    if threshold.mb:
        return threshold.mb * MB
    return int(usage.total_bytes * threshold.percent / 100.0)


@dataclass(frozen=True, slots=True)
class GCCandidate:
    """A terminal allocation the servers know is terminal, and when its last task finished."""

    alloc_id: str
    finished_ns: int


@dataclass(frozen=True, slots=True)
class GCLimits:
    max_allocs: int
    disk_usage_threshold_percent: float


def collect(candidates: Sequence[GCCandidate], *, alloc_count: int, limits: GCLimits,
            usage: Callable[[], DiskUsage], destroy: Callable[[str], None]) -> list[str]:
    """Destroys the oldest candidates while over a limit; returns the IDs destroyed, in order."""
    destroyed: list[str] = []
    for candidate in sorted(candidates, key=lambda c: (c.finished_ns, c.alloc_id)):
        too_many = alloc_count - len(destroyed) > limits.max_allocs
        too_full = usage().used_percent > limits.disk_usage_threshold_percent
        if not (too_many or too_full):
            break
        destroy(candidate.alloc_id)
        destroyed.append(candidate.alloc_id)
    return destroyed
