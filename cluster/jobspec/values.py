"""Value kinds of job-file attributes and their conversions (HCL value -> Nomad API JSON value).

Conversions follow HCL's (cty's) automatic conversions, as Nomad's jobspec2 gets them from gohcl:
a number or bool converts to a string, a numeric string to a number, ``"true"``/``"false"`` to a
bool. Durations are Go duration strings (``"1h30m"``, ``"250ms"``) or integer nanoseconds.
Each converter returns the converted value or raises ``KindError`` with a message that names what
was expected and shows what was found.
"""

from __future__ import annotations

import enum
import json
import math
import re
from collections.abc import Callable
from typing import Any

__all__ = ["Kind", "KindError", "convert", "describe", "parse_duration_ns", "parse_size_mb"]


class KindError(ValueError):
    """The value does not have the kind the field needs; ``str()`` is the message to show."""


class Kind(enum.Enum):
    STRING = "a string"
    INT = "a whole number"
    NUMBER = "a number"
    BOOL = "a bool"
    DURATION = 'a duration such as "30s"'
    LIST_STRING = "a list of strings"
    LIST_ANY = "a list"
    MAP_STRING = "a map of strings"
    MAP_LIST_STRING = "a map of lists of strings"
    ANY = "any value"
    SIZE_MB = 'a size in MB or a string such as "1GiB"'


def describe(value: Any) -> str:
    """Shows a found value in an error, short and typed: ``"lots"``, ``3``, ``a list``, ``null``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return json.dumps(shown)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}


def parse_duration_ns(text: str) -> int:
    """Parses a Go duration string (``time.ParseDuration``) into integer nanoseconds."""
    s = text.strip()
    if not s:
        raise KindError(f"expected {Kind.DURATION.value}, got {describe(text)}")
    sign = 1
    if s[0] in "+-":
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return 0
    pos = 0
    total = 0.0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if not m or m.group(1) in ("", "."):
            raise KindError(
                f'expected {Kind.DURATION.value} (units ns, us, ms, s, m, h), got {describe(text)}'
            )
        total += float(m.group(1)) * _UNIT_NS[m.group(2)]
        pos = m.end()
    return sign * round(total)


_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([kKmMgGtT]i?[bB]|[bB])?\s*$")
_SIZE_BYTES = {
    "b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": 1024**2,
    "gb": 1000**3, "gib": 1024**3, "tb": 1000**4, "tib": 1024**4,
}


def parse_size_mb(text: str) -> int:
    """A size string (``"512MiB"``, ``"1GB"``) in whole MB (MiB), as Nomad's humanize parsing does."""
    m = _SIZE.match(text)
    if not m:
        raise KindError(f"expected {Kind.SIZE_MB.value}, got {describe(text)}")
    unit = (m.group(2) or "mb").lower()
    return int(float(m.group(1)) * _SIZE_BYTES[unit] // (1024**2))


def _to_string(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v) if not v.is_integer() else str(int(v))
    raise KindError(f"expected {Kind.STRING.value}, got {describe(v)}")


def _to_number(v: Any, kind: Kind) -> int | float:
    n: int | float
    if isinstance(v, bool) or v is None or isinstance(v, list | dict):
        raise KindError(f"expected {kind.value}, got {describe(v)}")
    if isinstance(v, str):
        try:
            n = int(v.strip()) if re.fullmatch(r"\s*[-+]?[0-9]+\s*", v) else float(v)
        except ValueError:
            raise KindError(f"expected {kind.value}, got {describe(v)}") from None
        if isinstance(n, float) and not math.isfinite(n):
            raise KindError(f"expected {kind.value}, got {describe(v)}")
    else:
        n = v
    if kind is Kind.INT:
        if isinstance(n, float):
            if not n.is_integer():
                raise KindError(f"expected {kind.value}, got {describe(v)}")
            n = int(n)
        return n
    return n


def _to_bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if v == "true":
        return True
    if v == "false":
        return False
    raise KindError(f"expected {Kind.BOOL.value}, got {describe(v)}")


def _to_duration(v: Any) -> int:
    if isinstance(v, bool):
        raise KindError(f"expected {Kind.DURATION.value}, got {describe(v)}")
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str):
        return parse_duration_ns(v)
    raise KindError(f"expected {Kind.DURATION.value}, got {describe(v)}")


def _to_list_string(v: Any) -> list[str]:
    if not isinstance(v, list):
        raise KindError(f"expected {Kind.LIST_STRING.value}, got {describe(v)}")
    out = []
    for i, item in enumerate(v):
        try:
            out.append(_to_string(item))
        except KindError:
            raise KindError(f"element {i}: expected a string, got {describe(item)}") from None
    return out


def _to_map_string(v: Any) -> dict[str, str]:
    if not isinstance(v, dict):
        raise KindError(f"expected {Kind.MAP_STRING.value}, got {describe(v)}")
    out = {}
    for k, item in v.items():
        try:
            out[str(k)] = _to_string(item)
        except KindError:
            raise KindError(f"key {json.dumps(k)}: expected a string, got {describe(item)}") from None
    return out


def _to_map_list_string(v: Any) -> dict[str, list[str]]:
    if not isinstance(v, dict):
        raise KindError(f"expected {Kind.MAP_LIST_STRING.value}, got {describe(v)}")
    out = {}
    for k, item in v.items():
        try:
            out[str(k)] = _to_list_string(item if isinstance(item, list) else [item])
        except KindError as e:
            raise KindError(f"key {json.dumps(k)}: {e}") from None
    return out


def _to_size_mb(v: Any) -> int:
    if isinstance(v, str) and not re.fullmatch(r"\s*[0-9]+\s*", v):
        return parse_size_mb(v)
    return int(_to_number(v, Kind.INT))


def _to_list_any(v: Any) -> list[Any]:
    if not isinstance(v, list):
        raise KindError(f"expected {Kind.LIST_ANY.value}, got {describe(v)}")
    return v


_CONVERTERS: dict[Kind, Callable[[Any], Any]] = {
    Kind.STRING: _to_string,
    Kind.INT: lambda v: _to_number(v, Kind.INT),
    Kind.NUMBER: lambda v: _to_number(v, Kind.NUMBER),
    Kind.BOOL: _to_bool,
    Kind.DURATION: _to_duration,
    Kind.LIST_STRING: _to_list_string,
    Kind.LIST_ANY: _to_list_any,
    Kind.MAP_STRING: _to_map_string,
    Kind.MAP_LIST_STRING: _to_map_list_string,
    Kind.ANY: lambda v: v,
    Kind.SIZE_MB: _to_size_mb,
}


def convert(value: Any, kind: Kind) -> Any:
    """Converts an evaluated HCL value to ``kind``; ``KindError`` says what was expected and found.

    A null value stays null: HCL's null means "not set", and the field keeps its default.
    """
    if value is None:
        return None
    return _CONVERTERS[kind](value)
