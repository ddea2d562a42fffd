"""Raft's network: TCP connections between servers carrying length-prefixed msgpack frames.

Each server listens on one port and opens one outbound connection to every peer; a message from A to B
always travels on A's connection to B, so a connection carries frames one way only (after the handshake).

Frames are a 4-byte big-endian length and a payload (``cluster.raft.encode_message``). All the messages
queued for a peer while the event loop was busy leave in one ``write``: batching costs no latency, since a
message is never held back waiting for company.

Queues are bounded and the transport never retries: when a peer is slow or down, messages are dropped and
the runtime tells the core (``report_unreachable``, ``report_snapshot``), which probes and resends. Raft is
built for lossy networks; an unbounded queue in front of a dead peer would only grow.

The handshake proves that both ends hold the cluster key, without sending it (HMAC-SHA256 over fresh nonces
of both sides, each side's MAC bound to its role and its node id)::

    server -> client   [PROTOCOL, server nonce]
    client -> server   [client id, client nonce, HMAC(key, "client" | server nonce | client nonce | client id)]
    server -> client   [server id, HMAC(key, "server" | client nonce | server nonce | server id)]

A wrong MAC closes the connection.

TLS (``tls { rpc = true }``): the same frames and handshake travel inside mutual TLS with the agent's RPC
certificates. Both ends present a certificate from the cluster CA, and each checks that the other's names
the server role of this region (``server.<region>.caravan``, as the RPC handshake does): a client or web
certificate, a server certificate of another region, or no certificate at all is refused before any
Raft message is read. The cluster key is still proved inside TLS.

Errors::

    CaravanError
    └── TransportError            a malformed frame or handshake (the connection is closed)
        └── AuthenticationFailed  the other end does not hold the cluster key, is not who it says, or
                                  (TLS) its certificate does not name a server of this region
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import hmac
import logging
import os
import random
import ssl
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import msgspec

from agents.rpc.auth import Role, certificate_roles, server_name
from cluster.errors import CaravanError, InvalidInput
from cluster.raft import Message, decode_message, encode_message

__all__ = [
    "AuthenticationFailed",
    "FrameDecoder",
    "RaftTLS",
    "RaftTransport",
    "TransportConfig",
    "TransportError",
    "check_peer_certificate",
    "encode_frame",
]

log = logging.getLogger(__name__)

PROTOCOL = "caravan-raft/1"
_LENGTH = struct.Struct(">I")
_NONCE_BYTES = 32
_READ_CHUNK_BYTES = 256 << 10
_HANDSHAKE_FRAME_BYTES = 4096

Address = tuple[str, int]
_T = TypeVar("_T")


class TransportError(CaravanError):
    """A peer sent a frame that cannot be decoded, or broke the handshake; its connection is closed."""


class AuthenticationFailed(TransportError):
    """The other end of a connection does not prove it holds the cluster key (or claims another id)."""


@dataclass(frozen=True, slots=True)
class RaftTLS:
    """Mutual TLS for Raft: ``server`` must require caller certificates (``agents.rpc.tls.server_context``);
    peers must hold ``server.<region>.caravan`` certificates."""

    server: ssl.SSLContext
    client: ssl.SSLContext
    region: str

    def __post_init__(self) -> None:
        assert self.server.verify_mode == ssl.CERT_REQUIRED, "Raft TLS must be mutual"
        assert self.client.verify_mode == ssl.CERT_REQUIRED, "a Raft peer must verify the server"


def check_peer_certificate(peercert: dict[str, object] | None, region: str, who: str) -> None:
    """Raises ``AuthenticationFailed`` unless the verified certificate names a server of ``region``."""
    granted = certificate_roles(peercert or {})
    if (Role.SERVER, region) not in granted:
        shown = ", ".join(sorted(f"{r}.{g}" for r, g in granted)) or "none"
        raise AuthenticationFailed(f"{who}'s certificate does not name a server of region {region} "
                                   f"(it grants: {shown})")


@dataclass(frozen=True, slots=True)
class TransportConfig:
    """Limits of the transport. ``max_queue_msgs`` bounds what waits for one peer; past it, messages drop."""

    cluster_key: bytes
    max_queue_msgs: int = 8192
    max_frame_bytes: int = 256 << 20
    connect_timeout_s: float = 1.0
    handshake_timeout_s: float = 2.0
    backoff_min_ms: int = 20
    backoff_max_ms: int = 1000
    tls: RaftTLS | None = None

    def __post_init__(self) -> None:
        if not self.cluster_key:
            raise InvalidInput("raft transport: a cluster key is required (without one, anyone could join)")
        if self.max_queue_msgs < 1 or self.max_frame_bytes < 1:
            raise InvalidInput("raft transport: max_queue_msgs and max_frame_bytes must be at least 1")
        if not 0 < self.backoff_min_ms <= self.backoff_max_ms:
            raise InvalidInput("raft transport: need 0 < backoff_min_ms <= backoff_max_ms")


def encode_frame(payload: bytes) -> bytes:
    """One frame: the payload's length, then the payload."""
    return _LENGTH.pack(len(payload)) + payload


