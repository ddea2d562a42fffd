"""Output as Nomad's CLI prints it: aligned columns, ``Key = Value`` blocks, short ids, times."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

__all__ = ["columns", "kv", "limit_id", "ns_time", "relative_ns", "rfc3339_ns"]

SHORT_ID = 8


def columns(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A table with columns two spaces apart, as Nomad's ``formatList``."""
    table = [list(header)] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = []
    for row in table:
        cells = [cell.ljust(widths[i]) if i < len(row) - 1 else cell for i, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def kv(pairs: Sequence[tuple[str, Any]]) -> str:
    """``Key = Value`` lines with the ``=`` aligned, as Nomad's ``formatKV``."""
    if not pairs:
        return ""
    width = max(len(k) for k, _ in pairs)
    return "\n".join(f"{k.ljust(width)} = {'<none>' if v in (None, '') else v}" for k, v in pairs)


def limit_id(value: str, full: bool = False) -> str:
    return value if full else value[:SHORT_ID]


def rfc3339_ns(ns: int | None) -> str:
    if not ns:
        return ""
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ns_time(value: Any) -> int:
    """Nanoseconds from what the API answers: ns integers, or RFC 3339 strings (Deployment, ACL times)."""
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value and not value.startswith("0001-"):
        text = value.replace("Z", "+00:00")
        if "." in text:  # trim nanoseconds to what fromisoformat takes
            head, _, rest = text.partition(".")
            digits = "".join(ch for ch in rest if ch.isdigit())
            text = f"{head}.{digits[:6]}{rest[len(digits):]}"
        try:
            return int(datetime.fromisoformat(text).timestamp() * 1e9)
        except ValueError:
            return 0
    return 0


def relative_ns(ns: int | None, now_ns: int | None = None) -> str:
    """"5m ago" style, as Nomad's alloc tables; exact time for old events."""
    if not ns:
        return ""
    now = now_ns if now_ns is not None else time.time_ns()
    seconds = max(0, (now - ns) // 1_000_000_000)
    if seconds < 60:
        return f"{seconds}s ago"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60}s ago"
    if seconds < 86400:
        return f"{seconds // 3600}h{(seconds % 3600) // 60}m ago"
    return rfc3339_ns(ns)
