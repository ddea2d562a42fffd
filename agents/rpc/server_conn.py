"""One accepted RPC connection on the server: handshake, then requests run concurrently until it ends.

Each request runs as its own task, so a slow handler (a blocking query) never holds up the others on
the connection; at most ``max_inflight_per_connection`` run at once, after which the connection simply
stops reading (TCP pushes back on the caller). Replies go out in the order handlers finish.

A connection ends in one of four ways:

- the caller closes it: running handlers are cancelled (nobody is left to read their answers);
- it stays idle (no request running, no frame) for ``idle_timeout_s``;
- the server shuts down: running handlers get ``shutdown_grace_s`` to finish;
- the caller breaks the protocol (a malformed or oversized frame): it is closed at once.

In the last three the server first sends ``Goodbye`` with the id of the last request it read, then
keeps reading (and discarding) briefly until the caller closes, so the kernel does not turn the close
into a reset that would destroy the ``Goodbye`` before the caller reads it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import ssl
from dataclasses import dataclass

import msgspec

from agents.rpc.auth import ServerAuth
from agents.rpc.endpoints import CallContext, Registry
from agents.rpc.errors import (
    ConnectionFailed,
    ConnectionLost,
    FrameTooLarge,
    ProtocolError,
    RemoteError,
    RPCTimeout,
    UnknownMethod,
    error_to_wire,
)
from agents.rpc.frames import (
    DEFAULT_MAX_FRAME_BYTES,
    HANDSHAKE_MAX_FRAME_BYTES,
    Cancel,
    Failure,
    Goodbye,
    Request,
    Response,
    encode_frame,
    encode_value,
    read_frame,
)
from agents.rpc.handshake import Peer, server_handshake
from cluster.errors import CaravanError, InvalidInput, PermissionDenied, Unavailable

__all__ = ["ServerConnection", "ServerOptions", "linger_and_close"]

log = logging.getLogger(__name__)

_LINGER_S = 1.0
_READ_CHUNK_BYTES = 64 << 10


@dataclass(frozen=True, slots=True)
class ServerOptions:
    """The limits of an RPC server. Every one is a bound on what a caller can make the server hold."""

    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    max_connections: int = 1024
    max_inflight_per_connection: int = 256
    idle_timeout_s: float = 120.0
    handshake_timeout_s: float = 5.0
    # A request that asks for no timeout, or a longer one, is cut here (blocking queries wait <= 10 min).
    max_request_timeout_s: float = 900.0
    shutdown_grace_s: float = 5.0

    def __post_init__(self) -> None:
        assert self.max_frame_bytes >= HANDSHAKE_MAX_FRAME_BYTES
        assert self.max_connections > 0 and self.max_inflight_per_connection > 0
        assert self.idle_timeout_s > 0 and self.handshake_timeout_s > 0 and self.max_request_timeout_s > 0


class ServerConnection:
    """Serves one connection; ``run`` returns when it is closed."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        registry: Registry,
        auth: ServerAuth,
        options: ServerOptions,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._registry = registry
        self._auth = auth
        self._options = options
        self._loop = asyncio.get_running_loop()
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(options.max_inflight_per_connection)
        self._last_request_id = 0
        self._last_activity = self._loop.time()
        self._idle_handle: asyncio.TimerHandle | None = None
        self._read_task: asyncio.Task[None] | None = None
        self._goodbye_sent = False
        self._grace_s = 0.0
        self.peer: Peer | None = None
        self.address = _peer_address(writer)

    # -- life cycle --------------------------------------------------------------------------------

    async def run(self) -> None:
        """Handshake, then serve until the connection ends; the stream is always closed on return."""
        try:
            self.peer = await self._handshake()
            if self.peer is None:
                return
            self._arm_idle_timer(self._options.idle_timeout_s)
            self._read_task = asyncio.create_task(self._read_loop())
            await asyncio.wait([self._read_task])
            await self._finish_inflight()
            if self._goodbye_sent:
                await linger_and_close(self._reader, self._writer)
        finally:
            if self._idle_handle is not None:
                self._idle_handle.cancel()
            if self._read_task is not None:  # still running if this task itself was cancelled
                self._read_task.cancel()
                await asyncio.gather(self._read_task, return_exceptions=True)
            await self._cancel_inflight()
            await _close(self._writer)

    @property
    def authenticated(self) -> bool:
        """False while the handshake runs."""
        return self.peer is not None

    def shutdown(self) -> None:
        """Starts a graceful close: ``Goodbye``, then running handlers get ``shutdown_grace_s``."""
        assert self.peer is not None, "cancel a connection still in its handshake instead"
        error = ConnectionFailed(f"server {self._auth.name} is shutting down")
        self._goodbye(error, retry=True, grace_s=self._options.shutdown_grace_s)

    async def _handshake(self) -> Peer | None:
        peercert = self._writer.get_extra_info("peercert") if self._auth.tls is not None else None
        try:
            return await asyncio.wait_for(
                server_handshake(self._reader, self._writer, self._auth, peercert),
                self._options.handshake_timeout_s,
            )
        except CaravanError as e:
            log.info("RPC connection from %s refused: %s", self.address, e)
            await linger_and_close(self._reader, self._writer)
        except TimeoutError:
            log.info(
                "RPC connection from %s: no handshake within %g s",
                self.address,
                self._options.handshake_timeout_s,
            )
        except (OSError, ssl.SSLError, asyncio.IncompleteReadError) as e:
            log.info("RPC connection from %s failed in the handshake: %s", self.address, e)
        return None

    def _goodbye(self, error: CaravanError, *, retry: bool, grace_s: float) -> None:
        """Sends ``Goodbye`` once and stops reading; ``run`` then finishes the running handlers."""
        if self._goodbye_sent:
            return
        self._goodbye_sent = True
        self._grace_s = grace_s
        frame = Goodbye(error_to_wire(error), self._last_request_id, retry)
        self._write(encode_frame(frame, self._options.max_frame_bytes))
        if self._read_task is not None and self._read_task is not asyncio.current_task():
            self._read_task.cancel()

    async def _finish_inflight(self) -> None:
        if self._tasks and self._grace_s > 0:
            await asyncio.wait(list(self._tasks.values()), timeout=self._grace_s)

    async def _cancel_inflight(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- idle timeout ------------------------------------------------------------------------------

    def _arm_idle_timer(self, delay_s: float) -> None:
        self._idle_handle = self._loop.call_later(delay_s, self._on_idle_timer)

    def _on_idle_timer(self) -> None:
        idle_s = self._options.idle_timeout_s
        quiet_s = self._loop.time() - self._last_activity
        if self._tasks or quiet_s < idle_s:
            self._arm_idle_timer(idle_s if self._tasks else idle_s - quiet_s)
            return
        error = ConnectionFailed(f"server {self._auth.name} closed the connection after {idle_s:g} s idle")
        self._goodbye(error, retry=True, grace_s=0.0)

    # -- reading -----------------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        """Reads requests and cancellations until the end of the stream or a protocol error."""
        max_bytes = self._options.max_frame_bytes
        while not self._goodbye_sent:
            await self._slots.acquire()
            try:
                frame = await read_frame(self._reader, max_bytes)
            except (FrameTooLarge, ProtocolError) as e:
                log.warning("RPC connection from %s: %s; closing it", self.address, e)
                self._goodbye(e, retry=False, grace_s=0.0)
                return
            except (OSError, ssl.SSLError):
                return
            self._last_activity = self._loop.time()
            if frame is None:
                return
            if isinstance(frame, Request):
                self._start(frame)
                continue
            self._slots.release()
            if isinstance(frame, Cancel):
                task = self._tasks.get(frame.id)
                if task is not None:
                    task.cancel()
                continue
            error = ProtocolError(f"unexpected {type(frame).__name__} frame from a caller")
            log.warning("RPC connection from %s: %s; closing it", self.address, error)
            self._goodbye(error, retry=False, grace_s=0.0)
            return

    def _start(self, request: Request) -> None:
        if request.id <= self._last_request_id:
            self._slots.release()
            self._goodbye(
                ProtocolError(f"request id {request.id} repeats or goes back"), retry=False, grace_s=0.0
            )
            return
        self._last_request_id = request.id
        task = asyncio.create_task(self._serve(request))
        self._tasks[request.id] = task
        task.add_done_callback(functools.partial(self._finished, request.id))

    def _finished(self, request_id: int, _task: asyncio.Task[None]) -> None:
        del self._tasks[request_id]
        self._slots.release()
        self._last_activity = self._loop.time()

    # -- one request -------------------------------------------------------------------------------

    async def _serve(self, request: Request) -> None:
        reply = await self._call(request)
        try:
            data = encode_frame(reply, self._options.max_frame_bytes)
        except FrameTooLarge as e:
            error = FrameTooLarge(f"the result of {request.method} is too large to send: {e}")
            data = encode_frame(Failure(request.id, error_to_wire(error)), self._options.max_frame_bytes)
        self._write(data)
        with contextlib.suppress(OSError, ssl.SSLError):
            await self._writer.drain()

    async def _call(self, request: Request) -> Response | Failure:
        """Checks, decodes and runs one request; every outcome but cancellation becomes a reply."""
        assert self.peer is not None
        endpoint = self._registry.get(request.method)
        if endpoint is None:
            return _failure(
                request, UnknownMethod(f"server {self._auth.name} has no endpoint {request.method!r}")
            )
        if self.peer.role not in endpoint.roles:
            allowed = ", ".join(sorted(endpoint.roles))
            message = f"{request.method} may not be called by role {self.peer.role} (allowed: {allowed})"
            return _failure(request, PermissionDenied(message))
        try:
            args = msgspec.msgpack.decode(request.args, type=endpoint.args_type)
        except (msgspec.ValidationError, msgspec.DecodeError) as e:
            return _failure(request, InvalidInput(f"{request.method}: invalid arguments: {e}"))
        timeout_s = self._timeout_s(request)
        ctx = CallContext(
            method=request.method,
            request_id=request.id,
            role=self.peer.role,
            peer_name=self.peer.name,
            peer_region=self.peer.region,
            peer_address=self.address,
            hops=request.hops,
            deadline=self._loop.time() + timeout_s,
        )
        deadline = asyncio.timeout(timeout_s)
        try:
            async with deadline:
                result = await endpoint.handler(ctx, args)
            if not isinstance(result, endpoint.result_type):
                raise TypeError(f"returned {type(result).__name__}, not {endpoint.result_type.__name__}")
            return Response(request.id, encode_value(result))
        except CaravanError as e:
            return _failure(request, e)
        except TimeoutError:
            if deadline.expired():
                return _failure(
                    request, RPCTimeout(f"{request.method} did not finish within {timeout_s:g} s")
                )
            return self._internal_error(request)
        except Exception:
            return self._internal_error(request)

    def _timeout_s(self, request: Request) -> float:
        cap_s = self._options.max_request_timeout_s
        return min(cap_s, request.timeout_ms / 1000) if request.timeout_ms > 0 else cap_s

    def _internal_error(self, request: Request) -> Failure:
        log.exception("RPC %s (request %d from %s) failed", request.method, request.id, self.address)
        message = f"{request.method} failed on server {self._auth.name} with an internal error (see its log)"
        return _failure(request, RemoteError(message))

    def _write(self, data: bytes) -> None:
        if not self._writer.is_closing():
            self._writer.write(data)
            self._last_activity = self._loop.time()


def _failure(request: Request, error: CaravanError) -> Failure:
    """The reply for a failed request. A handler's own connection errors (a forward that could not
    connect) travel as plain ``Unavailable``: to the caller, ``ConnectionFailed`` means *its* request
    never reached a handler, which is what makes resending it safe."""
    if isinstance(error, ConnectionFailed | ConnectionLost):
        error = Unavailable(str(error))
    return Failure(request.id, error_to_wire(error))


def _peer_address(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        host, port = peer[0], peer[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(peer)


async def linger_and_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Reads and drops what the caller still sends until it closes (at most ``_LINGER_S``), then closes.

    Closing a socket with unread data makes the kernel send a reset, which can destroy the last frame
    we wrote (``Refused``, ``Goodbye``) before the caller reads it.
    """
    with contextlib.suppress(OSError, ssl.SSLError, TimeoutError):
        await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
        async with asyncio.timeout(_LINGER_S):
            while await reader.read(_READ_CHUNK_BYTES):
                pass
    await _close(writer)


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError):
        await writer.wait_closed()