class FrameDecoder:
    """Splits a byte stream into frame payloads; keeps a partial frame until the rest arrives."""

    def __init__(self, max_frame_bytes: int) -> None:
        self._buffer = bytearray()
        self._max = max_frame_bytes

    def feed(self, data: bytes) -> list[bytes]:
        """Every payload completed by ``data``; raises ``TransportError`` for a frame over the limit."""
        buf = self._buffer
        buf += data
        frames: list[bytes] = []
        pos, size = 0, len(buf)
        while size - pos >= 4:
            (length,) = _LENGTH.unpack_from(buf, pos)
            if length > self._max:
                raise TransportError(f"a frame of {length} bytes is over the {self._max} byte limit")
            if size - pos - 4 < length:
                break
            frames.append(bytes(buf[pos + 4 : pos + 4 + length]))
            pos += 4 + length
        if pos:
            del buf[:pos]
        return frames


async def read_frame(reader: asyncio.StreamReader, max_bytes: int) -> bytes:
    """One frame, read on its own (the handshake; the message stream uses ``FrameDecoder``)."""
    (length,) = _LENGTH.unpack(await reader.readexactly(4))
    if length > max_bytes:
        raise TransportError(f"a handshake frame of {length} bytes is over the {max_bytes} byte limit")
    return await reader.readexactly(length)


# ---- handshake -------------------------------------------------------------------------------------


class _Hello(msgspec.Struct, array_like=True, frozen=True):
    protocol: str
    nonce: bytes


class _ClientProof(msgspec.Struct, array_like=True, frozen=True):
    node_id: str
    nonce: bytes
    mac: bytes


class _ServerProof(msgspec.Struct, array_like=True, frozen=True):
    node_id: str
    mac: bytes


def _mac(key: bytes, role: bytes, first_nonce: bytes, second_nonce: bytes, node_id: str) -> bytes:
    message = b"|".join((role, first_nonce, second_nonce, node_id.encode()))
    return hmac.new(key, message, hashlib.sha256).digest()


def _decode_handshake(data: bytes, kind: type[_T]) -> _T:
    try:
        return msgspec.msgpack.decode(data, type=kind)
    except msgspec.DecodeError as exc:
        raise TransportError(f"malformed handshake frame: {exc}") from exc


async def server_handshake(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, key: bytes, node_id: str
) -> str:
    """Challenge a connecting peer; return its proven node id or raise ``AuthenticationFailed``."""
    nonce = os.urandom(_NONCE_BYTES)
    writer.write(encode_frame(msgspec.msgpack.encode(_Hello(PROTOCOL, nonce))))
    proof = _decode_handshake(await read_frame(reader, _HANDSHAKE_FRAME_BYTES), _ClientProof)
    expected = _mac(key, b"client", nonce, proof.nonce, proof.node_id)
    if len(proof.nonce) != _NONCE_BYTES or not hmac.compare_digest(expected, proof.mac):
        raise AuthenticationFailed(f"a peer claiming to be {proof.node_id!r} does not hold the cluster key")
    answer = _ServerProof(node_id, _mac(key, b"server", proof.nonce, nonce, node_id))
    writer.write(encode_frame(msgspec.msgpack.encode(answer)))
    await writer.drain()
    return proof.node_id


