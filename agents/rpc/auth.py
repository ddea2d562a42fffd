"""Who may talk to whom: roles, the credentials of each end, and the cluster-key proofs.

Every connection has one role, ``server``, ``client`` or ``web``, and every endpoint lists the roles
that may call it. How the role is established depends on the configuration:

- **Mutual TLS**: both ends present certificates signed by the cluster CA, and the caller's certificate
  names its role as ``<role>.<region>.caravan`` in its common name or a DNS subject alternative name
  (like Nomad's ``server.global.nomad``). The caller claims a role in its ``Hello``; the server refuses
  the connection unless the certificate grants it.
- **Cluster key** (no TLS): the caller claims a role and both ends prove they hold the shared key with
  HMAC-SHA256 over both sides' fresh nonces. The claimed role and the caller's name are inside the MAC,
  so they cannot be changed in flight; the key itself never crosses the wire.

Both can be on at once (the key is then checked as well). A server with neither refuses to start: an
RPC port open to anyone who can reach it is never what an operator wants.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import ssl
from dataclasses import dataclass, field
from typing import Any

import msgspec

__all__ = [
    "ClientAuth",
    "Role",
    "ServerAuth",
    "certificate_roles",
    "handshake_mac",
    "server_name",
]

MIN_KEY_BYTES = 16


class Role(enum.StrEnum):
    """What an authenticated peer is: a server agent, a client agent or the web application."""

    SERVER = "server"
    CLIENT = "client"
    WEB = "web"


@dataclass(frozen=True, slots=True)
class ServerAuth:
    """How an RPC server authenticates callers. ``tls`` must require client certificates
    (``tls.server_context`` builds one); ``cluster_key`` is never shown in a repr or a log."""

    name: str
    region: str
    cluster_key: bytes | None = field(default=None, repr=False)
    tls: ssl.SSLContext | None = None

    def __post_init__(self) -> None:
        assert self.cluster_key is not None or self.tls is not None, (
            "an RPC server needs a cluster key or TLS"
        )
        assert self.cluster_key is None or len(self.cluster_key) >= MIN_KEY_BYTES, "cluster key too short"
        assert self.tls is None or self.tls.verify_mode == ssl.CERT_REQUIRED, "RPC TLS must be mutual"


@dataclass(frozen=True, slots=True)
class ClientAuth:
    """How a caller authenticates: the role it acts in, its name, and the key and/or TLS context.

    With ``verify_server_hostname`` the server's certificate must be ``server.<region>.caravan`` for the
    region called (``tls.client_context`` turns hostname checking on to match).
    """

    role: Role
    name: str
    region: str
    cluster_key: bytes | None = field(default=None, repr=False)
    tls: ssl.SSLContext | None = None
    verify_server_hostname: bool = False

    def __post_init__(self) -> None:
        assert self.cluster_key is not None or self.tls is not None, (
            "an RPC caller needs a cluster key or TLS"
        )
        assert self.cluster_key is None or len(self.cluster_key) >= MIN_KEY_BYTES, "cluster key too short"


def server_name(region: str) -> str:
    """The name a server's certificate carries in ``region``: ``server.<region>.caravan``."""
    return f"server.{region}.caravan"


def handshake_mac(
    key: bytes, side: str, fields: tuple[str, str, str, str], caller_nonce: bytes, server_nonce: bytes
) -> bytes:
    """HMAC-SHA256 proving that ``side`` ("server" or "caller") holds ``key`` for this handshake.

    ``fields`` are the caller's claims (protocol, role, name, region). The side is part of the message,
    so a proof cannot be reflected back as the other side's; everything is msgpack-encoded, so no two
    different field tuples give the same bytes.
    """
    assert side in ("server", "caller"), side
    message = msgspec.msgpack.encode([side, *fields, caller_nonce, server_nonce])
    return hmac.new(key, message, hashlib.sha256).digest()


_ROLE_NAME = re.compile(r"^(server|client|web)\.([A-Za-z0-9_-]+)\.caravan$", re.IGNORECASE)


def certificate_roles(peercert: dict[str, Any]) -> set[tuple[Role, str]]:
    """The (role, region) pairs a verified peer certificate grants, from its CN and DNS SANs.

    ``peercert`` is ``SSLObject.getpeercert()``: the subject is a tuple of RDNs, each a tuple of
    (attribute, value) pairs; ``subjectAltName`` a tuple of (type, value) pairs.
    """
    names = [value for rdn in peercert.get("subject", ()) for (attr, value) in rdn if attr == "commonName"]
    names += [value for (kind, value) in peercert.get("subjectAltName", ()) if kind == "DNS"]
    granted: set[tuple[Role, str]] = set()
    for name in names:
        match = _ROLE_NAME.match(name)
        if match:
            granted.add((Role(match.group(1).lower()), match.group(2)))
    return granted
