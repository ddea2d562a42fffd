"""The parser: every syntax form becomes the right node, at the right line and column."""

from __future__ import annotations

import pytest

from cluster.jobspec.hcl import (
    Attribute,
    AttrStep,
    BinaryOp,
    Block,
    Conditional,
    ForExpr,
    FunctionCall,
    Heredoc,
    IndexStep,
    LiteralValue,
    ObjectExpr,
    Parenthesized,
    Pos,
    SplatStep,
    TemplateExpr,
    TemplateFor,
    TemplateIf,
    TemplateInterp,
    Traversal,
    TupleExpr,
    UnaryOp,
    Variable,
    parse,
)
from tests.unit.jobspec.hcl.helpers import expr_of

JOB = """\
# A comment
job "redis" {
  datacenters = ["dc1"]   // trailing comment
  group "cache" {
    count = 3
    /* a block
       comment */
    task "redis" {
      driver = "docker"
      config { image = "redis:7" }
    }
  }
}
"""


def lc(pos: Pos) -> tuple[int, int]:
    return pos.line, pos.column


def test_blocks_attributes_and_labels_carry_exact_positions() -> None:
    body = parse(JOB, "redis.nomad.hcl")
    (job,) = body.blocks
    assert (job.type, job.labels) == ("job", ["redis"])
    assert job.pos == Pos("redis.nomad.hcl", 2, 1, 12)
    assert [lc(p) for p in job.label_pos] == [(2, 5)]
    assert lc(job.end) == (13, 2)
    datacenters = job.body.attributes["datacenters"]
    assert lc(datacenters.pos) == (3, 3)
    assert lc(datacenters.expr.pos) == (3, 17)
    assert lc(datacenters.end) == (3, 24)
    group = job.body.blocks[0]
    assert (group.type, group.labels, lc(group.pos), lc(group.label_pos[0])) == (
        "group",
        ["cache"],
        (4, 3),
        (4, 9),
    )
    assert lc(group.body.attributes["count"].pos) == (5, 5)
    task = group.body.blocks[0]
    assert lc(task.pos) == (8, 5)
    config = task.body.blocks[0]
    assert (config.type, config.labels, lc(config.pos)) == ("config", [], (10, 7))
    image = config.body.attributes["image"]
    assert lc(image.pos) == (10, 16)
    assert isinstance(image.expr, TemplateExpr)
    assert image.expr.literal_text() == "redis:7"
    assert lc(image.expr.pos) == (10, 24)


def test_body_items_keep_source_order_and_spans() -> None:
    body = parse('a = 1\nb "x" {\n}\nc = 2\nb "y" {}\n')
    assert [type(i).__name__ for i in body.items] == ["Attribute", "Block", "Attribute", "Block"]
    assert list(body.attributes) == ["a", "c"]
    assert [b.labels for b in body.blocks] == [["x"], ["y"]]
    assert lc(body.pos) == (1, 1)
    assert lc(body.end) == (6, 1)
    inner = body.blocks[0].body
    assert (lc(inner.pos), lc(inner.end)) == ((2, 8), (3, 1))


def test_identifier_labels_dashes_and_unicode_positions() -> None:
    body = parse('résumé = "ok"\nmy-block ident-label "q" { x-y = 1 }\n')
    assert body.attributes["résumé"].pos.column == 1
    assert body.attributes["résumé"].expr.pos.column == 10  # columns count characters, not bytes
    block = body.blocks[0]
    assert (block.type, block.labels) == ("my-block", ["ident-label", "q"])
    assert [lc(p) for p in block.label_pos] == [(2, 10), (2, 22)]
    assert "x-y" in block.body.attributes


def test_empty_file_and_comment_only_file() -> None:
    assert parse("").items == []
    assert parse("# nothing\n// here\n/* at all */\n").items == []


def test_crlf_line_endings() -> None:
    body = parse('a = 1\r\nb {\r\n  c = "x"\r\n}\r\n')
    assert lc(body.blocks[0].body.attributes["c"].pos) == (3, 3)


