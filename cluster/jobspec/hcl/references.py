"""Which variables an expression uses, without evaluating it.

The job-file decoder uses this to evaluate variables and locals in dependency order and to
report a reference to an undeclared variable before evaluating anything.
"""

from __future__ import annotations

from cluster.jobspec.hcl.ast import (
    AttrStep,
    BinaryOp,
    Conditional,
    Expr,
    ForExpr,
    FunctionCall,
    IndexStep,
    LiteralValue,
    ObjectExpr,
    Parenthesized,
    TemplateExpr,
    TemplateFor,
    TemplateIf,
    TemplateInterp,
    Traversal,
    TupleExpr,
    UnaryOp,
    Variable,
)
from cluster.jobspec.hcl.traverse import static_key

__all__ = ["references"]


def references(expr: Expr) -> list[tuple[str, ...]]:
    """Variable traversals in source order, without duplicates: the root name followed by the
    attribute names and literal string keys right after it, e.g. ``("var", "image")`` for
    ``var.image[0]``. Names bound by ``for`` inside the expression are not references."""
    found: list[tuple[str, ...]] = []
    _collect(expr, frozenset(), found)
    return list(dict.fromkeys(found))


def _collect(expr: Expr, bound: frozenset[str], found: list[tuple[str, ...]]) -> None:
    if isinstance(expr, Variable):
        if expr.name not in bound:
            found.append((expr.name,))
    elif isinstance(expr, Traversal):
        _traversal(expr, bound, found)
    elif isinstance(expr, ForExpr | TemplateFor):
        _for(expr, bound, found)
    else:
        for child in _children(expr):
            _collect(child, bound, found)


def _traversal(expr: Traversal, bound: frozenset[str], found: list[tuple[str, ...]]) -> None:
    if isinstance(expr.source, Variable):
        if expr.source.name not in bound:
            path = [expr.source.name]
            for step in expr.steps:
                if isinstance(step, AttrStep):
                    path.append(step.name)
                elif isinstance(step, IndexStep) and isinstance(key := static_key(step.key), str):
                    path.append(key)
                else:
                    break
            found.append(tuple(path))
    else:
        _collect(expr.source, bound, found)
    for step in expr.steps:
        if isinstance(step, IndexStep):
            _collect(step.key, bound, found)


def _for(expr: ForExpr | TemplateFor, bound: frozenset[str], found: list[tuple[str, ...]]) -> None:
    _collect(expr.collection, bound, found)
    inner = bound | {expr.value_var} | ({expr.key_var} if expr.key_var else set())
    if isinstance(expr, TemplateFor):
        _collect(expr.body, inner, found)
        return
    for child in (expr.key_expr, expr.value_expr, expr.condition):
        if child is not None:
            _collect(child, inner, found)


def _children(expr: Expr) -> list[Expr]:
    if isinstance(expr, TemplateExpr):  # includes Heredoc
        return list(expr.parts)
    if isinstance(expr, TemplateInterp | Parenthesized):
        return [expr.expr]
    if isinstance(expr, TemplateIf):
        return [expr.condition, expr.then] + ([expr.otherwise] if expr.otherwise is not None else [])
    if isinstance(expr, TupleExpr):
        return list(expr.items)
    if isinstance(expr, ObjectExpr):
        return [node for item in expr.items for node in (item.key, item.value)]
    if isinstance(expr, FunctionCall):
        return list(expr.args)
    if isinstance(expr, UnaryOp):
        return [expr.operand]
    if isinstance(expr, BinaryOp):
        return [expr.left, expr.right]
    if isinstance(expr, Conditional):
        return [expr.condition, expr.true_expr, expr.false_expr]
    assert isinstance(expr, LiteralValue), type(expr)
    return []
