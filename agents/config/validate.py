"""Checks of a merged configuration that no single value shows: modes, ports, joins, keys, TLS files.

Each problem is reported at the origin of the value at fault (the file and line, or the flag, that set
it last); a value that already failed to decode is not checked again. Every check runs, so one start
attempt lists every problem.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Callable

from agents.config.addresses import is_ip, normalize_address
from agents.config.layers import Origin
from agents.config.model import SCHEDULER_TYPES, AgentConfig
from agents.config.schema import PLUGINS, ROOT, Section
from cluster.errors import Diagnostic

__all__ = ["LOG_LEVELS", "display_paths", "validate"]

LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF")
_REGION = re.compile(r"^[A-Za-z0-9_-]+$")  # it is part of certificate names: server.<region>.caravan
_NODE_POOL = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_KEY_BYTES = (16, 24, 32)
_DOCKER_SCHEMES = ("unix://", "tcp://", "http://", "https://", "npipe://")
_SERVER_DURATIONS = (
    "min_heartbeat_ttl_s",
    "job_gc_interval_s",
    "job_gc_threshold_s",
    "eval_gc_threshold_s",
    "deployment_gc_threshold_s",
    "node_gc_threshold_s",
)


def display_paths() -> dict[str, str]:
    """Each ``AgentConfig`` field path -> its name in a file (``client.reserved.memory_mb`` ->
    ``client.reserved.memory``), for problems with values that were left at their defaults."""
    paths: dict[str, str] = {}

    def walk(section: Section, key: str, shown: str) -> None:
        for name, inner in section.blocks.items():
            walk(inner, _join(key, inner.key), _join(shown, name))
        for name, attr in section.attrs.items():
            paths.setdefault(_join(key, attr.key), _join(shown, name))

    walk(ROOT, "", "")
    for name, spec in PLUGINS.items():
        walk(spec, f"plugins.{spec.key}", f"plugin[{name}].config")
    return paths


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix and name else prefix or name


_DISPLAY = display_paths()


class _Checker:
    def __init__(self, origins: dict[str, Origin], rejected: set[str]) -> None:
        self.origins = origins
        self.rejected = rejected
        self.problems: list[Diagnostic] = []

    def at(self, path: str) -> Origin:
        return self.origins.get(path) or Origin(field=_DISPLAY.get(path, path))

    def problem(self, path: str, message: str, *, also: tuple[str, ...] = ()) -> None:
        """Reports ``message`` at ``path``'s origin unless ``path`` or a related path failed to decode."""
        if path in self.rejected or any(p in self.rejected for p in also):
            return
        self.problems.append(self.at(path).diagnostic(message))


Check = Callable[[_Checker, AgentConfig, dict[str, Origin]], None]


def validate(
    config: AgentConfig, origins: dict[str, Origin], rejected: set[str], flags: dict[str, Origin]
) -> list[Diagnostic]:
    """Every problem of ``config``; ``flags`` maps the flags given to their origins (for conflicts)."""
    checker = _Checker(origins, rejected)
    for check in _CHECKS:
        check(checker, config, flags)
    return checker.problems


def _modes(c: _Checker, config: AgentConfig, flags: dict[str, Origin]) -> None:
    server, client = config.server, config.client
    if not (server.enabled or client.enabled):
        c.problems.append(
            Diagnostic(
                "neither server nor client is enabled: use -server, -client or -dev, or set "
                "server { enabled = true } or client { enabled = true }"
            )
        )
    if server.bootstrap_expect < 0:
        c.problem("server.bootstrap_expect", "must be 0 or more")
    elif server.bootstrap_expect > 0 and not server.enabled:
        c.problem(
            "server.bootstrap_expect",
            "bootstrap_expect needs server mode: add -server or server { enabled = true }",
            also=("server.enabled",),
        )
    if config.dev_mode and server.bootstrap_expect != 1:
        c.problem(
            "server.bootstrap_expect",
            f"conflicts with -dev, which runs a single server: "
            f"bootstrap_expect must be 1, not {server.bootstrap_expect}",
        )
    joins = server.server_join.retry_join
    if server.enabled and not config.dev_mode and server.bootstrap_expect == 0 and joins:
        c.problem(
            "server.enabled",
            "bootstrap_expect is required when servers join each other "
            "(server_join.retry_join): set it to the number of servers, such as 3",
            also=("server.bootstrap_expect",),
        )
    for name in ("servers", "node-class", "node-pool", "meta"):
        if name in flags and not client.enabled:
            c.problems.append(flags[name].diagnostic(f"-{name} is a client setting: add -client (or -dev)"))
    for name in ("retry-join", "retry-interval", "retry-max"):
        if name in flags and not server.enabled:
            c.problems.append(flags[name].diagnostic(f"-{name} is a server setting: add -server (or -dev)"))


