"""The server's garbage-collector policy, and the benchmark that measures the engine under it."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator

import pytest

from benchmarks import scheduler_bench
from cluster.scheduler import gc_tuning


@pytest.fixture(autouse=True)
def restore_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.set_threshold(*thresholds)
    gc.unfreeze()


def test_the_server_policy_raises_the_young_threshold_and_hands_back_the_old_one() -> None:
    gc.set_threshold(700, 10, 10)
    previous = gc_tuning.configure_for_server()
    assert previous == (700, 10, 10)
    assert gc.get_threshold() == gc_tuning.SERVER_GC_THRESHOLDS
    assert gc_tuning.SERVER_GC_THRESHOLDS[0] >= 20_000  # a count-1,000 plan fits between collections


def test_settled_objects_are_out_of_the_collectors_reach_until_thawed() -> None:
    gc.unfreeze()
    state = [{"alloc": i} for i in range(1000)]
    gc_tuning.settle_after_bulk_apply()
    assert gc.get_freeze_count() >= len(state)
    gc_tuning.thaw_and_collect()
    assert gc.get_freeze_count() == 0


def test_the_benchmark_places_everything_it_is_asked_to(capsys: pytest.CaptureFixture[str]) -> None:
    assert scheduler_bench.main(["--nodes", "50", "--placements", "250", "--count", "100", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["nodes"] == 50 and out["placements"] == 250 and out["placements_per_s"] > 0
