"""Server agents as real processes on loopback, and fake clients that talk to them over RPC.

``ServerCluster`` writes one HCL file per server (fast heartbeat TTLs: 1 s plus 1 s of grace), starts
``python -m agents -server -config F`` for each, and kills them at the end. ``FakeNode`` is a client agent
reduced to what the servers see: it registers a node and heartbeats at the TTL it is given, trying the
next server when one does not answer, as a client agent does.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import msgspec

from agents.rpc import ClientAuth, ConnectionPool, Role
from agents.server.endpoints import (
    NodeRegisterRequest,
    NodeUpdateResponse,
    NodeUpdateStatusRequest,
    StatusLeaderResponse,
    StatusRequest,
)
from cluster.errors import CaravanError, Unavailable
from cluster.structs.node import Node

KEY = b"server-agent-test-cluster-key-32"
KEY_B64 = base64.b64encode(KEY).decode()
ROOT = Path(__file__).resolve().parents[3]
R = TypeVar("R", bound=msgspec.Struct)
T = TypeVar("T")


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def server_hcl(name: str, data_dir: Path, rpc: int, serf: int, http: int, join: list[str], expect: int,
               ttl: str = "1s", grace: str = "1s") -> str:
    joined = ", ".join(f'"{a}"' for a in join)
    return f'''
name      = "{name}"
data_dir  = "{data_dir}"
bind_addr = "127.0.0.1"
log_level = "INFO"
ports {{
  http = {http}
  rpc  = {rpc}
  serf = {serf}
}}
server {{
  enabled           = true
  bootstrap_expect  = {expect}
  encrypt           = "{KEY_B64}"
  num_schedulers    = 2
  min_heartbeat_ttl = "{ttl}"
  heartbeat_grace   = "{grace}"
  server_join {{
    retry_join = [{joined}]
  }}
}}
'''


class ServerProcess:
    def __init__(self, root: Path, name: str, rpc: int, serf: int, http: int, join: list[str], expect: int) -> None:
        self.name = name
        self.address = f"127.0.0.1:{rpc}"
        self.dir = root / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config = self.dir / "server.hcl"
        self.config.write_text(server_hcl(name, self.dir / "data", rpc, serf, http, join, expect))
        self.log = self.dir / "agent.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "agents", "-server", "-config", str(self.config)],
                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


class ServerCluster:
    def __init__(self, root: Path, count: int = 3) -> None:
        ports = free_ports(3 * count)
        rpcs = ports[:count]
        join = [f"127.0.0.1:{p}" for p in rpcs]
        self.servers = [
            ServerProcess(root, f"s{i + 1}", rpcs[i], ports[count + i], ports[2 * count + i], join, count)
            for i in range(count)
        ]

    def by_address(self, address: str) -> ServerProcess:
        return next(s for s in self.servers if s.address == address)

    def start(self) -> None:
        for server in self.servers:
            server.start()

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def logs(self) -> str:
        return "\n".join(f"---- {s.name} ----\n{s.output()[-6000:]}" for s in self.servers)


def pool(role: Role, name: str) -> ConnectionPool:
    return ConnectionPool(ClientAuth(role=role, name=name, region="global", cluster_key=KEY))


async def eventually(check: Callable[[], Awaitable[T | None]], timeout_s: float, what: str) -> T:
    """Polls ``check`` until it returns something other than None (errors count as not yet)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    last: BaseException | None = None
    while loop.time() < deadline:
        try:
            result = await check()
        except CaravanError as e:
            last = e
        else:
            if result is not None:
                return result
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what} (last error: {last})")


async def leader_of(p: ConnectionPool, addresses: list[str]) -> str:
    """The leader's RPC address once every listed server names the same one, one of them."""

    async def agreed() -> str | None:
        answers = [await p.call(a, "Status.Leader", StatusRequest(), StatusLeaderResponse, timeout_s=2)
                   for a in addresses]
        leaders = {a.Leader for a in answers}
        return leaders.pop() if len(leaders) == 1 and leaders <= set(addresses) else None

    return await eventually(agreed, 20, f"one leader among {addresses}")


async def call_any(p: ConnectionPool, addresses: list[str], method: str, args: msgspec.Struct,
                   result_type: type[R], timeout_s: float = 5) -> R:
    """Calls the first server that answers (a client agent's failover)."""
    last: CaravanError = Unavailable("no server listed")
    for address in addresses:
        try:
            return await p.call(address, method, args, result_type, timeout_s=timeout_s)
        except Unavailable as e:
            last = e
    raise last


class FakeNode:
    """A registered node that heartbeats until ``stop_heartbeats``."""

    def __init__(self, node: Node, servers: list[str]) -> None:
        self.node = node
        self.servers = servers
        self.pool = pool(Role.CLIENT, node.Name)
        self.ttl_ns = 0
        self._task: asyncio.Task[None] | None = None

    async def register(self) -> NodeUpdateResponse:
        reply = await call_any(self.pool, self.servers, "Node.Register", NodeRegisterRequest(Node=self.node),
                               NodeUpdateResponse)
        self.ttl_ns = reply.HeartbeatTTL
        self._task = asyncio.create_task(self._heartbeats())
        return reply

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(max(0.05, self.ttl_ns / 1e9 / 4))
            with contextlib.suppress(CaravanError):
                reply = await call_any(self.pool, self.servers, "Node.UpdateStatus",
                                       NodeUpdateStatusRequest(NodeID=self.node.ID, Status="ready"),
                                       NodeUpdateResponse, timeout_s=2)
                self.ttl_ns = reply.HeartbeatTTL

    async def stop_heartbeats(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def close(self) -> None:
        await self.stop_heartbeats()
        await self.pool.close()
