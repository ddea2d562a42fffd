"""Deployments driven end to end by a fake clock: the scheduler places, clients report health (decided
by ``alloc_health``), the watcher promotes, continues, fails or reverts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cluster import fsm
from cluster.deployments.health import alloc_health
from cluster.deployments.watcher import DeploymentWatcher
from cluster.state.write_allocs import AllocClientUpdate
from cluster.structs.alloc import AllocDeploymentStatus, TaskState
from cluster.structs.base import MINUTE_NS, SECOND_NS
from cluster.structs.constants import EvalStatus
from cluster.structs.group import UpdateStrategy
from tests.unit.scheduler import factories as f
from tests.unit.scheduler.harness import Harness

T0 = datetime(2024, 1, 1, tzinfo=UTC)


# -- allocation health ------------------------------------------------------------------------------


def running(since: datetime) -> TaskState:
    return TaskState(State="running", StartedAt=since)


def test_healthy_after_min_healthy_time_of_running_tasks() -> None:
    update = UpdateStrategy(HealthCheck="task_states", MinHealthyTime=10 * SECOND_NS, HealthyDeadline=5 * MINUTE_NS)
    tasks = {"web": running(T0)}
    early = alloc_health(tasks, update, T0, T0 + timedelta(seconds=9))
    assert early.healthy is None and early.decide_at == T0 + timedelta(seconds=10)
    assert alloc_health(tasks, update, T0, T0 + timedelta(seconds=10)).healthy is True


def test_checks_must_pass_for_min_healthy_time_too() -> None:
    update = UpdateStrategy(HealthCheck="checks", MinHealthyTime=10 * SECOND_NS, HealthyDeadline=5 * MINUTE_NS)
    tasks = {"web": running(T0)}
    at = T0 + timedelta(seconds=30)
    assert alloc_health(tasks, update, T0, at, checks_passing_since=None).healthy is None
    assert alloc_health(tasks, update, T0, at, checks_passing_since=at - timedelta(seconds=5)).healthy is None
    assert alloc_health(tasks, update, T0, at, checks_passing_since=at - timedelta(seconds=10)).healthy is True


def test_failed_task_or_missed_deadline_is_unhealthy_and_manual_is_never_decided() -> None:
    update = UpdateStrategy(HealthCheck="task_states", MinHealthyTime=10 * SECOND_NS, HealthyDeadline=60 * SECOND_NS)
    failed = alloc_health({"web": TaskState(State="dead", Failed=True)}, update, T0, T0)
    assert failed.healthy is False and failed.reason == 'task "web" failed'
    slow = alloc_health({"web": TaskState(State="pending")}, update, T0, T0 + timedelta(seconds=60))
    assert slow.healthy is False and slow.reason == "healthy deadline exceeded"
    manual = UpdateStrategy(HealthCheck="manual")
    assert alloc_health({"web": TaskState(State="dead", Failed=True)}, manual, T0, T0).healthy is None


# -- the whole loop -----------------------------------------------------------------------------------


class Cluster:
    def __init__(self, nodes: int = 4) -> None:
        self.h = Harness()
        self.h.add_nodes(nodes)
        self.watcher = DeploymentWatcher(lambda: f.new_id())

    def pending_evals(self, job_id: str) -> list:  # type: ignore[type-arg]
        return [e for e in self.h.snap.evals_by_job("default", job_id) if e.Status == EvalStatus.PENDING]

    def settle(self, job_id: str) -> None:
        """Runs the watcher and the scheduler until neither has anything to do."""
        for _ in range(20):
            for command in self.watcher.step(self.h.snap, self.h.clock.now):
                self.h.apply(command)
            pending = self.pending_evals(job_id)
            if not pending:
                return
            for ev in pending:
                self.h.process(ev)
        raise AssertionError("did not settle")

    def report(self, allocs: list, healthy: bool) -> None:  # type: ignore[type-arg]
        status = AllocDeploymentStatus(Healthy=healthy, Timestamp=datetime.fromtimestamp(
            self.h.clock.now / SECOND_NS, tz=UTC))
        self.h.apply(fsm.AllocClientUpdateRequest(Allocs=[
            AllocClientUpdate(ID=a.ID, ClientStatus="running" if healthy else "failed", DeploymentStatus=status)
            for a in allocs], UpdatedAt=self.h.clock.now))

    def new_unhealthy_deciders(self, job_id: str) -> list:  # type: ignore[type-arg]
        d = self.h.snap.latest_deployment_by_job("default", job_id)
        return [a for a in self.h.live_allocs(job_id)
                if a.DeploymentID == d.ID and (a.DeploymentStatus is None or a.DeploymentStatus.Healthy is None)]


def test_rolling_update_completes_max_parallel_at_a_time() -> None:
    c = Cluster()
    update = UpdateStrategy(MaxParallel=1, AutoRevert=True)
    c.h.run(f.job("web", count=3, update=update))
    c.report(c.h.live_allocs("web"), healthy=True)
    c.settle("web")
    assert c.h.snap.job_by_id("default", "web").Stable is True
    c.h.run(f.job("web", count=3, update=update, memory_mb=300))
    waves = 0
    while (fresh := c.new_unhealthy_deciders("web")):
        assert len(fresh) == 1  # max_parallel = 1
        waves += 1
        c.h.clock.advance(15)
        c.report(fresh, healthy=True)
        c.settle("web")
    assert waves == 3
    d = c.h.snap.latest_deployment_by_job("default", "web")
    assert d.Status == "successful" and d.StatusDescription == "Deployment completed successfully"
    assert all(a.Job.Version == 1 for a in c.h.live_allocs("web"))
    assert c.h.snap.job_by_id("default", "web").Stable is True


def test_unhealthy_allocation_fails_the_deployment_and_reverts_to_the_stable_version() -> None:
    c = Cluster()
    update = UpdateStrategy(MaxParallel=1, AutoRevert=True)
    c.h.run(f.job("web", count=2, update=update))
    c.report(c.h.live_allocs("web"), healthy=True)
    c.settle("web")
    c.h.run(f.job("web", count=2, update=update, memory_mb=300))
    bad = c.new_unhealthy_deciders("web")
    c.report(bad, healthy=False)
    c.settle("web")
    failed = [d for d in c.h.snap.deployments_by_job("default", "web") if d.Status == "failed"]
    assert len(failed) == 1
    assert failed[0].StatusDescription == "Failed due to unhealthy allocations - rolling back to job version 0"
    job = c.h.snap.job_by_id("default", "web")
    assert job.Version == 2 and job.TaskGroups[0].Tasks[0].Resources.MemoryMB == 256
    assert all(a.Job.Version == 2 for a in c.h.live_allocs("web"))


def test_missed_progress_deadline_fails_the_deployment() -> None:
    c = Cluster()
    update = UpdateStrategy(MaxParallel=1, ProgressDeadline=5 * MINUTE_NS, HealthyDeadline=2 * MINUTE_NS)
    c.h.run(f.job("web", count=2, update=update))
    c.settle("web")
    d = c.h.snap.latest_deployment_by_job("default", "web")
    deadline = DeploymentWatcher.next_deadline_ns(c.h.snap)
    assert deadline == c.h.clock.now + 5 * MINUTE_NS
    c.h.clock.advance(5 * 60 + 1)
    c.settle("web")
    d = c.h.snap.deployment_by_id(d.ID)
    assert d.Status == "failed" and d.StatusDescription == "Failed due to progress deadline"


def test_healthy_canaries_are_auto_promoted_then_the_rest_rolls_out() -> None:
    c = Cluster(nodes=5)
    update = UpdateStrategy(MaxParallel=2, Canary=1, AutoPromote=True)
    c.h.run(f.job("web", count=3, update=update))
    c.report(c.h.live_allocs("web"), healthy=True)
    c.settle("web")
    c.h.run(f.job("web", count=3, update=update, memory_mb=300))
    (canary,) = c.new_unhealthy_deciders("web")
    assert canary.DeploymentStatus.Canary
    c.report([canary], healthy=True)
    c.settle("web")
    d = c.h.snap.latest_deployment_by_job("default", "web")
    assert d.TaskGroups["web"].Promoted
    while (fresh := c.new_unhealthy_deciders("web")):
        c.report(fresh, healthy=True)
        c.settle("web")
    live = c.h.live_allocs("web")
    assert len(live) == 3 and all(a.Job.Version == 1 for a in live)
    assert c.h.snap.deployment_by_id(d.ID).Status == "successful"
