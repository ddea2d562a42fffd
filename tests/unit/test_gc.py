"""What the core garbage collector removes (``cluster.gc``), driven by a fake clock, and that the
commands the leader proposes for it (``agents.server.core_gc.gc_commands``) leave a consistent state."""

from __future__ import annotations

import msgspec

from agents.server.core_gc import gc_commands
from cluster import fsm
from cluster.gc import GCThresholds, select_garbage
from cluster.state.requests import DeploymentStatusUpdate
from cluster.state.write_allocs import AllocClientUpdate
from cluster.structs.base import SECOND_NS
from cluster.structs.constants import EvalStatus, JobStatus, NodeStatus
from cluster.structs.group import UpdateStrategy
from cluster.structs.job import PeriodicConfig
from tests.unit.scheduler import factories as f
from tests.unit.scheduler.harness import Harness

HOUR_S = 3600
THRESHOLDS = GCThresholds(eval_ns=HOUR_S * SECOND_NS, job_ns=4 * HOUR_S * SECOND_NS,
                          deployment_ns=HOUR_S * SECOND_NS, node_ns=24 * HOUR_S * SECOND_NS)


def finish(h: Harness, job_id: str, status: str = "complete") -> None:
    """The client reports every allocation of the job finished (now, on the harness clock)."""
    allocs = h.allocs(job_id)
    h.apply(fsm.AllocClientUpdateRequest(Allocs=[AllocClientUpdate(ID=a.ID, ClientStatus=status) for a in allocs],
                                         UpdatedAt=h.clock.now))


def stop(h: Harness, job_id: str) -> None:
    """``nomad job stop``: the job is stopped and the scheduler stops its allocations."""
    ev = h.evaluation(job_id)
    h.apply(fsm.JobDeregister(Namespace="default", JobID=job_id, Eval=ev, SubmitTime=h.clock.now))
    h.process(ev)


def job_status(h: Harness, job_id: str) -> str | None:
    job = h.snap.job_by_id("default", job_id)
    return job.Status if job is not None else None


def collect(h: Harness, thresholds: GCThresholds = THRESHOLDS) -> None:
    for command in gc_commands(select_garbage(h.snap, h.clock.now, thresholds)):
        h.apply(command)


def test_terminal_evaluations_go_with_their_allocations_once_old() -> None:
    h = Harness()
    h.add_nodes(2)
    ev = h.run(f.job("web", count=2))
    assert h.eval_status(ev).Status == EvalStatus.COMPLETE
    finish(h, "web", "failed")
    h.clock.advance(HOUR_S - 1)
    assert select_garbage(h.snap, h.clock.now, THRESHOLDS).evals == []
    h.clock.advance(1)
    chosen = select_garbage(h.snap, h.clock.now, THRESHOLDS)
    assert chosen.evals == [ev.ID] and sorted(chosen.allocs) == sorted(a.ID for a in h.allocs("web"))
    assert chosen.jobs == []  # the service job is not stopped: it stays
    collect(h)
    assert h.snap.eval_by_id(ev.ID) is None and h.allocs("web") == []
    assert h.snap.job_by_id("default", "web") is not None


def test_an_evaluation_with_a_live_allocation_stays() -> None:
    h = Harness()
    h.add_nodes(1)
    ev = h.run(f.job("web", count=1))
    h.clock.advance(10 * HOUR_S)
    assert select_garbage(h.snap, h.clock.now, THRESHOLDS).empty()
    assert h.eval_status(ev).Status == EvalStatus.COMPLETE


def test_a_finished_batch_job_loses_its_evaluations_first_then_goes_itself() -> None:
    h = Harness()
    h.add_nodes(1)
    ev = h.run(f.job("report", type="batch", count=1))
    finish(h, "report")
    assert job_status(h, "report") == JobStatus.DEAD
    h.clock.advance(HOUR_S)
    chosen = select_garbage(h.snap, h.clock.now, THRESHOLDS)
    assert chosen.evals == [ev.ID] and chosen.jobs == []
    collect(h)
    assert h.snap.eval_by_id(ev.ID) is None and h.snap.job_by_id("default", "report") is not None
    h.clock.advance(3 * HOUR_S)
    assert select_garbage(h.snap, h.clock.now, THRESHOLDS).jobs == [("default", "report")]
    collect(h)
    assert h.snap.job_by_id("default", "report") is None and h.allocs("report") == []


