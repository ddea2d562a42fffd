"""The HCL native-syntax tree: a body of attributes and blocks, and one expression class per form.

Every node has ``pos`` (its first character) and ``end`` (the first character after it), so the
job-file decoder can point at any value or key it rejects. Expression nodes are keyword-only
dataclasses; the tree is plain data and evaluation lives in ``evaluate.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cluster.jobspec.hcl.pos import Pos
from cluster.jobspec.hcl.values import Value

__all__ = [
    "AttrStep",
    "Attribute",
    "BinaryOp",
    "Block",
    "Body",
    "Conditional",
    "Expr",
    "ForExpr",
    "FunctionCall",
    "Heredoc",
    "IndexStep",
    "LiteralValue",
    "ObjectExpr",
    "ObjectItem",
    "Parenthesized",
    "SplatStep",
    "Step",
    "TemplateExpr",
    "TemplateFor",
    "TemplateIf",
    "TemplateInterp",
    "Traversal",
    "TupleExpr",
    "UnaryOp",
    "Variable",
]


@dataclass(kw_only=True, slots=True)
class Expr:
    """Base of every expression node."""

    pos: Pos
    end: Pos


@dataclass(kw_only=True, slots=True)
class LiteralValue(Expr):
    """A number, ``true``/``false``/``null``, or a literal piece of a template."""

    value: Value


@dataclass(kw_only=True, slots=True)
class TemplateExpr(Expr):
    """A quoted string: literal pieces, ``${...}`` interpolations and ``%{...}`` directives."""

    parts: list[Expr]

    def literal_text(self) -> str | None:
        """The string if the template has no interpolation or directive, else None."""
        if all(isinstance(p, LiteralValue) for p in self.parts):
            return "".join(str(p.value) for p in self.parts if isinstance(p, LiteralValue))
        return None


@dataclass(kw_only=True, slots=True)
class Heredoc(TemplateExpr):
    """``<<MARKER`` or ``<<-MARKER`` (indented: common leading whitespace removed)."""

    marker: str
    indented: bool


@dataclass(kw_only=True, slots=True)
class TemplateInterp(Expr):
    """``${ expr }`` inside a template. ``source`` is the exact text from ``${`` to ``}``,
    kept so Nomad's run-time interpolations can be passed through untouched."""

    expr: Expr
    source: str


@dataclass(kw_only=True, slots=True)
class TemplateIf(Expr):
    """``%{ if cond }...%{ else }...%{ endif }``."""

    condition: Expr
    then: TemplateExpr
    otherwise: TemplateExpr | None


@dataclass(kw_only=True, slots=True)
class TemplateFor(Expr):
    """``%{ for k, v in coll }...%{ endfor }``."""

    key_var: str | None
    value_var: str
    collection: Expr
    body: TemplateExpr


@dataclass(kw_only=True, slots=True)
class TupleExpr(Expr):
    """``[a, b, c]``."""

    items: list[Expr]


@dataclass(kw_only=True, slots=True)
class ObjectItem:
    """``key = value`` (or ``key: value``) inside an object constructor.

    A bare identifier key is stored as a :class:`LiteralValue` string at the identifier's
    position; a parenthesised or quoted key keeps its expression.
    """

    key: Expr
    value: Expr
    pos: Pos
    end: Pos


@dataclass(kw_only=True, slots=True)
class ObjectExpr(Expr):
    """``{ key = value, ... }``."""

    items: list[ObjectItem]


@dataclass(kw_only=True, slots=True)
class Variable(Expr):
    """A bare name: the root of a variable traversal such as ``var.image``."""

    name: str


@dataclass(kw_only=True, slots=True)
class AttrStep:
    """``.name`` (``pos`` is the name's position). ``.0`` legacy index steps are IndexSteps."""

    name: str
    pos: Pos
    end: Pos


@dataclass(kw_only=True, slots=True)
class IndexStep:
    """``[key]``; ``pos`` is the opening bracket (or the dot of a legacy ``.0``)."""

    key: Expr
    pos: Pos
    end: Pos


@dataclass(kw_only=True, slots=True)
class SplatStep:
    """``[*]`` (full: every later step applies per element) or ``.*`` (only later attribute steps)."""

    full: bool
    pos: Pos
    end: Pos


Step = AttrStep | IndexStep | SplatStep


@dataclass(kw_only=True, slots=True)
class Traversal(Expr):
    """An expression followed by attribute, index and splat steps: ``var.list[0].name``."""

    source: Expr
    steps: list[Step] = field(default_factory=list)


@dataclass(kw_only=True, slots=True)
class FunctionCall(Expr):
    """``name(args...)``; ``expand_final`` is set by a trailing ``...``."""

    name: str
    args: list[Expr]
    expand_final: bool


@dataclass(kw_only=True, slots=True)
class UnaryOp(Expr):
    """``!x`` or ``-x``."""

    op: str
    operand: Expr


@dataclass(kw_only=True, slots=True)
class BinaryOp(Expr):
    """``left op right`` for ``|| && == != < > <= >= + - * / %``."""

    op: str
    left: Expr
    right: Expr


@dataclass(kw_only=True, slots=True)
class Conditional(Expr):
    """``condition ? true_expr : false_expr``."""

    condition: Expr
    true_expr: Expr
    false_expr: Expr


@dataclass(kw_only=True, slots=True)
class ForExpr(Expr):
    """``[for k, v in coll : value if cond]`` or ``{for k, v in coll : key => value... if cond}``.

    ``key_expr`` is None for the tuple form. ``group`` is the ``...`` grouping of the object form.
    """

    key_var: str | None
    value_var: str
    collection: Expr
    key_expr: Expr | None
    value_expr: Expr
    condition: Expr | None
    group: bool


@dataclass(kw_only=True, slots=True)
class Parenthesized(Expr):
    """``( expr )``."""

    expr: Expr


@dataclass(slots=True)
class Attribute:
    """``name = expr``; ``pos`` is the name's position and ``end`` the end of the expression."""

    name: str
    expr: Expr
    pos: Pos
    end: Pos


@dataclass(slots=True)
class Block:
    """``type "label" ... { body }``; ``pos`` is the type word and ``end`` follows the ``}``."""

    type: str
    labels: list[str]
    label_pos: list[Pos]
    body: Body
    pos: Pos
    end: Pos


@dataclass(slots=True)
class Body:
    """Attributes and blocks in source order.

    For a file, ``pos``/``end`` span the whole text; for a block, they are the positions just after
    ``{`` and of ``}``.
    """

    attributes: dict[str, Attribute]
    blocks: list[Block]
    items: list[Attribute | Block]
    pos: Pos
    end: Pos
