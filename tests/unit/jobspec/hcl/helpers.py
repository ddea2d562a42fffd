"""Shared helpers for the HCL tests: evaluate one expression, catch one error."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from cluster.jobspec.hcl import EvalContext, Expr, HCLError, Value, evaluate, parse


def expr_of(text: str) -> Expr:
    """The expression of ``v = <text>``."""
    return parse(f"v = {text}\n", "t.hcl").attributes["v"].expr


def ev(text: str, variables: Mapping[str, Value] | None = None, passthrough: bool = False) -> Value:
    """Evaluate one expression written in HCL."""
    return evaluate(expr_of(text), EvalContext(variables, passthrough_unknown=passthrough))


def eval_error(text: str, variables: Mapping[str, Value] | None = None) -> tuple[str, int, int]:
    """(message, line, column) of the one error evaluating ``v = <text>``; columns count from the
    start of ``v = ``, so the expression starts at column 5."""
    with pytest.raises(HCLError) as info:
        ev(text, variables)
    assert len(info.value.diagnostics) == 1
    diag = info.value.diagnostics[0]
    assert diag.filename == "t.hcl"
    assert diag.path == ""
    return diag.message, diag.line, diag.column


def parse_errors(source: str) -> list[tuple[int, int, str]]:
    """Every (line, column, message) reported for ``source``."""
    with pytest.raises(HCLError) as info:
        parse(source, "bad.hcl")
    assert all(d.filename == "bad.hcl" for d in info.value.diagnostics)
    return [(d.line, d.column, d.message) for d in info.value.diagnostics]
