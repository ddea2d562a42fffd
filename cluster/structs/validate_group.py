"""Checks of one task group: count, tasks, policies, networks and ports, volumes, scaling,
services; then each task (``validate_task``)."""

from __future__ import annotations

from dataclasses import dataclass

from cluster.structs.constants import VOLUME_TYPES, JobType
from cluster.structs.group import TaskGroup
from cluster.structs.report import Origin, Report, dur, need, one_of, quote
from cluster.structs.resources import NetworkResource, Port
from cluster.structs.validate_placement import check_affinities, check_constraints, check_spreads
from cluster.structs.validate_policies import (
    disconnect_problems,
    disk_problems,
    migrate_problems,
    reschedule_problems,
    restart_problems,
    scaling_problems,
    update_problems,
)
from cluster.structs.validate_services import ServiceScope, service_problems
from cluster.structs.validate_task import TaskContext, check_task

__all__ = [
    "MIGRATE_FORBIDDEN",
    "NO_MIGRATE",
    "NO_RESCHEDULE",
    "NO_UPDATE",
    "UPDATE_FORBIDDEN",
    "Inherited",
    "check_group",
    "network_mode_problem",
]

MAX_PORT = 65535
NO_UPDATE = "update is only allowed in service and system jobs"
NO_MIGRATE = "migrate is only allowed in service jobs"
NO_RESCHEDULE = "system jobs cannot have a reschedule policy: they run on every node"
# Job types whose groups may not have the block. An unknown job type is reported once, as such,
# and not again through every rule that depends on the type.
UPDATE_FORBIDDEN = (JobType.BATCH, JobType.SYSBATCH)
MIGRATE_FORBIDDEN = (JobType.BATCH, JobType.SYSTEM, JobType.SYSBATCH)


@dataclass(frozen=True, slots=True)
class Inherited:
    """The job-level blocks every group inherits, with their own problems. Nomad validates only
    what each group ends up with; an inherited problem is reported at the job-level block."""

    update: Origin
    migrate: Origin
    reschedule: Origin


def check_group(report: Report, path: str, group: TaskGroup, job_type: str, inherited: Inherited) -> None:
    count = need(group.Count)
    if "\x00" in need(group.Name):
        report.error(path, "group name must not contain null characters")
    if count < 0:
        report.error(f"{path}.count", f"must not be negative, got {count}")
    elif job_type == JobType.SYSTEM and count > 1:
        report.error(f"{path}.count", f"must be 0 or 1 in a system job (it runs once per node), got {count}")
    for field, value in (
        ("shutdown_delay", group.ShutdownDelay),
        ("stop_after_client_disconnect", group.StopAfterClientDisconnect),
        ("max_client_disconnect", group.MaxClientDisconnect),
    ):
        if value is not None and value < 0:
            report.error(f"{path}.{field}", f"must not be negative, got {dur(value)}")
    check_constraints(report, path, group.Constraints, where="group")
    check_affinities(report, path, group.Affinities, job_type=job_type)
    check_spreads(report, path, group.Spreads, job_type=job_type)
    _check_policies(report, path, group, job_type, inherited)
    ports = _check_networks(report, path, group)
    _check_volumes(report, path, group)
    if group.Scaling is not None:
        report.block(f"{path}.scaling", scaling_problems(group.Scaling, count))
        low, high = need(group.Scaling.Min), group.Scaling.Max
        if high is not None and low <= high and not low <= count <= high:
            report.error(f"{path}.count", f"must be within scaling min {low} and max {high}, got {count}")
    _check_tasks(report, path, group, job_type, ports)
    _check_group_services(report, path, group, ports)
    _check_providers(report, path, group)


def _check_policies(report: Report, path: str, group: TaskGroup, job_type: str, inherited: Inherited) -> None:
    if group.Update is not None:
        if job_type in UPDATE_FORBIDDEN:
            report.block(f"{path}.update", [("", NO_UPDATE)], origin=inherited.update)
        else:
            report.block(f"{path}.update", update_problems(group.Update), origin=inherited.update)
    if group.Migrate is not None:
        if job_type in MIGRATE_FORBIDDEN:
            report.block(f"{path}.migrate", [("", NO_MIGRATE)], origin=inherited.migrate)
        else:
            report.block(f"{path}.migrate", migrate_problems(group.Migrate), origin=inherited.migrate)
    if group.ReschedulePolicy is not None:
        if job_type == JobType.SYSTEM:
            report.block(f"{path}.reschedule", [("", NO_RESCHEDULE)], origin=inherited.reschedule)
        else:
            problems = reschedule_problems(group.ReschedulePolicy)
            report.block(f"{path}.reschedule", problems, origin=inherited.reschedule)
    report.block(f"{path}.restart", restart_problems(need(group.RestartPolicy)))
    report.block(f"{path}.ephemeral_disk", disk_problems(need(group.EphemeralDisk)))
    if group.Disconnect is not None:
        report.block(f"{path}.disconnect", disconnect_problems(group.Disconnect))


def network_mode_problem(mode: str) -> str | None:
    if mode in ("host", "bridge", "none") or (mode.startswith("cni/") and len(mode) > len("cni/")):
        return None
    return f'must be "host", "bridge", "none" or "cni/<network name>", got {quote(mode)}'


def _hostname_ok(name: str) -> bool:
    if "${" in name:
        return True  # interpolated at runtime; checked then
    labels = name.rstrip(".").split(".")
    return len(name) <= 253 and all(0 < len(label) <= 63 and " " not in label for label in labels)


