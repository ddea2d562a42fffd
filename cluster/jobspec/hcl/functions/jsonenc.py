"""JSON text as HCL's ``jsonencode`` writes it: object keys sorted, numbers without exponents,
and ``<``, ``>``, ``&``, U+2028 and U+2029 escaped (Go's encoder does this, so Nomad does)."""

from __future__ import annotations

import json

from cluster.jobspec.hcl.values import Value, format_number

__all__ = ["json_encode", "json_string"]

_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_GO_ESCAPE_TABLE = str.maketrans(_GO_ESCAPES)


def json_string(text: str) -> str:
    """A JSON string literal for ``text``."""
    return json.dumps(text, ensure_ascii=False).translate(_GO_ESCAPE_TABLE)


def json_encode(value: Value) -> str:
    """Compact JSON for ``value``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return format_number(value)
    if isinstance(value, str):
        return json_string(value)
    if isinstance(value, list):
        return "[" + ",".join(json_encode(item) for item in value) + "]"
    return "{" + ",".join(f"{json_string(key)}:{json_encode(value[key])}" for key in sorted(value)) + "}"
