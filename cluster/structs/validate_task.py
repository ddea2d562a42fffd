"""Checks of one task: driver, resources, logs, artifacts, templates, lifecycle, volume mounts,
placement rules and services."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from cluster.structs.constants import (
    ARTIFACT_MODES,
    LIFECYCLE_HOOKS,
    TEMPLATE_CHANGE_MODES,
    VOLUME_MOUNT_PROPAGATION_MODES,
)
from cluster.structs.group import EphemeralDisk, VolumeRequest
from cluster.structs.report import Origin, Problem, Report, dur, need, one_of, quote
from cluster.structs.resources import Resources
from cluster.structs.task import Artifact, Task, Template, VolumeMount
from cluster.structs.validate_placement import (
    affinity_problems,
    check_affinities,
    check_constraints,
    constraint_problems,
)
from cluster.structs.validate_policies import logs_problems, restart_problems
from cluster.structs.validate_services import ServiceScope, service_problems

__all__ = ["TaskContext", "check_task"]

MIN_CPU_MHZ = 1
MIN_MEMORY_MB = 10
_CHECKSUM_HEX_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64, "sha512": 128}
_HEX = re.compile(r"^[0-9a-fA-F]+$")


@dataclass(frozen=True, slots=True)
class TaskContext:
    """What a task's checks need to know about its group and job."""

    job_type: str
    disk: EphemeralDisk
    volumes: dict[str, VolumeRequest]
    port_labels: set[str]  # the group network's
    group_tasks: set[str]
    group_restart: Origin  # the group's restart block, which the task's merges over


def escapes_alloc_dir(relative: str, *, base: str = "task") -> bool:
    """Whether ``relative``, taken from the task directory (``base`` inside the allocation
    directory), leads outside the allocation directory. Absolute paths count from ``base`` too, as
    in Nomad."""
    joined = posixpath.normpath(posixpath.join("/alloc", base, relative.lstrip("/")))
    return not (joined == "/alloc" or joined.startswith("/alloc/"))


def check_task(report: Report, path: str, task: Task, ctx: TaskContext) -> None:
    if not task.Name:
        report.error(path, "task name is required")
    elif "/" in task.Name or "\\" in task.Name:
        report.error(path, f"task name must not contain slashes, got {quote(task.Name)}")
    elif "\x00" in task.Name:
        report.error(path, "task name must not contain null characters")
    if not task.Driver:
        report.error(f"{path}.driver", "is required")
    if need(task.KillTimeout) < 0:
        report.error(f"{path}.kill_timeout", f"must not be negative, got {dur(need(task.KillTimeout))}")
    if task.ShutdownDelay < 0:
        report.error(f"{path}.shutdown_delay", f"must not be negative, got {dur(task.ShutdownDelay)}")
    _check_resources(report, f"{path}.resources", need(task.Resources))
    report.block(f"{path}.logs", logs_problems(need(task.LogConfig), ctx.disk))
    report.block(f"{path}.restart", restart_problems(need(task.RestartPolicy)), origin=ctx.group_restart)
    check_constraints(report, path, task.Constraints, where="task")
    check_affinities(report, path, task.Affinities, job_type=ctx.job_type)
    for i, artifact in enumerate(task.Artifacts or ()):
        report.block(f"{path}.artifact[{i}]", _artifact_problems(artifact))
    _check_templates(report, path, task.Templates or [])
    if task.DispatchPayload is not None and escapes_alloc_dir(task.DispatchPayload.File, base="task/local"):
        report.error(f"{path}.dispatch_payload.file", f"must stay inside the allocation directory, got {quote(task.DispatchPayload.File)}")
    if task.Lifecycle is not None and task.Lifecycle.Hook not in LIFECYCLE_HOOKS:
        report.error(f"{path}.lifecycle.hook", one_of(LIFECYCLE_HOOKS, task.Lifecycle.Hook))
    for i, mount in enumerate(task.VolumeMounts or ()):
        report.block(f"{path}.volume_mount[{i}]", _volume_mount_problems(mount, ctx.volumes))
    if task.Vault is not None and task.Vault.ChangeMode not in ("noop", "restart", "signal"):
        report.error(f"{path}.vault.change_mode", one_of(("noop", "restart", "signal"), task.Vault.ChangeMode or ""))
    _check_services(report, path, task, ctx)


def _check_resources(report: Report, path: str, r: Resources) -> None:
    cpu, cores, memory = need(r.CPU), need(r.Cores), need(r.MemoryMB)
    if cores < 0:
        report.error(f"{path}.cores", f"must not be negative, got {cores}")
    elif cores > 0 and cpu > 0:
        report.error(f"{path}.cores", "cannot be combined with cpu: ask for MHz (cpu) or whole cores, not both")
    elif cores == 0 and cpu < MIN_CPU_MHZ:
        report.error(f"{path}.cpu", f"must be at least {MIN_CPU_MHZ} MHz, got {cpu}")
    if memory < MIN_MEMORY_MB:
        report.error(f"{path}.memory", f"must be at least {MIN_MEMORY_MB} MB, got {memory}")
    if r.MemoryMaxMB and r.MemoryMaxMB < memory:
        report.error(f"{path}.memory_max", f"must be at least memory ({memory} MB), got {r.MemoryMaxMB}")
    if r.DiskMB and r.DiskMB > 0:
        report.error(f"{path}.disk", "is set for the whole group in ephemeral_disk, not per task")
    seen: set[str] = set()
    for device in r.Devices or ():
        dpath = f"{path}.device[{device.Name}]"
        if not device.Name:
            report.error(dpath, "device name is required: type, vendor/type or vendor/type/name")
        elif device.Name in seen:
            report.error(dpath, f"device {quote(device.Name)} is requested twice")
        seen.add(device.Name)
        if device.Count is not None and device.Count < 0:
            report.error(f"{dpath}.count", f"must not be negative, got {device.Count}")
        for i, c in enumerate(device.Constraints or ()):
            report.block(f"{dpath}.constraint[{i}]", constraint_problems(c, where="device"))
        for i, a in enumerate(device.Affinities or ()):
            report.block(f"{dpath}.affinity[{i}]", affinity_problems(a))