def _ports(network: NetworkResource) -> list[Port]:
    return [*(network.ReservedPorts or ()), *(network.DynamicPorts or ())]


def _check_networks(report: Report, path: str, group: TaskGroup) -> set[str]:
    """Checks group and legacy task networks together (labels and static ports are shared by the
    whole allocation) and returns the group network's port labels."""
    networks = [(f"network[{i}]", n) for i, n in enumerate(group.Networks or ())]
    if len(networks) > 1:
        report.error(f"{path}.{networks[1][0]}", "only one network block is allowed per group")
    for task in group.Tasks or ():
        for i, n in enumerate(need(task.Resources).Networks or ()):
            networks.append((f"task[{task.Name}].resources.network[{i}]", n))
    owners: dict[str, str] = {}
    statics: dict[tuple[str, int], str] = {}
    for where, network in networks:
        npath = f"{path}.{where}"
        problem = network_mode_problem(network.Mode)
        if problem:
            report.error(f"{npath}.mode", problem)
        if network.Hostname and not _hostname_ok(network.Hostname):
            report.error(f"{npath}.hostname", f"must be a valid DNS name, got {quote(network.Hostname)}")
        for port in _ports(network):
            _check_port(report, npath, where, port, network, owners, statics)
    return {p.Label for n in (group.Networks or ())[:1] for p in _ports(n)}


def _check_port(
    report: Report, npath: str, where: str, port: Port, network: NetworkResource,
    owners: dict[str, str], statics: dict[tuple[str, int], str],
) -> None:
    """``where`` names the port's network relative to the group, for messages."""
    ppath = f"{npath}.port[{port.Label}]"
    if not port.Label:
        report.error(ppath, "port label is required")
    elif any(c.isspace() for c in port.Label):
        report.error(ppath, f"port label must not contain spaces, got {quote(port.Label)}")
    elif port.Label in owners:
        report.error(ppath, f"port label {quote(port.Label)} is already used in {owners[port.Label]}")
    else:
        owners[port.Label] = where
    if not 0 <= port.Value <= MAX_PORT:
        report.error(f"{ppath}.static", f"must be between 1 and {MAX_PORT}, got {port.Value}")
    elif port.Value:
        key = (port.HostNetwork or "default", port.Value)
        if key in statics and not port.IgnoreCollision:
            report.error(f"{ppath}.static", f"port {port.Value} is already reserved by {statics[key]}")
        statics.setdefault(key, f"port {quote(port.Label)} of {where}")
    if not -1 <= port.To <= MAX_PORT:
        report.error(f"{ppath}.to", f"must be between -1 and {MAX_PORT}, got {port.To}")
    if port.IgnoreCollision and network.Mode != "host":
        report.error(f"{ppath}.ignore_collision", f'is only allowed in network mode "host", not {quote(network.Mode)}')


def _check_volumes(report: Report, path: str, group: TaskGroup) -> None:
    for name, volume in (group.Volumes or {}).items():
        vpath = f"{path}.volume[{name}]"
        if volume.Type not in VOLUME_TYPES:
            report.error(f"{vpath}.type", one_of(VOLUME_TYPES, volume.Type))
        if not volume.Source:
            report.error(f"{vpath}.source", "is required")
        if volume.Type == "csi":
            if not volume.AccessMode:
                report.error(f"{vpath}.access_mode", "is required for a csi volume")
            if not volume.AttachmentMode:
                report.error(f"{vpath}.attachment_mode", "is required for a csi volume")


def _check_tasks(report: Report, path: str, group: TaskGroup, job_type: str, ports: set[str]) -> None:
    tasks = group.Tasks or []
    if not tasks:
        report.error(path, "a group needs at least one task")
    seen: set[str] = set()
    for task in tasks:
        if task.Name and task.Name in seen:
            report.error(f"{path}.task[{task.Name}]", f"duplicate task name {quote(task.Name)}")
        seen.add(task.Name)
    leaders = [t.Name for t in tasks if t.Leader]
    if len(leaders) > 1:
        report.error(path, f"only one task may be the leader, found {len(leaders)}: {', '.join(leaders)}")
    restart = Origin(f"{path}.restart", restart_problems(need(group.RestartPolicy)))
    ctx = TaskContext(
        job_type=job_type,
        disk=need(group.EphemeralDisk),
        volumes=group.Volumes or {},
        port_labels=ports,
        group_tasks=seen,
        group_restart=restart,
    )
    for task in tasks:
        check_task(report, f"{path}.task[{task.Name}]", task, ctx)


def _check_group_services(report: Report, path: str, group: TaskGroup, ports: set[str]) -> None:
    scope = ServiceScope(task=None, port_labels=ports, group_tasks={t.Name for t in group.Tasks or ()})
    for i, service in enumerate(group.Services or ()):
        report.block(f"{path}.service[{i}]", service_problems(service, scope))


def _check_providers(report: Report, path: str, group: TaskGroup) -> None:
    """Nomad registers a group's services with one provider; mixing consul and nomad is refused."""
    services = [(f"{path}.service[{i}]", s) for i, s in enumerate(group.Services or ())]
    for task in group.Tasks or ():
        services += [(f"{path}.task[{task.Name}].service[{i}]", s) for i, s in enumerate(task.Services or ())]
    first: tuple[str, str] | None = None
    for spath, service in services:
        if first is None:
            first = (spath, service.Provider)
        elif service.Provider != first[1]:
            report.error(
                f"{spath}.provider",
                f"all services of a group must use one provider; {first[0]} uses {quote(first[1])}, "
                f"this one {quote(service.Provider)}",
            )
