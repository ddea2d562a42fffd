"""The frames of Caravan's RPC protocol and how they travel: a 4-byte big-endian length, then msgpack.

A connection opens with the handshake (``Hello``, ``Challenge``, ``Proof``, then ``Welcome`` or
``Refused``; see ``handshake.py``). After it, the caller sends ``Request`` and ``Cancel`` frames and
the server answers each request with one ``Response`` or ``Failure`` carrying the request's id, in
whatever order the handlers finish. A server that closes a connection on purpose first sends
``Goodbye`` with the id of the last request it read, so that the caller knows which of its requests
never reached a handler and may safely be sent again elsewhere.

Arguments and results are encoded separately (``msgspec.Raw``), so the server can refuse an unknown
method or a caller without the role before decoding any argument.
"""

from __future__ import annotations

import asyncio
import struct

import msgspec

from agents.rpc.errors import ErrorBody, FrameTooLarge, ProtocolError

__all__ = [
    "DEFAULT_MAX_FRAME_BYTES",
    "HANDSHAKE_MAX_FRAME_BYTES",
    "PROTOCOL",
    "Cancel",
    "Challenge",
    "Failure",
    "Frame",
    "Goodbye",
    "Hello",
    "Proof",
    "Refused",
    "Request",
    "Response",
    "Welcome",
    "decode_frame",
    "encode_frame",
    "encode_value",
    "read_frame",
]

PROTOCOL = "caravan-rpc/1"
DEFAULT_MAX_FRAME_BYTES = 16 << 20
# Handshake frames are tiny; a peer that has not authenticated may not make us buffer more.
HANDSHAKE_MAX_FRAME_BYTES = 8 << 10
_LENGTH = struct.Struct(">I")


class Hello(msgspec.Struct, tag="hello", array_like=True, frozen=True):
    """Caller -> server: the protocol spoken, the role claimed, the caller's name and region, and its
    fresh nonce."""

    protocol: str
    role: str
    name: str
    region: str
    nonce: bytes


class Challenge(msgspec.Struct, tag="challenge", array_like=True, frozen=True):
    """Server -> caller: the server's nonce and its proof that it holds the cluster key (or b"")."""

    nonce: bytes
    mac: bytes


class Proof(msgspec.Struct, tag="proof", array_like=True, frozen=True):
    """Caller -> server: the caller's proof that it holds the cluster key (or b"")."""

    mac: bytes


class Welcome(msgspec.Struct, tag="welcome", array_like=True, frozen=True):
    """Server -> caller: the handshake succeeded; the server's name and region."""

    name: str
    region: str


class Refused(msgspec.Struct, tag="refused", array_like=True, frozen=True):
    """Server -> caller: the connection is refused (authentication, connection limit); it closes next."""

    error: ErrorBody


class Request(msgspec.Struct, tag="req", array_like=True, frozen=True):
    """One call. ``timeout_ms`` bounds the handler on the server too; ``hops`` counts forwardings."""

    id: int
    method: str
    args: msgspec.Raw
    timeout_ms: int
    hops: int = 0


class Response(msgspec.Struct, tag="res", array_like=True, frozen=True):
    """The result of request ``id``."""

    id: int
    result: msgspec.Raw


class Failure(msgspec.Struct, tag="err", array_like=True, frozen=True):
    """The error of request ``id``."""

    id: int
    error: ErrorBody


class Cancel(msgspec.Struct, tag="cancel", array_like=True, frozen=True):
    """Caller -> server: the caller gave up on request ``id`` (timeout or cancellation)."""

    id: int


class Goodbye(msgspec.Struct, tag="bye", array_like=True, frozen=True):
    """Server -> caller: the server closes this connection and read no request after
    ``last_request_id``. With ``retry`` (shutdown, idle) those later requests may be sent again on a
    new connection; without it (a broken stream), they fail with ``error``."""

    error: ErrorBody
    last_request_id: int
    retry: bool


Frame = Hello | Challenge | Proof | Welcome | Refused | Request | Response | Failure | Cancel | Goodbye

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Frame)


def encode_frame(frame: Frame, max_bytes: int) -> bytes:
    """The bytes of ``frame`` with its length prefix; ``FrameTooLarge`` if over ``max_bytes``."""
    payload = _encoder.encode(frame)
    if len(payload) > max_bytes:
        raise FrameTooLarge(f"a frame of {len(payload)} bytes is over the limit of {max_bytes} bytes")
    return _LENGTH.pack(len(payload)) + payload


def encode_value(value: msgspec.Struct) -> msgspec.Raw:
    """Arguments or a result, encoded for a ``Request`` or ``Response``."""
    return msgspec.Raw(_encoder.encode(value))


def decode_frame(payload: bytes) -> Frame:
    """The frame in ``payload``; ``ProtocolError`` if it is not one."""
    try:
        frame: Frame = _decoder.decode(payload)
    except msgspec.DecodeError as e:
        raise ProtocolError(f"malformed frame: {e}") from None
    return frame


async def read_frame(reader: asyncio.StreamReader, max_bytes: int) -> Frame | None:
    """The next frame, or None at a clean end of stream (between frames).

    ``FrameTooLarge`` for a length over ``max_bytes`` (nothing more is read: the stream is out of
    step from here), ``ProtocolError`` for an end of stream inside a frame or a malformed frame.
    """
    try:
        header = await reader.readexactly(_LENGTH.size)
    except asyncio.IncompleteReadError as e:
        if not e.partial:
            return None
        raise ProtocolError("the connection closed in the middle of a frame header") from None
    (length,) = _LENGTH.unpack(header)
    if length > max_bytes:
        raise FrameTooLarge(f"a frame of {length} bytes is over the limit of {max_bytes} bytes")
    try:
        payload = await reader.readexactly(length)
    except asyncio.IncompleteReadError:
        raise ProtocolError(f"the connection closed in the middle of a frame of {length} bytes") from None
    return decode_frame(payload)