@pytest.mark.parametrize(
    ("text", "node_type"),
    [
        ("1", LiteralValue),
        ("true", LiteralValue),
        ("null", LiteralValue),
        ('"s"', TemplateExpr),
        ("<<EOT\nx\nEOT", Heredoc),
        ("[1, 2]", TupleExpr),
        ("{a = 1}", ObjectExpr),
        ("foo", Variable),
        ("var.x[0]", Traversal),
        ("f(1)", FunctionCall),
        ("-x", UnaryOp),
        ("!x", UnaryOp),
        ("a + b", BinaryOp),
        ("a ? b : c", Conditional),
        ("[for x in y : x]", ForExpr),
        ("{for k, v in y : k => v}", ForExpr),
        ("(a)", Parenthesized),
    ],
)
def test_each_syntax_form_has_its_node(text: str, node_type: type) -> None:
    assert type(expr_of(text)) is node_type


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0),
        ("42", 42),
        ("1.5", 1.5),
        ("1.0", 1.0),
        ("1e3", 1000),
        ("2E+2", 200),
        ("1.5e3", 1500.0),
        ("5e-1", 0.5),
        ("123456789012345678901234567890", 123456789012345678901234567890),
    ],
)
def test_number_literals(text: str, value: float) -> None:
    node = expr_of(text)
    assert isinstance(node, LiteralValue)
    assert node.value == value
    assert type(node.value) is type(value)


def test_operator_precedence_follows_hcl() -> None:
    node = expr_of("a || b && c == d + e * f")
    assert isinstance(node, BinaryOp) and node.op == "||"
    right = node.right
    assert isinstance(right, BinaryOp) and right.op == "&&"
    eq = right.right
    assert isinstance(eq, BinaryOp) and eq.op == "=="
    plus = eq.right
    assert isinstance(plus, BinaryOp) and plus.op == "+"
    assert isinstance(plus.right, BinaryOp) and plus.right.op == "*"


def test_binary_operators_are_left_associative_and_unary_binds_tighter() -> None:
    node = expr_of("a - b - c")
    assert isinstance(node, BinaryOp) and isinstance(node.left, BinaryOp)
    neg = expr_of("-a.b * 2")
    assert isinstance(neg, BinaryOp) and isinstance(neg.left, UnaryOp)
    assert isinstance(neg.left.operand, Traversal)


def test_nested_conditional_and_positions_of_parts() -> None:
    node = expr_of("a ? b : c ? d : e")
    assert isinstance(node, Conditional)
    assert isinstance(node.false_expr, Conditional)
    assert [lc(p) for p in (node.pos, node.true_expr.pos, node.false_expr.pos)] == [(1, 5), (1, 9), (1, 13)]
    assert lc(node.end) == (1, 22)


def test_traversal_steps_and_positions() -> None:
    node = expr_of('var.list[0].name["k"][*].x.*.y')
    assert isinstance(node, Traversal)
    assert isinstance(node.source, Variable) and node.source.name == "var"
    kinds = [type(s).__name__ for s in node.steps]
    assert kinds == [
        "AttrStep",
        "IndexStep",
        "AttrStep",
        "IndexStep",
        "SplatStep",
        "AttrStep",
        "SplatStep",
        "AttrStep",
    ]
    first = node.steps[0]
    assert isinstance(first, AttrStep) and lc(first.pos) == (1, 9)
    index = node.steps[1]
    assert isinstance(index, IndexStep) and lc(index.pos) == (1, 13) and lc(index.key.pos) == (1, 14)
    full, attr_splat = node.steps[4], node.steps[6]
    assert isinstance(full, SplatStep) and full.full
    assert isinstance(attr_splat, SplatStep) and not attr_splat.full


def test_legacy_numeric_attribute_steps_are_indexes() -> None:
    node = expr_of("a.0.1.b")
    assert isinstance(node, Traversal)
    keys = [s.key.value for s in node.steps if isinstance(s, IndexStep) and isinstance(s.key, LiteralValue)]
    assert keys == [0, 1]
    assert isinstance(node.steps[2], AttrStep)


def test_function_call_with_expansion_and_newlines() -> None:
    node = expr_of("concat(\n  [1],\n  x...\n)")
    assert isinstance(node, FunctionCall)
    assert (node.name, len(node.args), node.expand_final) == ("concat", 2, True)
    assert lc(node.args[1].pos) == (3, 3)
    assert lc(node.end) == (4, 2)


