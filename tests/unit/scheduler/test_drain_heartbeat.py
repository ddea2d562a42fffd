"""Node drains and heartbeats, driven by a fake clock through the FSM and the schedulers."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from cluster import fsm
from cluster.scheduler.drainer import NodeDrainer
from cluster.scheduler.heartbeat import HeartbeatTracker, heartbeat_ttl_ns, node_down_command
from cluster.state.write_allocs import AllocClientUpdate
from cluster.structs.alloc import AllocDeploymentStatus
from cluster.structs.base import SECOND_NS
from cluster.structs.constants import EvalStatus
from cluster.structs.group import MigrateStrategy, UpdateStrategy
from cluster.structs.node import DrainStrategy
from tests.unit.scheduler import factories as f
from tests.unit.scheduler.harness import Harness

NO_DEPLOYMENT = UpdateStrategy(MaxParallel=0)


class DrainCluster:
    def __init__(self) -> None:
        self.h = Harness()
        self.target = self.h.add_node(name="target")
        self.drainer = NodeDrainer(lambda: f.new_id())

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.h.clock.now / SECOND_NS, tz=UTC)

    def drain(self, deadline_s: float = 0, ignore_system: bool = False) -> None:
        self.h.apply(fsm.NodeUpdateDrain(
            NodeID=self.target.ID, UpdatedAt=self.now(),
            DrainStrategy=DrainStrategy(Deadline=int(deadline_s * SECOND_NS), IgnoreSystemJobs=ignore_system,
                                        StartedAt=self.now())))

    def mark_healthy(self) -> None:
        fresh = [a for a in self.h.snap.allocs() if a.DesiredStatus == "run" and a.DeploymentStatus is None]
        status = AllocDeploymentStatus(Healthy=True, Timestamp=self.now())
        self.h.apply(fsm.AllocClientUpdateRequest(Allocs=[
            AllocClientUpdate(ID=a.ID, ClientStatus="running", DeploymentStatus=status) for a in fresh],
            UpdatedAt=self.h.clock.now))

    def step(self) -> list[str]:
        """One drainer step, then the schedulers; returns the IDs it marked to migrate."""
        marked: list[str] = []
        for command in self.drainer.step(self.h.snap, self.h.clock.now):
            if isinstance(command, fsm.AllocUpdateDesiredTransition):
                marked.extend(command.Allocs)
            self.h.apply(command)
        for ev in [e for e in self.h.snap.evals() if e.Status == EvalStatus.PENDING]:
            self.h.process(ev)
        return marked

    def on_target(self) -> list:  # type: ignore[type-arg]
        return [a for a in self.h.snap.allocs_by_node(self.target.ID) if a.DesiredStatus == "run"]


def test_drain_migrates_max_parallel_at_a_time_then_completes() -> None:
    c = DrainCluster()
    job = f.job("web", count=3, update=NO_DEPLOYMENT)
    job.TaskGroups[0].Migrate = MigrateStrategy(MaxParallel=1, HealthCheck="task_states",
                                                MinHealthyTime=0, HealthyDeadline=60 * SECOND_NS)
    c.h.run(job)
    assert len(c.on_target()) == 3
    c.h.add_nodes(3)
    c.mark_healthy()
    c.drain()
    assert not c.h.snap.node_table.schedulable[c.h.snap.node_table.slot(c.target.ID)]
    waves = []
    for _ in range(10):
        marked = c.step()
        if marked:
            waves.append(len(marked))
        c.mark_healthy()
        if c.h.snap.node_by_id(c.target.ID).DrainStrategy is None:
            break
    assert waves == [1, 1, 1]
    node = c.h.snap.node_by_id(c.target.ID)
    assert node.DrainStrategy is None and node.SchedulingEligibility == "ineligible"
    assert node.LastDrain.Status == "complete" and node.Events[-1].Message == "Node drain complete"
    assert len(c.h.live_allocs("web")) == 3 and c.on_target() == []


@pytest.mark.parametrize(("count", "max_parallel", "health", "expected"), [
    (3, 1, [True, True, True], 1),
    (3, 1, [True, True, False], 0),  # an unhealthy allocation is no margin: the group would drop below 2
    (3, 2, [True, False, False], 0),
    (3, 2, [True, True, None], 1),  # undecided health is not healthy either
    (4, 2, [True, True, True, True], 2),
    (2, 1, [False, False], 0),
])
def test_only_healthy_allocations_let_the_drain_move_on(count: int, max_parallel: int, health: list[bool | None],
                                                        expected: int) -> None:
    """Nomad drains a group while it keeps ``count - max_parallel`` healthy allocations: unhealthy or
    undecided ones do not count, so a drain without deadline waits instead of taking the group down."""
    c = DrainCluster()
    job = f.job("web", count=count, update=NO_DEPLOYMENT)
    job.TaskGroups[0].Migrate = MigrateStrategy(MaxParallel=max_parallel)
    c.h.run(job)
    allocs = sorted(c.on_target(), key=lambda a: a.Name)
    assert len(allocs) == count
    c.h.apply(fsm.AllocClientUpdateRequest(Allocs=[
        AllocClientUpdate(ID=a.ID, ClientStatus="running",
                          DeploymentStatus=None if healthy is None else AllocDeploymentStatus(Healthy=healthy))
        for a, healthy in zip(allocs, health, strict=True)], UpdatedAt=c.h.clock.now))
    c.h.add_nodes(count)
    c.drain()
    marks = [cmd for cmd in c.drainer.step(c.h.snap, c.h.clock.now)
             if isinstance(cmd, fsm.AllocUpdateDesiredTransition)]
    assert sum(len(cmd.Allocs) for cmd in marks) == expected


def test_deadline_forces_everything_off_including_batch() -> None:
    c = DrainCluster()
    c.h.run(f.job("report", type="batch", count=2))
    c.h.add_node()
    c.drain(deadline_s=60)
    assert c.step() == []  # batch work may finish before the deadline
    c.h.clock.advance(61)
    assert len(c.step()) == 2
    assert c.on_target() == []


def test_system_jobs_leave_last_and_can_be_ignored() -> None:
    c = DrainCluster()
    c.h.run(f.job("agent", type="system"))
    c.h.run(f.job("web", count=1, update=NO_DEPLOYMENT))
    c.h.add_node()
    c.mark_healthy()
    c.drain(deadline_s=-1)  # force: everything at once, system allocations included
    c.step()
    c.step()
    assert c.on_target() == [] and c.h.snap.node_by_id(c.target.ID).DrainStrategy is None

    d = DrainCluster()
    d.h.run(f.job("agent", type="system"))
    d.drain(ignore_system=True)
    d.step()
    assert [a.JobID for a in d.on_target()] == ["agent"]
    assert d.h.snap.node_by_id(d.target.ID).DrainStrategy is None


def test_last_drain_keeps_the_operators_meta_and_token_accessor() -> None:
    """``nomad node status -verbose`` shows who drained a node and why (``LastDrain``): a new drain sets
    them, a later write without them keeps them, a cancel with its own reason replaces them."""
    c = DrainCluster()
    node_id = c.target.ID

    def drain(strategy: DrainStrategy | None, **kw: object) -> None:
        c.h.apply(fsm.NodeUpdateDrain(NodeID=node_id, DrainStrategy=strategy, UpdatedAt=c.now(), **kw))  # type: ignore[arg-type]

    def last() -> tuple[str, dict[str, str] | None, str]:
        d = c.h.snap.node_by_id(node_id).LastDrain  # type: ignore[union-attr]
        assert d is not None
        return d.Status, d.Meta, d.AccessorID

    drain(DrainStrategy(Deadline=3600 * SECOND_NS), Meta={"reason": "kernel upgrade"}, AccessorID="acc-1")
    assert last() == ("draining", {"reason": "kernel upgrade"}, "acc-1")
    drain(DrainStrategy(Deadline=60 * SECOND_NS))  # a changed deadline, no new meta: kept
    assert last() == ("draining", {"reason": "kernel upgrade"}, "acc-1")
    drain(None, Meta={"cancel_reason": "changed my mind"}, AccessorID="acc-2")
    assert last() == ("canceled", {"cancel_reason": "changed my mind"}, "acc-2")
    drain(DrainStrategy(Deadline=-1), AccessorID="acc-3")  # a new drain starts afresh
    assert last() == ("draining", None, "acc-3")
    c.step()  # nothing on the node: the drainer completes it, keeping who asked
    assert last() == ("complete", None, "acc-3")


def test_heartbeat_ttl_scales_with_the_cluster() -> None:
    rng = random.Random(1)
    small = [heartbeat_ttl_ns(10, rng) for _ in range(100)]
    assert all(10 * SECOND_NS <= t < 20 * SECOND_NS for t in small)
    big = [heartbeat_ttl_ns(5000, rng) for _ in range(100)]
    assert all(100 * SECOND_NS <= t < 200 * SECOND_NS for t in big)  # 5000 / 50 = 100 s, plus stagger


def test_missed_heartbeat_marks_the_node_down_after_the_grace() -> None:
    h = Harness()
    node = h.add_node()
    h.run(f.job("web", count=1, update=NO_DEPLOYMENT))
    tracker = HeartbeatTracker()
    tracker.heartbeat(node.ID, h.clock.now, 10 * SECOND_NS)
    h.clock.advance(19)
    assert tracker.expired(h.clock.now) == []
    h.clock.advance(1)
    assert tracker.expired(h.clock.now) == [node.ID]
    command = node_down_command(h.snap, node.ID, h.clock.now, lambda: f.new_id())
    h.apply(command)
    assert h.snap.node_by_id(node.ID).Status == "down"
    assert [e.JobID for e in command.Evals] == ["web"] and command.Evals[0].TriggeredBy == "node-update"
