"""Disconnected clients, as Nomad documents ``disconnect { lost_after }`` and ``max_client_disconnect``:
a client that misses its heartbeat while running such allocations is marked disconnected, its
allocations become ``unknown`` and are replaced; when the window runs out they are lost, and when
the client comes back first the original stays and the replacement stops. Driven by a fake clock."""

from __future__ import annotations

from cluster import fsm
from cluster.scheduler.heartbeat import node_down_command, node_reconnect_evals
from cluster.scheduler.reconcile import StopReason
from cluster.state.write_allocs import AllocClientUpdate
from cluster.structs.alloc import Allocation
from cluster.structs.base import SECOND_NS
from cluster.structs.constants import AllocClientStatus, AllocDesiredStatus, EvalTrigger, NodeStatus
from cluster.structs.evaluation import Evaluation
from cluster.structs.group import DisconnectStrategy, UpdateStrategy
from cluster.structs.job import Job
from tests.unit.scheduler import factories as f
from tests.unit.scheduler.harness import Harness

LOST_AFTER_S = 300
NO_DEPLOYMENT = UpdateStrategy(MaxParallel=0)


def job_with_window(*, old_style: bool = False) -> Job:
    job = f.job("web", count=1, update=NO_DEPLOYMENT)
    tg = (job.TaskGroups or [])[0]
    if old_style:
        tg.MaxClientDisconnect = LOST_AFTER_S * SECOND_NS
    else:
        tg.Disconnect = DisconnectStrategy(LostAfter=LOST_AFTER_S * SECOND_NS, Replace=True, Reconcile="best_score")
    return job


def running(h: Harness, *allocs: Allocation) -> None:
    h.apply(fsm.AllocClientUpdateRequest(
        Allocs=[AllocClientUpdate(ID=a.ID, ClientStatus=AllocClientStatus.RUNNING) for a in allocs]))


def disconnect(h: Harness, *, old_style: bool = False) -> tuple[Allocation, fsm.NodeUpdateStatus]:
    """Runs the job on one of two nodes, then that node misses its heartbeat; processes the
    node-update evaluation. Returns the original allocation and the heartbeat command."""
    h.add_nodes(2)
    h.run(job_with_window(old_style=old_style))
    (original,) = h.live_allocs("web")
    running(h, original)
    command = node_down_command(h.snap, original.NodeID, h.clock.now, f.new_id)
    h.apply(command)
    assert command.Evals is not None
    h.process(h.eval_status(command.Evals[0]))
    return original, command


def alloc(h: Harness, alloc_id: str) -> Allocation:
    found = h.snap.alloc_by_id(alloc_id)
    assert found is not None
    return found


def followup(h: Harness) -> Evaluation:
    (ev,) = [e for e in h.created_evals if e.TriggeredBy == EvalTrigger.MAX_DISCONNECT_TIMEOUT]
    return h.eval_status(ev)


def test_a_missed_heartbeat_makes_the_allocations_unknown_and_replaces_them() -> None:
    h = Harness()
    original, command = disconnect(h)
    assert command.Status == NodeStatus.DISCONNECTED
    assert h.snap.node_by_id(original.NodeID).Status == NodeStatus.DISCONNECTED  # type: ignore[union-attr]
    away = alloc(h, original.ID)
    assert (away.ClientStatus, away.DesiredStatus) == (AllocClientStatus.UNKNOWN, AllocDesiredStatus.RUN)
    states = away.AllocStates or []
    assert [(s.Field, s.Value) for s in states] == [("ClientStatus", "unknown")]
    (replacement,) = [a for a in h.live_allocs("web") if a.ID != original.ID]
    assert replacement.NodeID != original.NodeID and replacement.PreviousAllocation == original.ID
    assert replacement.Name == original.Name
    ev = followup(h)
    assert away.FollowupEvalID == ev.ID
    assert (ev.WaitUntil - states[0].Time).total_seconds() == LOST_AFTER_S
    summary = h.snap.job_summary("default", "web")
    assert summary is not None and (summary.Summary["web"].Unknown, summary.Summary["web"].Starting) == (1, 1)


