"""The plan applier's decision (Nomad's ``evaluatePlan``): check a plan against the newest state,
keep what still fits, and say which nodes were refused.

Schedulers work on snapshots that may be stale by the time their plan arrives; the applier
re-checks every node the plan places on: the node must still exist and be ready (a disconnected
node only takes its allocations being marked unknown), be eligible
(unless the plan only updates allocations already there), and hold everything the plan leaves
on it: cpu, memory, disk and ports. Stops and evictions always apply. A refused node drops all
of the plan's changes on it; the result then carries ``RefreshIndex`` so the scheduler retries on
newer state. With ``AllAtOnce`` one refused node refuses the whole plan.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import chain

import immutables
import numpy as np

from cluster.scheduler.plan import Plan, PlanResult
from cluster.scheduler.ports import State
from cluster.state.nodetable import alloc_ports, alloc_usage, alloc_uses_resources
from cluster.state.requests import AllocPreemptDiff
from cluster.structs.alloc import AllocatedResources, Allocation
from cluster.structs.constants import AllocClientStatus, EvalStatus, EvalTrigger, NodeEligibility, NodeStatus
from cluster.structs.evaluation import Evaluation

__all__ = ["evaluate_node", "evaluate_plan", "preemption_evals"]


class _Usage:
    """Resource sums with a cache per granted-resources object (plans share them)."""

    def __init__(self) -> None:
        self.cache: dict[int, tuple[int, int, int, int]] = {}

    def of(self, resources: AllocatedResources | None) -> tuple[int, int, int]:
        return self.full(resources)[:3]

    def full(self, resources: AllocatedResources | None) -> tuple[int, int, int, int]:
        key = id(resources)
        hit = self.cache.get(key)
        if hit is None:
            hit = self.cache[key] = (*alloc_usage(resources), alloc_ports(resources))
        return hit


def evaluate_node(state: State, plan: Plan, node_id: str, usage: _Usage | None = None) -> tuple[bool, str]:
    """(the plan's changes on ``node_id`` fit, why not)."""
    placed = plan.NodeAllocation.get(node_id) or []
    if not placed:
        return True, ""
    node = state.node_by_id(node_id)
    if node is None:
        return False, "node does not exist"
    existing = [state.alloc_by_id(a.ID) for a in placed]
    if node.Status == NodeStatus.DISCONNECTED and all(
            e is not None and e.NodeID == node_id and a.ClientStatus == AllocClientStatus.UNKNOWN
            for a, e in zip(placed, existing, strict=True)):
        return True, ""  # marking the allocations of a disconnected client unknown takes nothing
    if node.Status != NodeStatus.READY:
        return False, "node is not ready for placements"
    usage = usage or _Usage()
    if node.SchedulingEligibility == NodeEligibility.INELIGIBLE and not all(
            e is not None and e.NodeID == node_id and alloc_uses_resources(e) for e in existing):
        return False, "node is not eligible"
    table = state.node_table
    slot = table.slot_of[node_id]
    cpu, mem, disk = int(table.cpu_used[slot]), int(table.mem_used[slot]), int(table.disk_used[slot])
    ports = table.ports_used.get(node_id, 0)
    leaving: list[Allocation] = []
    gone = [d.ID for d in plan.NodeUpdate.get(node_id) or []] + [d.ID for d in plan.NodePreemptions.get(node_id) or []]
    for alloc_id in gone:
        old = state.alloc_by_id(alloc_id)
        if old is not None:
            leaving.append(old)
    leaving.extend(e for e in existing if e is not None)
    seen: set[str] = set()
    for old in leaving:
        if old.ID in seen or old.NodeID != node_id or not alloc_uses_resources(old):
            continue
        seen.add(old.ID)
        c, m, d = usage.of(old.AllocatedResources)
        cpu, mem, disk = cpu - c, mem - m, disk - d
        ports &= ~alloc_ports(old.AllocatedResources)
    for alloc in placed:
        c, m, d = usage.of(alloc.AllocatedResources)
        cpu, mem, disk = cpu + c, mem + m, disk + d
        wanted = alloc_ports(alloc.AllocatedResources)
        if wanted & ports:
            return False, "reserved alloc port collision"
        ports |= wanted
    if cpu > table.cpu_total[slot]:
        return False, "cpu"
    if mem > table.mem_total[slot]:
        return False, "memory"
    if disk > table.disk_total[slot]:
        return False, "disk"
    return True, ""


_HOLDS_PORTS = (-1, -1, -1)
_NO_ALLOCS: immutables.Map[str, Allocation] = immutables.Map()


def _plain_nodes(state: State, plan: Plan, usage: _Usage) -> tuple[list[str], list[int], list[tuple[int, int, int]]]:
    """Nodes that only receive new allocations without ports: checked together with numpy."""
    table = state.node_table
    ids: list[str] = []
    slots: list[int] = []
    deltas: list[tuple[int, int, int]] = []
    slot_of = table.slot_of.get
    stopping, preempting = plan.NodeUpdate, plan.NodePreemptions
    check_stops = bool(stopping or preempting)
    cost = usage.full
    # An allocation the plan "places" that already exists is an update, for ``evaluate_node``.
    # Only one already on the same node changes the verdict (one elsewhere takes nothing from
    # this node), so the node's own group is asked: a small map, unlike the allocations table.
    groups = table.alloc_groups
    # One new allocation on a node is the common case; its delta is shared by every node that
    # receives the same granted-resources object (``_HOLDS_PORTS``: not plain).
    single: dict[int, tuple[int, int, int]] = {}
    for node_id, placed in plan.NodeAllocation.items():
        if check_stops and (node_id in stopping or node_id in preempting):
            continue
        slot = slot_of(node_id)
        if slot is None:
            continue
        group = groups[slot]
        on_node = group[1] if group is not None else _NO_ALLOCS
        if len(placed) == 1:
            alloc = placed[0]
            key = id(alloc.AllocatedResources)
            delta = single.get(key)
            if delta is None:
                c = cost(alloc.AllocatedResources)
                delta = single[key] = _HOLDS_PORTS if c[3] else (c[0], c[1], c[2])
            if delta is _HOLDS_PORTS or alloc.ID in on_node:
                continue
            ids.append(node_id)
            slots.append(slot)
            deltas.append(delta)
            continue
        cpu = mem = disk = 0
        for alloc in placed:
            c0, m0, d0, ports = cost(alloc.AllocatedResources)
            if ports or alloc.ID in on_node:
                break
            cpu, mem, disk = cpu + c0, mem + m0, disk + d0
        else:
            ids.append(node_id)
            slots.append(slot)
            deltas.append((cpu, mem, disk))
    return ids, slots, deltas


def evaluate_plan(state: State, plan: Plan) -> PlanResult:
    """What of ``plan`` can be committed on ``state``."""
    result = PlanResult(Deployment=plan.Deployment, DeploymentUpdates=list(plan.DeploymentUpdates))
    usage = _Usage()
    verdict: dict[str, bool] = {}
    ids, slots, deltas = _plain_nodes(state, plan, usage)
    all_fit = False
    if ids:
        table = state.node_table
        at = np.array(slots, np.int64)
        add = np.fromiter(chain.from_iterable(deltas), np.int64, count=3 * len(ids)).reshape(len(ids), 3)
        fits = (table.schedulable[at] & (table.cpu_used[at] + add[:, 0] <= table.cpu_total[at])
                & (table.mem_used[at] + add[:, 1] <= table.mem_total[at])
                & (table.disk_used[at] + add[:, 2] <= table.disk_total[at]))
        all_fit = bool(fits.all())
        if not all_fit:
            verdict = dict(zip(ids, fits.tolist(), strict=True))
    if all_fit and len(ids) == len(plan.NodeAllocation) and not plan.NodeUpdate and not plan.NodePreemptions:
        result.NodeAllocation = dict(plan.NodeAllocation)  # the common case: every node checked and fine
        return result
    if all_fit:
        verdict = dict.fromkeys(ids, True)
    nodes = dict.fromkeys([*plan.NodeUpdate, *plan.NodeAllocation, *plan.NodePreemptions])
    for node_id in nodes:
        fits_here = verdict.get(node_id)
        if fits_here is None:
            fits_here = evaluate_node(state, plan, node_id, usage)[0]
        if not fits_here:
            result.RejectedNodes.append(node_id)
            if plan.AllAtOnce:
                return PlanResult(RejectedNodes=[node_id], RefreshIndex=state.latest_index())
            continue
        if node_id in plan.NodeUpdate:
            result.NodeUpdate[node_id] = plan.NodeUpdate[node_id]
        if node_id in plan.NodeAllocation:
            result.NodeAllocation[node_id] = plan.NodeAllocation[node_id]
        if node_id in plan.NodePreemptions:
            result.NodePreemptions[node_id] = plan.NodePreemptions[node_id]
    if result.RejectedNodes:
        result.RefreshIndex = state.latest_index()
    return result


def preemption_evals(state: State, preempted: list[AllocPreemptDiff], new_id: Callable[[], str],
                     now_ns: int) -> list[Evaluation]:
    """One evaluation per job that lost allocations to preemption, so they are placed elsewhere."""
    out: list[Evaluation] = []
    seen: set[tuple[str, str]] = set()
    for diff in preempted:
        alloc = state.alloc_by_id(diff.ID)
        if alloc is None or alloc.Job is None or (alloc.Namespace, alloc.JobID) in seen:
            continue
        seen.add((alloc.Namespace, alloc.JobID))
        out.append(Evaluation(
            ID=new_id(), Namespace=alloc.Namespace, Priority=alloc.Job.Priority or 50,
            Type=alloc.Job.Type or "", TriggeredBy=EvalTrigger.PREEMPTION, JobID=alloc.JobID,
            JobModifyIndex=alloc.Job.JobModifyIndex or 0, Status=EvalStatus.PENDING, CreateTime=now_ns,
            ModifyTime=now_ns))
    return out

