"""Nomad's job specification as data: every stanza, its attributes and their API JSON keys.

The decoder (``decode.py``) walks a parsed HCL body with these specs, so adding a field to the job
file is one line here. Names on the left are the job file's (HCL); ``key`` is the field of Nomad's
API JSON that the value lands in. Stanzas whose shape needs more than a mapping (a constraint's
operator shorthands, a network's ports) name a ``finish`` hook that the decoder runs on the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from cluster.jobspec.values import Kind

__all__ = ["JOB", "ROOT_BLOCKS", "Attr", "Blk", "Mode", "Spec"]


class Mode(Enum):
    SINGLE = "single"  # at most one: `update { ... }` -> "Update": {...}
    LIST = "list"  # repeatable, unlabelled: `constraint { }` -> "Constraints": [...]
    LABELLED = "labelled"  # repeatable with one label kept in a field: `group "web"` -> {"Name": "web"}
    MAP = "map"  # repeatable with one label as the map key: `volume "data"` -> "Volumes": {"data": {...}}
    OPAQUE = "opaque"  # a free-form body (driver config): attributes as written, blocks as lists


@dataclass(frozen=True, slots=True)
class Attr:
    key: str
    kind: Kind
    # "meta" and "env" may be written as an attribute (`meta = {...}`) or as a block (`meta { a = "b" }`).
    also_block: bool = False
    deprecated: str = ""


@dataclass(frozen=True, slots=True)
class Blk:
    key: str
    spec: str  # name of the Spec in SPECS (by name, so specs can refer to each other)
    mode: Mode
    label_key: str = ""  # LABELLED: the field receiving the label
    label_name: str = ""  # how the label is called in messages ("group name")


@dataclass(frozen=True, slots=True)
class Spec:
    name: str
    attrs: dict[str, Attr] = field(default_factory=dict)
    blocks: dict[str, Blk] = field(default_factory=dict)
    finish: str = ""  # name of a hook in decode.FINISHERS, run on the decoded object
    unsupported: dict[str, str] = field(default_factory=dict)  # known Nomad stanzas Caravan refuses, and why


S, INT, N, B, D = Kind.STRING, Kind.INT, Kind.NUMBER, Kind.BOOL, Kind.DURATION
LS, MS, ANY = Kind.LIST_STRING, Kind.MAP_STRING, Kind.ANY

_CONNECT_WHY = "Consul Connect service mesh is not supported by Caravan"

# What a constraint and an affinity share: the targets, the operator, and the operator shorthands
# (`version = ">= 1.2"` means operator "version", value ">= 1.2"; the decoder's finisher rewrites them).
_TARGETS = {
    "attribute": Attr("LTarget", S),
    "operator": Attr("Operand", S),
    "value": Attr("RTarget", S),
    **{op: Attr(op, S) for op in ("version", "semver", "regexp", "set_contains", "set_contains_any", "set_contains_all")},
}

CONSTRAINT = Spec(
    "constraint",
    attrs={
        **_TARGETS,
        "distinct_hosts": Attr("distinct_hosts", B),
        "distinct_property": Attr("distinct_property", S),
    },
    finish="constraint",
)

AFFINITY = Spec("affinity", attrs={**_TARGETS, "weight": Attr("Weight", INT)}, finish="affinity")

SPREAD = Spec(
    "spread",
    attrs={"attribute": Attr("Attribute", S), "weight": Attr("Weight", INT)},
    blocks={"target": Blk("SpreadTarget", "spread_target", Mode.LABELLED, "Value", "target value")},
)
SPREAD_TARGET = Spec("target", attrs={"value": Attr("Value", S), "percent": Attr("Percent", INT)})

UPDATE = Spec(
    "update",
    attrs={
        "max_parallel": Attr("MaxParallel", INT),
        "health_check": Attr("HealthCheck", S),
        "min_healthy_time": Attr("MinHealthyTime", D),
        "healthy_deadline": Attr("HealthyDeadline", D),
        "progress_deadline": Attr("ProgressDeadline", D),
        "auto_revert": Attr("AutoRevert", B),
        "auto_promote": Attr("AutoPromote", B),
        "canary": Attr("Canary", INT),
        "stagger": Attr("Stagger", D),
    },
)

MIGRATE = Spec(
    "migrate",
    attrs={
        "max_parallel": Attr("MaxParallel", INT),
        "health_check": Attr("HealthCheck", S),
        "min_healthy_time": Attr("MinHealthyTime", D),
        "healthy_deadline": Attr("HealthyDeadline", D),
    },
)

RESTART = Spec(
    "restart",
    attrs={
        "attempts": Attr("Attempts", INT),
        "interval": Attr("Interval", D),
        "delay": Attr("Delay", D),
        "mode": Attr("Mode", S),
        "render_templates": Attr("RenderTemplates", B),
    },
)

RESCHEDULE = Spec(
    "reschedule",
    attrs={
        "attempts": Attr("Attempts", INT),
        "interval": Attr("Interval", D),
        "delay": Attr("Delay", D),
        "delay_function": Attr("DelayFunction", S),
        "max_delay": Attr("MaxDelay", D),
        "unlimited": Attr("Unlimited", B),
    },
)

PERIODIC = Spec(
    "periodic",
    attrs={
        "cron": Attr("Spec", S, deprecated="use crons"),
        "crons": Attr("Specs", LS),
        "prohibit_overlap": Attr("ProhibitOverlap", B),
        "time_zone": Attr("TimeZone", S),
        "enabled": Attr("Enabled", B),
    },
    finish="periodic",
)

PARAMETERIZED = Spec(
    "parameterized",
    attrs={
        "payload": Attr("Payload", S),
        "meta_required": Attr("MetaRequired", LS),
        "meta_optional": Attr("MetaOptional", LS),
    },
)

MULTIREGION = Spec(
    "multiregion",
    blocks={
        "strategy": Blk("Strategy", "multiregion_strategy", Mode.SINGLE),
        "region": Blk("Regions", "multiregion_region", Mode.LABELLED, "Name", "region name"),
    },
)
MULTIREGION_STRATEGY = Spec(
    "strategy", attrs={"max_parallel": Attr("MaxParallel", INT), "on_failure": Attr("OnFailure", S)}
)
MULTIREGION_REGION = Spec(
    "region",
    attrs={
        "count": Attr("Count", INT),
        "datacenters": Attr("Datacenters", LS),
        "node_pool": Attr("NodePool", S),
        "meta": Attr("Meta", MS, also_block=True),
    },
)

PORT = Spec(
    "port",
    attrs={
        "static": Attr("Value", INT),
        "to": Attr("To", INT),
        "host_network": Attr("HostNetwork", S),
        "ignore_collision": Attr("IgnoreCollision", B),
    },
)
DNS = Spec(
    "dns",
    attrs={"servers": Attr("Servers", LS), "searches": Attr("Searches", LS), "options": Attr("Options", LS)},
)
NETWORK = Spec(
    "network",
    attrs={
        "mode": Attr("Mode", S),
        "hostname": Attr("Hostname", S),
        "mbits": Attr("MBits", INT, deprecated="bandwidth is no longer scheduled"),
        "cidr": Attr("CIDR", S),
        "ip": Attr("IP", S),
        "device": Attr("Device", S),
    },
    blocks={
        "port": Blk("Ports", "port", Mode.LABELLED, "Label", "port label"),
        "dns": Blk("DNS", "dns", Mode.SINGLE),
    },
    finish="network",
)

DEVICE = Spec(
    "device",
    attrs={"count": Attr("Count", INT)},
    blocks={
        "constraint": Blk("Constraints", "constraint", Mode.LIST),
        "affinity": Blk("Affinities", "affinity", Mode.LIST),
    },
)

RESOURCES = Spec(
    "resources",
    attrs={
        "cpu": Attr("CPU", INT),
        "cores": Attr("Cores", INT),
        "memory": Attr("MemoryMB", INT),
        "memory_max": Attr("MemoryMaxMB", INT),
        "disk": Attr("DiskMB", INT, deprecated="use ephemeral_disk"),
        "iops": Attr("IOPS", INT, deprecated="IOPS are no longer scheduled"),
    },
    blocks={
        "network": Blk("Networks", "network", Mode.LIST),
        "device": Blk("Devices", "device", Mode.LABELLED, "Name", "device name"),
    },
)

CHECK_RESTART = Spec(
    "check_restart",
    attrs={"limit": Attr("Limit", INT), "grace": Attr("Grace", D), "ignore_warnings": Attr("IgnoreWarnings", B)},
)

CHECK = Spec(
    "check",
    attrs={
        "name": Attr("Name", S),
        "type": Attr("Type", S),
        "command": Attr("Command", S),
        "args": Attr("Args", LS),
        "path": Attr("Path", S),
        "protocol": Attr("Protocol", S),
        "port": Attr("PortLabel", S),
        "expose": Attr("Expose", B),
        "address_mode": Attr("AddressMode", S),
        "interval": Attr("Interval", D),
        "timeout": Attr("Timeout", D),
        "initial_status": Attr("InitialStatus", S),
        "method": Attr("Method", S),
        "body": Attr("Body", S),
        "header": Attr("Header", Kind.MAP_LIST_STRING, also_block=True),
        "tls_server_name": Attr("TLSServerName", S),
        "tls_skip_verify": Attr("TLSSkipVerify", B),
        "grpc_service": Attr("GRPCService", S),
        "grpc_use_tls": Attr("GRPCUseTLS", B),
        "task": Attr("TaskName", S),
        "on_update": Attr("OnUpdate", S),
        "success_before_passing": Attr("SuccessBeforePassing", INT),
        "failures_before_critical": Attr("FailuresBeforeCritical", INT),
        "failures_before_warning": Attr("FailuresBeforeWarning", INT),
    },
    blocks={"check_restart": Blk("CheckRestart", "check_restart", Mode.SINGLE)},
)

SERVICE = Spec(
    "service",
    attrs={
        "name": Attr("Name", S),
        "port": Attr("PortLabel", S),
        "tags": Attr("Tags", LS),
        "canary_tags": Attr("CanaryTags", LS),
        "enable_tag_override": Attr("EnableTagOverride", B),
        "address": Attr("Address", S),
        "address_mode": Attr("AddressMode", S),
        "task": Attr("TaskName", S),
        "on_update": Attr("OnUpdate", S),
        "provider": Attr("Provider", S),
        "meta": Attr("Meta", MS, also_block=True),
        "canary_meta": Attr("CanaryMeta", MS, also_block=True),
        "tagged_addresses": Attr("TaggedAddresses", MS, also_block=True),
    },
    blocks={
        "check": Blk("Checks", "check", Mode.LIST),
        "check_restart": Blk("CheckRestart", "check_restart", Mode.SINGLE),
        "identity": Blk("Identity", "identity", Mode.SINGLE),
    },
    unsupported={"connect": _CONNECT_WHY},
)

EPHEMERAL_DISK = Spec(
    "ephemeral_disk",
    attrs={"sticky": Attr("Sticky", B), "migrate": Attr("Migrate", B), "size": Attr("SizeMB", INT)},
)

LIFECYCLE = Spec("lifecycle", attrs={"hook": Attr("Hook", S), "sidecar": Attr("Sidecar", B)})

LOGS = Spec(
    "logs",
    attrs={
        "max_files": Attr("MaxFiles", INT),
        "max_file_size": Attr("MaxFileSizeMB", INT),
        "disabled": Attr("Disabled", B),
        "enabled": Attr("Enabled", B, deprecated="use disabled"),
    },
    finish="logs",
)

DISPATCH_PAYLOAD = Spec("dispatch_payload", attrs={"file": Attr("File", S)})

TEMPLATE_WAIT = Spec("wait", attrs={"min": Attr("Min", D), "max": Attr("Max", D)})
CHANGE_SCRIPT = Spec(
    "change_script",
    attrs={
        "command": Attr("Command", S),
        "args": Attr("Args", LS),
        "timeout": Attr("Timeout", D),
        "fail_on_error": Attr("FailOnError", B),
    },
)
TEMPLATE = Spec(
    "template",
    attrs={
        "source": Attr("SourcePath", S),
        "destination": Attr("DestPath", S),
        "data": Attr("EmbeddedTmpl", S),
        "change_mode": Attr("ChangeMode", S),
        "change_signal": Attr("ChangeSignal", S),
        "splay": Attr("Splay", D),
        "perms": Attr("Perms", S),
        "uid": Attr("Uid", INT),
        "gid": Attr("Gid", INT),
        "left_delimiter": Attr("LeftDelim", S),
        "right_delimiter": Attr("RightDelim", S),
        "env": Attr("Envvars", B),
        "error_on_missing_key": Attr("ErrMissingKey", B),
        "vault_grace": Attr("VaultGrace", D, deprecated="ignored"),
        "once": Attr("Once", B),
    },
    blocks={
        "wait": Blk("Wait", "template_wait", Mode.SINGLE),
        "change_script": Blk("ChangeScript", "change_script", Mode.SINGLE),
    },
)

ARTIFACT = Spec(
    "artifact",
    attrs={
        "source": Attr("GetterSource", S),
        "destination": Attr("RelativeDest", S),
        "mode": Attr("GetterMode", S),
        "options": Attr("GetterOptions", MS, also_block=True),
        "headers": Attr("GetterHeaders", MS, also_block=True),
        "insecure": Attr("GetterInsecure", B),
        "chown": Attr("Chown", B),
    },
)

VAULT = Spec(
    "vault",
    attrs={
        "policies": Attr("Policies", LS),
        "change_mode": Attr("ChangeMode", S),
        "change_signal": Attr("ChangeSignal", S),
        "env": Attr("Env", B),
        "disable_file": Attr("DisableFile", B),
        "namespace": Attr("Namespace", S),
        "role": Attr("Role", S),
        "cluster": Attr("Cluster", S),
        "allow_token_expiration": Attr("AllowTokenExpiration", B),
    },
)

VOLUME_MOUNT = Spec(
    "volume_mount",
    attrs={
        "volume": Attr("Volume", S),
        "destination": Attr("Destination", S),
        "read_only": Attr("ReadOnly", B),
        "propagation_mode": Attr("PropagationMode", S),
        "selinux_label": Attr("SELinuxLabel", S),
    },
)

VOLUME = Spec(
    "volume",
    attrs={
        "type": Attr("Type", S),
        "source": Attr("Source", S),
        "read_only": Attr("ReadOnly", B),
        "per_alloc": Attr("PerAlloc", B),
        "sticky": Attr("Sticky", B),
        "access_mode": Attr("AccessMode", S),
        "attachment_mode": Attr("AttachmentMode", S),
    },
    blocks={"mount_options": Blk("MountOptions", "mount_options", Mode.SINGLE)},
)
MOUNT_OPTIONS = Spec("mount_options", attrs={"fs_type": Attr("FSType", S), "mount_flags": Attr("MountFlags", LS)})

SCALING = Spec(
    "scaling",
    attrs={"min": Attr("Min", INT), "max": Attr("Max", INT), "enabled": Attr("Enabled", B)},
    blocks={"policy": Blk("Policy", "opaque", Mode.OPAQUE)},
)

DISCONNECT = Spec(
    "disconnect",
    attrs={
        "lost_after": Attr("LostAfter", D),
        "replace": Attr("Replace", B),
        "reconcile": Attr("Reconcile", S),
        "stop_on_client_after": Attr("StopOnClientAfter", D),
    },
)

IDENTITY = Spec(
    "identity",
    attrs={
        "name": Attr("Name", S),
        "aud": Attr("Audience", LS),
        "change_mode": Attr("ChangeMode", S),
        "change_signal": Attr("ChangeSignal", S),
        "env": Attr("Env", B),
        "file": Attr("File", B),
        "filepath": Attr("Filepath", S),
        "ttl": Attr("TTL", D),
    },
)

ACTION = Spec("action", attrs={"command": Attr("Command", S), "args": Attr("Args", LS)})

TASK = Spec(
    "task",
    attrs={
        "driver": Attr("Driver", S),
        "user": Attr("User", S),
        "kill_timeout": Attr("KillTimeout", D),
        "kill_signal": Attr("KillSignal", S),
        "leader": Attr("Leader", B),
        "shutdown_delay": Attr("ShutdownDelay", D),
        "kind": Attr("Kind", S),
        "env": Attr("Env", MS, also_block=True),
        "meta": Attr("Meta", MS, also_block=True),
    },
    blocks={
        "config": Blk("Config", "opaque", Mode.OPAQUE),
        "constraint": Blk("Constraints", "constraint", Mode.LIST),
        "affinity": Blk("Affinities", "affinity", Mode.LIST),
        "artifact": Blk("Artifacts", "artifact", Mode.LIST),
        "dispatch_payload": Blk("DispatchPayload", "dispatch_payload", Mode.SINGLE),
        "lifecycle": Blk("Lifecycle", "lifecycle", Mode.SINGLE),
        "logs": Blk("LogConfig", "logs", Mode.SINGLE),
        "resources": Blk("Resources", "resources", Mode.SINGLE),
        "restart": Blk("RestartPolicy", "restart", Mode.SINGLE),
        "service": Blk("Services", "service", Mode.LIST),
        "template": Blk("Templates", "template", Mode.LIST),
        "vault": Blk("Vault", "vault", Mode.SINGLE),
        "volume_mount": Blk("VolumeMounts", "volume_mount", Mode.LIST),
        # Repeatable; the task finisher keeps the unnamed one as Identity, the named ones as Identities.
        "identity": Blk("_Identities", "identity", Mode.LIST),
        "action": Blk("Actions", "action", Mode.LABELLED, "Name", "action name"),
    },
    unsupported={
        "csi_plugin": "CSI plugins are not supported by Caravan",
        "consul": "Consul integration is not supported by Caravan",
    },
    finish="task",
)

GROUP = Spec(
    "group",
    attrs={
        "count": Attr("Count", INT),
        "shutdown_delay": Attr("ShutdownDelay", D),
        "stop_after_client_disconnect": Attr("StopAfterClientDisconnect", D, deprecated="use disconnect"),
        "max_client_disconnect": Attr("MaxClientDisconnect", D, deprecated="use disconnect"),
        "prevent_reschedule_on_lost": Attr("PreventRescheduleOnLost", B),
        "meta": Attr("Meta", MS, also_block=True),
    },
    blocks={
        "constraint": Blk("Constraints", "constraint", Mode.LIST),
        "affinity": Blk("Affinities", "affinity", Mode.LIST),
        "spread": Blk("Spreads", "spread", Mode.LIST),
        "task": Blk("Tasks", "task", Mode.LABELLED, "Name", "task name"),
        "ephemeral_disk": Blk("EphemeralDisk", "ephemeral_disk", Mode.SINGLE),
        "migrate": Blk("Migrate", "migrate", Mode.SINGLE),
        "network": Blk("Networks", "network", Mode.LIST),
        "reschedule": Blk("ReschedulePolicy", "reschedule", Mode.SINGLE),
        "restart": Blk("RestartPolicy", "restart", Mode.SINGLE),
        "service": Blk("Services", "service", Mode.LIST),
        "update": Blk("Update", "update", Mode.SINGLE),
        "volume": Blk("Volumes", "volume", Mode.MAP, "Name", "volume name"),
        "scaling": Blk("Scaling", "scaling", Mode.SINGLE),
        "disconnect": Blk("Disconnect", "disconnect", Mode.SINGLE),
        # Not a group field in Nomad's API: the decoder copies it into the group's tasks.
        "vault": Blk("Vault", "vault", Mode.SINGLE),
    },
    unsupported={"consul": "Consul integration is not supported by Caravan"},
    finish="group",
)

JOB = Spec(
    "job",
    attrs={
        "region": Attr("Region", S),
        "namespace": Attr("Namespace", S),
        "type": Attr("Type", S),
        "priority": Attr("Priority", INT),
        "datacenters": Attr("Datacenters", LS),
        "node_pool": Attr("NodePool", S),
        "all_at_once": Attr("AllAtOnce", B),
        "name": Attr("Name", S),
        "meta": Attr("Meta", MS, also_block=True),
        "consul_token": Attr("ConsulToken", S, deprecated="use workload identity"),
        "vault_token": Attr("VaultToken", S, deprecated="use workload identity"),
    },
    blocks={
        "constraint": Blk("Constraints", "constraint", Mode.LIST),
        "affinity": Blk("Affinities", "affinity", Mode.LIST),
        "spread": Blk("Spreads", "spread", Mode.LIST),
        "group": Blk("TaskGroups", "group", Mode.LABELLED, "Name", "group name"),
        "update": Blk("Update", "update", Mode.SINGLE),
        "migrate": Blk("Migrate", "migrate", Mode.SINGLE),
        "reschedule": Blk("Reschedule", "reschedule", Mode.SINGLE),
        "periodic": Blk("Periodic", "periodic", Mode.SINGLE),
        "parameterized": Blk("ParameterizedJob", "parameterized", Mode.SINGLE),
        "multiregion": Blk("Multiregion", "multiregion", Mode.SINGLE),
        "vault": Blk("Vault", "vault", Mode.SINGLE),
        "ui": Blk("UI", "ui", Mode.SINGLE),
    },
    unsupported={"consul": "Consul integration is not supported by Caravan"},
    finish="job",
)

UI = Spec(
    "ui",
    attrs={"description": Attr("Description", S)},
    blocks={"link": Blk("Links", "ui_link", Mode.LIST)},
)
UI_LINK = Spec("link", attrs={"label": Attr("Label", S), "url": Attr("URL", S)})

SPECS: dict[str, Spec] = {
    "job": JOB,
    "group": GROUP,
    "task": TASK,
    "constraint": CONSTRAINT,
    "affinity": AFFINITY,
    "spread": SPREAD,
    "spread_target": SPREAD_TARGET,
    "update": UPDATE,
    "migrate": MIGRATE,
    "restart": RESTART,
    "reschedule": RESCHEDULE,
    "periodic": PERIODIC,
    "parameterized": PARAMETERIZED,
    "multiregion": MULTIREGION,
    "multiregion_strategy": MULTIREGION_STRATEGY,
    "multiregion_region": MULTIREGION_REGION,
    "network": NETWORK,
    "port": PORT,
    "dns": DNS,
    "device": DEVICE,
    "resources": RESOURCES,
    "service": SERVICE,
    "check": CHECK,
    "check_restart": CHECK_RESTART,
    "ephemeral_disk": EPHEMERAL_DISK,
    "lifecycle": LIFECYCLE,
    "logs": LOGS,
    "dispatch_payload": DISPATCH_PAYLOAD,
    "template": TEMPLATE,
    "template_wait": TEMPLATE_WAIT,
    "change_script": CHANGE_SCRIPT,
    "artifact": ARTIFACT,
    "vault": VAULT,
    "volume": VOLUME,
    "volume_mount": VOLUME_MOUNT,
    "mount_options": MOUNT_OPTIONS,
    "scaling": SCALING,
    "disconnect": DISCONNECT,
    "ui": UI,
    "ui_link": UI_LINK,
    "identity": IDENTITY,
    "action": ACTION,
}

# Blocks allowed at the top of a job file besides `job`.
ROOT_BLOCKS = ("job", "variable", "locals")
