"""Nomad's filter grammar (go-bexpr) parsed into a small tree.

    expr    := and ("or" and)*
    and     := unary ("and" unary)*
    unary   := "not" unary | "(" expr ")" | match
    match   := selector ("==" | "!=") value
             | selector "is" ["not"] "empty"
             | selector ["not"] ("contains" | "matches") value
             | value ["not"] "in" selector
    selector:= word ("." word)*   (a word may hold dots: ``Meta.env``)
    value   := "string" | `raw` | word (a number, true/false, a bare identifier)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cluster.filter.errors import FilterError
from cluster.filter.lexer import Token, tokenize

__all__ = ["And", "Match", "Node", "Not", "Or", "parse"]

MAX_EXPRESSION_CHARS = 8192
MAX_DEPTH = 64


@dataclass(frozen=True, slots=True)
class Match:
    """One comparison: ``op`` is one of ==, !=, empty, not_empty, contains, not_contains, in,
    not_in, matches, not_matches. ``pattern`` is the compiled regex of a ``matches``."""

    op: str
    selector: tuple[str, ...]
    value: str
    value_is_string: bool
    column: int
    pattern: re.Pattern[str] | None = None


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node


@dataclass(frozen=True, slots=True)
class And:
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Or:
    left: Node
    right: Node


Node = Match | Not | And | Or


def parse(text: str) -> Node:
    """The tree of ``text``; FilterError naming the column of the first problem."""
    if len(text) > MAX_EXPRESSION_CHARS:
        raise FilterError(f"expression is longer than {MAX_EXPRESSION_CHARS} characters", 1)
    if not text.strip():
        raise FilterError("empty expression", 1)
    parser = _Parser(tokenize(text))
    node = parser.expr(0)
    token = parser.peek()
    if token.kind != "end":
        raise FilterError(f'unexpected "{token.text}"; expected "and", "or" or the end', token.column)
    return node


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def take(self) -> Token:
        token = self.peek()
        self.pos += 1
        return token

    def is_keyword(self, word: str, ahead: int = 0) -> bool:
        token = self.peek(ahead)
        return token.kind == "keyword" and token.text == word

    def expr(self, depth: int) -> Node:
        node = self.conjunction(depth)
        while self.is_keyword("or"):
            self.take()
            node = Or(node, self.conjunction(depth))
        return node

    def conjunction(self, depth: int) -> Node:
        node = self.unary(depth)
        while self.is_keyword("and"):
            self.take()
            node = And(node, self.unary(depth))
        return node

    def unary(self, depth: int) -> Node:
        token = self.peek()
        if depth > MAX_DEPTH:
            raise FilterError(f"expression nests deeper than {MAX_DEPTH}", token.column)
        if token.kind == "keyword" and token.text == "not":
            self.take()
            return Not(self.unary(depth + 1))
        if token.kind == "(":
            self.take()
            node = self.expr(depth + 1)
            closing = self.take()
            if closing.kind != ")":
                raise FilterError(f'expected ")" but found {_shown(closing)}', closing.column)
            return node
        return self.match()

    def match(self) -> Match:
        first = self.take()
        if first.kind not in ("word", "string"):
            raise FilterError(f"expected a selector or a value but found {_shown(first)}", first.column)
        negated = self.is_keyword("not")
        if self.is_keyword("in", 1 if negated else 0):
            return self.membership(first, negated)
        if first.kind != "word":
            raise FilterError('a quoted value must be followed by "in" or "not in"', first.column)
        selector = _selector(first)
        token = self.take()
        if token.kind == "op":
            return self.compare("==" if token.text == "==" else "!=", selector, first.column)
        if token.kind == "keyword" and token.text == "is":
            return self.emptiness(selector, first.column)
        if token.kind == "keyword" and token.text == "not":
            token = self.take()
            if token.kind == "keyword" and token.text in ("contains", "matches"):
                return self.compare(f"not_{token.text}", selector, first.column)
            raise FilterError(f'expected "contains", "matches" or "in" after "not" but found {_shown(token)}',
                              token.column)
        if token.kind == "keyword" and token.text in ("contains", "matches"):
            return self.compare(token.text, selector, first.column)
        raise FilterError(f'expected an operator (==, !=, contains, in, is, matches) but found {_shown(token)}',
                          token.column)

    def membership(self, value: Token, negated: bool) -> Match:
        self.take()
        if negated:
            self.take()
        target = self.take()
        if target.kind != "word":
            raise FilterError(f"expected a selector after \"in\" but found {_shown(target)}", target.column)
        return Match("not_in" if negated else "in", _selector(target), value.text, value.kind == "string",
                     value.column)

    def compare(self, op: str, selector: tuple[str, ...], column: int) -> Match:
        value = self.take()
        if value.kind not in ("word", "string"):
            raise FilterError(f"expected a value but found {_shown(value)}", value.column)
        pattern = None
        if op.endswith("matches"):
            try:
                pattern = re.compile(value.text)
            except re.error as e:
                raise FilterError(f"invalid regular expression {value.text!r}: {e}", value.column) from None
        return Match(op, selector, value.text, value.kind == "string", column, pattern)

    def emptiness(self, selector: tuple[str, ...], column: int) -> Match:
        negated = self.is_keyword("not")
        if negated:
            self.take()
        token = self.take()
        if not (token.kind == "keyword" and token.text == "empty"):
            raise FilterError(f'expected "empty" but found {_shown(token)}', token.column)
        return Match("not_empty" if negated else "empty", selector, "", False, column)


def _selector(token: Token) -> tuple[str, ...]:
    parts = tuple(token.text.split("."))
    if any(not p for p in parts):
        raise FilterError(f'invalid selector "{token.text}"', token.column)
    return parts


def _shown(token: Token) -> str:
    return "the end of the expression" if token.kind == "end" else f'"{token.text}"'
