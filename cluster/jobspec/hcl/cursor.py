"""Token access and error recording shared by the parser's layers.

The parser is three layers over this cursor: templates (``parse_templates``), expressions
(``parse_expressions``) and bodies (``parser``). A syntax error records a diagnostic and raises
:class:`Abort`, which the body layer catches to skip to the next item.
"""

from __future__ import annotations

from typing import NoReturn

from cluster.jobspec.hcl.ast import Expr
from cluster.jobspec.hcl.lexer import (
    CQUOTE,
    EOF,
    HEREDOC,
    IDENT,
    INVALID,
    LIT,
    NEWLINE,
    NUMBER,
    OQUOTE,
    TCLOSE,
    Lexed,
    Token,
)
from cluster.jobspec.hcl.pos import Pos, SourceMap
from cluster.jobspec.hcl.values import quote

__all__ = ["MAX_NESTING", "Abort", "Cursor", "describe"]

# Deeper nesting than this (brackets, calls, operators, blocks) is refused: job files come from
# the network, and Python's recursion must stay far from its limit while parsing and evaluating.
MAX_NESTING = 64


class Abort(Exception):
    """Unwinds to the enclosing body item after an error has been recorded."""


def describe(token: Token, source: str) -> str:
    """A token as a user would name it in "found ..."."""
    kind = token.kind
    if kind == IDENT:
        return f"identifier {quote(source[token.start : token.end])}"
    if kind == NUMBER:
        return f"number {source[token.start : token.end]}"
    if kind in (NEWLINE, EOF):
        return kind
    if kind == OQUOTE:
        return "a string"
    if kind == HEREDOC:
        return "a heredoc"
    if kind == LIT:
        return "text"
    if kind in (TCLOSE, CQUOTE):
        return f"'{source[token.start : token.end] or kind}'"
    return f"'{source[token.start : token.end]}'"


class Cursor:
    """A position in the token list, the newline mode stack, the nesting depth and the errors."""

    def __init__(self, lexed: Lexed, smap: SourceMap) -> None:
        self.toks = lexed.tokens
        self.smap = smap
        self.src = smap.source
        self.i = 0
        self.errors: list[tuple[int, str]] = []
        self.skip_newlines = [False]
        self.depth = 0

    # -- token access -------------------------------------------------------------------------
    def peek(self) -> Token:
        """The next token; newlines are skipped where they are insignificant."""
        if self.skip_newlines[-1]:
            toks, i = self.toks, self.i
            while toks[i].kind == NEWLINE:
                i += 1
            self.i = i
        return self.toks[self.i]

    def peek_after(self) -> Token:
        """The token after ``peek()`` (skipping newlines where insignificant)."""
        self.peek()
        i = self.i + 1
        while self.skip_newlines[-1] and self.toks[i].kind == NEWLINE:
            i += 1
        return self.toks[min(i, len(self.toks) - 1)]

    def next_significant(self) -> int:
        """The index of the next token that is not a newline, without consuming anything."""
        i = self.i
        while self.toks[i].kind == NEWLINE:
            i += 1
        return i

    def advance(self) -> Token:
        token = self.peek()
        if token.kind != EOF:
            self.i += 1
        return token

    def text(self, token: Token) -> str:
        return self.src[token.start : token.end]

    def pos(self, offset: int) -> Pos:
        return self.smap.pos(offset)

    def error(self, offset: int, message: str) -> None:
        self.errors.append((offset, message))

    def fail(self, token: Token, message: str) -> NoReturn:
        """Record an error at ``token`` (unless the lexer already reported it) and unwind."""
        if token.kind != INVALID:
            self.error(token.start, message)
        raise Abort

    def fail_found(self, token: Token, expected: str) -> NoReturn:
        self.fail(token, f"expected {expected}, found {describe(token, self.src)}")

    def expect(self, kind: str, expected: str) -> Token:
        token = self.peek()
        if token.kind != kind:
            self.fail_found(token, expected)
        self.i += 1
        return token

    def unclosed(self, opener: Token, closer: str, found: Token) -> NoReturn:
        if found.kind == EOF:
            self.fail(
                opener, f"unclosed '{self.text(opener)}': expected '{closer}' before the end of the file"
            )
        self.fail_found(found, f"'{closer}'")

    # -- bodies -------------------------------------------------------------------------------
    def deeper(self, levels: int = 1) -> None:
        """Enter ``levels`` more levels of nesting; the caller undoes it with ``self.depth -= levels``."""
        self.depth += levels
        if self.depth > MAX_NESTING:
            self.fail(
                self.peek(),
                f"nested too deeply: more than {MAX_NESTING} levels of brackets, blocks or operators",
            )

    def parse_expression(self) -> Expr:
        """Implemented by the expression layer; templates need it for ``${...}``."""
        raise NotImplementedError
