"""The agent's command-line flags, parsed as Go's ``flag`` package (and so Nomad) parses them.

``-name value``, ``-name=value`` and ``--name=value`` are the same; a boolean flag is ``-server`` or
``-server=false`` (never ``-server false``); parsing stops at ``--`` or the first argument that is not
a flag. Flags become assignments like a file's, applied after every file, so flags win.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from agents.config import schema
from agents.config.layers import COMMAND_LINE, Assignment, Origin
from agents.config.schema import Merge
from cluster.errors import Diagnostic
from cluster.jobspec.values import KindError

__all__ = ["FLAGS", "Flag", "ParsedFlags", "parse_flags"]


@dataclass(frozen=True, slots=True)
class Flag:
    """``path`` is the ``AgentConfig`` field set; "" for ``-dev`` and ``-config``, handled by ``load``."""

    path: str
    convert: Callable[[str], Any]
    boolean: bool = False
    merge: Merge = Merge.REPLACE
    help: str = ""


def _split_servers(text: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in text.split(",") if s.strip())


def _meta(text: str) -> dict[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise KindError(f"expected KEY=VALUE, got {text!r}")
    return {key: value}


_TRUE, _FALSE = {"1", "t", "true", "True", "TRUE"}, {"0", "f", "false", "False", "FALSE"}


def _bool(text: str) -> bool:
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise KindError(f"expected true or false, got {text!r}")


FLAGS: dict[str, Flag] = {
    "dev": Flag("", _bool, boolean=True, help="a server and a client in one process, for development"),
    "server": Flag("server.enabled", _bool, boolean=True, help="run a server"),
    "client": Flag("client.enabled", _bool, boolean=True, help="run a client"),
    "config": Flag("", str, merge=Merge.APPEND, help="a configuration file or folder (repeatable)"),
    "data-dir": Flag("data_dir", str, help="where the agent keeps its state"),
    "bind": Flag("bind_addr", str, help="the address every service binds to"),
    "region": Flag("region", str),
    "dc": Flag("datacenter", str),
    "node": Flag("name", str, help="this agent's name, unique in its region"),
    "log-level": Flag("log_level", str),
    "bootstrap-expect": Flag("server.bootstrap_expect", schema.INT, help="servers to wait for"),
    "retry-join": Flag(
        "server.server_join.retry_join",
        lambda t: (t,),
        merge=Merge.APPEND,
        help="a server to join (repeatable)",
    ),
    "retry-interval": Flag("server.server_join.retry_interval_s", schema.SECONDS),
    "retry-max": Flag("server.server_join.retry_max", schema.INT),
    "encrypt": Flag("server.encrypt", str, help="the cluster key (base64)"),
    "servers": Flag("client.servers", _split_servers, merge=Merge.APPEND, help="servers, comma-separated"),
    "node-class": Flag("client.node_class", str),
    "node-pool": Flag("client.node_pool", str),
    "meta": Flag("client.meta", _meta, merge=Merge.UPDATE, help="KEY=VALUE node metadata (repeatable)"),
    "http-port": Flag("ports.http", schema.INT),
    "rpc-port": Flag("ports.rpc", schema.INT),
    "acl-enabled": Flag("acl.enabled", _bool, boolean=True),
}


@dataclass(frozen=True, slots=True)
class ParsedFlags:
    """What the command line asked for. ``given`` maps each flag used to its origin (for conflicts)."""

    dev: bool
    config_paths: tuple[str, ...]
    assignments: tuple[Assignment, ...]
    given: dict[str, Origin]
    errors: tuple[Diagnostic, ...]


def parse_flags(argv: Sequence[str]) -> ParsedFlags:
    """Parses ``argv`` (without the program and subcommand names); problems are returned, not raised."""
    dev = False
    paths: list[str] = []
    assignments: list[Assignment] = []
    given: dict[str, Origin] = {}
    errors: list[Diagnostic] = []
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--":
            break
        if not arg.startswith("-") or arg == "-":
            errors.append(
                Origin(COMMAND_LINE, field=arg).diagnostic("unexpected argument: the agent takes only flags")
            )
            break
        name, has_value, value = arg.lstrip("-").partition("=")
        origin = Origin(COMMAND_LINE, field=f"-{name}")
        flag = FLAGS.get(name)
        if flag is None:
            errors.append(origin.diagnostic(_unknown_flag(name)))
            continue
        if not has_value and not flag.boolean:
            if not args:
                errors.append(origin.diagnostic(f"flag needs an argument: -{name}"))
                break
            value = args.pop(0)
        try:
            converted = flag.convert(value if has_value or not flag.boolean else "true")
        except KindError as e:
            errors.append(origin.diagnostic(f"invalid value {value!r}: {e}"))
            continue
        given[name] = origin
        if name == "dev":
            dev = converted
        elif name == "config":
            paths.append(converted)
        else:
            assignments.append(Assignment(flag.path, converted, origin, flag.merge))
    return ParsedFlags(dev, tuple(paths), tuple(assignments), given, tuple(errors))


def _unknown_flag(name: str) -> str:
    close = difflib.get_close_matches(name, list(FLAGS), n=1)
    return f"unknown flag -{name}" + (f'; did you mean "-{close[0]}"?' if close else "")