def _artifact_problems(a: Artifact) -> list[Problem]:
    out: list[Problem] = []
    if not a.GetterSource:
        out.append(("source", "is required"))
    mode = need(a.GetterMode)
    if mode not in ARTIFACT_MODES:
        out.append(("mode", one_of(ARTIFACT_MODES, mode)))
    destination = need(a.RelativeDest)
    if escapes_alloc_dir(destination):
        out.append(("destination", f"must stay inside the allocation directory, got {quote(destination)}"))
    checksum = (a.GetterOptions or {}).get("checksum")
    if checksum is not None and "${" not in checksum:  # an interpolated checksum is checked at run time
        kind, _, digest = checksum.partition(":")
        length = _CHECKSUM_HEX_LENGTHS.get(kind)
        if length is None or len(digest) != length or not _HEX.match(digest):
            out.append((
                "options.checksum",
                f'must be "type:hex digest" with type md5, sha1, sha256 or sha512; got {quote(checksum)}',
            ))
    return out


def _template_problems(t: Template) -> list[Problem]:
    out: list[Problem] = []
    if not t.SourcePath and not t.EmbeddedTmpl:
        out.append(("", "needs source (a file) or data (the template itself)"))
    destination = need(t.DestPath)
    if not destination:
        out.append(("destination", "is required"))
    elif escapes_alloc_dir(destination):
        out.append(("destination", f"must stay inside the allocation directory, got {quote(destination)}"))
    mode = need(t.ChangeMode)
    if mode not in TEMPLATE_CHANGE_MODES:
        out.append(("change_mode", one_of(TEMPLATE_CHANGE_MODES, mode)))
    elif mode == "signal":
        if not t.ChangeSignal:
            out.append(("change_signal", 'is required when change_mode is "signal"'))
        if t.Envvars:
            out.append(("env", 'cannot be true when change_mode is "signal"'))
    elif mode == "script":
        if t.ChangeScript is None:
            out.append(("change_script", 'is required when change_mode is "script"'))
        elif not t.ChangeScript.Command:
            out.append(("change_script.command", "is required"))
    if need(t.Splay) < 0:
        out.append(("splay", f"must not be negative, got {dur(need(t.Splay))}"))
    perms = need(t.Perms)
    if not re.fullmatch(r"[0-7]{1,4}", perms):
        out.append(("perms", f"must be an octal file mode such as \"0644\", got {quote(perms)}"))
    if t.Wait is not None and t.Wait.Min is not None and t.Wait.Max is not None and t.Wait.Min > t.Wait.Max:
        out.append(("wait.min", f"must not exceed max ({dur(t.Wait.Max)}), got {dur(t.Wait.Min)}"))
    return out


def _check_templates(report: Report, path: str, templates: list[Template]) -> None:
    destinations: dict[str, int] = {}
    for i, template in enumerate(templates):
        tpath = f"{path}.template[{i}]"
        report.block(tpath, _template_problems(template))
        destination = need(template.DestPath)
        if destination in destinations:
            report.error(f"{tpath}.destination", f"is also the destination of template[{destinations[destination]}]")
        elif destination:
            destinations[destination] = i


def _volume_mount_problems(vm: VolumeMount, volumes: dict[str, VolumeRequest]) -> list[Problem]:
    out: list[Problem] = []
    if not vm.Volume:
        out.append(("volume", "is required"))
    elif vm.Volume not in volumes:
        out.append(("volume", f"refers to volume {quote(vm.Volume)}, which the group does not define"))
    if not vm.Destination:
        out.append(("destination", "is required"))
    mode = need(vm.PropagationMode)
    if mode not in VOLUME_MOUNT_PROPAGATION_MODES:
        out.append(("propagation_mode", one_of(VOLUME_MOUNT_PROPAGATION_MODES, mode)))
    return out


def _check_services(report: Report, path: str, task: Task, ctx: TaskContext) -> None:
    labels = set(ctx.port_labels)
    for network in need(task.Resources).Networks or ():
        labels.update(p.Label for p in (*(network.ReservedPorts or ()), *(network.DynamicPorts or ())))
    scope = ServiceScope(task=task.Name, port_labels=labels, group_tasks=ctx.group_tasks)
    seen: set[tuple[str, str]] = set()
    for i, service in enumerate(task.Services or ()):
        spath = f"{path}.service[{i}]"
        report.block(spath, service_problems(service, scope))
        key = (service.Name, service.PortLabel)
        if key in seen:
            report.error(spath, f"service {quote(service.Name)} is registered twice on port {quote(service.PortLabel)}")
        seen.add(key)
