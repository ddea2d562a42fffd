"""From the agent's command line to a complete ``AgentConfig``, as ``nomad agent`` builds its own.

Order: Nomad's defaults (or, with ``-dev``, its dev defaults), then each ``-config`` path in the order
given (a folder contributes its ``*.hcl`` files in name order), then the flags. Every problem from every
file and flag is collected and raised together as one ``ConfigError``; nothing is created on disk for a
bad configuration (the dev data folder is made only once everything checks out).
"""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from agents.config.addresses import normalize_address
from agents.config.decode import DecodedFile, decode_file
from agents.config.errors import ConfigError
from agents.config.flags import parse_flags
from agents.config.layers import COMMAND_LINE, Assignment, Origin, Resolved, resolve
from agents.config.model import AgentConfig
from agents.config.validate import validate
from cluster.errors import Diagnostic

__all__ = ["HostFacts", "Loaded", "config_files", "load"]

DEFAULT_RPC_PORT = 4647


@dataclass(frozen=True, slots=True)
class HostFacts:
    """What the defaults take from the machine (injected, so tests do not depend on it)."""

    hostname: str
    cpu_count: int

    @classmethod
    def detect(cls) -> HostFacts:
        return cls(hostname=socket.gethostname(), cpu_count=os.cpu_count() or 1)


@dataclass(frozen=True, slots=True)
class Loaded:
    """A valid configuration and the warnings met on the way (Nomad settings Caravan ignores)."""

    config: AgentConfig
    warnings: tuple[Diagnostic, ...]


def load(
    argv: Sequence[str],
    *,
    host: HostFacts | None = None,
    make_temp_dir: Callable[[], str] | None = None,
) -> Loaded:
    """The configuration ``nomad agent <argv>`` would run with; ``ConfigError`` lists every problem."""
    flags = parse_flags(argv)
    files, errors = config_files(flags.config_paths)
    errors = list(flags.errors) + errors
    assignments: list[Assignment] = _dev_defaults() if flags.dev else []
    warnings: list[Diagnostic] = []
    rejected: set[str] = set()
    unreadable = False
    for path in files:
        decoded = _decode_path(path)
        assignments += decoded.assignments
        errors += decoded.errors
        warnings += decoded.warnings
        rejected |= decoded.rejected
        unreadable |= decoded.unreadable
    assignments += flags.assignments
    resolved = resolve(assignments)
    config = _build(resolved, host or HostFacts.detect(), tuple(files))
    if not unreadable:
        errors += validate(config, resolved.origins, rejected, flags.given)
    if errors:
        raise ConfigError(errors)
    return Loaded(_with_folders(config, make_temp_dir or _temp_dir), tuple(warnings))


def config_files(paths: Sequence[str]) -> tuple[list[str], list[Diagnostic]]:
    """The files ``-config`` paths name: a file as given, a folder's ``*.hcl`` files in name order."""
    files: list[str] = []
    errors: list[Diagnostic] = []
    for text in paths:
        origin = Origin(COMMAND_LINE, field="-config")
        path = Path(text)
        if path.is_dir():
            entries = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
            files += [str(p) for p in entries if p.suffix == ".hcl"]
            errors += [_json_unsupported(str(p)) for p in entries if p.suffix == ".json"]
        elif path.is_file():
            if path.suffix == ".json":
                errors.append(_json_unsupported(text))
            else:
                files.append(text)
        else:
            errors.append(origin.diagnostic(f"{text}: no such file or folder"))
    return files, errors


def _json_unsupported(path: str) -> Diagnostic:
    return Diagnostic("JSON agent configuration is not supported; write it in HCL", filename=path)


def _decode_path(path: str) -> DecodedFile:
    try:
        source = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        failed = DecodedFile()
        failed.unreadable = True
        failed.errors.append(Diagnostic(f"cannot read the file: {e}", filename=path))
        return failed
    return decode_file(source, path)


def _dev_defaults() -> list[Assignment]:
    """Nomad's ``-dev`` settings: one process that is a server and a client, on loopback."""
    origin = Origin(COMMAND_LINE, field="-dev")
    settings: dict[str, Any] = {
        "dev_mode": True,
        "bind_addr": "127.0.0.1",
        "log_level": "DEBUG",
        "server.enabled": True,
        "server.bootstrap_expect": 1,
        "client.enabled": True,
        "plugins.raw_exec.enabled": True,
    }
    return [Assignment(path, value, origin) for path, value in settings.items()]


def _build(resolved: Resolved, host: HostFacts, files: tuple[str, ...]) -> AgentConfig:
    """The config with the machine- and field-dependent defaults filled in."""
    values = resolved.values
    values.setdefault("name", host.hostname)
    values.setdefault("server", {}).setdefault("num_schedulers", host.cpu_count)
    if isinstance(values.get("log_level"), str):
        values["log_level"] = values["log_level"].upper()
    bind = values.get("bind_addr", AgentConfig().bind_addr)
    addresses = values.setdefault("addresses", {})
    for name in ("http", "rpc", "serf"):
        addresses[name] = addresses.get(name) or bind
    client = values.setdefault("client", {})
    client["servers"] = tuple(_server_address(s) for s in client.get("servers", ()))
    values["files"] = files
    try:
        return msgspec.convert(values, AgentConfig)
    except msgspec.ValidationError as e:
        raise AssertionError(f"the schema let through a value of the wrong type: {e}") from None


def _server_address(text: str) -> str:
    try:
        return normalize_address(text, DEFAULT_RPC_PORT)
    except ValueError:
        return text  # validate() reports it where it was set


def _with_folders(config: AgentConfig, make_temp_dir: Callable[[], str]) -> AgentConfig:
    """The data folder (a new temporary one for ``-dev`` without ``-data-dir``) and the client's folders."""
    data_dir = config.data_dir or (make_temp_dir() if config.dev_mode else "")
    client = config.client
    if data_dir:
        client = msgspec.structs.replace(
            client,
            alloc_dir=client.alloc_dir or os.path.join(data_dir, "alloc"),
            state_dir=client.state_dir or os.path.join(data_dir, "client"),
        )
    return msgspec.structs.replace(config, data_dir=data_dir, client=client)


def _temp_dir() -> str:
    return tempfile.mkdtemp(prefix="caravan-dev-")
