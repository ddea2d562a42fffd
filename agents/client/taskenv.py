"""A task's environment: Nomad's ``NOMAD_*`` variables, the task's ``env`` block, and the runtime
interpolation of ``${...}`` in env values and driver config.

The job parser keeps ``${NOMAD_ALLOC_ID}``, ``${attr.kernel.name}``, ``${meta.rack}``,
``${node.unique.id}`` verbatim, because only the client knows their values. ``TaskEnv.interpolate``
replaces every ``${key}`` whose key it knows and leaves any other text exactly as written, as
Nomad does (so a shell's ``${HOME}`` in a command line survives when the task env has no HOME).

Directory variables depend on the driver's file system isolation: a task that sees the host
(raw_exec) gets host paths; a task in its own image (docker) gets ``/alloc``, ``/local``,
``/secrets``, where the driver mounts them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agents.client.allocdir import AllocDir
from agents.client.drivers.base import PortMapping, TaskResources, host_network_port_env
from cluster.structs import Allocation, Job, Node, Task, TaskGroup

__all__ = ["DEFAULT_ENV_DENYLIST", "TaskEnv", "alloc_index", "alloc_ports", "build_task_env", "task_resources"]

# Nomad's default ``env.denylist``: client variables never passed on to tasks.
DEFAULT_ENV_DENYLIST = frozenset({
    "CONSUL_TOKEN", "CONSUL_HTTP_TOKEN", "VAULT_TOKEN", "NOMAD_LICENSE", "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "GOOGLE_APPLICATION_CREDENTIALS",
})

_REFERENCE = re.compile(r"\$\{([^{}]+)\}")
_INDEX = re.compile(r"\[([0-9]+)\]$")


@dataclass(frozen=True, slots=True)
class TaskEnv:
    """The computed environment of one task. ``env`` is what the task process gets; ``node`` holds
    the node's ``attr.*``, ``meta.*`` and ``node.*`` values, usable in interpolation only."""

    env: Mapping[str, str]
    node: Mapping[str, str] = field(default_factory=dict)

    def lookup(self, key: str) -> str | None:
        key = key.strip()
        if key in self.env:
            return self.env[key]
        if key.startswith("env.") and key[4:] in self.env:
            return self.env[key[4:]]
        return self.node.get(key)

    def interpolate(self, text: str) -> str:
        """``text`` with every known ``${key}`` replaced; unknown references stay as written."""

        def replace(match: re.Match[str]) -> str:
            value = self.lookup(match.group(1))
            return match.group(0) if value is None else value

        return _REFERENCE.sub(replace, text)

    def interpolate_config(self, value: Any) -> Any:
        """A copy of a driver config with every string (at any depth, map keys excepted) interpolated."""
        if isinstance(value, str):
            return self.interpolate(value)
        if isinstance(value, Mapping):
            return {k: self.interpolate_config(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.interpolate_config(v) for v in value]
        return value


def alloc_index(alloc_name: str) -> int:
    """The ``N`` of ``job.group[N]``; 0 for a name without an index."""
    match = _INDEX.search(alloc_name)
    return int(match.group(1)) if match else 0


def alloc_ports(alloc: Allocation) -> tuple[PortMapping, ...]:
    """The ports the scheduler granted the allocation's group, with the address to bind."""
    resources = alloc.AllocatedResources
    if resources is None:
        return ()
    shared = resources.Shared
    if shared.Ports:
        return tuple(PortMapping(p.Label, p.Value, p.To if p.To > 0 else 0, p.HostIP or "127.0.0.1")
                     for p in shared.Ports)
    ports: list[PortMapping] = []
    for network in shared.Networks or []:
        for port in [*(network.ReservedPorts or []), *(network.DynamicPorts or [])]:
            ports.append(PortMapping(port.Label, port.Value, port.To if port.To > 0 else 0, network.IP or "127.0.0.1"))
    return tuple(ports)


def task_resources(alloc: Allocation, task: Task) -> TaskResources:
    """The task's granted CPU and memory, from the allocation (or, lacking that, the task's ask)."""
    granted = (alloc.AllocatedResources.Tasks or {}).get(task.Name) if alloc.AllocatedResources else None
    if granted is not None:
        return TaskResources(cpu_mhz=granted.Cpu.CpuShares, memory_mb=granted.Memory.MemoryMB,
                             memory_max_mb=granted.Memory.MemoryMaxMB)
    asked = task.Resources
    if asked is None:
        return TaskResources()
    return TaskResources(cpu_mhz=asked.CPU or 0, memory_mb=asked.MemoryMB or 0, memory_max_mb=asked.MemoryMaxMB or 0)


def _node_values(node: Node, region: str) -> dict[str, str]:
    values = {f"attr.{k}": v for k, v in (node.Attributes or {}).items()}
    values.update({f"meta.{k}": v for k, v in (node.Meta or {}).items()})
    values.update({
        "node.unique.id": node.ID, "node.unique.name": node.Name, "node.datacenter": node.Datacenter,
        "node.class": node.NodeClass, "node.pool": node.NodePool or "default", "node.region": region,
    })
    return values


def _meta_env(job: Job, group: TaskGroup, task: Task) -> dict[str, str]:
    """Meta merged job < group < task, each key both upper-cased (non-word characters as ``_``) and
    as written, as Nomad exports it."""
    merged = {**(job.Meta or {}), **(group.Meta or {}), **(task.Meta or {})}
    env: dict[str, str] = {}
    for key, value in merged.items():
        env["NOMAD_META_" + re.sub(r"[^A-Za-z0-9_]", "_", key).upper()] = value
        env["NOMAD_META_" + key] = value
    return env


def _dir_env(alloc_dir: AllocDir, task_name: str, isolated: bool) -> dict[str, str]:
    if isolated:
        return {"NOMAD_ALLOC_DIR": "/alloc", "NOMAD_TASK_DIR": "/local", "NOMAD_SECRETS_DIR": "/secrets"}
    task_dir = alloc_dir.task_dir(task_name)
    return {
        "NOMAD_ALLOC_DIR": str(alloc_dir.shared_dir), "NOMAD_TASK_DIR": str(task_dir.local_dir),
        "NOMAD_SECRETS_DIR": str(task_dir.secrets_dir),
    }


def _identity_env(alloc: Allocation, job: Job, group: TaskGroup, task: Task, region: str, node: Node) -> dict[str, str]:
    env = {
        "NOMAD_ALLOC_ID": alloc.ID, "NOMAD_SHORT_ALLOC_ID": alloc.ID[:8], "NOMAD_ALLOC_NAME": alloc.Name,
        "NOMAD_ALLOC_INDEX": str(alloc_index(alloc.Name)), "NOMAD_JOB_ID": job.ID or alloc.JobID,
        "NOMAD_JOB_NAME": job.Name or job.ID or alloc.JobID, "NOMAD_GROUP_NAME": group.Name or alloc.TaskGroup,
        "NOMAD_TASK_NAME": task.Name, "NOMAD_NAMESPACE": alloc.Namespace or job.Namespace or "default",
        "NOMAD_REGION": region, "NOMAD_DC": node.Datacenter,
    }
    if job.ParentID:
        env["NOMAD_JOB_PARENT_ID"] = job.ParentID
    return env


def build_task_env(
    *,
    alloc: Allocation,
    task: Task,
    node: Node,
    alloc_dir: AllocDir,
    isolated: bool,
    host_env: Mapping[str, str] | None = None,
    denylist: frozenset[str] = DEFAULT_ENV_DENYLIST,
) -> TaskEnv:
    """The environment of ``task`` in ``alloc`` on ``node``. ``host_env`` (the client's own
    environment, minus ``denylist``) is the base for drivers without isolation, as in Nomad; the
    task's ``env`` block wins over everything but is itself interpolated first."""
    job = alloc.Job
    assert job is not None, "an allocation handed to a client carries its job"
    group = next((g for g in job.TaskGroups or [] if g.Name == alloc.TaskGroup), None)
    assert group is not None, f"job {job.ID} has no group {alloc.TaskGroup}"
    region = job.Region or "global"
    resources = task_resources(alloc, task)
    env = {k: v for k, v in (host_env or {}).items() if k not in denylist}
    env.update(_identity_env(alloc, job, group, task, region, node))
    env.update(_dir_env(alloc_dir, task.Name, isolated))
    env["NOMAD_CPU_LIMIT"] = str(resources.cpu_mhz)
    env["NOMAD_MEMORY_LIMIT"] = str(resources.memory_mb)
    if resources.memory_max_mb:
        env["NOMAD_MEMORY_MAX_LIMIT"] = str(resources.memory_max_mb)
    env.update(host_network_port_env(alloc_ports(alloc)))
    env.update(_meta_env(job, group, task))
    base = TaskEnv(env, _node_values(node, region))
    task_vars = {k: base.interpolate(v) for k, v in (task.Env or {}).items()}
    return TaskEnv({**env, **task_vars}, base.node)
