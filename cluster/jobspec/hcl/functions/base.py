"""How a standard-library function declares its parameters.

Each function is a plain Python implementation plus a parameter list. :class:`Function` checks
the argument count and converts each argument the way cty does before the implementation runs,
so the implementations stay short and every arity or type error reads the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cluster.jobspec.hcl.values import (
    ConversionError,
    Value,
    to_bool,
    to_int,
    to_number,
    to_string,
    type_name,
)

__all__ = [
    "ANY",
    "BOOL",
    "INT",
    "LIST",
    "MAP",
    "NUMBER",
    "STRING",
    "Function",
    "FunctionError",
    "Param",
    "define",
]

STRING, NUMBER, INT, BOOL, LIST, MAP, ANY = "string", "number", "int", "bool", "list", "map", "any"


class FunctionError(Exception):
    """A function cannot produce a result. ``arg_index`` points at the argument to blame."""

    def __init__(self, message: str, arg_index: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.arg_index = arg_index


@dataclass(frozen=True, slots=True)
class Param:
    """A parameter: its name (used in messages), kind and whether null is accepted."""

    name: str
    kind: str
    allow_null: bool = False


def _convert(kind: str, value: Value) -> Value:
    if kind == STRING:
        return to_string(value)
    if kind == NUMBER:
        return to_number(value)
    if kind == INT:
        return to_int(value)
    if kind == BOOL:
        return to_bool(value)
    if kind == LIST and not isinstance(value, list):
        raise ConversionError(f"a list is required, got {type_name(value)}")
    if kind == MAP and not isinstance(value, dict):
        raise ConversionError(f"a map or object is required, got {type_name(value)}")
    return value


class Function:
    """A callable HCL function with declared parameters.

    ``optional`` trailing parameters may be omitted; ``variadic`` accepts any number of further
    arguments of one kind.
    """

    __slots__ = ("impl", "name", "optional", "params", "variadic")

    def __init__(
        self,
        name: str,
        params: tuple[Param, ...],
        impl: Callable[..., Value],
        variadic: Param | None = None,
        optional: int = 0,
    ) -> None:
        assert 0 <= optional <= len(params)
        self.name = name
        self.params = params
        self.impl = impl
        self.variadic = variadic
        self.optional = optional

    def __repr__(self) -> str:
        return f"<hcl function {self.name}>"

    def __call__(self, *args: Value) -> Value:
        self._check_arity(len(args))
        converted = [self._argument(index, value) for index, value in enumerate(args)]
        return self.impl(*converted)

    def _check_arity(self, count: int) -> None:
        most = len(self.params)
        least = most - self.optional
        if least <= count and (count <= most or self.variadic is not None):
            return
        if self.variadic is not None:
            expected = f"at least {least}"
        elif least == most:
            expected = f"{most}"
        else:
            expected = f"{least} to {most}"
        noun = "argument" if expected.endswith(" 1") or expected == "1" else "arguments"
        raise FunctionError(f"expects {expected} {noun}, got {count}")

    def _argument(self, index: int, value: Value) -> Value:
        param = self.params[index] if index < len(self.params) else self.variadic
        assert param is not None
        if value is None:
            if param.allow_null:
                return None
            raise FunctionError(f'argument "{param.name}" must not be null', index)
        try:
            return _convert(param.kind, value)
        except ConversionError as exc:
            raise FunctionError(f'argument "{param.name}": {exc.message}', index) from None


def define(
    table: dict[str, Function],
    name: str,
    *params: Param,
    variadic: Param | None = None,
    optional: int = 0,
) -> Callable[[Callable[..., Any]], Function]:
    """Decorator: wrap an implementation as a :class:`Function` and add it to ``table``."""

    def wrap(impl: Callable[..., Any]) -> Function:
        function = Function(name, params, impl, variadic, optional)
        assert name not in table, name
        table[name] = function
        return function

    return wrap
