"""The lexer's modes: code, quoted templates, heredocs, and interpolations nested in each other."""

from __future__ import annotations

import pytest

from cluster.jobspec.hcl.lexer import tokenize

PUNCTUATION = "... == != <= >= && || => ! < > + - * / % ? : , ( ) [ ]"


def kinds(source: str) -> list[str]:
    return [token.kind for token in tokenize(source).tokens]


def texts(source: str) -> list[str]:
    return [source[t.start : t.end] for t in tokenize(source).tokens]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("a = 1", ["identifier", "=", "number", "end of file"]),
        ("a-b_c2 x.y", ["identifier", "identifier", ".", "identifier", "end of file"]),
        ("1.5e-3 07 2E4", ["number", "number", "number", "end of file"]),
        (PUNCTUATION, [*PUNCTUATION.split(), "end of file"]),
        (
            "a # c\nb // c\nc /* c\nc */ d",
            ["identifier", "newline", "identifier", "newline", "identifier", "identifier", "end of file"],
        ),
        (
            '"a${b}c"',
            [
                "opening quote",
                "literal",
                "${",
                "identifier",
                "template }",
                "literal",
                "closing quote",
                "end of file",
            ],
        ),
        (
            '"%{~ if x ~}"',
            ["opening quote", "%{", "identifier", "identifier", "template }", "closing quote", "end of file"],
        ),
        (
            '"${ {a = 1}.a }"',
            [
                "opening quote",
                "${",
                "{",
                "identifier",
                "=",
                "number",
                "}",
                ".",
                "identifier",
                "template }",
                "closing quote",
                "end of file",
            ],
        ),
        (
            '"${"in${x}"}"',
            [
                "opening quote",
                "${",
                "opening quote",
                "literal",
                "${",
                "identifier",
                "template }",
                "closing quote",
                "template }",
                "closing quote",
                "end of file",
            ],
        ),
        (
            "x = <<EOT\na ${b}\nEOT\n",
            [
                "identifier",
                "=",
                "heredoc",
                "literal",
                "${",
                "identifier",
                "template }",
                "literal",
                "heredoc end",
                "newline",
                "end of file",
            ],
        ),
        ("{\n}", ["{", "newline", "}", "end of file"]),
    ],
)
def test_token_kinds(source: str, expected: list[str]) -> None:
    assert kinds(source) == expected


def test_token_ranges_cover_the_exact_source_text() -> None:
    assert texts('job "a b" { x = [1.5, y...] }') == [
        "job",
        '"',
        "a b",
        '"',
        "{",
        "x",
        "=",
        "[",
        "1.5",
        ",",
        "y",
        "...",
        "]",
        "}",
        "",
    ]


def test_literals_hold_unescaped_text_and_strip_flags_are_recorded() -> None:
    tokens = tokenize('"a\\tb$${c}" "${~ x ~}"').tokens
    assert tokens[1].value == "a\tb${c}"
    interp_open = next(t for t in tokens if t.kind == "${")
    interp_close = next(t for t in tokens if t.kind == "template }")
    assert interp_open.flag and interp_close.flag


def test_heredoc_literals_come_one_per_line_and_keep_backslashes() -> None:
    tokens = tokenize("<<-EOT\n  a\\n\n  b\n  EOT\n").tokens
    heredoc = tokens[0]
    assert (heredoc.kind, heredoc.value, heredoc.flag) == ("heredoc", "EOT", True)
    assert [t.value for t in tokens if t.kind == "literal"] == ["  a\\n\n", "  b\n"]


def test_errors_do_not_stop_the_lexer() -> None:
    lexed = tokenize('a = "x\\q" @\nb = 2\n')
    assert [message for _, message in lexed.errors] == [
        'invalid escape sequence "\\q": use \\n, \\r, \\t, \\", \\\\, \\uNNNN or \\UNNNNNNNN',
        "unexpected character '@'",
    ]
    assert lexed.fatal_offset == -1
    assert kinds('a = "x\\q" @\nb = 2\n') == [
        *("identifier", "=", "opening quote", "literal", "closing quote", "invalid", "newline"),
        *("identifier", "=", "number", "newline", "end of file"),
    ]
