"""The web application's one way to the server agents: RPC calls in the ``web`` role.

    gw = gateway()                                   # from CARAVAN_SERVERS and CARAVAN_CLUSTER_KEY
    reply = gw.call_sync("Job.Get", JobSpecificRequest(JobID="web"), SingleJobResponse)
    reply = await gw.call("Job.Get", ...)            # the same from any event loop

The pool's connections belong to one event loop, but Django runs sync views in threads and
``async_to_sync`` makes a fresh loop per call, which would strand them. So the gateway owns a loop on a
daemon thread: every call runs there, and callers (sync or async, any loop) wait for its result. Servers
are tried in order; one that does not answer (``Unavailable``) passes the call to the next, as a client
agent fails over.

Settings (read here, not in ``webui.config``): ``CARAVAN_SERVERS`` is a comma-separated list of server
RPC addresses (``127.0.0.1:4647``); ``CARAVAN_CLUSTER_KEY`` the servers' ``encrypt`` key in base64;
``CARAVAN_REGION`` the region the web application acts in (default ``global``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import concurrent.futures
import os
import threading
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec

from agents.rpc import AuthenticationFailed, ClientAuth, ConnectionPool, Role
from cluster.errors import Unavailable

__all__ = ["Gateway", "GatewaySettings", "gateway", "reset_gateway"]

R = TypeVar("R", bound=msgspec.Struct)
T = TypeVar("T")

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_REGION = "global"


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    """Where the servers are and how to prove the web application belongs to the cluster."""

    servers: tuple[str, ...]
    cluster_key: bytes = field(repr=False)
    region: str = DEFAULT_REGION

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> GatewaySettings:
        """Settings from the environment; Unavailable (a 503 at the edge) when they are missing."""
        servers = tuple(a.strip() for a in environ.get("CARAVAN_SERVERS", "").split(",") if a.strip())
        if not servers:
            raise Unavailable("no servers configured: set CARAVAN_SERVERS to their RPC addresses")
        raw_key = environ.get("CARAVAN_CLUSTER_KEY", "").strip()
        if not raw_key:
            raise Unavailable("no cluster key configured: set CARAVAN_CLUSTER_KEY (the servers' encrypt key)")
        try:
            key = base64.b64decode(raw_key, validate=True)
        except binascii.Error:
            raise Unavailable("CARAVAN_CLUSTER_KEY is not valid base64") from None
        return cls(servers=servers, cluster_key=key, region=environ.get("CARAVAN_REGION") or DEFAULT_REGION)


class Gateway:
    """An RPC connection pool in the web role, running on its own event loop thread."""

    def __init__(self, settings: GatewaySettings, *, name: str = "web") -> None:
        self.settings = settings
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="caravan-gateway", daemon=True)
        self._thread.start()
        auth = ClientAuth(role=Role.WEB, name=name, region=settings.region, cluster_key=settings.cluster_key)
        self._pool = self._run(self._new_pool(auth))
        self._closed = False

    @staticmethod
    async def _new_pool(auth: ClientAuth) -> ConnectionPool:
        return ConnectionPool(auth)  # built on the gateway's loop, where it will be used

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    async def call(self, method: str, args: msgspec.Struct, result_type: type[R], *,
                   timeout_s: float = DEFAULT_TIMEOUT_S) -> R:
        """``method`` answered by the first server that answers; awaitable from any event loop."""
        future = asyncio.run_coroutine_threadsafe(self._call(method, args, result_type, timeout_s), self._loop)
        return await asyncio.wrap_future(future)

    def call_sync(self, method: str, args: msgspec.Struct, result_type: type[R], *,
                  timeout_s: float = DEFAULT_TIMEOUT_S) -> R:
        """As :meth:`call`, for sync code (Django's sync views). Must not run on the gateway's loop."""
        assert threading.current_thread() is not self._thread, "call_sync on the gateway loop would deadlock"
        future = asyncio.run_coroutine_threadsafe(self._call(method, args, result_type, timeout_s), self._loop)
        try:
            return future.result()
        except concurrent.futures.CancelledError:
            raise Unavailable(f"{method}: the call was cancelled") from None

    async def call_at(self, address: str, method: str, args: msgspec.Struct, result_type: type[R], *,
                      timeout_s: float = DEFAULT_TIMEOUT_S) -> R:
        """``method`` on the agent at ``address`` (a client agent: logs, stats, restarts), with the web
        application's credentials; no failover, since only that agent holds what is asked."""
        future = asyncio.run_coroutine_threadsafe(self._call_at(address, method, args, result_type, timeout_s),
                                                  self._loop)
        return await asyncio.wrap_future(future)

    def call_at_sync(self, address: str, method: str, args: msgspec.Struct, result_type: type[R], *,
                     timeout_s: float = DEFAULT_TIMEOUT_S) -> R:
        """As :meth:`call_at`, for sync code."""
        assert threading.current_thread() is not self._thread, "call_at_sync on the gateway loop would deadlock"
        future = asyncio.run_coroutine_threadsafe(self._call_at(address, method, args, result_type, timeout_s),
                                                  self._loop)
        try:
            return future.result()
        except concurrent.futures.CancelledError:
            raise Unavailable(f"{method}: the call was cancelled") from None

    async def _call_at(self, address: str, method: str, args: msgspec.Struct, result_type: type[R],
                       timeout_s: float) -> R:
        assert not self._closed, "the gateway is closed"
        try:
            return await self._pool.call(address, method, args, result_type, timeout_s=timeout_s)
        except AuthenticationFailed as e:
            raise Unavailable(f"the agent at {address} refused the web application: {e}") from None

    async def _call(self, method: str, args: msgspec.Struct, result_type: type[R], timeout_s: float) -> R:
        assert not self._closed, "the gateway is closed"
        last: Unavailable = Unavailable("no server listed")
        for address in self.settings.servers:
            try:
                return await self._pool.call(address, method, args, result_type, timeout_s=timeout_s)
            except AuthenticationFailed as e:
                # Our credentials, not the user's: a configuration problem, never a 403 to the user.
                raise Unavailable(f"the servers refused the web application: {e}") from None
            except Unavailable as e:
                last = e
        raise last

    def close(self) -> None:
        """Closes the connections and stops the loop thread."""
        if self._closed:
            return
        self._closed = True
        self._run(self._pool.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


_lock = threading.Lock()
_gateway: Gateway | None = None


def gateway() -> Gateway:
    """The process's gateway, built from the environment on first use."""
    global _gateway
    with _lock:
        if _gateway is None:
            _gateway = Gateway(GatewaySettings.from_environ(os.environ))
        return _gateway


def reset_gateway() -> None:
    """Closes the process's gateway so the next use reads the environment again (tests, reloads)."""
    global _gateway
    with _lock:
        old, _gateway = _gateway, None
    if old is not None:
        old.close()
