"""Turning cluster structs into what the templates show: times, allocation status bars, resource sums
and placement-failure explanations. Pure functions, so the templates hold no logic.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from cluster.state.summaries import JobSummary
from cluster.structs.alloc import Allocation, AllocMetric
from cluster.structs.node import Node

__all__ = [
    "Bar",
    "Usage",
    "counts_bar",
    "failure_lines",
    "from_ns",
    "node_usage",
    "summary_bar",
    "summary_counts",
]

# The order and CSS class of each client status in a status bar (Nomad's UI order).
BAR_STATUSES = ("queued", "pending", "running", "complete", "failed", "lost", "unknown")
# JobSummary's counters, by the bar status they are shown as.
_SUMMARY_FIELDS = {
    "queued": "Queued",
    "pending": "Starting",
    "running": "Running",
    "complete": "Complete",
    "failed": "Failed",
    "lost": "Lost",
    "unknown": "Unknown",
}


def from_ns(ns: int) -> datetime | None:
    """A Unix-ns time as an aware datetime for ``timesince``; None for "never"."""
    return datetime.fromtimestamp(ns / 1e9, tz=UTC) if ns > 0 else None


@dataclass(frozen=True, slots=True)
class Segment:
    status: str
    count: int
    percent: float


@dataclass(frozen=True, slots=True)
class Bar:
    """An allocation status bar: one segment per client status present, widths summing to 100%."""

    segments: list[Segment]
    total: int

    def count(self, status: str) -> int:
        return next((s.count for s in self.segments if s.status == status), 0)


def counts_bar(counts: Mapping[str, int]) -> Bar:
    """A bar from counts by bar status (statuses missing count zero)."""
    total = sum(counts.get(s, 0) for s in BAR_STATUSES)
    segments = [
        Segment(s, counts[s], round(100.0 * counts[s] / total, 2)) for s in BAR_STATUSES if counts.get(s)
    ]
    return Bar(segments=segments, total=total)


def summary_counts(summary: JobSummary | None) -> dict[str, dict[str, int]]:
    """Per task group, the JobSummary counters by bar status (queued, pending, running, ...)."""
    if summary is None:
        return {}
    return {
        group: {status: getattr(tg, field) for status, field in _SUMMARY_FIELDS.items()}
        for group, tg in sorted(summary.Summary.items())
    }


def summary_bar(summary: JobSummary | None) -> Bar:
    """The whole job's bar, every group's counters added up."""
    total: Counter[str] = Counter()
    for counts in summary_counts(summary).values():
        total.update(counts)
    return counts_bar(total)


@dataclass(frozen=True, slots=True)
class Usage:
    """What a node's allocations reserve against what it offers (CPU MHz, memory MiB)."""

    cpu_used: int
    cpu_total: int
    memory_used: int
    memory_total: int

    @property
    def cpu_percent(self) -> float:
        return _percent(self.cpu_used, self.cpu_total)

    @property
    def memory_percent(self) -> float:
        return _percent(self.memory_used, self.memory_total)


def _percent(used: int, total: int) -> float:
    return round(min(100.0, 100.0 * used / total), 1) if total > 0 else 0.0


def alloc_cpu_memory(alloc: Allocation) -> tuple[int, int]:
    """The CPU (MHz) and memory (MiB) an allocation reserves, summed over its tasks."""
    tasks = (alloc.AllocatedResources.Tasks or {}) if alloc.AllocatedResources else {}
    return (sum(t.Cpu.CpuShares for t in tasks.values()), sum(t.Memory.MemoryMB for t in tasks.values()))


def is_live(alloc: Allocation) -> bool:
    """Whether an allocation still holds its node's resources (Nomad's "terminal" is the opposite)."""
    return alloc.DesiredStatus == "run" and alloc.ClientStatus in ("pending", "running")


def node_usage(node: Node, allocs: Iterable[Allocation]) -> Usage:
    cpu = memory = 0
    for alloc in allocs:
        if is_live(alloc):
            c, m = alloc_cpu_memory(alloc)
            cpu, memory = cpu + c, memory + m
    res = node.NodeResources
    reserved = node.ReservedResources
    cpu_total = (res.Cpu.CpuShares if res else 0) - (reserved.Cpu.CpuShares if reserved else 0)
    memory_total = (res.Memory.MemoryMB if res else 0) - (reserved.Memory.MemoryMB if reserved else 0)
    return Usage(
        cpu_used=cpu, cpu_total=max(0, cpu_total), memory_used=memory, memory_total=max(0, memory_total)
    )


def failure_lines(metric: AllocMetric) -> list[str]:
    """Why a task group could not be placed, in the words ``nomad job status`` uses."""
    lines = [f"{metric.NodesEvaluated} nodes evaluated"]
    if metric.NodesInPool:
        lines.append(f'{metric.NodesInPool} nodes in pool "{metric.NodePool or "default"}"')
    if metric.NodesFiltered:
        lines.append(f"{metric.NodesFiltered} nodes excluded by filters")
    for dc, count in sorted((metric.NodesAvailable or {}).items()):
        if count == 0:
            lines.append(f'No nodes were eligible in datacenter "{dc}"')
    for cls, count in sorted((metric.ClassFiltered or {}).items()):
        lines.append(f'Class "{cls}": {count} nodes excluded by filter')
    for constraint, count in sorted((metric.ConstraintFiltered or {}).items()):
        lines.append(f'Constraint "{constraint}": {count} nodes excluded by filter')
    if metric.NodesExhausted:
        lines.append(f"{metric.NodesExhausted} nodes exhausted")
    for cls, count in sorted((metric.ClassExhausted or {}).items()):
        lines.append(f'Class "{cls}": {count} nodes exhausted')
    for dimension, count in sorted((metric.DimensionExhausted or {}).items()):
        lines.append(f'Dimension "{dimension}" exhausted on {count} nodes')
    for quota in metric.QuotaExhausted or []:
        lines.append(f'Quota limit hit "{quota}"')
    if metric.CoalescedFailures:
        lines.append(f"{metric.CoalescedFailures} more allocations could not be placed for the same reasons")
    return lines
