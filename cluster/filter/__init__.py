"""Nomad's filter expressions (``?filter=``, go-bexpr) over msgspec structs and mappings. Pure.

    flt = compile_filter('Status == "running" and Meta.env == "prod"')   # bad text: FilterError (400)
    flt = compile_filter('TaskGroups.Name contains "cache" and not (Type == "batch")')
    [job for job in jobs if flt.matches(job)]
    filter_items(allocs, request_filter)     # the same, None or "" keeps everything

Operators: ``==``, ``!=``, ``contains``, ``not contains``, ``in``, ``not in``, ``is empty``,
``is not empty``, ``matches`` and ``not matches`` (a regular expression, searched anywhere in the
value), combined with ``not``, ``and``, ``or`` and parentheses. See ``evaluate`` for how selectors
walk structs, maps and lists.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from cluster.filter.errors import FilterError
from cluster.filter.evaluate import evaluate
from cluster.filter.parser import Node, parse

__all__ = ["Filter", "FilterError", "compile_filter", "filter_items"]

T = TypeVar("T")


class Filter:
    """A parsed expression, reusable over many objects."""

    __slots__ = ("expression", "tree")

    def __init__(self, expression: str, tree: Node) -> None:
        self.expression = expression
        self.tree = tree

    def matches(self, obj: object) -> bool:
        return evaluate(self.tree, obj)

    def __repr__(self) -> str:
        return f"Filter({self.expression!r})"


def compile_filter(expression: str) -> Filter:
    """The filter of ``expression``; FilterError (an InvalidInput) naming the column of a mistake."""
    return Filter(expression, parse(expression))


def filter_items(items: Iterable[T], expression: str | None) -> list[T]:
    """The items that pass ``expression``; all of them when it is None or blank."""
    if expression is None or not expression.strip():
        return list(items)
    flt = compile_filter(expression)
    return [item for item in items if flt.matches(item)]
