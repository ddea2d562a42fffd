"""Job summaries as ``nomad job status`` and ``/v1/job/:id/summary`` show them: allocation counts per
task group kept up to date by every job, allocation and evaluation write, driven through the FSM's
byte interface so the commands are the ones Raft carries."""

from __future__ import annotations

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from cluster import fsm
from cluster.state import JobSummary, StateStore, TaskGroupSummary, state_from_bytes, state_to_bytes
from cluster.state.write_allocs import AllocClientUpdate
from cluster.structs.constants import AllocClientStatus, EvalStatus
from cluster.structs.evaluation import Evaluation
from cluster.structs.job import Job, PeriodicConfig
from tests.unit.scheduler import factories as f
from tests.unit.scheduler.harness import Harness

PENDING = AllocClientStatus.PENDING


class Cluster:
    def __init__(self) -> None:
        self.store = StateStore()
        self.index = 0
        self.node = f.node()
        self.apply(fsm.NodeRegister(Node=self.node))

    def apply(self, command: fsm.Command) -> list[object]:
        self.index += 1
        _result, events = fsm.apply(self.store, self.index, fsm.encode_command(command))
        return [(e.Topic, e.Key) for e in events]

    def summary(self, job_id: str = "web") -> JobSummary:
        summary = self.store.snapshot().job_summary("default", job_id)
        assert summary is not None
        return summary

    def register(self, job: Job) -> Job:
        self.apply(fsm.JobRegister(Job=job))
        stored = self.store.snapshot().job_by_id("default", job.ID or "")
        assert stored is not None
        return stored

    def place(self, job: Job, n: int, group: str | None = None) -> list[str]:
        allocs = [f.alloc_for(job, self.node, index=i, group_name=group, client=PENDING) for i in range(n)]
        for alloc in allocs:
            alloc.Job = None  # the plan sends the job once
        self.apply(fsm.ApplyPlanResults(Job=job, AllocsUpdated=allocs, UpdatedAt=5))
        return [a.ID for a in allocs]

    def report(self, **statuses: str) -> None:
        self.apply(fsm.AllocClientUpdateRequest(
            Allocs=[AllocClientUpdate(ID=alloc_id, ClientStatus=s) for alloc_id, s in statuses.items()]))


def two_group_job(job_id: str = "web") -> Job:
    return f.job(job_id, groups=[f.group(name="api", count=3), f.group(name="cache", count=1)])


def test_registering_a_job_creates_an_empty_summary_for_each_group() -> None:
    c = Cluster()
    events = c.apply(fsm.JobRegister(Job=two_group_job()))
    summary = c.summary()
    assert summary.Summary == {"api": TaskGroupSummary(), "cache": TaskGroupSummary()}
    assert summary.CreateIndex == summary.ModifyIndex == 2 and summary.JobID == "web"
    assert ("JobSummary", "web") in events
    assert c.store.snapshot().table_index("job_summary") == 2
    assert msgspec.json.decode(msgspec.json.encode(summary))["Children"] == {"Pending": 0, "Running": 0, "Dead": 0}


def test_allocations_move_between_bins_as_clients_report() -> None:
    c = Cluster()
    job = c.register(two_group_job())
    ids = c.place(job, 3, "api")
    assert c.summary().Summary["api"] == TaskGroupSummary(Starting=3)
    c.report(**{ids[0]: AllocClientStatus.RUNNING, ids[1]: AllocClientStatus.FAILED})
    assert c.summary().Summary["api"] == TaskGroupSummary(Starting=1, Running=1, Failed=1)
    c.report(**{ids[0]: AllocClientStatus.COMPLETE, ids[2]: AllocClientStatus.RUNNING})
    assert c.summary().Summary["api"] == TaskGroupSummary(Running=1, Failed=1, Complete=1)
    assert c.summary().Summary["cache"] == TaskGroupSummary()
    assert c.summary().ModifyIndex == c.index


def test_queued_comes_from_the_evaluation_and_placements_take_from_it() -> None:
    c = Cluster()
    job = c.register(two_group_job())
    ev = Evaluation(ID=f.new_id(), Namespace="default", JobID="web", Type="service", Status=EvalStatus.BLOCKED,
                    QueuedAllocations={"api": 3, "cache": 0, "gone": 9})
    c.apply(fsm.EvalUpdate(Evals=[ev]))
    assert c.summary().Summary["api"].Queued == 3 and "gone" not in c.summary().Summary
    c.place(job, 2, "api")
    assert c.summary().Summary["api"] == TaskGroupSummary(Queued=1, Starting=2)


