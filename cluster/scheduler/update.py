"""Whether a job change can be applied to a running allocation in place, or needs a new one.

Nomad's ``tasksUpdated``: anything that changes what runs (task count, drivers, users, config,
environment, artifacts, templates, vault, meta, resources, ports, ephemeral disk, volumes) needs
a destructive update; other changes (count, update or restart policies, constraints, services...)
are applied in place, provided the allocation still fits on its node.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from cluster.scheduler.allocs import lookup_group, terminal
from cluster.scheduler.context import EvalContext
from cluster.scheduler.feasible import GroupFeasibility
from cluster.scheduler.spec import GroupSpec
from cluster.structs.alloc import AllocatedResources, AllocatedSharedResources, Allocation
from cluster.structs.group import TaskGroup
from cluster.structs.job import Job
from cluster.structs.resources import NetworkResource

__all__ = ["in_place_update_fn", "tasks_updated"]

_TASK_FIELDS = ("Driver", "User", "Config", "Env", "Artifacts", "Vault", "Templates", "VolumeMounts", "Lifecycle",
                "KillSignal", "DispatchPayload")


def _ports(networks: list[NetworkResource] | None) -> list[dict[str, int]]:
    """Static ports with their values, dynamic ports by label only (their values may differ)."""
    return [{**{p.Label: p.Value for p in n.ReservedPorts or ()}, **{p.Label: -1 for p in n.DynamicPorts or ()}}
            for n in networks or ()]


def tasks_updated(new: Job, old: Job, group: str) -> bool:
    a, b = lookup_group(new, group), lookup_group(old, group)
    if a is None or b is None:
        return True
    if len(a.Tasks or ()) != len(b.Tasks or ()):
        return True
    if a.EphemeralDisk != b.EphemeralDisk or a.Volumes != b.Volumes:
        return True
    if _ports(a.Networks) != _ports(b.Networks) or [n.Mode for n in a.Networks or ()] != \
            [n.Mode for n in b.Networks or ()]:
        return True
    old_tasks = {t.Name: t for t in b.Tasks or ()}
    for task in a.Tasks or ():
        other = old_tasks.get(task.Name)
        if other is None:
            return True
        if any(getattr(task, f) != getattr(other, f) for f in _TASK_FIELDS):
            return True
        meta_new = {**(new.Meta or {}), **(a.Meta or {}), **(task.Meta or {})}
        meta_old = {**(old.Meta or {}), **(b.Meta or {}), **(other.Meta or {})}
        if meta_new != meta_old:
            return True
        ra, rb = task.Resources, other.Resources
        if (ra is None) != (rb is None):
            return True
        if ra is not None and rb is not None:
            if (ra.CPU, ra.Cores, ra.MemoryMB, ra.MemoryMaxMB, ra.Devices) != \
                    (rb.CPU, rb.Cores, rb.MemoryMB, rb.MemoryMaxMB, rb.Devices):
                return True
            if _ports(ra.Networks) != _ports(rb.Networks):
                return True
    return False


UpdateFn = Callable[[Allocation, Job, TaskGroup], tuple[bool, bool, Allocation | None]]


def in_place_update_fn(ctx: EvalContext, eval_id: str, in_job_nodes: Callable[[int], bool],
                       groups: Callable[[TaskGroup], tuple[GroupSpec, GroupFeasibility]]) -> UpdateFn:
    """The reconciler's question for each existing allocation of a changed job: (ignore,
    destructive, the updated allocation when in place)."""

    def update(existing: Allocation, job: Job, tg: TaskGroup) -> tuple[bool, bool, Allocation | None]:
        if existing.Job is not None and existing.Job.JobModifyIndex == job.JobModifyIndex:
            return True, False, None
        if existing.Job is None or tasks_updated(job, existing.Job, tg.Name or ""):
            return False, True, None
        if terminal(existing):
            return True, False, None
        slot = ctx.table.slot_of.get(existing.NodeID)
        if slot is None or not in_job_nodes(slot):
            return False, True, None
        spec, feasibility = groups(tg)
        if feasibility.node_reason(slot) is not None:
            return False, True, None
        t = ctx.table
        ctx.stop(existing, "alloc updating in-place")
        fits = (ctx.cpu_used[slot] + spec.cpu <= t.cpu_total[slot]
                and ctx.mem_used[slot] + spec.memory_mb <= t.mem_total[slot]
                and ctx.disk_used[slot] + spec.disk_mb <= t.disk_total[slot])
        ctx.unstop(existing)
        if not fits:
            return False, True, None
        old = existing.AllocatedResources or AllocatedResources()
        resources = AllocatedResources(
            Tasks=spec.resources.Tasks, TaskLifecycles=spec.resources.TaskLifecycles,
            Shared=AllocatedSharedResources(DiskMB=spec.disk_mb, Ports=old.Shared.Ports,
                                            Networks=old.Shared.Networks))
        updated = msgspec.structs.replace(existing, EvalID=eval_id, Job=None, AllocatedResources=resources)
        return False, False, updated

    return update
