"""The docker driver's two configs: the client's plugin config and a task's ``config`` block, checked and
turned into the engine's container settings.

Networking: tasks run in the host's network namespace (``network_mode = "host"``, the default; or
``"none"``). Nothing translates ports there, so a task binds the host port the scheduler granted:
``NOMAD_PORT_<label>`` and ``NOMAD_HOST_PORT_<label>`` are that host port, ``NOMAD_ADDR_<label>`` is
``ip:port`` (see ``host_network_port_env``); ``ports = [...]`` names the labels the task uses and each
must be one of the group's ports. Options that only a bridge or user-defined network could honour
(``port_map``, ``ipv4_address``...) are rejected with a reason instead of being silently ignored.

Filesystem: the alloc dir is mounted at ``/alloc``, the task's ``local/`` at ``/local`` and
``secrets/`` at ``/secrets``, and ``NOMAD_ALLOC_DIR``, ``NOMAD_TASK_DIR``, ``NOMAD_SECRETS_DIR`` name
those container paths. ``volumes`` with a relative host path are relative to the task dir and always
allowed; absolute host paths need the plugin's ``volumes { enabled = true }``, as in Nomad.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from docker.types import LogConfig, Mount, Ulimit

from agents.client.drivers.base import ConfigProblem, TaskConfig, host_network_port_env, parse_signal
from cluster.errors import InvalidInput
from cluster.jobspec.drivers import check_driver_config
from cluster.jobspec.values import KindError, parse_duration_ns

__all__ = [
    "LABEL_ALLOC_ID",
    "LABEL_TASK_NAME",
    "DockerPluginConfig",
    "container_name",
    "container_settings",
    "port_problems",
    "pull_timeout_s",
    "registry_auth",
    "validate_task_config",
]

LABEL_PREFIX = "com.caravan."
LABEL_ALLOC_ID = LABEL_PREFIX + "alloc_id"
LABEL_TASK_NAME = LABEL_PREFIX + "task_name"
DEFAULT_PULL_TIMEOUT_S = 300.0
# Nomad's default allow_caps: the capabilities Docker grants by default, minus net_raw.
DEFAULT_ALLOW_CAPS = (
    "audit_write", "chown", "dac_override", "fowner", "fsetid", "kill", "mknod", "net_bind_service",
    "setfcap", "setgid", "setpcap", "setuid", "sys_chroot",
)
NETWORK_MODES = {"", "host", "none"}
NEEDS_VOLUMES = "absolute host paths need the client's docker plugin volumes enabled"
READABLE_LOG_DRIVERS = {"json-file", "local", "journald"}
NEEDS_OWN_NETWORK = "needs a bridge or user-defined network; Caravan runs docker tasks in host networking"
UNSUPPORTED = {
    "port_map": "is deprecated in Nomad and means nothing in host networking: use ports and the group's "
                "network block",
    "network_aliases": NEEDS_OWN_NETWORK,
    "ipv4_address": NEEDS_OWN_NETWORK,
    "ipv6_address": NEEDS_OWN_NETWORK,
    "advertise_ipv6_address": NEEDS_OWN_NETWORK,
    "mac_address": NEEDS_OWN_NETWORK,
    "isolation": "is for Windows containers",
    "cpu_hard_limit": "is not supported by Caravan's docker driver yet",
    "cpu_cfs_period": "is not supported by Caravan's docker driver yet",
}
PLUGIN_OPTIONS = {"endpoint", "allow_privileged", "volumes", "allow_caps", "gc", "pull_activity_timeout",
                  "infra_image", "extra_labels", "auth"}


def _block(value: Any) -> dict[str, Any]:
    """An HCL block inside an opaque config decodes as a list of objects; accept that or an object."""
    if isinstance(value, list):
        merged: dict[str, Any] = {}
        for item in value:
            merged.update(_block(item))
        return merged
    return dict(value) if isinstance(value, Mapping) else {}


def _cap(name: str) -> str:
    lowered = name.strip().lower()
    return lowered.removeprefix("cap_")


@dataclass(frozen=True, slots=True)
class DockerPluginConfig:
    """The client's ``plugin "docker" { config { ... } }``: what tasks on this client may do."""

    endpoint: str = ""  # "" = DOCKER_HOST or the default socket
    allow_privileged: bool = False
    volumes_enabled: bool = False
    allow_caps: tuple[str, ...] = DEFAULT_ALLOW_CAPS
    gc_container: bool = True

    @classmethod
    def parse(cls, config: Mapping[str, Any] | None) -> DockerPluginConfig:
        config = dict(config or {})
        unknown = sorted(set(config) - PLUGIN_OPTIONS)
        if unknown:
            raise InvalidInput(f'unknown docker plugin option "{unknown[0]}"')
        caps = config.get("allow_caps", DEFAULT_ALLOW_CAPS)
        if not isinstance(caps, list | tuple) or not all(isinstance(c, str) for c in caps):
            raise InvalidInput('docker plugin option "allow_caps" must be a list of strings')
        parsed = cls(
            endpoint=str(config.get("endpoint", "")),
            allow_privileged=config.get("allow_privileged", False),
            volumes_enabled=_block(config.get("volumes")).get("enabled", False),
            allow_caps=tuple(_cap(c) for c in caps),
            gc_container=_block(config.get("gc")).get("container", True),
        )
        for name in ("allow_privileged", "volumes_enabled", "gc_container"):
            if not isinstance(getattr(parsed, name), bool):
                option = name.replace("_enabled", ".enabled").replace("gc_", "gc.")
                raise InvalidInput(f'docker plugin option "{option}" must be a bool')
        return parsed


