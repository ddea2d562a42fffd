"""Tokens of Nomad's filter expressions (go-bexpr), each with the 1-based column it starts at.

Values are double-quoted strings (with backslash escapes), backquoted raw strings, or bare words
(numbers, ``true``, identifiers); selectors are words joined by dots. A word that is a keyword
(``and``, ``or``, ``not``, ``in``, ``is``, ``empty``, ``contains``, ``matches``) is a keyword.
"""

from __future__ import annotations

from dataclasses import dataclass

from cluster.filter.errors import FilterError

__all__ = ["KEYWORDS", "Token", "tokenize"]

KEYWORDS = frozenset({"and", "or", "not", "in", "is", "empty", "contains", "matches"})
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "/": "/"}
_WORD_EXTRA = frozenset("._-:/@+")


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "word", "string", "keyword", "op" (== !=), "(", ")", "end"
    text: str
    column: int


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``, ending with an "end" token; FilterError at the first bad character."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char.isspace():
            pos += 1
        elif char in "()":
            tokens.append(Token(char, char, pos + 1))
            pos += 1
        elif text.startswith(("==", "!="), pos):
            tokens.append(Token("op", text[pos:pos + 2], pos + 1))
            pos += 2
        elif char == '"':
            value, end = _quoted(text, pos)
            tokens.append(Token("string", value, pos + 1))
            pos = end
        elif char == "`":
            end = text.find("`", pos + 1)
            if end < 0:
                raise FilterError("unterminated raw string (missing closing `)", pos + 1)
            tokens.append(Token("string", text[pos + 1:end], pos + 1))
            pos = end + 1
        elif char.isalnum() or char in _WORD_EXTRA or char == "_":
            start = pos
            while pos < len(text) and (text[pos].isalnum() or text[pos] in _WORD_EXTRA or text[pos] == "_"):
                pos += 1
            word = text[start:pos]
            tokens.append(Token("keyword" if word in KEYWORDS else "word", word, start + 1))
        else:
            raise FilterError(f"unexpected character {char!r}", pos + 1)
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


def _quoted(text: str, start: int) -> tuple[str, int]:
    """A double-quoted string starting at ``start``: its value and the position after it."""
    out: list[str] = []
    pos = start + 1
    while pos < len(text):
        char = text[pos]
        if char == '"':
            return "".join(out), pos + 1
        if char == "\\":
            if pos + 1 >= len(text) or text[pos + 1] not in _ESCAPES:
                raise FilterError("invalid escape in string", pos + 1)
            out.append(_ESCAPES[text[pos + 1]])
            pos += 2
        else:
            out.append(char)
            pos += 1
    raise FilterError('unterminated string (missing closing ")', start + 1)
