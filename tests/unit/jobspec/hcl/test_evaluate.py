"""Evaluation: operators, conditionals, collections, traversals, splats and for expressions."""

from __future__ import annotations

import pytest

from cluster.jobspec.hcl import EvalContext, Value, body_to_value, evaluate, parse
from tests.unit.jobspec.hcl.helpers import ev, eval_error

VARS: dict[str, Value] = {
    "var": {"image": "redis", "count": 3, "ports": [6379, 6380], "tags": {"env": "prod"}},
    "local": {"name": "cache"},
    "servers": [
        {"name": "a", "ip": "10.0.0.1", "disks": [1, 2]},
        {"name": "b", "ip": "10.0.0.2", "disks": [3]},
    ],
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 + 2", 3),
        ("1.5 + 1.5", 3.0),
        ("10 - 15", -5),
        ("3 * 4", 12),
        ("2 * 0.5", 1.0),
        ("6 / 3", 2),
        ("7 / 2", 3.5),
        ("1 / 3", 1 / 3),
        ("11 % 5", 1),
        ("-7 % 3", -1),
        ("7 % -3", 1),
        ("11 % 5.1", 11 % 5.1),
        ('"2" + 3', 5),
        ('"1.5" * 2', 3.0),
        ("-(2 + 3)", -5),
        ("- -4", 4),
        ("2 + 3 * 4", 14),
        ("(2 + 3) * 4", 20),
        ("10 / 4 * 2", 5.0),
        ("1 < 2", True),
        ("2 <= 2", True),
        ("3 > 4", False),
        ("4 >= 5", False),
        ('"10" > 9', True),
        ("1 == 1.0", True),
        ('1 == "1"', False),
        ('"a" == "a"', True),
        ("true == true", True),
        ("null == null", True),
        ("[1, [2]] == [1, [2]]", True),
        ("{a = 1} == {a = 1}", True),
        ("{a = 1} != {a = 2}", True),
        ("1 != 2", True),
        ("true && false", False),
        ("true && true", True),
        ("false || true", True),
        ("false || false", False),
        ('"true" && true', True),
        ("!true", False),
        ("!false", True),
        ("false && undefined_name", False),
        ("true || undefined_name", True),
        ("true ? 1 : 2", 1),
        ("false ? 1 : 2", 2),
        ('"false" ? 1 : 2', 2),
        ('1 > 2 ? "big" : "small"', "small"),
        ("false ? undefined_name : 3", 3),
    ],
)
def test_operators(text: str, expected: Value) -> None:
    result = ev(text)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[]", []),
        ('[1, "a", true, null]', [1, "a", True, None]),
        ("{}", {}),
        ('{a = 1, "b-c" = 2, d: 3}', {"a": 1, "b-c": 2, "d": 3}),
        ("{(local.name) = 1}", {"cache": 1}),
        ('{"${local.name}-x" = 1}', {"cache-x": 1}),
        ('{1 = "one"}', {"1": "one"}),
        ("var.image", "redis"),
        ("var.ports[1]", 6380),
        ('var.ports["0"]', 6379),
        ('var.tags["env"]', "prod"),
        ("var.tags.env", "prod"),
        ("var.ports.0", 6379),
        ("servers[1].name", "b"),
        ("servers[*].name", ["a", "b"]),
        ("servers.*.ip", ["10.0.0.1", "10.0.0.2"]),
        ("servers[*].disks[0]", [1, 3]),
        ("servers.*.disks[0]", [1, 2]),
        ("local.name[*]", ["cache"]),
        ("null[*]", []),
        ("[for s in servers : s.name]", ["a", "b"]),
        ('[for i, s in servers : "${i}:${s.ip}"]', ["0:10.0.0.1", "1:10.0.0.2"]),
        ("[for p in var.ports : p + 1 if p > 6379]", [6381]),
        ('[for k, v in {b = 2, a = 1} : "${k}=${v}"]', ["a=1", "b=2"]),
        ("[for v in {b = 2, a = 1} : v]", [1, 2]),
        ("{for s in servers : s.name => s.ip}", {"a": "10.0.0.1", "b": "10.0.0.2"}),
        ("{for i, p in var.ports : p => i}", {"6379": 0, "6380": 1}),
        ('{for w in ["x", "yy", "zz"] : length(w) => w...}', {"1": ["x"], "2": ["yy", "zz"]}),
        ('{for w in ["x", "yy"] : w => length(w) if w != "x"}', {"yy": 2}),
        ("[for x in [1, 2] : [for y in [10, 20] : x * y]]", [[10, 20], [20, 40]]),
        ("[for s in servers : s.name if s.name == local.name]", []),
    ],
)
def test_collections_traversals_splats_and_for(text: str, expected: Value) -> None:
    assert ev(text, VARS) == expected


