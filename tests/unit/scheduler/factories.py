"""Factories for nodes, jobs and allocations, in the spirit of Nomad's ``mock`` package.

Every factory returns a fresh object with sensible defaults that a test overrides by keyword.
IDs come from a module counter (``new_id``), so runs are reproducible.
"""

from __future__ import annotations

import itertools
from typing import Any

from cluster.state.nodetable import alloc_usage
from cluster.structs.alloc import (
    AllocatedCpuResources,
    AllocatedMemoryResources,
    AllocatedResources,
    AllocatedSharedResources,
    AllocatedTaskResources,
    Allocation,
    PortMapping,
)
from cluster.structs.base import SECOND_NS
from cluster.structs.canonicalize import canonicalize
from cluster.structs.constants import AllocClientStatus, AllocDesiredStatus, NodeStatus
from cluster.structs.group import EphemeralDisk, ReschedulePolicy, TaskGroup, UpdateStrategy
from cluster.structs.job import Job
from cluster.structs.node import (
    DriverInfo,
    Node,
    NodeCpuResources,
    NodeDiskResources,
    NodeMemoryResources,
    NodeReservedCpuResources,
    NodeReservedMemoryResources,
    NodeReservedResources,
    NodeResources,
)
from cluster.structs.placement import Affinity, Constraint, Spread, SpreadTarget
from cluster.structs.resources import NetworkResource, Port, Resources
from cluster.structs.task import Task

__all__ = ["affinity", "alloc_for", "constraint", "group", "job", "new_id", "node", "ports_network", "spread"]

_counter = itertools.count(1)


def new_id(prefix: str = "") -> str:
    """A UUID-shaped, reproducible ID."""
    n = next(_counter)
    return f"{prefix}{n:08x}-0000-4000-8000-{n:012x}"[-36:]


def node(
    *,
    node_id: str | None = None,
    name: str | None = None,
    dc: str = "dc1",
    pool: str = "default",
    cpu: int = 4000,
    memory_mb: int = 8192,
    disk_mb: int = 100 * 1024,
    reserved_cpu: int = 0,
    reserved_memory_mb: int = 0,
    attrs: dict[str, str] | None = None,
    meta: dict[str, str] | None = None,
    drivers: tuple[str, ...] = ("exec", "docker", "raw_exec"),
    node_class: str = "",
    status: str = NodeStatus.READY,
    network_modes: tuple[str, ...] = ("host",),
    min_port: int = 20000,
    max_port: int = 32000,
) -> Node:
    nid = node_id or new_id()
    attributes = {"kernel.name": "linux", "arch": "amd64", "nomad.version": "1.7.2", "unique.hostname": nid[:8],
                  "cpu.numcores": "4", **{f"driver.{d}": "1" for d in drivers}, **(attrs or {})}
    return Node(
        ID=nid,
        Name=name or f"node-{nid[:8]}",
        Datacenter=dc,
        NodePool=pool,
        NodeClass=node_class,
        Attributes=attributes,
        Meta=dict(meta or {}),
        Drivers={d: DriverInfo(Detected=True, Healthy=True) for d in drivers},
        NodeResources=NodeResources(
            Cpu=NodeCpuResources(CpuShares=cpu, TotalCpuCores=4),
            Memory=NodeMemoryResources(MemoryMB=memory_mb),
            Disk=NodeDiskResources(DiskMB=disk_mb),
            Networks=[NetworkResource(Mode=m, Device="eth0", IP="10.0.0.1", CIDR="10.0.0.1/32") for m in network_modes],
            MinDynamicPort=min_port,
            MaxDynamicPort=max_port,
        ),
        ReservedResources=NodeReservedResources(
            Cpu=NodeReservedCpuResources(CpuShares=reserved_cpu),
            Memory=NodeReservedMemoryResources(MemoryMB=reserved_memory_mb),
        ),
        Status=status,
        SchedulingEligibility="eligible",
        StatusUpdatedAt=1_700_000_000,
    )


