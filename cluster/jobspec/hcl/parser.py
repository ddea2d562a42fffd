"""Recursive-descent parser for HCL native syntax: bodies, blocks, attributes and expressions.

Newlines end attributes and separate object items, but are insignificant inside ``( )``,
``[ ]``, ``${ }`` and function calls; the parser keeps a stack saying which applies.

Errors are collected, not raised one by one: a mistake inside an attribute or block header
records a diagnostic and the parser skips to the end of that item (the next newline outside any
bracket), so one run reports every independent mistake in a file.
"""

from __future__ import annotations

from cluster.errors import Diagnostic
from cluster.jobspec.hcl.ast import Attribute, Block, Body
from cluster.jobspec.hcl.cursor import MAX_NESTING, Abort
from cluster.jobspec.hcl.lexer import (
    CONTROL,
    CQUOTE,
    EOF,
    HEREDOC,
    HEREDOC_END,
    IDENT,
    INTERP,
    LIT,
    NEWLINE,
    OQUOTE,
    TCLOSE,
    Lexed,
    Token,
    tokenize,
)
from cluster.jobspec.hcl.parse_expressions import ExpressionParser
from cluster.jobspec.hcl.pos import HCLError, Pos, SourceMap, diagnostic
from cluster.jobspec.hcl.values import quote

__all__ = ["MAX_NESTING", "parse"]

_OPENERS = frozenset({"{", "[", "(", OQUOTE, INTERP, CONTROL, HEREDOC})
_CLOSERS = frozenset({"}", "]", ")", CQUOTE, TCLOSE, HEREDOC_END})


def parse(source: str, filename: str = "") -> Body:
    """Parse a whole HCL file; raises HCLError listing every syntax error found."""
    smap = SourceMap(source, filename)
    lexed = tokenize(source)
    parser = _Parser(lexed, smap)
    body = parser.parse_file()
    diagnostics = _merge(lexed, parser.errors, smap)
    if diagnostics:
        raise HCLError(diagnostics)
    return body


def _merge(lexed: Lexed, parse_errors: list[tuple[int, str]], smap: SourceMap) -> list[Diagnostic]:
    """Lexical and syntax errors in file order. Errors after an unterminated heredoc, comment or
    interpolation are dropped: that construct swallowed the rest of the file, so they are echoes."""
    fatal = lexed.fatal_offset
    errors = [
        (offset, message) for offset, message in lexed.errors + parse_errors if fatal < 0 or offset <= fatal
    ]
    errors.sort(key=lambda error: error[0])
    return [diagnostic(smap.pos(offset), message) for offset, message in errors]


