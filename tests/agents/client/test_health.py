"""Deployment health decided on the client: healthy after min_healthy_time of running tasks (and passing
checks), unhealthy on a failed task or at the healthy deadline, reported with the allocation update; for
service allocations outside a deployment by the ``migrate`` stanza, which node drains wait on."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec

from agents.client.drivers.base import ExitResult
from agents.client.health import HealthTracker, tracker_for
from cluster import fsm
from cluster.scheduler.drainer import NodeDrainer
from cluster.state.write_allocs import AllocClientUpdate
from cluster.structs import Allocation, MigrateStrategy, Service, ServiceCheck, TaskGroup, UpdateStrategy
from cluster.structs.base import SECOND_NS
from cluster.structs.node import DrainStrategy
from tests.agents.client.harness import Harness, run, until
from tests.agents.client.support import Behaviour, FakeClock, make_alloc, make_task, policy
from tests.unit.scheduler import factories as f
from tests.unit.scheduler.harness import Harness as ServerHarness

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


def test_outside_a_deployment_the_migrate_stanza_sets_the_rule() -> None:
    group = TaskGroup(Name="g", Update=UpdateStrategy(HealthCheck="manual"),
                      Migrate=MigrateStrategy(HealthCheck="task_states", MinHealthyTime=2 * S, HealthyDeadline=30 * S))
    t = tracker_for(group, 0, migrate=True)
    assert t is not None and (t.min_healthy_ns, t.healthy_deadline_ns, t.use_checks) == (2 * S, 30 * S, False)
    t = tracker_for(TaskGroup(Name="g"), 0, migrate=True)  # Nomad's migrate defaults
    assert t is not None and (t.min_healthy_ns, t.healthy_deadline_ns, t.use_checks) == (10 * S, 300 * S, True)


def migrating(job_type: str) -> Allocation:
    """An allocation outside any deployment (placed by a drain's migration, say)."""
    alloc = make_alloc(make_task("web"), job_type=job_type, restart=policy(0))
    assert alloc.Job is not None and alloc.Job.TaskGroups and not alloc.DeploymentID
    alloc.Job.TaskGroups[0].Migrate = MigrateStrategy(MaxParallel=1, HealthCheck="task_states", MinHealthyTime=5 * S,
                                                      HealthyDeadline=60 * S)
    return alloc


def test_a_service_allocation_outside_a_deployment_reports_health_for_drains(tmp_path: Path) -> None:
    """The node drainer moves a group on only once its replacements are healthy: without this report a
    drain without deadline would never move allocations placed outside deployments."""
    async def scenario() -> None:
        clock = ManualClock()
        h = Harness(tmp_path, migrating("service"), clock=clock)
        h.start()
        await until(lambda: h.driver.running("web") is not None, "web running")
        await clock.advance(4.5)
        assert health(h) is None  # the migrate stanza's min_healthy_time, not the update stanza's 10 s
        await clock.advance(1)
        await until(lambda: health(h) is not None, "a health decision")
        assert health(h) is True
        h.driver.exit("web", ExitResult(0))
        await h.finished()

    run(scenario())


def test_a_batch_allocation_outside_a_deployment_reports_no_health(tmp_path: Path) -> None:
    async def scenario() -> None:
        clock = ManualClock()
        h = Harness(tmp_path, migrating("batch"), clock=clock)
        h.start()
        await until(lambda: h.driver.running("web") is not None, "web running")
        await clock.advance(10)
        assert health(h) is None and h.runner.deployment_status is None
        h.driver.exit("web", ExitResult(0))
        await h.finished()
        assert health(h) is None

    run(scenario())


def test_a_drain_without_deadline_moves_on_once_the_client_reports_migrate_health(tmp_path: Path) -> None:
    """End to end through the state: the servers place a group outside any deployment, the node is
    drained without a deadline, and the drainer marks nothing until the client's migrate-health report
    for the allocations lands; then it moves one (``max_parallel = 1``)."""
    servers = ServerHarness()
    target = servers.add_node(name="target")
    job = f.job("web", count=2, update=UpdateStrategy(MaxParallel=0))
    job.TaskGroups[0].Migrate = MigrateStrategy(MaxParallel=1, HealthCheck="task_states", MinHealthyTime=5 * S,
                                                HealthyDeadline=60 * S)
    servers.run(job)
    placed = sorted(servers.live_allocs("web"), key=lambda a: a.Name)
    assert len(placed) == 2 and {a.NodeID for a in placed} == {target.ID}
    servers.add_node()
    servers.apply(fsm.NodeUpdateDrain(NodeID=target.ID, DrainStrategy=DrainStrategy()))
    drainer = NodeDrainer(lambda: f.new_id())

    def marked() -> int:
        return sum(len(c.Allocs) for c in drainer.step(servers.snap, servers.clock.now)
                   if isinstance(c, fsm.AllocUpdateDesiredTransition))

    assert marked() == 0  # no health reported yet: the drain waits

    async def client_report(alloc: Allocation, data: Path) -> Allocation:
        assert alloc.Job is not None and alloc.Job.TaskGroups and alloc.Job.TaskGroups[0].Tasks
        job_copy = msgspec.convert(msgspec.to_builtins(alloc.Job), type=type(alloc.Job))  # the client's own copy
        on_client = msgspec.structs.replace(alloc, Job=job_copy)
        assert on_client.Job is not None and on_client.Job.TaskGroups and on_client.Job.TaskGroups[0].Tasks
        on_client.Job.TaskGroups[0].Tasks[0].Driver = "fake"
        clock = ManualClock()
        h = Harness(data, on_client, clock=clock)
        h.start()
        await until(lambda: h.driver.running("web") is not None, "web running")
        await clock.advance(5.5)
        await until(lambda: health(h) is not None, "a health decision")
        report = h.updates[-1]
        await h.runner.detach()  # the job's restart policy would run the task again: just let go
        return report

    for i, alloc in enumerate(placed):
        report = asyncio.run(client_report(alloc, tmp_path / str(i)))
        servers.apply(fsm.AllocClientUpdateRequest(Allocs=[AllocClientUpdate(
            ID=report.ID, ClientStatus="running", TaskStates=None, DeploymentStatus=report.DeploymentStatus)],
            UpdatedAt=servers.clock.now))
    assert all(a.DeploymentStatus is not None and a.DeploymentStatus.Healthy for a in servers.live_allocs("web"))
    assert marked() == 1
