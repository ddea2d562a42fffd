"""Attribute, index and splat steps applied to a value, with errors that name what is missing.

A full splat ``list[*].a.b`` applies every later step to each element; the legacy attribute
splat ``list.*.a`` applies only the attribute steps right after it. A splat of null is an empty
list, and a splat of a single non-list value treats it as a one-element list, as HCL does.
"""

from __future__ import annotations

from collections.abc import Callable

from cluster.jobspec.hcl.ast import (
    AttrStep,
    Expr,
    IndexStep,
    LiteralValue,
    SplatStep,
    Step,
    TemplateExpr,
    Traversal,
    Variable,
)
from cluster.jobspec.hcl.pos import HCLError, Pos
from cluster.jobspec.hcl.values import ConversionError, Value, quote, to_int, to_string, type_name

__all__ = ["apply_steps", "is_plain_traversal", "static_key", "unknown_variable"]

_MAX_LISTED_NAMES = 20


def static_key(expr: Expr) -> Value:
    """The value of an index key written as a literal (``[0]``, ``["HOME"]``), else None."""
    if isinstance(expr, LiteralValue):
        return expr.value
    if isinstance(expr, TemplateExpr):
        return expr.literal_text()
    return None


def is_plain_traversal(expr: Expr) -> str | None:
    """The root name if ``expr`` is a name with only ``.attr`` and literal ``[key]`` steps."""
    if isinstance(expr, Variable):
        return expr.name
    if not isinstance(expr, Traversal) or not isinstance(expr.source, Variable):
        return None
    for step in expr.steps:
        if isinstance(step, SplatStep):
            return None
        if isinstance(step, IndexStep) and static_key(step.key) is None:
            return None
    return expr.source.name


def unknown_variable(expr: Variable, defined: list[str]) -> HCLError:
    hint = f"; defined variables are: {_names(defined)}" if defined else "; no variables are defined here"
    return HCLError.at(expr.pos, f"unknown variable {quote(expr.name)}{hint}")


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_MAX_LISTED_NAMES])
    return shown + (f" and {len(names) - _MAX_LISTED_NAMES} more" if len(names) > _MAX_LISTED_NAMES else "")


def apply_steps(
    value: Value,
    steps: list[Step],
    root_path: list[str] | None,
    root_pos: Pos,
    eval_key: Callable[[Expr], Value],
) -> Value:
    """Apply ``steps`` to ``value``. ``root_path`` is the variable name while the steps so far are
    all attributes (for "undefined variable" messages); ``eval_key`` evaluates index keys."""
    walker = _Walker(steps, root_pos, eval_key)
    return walker.run(value, 0, len(steps), root_path)


class _Walker:
    def __init__(self, steps: list[Step], root_pos: Pos, eval_key: Callable[[Expr], Value]) -> None:
        self.steps = steps
        self.root_pos = root_pos
        self.eval_key = eval_key

    def run(self, value: Value, start: int, stop: int, path: list[str] | None) -> Value:
        i = start
        while i < stop:
            step = self.steps[i]
            if isinstance(step, SplatStep):
                items = [] if value is None else value if isinstance(value, list) else [value]
                if step.full:
                    return [self.run(item, i + 1, stop, None) for item in items]
                end = i + 1
                while end < stop and isinstance(self.steps[end], AttrStep):
                    end += 1
                value = [self.run(item, i + 1, end, None) for item in items]
                i, path = end, None
                continue
            if isinstance(step, AttrStep):
                value = self.attribute(value, step, path)
                path = [*path, step.name] if path is not None else None
            else:
                value = self.index(value, step)
                path = None
            i += 1
        return value

    def attribute(self, value: Value, step: AttrStep, path: list[str] | None) -> Value:
        name = step.name
        if isinstance(value, dict):
            if name in value:
                return value[name]
            if path is not None:
                dotted = ".".join(path)
                known = [f"{dotted}.{key}" for key in sorted(value)]
                hint = f"; defined: {_names(known)}" if known else f"; {quote(dotted)} defines nothing"
                raise HCLError.at(self.root_pos, f"undefined variable {quote(dotted + '.' + name)}{hint}")
            hint = f"; it has: {_names(sorted(value))}" if value else "; it is empty"
            raise HCLError.at(step.pos, f"object has no attribute {quote(name)}{hint}")
        if isinstance(value, list):
            raise HCLError.at(
                step.pos,
                f"cannot get attribute {quote(name)} from a list; use [*].{name} for every element "
                f"or [N].{name} for one",
            )
        raise HCLError.at(step.pos, f"cannot get attribute {quote(name)} from {type_name(value)}")

    def index(self, value: Value, step: IndexStep) -> Value:
        key = self.eval_key(step.key)
        key_pos = step.key.pos
        if key is None:
            raise HCLError.at(key_pos, "an index must not be null")
        if isinstance(value, list):
            try:
                position = to_int(key)
            except ConversionError as exc:
                raise HCLError.at(key_pos, f"a list index must be a whole number: {exc.message}") from None
            if not 0 <= position < len(value):
                raise HCLError.at(
                    key_pos, f"index {position} is out of range for a list of {len(value)} elements"
                )
            return value[position]
        if isinstance(value, dict):
            try:
                text = to_string(key)
            except ConversionError:
                raise HCLError.at(key_pos, f"an object key must be a string, got {type_name(key)}") from None
            if text not in value:
                hint = f"; it has: {_names(sorted(value))}" if value else "; it is empty"
                raise HCLError.at(key_pos, f"key {quote(text)} not found in object{hint}")
            return value[text]
        raise HCLError.at(step.pos, f"cannot index {type_name(value)}")
