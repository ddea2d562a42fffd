"""The FSM: committed Raft commands (bytes) in, state changes and Nomad-style events out."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from cluster import fsm
from cluster.errors import Conflict, InvalidInput, NotFound
from cluster.state import (
    AllocStopDiff,
    DeploymentStatusUpdate,
    Event,
    SchedulerConfiguration,
    StateStore,
    event_json,
)
from cluster.state.write_allocs import AllocClientUpdate
from cluster.structs.alloc import AllocDeploymentStatus
from cluster.structs.base import SECOND_NS
from cluster.structs.constants import AllocClientStatus, DeploymentStatus, EvalStatus, NodeStatus
from cluster.structs.deployment import Deployment, DeploymentState
from cluster.structs.evaluation import Evaluation
from cluster.structs.node import DrainStrategy
from tests.unit.scheduler import factories

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class Cluster:
    """A store fed through the FSM's byte interface, one Raft index per command."""

    def __init__(self) -> None:
        self.store = StateStore()
        self.index = 0
        self.log: list[bytes] = []

    def apply(self, command: fsm.Command) -> tuple[object, list[Event]]:
        self.index += 1
        data = fsm.encode_command(command)
        self.log.append(data)
        return fsm.apply(self.store, self.index, data)

    @property
    def snap(self):  # type: ignore[no-untyped-def]
        return self.store.snapshot()


def evaluation(job_id: str, status: str = EvalStatus.PENDING) -> Evaluation:
    return Evaluation(ID=factories.new_id(), Namespace="default", JobID=job_id, Type="service",
                      TriggeredBy="job-register", Status=status, Priority=50)


def test_job_register_stores_version_zero_and_its_evaluation() -> None:
    c = Cluster()
    ev = evaluation("web")
    _job, events = c.apply(fsm.JobRegister(Job=factories.job("web"), Eval=ev, SubmitTime=7))
    stored = c.snap.job_by_id("default", "web")
    assert stored.Version == 0 and stored.CreateIndex == stored.JobModifyIndex == 1 and stored.SubmitTime == 7
    assert stored.Status == "pending"  # an evaluation is pending, nothing runs yet
    assert c.snap.eval_by_id(ev.ID).JobModifyIndex == 1
    assert [(e.Topic, e.Type, e.Key, e.Index) for e in events] == [
        ("Job", "JobRegistered", "web", 1), ("Evaluation", "JobRegistered", ev.ID, 1),
        ("JobSummary", "JobRegistered", "web", 1)]


def test_only_a_changed_specification_makes_a_new_version() -> None:
    c = Cluster()
    c.apply(fsm.JobRegister(Job=factories.job("web", count=3)))
    c.apply(fsm.JobRegister(Job=factories.job("web", count=3)))
    assert c.snap.job_by_id("default", "web").Version == 0
    for count in range(4, 12):
        c.apply(fsm.JobRegister(Job=factories.job("web", count=count)))
    job = c.snap.job_by_id("default", "web")
    assert job.Version == 8 and job.JobModifyIndex == c.index and job.CreateIndex == 1
    assert [v.Version for v in c.snap.job_versions("default", "web")] == [8, 7, 6, 5, 4, 3]  # six tracked
    assert c.snap.job_by_id_and_version("default", "web", 5).TaskGroups[0].Count == 8


def test_deregister_stops_the_job_and_purge_removes_it() -> None:
    c = Cluster()
    c.apply(fsm.JobRegister(Job=factories.job("web")))
    stopped, events = c.apply(fsm.JobDeregister(Namespace="default", JobID="web", Eval=evaluation("web")))
    assert stopped.Stop is True and stopped.Version == 1
    assert events[0].Type == "JobDeregistered"
    c.apply(fsm.JobDeregister(Namespace="default", JobID="web", Purge=True))
    assert c.snap.job_by_id("default", "web") is None and c.snap.job_versions("default", "web") == []


