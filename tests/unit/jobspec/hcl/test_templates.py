"""Templates: interpolation, directives, strip markers, heredocs, Nomad pass-through, references."""

from __future__ import annotations

import pytest

from cluster.jobspec.hcl import EvalContext, Value, body_to_value, evaluate, parse, references
from tests.unit.jobspec.hcl.helpers import ev, eval_error, expr_of

VARS: dict[str, Value] = {"var": {"name": "web", "n": 2, "items": ["a", "b"], "on": True}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('""', ""),
        ('"plain"', "plain"),
        ('"${var.name}-1"', "web-1"),
        ('"n=${var.n + 1}"', "n=3"),
        ('"${1.5} ${1e3} ${0.1 + 0.2} ${true} ${-0}"', "1.5 1000 0.30000000000000004 true 0"),
        ('"${var.n}"', 2),  # a lone interpolation keeps its type
        ('"${var.items}"', ["a", "b"]),
        ('"x${"inner ${var.name}"}y"', "xinner weby"),
        ('"${ {a = "}"}.a }"', "}"),
        ('"%{ if var.on }on%{ else }off%{ endif }"', "on"),
        ('"%{ if !var.on }on%{ endif }!"', "!"),
        ('"%{ for x in var.items }<${x}>%{ endfor }"', "<a><b>"),
        ('"%{ for i, x in var.items }${i}${x},%{ endfor }"', "0a,1b,"),
        ('"%{ for k, v in {b = 1, a = 2} }${k}${v} %{ endfor }"', "a2 b1 "),
        ('"%{ for x in var.items }%{ if x == "b" }[${x}]%{ else }${x}%{ endif }%{ endfor }"', "a[b]"),
        ('"a   ${~ var.name ~}   b"', "awebb"),
        ('"a \t %{~ if true ~} \t b %{~ endif ~}  c"', "abc"),
        ('"$${not} %%{not} $ % $$"', "${not} %{not} $ % $$"),
    ],
)
def test_quoted_templates(text: str, expected: Value) -> None:
    assert ev(text, VARS) == expected


HEREDOCS = """\
plain = <<EOT
Foo
  ${var.name}
Baz
EOT
kept = <<EOT
    indented
  EOT
flush = <<-EOT
    Foo
      Bar
    ${var.name}
    Baz
    EOT
less = <<-EOT
    Foo
  Bar
    Baz
  EOT
blank_lines = <<-EOT
    a

    b
  EOT
tabs = <<-EOT
\tFoo
  Bar
  EOT
interp_first = <<-EOT
${var.name}
    x
  EOT
loop = <<-EOT
    %{ for x in var.items ~}
    item ${x}
    %{ endfor ~}
    end
  EOT
no_escapes = <<EOT
a\\nb $${x} %%{y}
EOT
suffix = <<EOT
  NOT EOT
EOT
empty = <<EOT
EOT
"""


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("plain", "Foo\n  web\nBaz\n"),
        ("kept", "    indented\n"),
        ("flush", "Foo\n  Bar\nweb\nBaz\n"),
        ("less", "  Foo\nBar\n  Baz\n"),
        ("blank_lines", "a\n\nb\n"),
        ("tabs", "Foo\n Bar\n"),
        ("interp_first", "web\n    x\n"),
        ("loop", "item a\nitem b\nend\n"),
        ("no_escapes", "a\\nb ${x} %{y}\n"),
        ("suffix", "  NOT EOT\n"),
        ("empty", ""),
    ],
)
def test_heredocs(name: str, expected: str) -> None:
    body = parse(HEREDOCS, "h.hcl")
    assert evaluate(body.attributes[name].expr, EvalContext(VARS)) == expected


NOMAD_STRINGS = [
    "${attr.kernel.name}",
    "${node.unique.name}",
    "${meta.rack}",
    "${NOMAD_ALLOC_DIR}",
    '${env["HOME"]}',
    "${node.datacenter}",
    "${attr.unique.network.ip-address}",
    "${ attr.os.name }",
    "${~NOMAD_META_foo~}",
    "${meta[0]}",
]


@pytest.mark.parametrize("text", NOMAD_STRINGS)
def test_runtime_interpolations_pass_through_verbatim(text: str) -> None:
    assert ev(f'"{text}"', VARS, passthrough=True) == text  # (a quote inside ${} needs no escape)


