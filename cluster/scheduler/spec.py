"""What a task group asks of a node, flattened once per evaluation (Nomad's
``TaskGroupConstraints`` plus the resource ask and the placement rules that apply to the group).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cluster.scheduler.constraints import DISTINCT_HOSTS, DISTINCT_PROPERTY
from cluster.structs.alloc import (
    AllocatedCpuResources,
    AllocatedMemoryResources,
    AllocatedResources,
    AllocatedSharedResources,
    AllocatedTaskResources,
)
from cluster.structs.group import TaskGroup, VolumeRequest
from cluster.structs.job import Job
from cluster.structs.placement import Affinity, Constraint, Spread
from cluster.structs.resources import NetworkResource, RequestedDevice

__all__ = ["GroupSpec", "group_spec"]


def _enabled(c: Constraint) -> bool:
    """``distinct_hosts`` with RTarget "false" is off; anything else (or empty) is on."""
    return c.RTarget.strip().lower() not in ("false", "0", "f")


@dataclass(slots=True)
class GroupSpec:
    name: str
    count: int
    job_constraints: list[Constraint]
    constraints: list[Constraint]  # the group's and its tasks'
    drivers: tuple[str, ...]
    cpu: int
    memory_mb: int
    disk_mb: int
    network: NetworkResource | None
    static_ports: list[tuple[str, int]]
    dynamic_ports: list[str]
    volumes: list[VolumeRequest]
    devices: list[RequestedDevice]
    affinities: list[Affinity]
    spreads: list[Spread]  # the group's, then the job's
    distinct_hosts_job: bool
    distinct_hosts_group: bool
    distinct_property: list[tuple[Constraint, bool]]  # (constraint, set at job level)
    resources: AllocatedResources = field(repr=False)  # granted to each placement (ports aside)

    @property
    def asks_ports(self) -> bool:
        return bool(self.static_ports or self.dynamic_ports)

    @property
    def sequential(self) -> bool:
        """Placements influence each other's scores or feasibility within one pass over the nodes
        (spread counts, distinct_property counts): place them one at a time."""
        return bool(self.spreads or self.distinct_property)


def _resources(tg: TaskGroup, disk_mb: int) -> AllocatedResources:
    tasks = {}
    for task in tg.Tasks or ():
        r = task.Resources
        cpu = (r.CPU or 0) if r is not None else 0
        mem = ((r.MemoryMB or 0) + (r.SecretsMB or 0)) if r is not None else 0
        tasks[task.Name] = AllocatedTaskResources(
            Cpu=AllocatedCpuResources(CpuShares=cpu),
            Memory=AllocatedMemoryResources(MemoryMB=mem, MemoryMaxMB=(r.MemoryMaxMB or 0) if r is not None else 0),
        )
    return AllocatedResources(Tasks=tasks, Shared=AllocatedSharedResources(DiskMB=disk_mb))


def group_spec(job: Job, tg: TaskGroup) -> GroupSpec:
    constraints = list(tg.Constraints or [])
    affinities = [*(job.Affinities or []), *(tg.Affinities or [])]
    devices: list[RequestedDevice] = []
    for task in tg.Tasks or ():
        constraints.extend(task.Constraints or [])
        affinities.extend(task.Affinities or [])
        if task.Resources is not None:
            devices.extend(task.Resources.Devices or [])
    job_constraints = list(job.Constraints or [])
    disk = (tg.EphemeralDisk.SizeMB or 0) if tg.EphemeralDisk is not None else 0
    resources = _resources(tg, disk)
    network = tg.Networks[0] if tg.Networks else None
    static = [(p.Label, p.Value) for p in (network.ReservedPorts or [])] if network else []
    dynamic = [p.Label for p in (network.DynamicPorts or [])] if network else []
    distinct_property = [(c, True) for c in job_constraints if c.Operand == DISTINCT_PROPERTY]
    distinct_property += [(c, False) for c in constraints if c.Operand == DISTINCT_PROPERTY]
    return GroupSpec(
        name=tg.Name or "",
        count=tg.Count or 0,
        job_constraints=[c for c in job_constraints if c.Operand not in (DISTINCT_HOSTS, DISTINCT_PROPERTY)],
        constraints=[c for c in constraints if c.Operand not in (DISTINCT_HOSTS, DISTINCT_PROPERTY)],
        drivers=tuple(sorted({t.Driver for t in tg.Tasks or ()})),
        cpu=sum(t.Cpu.CpuShares for t in (resources.Tasks or {}).values()),
        memory_mb=sum(t.Memory.MemoryMB for t in (resources.Tasks or {}).values()),
        disk_mb=disk,
        network=network,
        static_ports=static,
        dynamic_ports=dynamic,
        volumes=[v for v in (tg.Volumes or {}).values() if v.Type == "host"],
        devices=devices,
        affinities=affinities,
        spreads=[*(tg.Spreads or []), *(job.Spreads or [])],
        distinct_hosts_job=any(c.Operand == DISTINCT_HOSTS and _enabled(c) for c in job_constraints),
        distinct_hosts_group=any(c.Operand == DISTINCT_HOSTS and _enabled(c) for c in constraints),
        distinct_property=distinct_property,
        resources=resources,
    )