def test_batch_deregister_stops_or_purges_many_jobs_in_one_entry() -> None:
    c = Cluster()
    for job_id in ("a", "b", "c"):
        c.apply(fsm.JobRegister(Job=factories.job(job_id)))
    ev = evaluation("a")
    stopped, _ = c.apply(fsm.JobBatchDeregister(Jobs=[("default", "a"), ("default", "b")], Evals=[ev], SubmitTime=9))
    assert [j.ID for j in stopped] == ["a", "b"] and all(j.Stop for j in stopped)  # type: ignore[attr-defined]
    assert c.snap.eval_by_id(ev.ID) is not None and c.snap.job_by_id("default", "c").Stop is not True
    _, events = c.apply(fsm.JobBatchDeregister(Jobs=[("default", "a"), ("default", "b"), ("default", "gone")],
                                               Purge=True))
    assert [c.snap.job_by_id("default", j) for j in ("a", "b")] == [None, None]
    assert c.snap.job_versions("default", "a") == [] and c.snap.job_summary("default", "b") is None
    assert {(e.Topic, e.Type, e.Key) for e in events} >= {("Job", "JobBatchDeregistered", "a"),
                                                          ("Job", "JobBatchDeregistered", "b")}


def test_reregistering_node_keeps_what_the_servers_decided() -> None:
    c = Cluster()
    node = factories.node(node_id="11111111-0000-4000-8000-000000000000")
    c.apply(fsm.NodeRegister(Node=node))
    assert c.snap.node_by_id(node.ID).ComputedClass.startswith("v1:")
    c.apply(fsm.NodeUpdateDrain(NodeID=node.ID, DrainStrategy=DrainStrategy(Deadline=60 * SECOND_NS), UpdatedAt=NOW))
    again = factories.node(node_id=node.ID)
    _, events = c.apply(fsm.NodeRegister(Node=again))
    stored = c.snap.node_by_id(node.ID)
    assert stored.SchedulingEligibility == "ineligible" and stored.DrainStrategy is not None
    assert stored.CreateIndex == 1 and stored.ModifyIndex == 3
    assert [e.Message for e in stored.Events or []] == ["Node registered"]
    assert events[0].Type == "NodeRegistration"
    assert not c.snap.node_table.schedulable[c.snap.node_table.slot(node.ID)]


def test_a_draining_node_cannot_be_made_eligible_and_nothing_changes() -> None:
    c = Cluster()
    node = factories.node()
    c.apply(fsm.NodeRegister(Node=node))
    c.apply(fsm.NodeUpdateDrain(NodeID=node.ID, DrainStrategy=DrainStrategy(), UpdatedAt=NOW))
    before = c.snap
    with pytest.raises(Conflict, match="draining"):
        c.apply(fsm.NodeUpdateEligibility(NodeID=node.ID, Eligibility="eligible"))
    assert c.snap.latest_index() == 3  # the entry was applied ...
    assert c.snap.tables._replace(applied_index=2) == before.tables  # ... and changed nothing
    _, events = c.apply(fsm.NodeUpdateDrain(NodeID=node.ID, MarkEligible=True, Complete=True, UpdatedAt=NOW))
    stored = c.snap.node_by_id(node.ID)
    assert stored.SchedulingEligibility == "eligible" and stored.LastDrain.Status == "complete"
    assert events[0].Type == "NodeDrain"


def test_node_status_down_removes_it_from_placement() -> None:
    c = Cluster()
    node = factories.node()
    c.apply(fsm.NodeRegister(Node=node))
    table = c.snap.node_table
    assert table.schedulable[table.slot(node.ID)]
    c.apply(fsm.NodeUpdateStatus(NodeID=node.ID, Status=NodeStatus.DOWN, UpdatedAt=1_700_000_100))
    table = c.snap.node_table
    assert not table.schedulable[table.slot(node.ID)] and c.snap.node_by_id(node.ID).StatusUpdatedAt == 1_700_000_100


