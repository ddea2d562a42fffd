"""Nomad's defaults below the group: tasks, resources, networks, services and their checks,
templates, artifacts, vault and volume mounts. Every function fills its argument in place; it is
only ever handed parts of the private copy that ``canonicalize`` made.
"""

from __future__ import annotations

import posixpath

from cluster.structs.base import SECOND_NS
from cluster.structs.common import Consul, RestartPolicy
from cluster.structs.defaults import DEFAULT_KILL_TIMEOUT_NS, default_log_config, overlay
from cluster.structs.placement import Affinity, Constraint, Spread
from cluster.structs.resources import NetworkResource, Resources
from cluster.structs.services import CheckRestart, Service, ServiceCheck
from cluster.structs.task import Artifact, ChangeScript, LogConfig, Task, Template, Vault, VolumeMount

__all__ = [
    "canon_affinities",
    "canon_constraints",
    "canon_consul",
    "canon_networks",
    "canon_service",
    "canon_spreads",
    "canon_task",
]

DEFAULT_WEIGHT = 50
DEFAULT_CPU_MHZ = 100
DEFAULT_MEMORY_MB = 300


def canon_constraints(constraints: list[Constraint] | None) -> None:
    # operator defaults to "=" (Nomad docs, job specification: constraint, affinity).
    for c in constraints or ():
        if not c.Operand:
            c.Operand = "="


def canon_affinities(affinities: list[Affinity] | None) -> None:
    for a in affinities or ():
        if not a.Operand:
            a.Operand = "="
        if a.Weight is None:
            a.Weight = DEFAULT_WEIGHT


def canon_spreads(spreads: list[Spread] | None) -> None:
    # 50 as Nomad's API client sets it (api/tasks.go); unsure against the "spread" docs page.
    for s in spreads or ():
        if s.Weight is None:
            s.Weight = DEFAULT_WEIGHT


def canon_networks(networks: list[NetworkResource] | None) -> list[NetworkResource] | None:
    """Mode "host" and host network "default" when unset; empty port lists become null."""
    for n in networks or ():
        if not n.Mode:
            n.Mode = "host"
        n.MBits = n.MBits or 0
        n.ReservedPorts = n.ReservedPorts or None
        n.DynamicPorts = n.DynamicPorts or None
        for p in (*(n.ReservedPorts or ()), *(n.DynamicPorts or ())):
            if not p.HostNetwork:
                p.HostNetwork = "default"  # Nomad docs, job specification: network, port host_network
    return networks or None


def canon_consul(consul: Consul) -> None:
    if not consul.Cluster:
        consul.Cluster = "default"


def _canon_resources(r: Resources) -> None:
    if r.Cores is None:
        r.Cores = 0
        if r.CPU is None:
            r.CPU = DEFAULT_CPU_MHZ
    if r.CPU is None:  # cores were asked for: no MHz reservation on top
        r.CPU = 0
    if r.MemoryMB is None:
        r.MemoryMB = DEFAULT_MEMORY_MB
    # Plain integers on Nomad's servers, so GET /v1/job/:id shows them as 0.
    r.MemoryMaxMB = r.MemoryMaxMB or 0
    r.DiskMB = r.DiskMB or 0
    r.IOPS = r.IOPS or 0
    r.Networks = canon_networks(r.Networks)
    r.Devices = r.Devices or None
    for d in r.Devices or ():
        if d.Count is None:
            d.Count = 1
        canon_constraints(d.Constraints)
        canon_affinities(d.Affinities)


def _canon_log_config(logs: LogConfig | None) -> LogConfig:
    if logs is None:
        return default_log_config()
    if logs.Disabled is None:
        logs.Disabled = logs.Enabled is False  # the deprecated Enabled, inverted
    return overlay(default_log_config(), logs)