class _Parser(ExpressionParser):
    """Bodies: attributes and blocks, with recovery after each broken item."""

    def parse_file(self) -> Body:
        return self.parse_body(None)

    def parse_body(self, opener: Token | None) -> Body:
        """Items up to EOF (file) or the ``}`` matching ``opener`` (left for the caller)."""
        attributes: dict[str, Attribute] = {}
        blocks: list[Block] = []
        items: list[Attribute | Block] = []
        start = opener.end if opener is not None else 0
        while True:
            token = self.peek()
            if token.kind == NEWLINE:
                self.i += 1
                continue
            if token.kind == EOF or (token.kind == "}" and opener is not None):
                break
            if token.kind == "}":
                self.error(token.start, "unexpected '}': there is no open block to close")
                self.i += 1
                continue
            mark = self.i
            try:
                item = self.parse_item(single_line=False)
            except Abort:
                self.recover(mark)
                continue
            items.append(item)
            if isinstance(item, Block):
                blocks.append(item)
            elif item.name in attributes:
                first = attributes[item.name].pos
                self.error(
                    item.pos.offset,
                    f'duplicate attribute "{item.name}": already defined at line {first.line}, column {first.column}',
                )
            else:
                attributes[item.name] = item
        return Body(attributes, blocks, items, self.pos(start), self.pos(token.start))

    def recover(self, mark: int) -> None:
        """Skip from ``mark`` to the end of the item: a newline outside brackets, or a ``}`` that
        closes the enclosing block (left in place). Always moves past ``mark``."""
        assert self.skip_newlines == [False], self.skip_newlines
        toks, depth, i = self.toks, 0, mark
        while True:
            kind = toks[i].kind
            if kind == EOF or (kind == "}" and depth == 0 and i > mark):
                break
            if kind in _OPENERS:
                depth += 1
            elif kind in _CLOSERS:
                depth = max(0, depth - 1)
            elif kind == NEWLINE and depth == 0:
                i += 1
                break
            i += 1
        self.i = max(i, mark + 1)

    def parse_item(self, single_line: bool) -> Attribute | Block:
        name_tok = self.peek()
        if name_tok.kind != IDENT:
            self.fail_found(name_tok, "an attribute name or block type")
        self.i += 1
        name = self.text(name_tok)
        after = self.peek()
        if after.kind == "=":
            self.i += 1
            return self.finish_attribute(name_tok, name, single_line)
        if after.kind in ("{", OQUOTE, IDENT):
            if single_line:
                self.fail(
                    name_tok,
                    "a single-line block can hold only one attribute; put nested blocks on new lines",
                )
            return self.parse_block(name_tok, name)
        self.fail_found(after, f"'=' or '{{' after attribute name {quote(name)}")

    def finish_attribute(self, name_tok: Token, name: str, single_line: bool) -> Attribute:
        expr = self.parse_expression()
        end = self.peek()
        if single_line and end.kind == IDENT:
            self.fail(end, "a single-line block can hold only one attribute; put each on its own line")
        if end.kind not in (NEWLINE, EOF) and not (single_line and end.kind == "}"):
            self.fail_found(end, f"a newline after the value of attribute {quote(name)}")
        return Attribute(name, expr, self.pos(name_tok.start), expr.end)

    def parse_block(self, type_tok: Token, block_type: str) -> Block:
        self.deeper()
        try:
            return self.block(type_tok, block_type)
        finally:
            self.depth -= 1

    def block(self, type_tok: Token, block_type: str) -> Block:
        labels, label_pos = self.parse_labels()
        opener = self.peek()
        if opener.kind == NEWLINE and self.toks[self.next_significant()].kind == "{":
            # A brace on the next line: say so, and parse the block as meant.
            self.i = self.next_significant()
            opener = self.toks[self.i]
            self.error(
                opener.start,
                f"the '{{' of block {quote(block_type)} must be on the same line as the block type",
            )
        if opener.kind != "{":
            self.fail_found(opener, f"a block label or '{{' after block type {quote(block_type)}")
        self.i += 1
        first = self.peek()
        if first.kind == NEWLINE:
            body = self.parse_body(opener)
        elif first.kind == "}":
            body = Body({}, [], [], self.pos(opener.end), self.pos(first.start))
        else:
            body = self.single_line_body(opener)
        closer = self.peek()
        if closer.kind == EOF:
            self.error(
                opener.start,
                f"unclosed block {quote(block_type)}: no '}}' closes this '{{' before the end of the file",
            )
            return Block(
                block_type, labels, label_pos, body, self.pos(type_tok.start), self.pos(closer.start)
            )
        self.i += 1
        after = self.peek()
        if after.kind not in (NEWLINE, EOF):
            self.fail_found(after, f"a newline after the '}}' of block {quote(block_type)}")
        return Block(block_type, labels, label_pos, body, self.pos(type_tok.start), self.pos(closer.end))

    def single_line_body(self, opener: Token) -> Body:
        item = self.parse_item(single_line=True)
        assert isinstance(item, Attribute)
        closer = self.peek()
        if closer.kind != "}":
            self.fail_found(closer, "'}' to end the single-line block")
        return Body({item.name: item}, [], [item], self.pos(opener.end), self.pos(closer.start))

    def parse_labels(self) -> tuple[list[str], list[Pos]]:
        labels: list[str] = []
        positions: list[Pos] = []
        while True:
            token = self.peek()
            if token.kind == IDENT:
                self.i += 1
                labels.append(self.text(token))
            elif token.kind == OQUOTE:
                labels.append(self.quoted_label())
            else:
                return labels, positions
            positions.append(self.pos(token.start))

    def quoted_label(self) -> str:
        self.i += 1
        pieces: list[str] = []
        while True:
            token = self.toks[self.i]
            if token.kind == LIT:
                pieces.append(token.value)
                self.i += 1
            elif token.kind == CQUOTE:
                self.i += 1
                return "".join(pieces)
            else:
                self.fail(token, "a block label must be a literal string, without '${' or '%{'")

    # -- expressions --------------------------------------------------------------------------
