"""The eval broker and the blocked-evaluation tracker, driven by a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cluster import fsm
from cluster.errors import Conflict, NotFound
from cluster.scheduler.blocked import BlockedEvals, CapacityChanges, capacity_changes
from cluster.scheduler.broker import FAILED_QUEUE, EvalBroker
from cluster.state.write_allocs import AllocClientUpdate
from cluster.structs.base import SECOND_NS
from cluster.structs.constants import AllocClientStatus, EvalStatus, EvalTrigger
from cluster.structs.evaluation import Evaluation
from tests.unit.scheduler import factories as f
from tests.unit.scheduler.harness import Clock, Harness

_ids = iter(range(1, 1_000_000))


def ev(job: str = "web", priority: int = 50, kind: str = "service", index: int = 0, **kw: object) -> Evaluation:
    n = next(_ids)
    fields: dict[str, object] = {"Status": EvalStatus.PENDING, **kw}
    return Evaluation(ID=f"eval-{n}", Namespace="default", JobID=job, Priority=priority, Type=kind,
                      CreateIndex=index or n, ModifyIndex=index or n, **fields)  # type: ignore[arg-type]


@pytest.fixture
def broker() -> tuple[EvalBroker, Clock]:
    clock = Clock()
    b = EvalBroker(clock)
    b.set_enabled(True)
    return b, clock


def test_highest_priority_first_then_oldest(broker: tuple[EvalBroker, Clock]) -> None:
    b, _ = broker
    low, high, also_high = ev("a", 30), ev("b", 80), ev("c", 80)
    for e in (low, high, also_high):
        b.enqueue(e)
    order = []
    while (got := b.dequeue(["service"])) is not None:
        order.append(got[0].JobID)
        b.ack(got[0].ID, got[1])
    assert order == ["b", "c", "a"]


def test_dequeue_only_serves_the_asked_scheduler_types(broker: tuple[EvalBroker, Clock]) -> None:
    b, _ = broker
    b.enqueue(ev("sys", kind="system"))
    assert b.dequeue(["service", "batch"]) is None
    got = b.dequeue(["service", "system"])
    assert got is not None and got[0].JobID == "sys"


def test_one_evaluation_per_job_in_flight_and_the_newest_waiting_runs_next(broker: tuple[EvalBroker, Clock]) -> None:
    b, _ = broker
    first, second, third = ev("web"), ev("web"), ev("web")
    for e in (first, second, third):
        b.enqueue(e)
    got = b.dequeue(["service"])
    assert got is not None and got[0].ID == first.ID
    assert b.dequeue(["service"]) is None  # the others wait behind the one in flight
    assert b.stats().total_pending == 2
    b.ack(first.ID, got[1])
    nxt = b.dequeue(["service"])
    assert nxt is not None and nxt[0].ID == third.ID
    assert [e.ID for e in b.cancelable()] == [second.ID]


def test_ack_needs_the_token(broker: tuple[EvalBroker, Clock]) -> None:
    b, _ = broker
    b.enqueue(ev())
    got = b.dequeue(["service"])
    assert got is not None
    with pytest.raises(Conflict):
        b.ack(got[0].ID, "wrong")
    b.ack(got[0].ID, got[1])
    with pytest.raises(NotFound):
        b.ack(got[0].ID, got[1])


def test_nack_redelivers_after_a_delay_then_fails_at_the_delivery_limit(broker: tuple[EvalBroker, Clock]) -> None:
    b, clock = broker
    e = ev()
    b.enqueue(e)
    for delivery in range(3):
        got = b.dequeue(["service"])
        assert got is not None and got[0].ID == e.ID, delivery
        b.nack(e.ID, got[1])
        assert b.dequeue(["service"]) is None
        clock.advance(1 if delivery == 0 else 20)
        b.tick()
    assert b.dequeue(["service"]) is None
    failed = b.dequeue([FAILED_QUEUE])
    assert failed is not None and failed[0].ID == e.ID


def test_silent_worker_is_nacked_after_the_timeout(broker: tuple[EvalBroker, Clock]) -> None:
    b, clock = broker
    b.enqueue(ev())
    got = b.dequeue(["service"])
    assert got is not None
    clock.advance(59)
    b.tick()
    assert b.stats().total_unacked == 1
    b.outstanding_reset(got[0].ID, got[1])
    clock.advance(59)
    b.tick()
    assert b.stats().total_unacked == 1
    clock.advance(2)
    b.tick()
    assert b.stats().total_unacked == 0 and b.stats().total_waiting == 1
    assert b.next_deadline_ns() == clock.now + SECOND_NS  # redelivered a second after the timeout


def test_delayed_evaluation_waits_until_its_time(broker: tuple[EvalBroker, Clock]) -> None:
    b, clock = broker
    wake = datetime.fromtimestamp(clock.now / SECOND_NS + 30, tz=UTC)
    b.enqueue(ev(WaitUntil=wake, TriggeredBy=EvalTrigger.RETRY_FAILED_ALLOC))
    assert b.dequeue(["service"]) is None and b.stats().total_waiting == 1
    clock.advance(29)
    b.tick()
    assert b.dequeue(["service"]) is None
    clock.advance(1)
    b.tick()
    assert b.dequeue(["service"]) is not None


def test_disabled_broker_takes_nothing() -> None:
    b = EvalBroker(Clock())
    b.enqueue(ev())
    assert b.dequeue(["service"]) is None and b.stats().total_ready == 0


# -- blocked evaluations --------------------------------------------------------------------------


def blocked(job: str, classes: dict[str, bool] | None, escaped: bool = False, snapshot: int = 10,
            index: int = 0) -> Evaluation:
    return ev(job, index=index, Status=EvalStatus.BLOCKED, ClassEligibility=classes, EscapedComputedClass=escaped,
              SnapshotIndex=snapshot)


def test_unblock_wakes_evaluations_that_can_use_the_class() -> None:
    t = BlockedEvals()
    t.set_enabled(True)
    fits, cannot, unknown = blocked("a", {"c1": True}), blocked("b", {"c1": False}), blocked("c", {"c2": False})
    for e in (fits, cannot, unknown):
        assert t.block(e) == []
    woken = t.unblock("c1", index=20)
    assert {e.JobID for e in woken} == {"a", "c"}
    assert t.stats().total_blocked == 1


def test_escaped_evaluations_wake_on_any_class() -> None:
    t = BlockedEvals()
    t.set_enabled(True)
    t.block(blocked("a", None, escaped=True))
    assert [e.JobID for e in t.unblock("anything", index=20)] == ["a"]


def test_only_the_newest_blocked_evaluation_of_a_job_is_kept() -> None:
    t = BlockedEvals()
    t.set_enabled(True)
    old, new = blocked("a", {"c1": True}, index=5), blocked("a", {"c1": True}, index=9)
    t.block(old)
    t.block(new)
    assert [e.ID for e in t.duplicates()] == [old.ID]
    assert [e.ID for e in t.unblock("c1", 30)] == [new.ID]


def test_capacity_that_appeared_during_scheduling_wakes_it_at_once() -> None:
    t = BlockedEvals()
    t.set_enabled(True)
    t.unblock("c1", index=50)
    late = blocked("a", {"c1": True}, snapshot=40)
    assert t.block(late) == [late]
    assert t.block(blocked("b", {"c1": True}, snapshot=60)) == []


def test_plan_failures_are_retried_and_untracked_jobs_dropped() -> None:
    t = BlockedEvals()
    t.set_enabled(True)
    t.block(ev("a", Status="blocked", TriggeredBy=EvalTrigger.MAX_PLANS, ClassEligibility={"c1": False}))
    t.block(blocked("b", {"c1": False}))
    assert [e.JobID for e in t.unblock_failed()] == ["a"]
    gone = t.untrack("default", "b")
    assert gone is not None and t.stats().total_blocked == 0


def _changes(h: Harness, command: fsm.Command) -> CapacityChanges:
    index = h.store.latest_index() + 1
    _, events = fsm.apply(h.store, index, fsm.encode_command(command))
    return capacity_changes(index, events.objects(), h.snap.node_by_id)


def test_the_fsms_events_say_where_capacity_appeared() -> None:
    h = Harness()
    node = h.add_node(cpu=1000, memory_mb=1024)
    h.run(f.job("web", count=3, cpu=450, memory_mb=256))
    stored = h.snap.eval_by_id(h.created_evals[-1].ID)
    assert stored is not None and stored.Status == EvalStatus.BLOCKED
    t = BlockedEvals()
    t.set_enabled(True)
    assert t.block(stored) == []
    running, finishing = h.live_allocs("web")
    quiet = _changes(h, fsm.AllocClientUpdateRequest(Allocs=[
        AllocClientUpdate(ID=running.ID, ClientStatus=AllocClientStatus.RUNNING)]))
    assert (quiet.classes, quiet.nodes) == (set(), set())
    drained = f.node(cpu=1000, memory_mb=1024)
    drained.SchedulingEligibility = "ineligible"
    assert _changes(h, fsm.NodeRegister(Node=drained)).classes == set()
    freed = _changes(h, fsm.AllocClientUpdateRequest(Allocs=[
        AllocClientUpdate(ID=finishing.ID, ClientStatus=AllocClientStatus.COMPLETE)]))
    assert freed.nodes == {node.ID} and freed.classes == {node.ComputedClass} and freed.index == h.store.latest_index()
    assert [e.ID for e in t.unblock_changes(freed)] == [stored.ID]
    gone = _changes(h, fsm.NodeDeregister(NodeIDs=[node.ID]))
    assert (gone.classes, gone.nodes) == (set(), set())  # a node that leaves frees nothing


def test_a_new_node_wakes_the_blocked_evaluation_which_then_places() -> None:
    h = Harness()
    h.add_node(cpu=1000, memory_mb=1024)
    h.run(f.job("web", count=3, cpu=450, memory_mb=256))
    t = BlockedEvals()
    t.set_enabled(True)
    t.block(h.snap.eval_by_id(h.created_evals[-1].ID))  # type: ignore[arg-type]
    (woken,) = t.unblock_changes(_changes(h, fsm.NodeRegister(Node=f.node(cpu=1000, memory_mb=1024))))
    h.process(woken)
    assert len(h.live_allocs("web")) == 3
    assert h.snap.eval_by_id(woken.ID).Status == EvalStatus.COMPLETE  # type: ignore[union-attr]
