"""Parsing of expressions: operators with HCL precedence, traversals and splats, function calls,
tuples, objects and ``for`` expressions."""

from __future__ import annotations

from cluster.jobspec.hcl.ast import (
    AttrStep,
    BinaryOp,
    Conditional,
    Expr,
    ForExpr,
    FunctionCall,
    IndexStep,
    LiteralValue,
    ObjectExpr,
    ObjectItem,
    Parenthesized,
    SplatStep,
    Step,
    Traversal,
    TupleExpr,
    UnaryOp,
    Variable,
)
from cluster.jobspec.hcl.lexer import EOF, HEREDOC, IDENT, NEWLINE, NUMBER, OQUOTE, Token
from cluster.jobspec.hcl.parse_templates import TemplateParser
from cluster.jobspec.hcl.values import ConversionError, parse_number, quote

__all__ = ["ExpressionParser"]

_BINARY_PRECEDENCE = {
    "||": 1,
    "&&": 2,
    "==": 3,
    "!=": 3,
    "<": 4,
    ">": 4,
    "<=": 4,
    ">=": 4,
    "+": 5,
    "-": 5,
    "*": 6,
    "/": 6,
    "%": 6,
}
_LITERAL_KEYWORDS: dict[str, bool | None] = {"true": True, "false": False, "null": None}


