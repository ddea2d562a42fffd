"""``caravan agent``: run a Caravan agent with Nomad's agent flags and configuration files.

    caravan agent -server -config /etc/caravan.d
    caravan agent -server -data-dir /var/lib/caravan -bootstrap-expect 3 -retry-join 10.0.0.2 -encrypt KEY
    caravan agent -client -servers 10.0.0.2 -data-dir /var/lib/caravan-client -encrypt KEY -config raw_exec.hcl
    caravan agent -dev

Flags and files are Nomad's (``agents.config``). A bad configuration prints every problem, each with its
file, line and field or its flag, and exits 1 without starting anything. ``-server`` runs a server,
``-client`` a client agent, both (or ``-dev``) run one process with a server and a client.

``-dev`` also serves the web application (dashboard at ``/ui/``, the /v1 API) from the same process on
``ports.http`` (``-http-port``, 4646 by default), with ACL off and its database in ``<data_dir>/web``, as
``nomad agent -dev`` serves its UI and API. Other agents leave HTTP to ``caravan web``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from agents.config import AgentConfig, ConfigError, load

__all__ = ["register", "run_agent"]


def register(parser: argparse.ArgumentParser) -> None:
    # Nomad's agent flags are single-dash words argparse would take for unknown options: this parser
    # treats every word as a positional and hands them all to ``agents.config``, which knows the flags
    # (and answers -h with their list).
    parser.prefix_chars = "\0"
    parser.add_argument("flags", nargs=argparse.REMAINDER, help="Nomad agent flags (-server, -config F, ...)")
    parser.set_defaults(func=lambda args: run_agent(args.flags))


def run_agent(argv: Sequence[str]) -> int:
    """Loads the configuration from ``argv`` and runs the agent it describes; returns the exit code."""
    if any(a in ("-h", "-help", "--help") for a in argv):
        sys.stderr.write(_usage())
        return 0
    try:
        loaded = load(list(argv))
    except ConfigError as e:
        sys.stderr.write("==> Error in the agent configuration:\n")
        for diagnostic in e.diagnostics:
            sys.stderr.write(f"    {diagnostic}\n")
        return 1
    for warning in loaded.warnings:
        sys.stderr.write(f"==> Warning: {warning}\n")
    config = loaded.config
    logging.basicConfig(level=config.log_level, stream=sys.stderr,
                        format=f"%(asctime)s {config.name} %(levelname)s %(name)s: %(message)s")
    if config.dev_mode and config.server.enabled and config.client.enabled:
        return asyncio.run(_serve_dev(config))
    if config.client.enabled:
        from agents.client.agent import serve as serve_agents

        return asyncio.run(serve_agents(config))
    from agents.server.agent import serve

    return asyncio.run(serve(config))


def _loopback(address: str) -> str:
    return "127.0.0.1" if address in ("", "0.0.0.0", "::") else address


async def _serve_dev(config: AgentConfig) -> int:
    """The dev agent: server and client (``agents``) and the web application on one event loop."""
    from agents.client.agent import serve as serve_agents
    from agents.client.agent import with_dev_key
    from webui import embedded

    config = with_dev_key(config) if not config.server.encrypt else config
    http_host = _loopback(config.addresses.http or config.bind_addr)
    rpc_host = _loopback(config.addresses.rpc or config.bind_addr)
    try:
        sock = socket.create_server((http_host, config.ports.http))
    except OSError as e:
        sys.stderr.write(f"==> Error starting the agent: HTTP port {http_host}:{config.ports.http}: {e.strerror}\n")
        return 1
    embedded.configure(data_dir=Path(config.data_dir) / "web", servers=f"{rpc_host}:{config.ports.rpc}",
                       cluster_key_b64=config.server.encrypt, dev=True, region=config.region)
    stop = asyncio.Event()
    web = asyncio.create_task(embedded.serve(sock=sock, stop=stop), name="web")
    url = f"http://{http_host}:{config.ports.http}"
    sys.stderr.write(f"==> Caravan dev agent: dashboard {url}/ui/ and API {url}/v1/ (ACL off)\n")
    try:
        return await serve_agents(config)
    finally:
        stop.set()
        await asyncio.gather(web, return_exceptions=True)
        sock.close()


def _usage() -> str:
    from agents.config import FLAGS

    lines = ["Usage: caravan agent [flags]\n", "Flags (Nomad's):\n"]
    for name, flag in sorted(FLAGS.items()):
        lines.append(f"  -{name}" + (f"  {flag.help}" if getattr(flag, "help", "") else "") + "\n")
    return "".join(lines)
