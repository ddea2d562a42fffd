"""What an agent configuration file may contain: Nomad's names, their kinds, and where each value goes.

A ``Section`` describes a block body: its attributes (``Attr``) and nested blocks. Each ``Attr`` names
the field of ``model.py`` it fills (a dotted path relative to the section, so Nomad's older spellings
such as ``server { retry_join = [...] }`` can land in ``server_join``), the conversion from the HCL value,
and how a later file merges with an earlier one (Nomad's rule: later values win, lists append).

``IGNORED`` lists Nomad settings that have no effect in Caravan (telemetry, the UI, update checks):
they are accepted with a warning, so an existing Nomad configuration loads, and anything else unknown
is an error.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cluster.jobspec.values import Kind, KindError, convert, describe

__all__ = ["IGNORED", "PLUGINS", "ROOT", "Attr", "Merge", "Section"]

_NS_PER_S = 1_000_000_000


class Merge(enum.Enum):
    REPLACE = "replace"  # a later file's value replaces an earlier one
    APPEND = "append"  # a later file's list is added after an earlier one (duplicates dropped)
    UPDATE = "update"  # a later file's map entries are added to, or replace, an earlier one's


@dataclass(frozen=True, slots=True)
class Attr:
    key: str
    convert: Callable[[Any], Any]
    merge: Merge = Merge.REPLACE
    also_block: bool = False  # ``meta { k = "v" }`` as well as ``meta = { k = "v" }``


@dataclass(frozen=True, slots=True)
class Section:
    name: str  # how messages name it: "the server block"
    key: str  # the field of the enclosing struct
    attrs: dict[str, Attr] = field(default_factory=dict)
    blocks: dict[str, Section] = field(default_factory=dict)


def _kind(kind: Kind) -> Callable[[Any], Any]:
    return lambda value: convert(value, kind)


def _seconds(value: Any) -> float | None:
    ns = convert(value, Kind.DURATION)
    return None if ns is None else ns / _NS_PER_S


def _strings(value: Any) -> tuple[str, ...] | None:
    items = convert(value, Kind.LIST_STRING)
    return None if items is None else tuple(items)


_PORT_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


def parse_port_list(value: Any) -> tuple[int, ...] | None:
    """Nomad's port list: ``"22,80,8000-8010"`` (also a single number) -> every port, sorted."""
    text = convert(value, Kind.STRING)
    if text is None or not text.strip():
        return None if text is None else ()
    ports: set[int] = set()
    for part in text.split(","):
        match = _PORT_RANGE.match(part)
        if not match:
            raise KindError(f'expected ports such as "22,80,8000-8010", got {describe(text)}')
        low = int(match.group(1))
        high = int(match.group(2) or low)
        if not 0 < low <= high <= 65535:
            raise KindError(f"port range {part.strip()!r} is not within 1-65535 (low to high)")
        ports.update(range(low, high + 1))
    return tuple(sorted(ports))


def parse_disk_threshold(value: Any) -> dict[str, float | int] | None:
    """``"10%"`` -> {"percent": 10.0, "mb": 0}; ``"2GiB"`` or ``2048`` (MB) -> {"percent": 0, "mb": 2048}."""
    expected = f'expected a percentage such as "5%" or a size such as "2GiB", got {describe(value)}'
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            percent = float(value.strip()[:-1])
        except ValueError:
            raise KindError(expected) from None
        if not 0 <= percent < 100:
            raise KindError(f"a percentage from 0 to 100 is needed, got {describe(value)}")
        return {"percent": percent, "mb": 0}
    try:
        size_mb = convert(value, Kind.SIZE_MB)
    except KindError:
        raise KindError(expected) from None
    return None if size_mb is None else {"percent": 0.0, "mb": size_mb}


SECONDS = _seconds
STRING = _kind(Kind.STRING)
INT = _kind(Kind.INT)
NUMBER = _kind(Kind.NUMBER)
BOOL = _kind(Kind.BOOL)
MAP = _kind(Kind.MAP_STRING)


def _section(
    name: str, key: str, attrs: dict[str, Attr], blocks: dict[str, Section] | None = None
) -> Section:
    return Section(name, key, attrs, blocks or {})


_ADDRESSES = {n: Attr(n, STRING) for n in ("http", "rpc", "serf")}

SERVER_JOIN = _section(
    "the server_join block",
    "server_join",
    {
        "retry_join": Attr("retry_join", _strings, Merge.APPEND),
        "retry_interval": Attr("retry_interval_s", _seconds),
        "retry_max": Attr("retry_max", INT),
    },
)

SERVER = _section(
    "the server block",
    "server",
    {
        "enabled": Attr("enabled", BOOL),
        "bootstrap_expect": Attr("bootstrap_expect", INT),
        "heartbeat_grace": Attr("heartbeat_grace_s", _seconds),
        "min_heartbeat_ttl": Attr("min_heartbeat_ttl_s", _seconds),
        "max_heartbeats_per_second": Attr("max_heartbeats_per_second", NUMBER),
        "num_schedulers": Attr("num_schedulers", INT),
        "enabled_schedulers": Attr("enabled_schedulers", _strings),
        "job_gc_interval": Attr("job_gc_interval_s", _seconds),
        "job_gc_threshold": Attr("job_gc_threshold_s", _seconds),
        "eval_gc_threshold": Attr("eval_gc_threshold_s", _seconds),
        "deployment_gc_threshold": Attr("deployment_gc_threshold_s", _seconds),
        "node_gc_threshold": Attr("node_gc_threshold_s", _seconds),
        "encrypt": Attr("encrypt", STRING),
        # Nomad's older spellings, from before the server_join block.
        "retry_join": Attr("server_join.retry_join", _strings, Merge.APPEND),
        "retry_interval": Attr("server_join.retry_interval_s", _seconds),
        "retry_max": Attr("server_join.retry_max", INT),
    },
    {"server_join": SERVER_JOIN},
)

