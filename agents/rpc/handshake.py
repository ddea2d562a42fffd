"""The opening of every RPC connection: protocol check, role, and mutual proof of the cluster key.

    caller -> server   Hello(protocol, role, name, region, caller nonce)
    server -> caller   Challenge(server nonce, server MAC)      or Refused(error)
    caller -> server   Proof(caller MAC)
    server -> caller   Welcome(server name, region)              or Refused(error)

The MACs (``auth.handshake_mac``) cover the protocol, the claimed role, the caller's name and region,
and both nonces, so neither side can replay an old handshake and nobody can change the claimed role in flight.
When a side has no cluster key (TLS only), its MAC is empty and the certificate does the work. The
server answers a failed check with ``Refused`` and closes: no endpoint runs on an unauthenticated
connection.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, TypeVar

from agents.rpc.auth import ClientAuth, Role, ServerAuth, certificate_roles, handshake_mac
from agents.rpc.errors import AuthenticationFailed, ProtocolError, error_from_wire, error_to_wire
from agents.rpc.frames import (
    HANDSHAKE_MAX_FRAME_BYTES,
    PROTOCOL,
    Challenge,
    Hello,
    Proof,
    Refused,
    Welcome,
    encode_frame,
    read_frame,
)
from cluster.errors import CaravanError

__all__ = ["Peer", "caller_handshake", "refuse", "server_handshake"]

NONCE_BYTES = 32

F = TypeVar("F", Hello, Challenge, Proof, Welcome)


@dataclass(frozen=True, slots=True)
class Peer:
    """The authenticated caller of a server-side connection."""

    role: Role
    name: str
    region: str


async def server_handshake(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    auth: ServerAuth,
    peercert: dict[str, Any] | None,
) -> Peer:
    """Authenticates the caller; on failure sends ``Refused`` and raises (the caller closes the stream)."""
    try:
        hello = await _expect(reader, Hello)
        role = _claimed_role(hello, auth, peercert)
        nonce = secrets.token_bytes(NONCE_BYTES)
        mac = _mac(auth.cluster_key, "server", hello, nonce)
        writer.write(encode_frame(Challenge(nonce, mac), HANDSHAKE_MAX_FRAME_BYTES))
        proof = await _expect(reader, Proof)
        if auth.cluster_key is not None:
            want = _mac(auth.cluster_key, "caller", hello, nonce)
            if not hmac.compare_digest(proof.mac, want):
                raise AuthenticationFailed("the caller does not hold the cluster key")
    except CaravanError as e:
        refuse(writer, e)
        raise
    writer.write(encode_frame(Welcome(auth.name, auth.region), HANDSHAKE_MAX_FRAME_BYTES))
    return Peer(role=role, name=hello.name, region=_region(hello, role, peercert))


def refuse(writer: asyncio.StreamWriter, error: CaravanError) -> None:
    """Sends ``Refused`` with ``error`` (the connection is closed next by the caller of this function)."""
    writer.write(encode_frame(Refused(error_to_wire(error)), HANDSHAKE_MAX_FRAME_BYTES))


def _claimed_role(hello: Hello, auth: ServerAuth, peercert: dict[str, Any] | None) -> Role:
    if hello.protocol != PROTOCOL:
        raise ProtocolError(f"the caller speaks {hello.protocol!r}; this server speaks {PROTOCOL!r}")
    if len(hello.nonce) != NONCE_BYTES:
        raise ProtocolError(f"the caller's nonce must be {NONCE_BYTES} bytes")
    try:
        role = Role(hello.role)
    except ValueError:
        raise AuthenticationFailed(f"unknown role {hello.role!r}") from None
    if auth.tls is not None:
        granted = {r for (r, _) in certificate_roles(peercert or {})}
        if role not in granted:
            shown = ", ".join(sorted(granted)) or "none"
            raise AuthenticationFailed(
                f"the caller's certificate does not grant the role {role} (it grants: {shown})"
            )
    return role


def _region(hello: Hello, role: Role, peercert: dict[str, Any] | None) -> str:
    """The caller's region: as claimed, unless its certificate names the role for other regions only."""
    if peercert is None:
        return hello.region
    regions = sorted(region for (r, region) in certificate_roles(peercert) if r == role)
    return hello.region if hello.region in regions or not regions else regions[0]


async def caller_handshake(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, auth: ClientAuth
) -> Welcome:
    """Proves the caller's key and checks the server's; raises ``AuthenticationFailed`` or the refusal."""
    hello = Hello(PROTOCOL, str(auth.role), auth.name, auth.region, secrets.token_bytes(NONCE_BYTES))
    writer.write(encode_frame(hello, HANDSHAKE_MAX_FRAME_BYTES))
    try:
        challenge = await _expect(reader, Challenge)
    except ProtocolError:
        if auth.tls is not None and reader.at_eof():
            # Under TLS 1.3 the server checks our certificate after our side of the TLS handshake is done,
            # and a rejection arrives as a bare close.
            raise AuthenticationFailed(
                "the server closed the connection after TLS: it did not accept this caller's certificate"
            ) from None
        raise
    if auth.cluster_key is not None:
        want = _mac(auth.cluster_key, "server", hello, challenge.nonce)
        if not hmac.compare_digest(challenge.mac, want):
            raise AuthenticationFailed("the server does not hold the cluster key")
    writer.write(
        encode_frame(
            Proof(_mac(auth.cluster_key, "caller", hello, challenge.nonce)), HANDSHAKE_MAX_FRAME_BYTES
        )
    )
    return await _expect(reader, Welcome)


def _mac(key: bytes | None, side: str, hello: Hello, server_nonce: bytes) -> bytes:
    if key is None:
        return b""
    fields = (hello.protocol, hello.role, hello.name, hello.region)
    return handshake_mac(key, side, fields, hello.nonce, server_nonce)


async def _expect(reader: asyncio.StreamReader, kind: type[F]) -> F:
    """The next frame, which must be a ``kind``; a ``Refused`` raises the error it carries."""
    frame = await read_frame(reader, HANDSHAKE_MAX_FRAME_BYTES)
    if isinstance(frame, kind):
        return frame
    if isinstance(frame, Refused):
        raise error_from_wire(frame.error)
    if frame is None:
        raise ProtocolError(f"the connection closed during the handshake (waiting for {kind.__name__})")
    raise ProtocolError(f"expected {kind.__name__} in the handshake, got {type(frame).__name__}")
