"""Client garbage collection: the oldest finished allocations go first, only while over a limit."""

from __future__ import annotations

from agents.client.gc import DiskUsage, GCCandidate, GCLimits, collect, pressure_threshold_bytes
from agents.config.model import DiskThreshold

MB = 1 << 20


def test_over_max_allocs_the_oldest_finished_go_first() -> None:
    candidates = [GCCandidate("c", 30), GCCandidate("a", 10), GCCandidate("b", 20)]
    destroyed: list[str] = []
    got = collect(candidates, alloc_count=5, limits=GCLimits(max_allocs=3, disk_usage_threshold_percent=80),
                  usage=lambda: DiskUsage(100, 90), destroy=destroyed.append)
    assert got == destroyed == ["a", "b"]


def test_a_full_disk_collects_until_below_the_threshold() -> None:
    free = [10]

    def destroy(alloc_id: str) -> None:
        free[0] += 6  # each allocation held 6% of the disk

    got = collect([GCCandidate(str(i), i) for i in range(5)], alloc_count=5,
                  limits=GCLimits(max_allocs=50, disk_usage_threshold_percent=80),
                  usage=lambda: DiskUsage(100, free[0]), destroy=destroy)
    assert got == ["0", "1"] and free[0] == 22


def test_within_limits_nothing_is_collected() -> None:
    got = collect([GCCandidate("a", 1)], alloc_count=1, limits=GCLimits(max_allocs=1, disk_usage_threshold_percent=80),
                  usage=lambda: DiskUsage(100, 50), destroy=lambda _: None)
    assert got == []


def test_pressure_threshold_is_a_share_or_a_size() -> None:
    usage = DiskUsage(total_bytes=1000 * MB, free_bytes=40 * MB)
    assert pressure_threshold_bytes(usage, DiskThreshold(percent=5.0)) == 50 * MB
    assert pressure_threshold_bytes(usage, DiskThreshold(mb=30)) == 30 * MB