def _placed(c: Cluster, count: int = 2, deployment: Deployment | None = None):  # type: ignore[no-untyped-def]
    node = factories.node()
    job = factories.job("web", count=count)
    c.apply(fsm.NodeRegister(Node=node))
    c.apply(fsm.JobRegister(Job=job))
    job = c.snap.job_by_id("default", "web")
    allocs = [factories.alloc_for(job, node, index=i, client=AllocClientStatus.PENDING,
                                  deployment_id=deployment.ID if deployment else "") for i in range(count)]
    for a in allocs:
        a.Job = None  # plans carry the job once
        a.CreateTime = 0  # the plan applier stamps the time
    _, events = c.apply(fsm.ApplyPlanResults(Job=job, AllocsUpdated=allocs, Deployment=deployment, UpdatedAt=99))
    return node, job, allocs, events


def test_plan_results_place_allocations_with_their_indexes_and_job() -> None:
    c = Cluster()
    node, _job, allocs, events = _placed(c)
    stored = c.snap.alloc_by_id(allocs[0].ID)
    assert stored.CreateIndex == stored.ModifyIndex == stored.AllocModifyIndex == 3
    assert stored.Job is not None and stored.Job.ID == "web" and stored.CreateTime == 99
    assert c.snap.node_table.usage(node.ID) == (1000, 512, 600)
    assert c.snap.job_by_id("default", "web").Status == "running"
    assert {e.Type for e in events} == {"PlanResult"}
    assert c.snap.group_index("allocs_by_node", node.ID) == 3


def test_stopping_lost_allocations_frees_resources_and_links_replacements() -> None:
    c = Cluster()
    node, job, allocs, _ = _placed(c)
    replacement = factories.alloc_for(job, node, index=0)
    replacement.PreviousAllocation = allocs[0].ID
    c.apply(fsm.ApplyPlanResults(
        Job=job, AllocsStopped=[AllocStopDiff(ID=allocs[0].ID, DesiredDescription="alloc is lost since its node is down",
                                              ClientStatus="lost")],
        AllocsUpdated=[replacement], UpdatedAt=100))
    old = c.snap.alloc_by_id(allocs[0].ID)
    assert (old.DesiredStatus, old.ClientStatus, old.NextAllocation) == ("stop", "lost", replacement.ID)
    assert c.snap.node_table.usage(node.ID) == (1000, 512, 600)  # one stopped, one placed


def test_client_reports_move_deployment_counters_and_progress_deadline() -> None:
    c = Cluster()
    deployment = Deployment(ID=factories.new_id(), Namespace="default", JobID="web", Status=DeploymentStatus.RUNNING,
                            TaskGroups={"web": DeploymentState(DesiredTotal=2, ProgressDeadline=600 * SECOND_NS)})
    _, _, allocs, _ = _placed(c, deployment=deployment)
    state = c.snap.deployment_by_id(deployment.ID).TaskGroups["web"]
    # The first placement starts the progress clock: its modify time (99 ns) plus the deadline.
    assert state.PlacedAllocs == 2 and state.RequireProgressBy == datetime(1970, 1, 1, 0, 10, tzinfo=UTC)
    healthy_at = datetime(2024, 1, 1, tzinfo=UTC)
    _, events = c.apply(fsm.AllocClientUpdateRequest(Allocs=[
        AllocClientUpdate(ID=allocs[0].ID, ClientStatus=AllocClientStatus.RUNNING,
                          DeploymentStatus=AllocDeploymentStatus(Healthy=True, Timestamp=healthy_at)),
        AllocClientUpdate(ID=allocs[1].ID, ClientStatus=AllocClientStatus.FAILED,
                          DeploymentStatus=AllocDeploymentStatus(Healthy=False, Timestamp=healthy_at)),
    ], UpdatedAt=200))
    state = c.snap.deployment_by_id(deployment.ID).TaskGroups["web"]
    assert (state.HealthyAllocs, state.UnhealthyAllocs) == (1, 1)
    assert state.RequireProgressBy == datetime(2024, 1, 1, 0, 10, tzinfo=UTC)
    assert {(e.Topic, e.Type) for e in events} >= {("Allocation", "AllocationUpdated"), ("Deployment", "AllocationUpdated")}
    assert c.snap.alloc_by_id(allocs[0].ID).AllocModifyIndex == 3  # a client report is not a server change