def group(
    name: str = "web",
    *,
    count: int = 10,
    cpu: int = 500,
    memory_mb: int = 256,
    disk_mb: int = 300,
    driver: str = "exec",
    constraints: list[Constraint] | None = None,
    affinities: list[Affinity] | None = None,
    spreads: list[Spread] | None = None,
    update: UpdateStrategy | None = None,
    reschedule: ReschedulePolicy | None = None,
    networks: list[NetworkResource] | None = None,
    tasks: int = 1,
    sticky: bool = False,
) -> TaskGroup:
    return TaskGroup(
        Name=name,
        Count=count,
        Constraints=constraints,
        Affinities=affinities,
        Spreads=spreads,
        Update=update,
        ReschedulePolicy=reschedule,
        Networks=networks,
        EphemeralDisk=EphemeralDisk(SizeMB=disk_mb, Sticky=sticky),
        Tasks=[
            Task(Name=f"{name}-task{i}" if tasks > 1 else name, Driver=driver, Config={"command": "/bin/sleep"},
                 Resources=Resources(CPU=cpu // tasks, MemoryMB=memory_mb // tasks))
            for i in range(tasks)
        ],
    )


def job(
    job_id: str | None = None,
    *,
    type: str = "service",
    groups: list[TaskGroup] | None = None,
    datacenters: list[str] | None = None,
    priority: int = 50,
    constraints: list[Constraint] | None = None,
    affinities: list[Affinity] | None = None,
    spreads: list[Spread] | None = None,
    update: UpdateStrategy | None = None,
    node_pool: str | None = None,
    **group_args: Any,
) -> Job:
    """A canonical job (Nomad's defaults filled in). Without ``groups``, one group built from the
    remaining keywords (see ``group``)."""
    jid = job_id or f"job-{new_id()[:8]}"
    raw = Job(
        ID=jid,
        Name=jid,
        Type=type,
        Priority=priority,
        Datacenters=datacenters or ["dc1"],
        NodePool=node_pool,
        Constraints=constraints,
        Affinities=affinities,
        Spreads=spreads,
        Update=update,
        TaskGroups=groups or [group(**group_args)],
    )
    return canonicalize(raw)


def alloc_for(
    job: Job,
    node: Node,
    *,
    index: int = 0,
    group_name: str | None = None,
    alloc_id: str | None = None,
    desired: str = AllocDesiredStatus.RUN,
    client: str = AllocClientStatus.RUNNING,
    eval_id: str = "",
    deployment_id: str = "",
    ports: list[int] | None = None,
) -> Allocation:
    """An allocation of ``job``'s group on ``node`` with the resources the group asks for."""
    tg = next(g for g in job.TaskGroups or [] if group_name in (None, g.Name))
    tasks = {
        t.Name: AllocatedTaskResources(
            Cpu=AllocatedCpuResources(CpuShares=(t.Resources.CPU or 0) if t.Resources else 0),
            Memory=AllocatedMemoryResources(MemoryMB=(t.Resources.MemoryMB or 0) if t.Resources else 0),
        )
        for t in tg.Tasks or []
    }
    shared_ports = [PortMapping(Label=f"p{p}", Value=p) for p in ports or []]
    resources = AllocatedResources(
        Tasks=tasks,
        Shared=AllocatedSharedResources(DiskMB=(tg.EphemeralDisk.SizeMB or 0) if tg.EphemeralDisk else 0,
                                        Ports=shared_ports or None),
    )
    assert alloc_usage(resources)[0] >= 0
    return Allocation(
        ID=alloc_id or new_id(),
        Namespace=job.Namespace or "default",
        EvalID=eval_id,
        Name=f"{job.ID}.{tg.Name}[{index}]",
        NodeID=node.ID,
        NodeName=node.Name,
        JobID=job.ID or "",
        Job=job,
        TaskGroup=tg.Name or "",
        AllocatedResources=resources,
        DesiredStatus=desired,
        ClientStatus=client,
        DeploymentID=deployment_id,
        CreateTime=1_700_000_000 * SECOND_NS,
        ModifyTime=1_700_000_000 * SECOND_NS,
    )


def constraint(ltarget: str, operand: str, rtarget: str = "") -> Constraint:
    return Constraint(LTarget=ltarget, Operand=operand, RTarget=rtarget)


def affinity(ltarget: str, operand: str, rtarget: str, weight: int = 50) -> Affinity:
    return Affinity(LTarget=ltarget, Operand=operand, RTarget=rtarget, Weight=weight)


def spread(attribute: str, weight: int = 50, targets: dict[str, int] | None = None) -> Spread:
    return Spread(Attribute=attribute, Weight=weight,
                  SpreadTarget=[SpreadTarget(Value=v, Percent=p) for v, p in (targets or {}).items()] or None)


def ports_network(*, static: dict[str, int] | None = None, dynamic: tuple[str, ...] = (), mode: str = "host") -> NetworkResource:
    return NetworkResource(Mode=mode, ReservedPorts=[Port(Label=k, Value=v) for k, v in (static or {}).items()] or None,
                           DynamicPorts=[Port(Label=k) for k in dynamic] or None)