def validate_task_config(config: Mapping[str, Any], plugin: DockerPluginConfig) -> list[ConfigProblem]:
    """The job-file checks (``cluster.jobspec.drivers``) plus what this client allows and supports."""
    problems = [ConfigProblem(k, m) for k, m in check_driver_config("docker", dict(config))]
    if problems:
        return problems
    for key in sorted(set(config) & set(UNSUPPORTED)):
        problems.append(ConfigProblem(key, UNSUPPORTED[key]))
    mode = config.get("network_mode", "")
    if mode not in NETWORK_MODES:
        problems.append(ConfigProblem("network_mode", f'"{mode}" {NEEDS_OWN_NETWORK}; use "host" or "none"'))
    if config.get("hostname") and mode in ("", "host"):
        problems.append(ConfigProblem("hostname", "cannot be set in host networking (the host's name holds)"))
    if config.get("privileged") and not plugin.allow_privileged:
        problems.append(ConfigProblem("privileged", "is not allowed on this client (allow_privileged)"))
    allowed = set(plugin.allow_caps)
    for cap in config.get("cap_add") or []:
        if "all" not in allowed and _cap(cap) not in allowed:
            problems.append(ConfigProblem("cap_add", f'"{cap}" is not in the client\'s allow_caps'))
    for volume in config.get("volumes") or []:
        problems.extend(_volume_problems(volume, plugin))
    for mount in list(config.get("mount") or []) + list(config.get("mounts") or []):
        spec = _block(mount)
        if not spec.get("target"):
            problems.append(ConfigProblem("mount", "each mount needs a target"))
        if spec.get("type", "volume") == "bind" and os.path.isabs(str(spec.get("source", ""))) \
                and not plugin.volumes_enabled:
            problems.append(ConfigProblem("mount", NEEDS_VOLUMES))
    log_type = _block(config.get("logging")).get("type", "json-file")
    if log_type not in READABLE_LOG_DRIVERS:
        problems.append(ConfigProblem("logging", f'type "{log_type}" cannot be read back into the task\'s '
                                                 f"log files; use one of {sorted(READABLE_LOG_DRIVERS)}"))
    if "image_pull_timeout" in config:
        try:
            pull_timeout_s(config)
        except KindError as e:
            problems.append(ConfigProblem("image_pull_timeout", str(e)))
    return problems


