"""``caravan``: the command line, with Nomad's verbs and single-dash flags (``caravan job run -output``).

Exit codes follow Nomad's CLI: 0 success, 1 an error (bad input, failed request), 2 when an
evaluation could not place everything (``job run`` and the other monitored writes); ``job plan``
answers 0 (no changes), 1 (allocations would be created or destroyed) or 255 (error). Errors go to stderr; nothing else is printed for bad input.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cli import acl as acl_cmds
from cli import agent as agent_cmds
from cli import alloc as alloc_cmds
from cli import deployment as deployment_cmds
from cli import job as job_cmds
from cli import node as node_cmds
from cli import operator as operator_cmds
from cli import web as web_cmds
from cluster.errors import CaravanError

__all__ = ["build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    """argparse with Nomad's usage errors: message on stderr, exit code 1."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"Error: {message}\n")
        raise SystemExit(1)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="caravan", description="Caravan, a Nomad-compatible workload orchestrator.")
    sub = parser.add_subparsers(dest="command", metavar="<command>", parser_class=_Parser)
    sub.required = True
    job_cmds.register(sub.add_parser("job", help="Interact with jobs"))
    alloc_cmds.register(sub.add_parser("alloc", help="Interact with allocations"))
    node_cmds.register(sub.add_parser("node", help="Interact with client nodes"))
    deployment_cmds.register(sub.add_parser("deployment", help="Interact with deployments"))
    operator_cmds.register_server(sub.add_parser("server", help="Interact with servers"))
    operator_cmds.register_operator(sub.add_parser("operator", help="Cluster operations (Raft, snapshots)"))
    acl_cmds.register(sub.add_parser("acl", help="ACL tokens and policies"))
    web_cmds.register(sub.add_parser("web", help="Run the web application (dashboard and HTTP API)"))
    agent_cmds.register(sub.add_parser("agent", help="Run a Caravan agent"))
    version = sub.add_parser("version", help="Print the Caravan version")
    version.set_defaults(func=lambda _args: print(f"Caravan v{_version()}") or 0)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("caravan")
    except PackageNotFoundError:
        return "0.0.0+dev"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CaravanError as e:
        sys.stderr.write(f"{e}\n")
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
