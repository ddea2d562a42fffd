"""Parsing of quoted templates and heredocs: literal text, ``${...}`` and ``%{...}``."""

from __future__ import annotations

from cluster.jobspec.hcl.ast import Expr, Heredoc, LiteralValue, TemplateExpr, TemplateInterp
from cluster.jobspec.hcl.cursor import Abort, Cursor
from cluster.jobspec.hcl.lexer import CONTROL, CQUOTE, HEREDOC_END, IDENT, INTERP, LIT, TCLOSE, Token
from cluster.jobspec.hcl.template import (
    Control,
    Interp,
    Lit,
    Part,
    TemplateSyntaxError,
    build_template,
    flush_heredoc,
    strip_markers,
)

__all__ = ["TemplateParser"]

_DIRECTIVES = ("if", "else", "endif", "for", "endfor")


class TemplateParser(Cursor):
    """Reads template tokens into pieces and hands them to ``template.build_template``."""

    def quoted_template(self) -> TemplateExpr:
        opener = self.advance()
        literal, closer = self.toks[self.i], self.toks[self.i + 1]
        if literal.kind == LIT and closer.kind == CQUOTE:  # fast path: a plain string
            self.i += 2
            part = LiteralValue(value=literal.value, pos=self.pos(literal.start), end=self.pos(literal.end))
            return TemplateExpr(parts=[part], pos=self.pos(opener.start), end=self.pos(closer.end))
        parts = self.template_parts(CQUOTE)
        closer = self.toks[self.i]
        self.i += 1
        nodes = self.assemble(parts)
        return TemplateExpr(parts=nodes, pos=self.pos(opener.start), end=self.pos(closer.end))

    def heredoc(self) -> Heredoc:
        opener = self.advance()
        parts = self.template_parts(HEREDOC_END)
        closer = self.toks[self.i]
        self.i += 1
        if opener.flag:
            flush_heredoc(parts)
        nodes = self.assemble(parts)
        return Heredoc(
            parts=nodes,
            marker=opener.value,
            indented=opener.flag,
            pos=self.pos(opener.start),
            end=self.pos(closer.end),
        )

    def assemble(self, parts: list[Part]) -> list[Expr]:
        strip_markers(parts)
        try:
            return build_template(parts, self.pos)
        except TemplateSyntaxError as exc:
            self.error(exc.offset, exc.message)
            raise Abort from None

    def template_parts(self, end_kind: str) -> list[Part]:
        """Flat template pieces up to (not including) the ``end_kind`` token."""
        parts: list[Part] = []
        while True:
            token = self.toks[self.i]
            kind = token.kind
            if kind == end_kind:
                return parts
            if kind == LIT:
                parts.append(Lit(token.value, token.start, token.end))
                self.i += 1
            elif kind in (INTERP, CONTROL):
                self.i += 1
                self.skip_newlines.append(True)
                try:
                    parts.append(self.interpolation(token) if kind == INTERP else self.directive(token))
                finally:
                    self.skip_newlines.pop()
            else:  # pragma: no cover - the lexer always closes a template before anything else
                self.fail_found(token, "the end of the template")

    def interpolation(self, opener: Token) -> Interp:
        expr = self.parse_expression()
        closer = self.peek()
        if closer.kind != TCLOSE:
            self.fail_found(closer, "'}' to end the '${' interpolation")
        self.i += 1
        node = TemplateInterp(
            expr=expr,
            source=self.src[opener.start : closer.end],
            pos=self.pos(opener.start),
            end=self.pos(closer.end),
        )
        return Interp(node, opener.start, closer.end, opener.flag, closer.flag)

    def directive(self, opener: Token) -> Control:
        word_tok = self.peek()
        word = self.text(word_tok) if word_tok.kind == IDENT else ""
        if word not in _DIRECTIVES:
            self.fail_found(word_tok, "if, else, endif, for or endfor after '%{'")
        self.i += 1
        control = Control(word, opener.start, opener.start, opener.flag, False)
        if word == "if":
            control.condition = self.parse_expression()
        elif word == "for":
            control.value_var = self.text(self.expect(IDENT, "a variable name after 'for'"))
            if self.peek().kind == ",":
                self.i += 1
                control.key_var = control.value_var
                control.value_var = self.text(self.expect(IDENT, "a second variable name after ','"))
            in_tok = self.peek()
            if in_tok.kind != IDENT or self.text(in_tok) != "in":
                self.fail_found(in_tok, "'in' after the for variables")
            self.i += 1
            control.collection = self.parse_expression()
        closer = self.peek()
        if closer.kind != TCLOSE:
            self.fail_found(closer, f"'}}' to end the %{{ {word} }} directive")
        self.i += 1
        control.end = closer.end
        control.strip_right = closer.flag
        return control