def test_a_dead_batch_job_stays_dead_when_its_evaluations_are_collected() -> None:
    """``nomad job status`` keeps saying "dead" (Nomad recomputes the status with ``evalDelete``),
    not "pending" as if the job had never run."""
    h = Harness()
    h.add_nodes(1)
    h.run(f.job("report", type="batch", count=1))
    finish(h, "report")
    h.clock.advance(HOUR_S)
    collect(h)
    assert h.snap.evals_by_job("default", "report") == [] and h.allocs("report") == []
    assert job_status(h, "report") == JobStatus.DEAD


def test_a_running_batch_job_keeps_its_finished_evaluations() -> None:
    """Nomad keeps them: with its terminal allocations gone the scheduler would run them again."""
    h = Harness()
    h.add_nodes(1)
    first = h.run(f.job("report", type="batch", count=1))
    finish(h, "report", "failed")
    h.run(f.job("report", type="batch", count=2))
    assert job_status(h, "report") != JobStatus.DEAD
    h.clock.advance(10 * HOUR_S)
    assert first.ID not in select_garbage(h.snap, h.clock.now, THRESHOLDS).evals


def test_a_stopped_job_is_purged_only_when_old_and_forced_gc_ignores_age() -> None:
    h = Harness()
    h.add_nodes(1)
    h.run(f.job("web", count=1))
    stop(h, "web")
    finish(h, "web")
    assert job_status(h, "web") == JobStatus.DEAD
    h.clock.advance(HOUR_S)
    assert select_garbage(h.snap, h.clock.now, THRESHOLDS).jobs == []
    collect(h, GCThresholds.forced())
    assert h.snap.job_by_id("default", "web") is None and h.allocs("web") == []


def test_dead_jobs_are_purged_in_one_batch_after_their_evaluations() -> None:
    """Nomad's collector purges jobs with one ``JobBatchDeregister`` per batch, not an entry per job."""
    h = Harness()
    h.add_nodes(1)
    for job_id in ("r1", "r2", "r3"):
        h.run(f.job(job_id, type="batch", count=1))
        finish(h, job_id)
    h.clock.advance(4 * HOUR_S)
    commands = gc_commands(select_garbage(h.snap, h.clock.now, THRESHOLDS))
    assert [type(c).__name__ for c in commands] == ["EvalDelete", "JobBatchDeregister"]
    batch = commands[1]
    assert isinstance(batch, fsm.JobBatchDeregister) and batch.Purge
    assert sorted(batch.Jobs) == [("default", "r1"), ("default", "r2"), ("default", "r3")]
    for command in commands:
        h.apply(command)
    assert list(h.snap.jobs()) == [] and list(h.snap.allocs()) == [] and list(h.snap.evals()) == []


def test_periodic_parents_stay_until_stopped() -> None:
    h = Harness()
    parent = msgspec.structs.replace(f.job("cron", type="batch"), Periodic=PeriodicConfig(
        Enabled=True, Spec="* * * * *", TimeZone="UTC"))
    h.apply(fsm.JobRegister(Job=parent, SubmitTime=h.clock.now))
    h.clock.advance(10 * HOUR_S)
    assert select_garbage(h.snap, h.clock.now, THRESHOLDS).jobs == []


def test_old_terminal_deployments_go() -> None:
    h = Harness()
    h.add_nodes(2)
    h.run(f.job("web", count=2, update=UpdateStrategy(MaxParallel=1)))
    (d,) = h.snap.deployments_by_job("default", "web")
    h.clock.advance(2 * HOUR_S)
    assert select_garbage(h.snap, h.clock.now, THRESHOLDS).deployments == []  # running, allocations live
    stop(h, "web")
    finish(h, "web")
    assert h.snap.deployment_by_id(d.ID).Status != "running"  # type: ignore[union-attr]
    h.clock.advance(HOUR_S - 1)
    assert select_garbage(h.snap, h.clock.now, THRESHOLDS).deployments == []
    h.clock.advance(1)
    assert select_garbage(h.snap, h.clock.now, THRESHOLDS).deployments == [d.ID]
    collect(h)
    assert h.snap.deployment_by_id(d.ID) is None