def test_for_variables_shadow_outer_ones_only_inside() -> None:
    assert ev("[for var in [1, 2] : var]", VARS) == [1, 2]
    assert ev("[[for local in [1] : local], local.name]", VARS) == [[1], "cache"]


def test_eval_context_child_scopes() -> None:
    ctx = EvalContext({"a": 1, "b": 2}, passthrough_unknown=True)
    child = ctx.child({"b": 20, "c": 30})
    node = parse("v = [a, b, c]\n").attributes["v"].expr
    assert evaluate(node, child) == [1, 20, 30]
    assert child.passthrough_unknown
    assert child.lookup("zzz") == (False, None)
    assert child.variable_names() == ["a", "b", "c"]


def test_functions_injected_by_the_caller_are_callable_and_arity_checked() -> None:
    files = {"motd.txt": "hello\n"}

    def read_file(path: str) -> str:
        return files[path]

    ctx = EvalContext(functions={"file": read_file})
    body = parse('a = chomp(file("motd.txt"))\nb = file("missing")\nc = file()\nd = upper("x")\n', "j.hcl")
    assert evaluate(body.attributes["a"].expr, ctx) == "hello"
    with pytest.raises(Exception, match=r"j.hcl: line 2, column 5: file\(\): 'missing'"):
        evaluate(body.attributes["b"].expr, ctx)
    with pytest.raises(Exception, match=r"line 3, column 5: file\(\): expects 1 argument, got 0"):
        evaluate(body.attributes["c"].expr, ctx)
    assert evaluate(body.attributes["d"].expr, ctx) == "X"  # the standard library is still there


def test_body_to_value_is_hcl_json_form() -> None:
    body = parse(
        """
image = "redis:${var.image}"
port_map {
  db = 6379
}
mount "volume" "data" {
  readonly = true
}
mount "bind" "logs" {}
labels = { team = "cache" }
""",
        "c.hcl",
    )
    assert body_to_value(body, EvalContext({"var": {"image": "7"}})) == {
        "image": "redis:7",
        "port_map": [{"db": 6379}],
        "mount": [{"volume": {"data": {"readonly": True}}}, {"bind": {"logs": {}}}],
        "labels": {"team": "cache"},
    }


def test_body_to_value_rejects_a_name_used_as_attribute_and_block() -> None:
    body = parse("a = 1\na {\n}\n", "c.hcl")
    with pytest.raises(
        Exception, match='line 2, column 1: "a" is used both as an attribute and as a block type'
    ):
        body_to_value(body, EvalContext())
    body = parse("a {\n}\na = 1\n", "c.hcl")
    with pytest.raises(
        Exception, match='line 3, column 1: "a" is used both as a block type and as an attribute'
    ):
        body_to_value(body, EvalContext())


def test_big_integers_stay_exact() -> None:
    assert ev("123456789012345678901234567890 + 1") == 123456789012345678901234567891


def test_results_too_large_for_a_float_are_errors_not_infinities() -> None:
    assert eval_error("1.0e308 * 10.0") == ("the result is too large", 1, 5)
    assert eval_error("1e399 / 3") == ("the result is too large", 1, 5)
    assert ev("1e399 / 1e398") == 10  # exact integer division stays exact
