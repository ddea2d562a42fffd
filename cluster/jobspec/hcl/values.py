"""HCL values as plain Python data, with HCL's conversion and equality rules.

HCL's type system (cty) is richer than what a job file needs; we map it onto JSON-like Python
values: numbers are ``int`` when integral (and written without a fractional part) else
``float``; tuples, lists and sets are ``list``; objects and maps are ``dict``. The conversions
follow cty: a string converts to a number or bool when its text is one, and numbers and bools
convert to strings. ``bool`` is checked before ``int`` everywhere because Python's ``True == 1``.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import TypeAlias

__all__ = [
    "MAX_INT_BITS",
    "ConversionError",
    "Value",
    "canonical_set",
    "describe_value",
    "equal",
    "format_number",
    "is_number",
    "parse_number",
    "to_bool",
    "to_int",
    "to_number",
    "to_string",
    "type_name",
]

Value: TypeAlias = bool | int | float | str | list["Value"] | dict[str, "Value"] | None

_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# Integers beyond this many decimal digits come from exponents like 1e999999: refuse them.
_MAX_INT_DIGITS = 400
# Results of arithmetic are capped too (Python refuses to print ints over 4300 digits, and huge
# numbers are never what a job file means).
MAX_INT_BITS = 4096


class ConversionError(Exception):
    """A value does not have (and cannot be converted to) the type an operation needs."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def type_name(value: Value) -> str:
    """HCL's name for the value's type, used in every type error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return "object"


def describe_value(value: Value) -> str:
    """A value for an error message: ``string "lots"`` shows the text, other types their name."""
    return f"string {quote(value)}" if isinstance(value, str) else type_name(value)


def is_number(value: Value) -> bool:
    """True for int and float, false for bool (which Python counts as an int)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_number(text: str) -> int | float:
    """Parse a number literal: int when integral and written without a fraction, else float.

    Raises ConversionError for text that is not a number or is out of range.
    """
    if not _NUMBER_TEXT.fullmatch(text):
        raise ConversionError(f"{text!r} is not a number")
    try:
        dec = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only valid decimals
        raise ConversionError(f"{text!r} is not a number") from exc
    if "." not in text and dec == dec.to_integral_value() and dec.adjusted() < _MAX_INT_DIGITS:
        return int(dec)
    result = float(dec)
    if math.isinf(result):
        raise ConversionError(f"number {text} is too large")
    return result


def format_number(number: int | float) -> str:
    """Render a number as HCL does: no exponent, no trailing ``.0`` (``1e3`` -> ``1000``)."""
    if isinstance(number, int):
        return str(number)
    if math.isnan(number) or math.isinf(number):
        raise ConversionError("number is not finite")
    if number.is_integer():
        return str(int(number))
    return format(Decimal(repr(number)), "f")


def to_string(value: Value) -> str:
    """cty's conversion to string: strings, numbers and bools convert; nothing else does."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return format_number(value)
    if value is None:
        raise ConversionError("a string is required, got null")
    raise ConversionError(f"a string is required, got {type_name(value)}")


def to_number(value: Value) -> int | float:
    """cty's conversion to number: numbers, and strings that spell one."""
    if isinstance(value, bool) or value is None or isinstance(value, list | dict):
        raise ConversionError(f"a number is required, got {type_name(value)}")
    if isinstance(value, str):
        try:
            return parse_number(value.strip())
        except ConversionError:
            raise ConversionError(f"a number is required, got string {quote(value)}") from None
    return value


def to_int(value: Value) -> int:
    """A number with no fractional part, as an int."""
    number = to_number(value)
    if isinstance(number, float):
        if not number.is_integer():
            raise ConversionError(f"a whole number is required, got {format_number(number)}")
        return int(number)
    return number


def to_bool(value: Value) -> bool:
    """cty's conversion to bool: bools, and the strings "true" and "false"."""
    if isinstance(value, bool):
        return value
    if value == "true":
        return True
    if value == "false":
        return False
    if isinstance(value, str):
        raise ConversionError(f"a bool is required, got string {quote(value)}")
    raise ConversionError(f"a bool is required, got {type_name(value)}")


def equal(a: Value, b: Value) -> bool:
    """HCL ``==``: values of different types are never equal (``1 == "1"`` is false)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if is_number(a) and is_number(b):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    if type(a) is not type(b):
        return False
    return a == b


def canonical_set(values: list[Value]) -> list[Value]:
    """Distinct values in cty's set order: sorted when they are all strings, all numbers or all
    bools (cty orders those by value), otherwise in first-seen order."""
    distinct: list[Value] = []
    for value in values:
        if not any(equal(value, seen) for seen in distinct):
            distinct.append(value)
    if distinct and all(isinstance(v, str) for v in distinct):
        return sorted(distinct, key=str)
    if distinct and all(is_number(v) for v in distinct):
        return sorted(distinct, key=lambda v: to_number(v))
    if distinct and all(isinstance(v, bool) for v in distinct):
        return sorted(distinct, key=lambda v: bool(v))
    return distinct


def quote(text: str) -> str:
    """A string in double quotes with HCL escapes, for error messages."""
    escaped = (
        text.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f'"{escaped}"'