def test_the_older_max_client_disconnect_behaves_the_same() -> None:
    h = Harness()
    original, _ = disconnect(h, old_style=True)
    assert alloc(h, original.ID).ClientStatus == AllocClientStatus.UNKNOWN
    assert len(h.live_allocs("web")) == 2


def test_a_second_missed_heartbeat_marks_the_node_down() -> None:
    h = Harness()
    original, _ = disconnect(h)
    command = node_down_command(h.snap, original.NodeID, h.clock.now, f.new_id)
    assert command.Status == NodeStatus.DOWN


def test_without_a_window_the_node_goes_down_and_its_allocations_are_lost() -> None:
    h = Harness()
    h.add_nodes(2)
    h.run(f.job("web", count=1, update=NO_DEPLOYMENT))
    (original,) = h.live_allocs("web")
    command = node_down_command(h.snap, original.NodeID, h.clock.now, f.new_id)
    assert command.Status == NodeStatus.DOWN


def test_unknown_allocations_are_lost_when_the_window_runs_out() -> None:
    h = Harness()
    original, _ = disconnect(h)
    ev = followup(h)
    h.clock.advance(LOST_AFTER_S - 1)
    h.process(ev)  # too early (a woken broker timer may run a little ahead): nothing changes
    assert alloc(h, original.ID).ClientStatus == AllocClientStatus.UNKNOWN
    h.clock.advance(1)
    h.process(ev)
    lost = alloc(h, original.ID)
    assert (lost.ClientStatus, lost.DesiredStatus) == (AllocClientStatus.LOST, AllocDesiredStatus.STOP)
    assert len(h.live_allocs("web")) == 1  # the replacement; no second one


def test_a_client_that_comes_back_keeps_its_allocation_and_the_replacement_stops() -> None:
    h = Harness()
    original, _ = disconnect(h)
    (replacement,) = [a for a in h.live_allocs("web") if a.ID != original.ID]
    h.clock.advance(60)
    evals = node_reconnect_evals(h.snap, original.NodeID, h.clock.now, f.new_id)
    assert [(e.JobID, e.TriggeredBy) for e in evals] == [("web", EvalTrigger.RECONNECT)]
    running(h, alloc(h, original.ID))
    h.apply(fsm.NodeUpdateStatus(NodeID=original.NodeID, Status=NodeStatus.READY, UpdatedAt=h.clock.now // SECOND_NS,
                                 Evals=evals))
    h.process(h.eval_status(evals[0]))
    assert [a.ID for a in h.live_allocs("web")] == [original.ID]
    stopped = alloc(h, replacement.ID)
    assert stopped.DesiredStatus == AllocDesiredStatus.STOP and stopped.DesiredDescription == StopReason.RECONNECTED
    back = alloc(h, original.ID)
    assert [(s.Field, s.Value) for s in back.AllocStates or []] == [
        ("ClientStatus", "unknown"), ("ClientStatus", "running")]
    assert node_reconnect_evals(h.snap, original.NodeID, h.clock.now, f.new_id) == []  # reconciled for good
    h.process(h.evaluation("web"))
    assert [a.ID for a in h.live_allocs("web")] == [original.ID]


def test_a_client_back_but_silent_changes_nothing_until_it_reports() -> None:
    h = Harness()
    original, _ = disconnect(h)
    h.apply(fsm.NodeUpdateStatus(NodeID=original.NodeID, Status=NodeStatus.READY, UpdatedAt=h.clock.now // SECOND_NS))
    h.process(h.evaluation("web", trigger=EvalTrigger.RECONNECT))
    assert len(h.live_allocs("web")) == 2 and alloc(h, original.ID).ClientStatus == AllocClientStatus.UNKNOWN