RESERVED = _section(
    "the reserved block",
    "reserved",
    {
        "cpu": Attr("cpu_mhz", INT),
        "memory": Attr("memory_mb", INT),
        "disk": Attr("disk_mb", INT),
        "reserved_ports": Attr("reserved_ports", parse_port_list),
    },
)

CLIENT = _section(
    "the client block",
    "client",
    {
        "enabled": Attr("enabled", BOOL),
        "servers": Attr("servers", _strings, Merge.APPEND),
        "node_class": Attr("node_class", STRING),
        "node_pool": Attr("node_pool", STRING),
        "meta": Attr("meta", MAP, Merge.UPDATE, also_block=True),
        "cpu_total_compute": Attr("cpu_total_compute_mhz", INT),
        "memory_total_mb": Attr("memory_total_mb", INT),
        "disk_free_threshold": Attr("disk_free_threshold", parse_disk_threshold),
        "max_kill_timeout": Attr("max_kill_timeout_s", _seconds),
        "gc_interval": Attr("gc_interval_s", _seconds),
        "gc_disk_usage_threshold": Attr("gc_disk_usage_threshold", NUMBER),
        "gc_max_allocs": Attr("gc_max_allocs", INT),
        "alloc_dir": Attr("alloc_dir", STRING),
        "state_dir": Attr("state_dir", STRING),
    },
    {"reserved": RESERVED},
)

RAW_EXEC = _section('plugin "raw_exec" config', "raw_exec", {"enabled": Attr("enabled", BOOL)})

DOCKER = _section(
    'plugin "docker" config',
    "docker",
    {
        "endpoint": Attr("endpoint", STRING),
        "allow_privileged": Attr("allow_privileged", BOOL),
        "allow_caps": Attr("allow_caps", _strings),
        "pull_activity_timeout": Attr("pull_activity_timeout_s", _seconds),
        "extra_labels": Attr("extra_labels", _strings),
        "disable_log_collection": Attr("disable_log_collection", BOOL),
    },
    {
        "volumes": _section("the volumes block", "", {"enabled": Attr("volumes_enabled", BOOL)}),
        "gc": _section(
            "the gc block",
            "",
            {
                "image": Attr("gc_image", BOOL),
                "image_delay": Attr("gc_image_delay_s", _seconds),
                "container": Attr("gc_container", BOOL),
            },
        ),
        "auth": _section(
            "the auth block",
            "",
            {"config": Attr("auth_config", STRING), "helper": Attr("auth_helper", STRING)},
        ),
    },
)

PLUGINS = {"raw_exec": RAW_EXEC, "docker": DOCKER}

ROOT = _section(
    "the agent configuration",
    "",
    {
        "region": Attr("region", STRING),
        "datacenter": Attr("datacenter", STRING),
        "name": Attr("name", STRING),
        "data_dir": Attr("data_dir", STRING),
        "bind_addr": Attr("bind_addr", STRING),
        "log_level": Attr("log_level", STRING),
    },
    {
        "ports": _section("the ports block", "ports", {n: Attr(n, INT) for n in ("http", "rpc", "serf")}),
        "addresses": _section("the addresses block", "addresses", dict(_ADDRESSES)),
        "advertise": _section("the advertise block", "advertise", dict(_ADDRESSES)),
        "server": SERVER,
        "client": CLIENT,
        "acl": _section(
            "the acl block",
            "acl",
            {
                "enabled": Attr("enabled", BOOL),
                "token_ttl": Attr("token_ttl_s", _seconds),
                "policy_ttl": Attr("policy_ttl_s", _seconds),
                "role_ttl": Attr("role_ttl_s", _seconds),
            },
        ),
        "tls": _section(
            "the tls block",
            "tls",
            {
                "http": Attr("http", BOOL),
                "rpc": Attr("rpc", BOOL),
                "ca_file": Attr("ca_file", STRING),
                "cert_file": Attr("cert_file", STRING),
                "key_file": Attr("key_file", STRING),
                "verify_server_hostname": Attr("verify_server_hostname", BOOL),
                "verify_https_client": Attr("verify_https_client", BOOL),
                "tls_min_version": Attr("tls_min_version", STRING),
            },
        ),
    },
)

# Nomad settings that change nothing in Caravan: accepted with a warning. name -> why.
IGNORED: dict[str, str] = {
    "consul": "Caravan has no Consul integration",
    "vault": "Caravan has no Vault integration",
    "telemetry": "Caravan does not export telemetry yet",
    "ui": "the web application serves the UI",
    "autopilot": "Caravan has no autopilot",
    "limits": "Caravan sets its own HTTP and RPC limits",
    "enable_debug": "Caravan has no debug endpoints",
    "disable_update_check": "Caravan never checks for updates",
    "disable_anonymous_signature": "Caravan never checks for updates",
    "leave_on_interrupt": "Caravan agents do not gossip",
    "leave_on_terminate": "Caravan agents do not gossip",
    "enable_syslog": "Caravan logs to standard error",
    "syslog_facility": "Caravan logs to standard error",
    "log_file": "Caravan logs to standard error",
    "plugin_dir": "Caravan's drivers are built in",
}
