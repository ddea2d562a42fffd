"""HCL2 native syntax for Nomad job files: a parser that keeps exact positions, an evaluator with
HCL's operators and standard functions, and Nomad's run-time interpolation pass-through.

    body = parse(text, "redis.nomad.hcl")          # HCLError lists every syntax error
    ctx = EvalContext({"var": {"image": "redis"}}, passthrough_unknown=True)
    value = evaluate(body.attributes["image"].expr, ctx)

Errors: :class:`HCLError` (an ``InvalidInput``) with ``diagnostics``, each naming file, line and
column. Values are plain Python data (see ``Value``).
"""

from __future__ import annotations

from cluster.jobspec.hcl.ast import (
    Attribute,
    AttrStep,
    BinaryOp,
    Block,
    Body,
    Conditional,
    Expr,
    ForExpr,
    FunctionCall,
    Heredoc,
    IndexStep,
    LiteralValue,
    ObjectExpr,
    ObjectItem,
    Parenthesized,
    SplatStep,
    Step,
    TemplateExpr,
    TemplateFor,
    TemplateIf,
    TemplateInterp,
    Traversal,
    TupleExpr,
    UnaryOp,
    Variable,
)
from cluster.jobspec.hcl.evaluator import EvalContext, body_to_value, evaluate
from cluster.jobspec.hcl.functions import STANDARD_FUNCTIONS, Function, FunctionError
from cluster.jobspec.hcl.parser import parse
from cluster.jobspec.hcl.pos import HCLError, Pos
from cluster.jobspec.hcl.references import references
from cluster.jobspec.hcl.values import Value

__all__ = [
    "STANDARD_FUNCTIONS",
    "AttrStep",
    "Attribute",
    "BinaryOp",
    "Block",
    "Body",
    "Conditional",
    "EvalContext",
    "Expr",
    "ForExpr",
    "Function",
    "FunctionCall",
    "FunctionError",
    "HCLError",
    "Heredoc",
    "IndexStep",
    "LiteralValue",
    "ObjectExpr",
    "ObjectItem",
    "Parenthesized",
    "Pos",
    "SplatStep",
    "Step",
    "TemplateExpr",
    "TemplateFor",
    "TemplateIf",
    "TemplateInterp",
    "Traversal",
    "TupleExpr",
    "UnaryOp",
    "Value",
    "Variable",
    "body_to_value",
    "evaluate",
    "parse",
    "references",
]
