"""The restart tracker, table-tested: what a user sees as Restarting / Not Restarting and the delays."""

from __future__ import annotations

import random

import pytest

from agents.client.restarts import RestartTracker, Verdict
from cluster.structs import TaskLifecycle
from cluster.structs.base import SECOND_NS
from tests.agents.client.support import policy

T0 = 1_000 * SECOND_NS


def tracker(attempts: int = 2, *, mode: str = "fail", job_type: str = "service",
            lifecycle: TaskLifecycle | None = None, seed: int = 7) -> RestartTracker:
    return RestartTracker(policy(attempts, interval_s=300, delay_s=10, mode=mode), job_type, lifecycle,
                          random.Random(seed))


@pytest.mark.parametrize("seed", range(20))
def test_delay_has_up_to_a_quarter_jitter(seed: int) -> None:
    decision = tracker(seed=seed).on_exit(False, T0)
    assert decision.verdict is Verdict.RESTART
    assert 10 * SECOND_NS <= decision.delay_ns < 12.5 * SECOND_NS
    assert decision.reason == "Restart within policy"


def test_same_seed_same_delays() -> None:
    a, b = tracker(seed=3), tracker(seed=3)
    assert [a.on_exit(False, T0 + i).delay_ns for i in range(2)] == [b.on_exit(False, T0 + i).delay_ns for i in range(2)]


def test_fail_mode_gives_up_after_attempts_within_interval() -> None:
    t = tracker(2)
    verdicts = [t.on_exit(False, T0 + i * SECOND_NS).verdict for i in range(3)]
    assert verdicts == [Verdict.RESTART, Verdict.RESTART, Verdict.NOT_RESTARTING]
    last = t.on_exit(False, T0 + 4 * SECOND_NS)
    assert last.reason == 'Exceeded allowed attempts 2 in interval 5m0s and mode is "fail"'


def test_delay_mode_waits_for_the_interval_end() -> None:
    t = tracker(1, mode="delay")
    assert t.on_exit(False, T0).verdict is Verdict.RESTART
    decision = t.on_exit(False, T0 + 100 * SECOND_NS)
    assert decision.verdict is Verdict.RESTART
    assert decision.delay_ns == 200 * SECOND_NS
    assert decision.reason == "Exceeded allowed attempts, applying a delay"


def test_a_new_interval_starts_the_count_again() -> None:
    t = tracker(1)
    assert t.on_exit(False, T0).verdict is Verdict.RESTART
    assert t.on_exit(False, T0 + 301 * SECOND_NS).verdict is Verdict.RESTART
    assert t.count == 1


@pytest.mark.parametrize(("job_type", "lifecycle", "expected"), [
    ("service", None, Verdict.RESTART),
    ("system", None, Verdict.RESTART),
    ("batch", None, Verdict.EXITED),
    ("sysbatch", None, Verdict.EXITED),
    ("service", TaskLifecycle(Hook="prestart"), Verdict.EXITED),
    ("service", TaskLifecycle(Hook="prestart", Sidecar=True), Verdict.RESTART),
    ("service", TaskLifecycle(Hook="poststart"), Verdict.EXITED),
    ("service", TaskLifecycle(Hook="poststop"), Verdict.EXITED),
])
def test_success_restarts_only_long_running_tasks(job_type: str, lifecycle: TaskLifecycle | None,
                                                   expected: Verdict) -> None:
    assert tracker(job_type=job_type, lifecycle=lifecycle).on_exit(True, T0).verdict is expected


def test_no_attempts_allowed() -> None:
    t = tracker(0)
    assert t.on_exit(False, T0).verdict is Verdict.NOT_RESTARTING
    assert t.on_exit(False, T0).reason == "Policy allows no restarts"
    assert t.on_exit(True, T0).verdict is Verdict.EXITED  # a service task that ends well is done, not failed


def test_start_errors() -> None:
    assert tracker().on_start_error(False, T0).verdict is Verdict.NOT_RESTARTING
    assert tracker().on_start_error(False, T0).reason == "Error was unrecoverable"
    assert tracker().on_start_error(True, T0).verdict is Verdict.RESTART


def test_requested_restart_is_immediate_and_uncounted() -> None:
    t = tracker(1)
    decision = t.on_restart_request()
    assert (decision.verdict, decision.delay_ns, t.count) == (Verdict.RESTART, 0, 0)
