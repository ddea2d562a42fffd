"""One multiplexed connection per server address, opened on first use and replaced when it dies.

    pool = ConnectionPool(ClientAuth(role=Role.SERVER, name="s1", region="global", cluster_key=key))
    reply = await pool.call("10.0.0.5:4647", "Job.Register", args, JobRegisterResponse)
    await pool.close()

Concurrent callers to an address share one connection (and wait for the same connect). A connection
that closed (the server restarted, went idle, or broke) is replaced at the next call. A call the server
provably never read (``ConnectionFailed`` from its ``Goodbye``) is sent once more on a fresh
connection; a call that may have run (``ConnectionLost``, ``RPCTimeout``) is never repeated here:
only the caller knows whether repeating it is safe.
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

import msgspec

from agents.rpc.auth import ClientAuth
from agents.rpc.client import ClientOptions, Connection
from agents.rpc.errors import ConnectionFailed

__all__ = ["ConnectionPool"]

R = TypeVar("R", bound=msgspec.Struct)

# Sends of a request the server never read: the first, and one more on a new connection.
_SENDS = 2


class ConnectionPool:
    """Connections to many servers, one per address."""

    def __init__(self, auth: ClientAuth, options: ClientOptions | None = None) -> None:
        self._auth = auth
        self._options = options or ClientOptions()
        self._connections: dict[str, Connection] = {}
        self._connecting: dict[str, asyncio.Task[Connection]] = {}
        self._closed = False

    @property
    def auth(self) -> ClientAuth:
        return self._auth

    def addresses(self) -> list[str]:
        """Addresses the pool holds a connection for (closed ones are forgotten at the next connect)."""
        return sorted(self._connections)

    async def call(
        self,
        address: str,
        method: str,
        args: msgspec.Struct,
        result_type: type[R],
        *,
        timeout_s: float | None = None,
        hops: int = 0,
        region: str | None = None,
    ) -> R:
        """Calls ``method`` at ``address`` (a server of ``region``, default ours), as ``Connection.call``."""
        for attempt in range(1, _SENDS + 1):
            conn = await self.connection(address, region=region)
            try:
                return await conn.call(method, args, result_type, timeout_s=timeout_s, hops=hops)
            except ConnectionFailed:
                if attempt == _SENDS:
                    raise
        raise AssertionError("unreachable")

    async def connection(self, address: str, *, region: str | None = None) -> Connection:
        """The usable connection to ``address``, opened now if there is none."""
        assert not self._closed, "the pool is closed"
        conn = self._connections.get(address)
        if conn is not None and conn.usable:
            return conn
        task = self._connecting.get(address)
        if task is None:
            task = asyncio.create_task(Connection.open(address, self._auth, self._options, region=region))
            self._connecting[address] = task
            task.add_done_callback(lambda t: self._opened(address, t))
            if conn is not None:
                await conn.close()
        return await asyncio.shield(task)

    def _opened(self, address: str, task: asyncio.Task[Connection]) -> None:
        del self._connecting[address]
        if not task.cancelled() and task.exception() is None:
            # Forget connections that closed on their own (idle, server gone) so the table stays small.
            for other in [a for a, c in self._connections.items() if not c.usable]:
                del self._connections[other]
            self._connections[address] = task.result()

    async def close(self) -> None:
        """Closes every connection; calls in flight fail with ``ConnectionLost``."""
        self._closed = True
        for task in list(self._connecting.values()):
            task.cancel()
        await asyncio.gather(*self._connecting.values(), return_exceptions=True)
        connections = list(self._connections.values())
        self._connections.clear()
        await asyncio.gather(*(c.close() for c in connections))
