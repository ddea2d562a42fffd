"""Durations for people: nanoseconds written the way a job file writes them ("1m30s", "500ms")."""

from __future__ import annotations

from cluster.structs.base import HOUR_NS, MILLISECOND_NS, MINUTE_NS, SECOND_NS

__all__ = ["format_duration"]

_MICROSECOND_NS = 1_000


def format_duration(ns: int) -> str:
    """``90_000_000_000`` -> ``"1m30s"``; zero units are left out (``"2h"``, not ``"2h0m0s"``)."""
    if ns < 0:
        return "-" + format_duration(-ns)
    if ns == 0:
        return "0s"
    if ns < SECOND_NS:
        for unit_ns, suffix in ((MILLISECOND_NS, "ms"), (_MICROSECOND_NS, "µs")):
            if ns >= unit_ns:
                return _decimal(ns, unit_ns) + suffix
        return f"{ns}ns"
    hours, rest = divmod(ns, HOUR_NS)
    minutes, rest = divmod(rest, MINUTE_NS)
    parts = []
    if hours:
        parts.append(f"{hours}h")
    if minutes:
        parts.append(f"{minutes}m")
    if rest:
        parts.append(_decimal(rest, SECOND_NS) + "s")
    return "".join(parts)


def _decimal(value: int, unit: int) -> str:
    whole, frac = divmod(value, unit)
    if not frac:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}.{frac:0{digits}d}".rstrip("0")
