"""A task (one process under a driver) and the blocks only a task has.

Durations are integer nanoseconds, as in Nomad's JSON. Driver ``Config`` is free-form and kept
with its keys exactly as written.
"""

from __future__ import annotations

from typing import Any

from cluster.structs.base import ApiStruct
from cluster.structs.common import Consul, RestartPolicy, ScalingPolicy, WorkloadIdentity
from cluster.structs.placement import Affinity, Constraint
from cluster.structs.resources import Resources
from cluster.structs.services import Service

__all__ = [
    "Action",
    "Artifact",
    "ChangeScript",
    "DispatchPayloadConfig",
    "LogConfig",
    "Secret",
    "Task",
    "TaskCSIPluginConfig",
    "TaskLifecycle",
    "TaskSchedule",
    "TaskScheduleCron",
    "Template",
    "Vault",
    "VolumeMount",
    "WaitConfig",
]


class TaskLifecycle(ApiStruct, kw_only=True):
    """``lifecycle { hook, sidecar }``: run before (prestart), beside (poststart) or after
    (poststop) the main tasks; a sidecar keeps running."""

    Hook: str = ""
    Sidecar: bool = False


class LogConfig(ApiStruct, kw_only=True):
    """``logs``: rotation of the task's stdout/stderr files."""

    MaxFiles: int | None = None  # 10 after canonicalize
    MaxFileSizeMB: int | None = None  # 10 after canonicalize
    Enabled: bool | None = None  # deprecated, replaced by Disabled
    Disabled: bool | None = None  # false after canonicalize


class DispatchPayloadConfig(ApiStruct, kw_only=True):
    """``dispatch_payload { file }``: where a dispatched job's payload is written in the task dir."""

    File: str = ""


class ChangeScript(ApiStruct, kw_only=True):
    Command: str | None = None
    Args: list[str] | None = None
    Timeout: int | None = None  # ns; 5s after canonicalize
    FailOnError: bool | None = None
    RunOnFirstRender: bool | None = None


class WaitConfig(ApiStruct, kw_only=True):
    Min: int | None = None  # ns
    Max: int | None = None  # ns


class Template(ApiStruct, kw_only=True):
    """A ``template`` rendered into the task directory (consul-template syntax)."""

    SourcePath: str | None = None
    DestPath: str | None = None
    EmbeddedTmpl: str | None = None
    ChangeMode: str | None = None  # "restart" after canonicalize
    ChangeScript: ChangeScript | None = None
    ChangeSignal: str | None = None
    Once: bool | None = None
    Splay: int | None = None  # ns; 5s after canonicalize
    Perms: str | None = None  # "0644" after canonicalize
    Uid: int | None = None
    Gid: int | None = None
    LeftDelim: str | None = None
    RightDelim: str | None = None
    Envvars: bool | None = None
    VaultGrace: int | None = None  # deprecated and ignored
    Wait: WaitConfig | None = None
    ErrMissingKey: bool | None = None


class Artifact(ApiStruct, kw_only=True):
    """An ``artifact`` fetched into the task directory before the task starts (go-getter)."""

    GetterSource: str | None = None
    GetterOptions: dict[str, str] | None = None
    GetterHeaders: dict[str, str] | None = None
    GetterMode: str | None = None  # "any" after canonicalize
    GetterInsecure: bool | None = None
    RelativeDest: str | None = None  # "local/" (or local/<file> in file mode) after canonicalize
    Chown: bool = False


class Vault(ApiStruct, kw_only=True):
    """The ``vault`` block; Caravan keeps it so job files round-trip, and does not act on it yet."""

    Policies: list[str] | None = None
    Role: str = ""
    Namespace: str | None = None
    Cluster: str = ""
    Env: bool | None = None
    DisableFile: bool | None = None
    ChangeMode: str | None = None
    ChangeSignal: str | None = None
    AllowTokenExpiration: bool | None = None


class VolumeMount(ApiStruct, kw_only=True):
    """``volume_mount``: mount one of the group's volumes at Destination in the task."""

    Volume: str | None = None
    Destination: str | None = None
    ReadOnly: bool | None = None
    PropagationMode: str | None = None  # "private" after canonicalize
    SELinuxLabel: str | None = None


class TaskCSIPluginConfig(ApiStruct, kw_only=True):
    ID: str = ""
    Type: str = ""
    MountDir: str = ""
    StagePublishBaseDir: str = ""
    HealthTimeout: int = 0  # ns


class Action(ApiStruct, kw_only=True):
    Name: str = ""
    Command: str = ""
    Args: list[str] | None = None


class TaskScheduleCron(ApiStruct, kw_only=True):
    Start: str = ""
    End: str = ""
    Timezone: str = ""


class TaskSchedule(ApiStruct, kw_only=True):
    Cron: TaskScheduleCron | None = None


class Secret(ApiStruct, kw_only=True):
    Name: str = ""
    Provider: str = ""
    Path: str = ""
    Config: dict[str, Any] | None = None
    Env: dict[str, str] | None = None


class Task(ApiStruct, kw_only=True):
    """A ``task`` block: one unit of work run by ``Driver`` with ``Config``."""

    Name: str = ""
    Driver: str = ""
    User: str = ""
    Lifecycle: TaskLifecycle | None = None
    Config: dict[str, Any] | None = None
    Constraints: list[Constraint] | None = None
    Affinities: list[Affinity] | None = None
    Env: dict[str, str] | None = None
    Services: list[Service] | None = None
    Resources: Resources | None = None
    RestartPolicy: RestartPolicy | None = None
    Meta: dict[str, str] | None = None
    KillTimeout: int | None = None  # ns; 5s after canonicalize
    LogConfig: LogConfig | None = None
    Artifacts: list[Artifact] | None = None
    Vault: Vault | None = None
    Consul: Consul | None = None
    Templates: list[Template] | None = None
    DispatchPayload: DispatchPayloadConfig | None = None
    VolumeMounts: list[VolumeMount] | None = None
    CSIPluginConfig: TaskCSIPluginConfig | None = None
    Leader: bool = False
    ShutdownDelay: int = 0  # ns
    KillSignal: str = ""
    Kind: str = ""
    ScalingPolicies: list[ScalingPolicy] | None = None
    Secrets: list[Secret] | None = None
    Identity: WorkloadIdentity | None = None
    Identities: list[WorkloadIdentity] | None = None
    Actions: list[Action] | None = None
    Schedule: TaskSchedule | None = None
