"""The plan applier tells updates from new placements by the allocations already on the node.

Its bulk check takes a node's placements as new when none of their IDs is already on that node;
an ID already there is an update whose old resources are given back first, and an ID that lives
on another node frees nothing here.
"""

from __future__ import annotations

import msgspec

from cluster import fsm
from cluster.scheduler.plan import Plan
from cluster.scheduler.plan_apply import evaluate_plan
from cluster.structs.alloc import Allocation
from cluster.structs.job import Job
from tests.unit.scheduler import factories as f
from tests.unit.scheduler.harness import Harness


def _plan(job: Job, allocs: list[Allocation]) -> Plan:
    plan = Plan(EvalID="e", Job=job)
    for alloc in allocs:
        plan.append_alloc(msgspec.structs.replace(alloc, Job=None))
    return plan


def _running(h: Harness, job: Job, alloc: Allocation) -> None:
    h.apply(fsm.ApplyPlanResults(Job=job, AllocsUpdated=[alloc]))


def test_a_bigger_update_in_place_fits_once_its_old_version_is_given_back() -> None:
    h = Harness()
    node = h.add_node(cpu=1000, memory_mb=4096)
    small, big = f.job("web", cpu=600), f.job("web", cpu=900)
    old = f.alloc_for(small, node)
    _running(h, small, old)
    result = evaluate_plan(h.snap, _plan(big, [f.alloc_for(big, node, alloc_id=old.ID)]))
    assert list(result.NodeAllocation) == [node.ID] and not result.RejectedNodes


def test_the_same_placement_as_a_new_allocation_does_not_fit() -> None:
    h = Harness()
    node = h.add_node(cpu=1000, memory_mb=4096)
    small, big = f.job("web", cpu=600), f.job("web", cpu=900)
    _running(h, small, f.alloc_for(small, node))
    result = evaluate_plan(h.snap, _plan(big, [f.alloc_for(big, node)]))
    assert result.NodeAllocation == {} and result.RejectedNodes == [node.ID]


def test_an_allocation_that_lives_on_another_node_frees_nothing_here() -> None:
    h = Harness()
    here, there = h.add_node(cpu=1000, memory_mb=4096), h.add_node(cpu=1000, memory_mb=4096)
    job = f.job("web", cpu=600)
    elsewhere = f.alloc_for(job, there)
    _running(h, job, elsewhere)
    _running(h, job, f.alloc_for(job, here, index=1))
    result = evaluate_plan(h.snap, _plan(job, [f.alloc_for(job, here, alloc_id=elsewhere.ID)]))
    assert result.RejectedNodes == [here.ID]


def test_many_new_placements_on_one_node_are_summed() -> None:
    h = Harness()
    node = h.add_node(cpu=1000, memory_mb=4096)
    job = f.job("web", cpu=300)
    fits = evaluate_plan(h.snap, _plan(job, [f.alloc_for(job, node, index=i) for i in range(3)]))
    assert len(fits.NodeAllocation[node.ID]) == 3
    too_many = evaluate_plan(h.snap, _plan(job, [f.alloc_for(job, node, index=i) for i in range(4)]))
    assert too_many.RejectedNodes == [node.ID]