def test_a_deployment_ages_from_its_last_status_change() -> None:
    """A deployment failed by hand two hours in is kept for the whole deployment threshold after that,
    however long ago its allocations last changed: its ``ModifyTime`` moves with every status write."""
    h = Harness()
    h.add_nodes(2)
    h.run(f.job("web", count=2, update=UpdateStrategy(MaxParallel=1)))
    (d,) = h.snap.deployments_by_job("default", "web")
    h.clock.advance(60)
    finish(h, "web", "failed")
    h.clock.advance(2 * HOUR_S)
    failed_at = h.clock.now
    h.apply(fsm.DeploymentStatusUpdateRequest(DeploymentUpdate=DeploymentStatusUpdate(
        DeploymentID=d.ID, Status="failed", StatusDescription="Deployment marked as failed", UpdatedAt=failed_at)))
    assert h.snap.deployment_by_id(d.ID).ModifyTime == failed_at  # type: ignore[union-attr]
    h.clock.advance(HOUR_S - 1)
    assert select_garbage(h.snap, h.clock.now, THRESHOLDS).deployments == []
    h.clock.advance(1)
    assert select_garbage(h.snap, h.clock.now, THRESHOLDS).deployments == [d.ID]


def test_every_kind_of_status_write_moves_the_deployment_modify_time() -> None:
    h = Harness()
    h.add_nodes(2)
    h.run(f.job("web", count=2, update=UpdateStrategy(MaxParallel=1)))
    (d,) = h.snap.deployments_by_job("default", "web")
    h.clock.advance(30)
    paused_at = h.clock.now  # an update that names no time takes the command's evaluation time
    ev = msgspec.structs.replace(h.evaluation("web"), ModifyTime=paused_at)
    h.apply(fsm.DeploymentStatusUpdateRequest(DeploymentUpdate=DeploymentStatusUpdate(
        DeploymentID=d.ID, Status="paused"), Eval=ev))
    assert h.snap.deployment_by_id(d.ID).ModifyTime == paused_at  # type: ignore[union-attr]
    h.clock.advance(30)
    h.apply(fsm.DeploymentStatusUpdateRequest(DeploymentUpdate=DeploymentStatusUpdate(
        DeploymentID=d.ID, Status="running"), SubmitTime=h.clock.now))
    assert h.snap.deployment_by_id(d.ID).ModifyTime == h.clock.now  # type: ignore[union-attr]
    h.clock.advance(30)
    stop(h, "web")  # the scheduler cancels the deployment through its plan
    stopped = h.snap.deployment_by_id(d.ID)
    assert stopped is not None and stopped.Status == "cancelled" and stopped.ModifyTime == h.clock.now


def test_down_nodes_without_allocations_go_after_the_node_threshold() -> None:
    h = Harness()
    empty, busy = h.add_nodes(2)
    h.apply(fsm.NodeRegister(Node=msgspec.structs.replace(empty, Status=NodeStatus.DOWN,
                                                          StatusUpdatedAt=h.clock.now // SECOND_NS)))
    h.run(f.job("web", count=2))
    h.apply(fsm.NodeUpdateStatus(NodeID=busy.ID, Status=NodeStatus.DOWN, UpdatedAt=h.clock.now // SECOND_NS))
    h.clock.advance(24 * HOUR_S - 1)
    assert select_garbage(h.snap, h.clock.now, THRESHOLDS).nodes == []
    h.clock.advance(1)
    assert select_garbage(h.snap, h.clock.now, THRESHOLDS).nodes == [empty.ID]
    collect(h)
    assert h.snap.node_by_id(empty.ID) is None and h.snap.node_by_id(busy.ID) is not None
