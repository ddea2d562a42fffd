"""The caller's side of one RPC connection: many requests in flight at once, matched to replies by id.

    conn = await Connection.open("10.0.0.5:4647", ClientAuth(role=Role.CLIENT, name="n1", ...))
    reply = await conn.call("Node.UpdateStatus", UpdateStatus(...), UpdateStatusReply, timeout_s=5)

A call waits at most ``timeout_s``; on timeout or cancellation of the calling task the server is sent
``Cancel`` so the handler stops too. Errors raised by the handler come back as the same class (see
``errors.py``). A connection that breaks fails every call in flight with ``ConnectionLost``; a
``Goodbye`` from the server fails the calls it never read with ``ConnectionFailed`` (safe to retry,
which ``ConnectionPool`` does). Usually used through ``ConnectionPool``, which keeps one connection
per server and reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import ssl
from dataclasses import dataclass
from typing import TypeVar

import msgspec

from agents.rpc.auth import ClientAuth, server_name
from agents.rpc.errors import (
    AuthenticationFailed,
    ConnectionFailed,
    ConnectionLost,
    FrameTooLarge,
    ProtocolError,
    RPCTimeout,
    error_from_wire,
)
from agents.rpc.frames import (
    DEFAULT_MAX_FRAME_BYTES,
    Cancel,
    Failure,
    Goodbye,
    Request,
    Response,
    encode_frame,
    encode_value,
    read_frame,
)
from agents.rpc.handshake import caller_handshake
from cluster.errors import CaravanError

__all__ = ["ClientOptions", "Connection", "split_host_port"]

log = logging.getLogger(__name__)

R = TypeVar("R", bound=msgspec.Struct)


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """The caller's limits. ``idle_timeout_s`` is below the server's default (120 s) so that, usually,
    the caller closes an idle connection before the server does."""

    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    connect_timeout_s: float = 5.0
    handshake_timeout_s: float = 5.0
    default_timeout_s: float = 30.0
    idle_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        assert self.max_frame_bytes > 0 and self.connect_timeout_s > 0 and self.handshake_timeout_s > 0
        assert self.default_timeout_s > 0 and self.idle_timeout_s > 0


def split_host_port(address: str) -> tuple[str, int]:
    """("10.0.0.5", 4647) from "10.0.0.5:4647"; IPv6 as "[::1]:4647". ``ValueError`` if malformed."""
    host, sep, port_text = address.rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"expected host:port, got {address!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port_text)


class Connection:
    """One authenticated, multiplexed connection to a server. Open with ``Connection.open``."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        address: str,
        server: str,
        options: ClientOptions,
    ) -> None:
        self.address = address
        self.server = server  # the server's name, from its Welcome
        self._reader = reader
        self._writer = writer
        self._options = options
        self._loop = asyncio.get_running_loop()
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Response | Failure]] = {}
        self._draining = False
        self._closed = False
        self._last_activity = self._loop.time()
        self._idle_handle: asyncio.TimerHandle | None = None
        self._read_task = asyncio.create_task(self._read_loop())
        self._arm_idle_timer(options.idle_timeout_s)

    @classmethod
    async def open(
        cls,
        address: str,
        auth: ClientAuth,
        options: ClientOptions | None = None,
        *,
        region: str | None = None,
    ) -> Connection:
        """Connects and authenticates; ``region`` is the server's (for the TLS server name), default ours.

        Raises ``ConnectionFailed`` if the server cannot be reached or refuses the connection,
        ``AuthenticationFailed`` if either side fails the other's checks.
        """
        options = options or ClientOptions()
        host, port = split_host_port(address)
        hostname = server_name(region or auth.region) if auth.tls is not None else None
        try:
            async with asyncio.timeout(options.connect_timeout_s):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=auth.tls, server_hostname=hostname
                )
        except ssl.SSLError as e:
            raise AuthenticationFailed(f"{address}: TLS refused: {_describe(e)}") from None
        except (ConnectionResetError, BrokenPipeError) as e:
            if auth.tls is None:
                raise ConnectionFailed(f"cannot connect to {address}: {_describe(e)}") from None
            raise ConnectionFailed(
                f"{address}: the server ended the TLS handshake ({_describe(e)}): it may refuse "
                "this caller's TLS version or certificate"
            ) from None
        except (OSError, TimeoutError) as e:
            raise ConnectionFailed(f"cannot connect to {address}: {_describe(e)}") from None
        try:
            async with asyncio.timeout(options.handshake_timeout_s):
                welcome = await caller_handshake(reader, writer, auth)
        except BaseException as e:
            await _close(writer)
            if isinstance(e, TimeoutError):
                raise ConnectionFailed(
                    f"{address}: no handshake answer within {options.handshake_timeout_s:g} s"
                ) from None
            if isinstance(e, ssl.SSLError):
                raise AuthenticationFailed(f"{address}: TLS refused: {_describe(e)}") from None
            if isinstance(e, OSError):
                raise ConnectionFailed(
                    f"{address}: connection closed in the handshake: {_describe(e)}"
                ) from None
            raise
        return cls(reader, writer, address, welcome.name, options)

    @property
    def usable(self) -> bool:
        """True while new calls may be sent (not closed, no ``Goodbye`` received)."""
        return not (self._closed or self._draining or self._writer.is_closing())

    async def call(
        self,
        method: str,
        args: msgspec.Struct,
        result_type: type[R],
        *,
        timeout_s: float | None = None,
        hops: int = 0,
    ) -> R:
        """Calls ``method`` and returns its result; raises what the handler raised, or an RPC error."""
        timeout_s = self._options.default_timeout_s if timeout_s is None else timeout_s
        if not self.usable:
            raise ConnectionFailed(f"the connection to {self.address} is closed")
        request_id = next(self._ids)
        request = Request(request_id, method, encode_value(args), max(1, round(timeout_s * 1000)), hops)
        data = encode_frame(request, self._options.max_frame_bytes)  # FrameTooLarge: nothing sent
        future: asyncio.Future[Response | Failure] = self._loop.create_future()
        self._pending[request_id] = future
        self._write(data)
        try:
            async with asyncio.timeout(timeout_s):
                with contextlib.suppress(OSError, ssl.SSLError):
                    await self._writer.drain()  # a broken connection fails ``future`` from the read loop
                reply = await future
        except TimeoutError:
            self._cancel_remote(request_id)
            raise RPCTimeout(f"{method} on {self.address}: no answer within {timeout_s:g} s") from None
        except asyncio.CancelledError:
            self._cancel_remote(request_id)
            raise
        finally:
            self._pending.pop(request_id, None)
            self._last_activity = self._loop.time()
        if isinstance(reply, Failure):
            raise error_from_wire(reply.error)
        try:
            return msgspec.msgpack.decode(reply.result, type=result_type)
        except (msgspec.ValidationError, msgspec.DecodeError) as e:
            raise ProtocolError(
                f"{method} on {self.address} returned a bad {result_type.__name__}: {e}"
            ) from None

    async def close(self) -> None:
        """Closes the connection; calls still in flight fail with ``ConnectionLost``."""
        self._read_task.cancel()
        await asyncio.gather(self._read_task, return_exceptions=True)

    # -- internals ---------------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        self._writer.write(data)
        self._last_activity = self._loop.time()

    def _cancel_remote(self, request_id: int) -> None:
        if self.usable:
            self._write(encode_frame(Cancel(request_id), self._options.max_frame_bytes))

    async def _read_loop(self) -> None:
        """Delivers replies to their callers until the connection ends, then fails what is left."""
        error: CaravanError = ConnectionLost(f"the connection to {self.address} closed")
        try:
            while True:
                frame = await read_frame(self._reader, self._options.max_frame_bytes)
                self._last_activity = self._loop.time()
                if frame is None:
                    break
                if isinstance(frame, Response | Failure):
                    future = self._pending.get(frame.id)
                    if future is not None and not future.done():
                        future.set_result(frame)
                elif isinstance(frame, Goodbye):
                    error = self._goodbye(frame)
                else:
                    raise ProtocolError(f"unexpected {type(frame).__name__} frame from the server")
                if self._draining and all(f.done() for f in self._pending.values()):
                    break  # every reply the server still owed has arrived
        except (FrameTooLarge, ProtocolError) as e:
            log.warning("RPC connection to %s: %s; closing it", self.address, e)
            error = type(e)(f"{self.address}: {e}")
        except (OSError, ssl.SSLError) as e:
            error = ConnectionLost(f"the connection to {self.address} broke: {_describe(e)}")
        except asyncio.CancelledError:
            error = ConnectionLost(f"the connection to {self.address} was closed by the caller")
            raise
        finally:
            self._shut(error)
            await _close(self._writer)

    def _goodbye(self, frame: Goodbye) -> CaravanError:
        """Fails the calls the server never read; the rest may still get their replies."""
        self._draining = True
        reason = error_from_wire(frame.error)
        for request_id, future in list(self._pending.items()):
            if request_id > frame.last_request_id and not future.done():
                if frame.retry:
                    future.set_exception(ConnectionFailed(f"{self.address}: {reason} (request not read)"))
                else:
                    future.set_exception(error_from_wire(frame.error))
        return ConnectionLost(f"the connection to {self.address} closed before the reply: {reason}")

    def _shut(self, error: CaravanError) -> None:
        self._closed = True
        if self._idle_handle is not None:
            self._idle_handle.cancel()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(error)

    def _arm_idle_timer(self, delay_s: float) -> None:
        self._idle_handle = self._loop.call_later(delay_s, self._on_idle_timer)

    def _on_idle_timer(self) -> None:
        idle_s = self._options.idle_timeout_s
        quiet_s = self._loop.time() - self._last_activity
        if self._pending or quiet_s < idle_s:
            self._arm_idle_timer(idle_s if self._pending else idle_s - quiet_s)
            return
        self._closed = True
        self._read_task.cancel()


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, OSError) and not isinstance(error, ssl.SSLError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError):
        await writer.wait_closed()
