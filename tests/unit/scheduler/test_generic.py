"""The service and batch scheduler, end to end on the harness: what a user sees after
``nomad job run`` (allocations, their nodes, evaluations, deployments, failure reports)."""

from __future__ import annotations

from collections import Counter

import msgspec

from cluster import fsm
from cluster.state.write_allocs import AllocClientUpdate
from cluster.structs.alloc import AllocDeploymentStatus, TaskState
from cluster.structs.base import GO_ZERO_TIME, SECOND_NS
from cluster.structs.constants import AllocClientStatus, EvalStatus, EvalTrigger, NodeStatus
from cluster.structs.group import ReschedulePolicy, UpdateStrategy
from tests.unit.scheduler import factories as f
from tests.unit.scheduler.harness import Harness

NO_DEPLOYMENT = UpdateStrategy(MaxParallel=0)


def test_new_job_places_every_allocation_with_names_and_a_deployment() -> None:
    h = Harness()
    h.add_nodes(10)
    ev = h.run(f.job("web", count=25))
    allocs = h.live_allocs("web")
    assert sorted(a.Name for a in allocs) == sorted(f"web.web[{i}]" for i in range(25))
    assert all(a.DesiredStatus == "run" and a.ClientStatus == "pending" for a in allocs)
    assert all(a.Job is not None and a.Job.Version == 0 for a in allocs)
    done = h.eval_status(ev)
    assert done.Status == EvalStatus.COMPLETE and done.QueuedAllocations == {"web": 0}
    deployment = h.snap.latest_deployment_by_job("default", "web")
    assert deployment is not None and deployment.TaskGroups["web"].DesiredTotal == 25
    assert {a.DeploymentID for a in allocs} == {deployment.ID}
    assert done.DeploymentID == deployment.ID


def test_placements_respect_constraints_and_drivers() -> None:
    h = Harness()
    linux = h.add_nodes(3)
    h.add_nodes(3, attrs={"kernel.name": "windows"})
    h.add_nodes(2, drivers=("exec",))
    job = f.job("web", count=6, driver="docker", constraints=[f.constraint("${attr.kernel.name}", "=", "linux")])
    h.run(job)
    used = {a.NodeID for a in h.live_allocs("web")}
    assert used <= {n.ID for n in linux}


def test_distinct_hosts_spreads_one_per_node_and_reports_the_rest() -> None:
    h = Harness()
    nodes = h.add_nodes(4)
    job = f.job("web", count=6, constraints=[f.constraint("", "distinct_hosts")])
    ev = h.run(job)
    allocs = h.live_allocs("web")
    assert len(allocs) == 4 and len({a.NodeID for a in allocs}) == 4
    done = h.eval_status(ev)
    failure = done.FailedTGAllocs["web"]
    assert failure.NodesEvaluated == 4 and failure.ConstraintFiltered == {"distinct_hosts": 4}
    assert failure.CoalescedFailures == 1
    blocked = h.created_evals[-1]
    assert blocked.Status == EvalStatus.BLOCKED and blocked.TriggeredBy == EvalTrigger.QUEUED_ALLOCS
    assert done.BlockedEval == blocked.ID and done.QueuedAllocations == {"web": 2}
    assert nodes


def test_exhausted_cluster_reports_the_dimension_and_blocks() -> None:
    h = Harness()
    h.add_nodes(2, cpu=4000, memory_mb=1024)
    ev = h.run(f.job("big", count=5, cpu=100, memory_mb=400))
    assert len(h.live_allocs("big")) == 4  # two of 400 MB fit in each 1024 MB node
    failure = h.eval_status(ev).FailedTGAllocs["web"]
    assert failure.NodesExhausted == 2 and failure.DimensionExhausted == {"memory": 2}
    assert failure.ResourcesExhausted["web"].MemoryMB == 400
    blocked = h.created_evals[-1]
    assert blocked.ClassEligibility == {h.snap.node_table.classes[0]: True}


def test_constraint_failures_are_named_once_per_class() -> None:
    h = Harness()
    h.add_nodes(5, attrs={"kernel.name": "darwin"})
    ev = h.run(f.job("web", count=1, constraints=[f.constraint("${attr.kernel.name}", "=", "linux")]))
    failure = h.eval_status(ev).FailedTGAllocs["web"]
    assert failure.NodesFiltered == 5
    assert failure.ConstraintFiltered == {"${attr.kernel.name} = linux": 1, "computed class ineligible": 4}
    assert h.created_evals[-1].ClassEligibility == {h.snap.node_table.classes[0]: False}


