"""Focused behaviour of the state store: snapshots, indexes for blocking queries, events, the
allocations of nodes that leave and come back, and the bytes round trip."""

from __future__ import annotations

import pytest

from cluster.errors import InvalidInput
from cluster.state import EventType, StateStore, state_from_bytes, state_to_bytes
from cluster.state.records import ServiceRegistration
from cluster.state.write_allocs import upsert_allocs
from cluster.state.write_jobs import upsert_job
from cluster.state.write_nodes import delete_node, upsert_node
from cluster.state.write_services import delete_services_by_alloc, upsert_services
from cluster.structs.constants import AllocClientStatus
from tests.unit.scheduler import factories as f


def write(store: StateStore, fn) -> list:  # type: ignore[no-untyped-def,type-arg]
    txn = store.write(store.latest_index() + 1)
    fn(txn)
    return store.commit(txn)


def seeded() -> tuple[StateStore, object, object]:
    store = StateStore()
    node = f.node(node_id="11111111-0000-4000-8000-000000000000")
    job = f.job("web", count=2)
    write(store, lambda t: (upsert_node(t, node, EventType.NODE_REGISTRATION),
                            upsert_job(t, job, 1, EventType.JOB_REGISTERED)))
    return store, store.snapshot().node_by_id(node.ID), store.snapshot().job_by_id("default", "web")


def test_snapshots_never_change_and_cost_nothing_to_take() -> None:
    store, node, job = seeded()
    before = store.snapshot()
    write(store, lambda t: upsert_allocs(t, [f.alloc_for(job, node)], 5, EventType.PLAN_RESULT))
    assert before.allocs_by_job("default", "web") == [] and before.node_table.usage(node.ID) == (0, 0, 0)
    after = store.snapshot()
    assert len(after.allocs_by_job("default", "web")) == 1 and after.node_table.usage(node.ID) == (500, 256, 300)
    assert store.snapshot() is after  # taking a snapshot copies nothing


def test_blocking_query_indexes_follow_the_writes() -> None:
    store, node, job = seeded()
    assert store.snapshot().table_index("nodes") == 1 and store.snapshot().group_index("allocs_by_node", node.ID) == 0
    write(store, lambda t: upsert_allocs(t, [f.alloc_for(job, node)], 5, EventType.PLAN_RESULT))
    snap = store.snapshot()
    assert snap.table_index("allocs") == 2 and snap.group_index("allocs_by_node", node.ID) == 2
    assert snap.group_index("allocs_by_job", ("default", "web")) == 2
    assert snap.table_index("nodes") == 1  # untouched tables keep their index


def test_every_write_reports_its_changes_as_events() -> None:
    store, node, job = seeded()
    alloc = f.alloc_for(job, node)
    events = write(store, lambda t: upsert_allocs(t, [alloc], 5, EventType.PLAN_RESULT))
    assert [(e.Topic, e.Type, e.Key, e.Index) for e in events] == [
        ("Allocation", "PlanResult", alloc.ID, 2), ("Job", "PlanResult", "web", 2),
        ("JobSummary", "PlanResult", "web", 2)]
    assert events[0].FilterKeys == ["web", ""] and events[0].Payload["Allocation"] is alloc
    svc = ServiceRegistration(ID="svc-1", ServiceName="web", Namespace="default", NodeID=node.ID, JobID="web",
                              AllocID=alloc.ID, Address="10.0.0.1", Port=8080)
    events = write(store, lambda t: upsert_services(t, [svc]))
    assert [(e.Topic, e.Type) for e in events] == [("Service", "ServiceRegistration")]
    assert store.snapshot().services_by_name("default", "web")[0].Port == 8080
    assert store.snapshot().service_by_id("svc-1") == svc
    events = write(store, lambda t: delete_services_by_alloc(t, [alloc.ID]))
    assert [(e.Topic, e.Type) for e in events] == [("Service", "ServiceDeregistration")]
    assert store.snapshot().services_by_name("default", "web") == []


def test_allocations_outlive_their_node_and_count_again_when_it_returns() -> None:
    store, node, job = seeded()
    alloc = f.alloc_for(job, node)
    write(store, lambda t: upsert_allocs(t, [alloc], 5, EventType.PLAN_RESULT))
    write(store, lambda t: delete_node(t, node.ID, EventType.NODE_DEREGISTRATION))
    snap = store.snapshot()
    assert [a.ID for a in snap.allocs_by_node(node.ID)] == [alloc.ID] and node.ID not in snap.node_table.slot_of
    restored = state_from_bytes(state_to_bytes(snap))
    assert [a.ID for a in restored.allocs_by_node(node.ID)] == [alloc.ID]
    write(store, lambda t: upsert_node(t, f.node(node_id=node.ID), EventType.NODE_REGISTRATION))
    snap = store.snapshot()
    assert [a.ID for a in snap.allocs_by_node(node.ID)] == [alloc.ID]
    assert snap.node_table.usage(node.ID) == (500, 256, 300)


def test_node_allocations_split_by_terminal_state() -> None:
    store, node, job = seeded()
    running = f.alloc_for(job, node, index=0)
    done = f.alloc_for(job, node, index=1, client=AllocClientStatus.COMPLETE)
    write(store, lambda t: upsert_allocs(t, [running, done], 5, EventType.PLAN_RESULT))
    snap = store.snapshot()
    assert [a.ID for a in snap.allocs_by_node_terminal(node.ID, False)] == [running.ID]
    assert [a.ID for a in snap.allocs_by_node_terminal(node.ID, True)] == [done.ID]
    assert snap.node_table.usage(node.ID) == (500, 256, 300)  # only the running one counts


def test_state_round_trips_through_bytes_sharing_jobs() -> None:
    store, node, job = seeded()
    allocs = [f.alloc_for(job, node, index=i) for i in range(3)]
    write(store, lambda t: upsert_allocs(t, allocs, 5, EventType.PLAN_RESULT))
    data = state_to_bytes(store.snapshot())
    back = state_from_bytes(data)
    assert state_to_bytes(back) == data
    loaded = back.allocs_by_job("default", "web")
    assert len({id(a.Job) for a in loaded}) == 1  # one job object, shared, as before
    assert back.node_table.usage(node.ID) == store.snapshot().node_table.usage(node.ID)
    with pytest.raises(InvalidInput):
        state_from_bytes(b"not a snapshot")