def test_object_items_keep_keys_and_positions() -> None:
    node = expr_of('{\n  a = 1\n  "b c": 2, (k) = 3\n  "${x}" = 4\n}')
    assert isinstance(node, ObjectExpr)
    keys = [item.key for item in node.items]
    assert isinstance(keys[0], LiteralValue) and keys[0].value == "a"
    assert isinstance(keys[1], TemplateExpr) and keys[1].literal_text() == "b c"
    assert isinstance(keys[2], Parenthesized)
    assert isinstance(keys[3], TemplateExpr) and keys[3].literal_text() is None
    assert [lc(item.pos) for item in node.items] == [(2, 3), (3, 3), (3, 13), (4, 3)]
    assert [lc(item.value.pos) for item in node.items] == [(2, 7), (3, 10), (3, 19), (4, 12)]


def test_tuple_spanning_lines_with_trailing_comma() -> None:
    node = expr_of("[\n  1,\n  2,\n]")
    assert isinstance(node, TupleExpr) and len(node.items) == 2


def test_for_expressions_all_parts() -> None:
    tuple_for = expr_of("[for i, v in xs : v * 2 if i > 0]")
    assert isinstance(tuple_for, ForExpr)
    assert (tuple_for.key_var, tuple_for.value_var, tuple_for.key_expr, tuple_for.group) == (
        "i",
        "v",
        None,
        False,
    )
    assert tuple_for.condition is not None
    object_for = expr_of('{\n  for k, v in m :\n    v => k...\n    if k != ""\n}')
    assert isinstance(object_for, ForExpr)
    assert object_for.key_expr is not None and object_for.group
    assert lc(object_for.value_expr.pos) == (3, 10)


def test_template_parts_interpolation_and_directives() -> None:
    node = expr_of('"a ${b} %{ if c }d%{ else }e%{ endif }%{ for x in y }${x}%{ endfor }"')
    assert isinstance(node, TemplateExpr)
    kinds = [type(p).__name__ for p in node.parts]
    assert kinds == ["LiteralValue", "TemplateInterp", "LiteralValue", "TemplateIf", "TemplateFor"]
    interp = node.parts[1]
    assert isinstance(interp, TemplateInterp) and interp.source == "${b}" and lc(interp.pos) == (1, 8)
    assert lc(interp.expr.pos) == (1, 10)
    cond = node.parts[3]
    assert isinstance(cond, TemplateIf) and cond.otherwise is not None
    loop = node.parts[4]
    assert isinstance(loop, TemplateFor) and loop.value_var == "x" and loop.key_var is None


def test_string_escapes_are_decoded() -> None:
    node = expr_of(r'"tab\t nl\n cr\r q\" bs\\ u\u00e9 U\U0001F600 $${x} %%{y} $ %"')
    assert isinstance(node, TemplateExpr)
    assert node.literal_text() == 'tab\t nl\n cr\r q" bs\\ u\u00e9 U\U0001f600 ${x} %{y} $ %'


def test_heredoc_nodes() -> None:
    body = parse("a = <<EOT\nhello ${name}\n  $${raw} \\n\nEOT\nb = <<-X\n  y\n  X\n")
    a = body.attributes["a"].expr
    assert isinstance(a, Heredoc) and a.marker == "EOT" and not a.indented
    assert lc(a.pos) == (1, 5) and lc(a.end) == (4, 4)
    b = body.attributes["b"].expr
    assert isinstance(b, Heredoc) and b.indented and b.literal_text() == "y\n"
    assert isinstance(body.attributes["a"], Attribute)


def test_single_line_blocks() -> None:
    body = parse('a { b = 1 }\nc "l" {}\n')
    assert body.blocks[0].body.attributes["b"].expr.pos.column == 9
    assert body.blocks[1].body.items == []
    assert isinstance(body.blocks[1], Block)


def test_newlines_inside_brackets_parentheses_and_interpolations_are_ignored() -> None:
    body = parse('a = (\n 1 +\n 2\n)\nb = "${\n  x\n}"\nc = [\n\n 1\n\n]\n')
    assert set(body.attributes) == {"a", "b", "c"}