def test_scale_down_stops_the_highest_indexes() -> None:
    h = Harness()
    h.add_nodes(5)
    h.run(f.job("web", count=5))
    h.run(f.job("web", count=3))
    live = sorted(a.Name for a in h.live_allocs("web"))
    assert live == ["web.web[0]", "web.web[1]", "web.web[2]"]
    stopped = [a for a in h.allocs("web") if a.DesiredStatus == "stop"]
    assert {a.DesiredDescription for a in stopped} == {"alloc not needed due to job update"}


def test_count_change_updates_in_place_and_keeps_nodes() -> None:
    h = Harness()
    h.add_nodes(5)
    h.run(f.job("web", count=3))
    before = {a.ID: a.NodeID for a in h.live_allocs("web")}
    h.run(f.job("web", count=4))
    after = h.live_allocs("web")
    assert len(after) == 4
    kept = [a for a in after if a.ID in before]
    assert len(kept) == 3 and all(before[a.ID] == a.NodeID for a in kept)
    assert all(a.Job.Version == 1 for a in after)  # the kept ones were updated in place


def test_destructive_update_rolls_max_parallel_at_a_time() -> None:
    h = Harness()
    h.add_nodes(5)
    update = UpdateStrategy(MaxParallel=2)
    h.run(f.job("web", count=4, update=update))
    old = {a.ID for a in h.live_allocs("web")}
    h.run(f.job("web", count=4, update=update, memory_mb=300))  # resources change: destructive
    live = h.live_allocs("web")
    replaced = [a for a in live if a.ID not in old]
    assert len(live) == 4 and len(replaced) == 2
    assert all(a.PreviousAllocation in old for a in replaced)
    stopped = [a for a in h.allocs("web") if a.DesiredStatus == "stop"]
    assert {a.DesiredDescription for a in stopped} == {"alloc is being updated due to job update"}
    deployment = h.snap.latest_deployment_by_job("default", "web")
    assert deployment.JobVersion == 1 and deployment.TaskGroups["web"].DesiredTotal == 4


def test_canaries_are_placed_first_and_wait_for_promotion() -> None:
    h = Harness()
    h.add_nodes(5)
    update = UpdateStrategy(MaxParallel=1, Canary=1)
    h.run(f.job("web", count=3, update=update))
    h.run(f.job("web", count=3, update=update, memory_mb=300))
    live = h.live_allocs("web")
    canaries = [a for a in live if a.DeploymentStatus is not None and a.DeploymentStatus.Canary]
    assert len(live) == 4 and len(canaries) == 1
    d = h.snap.latest_deployment_by_job("default", "web")
    assert d.TaskGroups["web"].DesiredCanaries == 1 and d.TaskGroups["web"].PlacedCanaries == [canaries[0].ID]
    assert d.StatusDescription == "Deployment is running but requires manual promotion"


def test_lost_node_allocations_are_replaced_elsewhere() -> None:
    h = Harness()
    nodes = h.add_nodes(3)
    h.run(f.job("web", count=3, constraints=[f.constraint("", "distinct_hosts")]))
    victim = next(a for a in h.live_allocs("web"))
    h.apply(fsm.NodeUpdateStatus(NodeID=victim.NodeID, Status=NodeStatus.DOWN, UpdatedAt=1))
    h.add_node()
    h.process(h.evaluation("web", EvalTrigger.NODE_UPDATE))
    lost = h.snap.alloc_by_id(victim.ID)
    assert lost.DesiredStatus == "stop" and lost.ClientStatus == "lost"
    assert lost.DesiredDescription == "alloc is lost since its node is down"
    live = h.live_allocs("web")
    assert len(live) == 3 and victim.NodeID not in {a.NodeID for a in live}
    replacement = next(a for a in live if a.PreviousAllocation == victim.ID)
    assert replacement.Name == victim.Name and lost.NextAllocation == replacement.ID
    assert nodes


