"""Mistakes a job-file author makes, and the exact message, line and column each one gets."""

from __future__ import annotations

import pytest

from cluster.errors import InvalidInput
from cluster.jobspec.hcl import EvalContext, HCLError, evaluate, parse
from tests.unit.jobspec.hcl.helpers import eval_error, parse_errors

SYNTAX_ERRORS = [
    (
        "missing equals",
        'job "x" {\n  count\n}\n',
        [(2, 8, "expected '=' or '{' after attribute name \"count\", found newline")],
    ),
    (
        "value without equals",
        "count 3\n",
        [(1, 7, "expected '=' or '{' after attribute name \"count\", found number 3")],
    ),
    (
        "unclosed brace",
        'job "x" {\n  group "g" {\n    count = 1\n  }\n',
        [(1, 9, "unclosed block \"job\": no '}' closes this '{' before the end of the file")],
    ),
    (
        "bad escape",
        'a = "x\\qy"\n',
        [(1, 7, 'invalid escape sequence "\\q": use \\n, \\r, \\t, \\", \\\\, \\uNNNN or \\UNNNNNNNN')],
    ),
    (
        "short unicode escape",
        'a = "\\u12"\n',
        [(1, 6, 'invalid escape sequence "\\u": expected 4 hexadecimal digits')],
    ),
    (
        "surrogate escape",
        'a = "\\uD800"\n',
        [(1, 6, 'invalid escape sequence "\\uD800": not a Unicode character')],
    ),
    (
        "unterminated string, later lines still checked",
        'a = "abc\nb = 2 3\n',
        [
            (1, 5, "unterminated string: expected '\"' before the end of the line"),
            (2, 7, 'expected a newline after the value of attribute "b", found number 3'),
        ],
    ),
    (
        "unterminated heredoc",
        "a = 1\nb = <<EOF\nhello\n",
        [(2, 5, 'unterminated heredoc: no line "EOF" closes it before the end of the file')],
    ),
    (
        "heredoc without marker",
        "a = <<\n",
        [(1, 5, "invalid heredoc: expected a marker name and a newline after '<<'")],
    ),
    ("missing value", "a = 1 +\n", [(1, 8, "expected an expression, found newline")]),
    (
        "duplicate attribute",
        'a = 1\nb = 2\njob "x" {\n  a = 1\n}\na = 3\n',
        [(6, 1, 'duplicate attribute "a": already defined at line 1, column 1')],
    ),
    (
        "several independent mistakes",
        "a = \nb = [1, 2 3]\nc = 3\nd = 4\ne 5\n",
        [
            (1, 5, "expected an expression, found newline"),
            (2, 11, "expected ',' or ']' after a list item, found number 3"),
            (5, 3, "expected '=' or '{' after attribute name \"e\", found number 5"),
        ],
    ),
    ("stray closing brace", "}\na = 1\n", [(1, 1, "unexpected '}': there is no open block to close")]),
    (
        "interpolation in a label",
        'job "${x}" {\n}\n',
        [(1, 6, "a block label must be a literal string, without '${' or '%{'")],
    ),
    (
        "two attributes in a single-line block",
        "a { b = 1 c = 2 }\n",
        [(1, 11, "a single-line block can hold only one attribute; put each on its own line")],
    ),
    (
        "nested block in a single-line block",
        "a { b { } }\n",
        [(1, 5, "a single-line block can hold only one attribute; put nested blocks on new lines")],
    ),
    (
        "unclosed interpolation",
        'a = "${foo"\nb = 1\n',
        [(1, 6, "unclosed '${': expected '}' before the end of the file")],
    ),
    (
        "unknown directive",
        'a = "%{ iff x }"\n',
        [(1, 9, "expected if, else, endif, for or endfor after '%{', found identifier \"iff\"")],
    ),
    ("missing endif", 'a = "%{ if x }yes"\n', [(1, 6, "%{ if } has no matching %{ endif }")]),
    ("missing endfor", 'a = "%{ for x in y }z"\n', [(1, 6, "%{ for } has no matching %{ endfor }")]),
    (
        "stray endfor",
        'a = "x%{ endfor }"\n',
        [(1, 7, "unexpected %{ endfor }: there is no open %{ for } to match it")],
    ),
    (
        "else inside for",
        'a = "%{ for x in y }%{ else }%{ endfor }"\n',
        [(1, 21, "unexpected %{ else }: there is no open %{ if } to match it")],
    ),
    (
        "bad characters",
        "a = 1 @ 2\nb = $\n",
        [(1, 7, "unexpected character '@'"), (2, 5, "unexpected character '$'")],
    ),
    (
        "object items without separator",
        "a = { x = 1 y = 2 }\n",
        [(1, 13, "expected ',', a newline or '}' after an object item, found identifier \"y\"")],
    ),
    (
        "ambiguous object key",
        "a = { var.x = 1 }\n",
        [
            (
                1,
                7,
                'ambiguous object key "var.x": write (var.x) to use its value or "var.x" for a literal name',
            )
        ],
    ),
    (
        "something after a block's closing brace",
        "a {\n} b = 1\n",
        [(2, 3, 'expected a newline after the \'}\' of block "a", found identifier "b"')],
    ),
    (
        "block label not followed by a brace",
        'job "x"\n{\n  a = 1 2\n}\n',
        [
            (2, 1, "the '{' of block \"job\" must be on the same line as the block type"),
            (3, 9, 'expected a newline after the value of attribute "a", found number 2'),
        ],
    ),
    (
        "unterminated comment",
        "a = 1\n/* abc\nb = 2\n",
        [(2, 1, "unterminated comment: '/*' has no closing '*/'")],
    ),
    ("unclosed call", "a = f(1, 2\n", [(1, 6, "unclosed '(': expected ')' before the end of the file")]),
    ("unclosed list", "a = [1, 2\n", [(1, 5, "unclosed '[': expected ']' before the end of the file")]),
    (
        "unclosed object",
        "a = {\n  b = 1\n",
        [(1, 5, "unclosed '{': expected '}' before the end of the file")],
    ),
    (
        "missing comma between arguments",
        "a = f(1 2)\n",
        [(1, 9, "expected ',' or ')' after an argument of f(), found number 2")],
    ),
    (
        "for without in",
        "a = [for x y : x]\n",
        [(1, 12, "expected 'in' after the for-expression variables, found identifier \"y\"")],
    ),
    (
        "for object without arrow",
        "a = {for k, v in m : k = v}\n",
        [(1, 24, "expected '=>' after the key of the object for expression, found '='")],
    ),
    ("dangling dot", "a = b.\n", [(1, 7, "expected an attribute name after '.', found newline")]),
    ("number too large", "a = 1.5e999\n", [(1, 5, "number 1.5e999 is too large")]),
    (
        "conditional without colon",
        "a = x ? 1\n",
        [(1, 10, "expected ':' after the true result of the conditional expression, found newline")],
    ),
    (
        "expand not on the last argument",
        "a = f(x..., y)\n",
        [(1, 11, "expected ')' after '...': only the last argument can be expanded, found ','")],
    ),
    (
        "attribute name is a string",
        '"a" = 1\n',
        [(1, 1, "expected an attribute name or block type, found a string")],
    ),
    (
        "tilde outside a template",
        "a = 1 ~}\n",
        [(1, 7, "unexpected '~}' outside a template")],
    ),
]


