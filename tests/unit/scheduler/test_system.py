"""The system and sysbatch schedulers: one allocation per eligible node, preemption, updates."""

from __future__ import annotations

from cluster import fsm
from cluster.scheduler.blocked import BlockedEvals
from cluster.state.write_allocs import AllocClientUpdate
from cluster.structs.alloc import TaskState
from cluster.structs.constants import AllocClientStatus, EvalStatus, EvalTrigger
from cluster.structs.group import UpdateStrategy
from tests.unit.scheduler import factories as f
from tests.unit.scheduler.harness import Harness


def test_one_allocation_per_eligible_node() -> None:
    h = Harness()
    linux = h.add_nodes(4)
    h.add_nodes(2, attrs={"kernel.name": "windows"})
    job = f.job("agent", type="system", constraints=[f.constraint("${attr.kernel.name}", "=", "linux")])
    ev = h.run(job)
    allocs = h.live_allocs("agent")
    assert sorted(a.NodeID for a in allocs) == sorted(n.ID for n in linux)
    assert {a.Name for a in allocs} == {"agent.web[0]"}
    done = h.eval_status(ev)
    assert done.Status == EvalStatus.COMPLETE and not done.FailedTGAllocs  # filtered nodes are no failure


def test_new_node_gets_the_system_job() -> None:
    h = Harness()
    h.add_nodes(2)
    h.run(f.job("agent", type="system"))
    node = h.add_node()
    h.process(h.evaluation("agent", EvalTrigger.NODE_UPDATE, job_type="system"))
    assert node.ID in {a.NodeID for a in h.live_allocs("agent")} and len(h.live_allocs("agent")) == 3


def test_system_job_preempts_lower_priority_work() -> None:
    h = Harness()
    node = h.add_node(cpu=1000, memory_mb=1024)
    h.run(f.job("batchy", type="batch", priority=20, count=2, cpu=450, memory_mb=400))
    victims = h.live_allocs("batchy")
    assert len(victims) == 2
    ev = h.run(f.job("agent", type="system", priority=90, cpu=300, memory_mb=300))
    (agent,) = h.live_allocs("agent")
    assert agent.NodeID == node.ID and len(agent.PreemptedAllocations) == 1
    evicted = h.snap.alloc_by_id(agent.PreemptedAllocations[0])
    assert evicted.DesiredStatus == "evict" and evicted.PreemptedByAllocation == agent.ID
    assert evicted.DesiredDescription == f"Preempted by alloc ID {agent.ID}"
    assert len(h.live_allocs("batchy")) == 1
    follow = [e for e in h.snap.evals_by_job("default", "batchy") if e.TriggeredBy == "preemption"]
    assert len(follow) == 1  # the preempted job is evaluated again, to be placed elsewhere
    assert h.eval_status(ev).Status == EvalStatus.COMPLETE


def test_close_priorities_are_not_preempted_and_the_eval_blocks_on_the_node() -> None:
    h = Harness()
    node = h.add_node(cpu=1000, memory_mb=1024)
    h.add_node(cpu=1000, memory_mb=1024)  # free: the agent lands here
    h.run(f.job("svc", priority=85, count=2, cpu=450, memory_mb=400, constraints=[
        f.constraint("${node.unique.id}", "=", node.ID)]))
    ev = h.run(f.job("agent", type="system", priority=90, cpu=300, memory_mb=300))
    assert len(h.live_allocs("agent")) == 1
    failure = h.eval_status(ev).FailedTGAllocs["web"]
    assert failure.DimensionExhausted == {"cpu": 1}
    blocked = h.created_evals[-1]
    assert blocked.Status == EvalStatus.BLOCKED and blocked.NodeID == node.ID
    tracker = BlockedEvals()
    tracker.set_enabled(True)
    assert tracker.block(h.snap.eval_by_id(blocked.ID)) == []
    assert tracker.unblock_node("some-other-node") == []
    svc = h.live_allocs("svc")[0]
    h.apply(fsm.AllocClientUpdateRequest(Allocs=[AllocClientUpdate(ID=svc.ID, ClientStatus="complete")]))
    (woken,) = tracker.unblock_node(node.ID)
    assert tracker.stats().total_blocked == 0
    h.process(woken)
    assert {a.NodeID for a in h.live_allocs("agent")} == {n.ID for n in h.snap.nodes()}


def test_changed_system_job_rolls_out_max_parallel_at_a_time() -> None:
    h = Harness()
    h.add_nodes(4)
    update = UpdateStrategy(MaxParallel=1)
    h.run(f.job("agent", type="system", update=update))
    old = {a.ID for a in h.live_allocs("agent")}
    h.run(f.job("agent", type="system", update=update, memory_mb=128))
    live = h.live_allocs("agent")
    assert len(live) == 4 and len([a for a in live if a.ID not in old]) == 1


def test_node_removed_from_datacenter_list_loses_its_allocation() -> None:
    h = Harness()
    keep = h.add_node(dc="dc1")
    h.add_node(dc="dc2")
    h.run(f.job("agent", type="system", datacenters=["dc1", "dc2"]))
    h.run(f.job("agent", type="system", datacenters=["dc1"], memory_mb=256))
    assert {a.NodeID for a in h.live_allocs("agent")} == {keep.ID}


def test_sysbatch_does_not_rerun_completed_work() -> None:
    h = Harness()
    h.add_nodes(2)
    h.run(f.job("sweep", type="sysbatch"))
    first = h.live_allocs("sweep")
    h.apply(fsm.AllocClientUpdateRequest(Allocs=[
        AllocClientUpdate(ID=a.ID, ClientStatus=AllocClientStatus.COMPLETE,
                          TaskStates={"web": TaskState(State="dead")}) for a in first], UpdatedAt=1))
    h.process(h.evaluation("sweep", EvalTrigger.NODE_UPDATE, job_type="sysbatch"))
    assert h.live_allocs("sweep") == [] and len(h.allocs("sweep")) == 2