def _volume_problems(volume: str, plugin: DockerPluginConfig) -> list[ConfigProblem]:
    parts = volume.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1].startswith("/"):
        return [ConfigProblem("volumes", f'"{volume}" is not "host_path:/container/path[:ro]"')]
    if os.path.isabs(parts[0]) and not plugin.volumes_enabled:
        return [ConfigProblem("volumes", f'"{volume}": {NEEDS_VOLUMES}')]
    return []


def pull_timeout_s(config: Mapping[str, Any]) -> float:
    value = config.get("image_pull_timeout")
    if value is None:
        return DEFAULT_PULL_TIMEOUT_S
    return parse_duration_ns(str(value)) / 1e9


def registry_auth(config: Mapping[str, Any]) -> dict[str, str] | None:
    auth = _block(config.get("auth"))
    if not auth:
        return None
    names = {"username": "username", "password": "password", "email": "email",
             "server_address": "serveraddress"}
    return {target: str(auth[key]) for key, target in names.items() if key in auth}


def container_name(task: TaskConfig) -> str:
    """``<task>-<alloc id>``, as Nomad names containers: unique per task instance, readable in ``ps``."""
    return f"{task.task_name}-{task.alloc_id}"


def port_problems(task: TaskConfig) -> list[ConfigProblem]:
    """Each label in ``ports`` must be a port the group's network block asked for."""
    granted = {p.label for p in task.ports}
    return [ConfigProblem("ports", f'port label "{label}" is not in the group\'s network block')
            for label in task.config.get("ports") or [] if label not in granted]


def _labels(task: TaskConfig) -> dict[str, str]:
    labels = {str(k): str(v) for k, v in _block(task.config.get("labels")).items()}
    labels.update({
        LABEL_ALLOC_ID: task.alloc_id, LABEL_TASK_NAME: task.task_name,
        LABEL_PREFIX + "job_name": task.job_name, LABEL_PREFIX + "task_group_name": task.group_name,
        LABEL_PREFIX + "namespace": task.namespace,
    })
    return labels


def _environment(task: TaskConfig) -> dict[str, str]:
    env = {**task.env, **host_network_port_env(task.ports)}
    env.update({"NOMAD_ALLOC_DIR": "/alloc", "NOMAD_TASK_DIR": "/local", "NOMAD_SECRETS_DIR": "/secrets"})
    return env


def _binds(task: TaskConfig) -> list[str]:
    binds = [f"{task.alloc_dir.resolve()}:/alloc", f"{task.local_dir.resolve()}:/local",
             f"{task.secrets_dir.resolve()}:/secrets"]
    for volume in task.config.get("volumes") or []:
        source, rest = volume.split(":", 1)
        if not os.path.isabs(source):
            source = str((task.task_dir / source).resolve())
        binds.append(f"{source}:{rest}")
    return binds


def _mounts(task: TaskConfig) -> list[Mount]:
    mounts = []
    for raw in list(task.config.get("mount") or []) + list(task.config.get("mounts") or []):
        spec = _block(raw)
        kind = spec.get("type", "volume")
        source = str(spec.get("source", ""))
        if kind == "bind" and source and not os.path.isabs(source):
            source = str((task.task_dir / source).resolve())
        bind = _block(spec.get("bind_options"))
        volume = _block(spec.get("volume_options"))
        tmpfs = _block(spec.get("tmpfs_options"))
        mounts.append(Mount(
            target=str(spec["target"]), source=source or None, type=kind,
            read_only=bool(spec.get("readonly", False)), propagation=bind.get("propagation"),
            no_copy=bool(volume.get("no_copy", False)), labels=_block(volume.get("labels")) or None,
            tmpfs_size=tmpfs.get("size"), tmpfs_mode=tmpfs.get("mode"),
        ))
    return mounts


def _ulimits(config: Mapping[str, Any]) -> list[Ulimit]:
    ulimits = []
    for name, value in _block(config.get("ulimit")).items():
        soft, _, hard = str(value).partition(":")
        ulimits.append(Ulimit(name=name, soft=int(soft), hard=int(hard or soft)))
    return ulimits