async def client_handshake(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, key: bytes, node_id: str, peer_id: str
) -> None:
    """Answer the server's challenge and check its proof that it is ``peer_id`` holding the same key."""
    hello = _decode_handshake(await read_frame(reader, _HANDSHAKE_FRAME_BYTES), _Hello)
    if hello.protocol != PROTOCOL or len(hello.nonce) != _NONCE_BYTES:
        raise TransportError(f"peer {peer_id} speaks {hello.protocol!r}, not {PROTOCOL!r}")
    nonce = os.urandom(_NONCE_BYTES)
    proof = _ClientProof(node_id, nonce, _mac(key, b"client", hello.nonce, nonce, node_id))
    writer.write(encode_frame(msgspec.msgpack.encode(proof)))
    await writer.drain()
    answer = _decode_handshake(await read_frame(reader, _HANDSHAKE_FRAME_BYTES), _ServerProof)
    expected = _mac(key, b"server", nonce, hello.nonce, answer.node_id)
    if answer.node_id != peer_id or not hmac.compare_digest(expected, answer.mac):
        raise AuthenticationFailed(f"the server at {peer_id}'s address is not {peer_id} holding the cluster key")


# ---- outbound: one connection per peer ---------------------------------------------------------------

OnMessage = Callable[[Message], None]
OnDropped = Callable[[Message], None]


