"""The state store against a plain-dict model, driven by Hypothesis (a rule-based state machine).

Each rule makes one write at the next Raft index, to the store and to the model; after every
step the store must hold what the model holds, its secondary indexes and node usage must agree
with a brute-force recomputation from the model, every write must have produced events for what
it changed, and earlier snapshots must still show the state they were taken at.
"""

from __future__ import annotations

import msgspec
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule

from cluster.state import EventType, StateSnapshot, StateStore, state_from_bytes, state_to_bytes
from cluster.state.nodetable import alloc_usage, alloc_uses_resources
from cluster.state.write_allocs import AllocClientUpdate, update_allocs_from_client, upsert_allocs
from cluster.state.write_evals import delete_evals, upsert_evals
from cluster.state.write_jobs import upsert_job
from cluster.state.write_nodes import delete_node, upsert_node
from cluster.structs.alloc import Allocation
from cluster.structs.constants import AllocClientStatus, AllocDesiredStatus, EvalStatus
from cluster.structs.evaluation import Evaluation
from cluster.structs.job import Job
from cluster.structs.node import Node
from tests.unit.scheduler import factories

NODE_IDS = [f"{i:08x}-aaaa-4000-8000-000000000000" for i in range(4)]
JOB_IDS = ["api", "web", "batch"]


def _shape(job: Job) -> tuple[int, int]:
    group = (job.TaskGroups or [])[0]
    task = (group.Tasks or [])[0]
    return group.Count or 0, (task.Resources.CPU if task.Resources else 0) or 0


