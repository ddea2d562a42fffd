"""Hostile or absurd input is refused with an error, never a crash or a hang: job files arrive
over the network, so nesting depth and evaluation work are bounded."""

from __future__ import annotations

import pytest

from cluster.jobspec.hcl import EvalContext, HCLError, body_to_value, parse
from cluster.jobspec.hcl import evaluator as evaluate_module
from cluster.jobspec.hcl.evaluator import MAX_EVALUATION_STEPS
from cluster.jobspec.hcl.parser import MAX_NESTING
from tests.unit.jobspec.hcl.helpers import ev, eval_error, parse_errors

TOO_DEEP = f"nested too deeply: more than {MAX_NESTING} levels of brackets, blocks or operators"


@pytest.mark.parametrize(
    ("source", "line"),
    [
        ("a = " + "[" * 5000 + "]" * 5000 + "\n", 1),
        ("a = " + "(" * 5000 + "1" + ")" * 5000 + "\n", 1),
        ("a = " + "!" * 5000 + "true\n", 1),
        ("a = " + "f(" * 5000 + ")" * 5000 + "\n", 1),
        ("a = " + " + ".join(["1"] * 5000) + "\n", 1),
        ("a = x" + "[*]" * 5000 + "\n", 1),
        ("a = " + '"${' * 3000 + "1" + '}"' * 3000 + "\n", 1),
        ("b {\n" * 5000 + "}\n" * 5000, MAX_NESTING + 1),
    ],
    ids=["lists", "parentheses", "unary", "calls", "operator chain", "splats", "templates", "blocks"],
)
def test_deep_nesting_is_a_syntax_error_not_a_crash(source: str, line: int) -> None:
    ((error_line, column, message),) = parse_errors(source)
    assert (error_line, message) == (line, TOO_DEEP)
    assert column > 1


def test_nesting_up_to_the_limit_is_fine() -> None:
    depth = MAX_NESTING - 2
    assert ev("[" * depth + "]" * depth) is not None
    body = parse("b {\n" * (MAX_NESTING - 1) + "x = 1\n" + "}\n" * (MAX_NESTING - 1))
    value = body_to_value(body, EvalContext())
    for _ in range(MAX_NESTING - 1):
        (value,) = value["b"]  # type: ignore[call-overload,misc]
    assert value == {"x": 1}


def test_runaway_evaluation_stops_with_an_error() -> None:
    body = parse(
        "a = [for a in range(1000) : [for b in range(1000) : [for c in range(1000) : 1]]]\n", "x.hcl"
    )
    with pytest.raises(HCLError) as info:
        body_to_value(body, EvalContext())
    assert (
        str(info.value)
        == f"x.hcl: line 1, column 77: evaluation stopped: more than {MAX_EVALUATION_STEPS} steps"
    )


def test_the_step_budget_is_shared_by_child_scopes_but_not_by_new_contexts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(evaluate_module, "MAX_EVALUATION_STEPS", 3000)
    body = parse("a = [for a in range(50) : [for b in range(30) : b]]\n")  # about 1,750 steps
    ctx = EvalContext()
    assert len(body_to_value(body, ctx)["a"]) == 50  # type: ignore[arg-type]
    with pytest.raises(HCLError, match="evaluation stopped: more than 3000 steps"):
        body_to_value(body, ctx)
    assert len(body_to_value(body, EvalContext())["a"]) == 50  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ('"${' + " * ".join(["1e399"] * 12) + '}"', "the result is too large", 8),
        ("-(" + " * ".join(["1e399"] * 12) + ")", "the result is too large", 7),
        (
            'parseint(join("", [for i in range(1000) : "99999"]), 10)',
            "parseint(): the number is too large",
            14,
        ),
        ("1e400", "number 1e400 is too large", 5),
    ],
)
def test_numbers_too_large_to_mean_anything_are_errors(text: str, message: str, column: int) -> None:
    assert eval_error(text) == (message, 1, column)


def test_large_but_sane_integers_are_exact() -> None:
    assert ev('"n=${1e399 * 1e399 * 10}"') == "n=1" + "0" * 799
