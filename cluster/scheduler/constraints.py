"""Constraint operators, as Nomad evaluates them against one node.

``resolve_target`` turns ``${node.datacenter}``, ``${attr.kernel.name}``, ``${meta.rack}`` ... into
the node's value (and whether it has one); anything else is a literal. ``check_constraint`` applies
an operator to the two resolved sides with Nomad's rules: equality needs both sides present,
``!=`` holds when a side is missing, order compares as integers, then floats, then text.
``distinct_hosts`` and ``distinct_property`` always pass here: they depend on placements, not on
the node alone, and are checked elsewhere.
"""

from __future__ import annotations

import re

from cluster.scheduler.versions import version_matches
from cluster.structs.node import Node
from cluster.structs.placement import Constraint
from cluster.structs.regexps import compile_go_regexp

__all__ = ["DISTINCT_HOSTS", "DISTINCT_PROPERTY", "check_constraint", "constraint_text", "resolve_target"]

DISTINCT_HOSTS = "distinct_hosts"
DISTINCT_PROPERTY = "distinct_property"
_INT = re.compile(r"^[+-]?\d+$")


def resolve_target(target: str, node: Node) -> tuple[str, bool]:
    """The value ``target`` names on ``node``; (literal, True) when it is not an interpolation."""
    if not target.startswith("${"):
        return target, True
    if target == "${node.unique.id}":
        return node.ID, True
    if target == "${node.datacenter}":
        return node.Datacenter, True
    if target == "${node.unique.name}":
        return node.Name, True
    if target == "${node.class}":
        return node.NodeClass, True
    if target == "${node.pool}":
        return node.NodePool, True
    if target.startswith("${attr.") and target.endswith("}"):
        value = (node.Attributes or {}).get(target[7:-1])
        return (value, True) if value is not None else ("", False)
    if target.startswith("${meta.") and target.endswith("}"):
        value = (node.Meta or {}).get(target[7:-1])
        return (value, True) if value is not None else ("", False)
    return "", False


def _number(text: str) -> int | float | None:
    if _INT.match(text):
        return int(text)
    try:
        return float(text)
    except ValueError:
        return None


def _order(op: str, left: str, right: str) -> bool:
    """Compares as integers if both sides are, else as numbers if both are, else as text."""
    ln, rn = _number(left), _number(right)
    if ln is not None and rn is not None:
        sign = (ln > rn) - (ln < rn)
    else:
        sign = (left > right) - (left < right)
    return {"<": sign < 0, "<=": sign <= 0, ">": sign > 0, ">=": sign >= 0}[op]


def _set(text: str) -> set[str]:
    return {part.strip() for part in text.split(",")}


def _regexp(value: str, pattern: str) -> bool:
    try:
        return compile_go_regexp(pattern).search(value) is not None
    except re.error:
        return False


def check_constraint(op: str, left: str, right: str, left_found: bool, right_found: bool) -> bool:
    """Nomad's ``checkConstraint`` for one operator and two resolved sides."""
    if op in (DISTINCT_HOSTS, DISTINCT_PROPERTY):
        return True
    both = left_found and right_found
    if op in ("=", "==", "is", ""):
        return both and left == right
    if op in ("!=", "not"):
        return left != right
    if op in ("<", "<=", ">", ">="):
        return both and _order(op, left, right)
    if op == "is_set":
        return left_found
    if op == "is_not_set":
        return not left_found
    if op == "version":
        return both and version_matches(left, right, semver=False)
    if op == "semver":
        return both and version_matches(left, right, semver=True)
    if op == "regexp":
        return both and _regexp(left, right)
    if op in ("set_contains", "set_contains_all"):
        return both and _set(right) <= _set(left)
    if op == "set_contains_any":
        return both and bool(_set(right) & _set(left))
    return False


def meets(c: Constraint, node: Node) -> bool:
    left, lf = resolve_target(c.LTarget, node)
    right, rf = resolve_target(c.RTarget, node)
    return check_constraint(c.Operand or "=", left, right, lf, rf)


def constraint_text(c: Constraint) -> str:
    """How Nomad names a constraint in placement metrics: ``${attr.kernel.name} = linux``."""
    return f"{c.LTarget} {c.Operand or '='} {c.RTarget}"