def _canon_artifact(a: Artifact) -> None:
    if a.GetterMode is None:
        a.GetterMode = "any"
    if a.GetterInsecure is None:
        a.GetterInsecure = False
    if a.GetterSource is None:
        a.GetterSource = ""
    a.GetterOptions = a.GetterOptions or None
    a.GetterHeaders = a.GetterHeaders or None
    if a.RelativeDest is None:
        if a.GetterMode == "file":
            base = posixpath.basename(a.GetterSource.rstrip("/")) or "."
            a.RelativeDest = posixpath.normpath(posixpath.join("local", base))
        else:
            a.RelativeDest = "local/"


def _canon_change_script(cs: ChangeScript) -> None:
    if cs.Command is None:
        cs.Command = ""
    if cs.Args is None:
        cs.Args = []
    if cs.Timeout is None:
        cs.Timeout = 5 * SECOND_NS
    if cs.FailOnError is None:
        cs.FailOnError = False
    if cs.RunOnFirstRender is None:
        cs.RunOnFirstRender = False  # unsure: Nomad docs (change_script) list no default; false is its zero


def _canon_template(t: Template) -> None:
    t.SourcePath = t.SourcePath if t.SourcePath is not None else ""
    t.DestPath = t.DestPath if t.DestPath is not None else ""
    t.EmbeddedTmpl = t.EmbeddedTmpl if t.EmbeddedTmpl is not None else ""
    if t.ChangeMode is None:
        t.ChangeMode = "restart"
    if t.ChangeSignal is None:
        t.ChangeSignal = "SIGHUP" if t.ChangeMode == "signal" else ""
    else:
        t.ChangeSignal = t.ChangeSignal.upper()
    if t.ChangeScript is not None:
        _canon_change_script(t.ChangeScript)
    if t.Once is None:
        t.Once = False
    if t.Splay is None:
        t.Splay = 5 * SECOND_NS
    if t.Perms is None:
        t.Perms = "0644"
    if t.LeftDelim is None:
        t.LeftDelim = "{{"
    if t.RightDelim is None:
        t.RightDelim = "}}"
    if t.Envvars is None:
        t.Envvars = False
    if t.ErrMissingKey is None:
        t.ErrMissingKey = False
    if t.VaultGrace is None:
        t.VaultGrace = 0


def _canon_vault(v: Vault) -> None:
    if v.Env is None:
        v.Env = True
    if v.DisableFile is None:
        v.DisableFile = False
    if v.Namespace is None:
        v.Namespace = ""
    if not v.Cluster:
        v.Cluster = "default"
    if v.ChangeMode is None:
        v.ChangeMode = "restart"
    if v.ChangeSignal is None:
        v.ChangeSignal = "SIGHUP"
    if v.AllowTokenExpiration is None:
        v.AllowTokenExpiration = False


def _canon_volume_mount(vm: VolumeMount) -> None:
    if vm.PropagationMode is None:
        vm.PropagationMode = "private"
    if vm.ReadOnly is None:
        vm.ReadOnly = False
    if vm.SELinuxLabel is None:
        vm.SELinuxLabel = ""


