"""Network, identifier and hash functions: cidrhost cidrnetmask cidrsubnet uuidv5 md5 sha1 sha256
sha512. All deterministic: there is deliberately no uuid() (random) and no timestamp() (clock)."""

from __future__ import annotations

import hashlib
import ipaddress
import uuid

from cluster.jobspec.hcl.functions.base import INT, STRING, Function, FunctionError, Param, define
from cluster.jobspec.hcl.values import quote

__all__ = ["FUNCTIONS"]

FUNCTIONS: dict[str, Function] = {}
_PREFIX = Param("prefix", STRING)
_STR = Param("str", STRING)
_UUID_NAMESPACES = {
    "dns": uuid.NAMESPACE_DNS,
    "url": uuid.NAMESPACE_URL,
    "oid": uuid.NAMESPACE_OID,
    "x500": uuid.NAMESPACE_X500,
}

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _network(prefix: str) -> Network:
    try:
        return ipaddress.ip_network(prefix, strict=False)
    except ValueError:
        raise FunctionError(f"{quote(prefix)} is not a CIDR prefix such as 10.0.0.0/16", 0) from None


@define(FUNCTIONS, "cidrhost", _PREFIX, Param("hostnum", INT))
def _cidrhost(prefix: str, hostnum: int) -> str:
    """The ``hostnum``-th address in the prefix; negative numbers count back from the end."""
    network = _network(prefix)
    index = hostnum if hostnum >= 0 else network.num_addresses + hostnum
    if not 0 <= index < network.num_addresses:
        raise FunctionError(
            f"host number {hostnum} is outside the {network.num_addresses} addresses of {prefix}", 1
        )
    return str(network.network_address + index)


@define(FUNCTIONS, "cidrnetmask", _PREFIX)
def _cidrnetmask(prefix: str) -> str:
    network = _network(prefix)
    if network.version != 4:
        raise FunctionError("only IPv4 prefixes have a netmask", 0)
    return str(network.netmask)


@define(FUNCTIONS, "cidrsubnet", _PREFIX, Param("newbits", INT), Param("netnum", INT))
def _cidrsubnet(prefix: str, newbits: int, netnum: int) -> str:
    network = _network(prefix)
    new_prefix = network.prefixlen + newbits
    if newbits < 0 or new_prefix > network.max_prefixlen:
        raise FunctionError(
            f"cannot extend the /{network.prefixlen} prefix by {newbits} bits (the maximum is /{network.max_prefixlen})",
            1,
        )
    if not 0 <= netnum < (1 << newbits):
        raise FunctionError(f"network number {netnum} does not fit in {newbits} bits", 2)
    size = 1 << (network.max_prefixlen - new_prefix)
    base = network.network_address + netnum * size
    return str(ipaddress.ip_network(f"{base}/{new_prefix}"))


@define(FUNCTIONS, "uuidv5", Param("namespace", STRING), Param("name", STRING))
def _uuidv5(namespace: str, name: str) -> str:
    """A name-based (SHA-1) UUID; the namespace is dns, url, oid, x500 or a UUID."""
    space = _UUID_NAMESPACES.get(namespace)
    if space is None:
        try:
            space = uuid.UUID(namespace)
        except ValueError:
            raise FunctionError(
                f"the namespace must be dns, url, oid, x500 or a UUID, got {quote(namespace)}", 0
            ) from None
    return str(uuid.uuid5(space, name))


@define(FUNCTIONS, "md5", _STR)
def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


@define(FUNCTIONS, "sha1", _STR)
def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()


@define(FUNCTIONS, "sha256", _STR)
def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@define(FUNCTIONS, "sha512", _STR)
def _sha512(text: str) -> str:
    return hashlib.sha512(text.encode("utf-8")).hexdigest()