def test_promotion_needs_healthy_canaries_then_unsets_the_canary_flag() -> None:
    c = Cluster()
    deployment = Deployment(ID=factories.new_id(), Namespace="default", JobID="web", Status=DeploymentStatus.RUNNING,
                            StatusDescription="Deployment is running but requires manual promotion",
                            TaskGroups={"web": DeploymentState(DesiredTotal=2, DesiredCanaries=1)})
    node = factories.node()
    c.apply(fsm.NodeRegister(Node=node))
    c.apply(fsm.JobRegister(Job=factories.job("web", count=2)))
    job = c.snap.job_by_id("default", "web")
    canary = factories.alloc_for(job, node, deployment_id=deployment.ID)
    canary.DeploymentStatus = AllocDeploymentStatus(Canary=True)
    c.apply(fsm.ApplyPlanResults(Job=job, AllocsUpdated=[canary], Deployment=deployment))
    assert c.snap.deployment_by_id(deployment.ID).TaskGroups["web"].PlacedCanaries == [canary.ID]
    with pytest.raises(Conflict, match="0/1 healthy"):
        c.apply(fsm.DeploymentPromote(DeploymentID=deployment.ID, All=True))
    c.apply(fsm.DeploymentAllocHealth(DeploymentID=deployment.ID, HealthyAllocationIDs=[canary.ID], Timestamp=NOW))
    promoted, events = c.apply(fsm.DeploymentPromote(DeploymentID=deployment.ID, All=True))
    assert promoted.TaskGroups["web"].Promoted and promoted.StatusDescription == "Deployment is running"
    assert c.snap.alloc_by_id(canary.ID).DeploymentStatus.Canary is False
    assert events[0].Type == "DeploymentPromotion"


def test_successful_deployment_marks_the_job_version_stable() -> None:
    c = Cluster()
    c.apply(fsm.JobRegister(Job=factories.job("web")))
    d = Deployment(ID=factories.new_id(), Namespace="default", JobID="web", JobVersion=0,
                   Status=DeploymentStatus.RUNNING, TaskGroups={"web": DeploymentState()})
    c.apply(fsm.ApplyPlanResults(Deployment=d))
    c.apply(fsm.DeploymentStatusUpdateRequest(DeploymentUpdate=DeploymentStatusUpdate(
        DeploymentID=d.ID, Status=DeploymentStatus.SUCCESSFUL, StatusDescription="Deployment completed successfully")))
    assert c.snap.job_by_id("default", "web").Stable is True
    assert c.snap.job_by_id_and_version("default", "web", 0).Stable is True


def test_garbage_collection_removes_evaluations_allocations_and_deployments() -> None:
    c = Cluster()
    d = Deployment(ID=factories.new_id(), Namespace="default", JobID="web", Status=DeploymentStatus.SUCCESSFUL,
                   TaskGroups={"web": DeploymentState(DesiredTotal=2)})
    node, _job, allocs, _ = _placed(c, deployment=d)
    ev = evaluation("web", EvalStatus.COMPLETE)
    c.apply(fsm.EvalUpdate(Evals=[ev]))
    c.apply(fsm.EvalDelete(Evals=[ev.ID], Allocs=[allocs[0].ID]))
    assert c.snap.eval_by_id(ev.ID) is None and c.snap.alloc_by_id(allocs[0].ID) is None
    assert [a.ID for a in c.snap.allocs_by_node(node.ID)] == [allocs[1].ID]
    assert [a.ID for a in c.snap.allocs_by_deployment(d.ID)] == [allocs[1].ID]
    assert c.snap.node_table.usage(node.ID) == (500, 256, 300)
    _, events = c.apply(fsm.DeploymentDelete(Deployments=[d.ID, "unknown"]))
    assert c.snap.deployment_by_id(d.ID) is None and c.snap.deployments_by_job("default", "web") == []
    assert c.snap.table_index("deployments") == c.index and list(events) == []


