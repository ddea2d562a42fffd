"""``AllocMetric.AllocationTime``: how long each placement took, measured with a clock the shell
hands in (the decisions never read it)."""

from __future__ import annotations

from itertools import count

from cluster.scheduler.worker import process_eval
from tests.unit.scheduler import factories as f
from tests.unit.scheduler.harness import Harness


def test_placements_record_their_time_from_the_given_clock() -> None:
    h = Harness()
    h.add_nodes(5)
    ev = h.register(f.job("web", count=4))
    ticks = count(0, 1_000)  # a fake monotonic clock: 1 µs per reading
    process_eval(h.snap, h.planner, ev, h.rng, h.clock.now, clock_ns=lambda: next(ticks))
    allocs = h.live_allocs("web")
    assert len(allocs) == 4
    assert all(a.Metrics is not None and 0 < a.Metrics.AllocationTime <= 1_000 for a in allocs)


def test_without_a_clock_the_time_stays_zero_and_placements_are_the_same() -> None:
    timed, plain = Harness(seed=7), Harness(seed=7)
    nodes = [f.node() for _ in range(5)]
    for h in (timed, plain):
        for node in nodes:
            h.add_node(node.__copy__())
    job = f.job("web", count=4)
    ticks = count(0, 1_000)
    process_eval(timed.snap, timed.planner, timed.register(job.__copy__()), timed.rng, timed.clock.now,
                 clock_ns=lambda: next(ticks))
    process_eval(plain.snap, plain.planner, plain.register(job.__copy__()), plain.rng, plain.clock.now)
    assert all(a.Metrics is not None and a.Metrics.AllocationTime == 0 for a in plain.live_allocs("web"))
    assert sorted(a.NodeID for a in timed.live_allocs("web")) == sorted(a.NodeID for a in plain.live_allocs("web"))
