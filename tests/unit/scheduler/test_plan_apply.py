"""The plan applier's re-check of a plan against the newest state."""

from __future__ import annotations

import msgspec

from cluster import fsm
from cluster.scheduler.plan import Plan
from cluster.scheduler.plan_apply import evaluate_plan
from cluster.structs.constants import NodeStatus
from tests.unit.scheduler import factories as f
from tests.unit.scheduler.harness import Harness


def setup() -> tuple[Harness, list, object]:  # type: ignore[type-arg]
    h = Harness()
    nodes = h.add_nodes(2, cpu=1000, memory_mb=1024)
    h.apply(fsm.JobRegister(Job=f.job("web", count=2, cpu=600, memory_mb=100)))
    return h, nodes, h.snap.job_by_id("default", "web")


def plan_for(job, allocs) -> Plan:  # type: ignore[no-untyped-def]
    plan = Plan(EvalID="e", Job=job)
    for a in allocs:
        plan.append_alloc(msgspec.structs.replace(a, Job=None))
    return plan


def test_a_plan_that_still_fits_commits_whole() -> None:
    h, nodes, job = setup()
    plan = plan_for(job, [f.alloc_for(job, nodes[0]), f.alloc_for(job, nodes[1], index=1)])
    result = evaluate_plan(h.snap, plan)
    assert result.full_commit(plan) == (True, 2, 2) and result.RefreshIndex == 0


def test_a_node_filled_meanwhile_is_refused_and_the_rest_commits() -> None:
    h, nodes, job = setup()
    other = f.job("other", cpu=600)
    h.apply(fsm.JobRegister(Job=other))
    h.apply(fsm.ApplyPlanResults(Job=h.snap.job_by_id("default", "other"),
                                 AllocsUpdated=[f.alloc_for(other, nodes[0])]))  # a concurrent scheduler won
    plan = plan_for(job, [f.alloc_for(job, nodes[0]), f.alloc_for(job, nodes[1], index=1)])
    result = evaluate_plan(h.snap, plan)
    assert list(result.NodeAllocation) == [nodes[1].ID] and result.RejectedNodes == [nodes[0].ID]
    assert result.RefreshIndex == h.snap.latest_index()
    assert result.full_commit(plan) == (False, 2, 1)


def test_all_at_once_refuses_everything_if_one_node_is_refused() -> None:
    h, nodes, job = setup()
    plan = plan_for(job, [f.alloc_for(job, nodes[0]), f.alloc_for(job, nodes[0], index=1)])
    plan.AllAtOnce = True
    result = evaluate_plan(h.snap, plan)
    assert result.NodeAllocation == {} and result.RefreshIndex


def test_stops_free_room_for_placements_on_the_same_node() -> None:
    h, nodes, job = setup()
    old = f.alloc_for(job, nodes[0])
    h.apply(fsm.ApplyPlanResults(Job=job, AllocsUpdated=[old]))
    plan = plan_for(job, [f.alloc_for(job, nodes[0], index=1)])
    assert evaluate_plan(h.snap, plan).RejectedNodes == [nodes[0].ID]  # 600 + 600 > 1000
    plan.append_stopped(old, "alloc is being updated due to job update")
    result = evaluate_plan(h.snap, plan)
    assert result.RejectedNodes == [] and len(result.NodeUpdate[nodes[0].ID]) == 1


def test_down_and_ineligible_nodes_take_no_new_placements_but_updates_in_place() -> None:
    h, nodes, job = setup()
    running = f.alloc_for(job, nodes[1])
    h.apply(fsm.ApplyPlanResults(Job=job, AllocsUpdated=[running]))
    h.apply(fsm.NodeUpdateEligibility(NodeID=nodes[1].ID, Eligibility="ineligible"))
    assert evaluate_plan(h.snap, plan_for(job, [f.alloc_for(job, nodes[1], index=1)])).RejectedNodes == [nodes[1].ID]
    in_place = plan_for(job, [msgspec.structs.replace(running, EvalID="e2")])
    assert evaluate_plan(h.snap, in_place).RejectedNodes == []
    h.apply(fsm.NodeUpdateStatus(NodeID=nodes[0].ID, Status=NodeStatus.DOWN, UpdatedAt=5))
    assert evaluate_plan(h.snap, plan_for(job, [f.alloc_for(job, nodes[0])])).RejectedNodes == [nodes[0].ID]


def test_port_collisions_are_refused() -> None:
    h, nodes, job = setup()
    h.apply(fsm.ApplyPlanResults(Job=job, AllocsUpdated=[f.alloc_for(job, nodes[0], ports=[8080])]))
    clash = f.alloc_for(job, nodes[0], index=1, ports=[8080])
    clash.AllocatedResources.Tasks["web"].Cpu.CpuShares = 10
    assert evaluate_plan(h.snap, plan_for(job, [clash])).RejectedNodes == [nodes[0].ID]