def test_failed_allocation_is_rescheduled_on_another_node() -> None:
    h = Harness()
    h.add_nodes(4)
    # No update block: no deployment, so a failure is the rescheduler's business (a deployment's own
    # failures are left to the deployment watcher).
    job = f.job("web", count=2, update=NO_DEPLOYMENT,
                reschedule=ReschedulePolicy(Attempts=1, Interval=3600 * SECOND_NS, Delay=0,
                                            DelayFunction="constant", Unlimited=False))
    h.run(job)
    failed = h.live_allocs("web")[0]
    h.apply(fsm.AllocClientUpdateRequest(Allocs=[AllocClientUpdate(ID=failed.ID, ClientStatus="failed")],
                                         UpdatedAt=h.clock.now))
    h.process(h.evaluation("web", EvalTrigger.RETRY_FAILED_ALLOC))
    live = h.live_allocs("web")
    replacement = next(a for a in live if a.PreviousAllocation == failed.ID)
    assert replacement.NodeID != failed.NodeID  # the rescheduling penalty steers it away
    events = replacement.RescheduleTracker.Events
    assert [(e.PrevAllocID, e.PrevNodeID) for e in events] == [(failed.ID, failed.NodeID)]
    assert h.snap.alloc_by_id(failed.ID).DesiredDescription == "alloc was rescheduled because it failed"


def test_delayed_reschedule_creates_a_follow_up_evaluation() -> None:
    h = Harness()
    h.add_nodes(2)
    policy = ReschedulePolicy(Attempts=0, Interval=0, Delay=30 * SECOND_NS, DelayFunction="exponential",
                              MaxDelay=3600 * SECOND_NS, Unlimited=True)
    h.run(f.job("web", count=1, reschedule=policy, update=NO_DEPLOYMENT))
    alloc = h.live_allocs("web")[0]
    h.apply(fsm.AllocClientUpdateRequest(Allocs=[AllocClientUpdate(ID=alloc.ID, ClientStatus="failed")],
                                         UpdatedAt=h.clock.now))
    h.process(h.evaluation("web", EvalTrigger.RETRY_FAILED_ALLOC))
    followup = next(e for e in h.created_evals if e.TriggeredBy == "alloc-failure")
    assert followup.StatusDescription == "created for delayed rescheduling"
    assert followup.WaitUntil != GO_ZERO_TIME
    assert h.snap.alloc_by_id(alloc.ID).FollowupEvalID == followup.ID
    assert len(h.live_allocs("web")) == 0


def test_static_port_collision_exhausts_the_node() -> None:
    h = Harness()
    h.add_nodes(2)
    net = f.ports_network(static={"http": 8080})
    ev = h.run(f.job("web", count=3, networks=[net]))
    allocs = h.live_allocs("web")
    assert len(allocs) == 2 and len({a.NodeID for a in allocs}) == 2
    ports = [a.AllocatedResources.Shared.Ports[0].Value for a in allocs]
    assert ports == [8080, 8080]
    failure = h.eval_status(ev).FailedTGAllocs["web"]
    assert failure.DimensionExhausted == {"network: reserved port collision http=8080": 2}


def test_dynamic_ports_are_assigned_from_the_node_range() -> None:
    h = Harness()
    h.add_nodes(1, min_port=25000, max_port=25002)
    h.run(f.job("web", count=1, networks=[f.ports_network(dynamic=("http", "admin"))]))
    (alloc,) = h.live_allocs("web")
    values = {p.Label: p.Value for p in alloc.AllocatedResources.Shared.Ports}
    assert set(values) == {"http", "admin"} and all(25000 <= v <= 25002 for v in values.values())
    assert values["http"] != values["admin"]


def test_spread_balances_across_datacenters_with_targets() -> None:
    h = Harness()
    for dc in ("dc1", "dc2"):
        h.add_nodes(5, dc=dc)
    job = f.job("web", count=10, datacenters=["dc1", "dc2"],
                spreads=[f.spread("${node.datacenter}", 100, {"dc1": 70, "dc2": 30})])
    h.run(job)
    dc_of = {n.ID: n.Datacenter for n in h.snap.nodes()}
    counts = Counter(dc_of[a.NodeID] for a in h.live_allocs("web"))
    assert counts == {"dc1": 7, "dc2": 3}