def _dirs(c: _Checker, config: AgentConfig, flags: dict[str, Origin]) -> None:
    if not config.data_dir and not config.dev_mode and (config.server.enabled or config.client.enabled):
        c.problem("data_dir", "data_dir is required: set data_dir in a file or -data-dir")
    for path, value in (
        ("data_dir", config.data_dir),
        ("client.alloc_dir", config.client.alloc_dir),
        ("client.state_dir", config.client.state_dir),
    ):
        if value and not os.path.isabs(value):
            c.problem(path, f"must be an absolute path, got {value!r}")


def _names(c: _Checker, config: AgentConfig, flags: dict[str, Origin]) -> None:
    if not _REGION.match(config.region):
        c.problem("region", f"{config.region!r} is not a region name (letters, digits, - and _)")
    if not config.datacenter or any(ch.isspace() or ch == "*" for ch in config.datacenter):
        c.problem("datacenter", f"{config.datacenter!r} is not a datacenter name (no spaces or *)")
    if not config.name or any(ch.isspace() for ch in config.name):
        c.problem("name", f"{config.name!r} is not a node name (no spaces)")
    if config.log_level.upper() not in LOG_LEVELS:
        c.problem("log_level", f"{config.log_level!r} is not a log level; use one of {', '.join(LOG_LEVELS)}")


def _network(c: _Checker, config: AgentConfig, flags: dict[str, Origin]) -> None:
    # An address left empty follows bind_addr: checked (and reported) once, as bind_addr.
    explicit = [(f"addresses.{n}", getattr(config.addresses, n)) for n in ("http", "rpc", "serf")]
    for path, address in [("bind_addr", config.bind_addr)] + [(p, a) for p, a in explicit if p in c.origins]:
        if "{{" in address:
            c.problem(path, "go-sockaddr templates are not supported; write an IP address")
        elif not is_ip(address):
            c.problem(path, f"{address!r} is not an IP address")
    used: dict[tuple[str, int], str] = {}
    for name in ("http", "rpc", "serf"):
        port, path = getattr(config.ports, name), f"ports.{name}"
        if not 0 < port < 65536:
            c.problem(path, f"port {port} is not from 1 to 65535")
            continue
        key = (getattr(config.addresses, name), port)
        if key in used:
            c.problem(path, f"port {port} is already the {used[key]} port on {key[0]}")
        used[key] = name
    for i, entry in enumerate(config.server.server_join.retry_join):
        _address(c, f"server.server_join.retry_join[{i}]", entry)
    for i, entry in enumerate(config.client.servers):
        _address(c, f"client.servers[{i}]", entry)


def _address(c: _Checker, path: str, entry: str) -> None:
    try:
        normalize_address(entry, 1)
    except ValueError as e:
        c.problem(path, f"{entry!r}: {e}", also=(path.partition("[")[0],))