class ExpressionParser(TemplateParser):
    """Expressions, by precedence climbing; newlines are skipped inside brackets."""

    def parse_expression(self) -> Expr:
        self.deeper()
        try:
            return self.conditional()
        finally:
            self.depth -= 1

    def conditional(self) -> Expr:
        condition = self.parse_binary(1)
        if self.peek().kind != "?":
            return condition
        self.i += 1
        true_expr = self.parse_expression()
        self.expect(":", "':' after the true result of the conditional expression")
        false_expr = self.parse_expression()
        return Conditional(
            condition=condition,
            true_expr=true_expr,
            false_expr=false_expr,
            pos=condition.pos,
            end=false_expr.end,
        )

    def parse_binary(self, min_precedence: int) -> Expr:
        """Operators of at least ``min_precedence``, left-associative. Each operator in a chain
        deepens the tree (``a + b + c`` is ``(a + b) + c``), so each counts as a nesting level."""
        left = self.parse_unary()
        chain = 0
        try:
            while True:
                op = self.peek().kind
                precedence = _BINARY_PRECEDENCE.get(op)
                if precedence is None or precedence < min_precedence:
                    return left
                self.deeper()
                chain += 1
                self.i += 1
                right = self.parse_binary(precedence + 1)
                left = BinaryOp(op=op, left=left, right=right, pos=left.pos, end=right.end)
        finally:
            self.depth -= chain

    def parse_unary(self) -> Expr:
        token = self.peek()
        if token.kind not in ("!", "-"):
            return self.parse_postfix()
        self.deeper()
        try:
            self.i += 1
            operand = self.parse_unary()
        finally:
            self.depth -= 1
        return UnaryOp(op=token.kind, operand=operand, pos=self.pos(token.start), end=operand.end)

    def parse_postfix(self) -> Expr:
        source = self.parse_primary()
        steps: list[Step] = []
        splats = 0  # each splat nests the evaluation of the steps after it
        try:
            while True:
                token = self.peek()
                if token.kind == ".":
                    self.i += 1
                    steps.extend(self.dot_step(token))
                elif token.kind == "[":
                    self.i += 1
                    steps.append(self.bracket_step(token))
                else:
                    break
                if isinstance(steps[-1], SplatStep):
                    self.deeper()
                    splats += 1
        finally:
            self.depth -= splats
        if not steps:
            return source
        return Traversal(source=source, steps=steps, pos=source.pos, end=steps[-1].end)

    def dot_step(self, dot: Token) -> list[Step]:
        token = self.peek()
        if token.kind == IDENT:
            self.i += 1
            return [AttrStep(name=self.text(token), pos=self.pos(token.start), end=self.pos(token.end))]
        if token.kind == "*":
            self.i += 1
            return [SplatStep(full=False, pos=self.pos(dot.start), end=self.pos(token.end))]
        if token.kind == NUMBER and self.text(token).replace(".", "").isdigit():
            self.i += 1
            return self.legacy_index_steps(dot, token)
        self.fail_found(token, "an attribute name after '.'")

    def legacy_index_steps(self, dot: Token, token: Token) -> list[Step]:
        """``list.0`` (and ``list.0.1``, which the lexer reads as the number ``0.1``)."""
        steps: list[Step] = []
        offset = token.start
        for digits in self.text(token).split("."):
            key = LiteralValue(value=int(digits), pos=self.pos(offset), end=self.pos(offset + len(digits)))
            step_start = dot.start if not steps else offset - 1
            steps.append(IndexStep(key=key, pos=self.pos(step_start), end=key.end))
            offset += len(digits) + 1
        return steps

    def bracket_step(self, opener: Token) -> Step:
        self.skip_newlines.append(True)
        try:
            if self.peek().kind == "*" and self.peek_after().kind == "]":
                self.i += 1
                closer = self.advance()
                return SplatStep(full=True, pos=self.pos(opener.start), end=self.pos(closer.end))
            key = self.parse_expression()
            closer = self.peek()
            if closer.kind != "]":
                self.unclosed(opener, "]", closer)
            self.i += 1
            return IndexStep(key=key, pos=self.pos(opener.start), end=self.pos(closer.end))
        finally:
            self.skip_newlines.pop()

    def parse_primary(self) -> Expr:
        token = self.peek()
        kind = token.kind
        if kind == IDENT:
            return self.identifier_expr(token)
        if kind == NUMBER:
            self.i += 1
            try:
                number = parse_number(self.text(token))
            except ConversionError as exc:
                self.fail(token, exc.message)
            return LiteralValue(value=number, pos=self.pos(token.start), end=self.pos(token.end))
        if kind == OQUOTE:
            return self.quoted_template()
        if kind == HEREDOC:
            return self.heredoc()
        if kind == "(":
            return self.parenthesized(token)
        if kind == "[":
            return self.tuple_expr(token)
        if kind == "{":
            return self.object_expr(token)
        self.fail_found(token, "an expression")

    def identifier_expr(self, token: Token) -> Expr:
        self.i += 1
        name = self.text(token)
        pos, end = self.pos(token.start), self.pos(token.end)
        if name in _LITERAL_KEYWORDS:
            return LiteralValue(value=_LITERAL_KEYWORDS[name], pos=pos, end=end)
        if self.peek().kind == "(":
            return self.function_call(token, name)
        return Variable(name=name, pos=pos, end=end)

    def parenthesized(self, opener: Token) -> Expr:
        self.i += 1
        self.skip_newlines.append(True)
        try:
            inner = self.parse_expression()
            closer = self.peek()
            if closer.kind != ")":
                self.unclosed(opener, ")", closer)
            self.i += 1
        finally:
            self.skip_newlines.pop()
        return Parenthesized(expr=inner, pos=self.pos(opener.start), end=self.pos(closer.end))

    def function_call(self, name_tok: Token, name: str) -> FunctionCall:
        opener = self.advance()
        self.skip_newlines.append(True)
        try:
            args: list[Expr] = []
            expand = False
            while True:
                token = self.peek()
                if token.kind == ")":
                    break
                args.append(self.parse_expression())
                token = self.peek()
                if token.kind == "...":
                    self.i += 1
                    expand = True
                    token = self.peek()
                    if token.kind != ")":
                        self.fail_found(token, "')' after '...': only the last argument can be expanded")
                    break
                if token.kind == ",":
                    self.i += 1
                elif token.kind != ")":
                    if token.kind == EOF:
                        self.unclosed(opener, ")", token)
                    self.fail_found(token, f"',' or ')' after an argument of {name}()")
            self.i += 1
        finally:
            self.skip_newlines.pop()
        return FunctionCall(
            name=name, args=args, expand_final=expand, pos=self.pos(name_tok.start), end=self.pos(token.end)
        )

    # -- collections --------------------------------------------------------------------------
    def is_for(self) -> bool:
        token = self.peek()
        return token.kind == IDENT and self.text(token) == "for" and self.peek_after().kind == IDENT

    def tuple_expr(self, opener: Token) -> Expr:
        self.i += 1
        self.skip_newlines.append(True)
        try:
            if self.is_for():
                return self.for_expr(opener, "]")
            items: list[Expr] = []
            while True:
                token = self.peek()
                if token.kind == "]":
                    break
                items.append(self.parse_expression())
                token = self.peek()
                if token.kind == ",":
                    self.i += 1
                elif token.kind != "]":
                    if token.kind == EOF:
                        self.unclosed(opener, "]", token)
                    self.fail_found(token, "',' or ']' after a list item")
            self.i += 1
        finally:
            self.skip_newlines.pop()
        return TupleExpr(items=items, pos=self.pos(opener.start), end=self.pos(token.end))

    def object_expr(self, opener: Token) -> Expr:
        self.i += 1
        self.skip_newlines.append(True)
        try:
            if self.is_for():
                return self.for_expr(opener, "}")
        finally:
            self.skip_newlines.pop()
        self.skip_newlines.append(False)
        try:
            items = self.object_items(opener)
            closer = self.advance()
        finally:
            self.skip_newlines.pop()
        return ObjectExpr(items=items, pos=self.pos(opener.start), end=self.pos(closer.end))

    def object_items(self, opener: Token) -> list[ObjectItem]:
        """Items up to (not including) the closing ``}``; commas or newlines separate them."""
        items: list[ObjectItem] = []
        while True:
            token = self.peek()
            if token.kind == NEWLINE:
                self.i += 1
                continue
            if token.kind == "}":
                return items
            if token.kind == EOF:
                self.unclosed(opener, "}", token)
            key = self.object_key()
            separator = self.peek()
            if separator.kind not in ("=", ":"):
                self.fail_found(separator, "'=' after the object key")
            self.i += 1
            value = self.parse_expression()
            items.append(ObjectItem(key=key, value=value, pos=key.pos, end=value.end))
            token = self.peek()
            if token.kind in (",", NEWLINE):
                self.i += 1
            elif token.kind != "}":
                self.fail_found(token, "',', a newline or '}' after an object item")

    def object_key(self) -> Expr:
        token = self.peek()
        if token.kind == IDENT and self.peek_after().kind in ("=", ":"):
            self.i += 1
            return LiteralValue(value=self.text(token), pos=self.pos(token.start), end=self.pos(token.end))
        key = self.parse_expression()
        if (
            isinstance(key, Traversal)
            and isinstance(key.source, Variable)
            and all(isinstance(step, AttrStep) for step in key.steps)
        ):
            text = self.src[key.pos.offset : key.end.offset]
            self.fail(
                token,
                f'ambiguous object key {quote(text)}: write ({text}) to use its value or "{text}" for a literal name',
            )
        return key

    def for_expr(self, opener: Token, closer_kind: str) -> ForExpr:
        """``for k, v in coll : ...`` up to and including the closing bracket; newlines ignored."""
        self.i += 1  # "for"
        key_var: str | None = None
        value_var = self.text(self.expect(IDENT, "a variable name after 'for'"))
        if self.peek().kind == ",":
            self.i += 1
            key_var = value_var
            value_var = self.text(self.expect(IDENT, "a second variable name after ','"))
        in_tok = self.peek()
        if in_tok.kind != IDENT or self.text(in_tok) != "in":
            self.fail_found(in_tok, "'in' after the for-expression variables")
        self.i += 1
        collection = self.parse_expression()
        self.expect(":", "':' after the collection of the for expression")
        key_expr: Expr | None = None
        if closer_kind == "}":
            key_expr = self.parse_expression()
            self.expect("=>", "'=>' after the key of the object for expression")
        value_expr = self.parse_expression()
        group = False
        if closer_kind == "}" and self.peek().kind == "...":
            self.i += 1
            group = True
        condition: Expr | None = None
        token = self.peek()
        if token.kind == IDENT and self.text(token) == "if":
            self.i += 1
            condition = self.parse_expression()
        closer = self.peek()
        if closer.kind != closer_kind:
            self.unclosed(opener, closer_kind, closer)
        self.i += 1
        return ForExpr(
            key_var=key_var,
            value_var=value_var,
            collection=collection,
            key_expr=key_expr,
            value_expr=value_expr,
            condition=condition,
            group=group,
            pos=self.pos(opener.start),
            end=self.pos(closer.end),
        )

    # -- templates ----------------------------------------------------------------------------
