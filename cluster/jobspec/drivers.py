"""Checks of the driver ``config`` blocks Caravan's clients run (docker, raw_exec), with positions.

Nomad validates a task's driver config against the driver plugin's schema; Caravan ships its
drivers with the agent, so it can check them when the job is parsed and say where the mistake is.
Configs of other drivers (exec, java, podman...) pass through unchecked: a client with that
driver will judge them.
"""

from __future__ import annotations

import difflib
from typing import Any

from cluster.jobspec.values import Kind, KindError, convert

__all__ = ["DRIVER_CONFIG", "check_driver_config"]

S, INT, B, D = Kind.STRING, Kind.INT, Kind.BOOL, Kind.DURATION
LS, MS, LA, ANY = Kind.LIST_STRING, Kind.MAP_STRING, Kind.LIST_ANY, Kind.ANY

# driver -> (required keys, {key: kind}); keys as the driver documents them.
DRIVER_CONFIG: dict[str, tuple[frozenset[str], dict[str, Kind]]] = {
    "docker": (
        frozenset({"image"}),
        {
            "image": S, "command": S, "args": LS, "entrypoint": LS, "work_dir": S, "hostname": S,
            "ports": LS, "port_map": LA, "network_mode": S, "network_aliases": LS, "ipv4_address": S,
            "ipv6_address": S, "advertise_ipv6_address": B, "mac_address": S, "dns_servers": LS,
            "dns_search_domains": LS, "dns_options": LS, "extra_hosts": LS, "labels": ANY,
            "volumes": LS, "volume_driver": S, "mount": LA, "mounts": LA, "devices": LA, "privileged": B,
            "cap_add": LS, "cap_drop": LS, "security_opt": LS, "readonly_rootfs": B, "runtime": S,
            "force_pull": B, "image_pull_timeout": S, "load": S, "auth": LA, "auth_soft_fail": B,
            "logging": LA, "interactive": B, "tty": B, "init": B, "ipc_mode": S, "pid_mode": S,
            "uts_mode": S, "userns_mode": S, "cgroupns": S, "shm_size": INT, "storage_opt": ANY,
            "sysctl": ANY, "ulimit": ANY, "memory_hard_limit": INT, "cpu_hard_limit": B,
            "cpu_cfs_period": INT, "cpuset_cpus": S, "pids_limit": INT, "oom_score_adj": INT,
            "group_add": LS, "isolation": S, "healthchecks": LA, "container_exists_attempts": INT,
        },
    ),
    "raw_exec": (
        frozenset({"command"}),
        {
            "command": S, "args": LS, "work_dir": S, "oom_score_adj": INT,
            "cgroup_v1_override": MS, "cgroup_v2_override": S, "denied_envvars": LS,
        },
    ),
}


def check_driver_config(driver: str, config: dict[str, Any]) -> list[tuple[str, str]]:
    """Problems with one task's config as (key, message); key "" means the config as a whole."""
    known = DRIVER_CONFIG.get(driver)
    if known is None:
        return []
    required, kinds = known
    problems: list[tuple[str, str]] = []
    for key in sorted(required - set(config)):
        problems.append(("", f'the {driver} driver needs "{key}" in config'))
    for key, value in config.items():
        kind = kinds.get(key)
        if kind is None:
            close = difflib.get_close_matches(key, list(kinds), n=1)
            hint = f'; did you mean "{close[0]}"?' if close else ""
            problems.append((key, f'unknown {driver} config option "{key}"{hint}'))
            continue
        # Blocks in an opaque config decode as lists of objects; an option that is a block in the
        # driver's schema (logging, auth, mount) is kept as that list.
        try:
            convert(value, kind)
        except KindError as e:
            problems.append((key, str(e)))
    return problems
