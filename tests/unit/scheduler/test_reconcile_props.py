"""Properties of the reconciler over generated clusters (Hypothesis).

Existing allocations are generated with random indexes, client states, job versions and node
states; the reconciler's answer must always be well formed, and where nothing holds it back (no
rolling update in progress) it must converge the group to exactly its count.
"""

from __future__ import annotations

import itertools
from collections import Counter

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from cluster.scheduler.reconcile import AllocReconciler, ReconcileResults
from cluster.structs.alloc import Allocation, DesiredTransition
from cluster.structs.constants import AllocClientStatus, NodeStatus
from cluster.structs.group import UpdateStrategy
from cluster.structs.job import Job
from cluster.structs.node import DrainStrategy, Node
from tests.unit.scheduler import factories as f

NOW = 1_700_000_000 * 1_000_000_000
NODES = ["n-ok", "n-down", "n-drain", "n-gone"]
_counter = itertools.count()


def make_job(count: int, version: int, max_parallel: int, stop: bool = False) -> Job:
    job = f.job("web", count=count, update=UpdateStrategy(MaxParallel=max_parallel))
    return msgspec.structs.replace(job, Version=version, JobModifyIndex=100 + version, CreateIndex=1, Stop=stop)


alloc_specs = st.lists(st.tuples(
    st.integers(0, 9),  # name index
    st.sampled_from([AllocClientStatus.RUNNING, AllocClientStatus.PENDING, AllocClientStatus.COMPLETE,
                     AllocClientStatus.FAILED]),
    st.sampled_from(NODES),
    st.booleans(),  # of the current version
    st.booleans(),  # marked to migrate
), max_size=12)


def build(specs: list[tuple[int, str, str, bool, bool]], job: Job, old: Job) -> list[Allocation]:
    allocs = []
    for index, client, node_id, current, migrate in specs:
        a = f.alloc_for(job if current else old, f.node(node_id=node_id), index=index, client=client,
                        alloc_id=f"alloc-{next(_counter)}")
        if migrate:
            a.DesiredTransition = DesiredTransition(Migrate=True)
        allocs.append(a)
    return allocs


def tainted() -> dict[str, Node | None]:
    down = f.node(node_id="n-down", status=NodeStatus.DOWN)
    drain = f.node(node_id="n-drain")
    drain.DrainStrategy = DrainStrategy()
    return {"n-down": down, "n-drain": drain, "n-gone": None}


def reconcile(job: Job, allocs: list[Allocation]) -> ReconcileResults:
    def update(existing: Allocation, new_job: Job, tg: object) -> tuple[bool, bool, Allocation | None]:
        same = existing.Job is not None and existing.Job.JobModifyIndex == new_job.JobModifyIndex
        return same, not same, None

    return AllocReconciler(job=job, job_id="web", batch=False, deployment=None, existing=allocs, tainted=tainted(),
                           eval_id="eval-1", eval_priority=50, now_ns=NOW, update_fn=update,
                           new_id=lambda: f"id-{next(_counter)}").compute()


def live(a: Allocation) -> bool:
    return a.DesiredStatus == "run" and a.ClientStatus in (AllocClientStatus.RUNNING, AllocClientStatus.PENDING)


@settings(max_examples=200, deadline=None)
@given(count=st.integers(0, 6), specs=alloc_specs)
def test_results_are_well_formed(count: int, specs: list[tuple[int, str, str, bool, bool]]) -> None:
    job, old = make_job(count, 1, max_parallel=1), make_job(count, 0, max_parallel=1)
    allocs = build(specs, job, old)
    r = reconcile(job, allocs)
    by_id = {a.ID: a for a in allocs}
    stopped = [s.alloc.ID for s in r.stop]
    assert len(stopped) == len(set(stopped)), "an allocation is stopped twice"
    assert set(stopped) <= set(by_id)
    for s in r.stop:
        # Nomad classifies a migration first: a drained allocation whose node then died migrates.
        if s.alloc.NodeID in ("n-down", "n-gone") and live(s.alloc) and not s.alloc.DesiredTransition.Migrate:
            assert s.client_status == AllocClientStatus.LOST
    for p in [*r.place, *r.destructive]:
        assert p.group.Name == "web" and p.name.startswith("web.web[")
        if p.previous is not None:
            assert p.previous.ID in by_id
    for a in allocs:  # allocations on lost nodes never survive
        if a.NodeID in ("n-down", "n-gone") and live(a):
            assert a.ID in stopped
    assert len(r.place) <= max(count, 0) + 2  # canaries aside, never more than the count


@settings(max_examples=200, deadline=None)
@given(count=st.integers(0, 6), specs=alloc_specs)
def test_without_rolling_updates_the_group_converges_to_its_count(count: int,
                                                                  specs: list[tuple[int, str, str, bool, bool]]) -> None:
    job, old = make_job(count, 1, max_parallel=0), make_job(count, 0, max_parallel=0)
    allocs = build(specs, job, old)
    r = reconcile(job, allocs)
    stopped = {s.alloc.ID for s in r.stop} | {p.previous.ID for p in r.destructive if p.previous is not None}
    remaining = [a for a in allocs if live(a) and a.ID not in stopped]
    after = len(remaining) + len(r.place) + len(r.destructive)
    # Failed allocations are replaced by their reschedule placements or kept waiting for a delayed
    # follow-up; completed service allocations are ignored. Anything else is at the count.
    waiting = len([a for a in allocs if a.ClientStatus == AllocClientStatus.FAILED and a.ID not in stopped
                   and a.DesiredStatus == "run"])
    assert count - waiting <= after <= count + waiting
    # Names are unique unless the cluster already held duplicate indexes (the scheduler renames
    # those when it places them, as Nomad does) or failed allocations wait for their replacement.
    names = [a.Name for a in remaining] + [p.name for p in [*r.place, *r.destructive]]
    duplicates = [n for n, c in Counter(names).items() if c > 1]
    had_duplicates = any(c > 1 for c in Counter(a.Name for a in allocs if a.DesiredStatus == "run").values())
    assert not duplicates or waiting or had_duplicates


@settings(max_examples=100, deadline=None)
@given(count=st.integers(1, 6), max_parallel=st.integers(1, 3), n_old=st.integers(0, 6))
def test_rolling_update_replaces_at_most_max_parallel(count: int, max_parallel: int, n_old: int) -> None:
    job, old = make_job(count, 1, max_parallel=max_parallel), make_job(count, 0, max_parallel=max_parallel)
    specs = [(i, AllocClientStatus.RUNNING, "n-ok", False, False) for i in range(min(n_old, count))]
    r = reconcile(job, build(specs, job, old))
    # New placements and replacements share the max_parallel budget (Nomad's underProvisionedBy).
    assert len(r.destructive) == max(0, min(max_parallel - len(r.place), len(specs)))
    assert len(r.place) == count - len(specs)
    assert r.deployment is not None and r.deployment.TaskGroups["web"].DesiredTotal == count


@given(specs=alloc_specs)
def test_a_stopped_job_stops_everything_and_places_nothing(specs: list[tuple[int, str, str, bool, bool]]) -> None:
    job, old = make_job(3, 1, 1, stop=True), make_job(3, 0, 1)
    allocs = build(specs, job, old)
    r = reconcile(job, allocs)
    assert not r.place and not r.destructive
    live_ids = {a.ID for a in allocs if a.DesiredStatus == "run" and a.ClientStatus in ("running", "pending")}
    assert live_ids <= {s.alloc.ID for s in r.stop}