def test_a_scheduler_marking_allocations_lost_counts_them_lost() -> None:
    c = Cluster()
    job = c.register(two_group_job())
    ids = c.place(job, 2, "api")
    c.report(**{i: AllocClientStatus.RUNNING for i in ids})
    c.apply(fsm.ApplyPlanResults(Job=job, AllocsStopped=[
        fsm.AllocStopDiff(ID=ids[0], DesiredDescription="node lost", ClientStatus=AllocClientStatus.LOST)]))
    assert c.summary().Summary["api"] == TaskGroupSummary(Running=1, Lost=1)


def test_a_purged_job_loses_its_summary_and_its_old_allocations_do_not_count_for_a_new_one() -> None:
    c = Cluster()
    job = c.register(two_group_job())
    ids = c.place(job, 1, "api")
    c.apply(fsm.JobDeregister(Namespace="default", JobID="web", Purge=True))
    assert c.store.snapshot().job_summary("default", "web") is None
    c.register(two_group_job())
    c.report(**{ids[0]: AllocClientStatus.RUNNING})
    assert c.summary().Summary["api"] == TaskGroupSummary()


def test_updating_a_job_adds_new_groups_and_keeps_counts() -> None:
    c = Cluster()
    job = c.register(two_group_job())
    c.place(job, 1, "api")
    bigger = f.job("web", groups=[f.group(name="api", count=3), f.group(name="cache", count=1),
                                  f.group(name="db", count=1)])
    c.register(bigger)
    assert c.summary().Summary == {"api": TaskGroupSummary(Starting=1), "cache": TaskGroupSummary(),
                                   "db": TaskGroupSummary()}


def test_a_periodic_parent_counts_its_children_by_status() -> None:
    c = Cluster()
    parent = f.job("nightly", type="batch")
    parent.Periodic = PeriodicConfig(Enabled=True, Spec="0 0 * * *", SpecType="cron")
    c.register(parent)
    child = f.job("nightly/periodic-1", type="batch")
    child.ParentID = "nightly"
    child = c.register(child)
    assert c.summary("nightly").Children.Pending == 1
    c.place(child, 1)
    children = c.summary("nightly").Children
    assert (children.Pending, children.Running, children.Dead) == (0, 1, 0)
    c.apply(fsm.JobDeregister(Namespace="default", JobID=child.ID or "", Purge=True))
    children = c.summary("nightly").Children
    assert (children.Pending, children.Running, children.Dead) == (0, 0, 0)


def test_summaries_survive_a_raft_snapshot_and_old_snapshots_never_change() -> None:
    c = Cluster()
    job = c.register(two_group_job())
    before = c.store.snapshot()
    c.place(job, 2, "api")
    assert before.job_summary("default", "web") == JobSummary(
        JobID="web", Namespace="default", Summary={"api": TaskGroupSummary(), "cache": TaskGroupSummary()},
        CreateIndex=2, ModifyIndex=2)
    restored = state_from_bytes(state_to_bytes(c.store.snapshot()))
    assert restored.job_summary("default", "web") == c.summary()
    assert restored.table_index("job_summary") == c.index


STATUSES = [AllocClientStatus.PENDING, AllocClientStatus.RUNNING, AllocClientStatus.COMPLETE,
             AllocClientStatus.FAILED, AllocClientStatus.LOST, AllocClientStatus.UNKNOWN]
BINS = {"pending": "Starting", "running": "Running", "complete": "Complete", "failed": "Failed", "lost": "Lost",
        "unknown": "Unknown"}


@settings(max_examples=40)
@given(reports=st.lists(st.tuples(st.integers(0, 4), st.sampled_from(STATUSES)), max_size=25),
       batch=st.integers(1, 4))
def test_the_summary_always_equals_a_recount_of_the_allocations(reports: list[tuple[int, str]], batch: int) -> None:
    c = Cluster()
    job = c.register(two_group_job())
    ids = c.place(job, 5, "api")
    for start in range(0, len(reports), batch):
        chunk = {ids[i]: status for i, status in reports[start:start + batch]}
        c.report(**chunk)
    counts = dict.fromkeys(BINS.values(), 0)
    for alloc in c.store.snapshot().allocs_by_job("default", "web"):
        counts[BINS[alloc.ClientStatus]] += 1
    assert c.summary().Summary["api"] == TaskGroupSummary(**counts)


def test_a_scheduled_job_without_room_for_everything_shows_what_is_queued() -> None:
    h = Harness()
    h.add_node(cpu=1_000)  # room for two allocations of 500 MHz
    h.run(f.job("web", count=5, cpu=500))
    summary = h.snap.job_summary("default", "web")
    assert summary is not None and summary.Summary["web"] == TaskGroupSummary(Queued=3, Starting=2)
