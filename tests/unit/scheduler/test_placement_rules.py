"""Placement rules end to end: node pools, distinct_property, the spread algorithm, escaped
constraints, reschedule delay functions."""

from __future__ import annotations

from collections import Counter

import pytest

from cluster import fsm
from cluster.scheduler.reschedule import next_delay_ns, next_reschedule_time
from cluster.state import SchedulerConfiguration
from cluster.structs.alloc import RescheduleEvent, RescheduleTracker
from cluster.structs.base import HOUR_NS, SECOND_NS
from cluster.structs.constants import AllocClientStatus
from cluster.structs.group import ReschedulePolicy
from tests.unit.scheduler import factories as f
from tests.unit.scheduler.harness import Harness


def test_node_pools_confine_placements() -> None:
    h = Harness()
    prod = h.add_nodes(3, pool="prod")
    h.add_nodes(3, pool="default")
    h.run(f.job("web", count=3, node_pool="prod"))
    assert {a.NodeID for a in h.live_allocs("web")} <= {n.ID for n in prod}
    ev = h.run(f.job("everywhere", count=6, node_pool="all", constraints=[f.constraint("", "distinct_hosts")]))
    assert len({a.NodeID for a in h.live_allocs("everywhere")}) == 6
    assert h.eval_status(ev).FailedTGAllocs is None


def test_distinct_property_caps_allocations_per_value() -> None:
    h = Harness()
    for rack in ("r1", "r2"):
        h.add_nodes(3, meta={"rack": rack})
    job = f.job("db", count=5, constraints=[f.constraint("${meta.rack}", "distinct_property", "2")])
    ev = h.run(job)
    rack_of = {n.ID: (n.Meta or {})["rack"] for n in h.snap.nodes()}
    assert Counter(rack_of[a.NodeID] for a in h.live_allocs("db")) == {"r1": 2, "r2": 2}
    failure = h.eval_status(ev).FailedTGAllocs["web"]
    assert sum(failure.ConstraintFiltered.values()) == 6
    assert set(failure.ConstraintFiltered) == {"distinct_property: ${meta.rack}=r1 used by 2 allocs",
                                               "distinct_property: ${meta.rack}=r2 used by 2 allocs"}


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize(("algorithm", "lands_on_busy"), [("binpack", True), ("spread", False)])
def test_scheduler_algorithm_chooses_busy_or_empty_node(seed: int, algorithm: str, lands_on_busy: bool) -> None:
    h = Harness(seed)
    h.apply(fsm.SchedulerConfigUpdate(Config=SchedulerConfiguration(SchedulerAlgorithm=algorithm)))
    (busy,) = h.add_nodes(1)
    h.run(f.job("filler", count=1, cpu=2000, memory_mb=2048))
    h.add_nodes(1)  # two nodes: both fall within the scheduler's candidate limit
    ev = h.run(f.job("web", count=1))
    (alloc,) = h.live_allocs("web")
    assert (alloc.NodeID == busy.ID) is lands_on_busy
    assert h.eval_status(ev).FailedTGAllocs is None


def test_constraints_on_unique_attributes_are_checked_per_node() -> None:
    h = Harness()
    nodes = h.add_nodes(4)
    target = nodes[2]
    job = f.job("pin", count=1, constraints=[f.constraint("${node.unique.id}", "=", target.ID)])
    h.run(job)
    (alloc,) = h.live_allocs("pin")
    assert alloc.NodeID == target.ID


def policy(function: str, delay_s: int = 5, max_s: int = 60, attempts: int = 0, interval_s: int = 0,
           unlimited: bool = True) -> ReschedulePolicy:
    return ReschedulePolicy(Attempts=attempts, Interval=interval_s * SECOND_NS, Delay=delay_s * SECOND_NS,
                            DelayFunction=function, MaxDelay=max_s * SECOND_NS, Unlimited=unlimited)


def failed_with(p: ReschedulePolicy, delays_s: list[int], failed_at_s: int = 1000, ago_s: int = 10) -> object:
    """A failed allocation whose tracker holds reschedules ``ago_s`` apart, the last ``ago_s``
    before its failure."""
    job = f.job("web", reschedule=p)
    a = f.alloc_for(job, f.node(), client=AllocClientStatus.FAILED)
    a.ModifyTime = failed_at_s * SECOND_NS
    if delays_s:
        a.RescheduleTracker = RescheduleTracker(Events=[
            RescheduleEvent(RescheduleTime=(failed_at_s - ago_s * (len(delays_s) - i)) * SECOND_NS,
                            Delay=d * SECOND_NS)
            for i, d in enumerate(delays_s)])
    return a


@pytest.mark.parametrize(("function", "history", "expected_s"), [
    ("constant", [], 5), ("constant", [5, 5], 5),
    ("exponential", [], 5), ("exponential", [5], 10), ("exponential", [5, 10, 20], 40), ("exponential", [40], 60),
    ("fibonacci", [], 5), ("fibonacci", [5], 5), ("fibonacci", [5, 5], 10), ("fibonacci", [5, 10], 15),
    ("fibonacci", [20, 40], 60), ("fibonacci", [60, 5], 5), ("fibonacci", [5, 60], 60),
])
def test_delay_functions(function: str, history: list[int], expected_s: int) -> None:
    alloc = failed_with(policy(function), history)
    assert next_delay_ns(alloc) == expected_s * SECOND_NS  # type: ignore[arg-type]


@pytest.mark.parametrize("function", ["exponential", "fibonacci"])
def test_capped_delay_starts_over_after_a_long_run(function: str) -> None:
    """Past the cap, an allocation that ran longer than the cap since its last reschedule starts
    the series over at ``delay``; one that failed quickly stays at the cap."""
    assert next_delay_ns(failed_with(policy(function), [40, 40], ago_s=61)) == 5 * SECOND_NS  # type: ignore[arg-type]
    assert next_delay_ns(failed_with(policy(function), [40, 40], ago_s=59)) == 60 * SECOND_NS  # type: ignore[arg-type]


def test_attempts_within_the_interval_limit_rescheduling() -> None:
    limited = policy("constant", attempts=2, interval_s=3600, unlimited=False)
    at, ok = next_reschedule_time(failed_with(limited, []))  # type: ignore[arg-type]
    assert ok and at == 1005 * SECOND_NS
    assert next_reschedule_time(failed_with(limited, [5]))[1] is True  # type: ignore[arg-type]
    assert next_reschedule_time(failed_with(limited, [5, 5]))[1] is False  # type: ignore[arg-type]
    unlimited = policy("exponential", max_s=HOUR_NS // SECOND_NS)
    assert next_reschedule_time(failed_with(unlimited, [5] * 20))[1] is True  # type: ignore[arg-type]
