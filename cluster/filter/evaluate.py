"""Applying a parsed filter to one object: a msgspec struct, a mapping, or lists of them.

How a selector finds values, as go-bexpr does: each part names a struct field (exactly as spelled in
the API, ``TaskGroups``) or a map key (``Meta.env``). Through a list, the rest of the selector is
applied to every element and the results are gathered, so ``TaskGroups.Name`` is the list of group
names. A field a struct does not have is an error (the caller misspelt it); a key a map lacks is a
missing value: it equals nothing, is empty, contains nothing.

The literal is read as the type of the value it is compared with (``Priority == 50``,
``Stop == true``); a literal that cannot be read as that type is an error naming its column.
On a list, ``==`` and ``matches`` hold when they hold for an element, ``!=`` when ``==`` does not.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from cluster.filter.errors import FilterError
from cluster.filter.parser import And, Match, Node, Not

__all__ = ["evaluate"]


class _Missing:
    """A map key that is not there."""


MISSING = _Missing()


def evaluate(node: Node, obj: object) -> bool:
    """Whether ``obj`` passes the filter ``node``."""
    if isinstance(node, Match):
        return _match(node, obj)
    if isinstance(node, Not):
        return not evaluate(node.operand, obj)
    if isinstance(node, And):
        return evaluate(node.left, obj) and evaluate(node.right, obj)
    return evaluate(node.left, obj) or evaluate(node.right, obj)


def _match(m: Match, obj: object) -> bool:
    value = _select(obj, m.selector, 0, m)
    op = m.op
    if op == "==":
        return _equals(value, m)
    if op == "!=":
        return not _equals(value, m)
    if op == "empty":
        return _is_empty(value)
    if op == "not_empty":
        return not _is_empty(value)
    if op in ("contains", "in"):
        return _contains(value, m)
    if op in ("not_contains", "not_in"):
        return not _contains(value, m)
    if op == "matches":
        return _matches(value, m)
    assert op == "not_matches", op
    return not _matches(value, m)


def _select(obj: object, selector: tuple[str, ...], depth: int, m: Match) -> object:
    if depth == len(selector):
        return obj
    if isinstance(obj, list | tuple):
        gathered: list[object] = []
        for item in obj:
            found = _select(item, selector, depth, m)
            if isinstance(found, list):
                gathered.extend(found)
            elif found is not MISSING and found is not None:
                gathered.append(found)
        return gathered
    part = selector[depth]
    if isinstance(obj, msgspec.Struct):
        if part not in obj.__struct_fields__:
            name = ".".join(selector[:depth + 1])
            raise FilterError(f'selector "{name}" is not valid: {type(obj).__name__} has no field "{part}"',
                              m.column)
        return _select(getattr(obj, part), selector, depth + 1, m)
    if isinstance(obj, Mapping):
        return _select(obj[part], selector, depth + 1, m) if part in obj else MISSING
    return MISSING  # None, or a scalar that has no fields


def _coerce(sample: object, m: Match) -> object:
    """The literal of ``m`` read as the type of ``sample``."""
    text = m.value
    if isinstance(sample, bool):
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise FilterError(f'"{text}" is not a boolean (true or false)', m.column)
    if isinstance(sample, int):
        try:
            return int(text, 0)
        except ValueError:
            raise FilterError(f'"{text}" is not an integer', m.column) from None
    if isinstance(sample, float):
        try:
            return float(text)
        except ValueError:
            raise FilterError(f'"{text}" is not a number', m.column) from None
    return text


def _scalar_equals(value: object, m: Match) -> bool:
    if value is MISSING or value is None or isinstance(value, Mapping | msgspec.Struct):
        return False
    return value == _coerce(value, m)


def _equals(value: object, m: Match) -> bool:
    if isinstance(value, list | tuple):
        return any(_scalar_equals(v, m) for v in value)
    return _scalar_equals(value, m)


def _is_empty(value: object) -> bool:
    if value is MISSING or value is None:
        return True
    if isinstance(value, str | list | tuple | Mapping):
        return len(value) == 0
    return False


def _contains(value: object, m: Match) -> bool:
    if isinstance(value, str):
        return m.value in value
    if isinstance(value, Mapping):
        return m.value in value
    if isinstance(value, list | tuple):
        return any(_scalar_equals(v, m) for v in value)
    return False


def _matches(value: object, m: Match) -> bool:
    assert m.pattern is not None
    if isinstance(value, list | tuple):
        return any(isinstance(v, str) and m.pattern.search(v) is not None for v in value)
    return isinstance(value, str) and m.pattern.search(value) is not None