def _server(c: _Checker, config: AgentConfig, flags: dict[str, Origin]) -> None:
    server = config.server
    join = server.server_join
    if join.retry_interval_s <= 0:
        c.problem("server.server_join.retry_interval_s", "must be a positive duration")
    if join.retry_max < 0:
        c.problem("server.server_join.retry_max", "must be 0 (retry forever) or more")
    if server.num_schedulers < 0:
        c.problem("server.num_schedulers", "must be 0 or more")
    for name in server.enabled_schedulers:
        if name not in SCHEDULER_TYPES:
            c.problem(
                "server.enabled_schedulers", f"unknown scheduler {name!r}; use {', '.join(SCHEDULER_TYPES)}"
            )
    for name in _SERVER_DURATIONS:
        if getattr(server, name) <= 0:
            c.problem(f"server.{name}", "must be a positive duration")
    if server.max_heartbeats_per_second <= 0:
        c.problem("server.max_heartbeats_per_second", "must be positive")
    if server.heartbeat_grace_s < 0:
        c.problem("server.heartbeat_grace_s", "must not be negative")
    if server.encrypt:
        _cluster_key(c, server.encrypt)
    elif not config.dev_mode and not config.tls.rpc and (server.enabled or config.client.enabled):
        c.problem(
            "server.encrypt",
            "RPC needs a cluster key (server.encrypt or -encrypt, 32 bytes in base64) "
            "or mutual TLS (tls { rpc = true })",
        )


def _cluster_key(c: _Checker, text: str) -> None:
    """The key is never shown: a message that quoted it would copy it into logs."""
    try:
        size = len(base64.b64decode(text, validate=True))
    except binascii.Error:
        c.problem("server.encrypt", "the cluster key is not valid base64")
        return
    if size not in _KEY_BYTES:
        c.problem(
            "server.encrypt",
            f"the cluster key is {size} bytes; it must be 16, 24 or 32 bytes "
            "(make one with: openssl rand -base64 32)",
        )


def _client(c: _Checker, config: AgentConfig, flags: dict[str, Origin]) -> None:
    client = config.client
    if client.enabled and not client.servers and not config.server.enabled:
        c.problem(
            "client.enabled",
            "a client needs servers to register with: set client { servers = [...] } or -servers",
            also=("client.servers",),
        )
    if not _NODE_POOL.match(client.node_pool) or client.node_pool == "all":
        c.problem(
            "client.node_pool",
            f"{client.node_pool!r} is not a node pool a client can join "
            '(letters, digits, - and _; not "all")',
        )
    reserved = client.reserved
    for name in ("cpu_mhz", "memory_mb", "disk_mb"):
        if getattr(reserved, name) < 0:
            c.problem(f"client.reserved.{name}", "must be 0 or more")
    for name in ("cpu_total_compute_mhz", "memory_total_mb"):
        if getattr(client, name) < 0:
            c.problem(f"client.{name}", "must be 0 (fingerprint it) or more")
    if client.max_kill_timeout_s <= 0:
        c.problem("client.max_kill_timeout_s", "must be a positive duration")
    if any(not key for key in client.meta):
        c.problem("client.meta", "meta keys must not be empty")


def _tls(c: _Checker, config: AgentConfig, flags: dict[str, Origin]) -> None:
    tls = config.tls
    if tls.tls_min_version not in ("tls12", "tls13"):
        c.problem("tls.tls_min_version", f"{tls.tls_min_version!r}: Caravan needs tls12 or tls13")
    if not (tls.rpc or tls.http):
        return
    enabler = "tls.rpc" if tls.rpc else "tls.http"
    for name in ("ca_file", "cert_file", "key_file"):
        value = getattr(tls, name)
        if not value:
            c.problem(enabler, f"TLS is on but tls.{name} is not set")
        elif not os.path.isfile(value):
            c.problem(f"tls.{name}", f"{value}: no such file")


def _acl_and_plugins(c: _Checker, config: AgentConfig, flags: dict[str, Origin]) -> None:
    for name in ("token_ttl_s", "policy_ttl_s", "role_ttl_s"):
        if getattr(config.acl, name) <= 0:
            c.problem(f"acl.{name}", "must be a positive duration")
    docker = config.plugins.docker
    if not docker.endpoint.startswith(_DOCKER_SCHEMES):
        c.problem("plugins.docker.endpoint", f"{docker.endpoint!r}: expected unix://, tcp:// or http(s)://")
    for name in ("gc_image_delay_s", "pull_activity_timeout_s"):
        if getattr(docker, name) < 0:
            c.problem(f"plugins.docker.{name}", "must not be negative")


_CHECKS: tuple[Check, ...] = (_modes, _dirs, _names, _network, _server, _client, _tls, _acl_and_plugins)
