"""``format()`` verbs, as HCL defines them (Go's fmt, restricted to HCL values).

Supported: ``%%``, ``%v`` (``%#v`` is JSON), ``%t``, ``%d %b %o %x %X``, ``%e %E %f %g %G``,
``%s``, ``%q``; flags ``- + # 0`` and space; width; precision; explicit argument indexes
``%[2]s``. Every argument must be used, as in HCL, so a miscounted format string is caught.
"""

from __future__ import annotations

import re

from cluster.jobspec.hcl.functions.base import FunctionError
from cluster.jobspec.hcl.functions.jsonenc import json_encode, json_string
from cluster.jobspec.hcl.values import (
    ConversionError,
    Value,
    to_bool,
    to_int,
    to_number,
    to_string,
)

__all__ = ["format_values"]

_SPEC = re.compile(
    r"(?P<flags>[-+# 0]*)(?:\[(?P<index1>[0-9]+)\])?(?P<width>[0-9]+)?"
    r"(?:\.(?P<precision>[0-9]*))?(?:\[(?P<index2>[0-9]+)\])?(?P<verb>.)?",
    re.DOTALL,
)
_INTEGER_BASES = {"d": "d", "b": "b", "o": "o", "x": "x", "X": "X"}
_FLOAT_VERBS = frozenset("eEfgG")
_MAX_WIDTH = 10_000


def format_values(template: str, args: list[Value]) -> str:
    """Render ``template`` with ``args``; raises FunctionError (arg_index counts the template as 0)."""
    out: list[str] = []
    used = [False] * len(args)
    next_arg = 0
    i = 0
    while i < len(template):
        percent = template.find("%", i)
        if percent < 0:
            out.append(template[i:])
            break
        out.append(template[i:percent])
        if template.startswith("%%", percent):
            out.append("%")
            i = percent + 2
            continue
        m = _SPEC.match(template, percent + 1)
        assert m is not None  # every group is optional
        verb = m.group("verb")
        if verb is None:
            raise FunctionError(f"the format string ends with an incomplete verb {template[percent:]!r}", 0)
        explicit = m.group("index2") or m.group("index1")
        if explicit is not None:
            next_arg = int(explicit) - 1
        spec_text = template[percent : m.end()]
        if not 0 <= next_arg < len(args):
            raise FunctionError(f"not enough arguments: no value for {spec_text!r}", 0)
        used[next_arg] = True
        out.append(_format_one(m, verb, spec_text, args[next_arg], next_arg + 1))
        next_arg += 1
        i = m.end()
    if not all(used):
        raise FunctionError(
            f"too many arguments: the format string uses {sum(used)} of {len(args)}", used.index(False) + 1
        )
    return "".join(out)


def _format_one(m: re.Match[str], verb: str, spec_text: str, value: Value, arg_index: int) -> str:
    flags = m.group("flags")
    width = int(m.group("width") or 0)
    if width > _MAX_WIDTH:
        raise FunctionError(f"width {width} in {spec_text!r} is too large", 0)
    precision_text = m.group("precision")
    precision = None if precision_text is None else int(precision_text or 0)
    try:
        sign, body, numeric = _render(verb, flags, precision, value)
    except ConversionError as exc:
        raise FunctionError(
            f"{spec_text!r} cannot format argument {arg_index}: {exc.message}", arg_index
        ) from None
    return _pad(sign, body, width, flags, numeric)


def _render(verb: str, flags: str, precision: int | None, value: Value) -> tuple[str, str, bool]:
    """(sign, digits or text, is-numeric) for one verb."""
    if value is None and verb != "v":
        raise ConversionError("null cannot be formatted")
    if verb == "v":
        if "#" in flags or isinstance(value, list | dict) or value is None:
            return "", json_encode(value), False
        return _render("s", "", precision, value)
    if verb == "t":
        return "", "true" if to_bool(value) else "false", False
    if verb == "s":
        text = to_string(value)
        return "", text if precision is None else text[:precision], False
    if verb == "q":
        return "", json_string(to_string(value)), False
    if verb in _INTEGER_BASES:
        number = to_int(value)
        digits = format(abs(number), _INTEGER_BASES[verb])
        if "#" in flags and verb in "oxX":
            digits = {"o": "0", "x": "0x", "X": "0X"}[verb] + digits
        return _sign(number < 0, flags), digits, True
    if verb in _FLOAT_VERBS:
        real = float(to_number(value))
        return _sign(real < 0, flags), _float_digits(abs(real), verb, precision), True
    raise ConversionError(f"unsupported verb %{verb}")


def _float_digits(number: float, verb: str, precision: int | None) -> str:
    if verb in "gG" and precision is None:
        text = repr(number)
        text = text[:-2] if text.endswith(".0") else text
        return text.upper() if verb == "G" else text
    return format(number, f".{6 if precision is None else precision}{verb}")


def _sign(negative: bool, flags: str) -> str:
    if negative:
        return "-"
    if "+" in flags:
        return "+"
    return " " if " " in flags else ""


def _pad(sign: str, body: str, width: int, flags: str, numeric: bool) -> str:
    size = len(sign) + len(body)
    if size >= width:
        return sign + body
    fill = width - size
    if "-" in flags:
        return sign + body + " " * fill
    if "0" in flags and numeric:
        return sign + "0" * fill + body
    return " " * fill + sign + body
