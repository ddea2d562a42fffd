"""The RPC server: listens on TCP (with TLS when configured) and serves a ``Registry`` of endpoints.

    server = RPCServer(registry, ServerAuth(name="s1", region="global", cluster_key=key))
    host, port = await server.start("127.0.0.1", 4647)
    ...
    await server.close()     # Goodbye to every caller, running handlers get the grace period

At most ``max_connections`` connections are open at once; one more is answered with ``Refused``
(``ConnectionFailed`` on the caller's side, which may try another server) and closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from agents.rpc.auth import ServerAuth
from agents.rpc.endpoints import Registry
from agents.rpc.errors import ConnectionFailed
from agents.rpc.frames import HANDSHAKE_MAX_FRAME_BYTES, read_frame
from agents.rpc.handshake import refuse
from agents.rpc.server_conn import ServerConnection, ServerOptions, linger_and_close
from cluster.errors import CaravanError

__all__ = ["RPCServer"]

log = logging.getLogger(__name__)

# Past the shutdown grace, what a connection may still take to say goodbye and linger.
_CLOSE_SLACK_S = 2.0


class RPCServer:
    """Serves ``registry`` to authenticated callers; see the module docstring."""

    def __init__(self, registry: Registry, auth: ServerAuth, options: ServerOptions | None = None) -> None:
        self.registry = registry  # public: a -dev agent's client adds its endpoints to the server's
        self._auth = auth
        self._options = options or ServerOptions()
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[None], ServerConnection] = {}
        self._refusals: set[asyncio.Task[None]] = set()
        self.address: tuple[str, int] | None = None

    @property
    def connection_count(self) -> int:
        """Open connections (including those still in their handshake)."""
        return len(self._connections)

    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Starts listening; returns the bound (host, port), useful with port 0."""
        assert self._server is None, "started twice"
        self._server = await asyncio.start_server(
            self._accept,
            host,
            port,
            ssl=self._auth.tls,
            ssl_handshake_timeout=self._options.handshake_timeout_s if self._auth.tls else None,
        )
        sockname = self._server.sockets[0].getsockname()
        self.address = (sockname[0], sockname[1])
        log.info("RPC server %s listening on %s:%d", self._auth.name, *self.address)
        return self.address

    async def close(self) -> None:
        """Stops listening and closes every connection, letting running handlers finish within the grace."""
        if self._server is None:
            return
        self._server.close()
        for task, conn in list(self._connections.items()):
            if conn.authenticated:
                conn.shutdown()
            else:
                task.cancel()
        pending = list(self._connections) + list(self._refusals)
        if pending:
            _, late = await asyncio.wait(pending, timeout=self._options.shutdown_grace_s + _CLOSE_SLACK_S)
            for task in late:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        with contextlib.suppress(OSError):
            await self._server.wait_closed()
        self._server = None

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._connections) >= self._options.max_connections:
            refusal = asyncio.create_task(self._refuse(reader, writer))
            self._refusals.add(refusal)
            refusal.add_done_callback(self._refusals.discard)
            return
        conn = ServerConnection(reader, writer, self.registry, self._auth, self._options)
        task = asyncio.create_task(conn.run())
        self._connections[task] = conn
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        del self._connections[task]
        if not task.cancelled() and task.exception() is not None:
            log.error("RPC connection task failed", exc_info=task.exception())

    async def _refuse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answers a connection over the limit: reads its ``Hello`` (so the close is not a reset), refuses."""
        limit = self._options.max_connections
        log.warning(
            "RPC server %s refused a connection: at its limit of %d connections", self._auth.name, limit
        )
        with contextlib.suppress(CaravanError, OSError, TimeoutError):
            async with asyncio.timeout(self._options.handshake_timeout_s):
                await read_frame(reader, HANDSHAKE_MAX_FRAME_BYTES)
        error = ConnectionFailed(f"server {self._auth.name} is at its limit of {limit} connections")
        with contextlib.suppress(OSError):
            refuse(writer, error)
        await linger_and_close(reader, writer)