def _go_quote(text: str) -> str:
    """Go's ``%q`` for the printable strings service names are."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _merge_check_restart(service: CheckRestart | None, check: CheckRestart | None) -> CheckRestart | None:
    """The check's own check_restart over the service's: a Limit above 0, a Grace, or
    IgnoreWarnings set true override (Nomad's merge)."""
    if service is None:
        return check
    merged = CheckRestart(Limit=service.Limit, Grace=service.Grace, IgnoreWarnings=service.IgnoreWarnings)
    if check is not None:
        if check.Limit > 0:
            merged.Limit = check.Limit
        if check.Grace is not None:
            merged.Grace = check.Grace
        if check.IgnoreWarnings:
            merged.IgnoreWarnings = True
    return merged


def _canon_check(check: ServiceCheck, service: Service, task_name: str | None) -> None:
    check.CheckRestart = _merge_check_restart(service.CheckRestart, check.CheckRestart)
    if check.CheckRestart is not None and check.CheckRestart.Grace is None:
        check.CheckRestart.Grace = SECOND_NS
    check.SuccessBeforePassing = max(check.SuccessBeforePassing, 0)
    check.FailuresBeforeCritical = max(check.FailuresBeforeCritical, 0)
    check.FailuresBeforeWarning = max(check.FailuresBeforeWarning, 0)
    if not check.OnUpdate:
        check.OnUpdate = service.OnUpdate
    if not check.Name:  # unsure: set by Nomad's servers, not listed on the "check" docs page
        check.Name = f"service: {_go_quote(service.Name)} check"
    if not check.TaskName and task_name is not None:
        check.TaskName = task_name
    check.Args = check.Args or None
    check.Header = check.Header or None


def canon_service(service: Service, job_name: str, group_name: str, task_name: str | None) -> None:
    """``task_name`` is None for a group's service. Names may use ${JOB}, ${TASKGROUP}, ${TASK}
    and ${BASE}, which Nomad interpolates on registration (a group service's ${TASK} is "group")."""
    task_label = task_name if task_name is not None else "group"
    if not service.Name:
        service.Name = f"{job_name}-{group_name}" if task_name is None else f"{job_name}-{group_name}-{task_name}"
    for var, value in (
        ("${BASE}", f"{job_name}-{group_name}-{task_label}"),
        ("${JOB}", job_name),
        ("${TASKGROUP}", group_name),
        ("${TASK}", task_label),
    ):
        service.Name = service.Name.replace(var, value)
    service.AddressMode = service.AddressMode or "auto"
    service.OnUpdate = service.OnUpdate or "require_healthy"
    service.Provider = service.Provider or "consul"
    service.Cluster = service.Cluster or "default"
    if task_name is not None and not service.TaskName:
        service.TaskName = task_name
    service.Tags = service.Tags or None
    service.CanaryTags = service.CanaryTags or None
    service.Meta = service.Meta or None
    service.CanaryMeta = service.CanaryMeta or None
    service.TaggedAddresses = service.TaggedAddresses or None
    if service.Weights is not None:
        service.Weights.Passing = service.Weights.Passing if service.Weights.Passing > 0 else 1
        service.Weights.Warning = service.Weights.Warning if service.Weights.Warning > 0 else 1
    service.Checks = service.Checks or None
    for check in service.Checks or ():
        _canon_check(check, service, task_name)


def canon_task(task: Task, group_restart: RestartPolicy, job_name: str, group_name: str) -> None:
    if task.Resources is None:
        task.Resources = Resources()
    _canon_resources(task.Resources)
    if task.KillTimeout is None:
        task.KillTimeout = DEFAULT_KILL_TIMEOUT_NS
    task.LogConfig = _canon_log_config(task.LogConfig)
    for artifact in task.Artifacts or ():
        _canon_artifact(artifact)
    if task.Vault is not None:
        _canon_vault(task.Vault)
    if task.Consul is not None:
        canon_consul(task.Consul)
    for template in task.Templates or ():
        _canon_template(template)
    for service in task.Services or ():
        canon_service(service, job_name, group_name, task.Name)
    canon_constraints(task.Constraints)
    canon_affinities(task.Affinities)
    for vm in task.VolumeMounts or ():
        _canon_volume_mount(vm)
    if task.Lifecycle is not None and not task.Lifecycle.Hook:
        task.Lifecycle = None
    if task.CSIPluginConfig is not None:
        csi = task.CSIPluginConfig
        csi.MountDir = csi.MountDir or "/csi"
        csi.StagePublishBaseDir = csi.StagePublishBaseDir or "/local/csi"
        csi.HealthTimeout = csi.HealthTimeout or 30 * SECOND_NS
    task.RestartPolicy = overlay(group_restart, task.RestartPolicy)
    task.Meta = task.Meta or None
    task.Config = task.Config or None
    task.Env = task.Env or None
