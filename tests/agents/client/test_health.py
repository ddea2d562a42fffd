"""Deployment health decided on the client: healthy after min_healthy_time of running tasks (and passing
checks), unhealthy on a failed task or at the healthy deadline, reported with the allocation update."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec

from agents.client.drivers.base import ExitResult
from agents.client.health import HealthTracker, tracker_for
from cluster.structs import Allocation, Service, ServiceCheck, TaskGroup, UpdateStrategy
from cluster.structs.base import SECOND_NS
from tests.agents.client.harness import Harness, run, until
from tests.agents.client.support import Behaviour, FakeClock, make_alloc, make_task, policy

S = SECOND_NS


class ManualClock(FakeClock):
    """Time moves only when the test says so; a sleep waits until then (a health wait must not jump
    to its deadline by itself, as ``FakeClock``'s sleeps do)."""

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        until_ns = self.now + int(seconds * S)
        while self.now < until_ns:
            await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        for _ in range(int(seconds * 10)):  # in steps, so waiters see the time pass
            self.now += S // 10
            for _ in range(5):
                await asyncio.sleep(0)


def tracker(use_checks: bool = True) -> HealthTracker:
    return HealthTracker(start_ns=0, min_healthy_ns=10 * S, healthy_deadline_ns=60 * S, use_checks=use_checks)


def test_healthy_only_after_min_healthy_time_without_interruption() -> None:
    t = tracker()
    assert t.observe(1 * S, running=True, failed=False, checks_passing=True) is None
    assert t.next_wake_ns() == 11 * S
    assert t.observe(8 * S, running=False, failed=False, checks_passing=True) is None  # a restart: start over
    assert t.observe(9 * S, running=True, failed=False, checks_passing=True) is None
    assert t.observe(18 * S, running=True, failed=False, checks_passing=True) is None
    assert t.observe(19 * S, running=True, failed=False, checks_passing=True) is True
    assert t.next_wake_ns() is None


def test_checks_count_unless_health_is_by_task_states() -> None:
    by_checks, by_states = tracker(), tracker(use_checks=False)
    for t in (by_checks, by_states):
        t.observe(0, running=True, failed=False, checks_passing=False)
    assert by_checks.observe(10 * S, running=True, failed=False, checks_passing=False) is None
    assert by_states.observe(10 * S, running=True, failed=False, checks_passing=False) is True


def test_unhealthy_on_failure_or_at_the_deadline() -> None:
    t = tracker()
    assert t.observe(1 * S, running=True, failed=True, checks_passing=True) is False
    late = tracker()
    assert late.observe(5 * S, running=True, failed=False, checks_passing=False) is None
    assert late.next_wake_ns() == 60 * S
    assert late.observe(60 * S, running=True, failed=False, checks_passing=False) is False


def test_manual_health_is_not_tracked_and_defaults_are_nomads() -> None:
    assert tracker_for(TaskGroup(Name="g", Update=UpdateStrategy(HealthCheck="manual")), 0) is None
    t = tracker_for(TaskGroup(Name="g"), 5)
    assert t is not None and (t.min_healthy_ns, t.healthy_deadline_ns, t.use_checks) == (10 * S, 300 * S, True)


def deployed(mode: str, *, check_command: str = "") -> Allocation:
    task = make_task("web")
    if check_command:  # the fake driver's exec: "false" exits 1 (a warning), anything else 0 (passing)
        task.Services = [Service(Name="web", Checks=[ServiceCheck(Name="alive", Type="script", Command=check_command,
                                                                  Interval=3600 * S, Timeout=S)])]
    alloc = make_alloc(task, restart=policy(0))
    assert alloc.Job is not None and alloc.Job.TaskGroups
    alloc.Job.TaskGroups[0].Update = UpdateStrategy(HealthCheck=mode, MinHealthyTime=10 * S,
                                                    HealthyDeadline=60 * S)
    return msgspec.structs.replace(alloc, DeploymentID="d1")


def health(h: Harness) -> bool | None:
    status = h.updates[-1].DeploymentStatus if h.updates else None
    return None if status is None else status.Healthy


def test_a_running_task_makes_the_allocation_healthy(tmp_path: Path) -> None:
    async def scenario() -> None:
        clock = ManualClock()
        h = Harness(tmp_path, deployed("task_states"), clock=clock)
        h.start()
        await until(lambda: h.driver.running("web") is not None, "web running")
        await clock.advance(9.5)
        assert health(h) is None  # not yet min_healthy_time
        await clock.advance(1)
        await until(lambda: health(h) is not None, "a health decision")
        assert health(h) is True and h.status() == "running"
        h.driver.exit("web", ExitResult(0))
        await h.finished()

    run(scenario())


def test_a_failing_task_makes_it_unhealthy(tmp_path: Path) -> None:
    async def scenario() -> None:
        h = Harness(tmp_path, deployed("task_states"))
        h.driver.plan("web", Behaviour(exit=ExitResult(1)))
        h.start()
        await h.finished()
        assert health(h) is False

    run(scenario())


def test_checks_must_pass_before_it_is_healthy(tmp_path: Path) -> None:
    async def scenario() -> None:
        clock = ManualClock()
        h = Harness(tmp_path, deployed("checks", check_command="false"), clock=clock)
        h.start()
        await until(lambda: h.driver.running("web") is not None and bool(h.runner.checks), "web checked")
        await clock.advance(59)
        assert health(h) is None  # running, the check warns: undecided until the deadline
        await clock.advance(1.5)
        await until(lambda: health(h) is not None, "a health decision")
        assert health(h) is False
        h.driver.exit("web", ExitResult(0))
        await h.finished()

    run(scenario())


def test_passing_checks_make_it_healthy(tmp_path: Path) -> None:
    async def scenario() -> None:
        clock = ManualClock()
        h = Harness(tmp_path, deployed("checks", check_command="true"), clock=clock)
        h.start()
        await until(lambda: h.driver.running("web") is not None and bool(h.runner.checks), "web checked")
        await clock.advance(9.5)
        assert health(h) is None
        await clock.advance(1)
        await until(lambda: health(h) is not None, "a health decision")
        assert health(h) is True
        h.driver.exit("web", ExitResult(0))
        await h.finished()

    run(scenario())


def test_an_in_place_update_by_a_new_deployment_is_tracked_afresh(tmp_path: Path) -> None:
    async def scenario() -> None:
        clock = ManualClock()
        first = deployed("task_states")
        h = Harness(tmp_path, first, clock=clock)
        h.start()
        await until(lambda: h.driver.running("web") is not None, "web running")
        await clock.advance(10.5)
        await until(lambda: health(h) is True, "healthy in the first deployment")
        h.runner.update(msgspec.structs.replace(first, DeploymentID="d2", DeploymentStatus=None,
                                                AllocModifyIndex=9))
        await clock.advance(5)
        assert h.runner.deployment_status is None  # undecided in the new deployment
        await clock.advance(5.5)
        await until(lambda: h.runner.deployment_status is not None, "a decision in the new deployment")
        assert h.runner.deployment_status is not None and h.runner.deployment_status.Healthy is True
        assert h.driver.log.count("start web") == 1  # the task ran on, untouched
        h.driver.exit("web", ExitResult(0))
        await h.finished()

    run(scenario())
