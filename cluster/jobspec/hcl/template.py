"""From a flat list of template pieces to a template tree.

The parser reads a template as a flat sequence: literal text, ``${...}`` interpolations and
``%{...}`` directive markers. This module then does what HCL does:
1. ``<<-`` heredocs lose the smallest common leading whitespace of their lines;
2. strip markers (``${~``, ``~}``) trim whitespace from the adjacent literal piece;
3. adjacent literals are joined;
4. ``if``/``else``/``endif`` and ``for``/``endfor`` markers become nested nodes.
Heredoc literal pieces come one per line from the lexer, which is what makes steps 1 and 2
line-accurate. HCL itself strips before flushing, which leaves the indentation in place when a
``%{ for ~}`` line is followed by indented lines (hashicorp/terraform#23710, acknowledged as a
bug); we flush first, which gives the documented result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cluster.jobspec.hcl.ast import Expr, LiteralValue, TemplateExpr, TemplateFor, TemplateIf, TemplateInterp
from cluster.jobspec.hcl.pos import Pos

__all__ = [
    "Control",
    "Interp",
    "Lit",
    "Part",
    "TemplateSyntaxError",
    "build_template",
    "flush_heredoc",
    "strip_markers",
]


@dataclass(slots=True)
class Lit:
    """Literal text from ``start`` to ``end`` (source offsets)."""

    text: str
    start: int
    end: int


@dataclass(slots=True)
class Control:
    """A ``%{ ... }`` directive: ``word`` is if, else, endif, for or endfor."""

    word: str
    start: int
    end: int
    strip_left: bool
    strip_right: bool
    condition: Expr | None = None  # if
    key_var: str | None = None  # for
    value_var: str = ""  # for
    collection: Expr | None = None  # for


@dataclass(slots=True)
class Interp:
    """A ``${ ... }`` interpolation, with its strip markers."""

    node: TemplateInterp
    start: int
    end: int
    strip_left: bool
    strip_right: bool


Part = Lit | Interp | Control


class TemplateSyntaxError(Exception):
    """A misplaced directive; ``offset`` is where to report it."""

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message


def strip_markers(parts: list[Part]) -> None:
    """Apply ``~``: trim trailing whitespace of the literal before, leading of the literal after."""
    for index, part in enumerate(parts):
        if isinstance(part, Lit):
            continue
        if part.strip_left and index > 0:
            before = parts[index - 1]
            if isinstance(before, Lit):
                before.text = before.text.rstrip()
        if part.strip_right and index + 1 < len(parts):
            after = parts[index + 1]
            if isinstance(after, Lit):
                after.text = after.text.lstrip()


def flush_heredoc(parts: list[Part]) -> None:
    """``<<-``: remove the smallest leading-whitespace width found at the start of any line.

    Lines that are blank do not count; a line that starts with an interpolation or directive
    counts as zero. Interpolated values never affect the width, only the literal text does.
    """
    no_limit = 1 << 62
    narrowest = no_limit
    to_trim: list[Lit] = []
    at_line_start = True
    for part in parts:
        if at_line_start:
            at_line_start = False
            width = 0
            if isinstance(part, Lit):
                content = part.text.lstrip()
                if not content and part.text.endswith("\n"):
                    width = no_limit
                else:
                    width = len(part.text) - len(content)
                    to_trim.append(part)
            narrowest = min(narrowest, width)
        if isinstance(part, Lit) and part.text.endswith("\n"):
            at_line_start = True
    if narrowest == no_limit:
        return
    for lit in to_trim:
        lit.text = lit.text[narrowest:]


def _meld(parts: list[Part]) -> list[Part]:
    melded: list[Part] = []
    for part in parts:
        last = melded[-1] if melded else None
        if isinstance(part, Lit) and isinstance(last, Lit):
            melded[-1] = Lit(last.text + part.text, last.start, part.end)
        elif not (isinstance(part, Lit) and not part.text):
            melded.append(part)
    return melded


def build_template(parts: list[Part], pos_of: Callable[[int], Pos]) -> list[Expr]:
    """Join literals and nest directives; raises TemplateSyntaxError for unbalanced markers."""
    builder = _Builder(_meld(parts), pos_of)
    nodes, stopper = builder.sequence(())
    assert stopper is None
    return nodes


class _Builder:
    def __init__(self, parts: list[Part], pos_of: Callable[[int], Pos]) -> None:
        self.parts = parts
        self.i = 0
        self.pos_of = pos_of

    def sequence(self, stop_words: tuple[str, ...]) -> tuple[list[Expr], Control | None]:
        """Nodes up to one of ``stop_words`` (returned, consumed) or the end (None)."""
        nodes: list[Expr] = []
        while self.i < len(self.parts):
            part = self.parts[self.i]
            self.i += 1
            if isinstance(part, Lit):
                nodes.append(
                    LiteralValue(value=part.text, pos=self.pos_of(part.start), end=self.pos_of(part.end))
                )
            elif isinstance(part, Interp):
                nodes.append(part.node)
            elif part.word in stop_words:
                return nodes, part
            elif part.word == "if":
                nodes.append(self._if(part))
            elif part.word == "for":
                nodes.append(self._for(part))
            else:
                opener = "for" if part.word == "endfor" else "if"
                raise TemplateSyntaxError(
                    part.start, f"unexpected %{{ {part.word} }}: there is no open %{{ {opener} }} to match it"
                )
        return nodes, None

    def _body(self, nodes: list[Expr], start: int, end: int) -> TemplateExpr:
        return TemplateExpr(parts=nodes, pos=self.pos_of(start), end=self.pos_of(end))

    def _if(self, opener: Control) -> TemplateIf:
        assert opener.condition is not None
        then_nodes, stopper = self.sequence(("else", "endif"))
        if stopper is None:
            raise TemplateSyntaxError(opener.start, "%{ if } has no matching %{ endif }")
        then = self._body(then_nodes, opener.end, stopper.start)
        otherwise = None
        if stopper.word == "else":
            else_marker = stopper
            else_nodes, stopper = self.sequence(("endif",))
            if stopper is None:
                raise TemplateSyntaxError(opener.start, "%{ if } has no matching %{ endif }")
            otherwise = self._body(else_nodes, else_marker.end, stopper.start)
        return TemplateIf(
            condition=opener.condition,
            then=then,
            otherwise=otherwise,
            pos=self.pos_of(opener.start),
            end=self.pos_of(stopper.end),
        )

    def _for(self, opener: Control) -> TemplateFor:
        assert opener.collection is not None
        body_nodes, stopper = self.sequence(("endfor",))
        if stopper is None:
            raise TemplateSyntaxError(opener.start, "%{ for } has no matching %{ endfor }")
        return TemplateFor(
            key_var=opener.key_var,
            value_var=opener.value_var,
            collection=opener.collection,
            body=self._body(body_nodes, opener.end, stopper.start),
            pos=self.pos_of(opener.start),
            end=self.pos_of(stopper.end),
        )