def _device(spec: dict[str, Any]) -> str:
    """``devices = [{ host_path container_path cgroup_permissions }]`` -> ``host:container:perms``."""
    host = spec["host_path"]
    return f"{host}:{spec.get('container_path', host)}:{spec.get('cgroup_permissions', 'rwm')}"


def _log_config(task: TaskConfig) -> LogConfig:
    """The engine's own copy of the output, which the driver reads back into the task's files. Without a
    ``logging`` block it is bounded like one of those files (plus one rotated predecessor), so a chatty
    task cannot fill the engine's disk; the cost is that a client down for long loses the oldest part."""
    logging = _block(task.config.get("logging"))
    if logging:
        return LogConfig(type=logging.get("type", "json-file"), config=_block(logging.get("config")))
    return LogConfig(type="json-file", config={"max-size": f"{task.logs.max_file_size_mb}m", "max-file": "2"})


def _memory(task: TaskConfig) -> dict[str, Any]:
    """Nomad's rule: the scheduled memory is the reservation; a hard limit (memory_hard_limit, or the
    group's memory_max) above it is the limit; otherwise the scheduled memory is the limit."""
    reserved = task.resources.memory_mb
    hard = int(task.config.get("memory_hard_limit") or 0) or task.resources.memory_max_mb
    if hard > reserved:
        return {"mem_limit": f"{hard}m", "mem_reservation": f"{reserved}m"}
    return {"mem_limit": f"{reserved}m"}


def container_settings(task: TaskConfig) -> dict[str, Any]:
    """Keyword arguments for ``DockerClient.containers.create``. Assumes a validated config."""
    c = task.config
    command = [str(c["command"])] if c.get("command") else []
    args = [str(a) for a in c.get("args") or []]
    settings: dict[str, Any] = {
        "image": c["image"], "name": container_name(task), "command": (command + args) or None,
        "entrypoint": c.get("entrypoint"), "working_dir": c.get("work_dir"), "user": task.user or None,
        "environment": _environment(task), "labels": _labels(task),
        "network_mode": c.get("network_mode") or "host", "hostname": c.get("hostname"),
        "volumes": _binds(task), "mounts": _mounts(task), "volume_driver": c.get("volume_driver"),
        "stop_signal": parse_signal(task.kill_signal).name,
        "cpu_shares": max(task.resources.cpu_mhz, 2), **_memory(task),
        "privileged": bool(c.get("privileged", False)), "cap_add": c.get("cap_add"),
        "cap_drop": c.get("cap_drop"),
        "security_opt": c.get("security_opt"), "read_only": bool(c.get("readonly_rootfs", False)),
        "runtime": c.get("runtime"), "init": c.get("init"), "tty": bool(c.get("tty", False)),
        "stdin_open": bool(c.get("interactive", False)),
        "ipc_mode": c.get("ipc_mode"), "pid_mode": c.get("pid_mode"), "uts_mode": c.get("uts_mode"),
        "userns_mode": c.get("userns_mode"), "cgroupns": c.get("cgroupns"), "shm_size": c.get("shm_size"),
        "storage_opt": _block(c.get("storage_opt")) or None, "sysctls": _block(c.get("sysctl")) or None,
        "ulimits": _ulimits(c) or None, "pids_limit": c.get("pids_limit"),
        "oom_score_adj": c.get("oom_score_adj"),
        "group_add": c.get("group_add"), "cpuset_cpus": c.get("cpuset_cpus"),
        "dns": c.get("dns_servers"), "dns_search": c.get("dns_search_domains"),
        "dns_opt": c.get("dns_options"),
        "extra_hosts": c.get("extra_hosts"),
        "devices": [_device(_block(d)) for d in c.get("devices") or []] or None,
        "log_config": _log_config(task),
        "healthcheck": {"Test": ["NONE"]} if _block(c.get("healthchecks")).get("disable") else None,
    }
    return {k: v for k, v in settings.items() if v is not None}