class _Peer:
    """The outbound side towards one peer: a bounded queue and the task that connects and writes."""

    def __init__(self, transport: RaftTransport, peer_id: str, address: Address) -> None:
        self.transport = transport
        self.id = peer_id
        self.address = address
        self.queue: collections.deque[Message] = collections.deque()
        self.wake = asyncio.Event()
        self.connected = False
        self.backing_off = False
        self.stopped = False  # besides cancelling: a cancellation can be lost in a race (Python 3.11)
        self.task: asyncio.Task[None] | None = None

    def stop(self) -> None:
        self.stopped = True
        if self.task is not None:
            self.task.cancel()

    def enqueue(self, msg: Message) -> None:
        if self.backing_off or len(self.queue) >= self.transport.config.max_queue_msgs:
            self.transport.on_dropped(msg)
            return
        self.queue.append(msg)
        self.wake.set()

    def drop_queue(self) -> None:
        while self.queue:
            self.transport.on_dropped(self.queue.popleft())

    async def run(self) -> None:
        config = self.transport.config
        backoff_ms = config.backoff_min_ms
        while not self.stopped:
            try:
                reader, writer = await self._connect()
            except (OSError, TransportError, asyncio.IncompleteReadError, TimeoutError) as exc:
                log.debug("raft %s: cannot connect to %s at %s: %s", self.transport.node_id, self.id,
                          self.address, exc)
            else:
                backoff_ms = config.backoff_min_ms
                await self._write_until_broken(reader, writer)
            self.drop_queue()
            self.backing_off = True
            await asyncio.sleep(self.transport.rng.uniform(0.5, 1.0) * backoff_ms / 1000)
            self.backing_off = False
            backoff_ms = min(backoff_ms * 2, config.backoff_max_ms)

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        config = self.transport.config
        host, port = self.address
        tls = config.tls
        async with asyncio.timeout(config.connect_timeout_s + (config.handshake_timeout_s if tls else 0)):
            if tls is None:
                reader, writer = await asyncio.open_connection(host, port)
            else:
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=tls.client, server_hostname=server_name(tls.region),
                    ssl_handshake_timeout=config.handshake_timeout_s)
        try:
            if tls is not None:
                check_peer_certificate(writer.get_extra_info("peercert"), tls.region, f"peer {self.id}")
            async with asyncio.timeout(config.handshake_timeout_s):
                await client_handshake(reader, writer, config.cluster_key, self.transport.node_id, self.id)
        except BaseException:
            writer.close()
            raise
        return reader, writer

    async def _write_until_broken(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Send every queued message, one write per wake-up, until the connection fails."""
        self.connected = True
        watch = asyncio.create_task(reader.read(1))  # the server never writes: EOF here means closed
        watch.add_done_callback(lambda _: self.wake.set())
        try:
            while not watch.done():
                await self.wake.wait()
                self.wake.clear()
                batch = list(self.queue)
                self.queue.clear()
                if not batch:
                    continue
                try:
                    writer.write(b"".join([encode_frame(encode_message(m)) for m in batch]))
                    await writer.drain()
                except (OSError, RuntimeError) as exc:
                    log.debug("raft %s: connection to %s broke: %s", self.transport.node_id, self.id, exc)
                    for msg in batch:
                        self.transport.on_dropped(msg)
                    return
        finally:
            self.connected = False
            watch.cancel()
            writer.close()


# ---- the transport -----------------------------------------------------------------------------------


class RaftTransport:
    """Delivers ``Message``s between servers. ``on_message`` gets each authenticated inbound message,
    ``on_dropped`` each outbound one given up on (queue full, peer unreachable, connection broken)."""

    def __init__(
        self,
        node_id: str,
        listen: Address,
        peers: dict[str, Address],
        config: TransportConfig,
        on_message: OnMessage,
        on_dropped: OnDropped,
        rng: random.Random,
    ) -> None:
        self.node_id = node_id
        self.listen = listen
        self.config = config
        self.on_message = on_message
        self.on_dropped = on_dropped
        self.rng = rng
        self._peers: dict[str, _Peer] = {}
        self._addresses = {pid: addr for pid, addr in peers.items() if pid != node_id}
        self._server: asyncio.Server | None = None
        self._inbound: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Listen, and start connecting to every known peer."""
        host, port = self.listen
        tls = self.config.tls
        self._server = await asyncio.start_server(
            self._serve, host, port, reuse_address=True, ssl=tls.server if tls else None,
            ssl_handshake_timeout=self.config.handshake_timeout_s if tls else None)
        for peer_id, address in self._addresses.items():
            self._start_peer(peer_id, address)

    @property
    def bound_port(self) -> int:
        """The port actually listened on (useful when ``listen`` asked for port 0)."""
        assert self._server is not None and self._server.sockets, "transport not started"
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def addresses(self) -> dict[str, Address]:
        """Every peer's address, and our own."""
        return {**self._addresses, self.node_id: self.listen}

    def connected(self) -> dict[str, bool]:
        return {peer_id: peer.connected for peer_id, peer in self._peers.items()}

    def set_peer(self, peer_id: str, address: Address) -> None:
        """Learn (or correct) a peer's address; a changed address reconnects."""
        if peer_id == self.node_id:
            return
        peer = self._peers.get(peer_id)
        if peer is not None and peer.address == address:
            return
        self.remove_peer(peer_id)
        self._addresses[peer_id] = address
        if self._server is not None:
            self._start_peer(peer_id, address)

    def remove_peer(self, peer_id: str) -> None:
        peer = self._peers.pop(peer_id, None)
        self._addresses.pop(peer_id, None)
        if peer is not None:
            peer.stop()

    def send(self, msg: Message) -> None:
        peer = self._peers.get(msg.to)
        if peer is None:
            self.on_dropped(msg)  # an address we do not know (yet)
            return
        peer.enqueue(msg)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for peer in self._peers.values():
            peer.stop()
        for task in self._inbound:
            task.cancel()
        tasks = [p.task for p in self._peers.values() if p.task is not None] + list(self._inbound)
        await asyncio.gather(*tasks, return_exceptions=True)
        self._peers.clear()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def _start_peer(self, peer_id: str, address: Address) -> None:
        peer = _Peer(self, peer_id, address)
        peer.task = asyncio.create_task(peer.run(), name=f"raft-peer-{peer_id}")
        self._peers[peer_id] = peer

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._inbound.add(task)
        try:
            tls = self.config.tls
            if tls is not None:
                check_peer_certificate(writer.get_extra_info("peercert"), tls.region, "a connecting peer")
            async with asyncio.timeout(self.config.handshake_timeout_s):
                peer_id = await server_handshake(reader, writer, self.config.cluster_key, self.node_id)
            await self._receive(peer_id, reader)
        except (TransportError, asyncio.IncompleteReadError, TimeoutError, OSError) as exc:
            log.warning("raft %s: closed an inbound connection from %s: %s", self.node_id,
                        writer.get_extra_info("peername"), exc)
        except asyncio.CancelledError:
            pass  # stop(); ending normally spares asyncio's server a traceback about a cancelled handler
        finally:
            self._inbound.discard(task)
            writer.close()

    async def _receive(self, peer_id: str, reader: asyncio.StreamReader) -> None:
        decoder = FrameDecoder(self.config.max_frame_bytes)
        while data := await reader.read(_READ_CHUNK_BYTES):
            for payload in decoder.feed(data):
                try:
                    msg = decode_message(payload)
                except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                    raise TransportError(f"malformed message from {peer_id}: {exc}") from exc
                if msg.sender != peer_id or msg.to != self.node_id:
                    raise TransportError(f"{peer_id} sent a message from {msg.sender!r} to {msg.to!r}")
                self.on_message(msg)
