"""Checks of constraint, affinity and spread blocks (Nomad's rules for operators and targets)."""

from __future__ import annotations

import re

from cluster.structs.constants import CONSTRAINT_OPERATORS
from cluster.structs.placement import Affinity, Constraint, Spread
from cluster.structs.regexps import compile_go_regexp
from cluster.structs.report import Problem, Report, quote
from cluster.structs.versions import version_constraint_problem

__all__ = [
    "affinity_problems",
    "check_affinities",
    "check_constraints",
    "check_spreads",
    "constraint_problems",
    "spread_problems",
]

_COMPARISONS = ("=", "==", "is", "!=", "not", "<", "<=", ">", ">=")
_SET_OPERATORS = ("set_contains", "set_contains_any", "set_contains_all")
_AFFINITY_OPERATORS = (*_COMPARISONS, *_SET_OPERATORS, "regexp", "version", "semver")
# Operators that relate allocations to each other rather than to one node: not below the group.
_GROUP_ONLY = ("distinct_hosts", "distinct_property")


def _rtarget_problems(operator: str, rtarget: str) -> list[Problem]:
    """The right-hand side checks that constraints and affinities share."""
    if operator in _COMPARISONS or operator in _SET_OPERATORS:
        return [] if rtarget else [("value", f"is required with operator {quote(operator)}")]
    if operator == "regexp":
        try:
            compile_go_regexp(rtarget)
        except re.error as e:
            return [("value", f"is not a valid regular expression: {e}")]
    elif operator in ("version", "semver"):
        problem = version_constraint_problem(rtarget, semver=operator == "semver")
        if problem:
            return [("value", problem)]
    return []


def constraint_problems(c: Constraint, *, where: str) -> list[Problem]:
    """``where`` is "job", "group", "task" or "device": distinct_* only make sense at job or group level."""
    op = c.Operand
    if op not in CONSTRAINT_OPERATORS:
        return [("operator", f"unknown operator {quote(op)}; expected one of {', '.join(CONSTRAINT_OPERATORS)}")]
    out: list[Problem] = []
    if op in _GROUP_ONLY and where in ("task", "device"):
        out.append(("operator", f"{op} is not allowed in a {where} constraint; put it in the group or the job"))
    if op != "distinct_hosts" and not c.LTarget:
        out.append(("attribute", f"is required with operator {quote(op)}"))
    if op == "distinct_property" and c.RTarget and not (c.RTarget.isdigit() and int(c.RTarget) >= 1):
        out.append(("value", f"must be a whole number of at least 1 (allocations per value), got {quote(c.RTarget)}"))
    elif op in ("is_set", "is_not_set") and c.RTarget:
        out.append(("value", f"must be empty with operator {quote(op)}, got {quote(c.RTarget)}"))
    out += _rtarget_problems(op, c.RTarget)
    return out


def affinity_problems(a: Affinity) -> list[Problem]:
    op = a.Operand
    if op not in _AFFINITY_OPERATORS:
        return [("operator", f"unknown affinity operator {quote(op)}; expected one of {', '.join(_AFFINITY_OPERATORS)}")]
    out: list[Problem] = []
    if not a.LTarget:
        out.append(("attribute", "is required"))
    out += _rtarget_problems(op, a.RTarget)
    weight = a.Weight if a.Weight is not None else 50
    if weight == 0:
        out.append(("weight", "must not be 0"))
    elif not -100 <= weight <= 100:
        out.append(("weight", f"must be between -100 and 100, got {weight}"))
    return out


def spread_problems(s: Spread) -> list[Problem]:
    out: list[Problem] = []
    if not s.Attribute:
        out.append(("attribute", "is required"))
    weight = s.Weight if s.Weight is not None else 50
    if not 1 <= weight <= 100:
        out.append(("weight", f"must be between 1 and 100, got {weight}"))
    seen: set[str] = set()
    total = 0
    for target in s.SpreadTarget or ():
        if target.Value in seen:
            out.append((f"target[{target.Value}]", f"duplicate target {quote(target.Value)}"))
        seen.add(target.Value)
        if not 0 <= target.Percent <= 100:
            out.append((f"target[{target.Value}].percent", f"must be between 0 and 100, got {target.Percent}"))
        total += target.Percent
    if total > 100:
        out.append(("", f"target percentages add up to {total}%; they must not exceed 100%"))
    return out


def check_constraints(report: Report, path: str, constraints: list[Constraint] | None, *, where: str) -> None:
    for i, c in enumerate(constraints or ()):
        report.block(f"{path}.constraint[{i}]", constraint_problems(c, where=where))


def check_affinities(report: Report, path: str, affinities: list[Affinity] | None, *, job_type: str) -> None:
    for i, a in enumerate(affinities or ()):
        block = f"{path}.affinity[{i}]"
        if job_type == "system":
            report.error(block, "system jobs cannot have affinities: they run on every eligible node")
        else:
            report.block(block, affinity_problems(a))


def check_spreads(report: Report, path: str, spreads: list[Spread] | None, *, job_type: str) -> None:
    for i, s in enumerate(spreads or ()):
        block = f"{path}.spread[{i}]"
        if job_type == "system":
            report.error(block, "system jobs cannot have spreads: they run on every eligible node")
        else:
            report.block(block, spread_problems(s))
