"""Scaling events (``nomad job scale``, autoscaler reports): what ``GET /v1/job/<id>/scale`` lists per
group, newest first, at most 20 per group, kept across Raft snapshots and gone with a purged job."""

from __future__ import annotations

import pytest

from cluster import fsm
from cluster.errors import NotFound
from cluster.state import StateStore, state_from_bytes, state_to_bytes
from cluster.state.records import MAX_SCALING_EVENTS, ScalingEvent
from tests.unit.scheduler import factories as f


class Cluster:
    def __init__(self) -> None:
        self.store = StateStore()

    def apply(self, command: fsm.Command) -> object:
        index = self.store.latest_index() + 1
        return fsm.apply(self.store, index, fsm.encode_command(command))[0]

    def scale(self, group: str, count: int | None, message: str, time_ns: int, job_id: str = "web") -> None:
        event = ScalingEvent(Time=time_ns, Count=count, PreviousCount=2, Message=message, Error=count is None,
                             Meta={"source": "test"}, EvalID="e-1" if count is not None else None)
        self.apply(fsm.JobScalingEvent(Namespace="default", JobID=job_id, TaskGroup=group, ScalingEvent=event))


def registered() -> Cluster:
    c = Cluster()
    c.apply(fsm.JobRegister(Job=f.job("web", count=2)))
    return c


def test_events_are_listed_per_group_newest_first_with_their_index() -> None:
    c = registered()
    c.scale("web", 3, "scaled up", 10)
    c.scale("web", None, "autoscaler: no metrics", 20)
    c.scale("db", 1, "db up", 30)
    snap = c.store.snapshot()
    events = snap.scaling_events("default", "web")
    assert events is not None and events.JobID == "web" and events.ModifyIndex == snap.latest_index()
    web = events.ScalingEvents["web"]
    assert [(e.Message, e.Count, e.Error) for e in web] == [("autoscaler: no metrics", None, True),
                                                          ("scaled up", 3, False)]
    assert web[1].CreateIndex == 2 and web[0].CreateIndex == 3 and web[1].EvalID == "e-1"
    assert [e.Message for e in events.ScalingEvents["db"]] == ["db up"]
    assert snap.table_index("scaling_events") == snap.latest_index()


def test_only_the_newest_twenty_per_group_are_kept() -> None:
    c = registered()
    for i in range(MAX_SCALING_EVENTS + 5):
        c.scale("web", i, f"to {i}", i)
    web = c.store.snapshot().scaling_events("default", "web").ScalingEvents["web"]  # type: ignore[union-attr]
    assert MAX_SCALING_EVENTS == 20 and len(web) == 20
    assert [e.Count for e in web] == list(range(24, 4, -1))


def test_events_survive_a_raft_snapshot_and_go_with_a_purged_job() -> None:
    c = registered()
    c.scale("web", 3, "scaled up", 10)
    restored = state_from_bytes(state_to_bytes(c.store.snapshot()))
    assert restored.scaling_events("default", "web") == c.store.snapshot().scaling_events("default", "web")
    c.apply(fsm.JobDeregister(Namespace="default", JobID="web", Purge=True))
    assert c.store.snapshot().scaling_events("default", "web") is None


def test_an_event_for_an_unknown_job_is_refused_and_changes_nothing() -> None:
    c = registered()
    before = c.store.snapshot()
    with pytest.raises(NotFound):
        c.scale("web", 1, "ghost", 5, job_id="ghost")
    after = c.store.snapshot()
    assert after.scaling_events("default", "ghost") is None
    assert after.table_index("scaling_events") == before.table_index("scaling_events")