class StoreMachine(RuleBasedStateMachine):
    allocs = Bundle("allocs")

    def __init__(self) -> None:
        super().__init__()
        self.store = StateStore()
        self.index = 0
        self.nodes: dict[str, Node] = {}
        self.jobs: dict[str, Job] = {}
        self.model_allocs: dict[str, Allocation] = {}
        self.evals: dict[str, Evaluation] = {}
        self.table_writes: dict[str, int] = {}
        self.kept: list[tuple[StateSnapshot, dict[str, str], int]] = []

    # -- helpers -------------------------------------------------------------------------------

    def _write(self, fn, tables: tuple[str, ...], expect_keys: set[str]) -> None:  # type: ignore[no-untyped-def]
        self.index += 1
        txn = self.store.write(self.index)
        fn(txn)
        events = self.store.commit(txn)
        assert all(e.Index == self.index for e in events)
        assert expect_keys <= {e.Key for e in events}, (expect_keys, [e.Key for e in events])
        for table in tables:
            self.table_writes[table] = self.index

    # -- rules ---------------------------------------------------------------------------------

    @rule(node_id=st.sampled_from(NODE_IDS), cpu=st.sampled_from([1000, 4000]), dc=st.sampled_from(["dc1", "dc2"]))
    def register_node(self, node_id: str, cpu: int, dc: str) -> None:
        node = factories.node(node_id=node_id, cpu=cpu, dc=dc)
        self._write(lambda t: upsert_node(t, node, EventType.NODE_REGISTRATION), ("nodes",), {node_id})
        self.nodes[node_id] = node

    @rule(node_id=st.sampled_from(NODE_IDS))
    def deregister_node(self, node_id: str) -> None:
        if node_id not in self.nodes:
            return
        self._write(lambda t: delete_node(t, node_id, EventType.NODE_DEREGISTRATION), ("nodes",), {node_id})
        del self.nodes[node_id]

    @rule(job_id=st.sampled_from(JOB_IDS), count=st.integers(1, 5), cpu=st.sampled_from([100, 300]))
    def register_job(self, job_id: str, count: int, cpu: int) -> None:
        job = factories.job(job_id, count=count, cpu=cpu)
        self._write(lambda t: upsert_job(t, job, self.index, EventType.JOB_REGISTERED), ("jobs",), {job_id})
        old = self.jobs.get(job_id)
        expected_version = 0 if old is None else (old.Version or 0) + int(_shape(old) != (count, cpu))
        stored = self.store.snapshot().job_by_id("default", job_id)
        assert stored is not None and stored.Version == expected_version
        self.jobs[job_id] = stored

    @rule(target=allocs, job_id=st.sampled_from(JOB_IDS), node_id=st.sampled_from(NODE_IDS), n=st.integers(1, 3))
    def place(self, job_id: str, node_id: str, n: int) -> list[str]:
        job, node = self.jobs.get(job_id), self.nodes.get(node_id)
        if job is None or node is None:
            return []
        new = [factories.alloc_for(job, node, index=i, client=AllocClientStatus.PENDING, eval_id="ev-" + job_id)
               for i in range(n)]
        self._write(lambda t: upsert_allocs(t, new, 1, EventType.PLAN_RESULT), ("allocs",), {a.ID for a in new})
        for a in new:
            self.model_allocs[a.ID] = a
        return [a.ID for a in new]

    @rule(ids=allocs, status=st.sampled_from([AllocClientStatus.RUNNING, AllocClientStatus.COMPLETE,
                                              AllocClientStatus.FAILED]))
    def client_update(self, ids: list[str], status: str) -> None:
        live = [i for i in ids if i in self.model_allocs]
        updates = [AllocClientUpdate(ID=i, ClientStatus=status) for i in live]
        self._write(lambda t: update_allocs_from_client(t, updates, 2, EventType.ALLOCATION_UPDATED),
                    ("allocs",) if live else (), set(live))
        for i in live:
            self.model_allocs[i] = msgspec.structs.replace(self.model_allocs[i], ClientStatus=status)

    @rule(ids=allocs)
    def stop(self, ids: list[str]) -> None:
        live = [self.store.snapshot().alloc_by_id(i) for i in ids if i in self.model_allocs]
        stopped = [msgspec.structs.replace(a, DesiredStatus=AllocDesiredStatus.STOP) for a in live if a]
        self._write(lambda t: upsert_allocs(t, stopped, 3, EventType.PLAN_RESULT), ("allocs",) if stopped else (),
                    {a.ID for a in stopped})
        for a in stopped:
            self.model_allocs[a.ID] = msgspec.structs.replace(self.model_allocs[a.ID], DesiredStatus=a.DesiredStatus)

    @rule(ids=consumes(allocs))
    def garbage_collect(self, ids: list[str]) -> None:
        live = [i for i in ids if i in self.model_allocs]
        self._write(lambda t: delete_evals(t, [], live), ("allocs",) if live else (), set())
        for i in live:
            del self.model_allocs[i]

    @rule(job_id=st.sampled_from(JOB_IDS), status=st.sampled_from([EvalStatus.PENDING, EvalStatus.COMPLETE]))
    def evaluate(self, job_id: str, status: str) -> None:
        ev = Evaluation(ID=factories.new_id(), Namespace="default", JobID=job_id, Status=status, Type="service")
        self._write(lambda t: upsert_evals(t, [ev], EventType.EVAL_UPDATED), ("evals",), {ev.ID})
        self.evals[ev.ID] = ev

    @rule()
    def keep_snapshot(self) -> None:
        snap = self.store.snapshot()
        self.kept.append((snap, {a.ID: a.ClientStatus for a in snap.allocs()}, snap.latest_index()))

    @rule()
    def roundtrip(self) -> None:
        restored = state_from_bytes(state_to_bytes(self.store.snapshot()))
        self.store.restore(restored)

    # -- invariants ----------------------------------------------------------------------------

    @invariant()
    def tables_match_model(self) -> None:
        snap = self.store.snapshot()
        assert {n.ID for n in snap.nodes()} == set(self.nodes)
        assert {j.ID for j in snap.jobs()} == set(self.jobs)
        stored = {a.ID: (a.NodeID, a.ClientStatus, a.DesiredStatus) for a in snap.allocs()}
        assert stored == {a.ID: (a.NodeID, a.ClientStatus, a.DesiredStatus) for a in self.model_allocs.values()}
        assert {e.ID for e in snap.evals()} == set(self.evals)

    @invariant()
    def indexes_match_model(self) -> None:
        snap = self.store.snapshot()
        for node_id in NODE_IDS:
            want_ids = sorted(a.ID for a in self.model_allocs.values() if a.NodeID == node_id)
            on_node = snap.allocs_by_node(node_id)
            assert sorted(a.ID for a in on_node) == want_ids  # each once
            assert all(a is snap.alloc_by_id(a.ID) for a in on_node)  # the current versions
        for job_id in JOB_IDS:
            want = {a.ID for a in self.model_allocs.values() if a.JobID == job_id}
            assert {a.ID for a in snap.allocs_by_job("default", job_id)} == want
            assert {e.ID for e in snap.evals_by_job("default", job_id)} == \
                {e.ID for e in self.evals.values() if e.JobID == job_id}
            assert {a.ID for a in snap.allocs_by_eval("ev-" + job_id)} == want
        for table, index in self.table_writes.items():
            if table != "jobs":
                assert snap.table_index(table) == index
        # Jobs also change when their status follows an allocation or evaluation write.
        if self.jobs:
            assert snap.table_index("jobs") == max(j.ModifyIndex or 0 for j in snap.jobs())
            assert snap.table_index("jobs") >= self.table_writes["jobs"]

    @invariant()
    def usage_matches_allocs(self) -> None:
        table = self.store.snapshot().node_table
        for node_id in self.nodes:
            want = [0, 0, 0]
            for a in self.model_allocs.values():
                if a.NodeID == node_id and alloc_uses_resources(a):
                    for i, v in enumerate(alloc_usage(a.AllocatedResources)):
                        want[i] += v
            assert table.usage(node_id) == tuple(want)

    @invariant()
    def job_status_follows_allocs(self) -> None:
        snap = self.store.snapshot()
        for job in snap.jobs():
            live = any(alloc_uses_resources(a) for a in snap.allocs_by_job("default", job.ID or ""))
            assert (job.Status == "running") == live

    @invariant()
    def old_snapshots_do_not_change(self) -> None:
        for snap, statuses, index in self.kept:
            assert snap.latest_index() == index
            assert {a.ID: a.ClientStatus for a in snap.allocs()} == statuses


StoreMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestStateStore = StoreMachine.TestCase