def test_complete_evaluation_cancels_the_jobs_blocked_evaluation() -> None:
    c = Cluster()
    blocked = evaluation("web", EvalStatus.BLOCKED)
    c.apply(fsm.EvalUpdate(Evals=[blocked]))
    c.apply(fsm.EvalUpdate(Evals=[evaluation("web", EvalStatus.COMPLETE)]))
    assert c.snap.eval_by_id(blocked.ID).Status == "canceled"


def test_scheduler_config_check_and_set() -> None:
    c = Cluster()
    written, _ = c.apply(fsm.SchedulerConfigUpdate(Config=SchedulerConfiguration(SchedulerAlgorithm="spread")))
    assert written and c.snap.scheduler_config().SchedulerAlgorithm == "spread"
    stale, _ = c.apply(fsm.SchedulerConfigUpdate(Config=SchedulerConfiguration(), CAS=True, CASIndex=0))
    assert stale is False and c.snap.scheduler_config().SchedulerAlgorithm == "spread"
    ok, _ = c.apply(fsm.SchedulerConfigUpdate(Config=SchedulerConfiguration(), CAS=True, CASIndex=1))
    assert ok and c.snap.scheduler_config().SchedulerAlgorithm == "binpack"


def test_same_log_gives_same_state_and_snapshots_restore_it() -> None:
    c = Cluster()
    deployment = Deployment(ID="d1", Namespace="default", JobID="web", Status=DeploymentStatus.RUNNING,
                            TaskGroups={"web": DeploymentState(DesiredTotal=3)})
    _placed(c, count=3, deployment=deployment)
    c.apply(fsm.EvalUpdate(Evals=[evaluation("web")]))
    replay = StateStore()
    for i, data in enumerate(c.log[:2], start=1):
        fsm.apply(replay, i, data)
    half = fsm.snapshot(replay)
    restored = StateStore()
    fsm.restore(restored, half)
    for i, data in enumerate(c.log[2:], start=3):
        fsm.apply(restored, i, data)
    assert fsm.snapshot(restored) == fsm.snapshot(c.store)
    assert restored.snapshot().node_table.usage(next(c.snap.nodes()).ID) == (1500, 768, 900)


def test_garbage_is_refused() -> None:
    with pytest.raises(InvalidInput):
        fsm.decode_command(b"\x93\x01\x02")
    with pytest.raises(InvalidInput):
        fsm.decode_command(msgspec.msgpack.encode({"Type": "NoSuchCommand"}))


def test_state_machine_returns_refusals_and_publishes_events() -> None:
    published: list[list[Event]] = []
    machine = fsm.StateMachine(on_events=lambda batch: published.append(list(batch)))
    node = factories.node()
    assert machine.apply(1, fsm.encode_command(fsm.NodeRegister(Node=node))).CreateIndex == 1  # type: ignore[attr-defined]
    assert [(e.Topic, e.Key, e.Index) for e in published[0]] == [("Node", node.ID, 1)]
    refused = machine.apply(2, fsm.encode_command(fsm.DeploymentPromote(DeploymentID="nope", All=True)))
    assert isinstance(refused, NotFound)
    assert isinstance(machine.apply(3, b"garbage"), InvalidInput)
    assert machine.store.latest_index() == 3 and len(published) == 1  # refusals publish nothing
    data = machine.snapshot()
    other = fsm.StateMachine()
    other.restore(data)
    assert other.store.snapshot().node_by_id(node.ID) == machine.store.snapshot().node_by_id(node.ID)
    assert other.store.latest_index() == 3
    store = other.store
    other.restore(b"")
    assert list(store.snapshot().nodes()) == [] and store.latest_index() == 0


def test_allocation_events_go_out_without_their_job() -> None:
    c = Cluster()
    _, _, _allocs, events = _placed(c)
    alloc_event = next(e for e in events if e.Topic == "Allocation")
    out = msgspec.json.decode(event_json(alloc_event))
    assert out["Topic"] == "Allocation" and out["Payload"]["Allocation"]["Job"] is None
    assert out["FilterKeys"][0] == "web"
    assert c.snap.alloc_by_id(alloc_event.Key).Job is not None  # the stored allocation keeps it