@pytest.mark.parametrize(
    ("name", "source", "expected"), SYNTAX_ERRORS, ids=[case[0] for case in SYNTAX_ERRORS]
)
def test_syntax_errors(name: str, source: str, expected: list[tuple[int, int, str]]) -> None:
    assert parse_errors(source) == expected


def test_hcl_error_is_invalid_input_and_prints_every_diagnostic() -> None:
    with pytest.raises(HCLError) as info:
        parse("a = \nb = 1 2\n", "job.nomad.hcl")
    assert isinstance(info.value, InvalidInput)
    assert str(info.value) == (
        "job.nomad.hcl: line 1, column 5: expected an expression, found newline\n"
        'job.nomad.hcl: line 2, column 7: expected a newline after the value of attribute "b", found number 2'
    )


VARS = {"var": {"image": "redis", "count": 3}, "list": [1, 2, 3], "obj": {"a": 1}}

EVAL_ERRORS = [
    ('"a" + 1', 'cannot add string and number: "a" is not a number', 5),
    ("1 + [1]", "cannot add number and list", 9),
    ("null * 2", "cannot multiply null and number", 5),
    ("1 - {}", "cannot subtract number and object", 9),
    ('5 % "x"', 'cannot take the remainder of number and string: "x" is not a number', 9),
    ("1 / 0", "division by zero", 9),
    ("1 % 0", "division by zero", 9),
    ('1 < "a"', "cannot compare number and string with '<': \"a\" is not a number", 9),
    ("true && 1", "cannot apply '&&' to number: both operands must be bools", 13),
    ('"yes" || true', "cannot apply '||' to string \"yes\": both operands must be bools", 5),
    ("!5", "cannot apply '!' to number: a bool is required", 6),
    ('-"x"', 'cannot negate string "x": a number is required', 6),
    ("foo", 'unknown variable "foo"; defined variables are: list, obj, var', 5),
    ("var.x", 'undefined variable "var.x"; defined: var.count, var.image', 5),
    ("var.image.x", 'cannot get attribute "x" from string', 15),
    ("list[5]", "index 5 is out of range for a list of 3 elements", 10),
    ("list[-1]", "index -1 is out of range for a list of 3 elements", 10),
    ('list["x"]', 'a list index must be a whole number: a number is required, got string "x"', 10),
    ("list[1.5]", "a list index must be a whole number: a whole number is required, got 1.5", 10),
    ("list[null]", "an index must not be null", 10),
    ('obj["b"]', 'key "b" not found in object; it has: a', 9),
    ("{x = obj}.x.b", 'object has no attribute "b"; it has: a', 17),
    ("list.a", 'cannot get attribute "a" from a list; use [*].a for every element or [N].a for one', 10),
    ("var.image[0]", "cannot index string", 14),
    ('uper("x")', 'unknown function "uper"; did you mean "upper"?', 5),
    ('upper("a", "b")', "upper(): expects 1 argument, got 2", 5),
    ("upper([1])", 'upper(): argument "str": a string is required, got list', 11),
    ("upper(null)", 'upper(): argument "str" must not be null', 11),
    ("upper(list...)", "upper(): expects 1 argument, got 3", 5),
    ("upper(var.image...)", "only a list can be expanded with '...', got string", 11),
    ("1 ? 2 : 3", "the condition must be a bool, got number", 5),
    ("null ? 1 : 2", "the condition is null; it must be true or false", 5),
    ("[for x in 5: x]", "a for expression cannot iterate over number; a list or object is needed", 15),
    ("[for x in list: x if x]", "the for expression's 'if' must be a bool, got number", 26),
    (
        "{for x in [1, 1]: x => x}",
        "duplicate key \"1\" in for expression; add '...' after the value to group values by key",
        23,
    ),
    ("{for x in [[1]]: x => 1}", "a for expression key must be a string, got list", 22),
    ('{a = 1, "a" = 2}', 'duplicate key "a" in object', 13),
    ("{(null) = 1}", "object key must not be null", 6),
    ("can(1, 2)", "can(): expects 1 argument, got 2", 5),
    ("try()", "try(): expects at least 1 argument, got 0", 5),
    ("try(list...)", "try(): its arguments cannot be expanded with '...'", 5),
    (
        "try(foo, list[9])",
        "try(): no argument could be evaluated; the last error was: "
        "t.hcl: line 1, column 19: index 9 is out of range for a list of 3 elements",
        5,
    ),
]


@pytest.mark.parametrize(("text", "message", "column"), EVAL_ERRORS, ids=[case[0] for case in EVAL_ERRORS])
def test_evaluation_errors(text: str, message: str, column: int) -> None:
    assert eval_error(text, VARS) == (message, 1, column)


def test_evaluation_error_deep_inside_a_file_points_at_its_line() -> None:
    source = 'job "x" {\n  group "g" {\n    count = (var.count +\n      var.missing)\n  }\n}\n'
    body = parse(source, "deep.hcl")
    count = body.blocks[0].body.blocks[0].body.attributes["count"]
    with pytest.raises(HCLError) as info:
        evaluate(count.expr, EvalContext({"var": {"count": 1}}))
    assert (
        str(info.value) == 'deep.hcl: line 4, column 7: undefined variable "var.missing"; defined: var.count'
    )
