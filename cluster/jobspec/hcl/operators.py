"""HCL's unary and binary operators on plain values.

Arithmetic follows cty with Python numbers: ``int`` stays ``int`` for ``+ - * %`` and for ``/``
when the division is exact; ``%`` takes the sign of the dividend (like Go); division by zero is
an error rather than an infinity, since an infinite memory size helps no one. Operands convert
like cty does (the string ``"5"`` is a number, ``"true"`` a bool).
"""

from __future__ import annotations

import math

from cluster.jobspec.hcl.values import (
    MAX_INT_BITS,
    ConversionError,
    Value,
    describe_value,
    equal,
    quote,
    to_bool,
    to_number,
    type_name,
)

__all__ = ["LEFT", "RIGHT", "OperandError", "binary", "logical_operand", "unary"]

LEFT, RIGHT = 0, 1

_VERBS = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide", "%": "take the remainder of"}
_COMPARISONS = ("<", ">", "<=", ">=")


class OperandError(Exception):
    """An operand is of the wrong type or value; ``side`` says which one to point at."""

    def __init__(self, message: str, side: int) -> None:
        super().__init__(message)
        self.message = message
        self.side = side


def unary(op: str, value: Value) -> Value:
    """``-x`` or ``!x``; raises OperandError (side LEFT) on a type error."""
    if op == "-":
        try:
            return _finite(-to_number(value), LEFT)
        except ConversionError:
            raise OperandError(f"cannot negate {describe_value(value)}: a number is required", LEFT) from None
    assert op == "!", op
    try:
        return not to_bool(value)
    except ConversionError:
        raise OperandError(f"cannot apply '!' to {describe_value(value)}: a bool is required", LEFT) from None


def logical_operand(op: str, value: Value, side: int) -> bool:
    """One operand of ``&&``/``||`` as a bool (they short-circuit, so each is checked alone)."""
    try:
        return to_bool(value)
    except ConversionError:
        raise OperandError(
            f"cannot apply '{op}' to {describe_value(value)}: both operands must be bools", side
        ) from None


def binary(op: str, left: Value, right: Value) -> Value:
    """Every binary operator except ``&&`` and ``||``."""
    if op == "==":
        return equal(left, right)
    if op == "!=":
        return not equal(left, right)
    if op in _COMPARISONS:
        a, b = _numbers(left, right, f"cannot compare {type_name(left)} and {type_name(right)} with '{op}'")
        if op == "<":
            return a < b
        if op == ">":
            return a > b
        if op == "<=":
            return a <= b
        return a >= b
    a, b = _numbers(left, right, f"cannot {_VERBS[op]} {type_name(left)} and {type_name(right)}")
    if op == "+":
        return _finite(a + b, LEFT)
    if op == "-":
        return _finite(a - b, LEFT)
    if op == "*":
        return _finite(a * b, LEFT)
    if b == 0:
        raise OperandError("division by zero", RIGHT)
    if op == "/":
        return _divide(a, b)
    return _remainder(a, b)


def _numbers(left: Value, right: Value, message: str) -> tuple[int | float, int | float]:
    numbers: list[int | float] = []
    for side, value in ((LEFT, left), (RIGHT, right)):
        try:
            numbers.append(to_number(value))
        except ConversionError:
            detail = f": {quote(value)} is not a number" if isinstance(value, str) else ""
            raise OperandError(message + detail, side) from None
    return numbers[0], numbers[1]


def _divide(a: int | float, b: int | float) -> int | float:
    if isinstance(a, int) and isinstance(b, int):
        quotient, remainder = divmod(a, b)
        if remainder == 0:
            return quotient
    try:
        return _finite(a / b, LEFT)
    except OverflowError:
        raise OperandError("the result is too large", LEFT) from None


def _remainder(a: int | float, b: int | float) -> int | float:
    """The remainder with the sign of the dividend, as in Go and cty: ``-7 % 3 == -1``."""
    if isinstance(a, int) and isinstance(b, int):
        magnitude = abs(a) % abs(b)
        return -magnitude if a < 0 else magnitude
    return math.fmod(a, b)


def _finite(number: int | float, side: int) -> int | float:
    """Refuse infinities and integers beyond MAX_INT_BITS."""
    if isinstance(number, float):
        if math.isinf(number) or math.isnan(number):
            raise OperandError("the result is too large", side)
    elif number.bit_length() > MAX_INT_BITS:
        raise OperandError("the result is too large", side)
    return number
