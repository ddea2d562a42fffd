"""Scores against hand-computed values, and the limit rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cluster.scheduler.rank import affinity_score, anti_affinity, fit_scores, net_priority, preemption_score
from cluster.scheduler.select import placement_limit
from tests.unit.scheduler import factories as f
from tests.unit.scheduler.harness import Harness


def one(cpu_util: int, mem_util: int, cpu: int = 4000, mem: int = 8192, spread: bool = False) -> float:
    return float(fit_scores(np.array([cpu_util]), np.array([mem_util]), np.array([cpu]), np.array([mem]), spread)[0])


def test_binpack_fit_by_hand() -> None:
    # Half used on both: 20 - (10^0.5 + 10^0.5) = 13.675445..., normalized by 18.
    assert one(2000, 4096) == pytest.approx((20 - 2 * math.sqrt(10)) / 18)
    assert one(4000, 8192) == pytest.approx(1.0)  # a full node is the perfect fit
    assert one(0, 0) == pytest.approx(0.0)  # an empty one the worst
    assert one(3000, 2048) > one(2000, 2048)  # fuller is better


def test_spread_fit_is_the_mirror_of_binpack() -> None:
    assert one(2000, 4096, spread=True) == pytest.approx((2 * math.sqrt(10) - 2) / 18)
    assert one(0, 0, spread=True) == pytest.approx(1.0)
    assert one(4000, 8192, spread=True) == pytest.approx(0.0)


def test_a_node_without_capacity_counts_as_free() -> None:
    assert one(0, 4096, cpu=0) == pytest.approx((20 - 10 - math.sqrt(10)) / 18)


def test_job_anti_affinity_by_hand() -> None:
    out = anti_affinity(np.array([0, 1, 2], np.int32), 10)
    assert out.tolist() == pytest.approx([0.0, -0.2, -0.3])


def test_node_affinity_by_hand() -> None:
    assert affinity_score([True, True], [50, -30]) == pytest.approx(20 / 80)
    assert affinity_score([True, False], [50, -30]) == pytest.approx(50 / 80)
    assert affinity_score([False, True], [50, -30]) == pytest.approx(-30 / 80)
    assert affinity_score([], []) == 0.0


def test_preemption_score_by_hand() -> None:
    assert net_priority([10, 20]) == pytest.approx(20 + 30 / 20)
    assert preemption_score(2048) == pytest.approx(0.5)
    assert preemption_score(net_priority([10, 20])) == pytest.approx(1 / (1 + math.exp(0.0048 * (21.5 - 2048))))
    assert preemption_score(100) > preemption_score(3000)


@pytest.mark.parametrize(("nodes", "batch", "count", "affinity", "limit"), [
    (5000, False, 1000, False, 13),  # ceil(log2 5000)
    (3, False, 10, False, 2),  # never below 2
    (5000, True, 1000, False, 2),  # batch: the power of two choices
    (5000, False, 10, True, 100),  # affinity or spread: at least 100 ...
    (5000, False, 1000, True, 1000),  # ... or the count
    (0, False, 1, False, 2),
])
def test_limit_rule(nodes: int, batch: bool, count: int, affinity: bool, limit: int) -> None:
    assert placement_limit(nodes, batch, count, affinity) == limit


def test_final_score_is_the_mean_of_the_scores_that_apply() -> None:
    h = Harness()
    h.add_node(cpu=4000, memory_mb=8192)
    h.run(f.job("web", count=2, cpu=500, memory_mb=256))
    first, second = sorted(h.live_allocs("web"), key=lambda a: a.Name)
    m1 = first.Metrics.ScoreMetaData[0]
    binpack1 = (20 - 10 ** (1 - 500 / 4000) - 10 ** (1 - 256 / 8192)) / 18
    assert m1.Scores["binpack"] == pytest.approx(binpack1) and m1.NormScore == pytest.approx(binpack1)
    m2 = second.Metrics.ScoreMetaData[0]
    binpack2 = (20 - 10 ** (1 - 1000 / 4000) - 10 ** (1 - 512 / 8192)) / 18
    anti = -(1 + 1) / 2  # one collision in a group of two
    assert m2.Scores["binpack"] == pytest.approx(binpack2) and m2.Scores["job-anti-affinity"] == pytest.approx(anti)
    assert m2.NormScore == pytest.approx((binpack2 + anti) / 2)
    # A non-positive score is skipped while others remain; here it was the only node, so it is used.
    assert second.NodeID == first.NodeID
