"""Host and port text as operators write it: ``10.0.0.5``, ``10.0.0.5:4647``, ``[::1]:4647``, ``nomad-1``."""

from __future__ import annotations

import ipaddress
import re

__all__ = ["is_ip", "normalize_address"]

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)"  # a DNS name: dot-separated labels of letters, digits and inner hyphens
    r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$"
)


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def normalize_address(text: str, default_port: int) -> str:
    """``host:port`` with ``default_port`` added when none is given; ``ValueError`` says what is wrong."""
    host, port = _split(text.strip())
    if not (is_ip(host) or _HOSTNAME.match(host)):
        if "provider=" in text:
            raise ValueError("cloud auto-join is not supported; list the servers' addresses")
        raise ValueError("expected a host name or IP address, optionally with :port")
    number = default_port if port is None else _port(port)
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{number}"


def _split(text: str) -> tuple[str, str | None]:
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise ValueError("expected [IPv6]:port")
        return host, rest[1:] if rest else None
    if text.count(":") > 1:  # a bare IPv6 address
        return text, None
    host, sep, port = text.partition(":")
    return host, port if sep else None


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"port {text!r} is not a number from 1 to 65535")
    return int(text)