def test_pass_through_mixes_with_real_variables_inside_one_string() -> None:
    result = ev('"${NOMAD_ALLOC_DIR}/data/${var.name}-${meta.rack}.conf"', VARS, passthrough=True)
    assert result == "${NOMAD_ALLOC_DIR}/data/web-${meta.rack}.conf"
    heredoc = parse("t = <<EOT\nhost=${node.unique.name} app=${var.name}\nEOT\n").attributes["t"].expr
    assert (
        evaluate(heredoc, EvalContext(VARS, passthrough_unknown=True)) == "host=${node.unique.name} app=web\n"
    )


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("attr.kernel.name", 'unknown variable "attr"; defined variables are: var', 5),
        ('"${attr.kernel.name}"', None, 0),
        ('"${upper(meta.rack)}"', 'unknown variable "meta"; defined variables are: var', 14),
        ('"${node.name == 1}"', 'unknown variable "node"; defined variables are: var', 8),
        ('"${meta[var.name]}"', 'unknown variable "meta"; defined variables are: var', 8),
        ('"${attrs[*].x}"', 'unknown variable "attrs"; defined variables are: var', 8),
        ('"${var.nope}"', 'undefined variable "var.nope"; defined: var.items, var.n, var.name, var.on', 8),
    ],
)
def test_pass_through_applies_only_to_plain_traversals_of_unknown_roots_in_templates(
    text: str, message: str | None, column: int
) -> None:
    ctx = EvalContext(VARS, passthrough_unknown=True)
    node = expr_of(text)
    if message is None:
        assert evaluate(node, ctx) == "${attr.kernel.name}"
        return
    with pytest.raises(Exception) as info:
        evaluate(node, ctx)
    assert str(info.value) == f"t.hcl: line 1, column {column}: {message}"


def test_without_pass_through_runtime_names_are_unknown_variables() -> None:
    assert eval_error('"${attr.kernel.name}"', VARS) == (
        'unknown variable "attr"; defined variables are: var',
        1,
        8,
    )


def test_template_value_errors() -> None:
    assert eval_error('"a${null}"') == ("cannot include null in a string template", 1, 9)
    assert eval_error('"a${[1]}"') == (
        "cannot include a list in a string template; use join() or jsonencode()",
        1,
        9,
    )
    assert eval_error('"%{ if 1 }x%{ endif }"') == ("the %{ if } condition must be a bool, got number", 1, 12)
    assert eval_error('"%{ for x in "ab" }x%{ endfor }"') == (
        "%{ for } cannot iterate over string; a list or object is needed",
        1,
        18,
    )


def test_references_lists_variable_traversals_in_order() -> None:
    node = expr_of(
        '"${var.image}:${local.tag}" == join(",", [for s in var.servers : s.name if s.up]) ? var.image : '
        'lookup(local.m["k"], "x", count)'
    )
    assert references(node) == [
        ("var", "image"),
        ("local", "tag"),
        ("var", "servers"),
        ("local", "m", "k"),
        ("count",),
    ]


def test_references_exclude_for_variables_and_stop_at_dynamic_steps() -> None:
    assert references(expr_of("{for k, v in var.m : k => v...}")) == [("var", "m")]
    assert references(expr_of('"%{ for x in local.xs }${x}${var.sep}%{ endfor }"')) == [
        ("local", "xs"),
        ("var", "sep"),
    ]
    assert references(expr_of("var.list[0].name")) == [("var", "list")]
    assert references(expr_of("var.list[local.i][*].a")) == [("var", "list"), ("local", "i")]
    assert references(expr_of("try(var.a, -local.b, {x = var.c}, [var.a])")) == [
        ("var", "a"),
        ("local", "b"),
        ("var", "c"),
    ]
    assert references(expr_of("f(1).x[var.k]")) == [("var", "k")]
    assert references(expr_of("1 + 2")) == []


def test_body_to_value_with_pass_through_keeps_runtime_strings() -> None:
    body = parse('config {\n  args = ["${NOMAD_TASK_DIR}/run.sh", "${var.name}"]\n}\n')
    ctx = EvalContext(VARS, passthrough_unknown=True)
    assert body_to_value(body, ctx) == {"config": [{"args": ["${NOMAD_TASK_DIR}/run.sh", "web"]}]}
