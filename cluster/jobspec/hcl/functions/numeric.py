"""Numeric functions: abs ceil floor log max min parseint pow signum."""

from __future__ import annotations

import math
import string

from cluster.jobspec.hcl.functions.base import INT, NUMBER, STRING, Function, FunctionError, Param, define
from cluster.jobspec.hcl.values import MAX_INT_BITS, quote

__all__ = ["FUNCTIONS"]

FUNCTIONS: dict[str, Function] = {}
_NUM = Param("num", NUMBER)
_DIGITS_36 = string.digits + string.ascii_lowercase
_DIGITS_62 = string.digits + string.ascii_lowercase + string.ascii_uppercase


@define(FUNCTIONS, "abs", _NUM)
def _abs(num: int | float) -> int | float:
    return abs(num)


@define(FUNCTIONS, "ceil", _NUM)
def _ceil(num: int | float) -> int:
    return math.ceil(num)


@define(FUNCTIONS, "floor", _NUM)
def _floor(num: int | float) -> int:
    return math.floor(num)


@define(FUNCTIONS, "signum", _NUM)
def _signum(num: int | float) -> int:
    return (num > 0) - (num < 0)


@define(FUNCTIONS, "log", _NUM, Param("base", NUMBER))
def _log(num: int | float, base: int | float) -> float:
    if num <= 0:
        raise FunctionError("the number must be greater than zero", 0)
    if base <= 0 or base == 1:
        raise FunctionError("the base must be greater than zero and not 1", 1)
    return math.log(num) / math.log(base)


@define(FUNCTIONS, "pow", _NUM, Param("power", NUMBER))
def _pow(num: int | float, power: int | float) -> int | float:
    if isinstance(num, int) and isinstance(power, int) and power >= 0:
        if abs(num) > 1 and power * num.bit_length() > MAX_INT_BITS:
            raise FunctionError("the result is too large")
        exact: int | float = num**power
        return exact
    if num == 0 and power < 0:
        raise FunctionError("zero cannot be raised to a negative power")
    try:
        result = math.pow(num, power)
    except OverflowError:
        raise FunctionError("the result is too large") from None
    except ValueError:
        raise FunctionError("the result is not a real number") from None
    return result


@define(FUNCTIONS, "max", Param("first", NUMBER), variadic=Param("numbers", NUMBER))
def _max(*numbers: int | float) -> int | float:
    return max(numbers)


@define(FUNCTIONS, "min", Param("first", NUMBER), variadic=Param("numbers", NUMBER))
def _min(*numbers: int | float) -> int | float:
    return min(numbers)


@define(FUNCTIONS, "parseint", Param("number", STRING), Param("base", INT))
def _parseint(text: str, base: int) -> int:
    """Go's big.Int parsing: bases 2 to 62; letters are case-insensitive up to base 36, and above
    it lowercase letters are 10-35 and uppercase 36-61."""
    if not 2 <= base <= 62:
        raise FunctionError(f"the base must be between 2 and 62, got {base}", 1)
    digits = text[1:] if text[:1] in "+-" else text
    alphabet = _DIGITS_36 if base <= 36 else _DIGITS_62
    folded = digits.lower() if base <= 36 else digits
    value = 0
    if len(folded) > MAX_INT_BITS:  # more digits than any accepted result has bits
        raise FunctionError("the number is too large", 0)
    for char in folded:
        digit = alphabet.find(char)
        if digit < 0 or digit >= base:
            raise FunctionError(f"cannot parse {quote(text)} as a base {base} integer", 0)
        value = value * base + digit
    if not digits:
        raise FunctionError(f"cannot parse {quote(text)} as a base {base} integer", 0)
    if value.bit_length() > MAX_INT_BITS:
        raise FunctionError("the number is too large", 0)
    return -value if text.startswith("-") else value