def test_affinity_prefers_matching_nodes() -> None:
    h = Harness()
    fast = h.add_nodes(3, meta={"disk": "ssd"})
    h.add_nodes(3, meta={"disk": "hdd"})
    job = f.job("web", count=3, affinities=[f.affinity("${meta.disk}", "=", "ssd", 100)])
    h.run(job)
    assert {a.NodeID for a in h.live_allocs("web")} <= {n.ID for n in fast}


def test_stopped_job_stops_everything_and_cancels_its_deployment() -> None:
    h = Harness()
    h.add_nodes(3)
    h.run(f.job("web", count=3))
    deployment = h.snap.latest_deployment_by_job("default", "web")
    ev = h.evaluation("web", EvalTrigger.JOB_DEREGISTER)
    h.apply(fsm.JobDeregister(Namespace="default", JobID="web", Eval=ev))
    h.process(h.snap.eval_by_id(ev.ID))
    assert h.live_allocs("web") == []
    assert h.snap.deployment_by_id(deployment.ID).Status == "cancelled"
    assert h.snap.job_by_id("default", "web").Status == "dead"


def test_batch_job_does_not_replace_completed_allocations() -> None:
    h = Harness()
    h.add_nodes(2)
    h.run(f.job("report", type="batch", count=2))
    done = h.live_allocs("report")[0]
    finished = TaskState(State="dead", Failed=False)
    h.apply(fsm.AllocClientUpdateRequest(Allocs=[AllocClientUpdate(
        ID=done.ID, ClientStatus=AllocClientStatus.COMPLETE, TaskStates={"report": finished})], UpdatedAt=1))
    plans = len(h.plans)
    h.process(h.evaluation("report", EvalTrigger.NODE_UPDATE, job_type="batch"))
    assert len(h.allocs("report")) == 2  # nothing new: the completed one counts
    assert len(h.plans) == plans  # nothing to do, nothing submitted


def test_partial_commit_is_retried_on_fresh_state() -> None:
    h = Harness()
    nodes = h.add_nodes(4)
    h.planner.refuse_nodes = {n.ID for n in nodes[:2]}
    ev = h.run(f.job("web", count=4))
    assert len(h.live_allocs("web")) == 4
    assert len(h.plans) == 2 and h.eval_status(ev).Status == EvalStatus.COMPLETE


def test_healthy_rolling_update_finishes_and_marks_the_job_stable() -> None:
    h = Harness()
    h.add_nodes(3)
    h.run(f.job("web", count=2, update=UpdateStrategy(MaxParallel=2)))
    d = h.snap.latest_deployment_by_job("default", "web")
    updates = [AllocClientUpdate(ID=a.ID, ClientStatus="running",
                                 DeploymentStatus=AllocDeploymentStatus(Healthy=True, Timestamp=GO_ZERO_TIME))
               for a in h.live_allocs("web")]
    h.apply(fsm.AllocClientUpdateRequest(Allocs=updates, UpdatedAt=h.clock.now))
    h.process(h.evaluation("web", EvalTrigger.DEPLOYMENT_WATCHER))
    assert h.snap.deployment_by_id(d.ID).Status == "successful"
    assert h.snap.job_by_id("default", "web").Stable is True
    assert msgspec.structs.asdict(h.snap.deployment_by_id(d.ID).TaskGroups["web"])["HealthyAllocs"] == 2


def test_placement_metrics_count_the_exhausted_nodes_it_walked_past() -> None:
    h = Harness()
    full = [h.add_node(cpu=1000, memory_mb=8192) for _ in range(3)]
    h.run(f.job("filler", count=3, cpu=900, memory_mb=100, constraints=[f.constraint("", "distinct_hosts")]))
    assert {a.NodeID for a in h.live_allocs("filler")} == {n.ID for n in full}
    h.add_node(cpu=1000, memory_mb=8192)
    h.run(f.job("web", count=1, cpu=500, memory_mb=100))
    (alloc,) = h.live_allocs("web")
    m = alloc.Metrics
    # One node fits; the walk went all the way round (fewer options than the limit of 2).
    assert m.NodesEvaluated == 4 and m.NodesExhausted == 3 and m.DimensionExhausted == {"cpu": 3}
    assert m.NodesFiltered == 0 and m.ScoreMetaData[0].NodeID == alloc.NodeID
