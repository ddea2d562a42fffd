"""Evaluation of HCL expressions to plain values.

Errors are raised as HCLError at the position of the sub-expression at fault (the bad operand,
the index that is out of range, the argument a function rejected), so the job-file decoder can
point at the exact character.

Nomad pass-through: Nomad's jobspec leaves run-time interpolations such as
``"${attr.kernel.name}"`` or ``"${NOMAD_ALLOC_DIR}/data"`` in strings for the client to fill in.
With ``passthrough_unknown=True``, an interpolation inside a template that is a plain traversal
(a name followed by ``.attr`` and literal ``[key]`` steps) whose root name is not defined is
rendered back as its exact source text. Anything else that uses an undefined name is an error.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from cluster.jobspec.hcl.ast import (
    Attribute,
    BinaryOp,
    Body,
    Conditional,
    Expr,
    ForExpr,
    FunctionCall,
    Heredoc,
    LiteralValue,
    ObjectExpr,
    Parenthesized,
    TemplateExpr,
    TemplateFor,
    TemplateIf,
    TemplateInterp,
    Traversal,
    TupleExpr,
    UnaryOp,
    Variable,
)
from cluster.jobspec.hcl.functions import STANDARD_FUNCTIONS, Function, FunctionError
from cluster.jobspec.hcl.operators import LEFT, RIGHT, OperandError, binary, logical_operand, unary
from cluster.jobspec.hcl.pos import HCLError, Pos
from cluster.jobspec.hcl.traverse import apply_steps, is_plain_traversal, unknown_variable
from cluster.jobspec.hcl.values import (
    ConversionError,
    Value,
    describe_value,
    quote,
    to_bool,
    to_string,
    type_name,
)

__all__ = ["EvalContext", "body_to_value", "evaluate"]

_SPECIAL_FORMS = ("try", "can")
# Evaluation steps allowed per root context: enough for any job file, and a bound on the time a
# hostile one (nested for expressions over large ranges) can take.
MAX_EVALUATION_STEPS = 1_000_000


class EvalContext:
    """Variables and functions visible to an expression.

    ``functions`` are added to (and may override) the standard library; pass for example a
    ``file`` function here, since the pure core does no I/O itself. ``child`` makes a nested
    scope, as ``for`` expressions do.
    """

    __slots__ = ("_budget", "_parent", "_variables", "functions", "passthrough_unknown")

    def __init__(
        self,
        variables: Mapping[str, Value] | None = None,
        functions: Mapping[str, Callable[..., Value]] | None = None,
        passthrough_unknown: bool = False,
    ) -> None:
        self._variables: dict[str, Value] = dict(variables or {})
        table: dict[str, Callable[..., Value]] = dict(STANDARD_FUNCTIONS)
        table.update(functions or {})
        self.functions: Mapping[str, Callable[..., Value]] = table
        self.passthrough_unknown = passthrough_unknown
        self._parent: EvalContext | None = None
        self._budget = [MAX_EVALUATION_STEPS]  # shared with child scopes

    def child(self, variables: Mapping[str, Value]) -> EvalContext:
        """A scope with ``variables`` added on top of this one."""
        scope = EvalContext.__new__(EvalContext)
        scope._variables = dict(variables)
        scope.functions = self.functions
        scope.passthrough_unknown = self.passthrough_unknown
        scope._parent = self
        scope._budget = self._budget
        return scope

    def lookup(self, name: str) -> tuple[bool, Value]:
        """(found, value) for a variable in this scope or an enclosing one."""
        scope: EvalContext | None = self
        while scope is not None:
            if name in scope._variables:
                return True, scope._variables[name]
            scope = scope._parent
        return False, None

    def variable_names(self) -> list[str]:
        names: set[str] = set()
        scope: EvalContext | None = self
        while scope is not None:
            names.update(scope._variables)
            scope = scope._parent
        return sorted(names)


def evaluate(expr: Expr, ctx: EvalContext) -> Value:
    """The value of ``expr``; raises HCLError at the sub-expression at fault."""
    handler = _HANDLERS.get(type(expr))
    assert handler is not None, f"no evaluator for {type(expr).__name__}"
    budget = ctx._budget
    budget[0] -= 1
    if budget[0] < 0:
        raise HCLError.at(expr.pos, f"evaluation stopped: more than {MAX_EVALUATION_STEPS} steps")
    return handler(expr, ctx)


def body_to_value(body: Body, ctx: EvalContext) -> dict[str, Value]:
    """A body as HCL's JSON form: attributes evaluated, each block appended to a list under its
    type, its labels nested as keys (``service "web" {...}`` -> ``{"service": [{"web": {...}}]}``).
    Used for opaque maps such as a task driver's ``config {}``."""
    result: dict[str, Value] = {}
    block_types: set[str] = set()
    for item in body.items:
        if isinstance(item, Attribute):
            if item.name in block_types:
                raise HCLError.at(item.pos, f'"{item.name}" is used both as a block type and as an attribute')
            result[item.name] = evaluate(item.expr, ctx)
            continue
        if item.type in result and item.type not in block_types:
            raise HCLError.at(item.pos, f'"{item.type}" is used both as an attribute and as a block type')
        block_types.add(item.type)
        nested: Value = body_to_value(item.body, ctx)
        for label in reversed(item.labels):
            nested = {label: nested}
        blocks = result.setdefault(item.type, [])
        assert isinstance(blocks, list)
        blocks.append(nested)
    return result


# -- simple forms ------------------------------------------------------------------------------
def _literal(expr: LiteralValue, ctx: EvalContext) -> Value:
    return expr.value


def _parenthesized(expr: Parenthesized, ctx: EvalContext) -> Value:
    return evaluate(expr.expr, ctx)


def _tuple(expr: TupleExpr, ctx: EvalContext) -> Value:
    return [evaluate(item, ctx) for item in expr.items]


def _object(expr: ObjectExpr, ctx: EvalContext) -> Value:
    result: dict[str, Value] = {}
    for item in expr.items:
        key = _key_string(evaluate(item.key, ctx), item.key.pos, "object key")
        if key in result:
            raise HCLError.at(item.key.pos, f"duplicate key {quote(key)} in object")
        result[key] = evaluate(item.value, ctx)
    return result


def _key_string(key: Value, pos: Pos, what: str) -> str:
    if key is None:
        raise HCLError.at(pos, f"{what} must not be null")
    try:
        return to_string(key)
    except ConversionError:
        raise HCLError.at(pos, f"{what} must be a string, got {type_name(key)}") from None


def _variable(expr: Variable, ctx: EvalContext) -> Value:
    found, value = ctx.lookup(expr.name)
    if not found:
        raise unknown_variable(expr, ctx.variable_names())
    return value


def _traversal(expr: Traversal, ctx: EvalContext) -> Value:
    root_path = [expr.source.name] if isinstance(expr.source, Variable) else None
    value = evaluate(expr.source, ctx)
    return apply_steps(value, expr.steps, root_path, expr.pos, lambda key: evaluate(key, ctx))


# -- operators ---------------------------------------------------------------------------------
def _unary(expr: UnaryOp, ctx: EvalContext) -> Value:
    operand = evaluate(expr.operand, ctx)
    try:
        return unary(expr.op, operand)
    except OperandError as exc:
        raise HCLError.at(expr.operand.pos, exc.message) from None


def _binary(expr: BinaryOp, ctx: EvalContext) -> Value:
    op = expr.op
    try:
        if op in ("&&", "||"):
            left_true = logical_operand(op, evaluate(expr.left, ctx), LEFT)
            if left_true == (op == "||"):  # short-circuit: false && ..., true || ...
                return left_true
            return logical_operand(op, evaluate(expr.right, ctx), RIGHT)
        return binary(op, evaluate(expr.left, ctx), evaluate(expr.right, ctx))
    except OperandError as exc:
        at = expr.left if exc.side == LEFT else expr.right
        raise HCLError.at(at.pos, exc.message) from None


def _conditional(expr: Conditional, ctx: EvalContext) -> Value:
    if _condition(expr.condition, ctx, "the condition"):
        return evaluate(expr.true_expr, ctx)
    return evaluate(expr.false_expr, ctx)


def _condition(expr: Expr, ctx: EvalContext, what: str) -> bool:
    value = evaluate(expr, ctx)
    if value is None:
        raise HCLError.at(expr.pos, f"{what} is null; it must be true or false")
    try:
        return to_bool(value)
    except ConversionError:
        raise HCLError.at(expr.pos, f"{what} must be a bool, got {describe_value(value)}") from None


# -- for expressions ---------------------------------------------------------------------------
def _iterate(collection_expr: Expr, ctx: EvalContext, what: str) -> list[tuple[Value, Value]]:
    """(key, value) pairs: list indexes, or object keys in sorted order as HCL does."""
    collection = evaluate(collection_expr, ctx)
    if isinstance(collection, list):
        return list(enumerate(collection))
    if isinstance(collection, dict):
        return [(key, collection[key]) for key in sorted(collection)]
    raise HCLError.at(
        collection_expr.pos, f"{what} cannot iterate over {type_name(collection)}; a list or object is needed"
    )


def _scope(ctx: EvalContext, key_var: str | None, value_var: str, key: Value, value: Value) -> EvalContext:
    return ctx.child({key_var: key, value_var: value} if key_var else {value_var: value})


def _for(expr: ForExpr, ctx: EvalContext) -> Value:
    tuple_result: list[Value] = []
    object_result: dict[str, Value] = {}
    for key, value in _iterate(expr.collection, ctx, "a for expression"):
        scope = _scope(ctx, expr.key_var, expr.value_var, key, value)
        if expr.condition is not None and not _condition(expr.condition, scope, "the for expression's 'if'"):
            continue
        if expr.key_expr is None:
            tuple_result.append(evaluate(expr.value_expr, scope))
            continue
        result_key = _key_string(evaluate(expr.key_expr, scope), expr.key_expr.pos, "a for expression key")
        result_value = evaluate(expr.value_expr, scope)
        if expr.group:
            group = object_result.setdefault(result_key, [])
            assert isinstance(group, list)
            group.append(result_value)
        elif result_key in object_result:
            raise HCLError.at(
                expr.key_expr.pos,
                f"duplicate key {quote(result_key)} in for expression; add '...' after the value to group values by key",
            )
        else:
            object_result[result_key] = result_value
    return tuple_result if expr.key_expr is None else object_result


# -- templates ---------------------------------------------------------------------------------
def _template(expr: TemplateExpr, ctx: EvalContext) -> Value:
    parts = expr.parts
    if len(parts) == 1 and isinstance(parts[0], TemplateInterp):
        # "${x}" alone is x itself (a number stays a number), as in HCL.
        interp = parts[0]
        if _passes_through(interp, ctx):
            return interp.source
        return evaluate(interp.expr, ctx)
    out: list[str] = []
    _render(parts, ctx, out)
    return "".join(out)


def _render(parts: list[Expr], ctx: EvalContext, out: list[str]) -> None:
    for part in parts:
        if isinstance(part, LiteralValue):
            assert isinstance(part.value, str)
            out.append(part.value)
        elif isinstance(part, TemplateInterp):
            out.append(part.source if _passes_through(part, ctx) else _interpolated(part, ctx))
        elif isinstance(part, TemplateIf):
            if _condition(part.condition, ctx, "the %{ if } condition"):
                _render(part.then.parts, ctx, out)
            elif part.otherwise is not None:
                _render(part.otherwise.parts, ctx, out)
        else:
            assert isinstance(part, TemplateFor), type(part)
            for key, value in _iterate(part.collection, ctx, "%{ for }"):
                _render(part.body.parts, _scope(ctx, part.key_var, part.value_var, key, value), out)


def _interpolated(part: TemplateInterp, ctx: EvalContext) -> str:
    value = evaluate(part.expr, ctx)
    if value is None:
        raise HCLError.at(part.expr.pos, "cannot include null in a string template")
    if isinstance(value, list | dict):
        raise HCLError.at(
            part.expr.pos,
            f"cannot include {'a list' if isinstance(value, list) else 'an object'} in a string template; "
            "use join() or jsonencode()",
        )
    return to_string(value)


def _passes_through(part: TemplateInterp, ctx: EvalContext) -> bool:
    """Nomad run-time interpolation: a plain traversal rooted at a name the context lacks."""
    if not ctx.passthrough_unknown:
        return False
    root = is_plain_traversal(part.expr)
    return root is not None and not ctx.lookup(root)[0]


# -- function calls ----------------------------------------------------------------------------
def _call(expr: FunctionCall, ctx: EvalContext) -> Value:
    name = expr.name
    if name in _SPECIAL_FORMS:
        return _special_form(expr, ctx)
    function = ctx.functions.get(name)
    if function is None:
        raise HCLError.at(expr.pos, f'unknown function "{name}"{_suggest(name, ctx)}')
    args = [evaluate(arg, ctx) for arg in expr.args]
    if expr.expand_final:
        expanded = args.pop()
        if not isinstance(expanded, list):
            raise HCLError.at(
                expr.args[-1].pos, f"only a list can be expanded with '...', got {type_name(expanded)}"
            )
        args.extend(expanded)
    if isinstance(function, Function):
        try:
            return function(*args)
        except FunctionError as exc:
            raise HCLError.at(_argument_pos(expr, exc.arg_index), f"{name}(): {exc.message}") from None
    return _call_injected(expr, function, args)


def _call_injected(expr: FunctionCall, function: Callable[..., Value], args: list[Value]) -> Value:
    """A caller-supplied function: check the arity from its signature; report its failures."""
    _check_signature(expr, function, len(args))
    try:
        return function(*args)
    except FunctionError as exc:
        raise HCLError.at(_argument_pos(expr, exc.arg_index), f"{expr.name}(): {exc.message}") from None
    except HCLError:
        raise
    except Exception as exc:  # the caller's code: any failure becomes an error at the call
        raise HCLError.at(expr.pos, f"{expr.name}(): {exc}") from exc


def _check_signature(expr: FunctionCall, function: Callable[..., Value], count: int) -> None:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # some builtins have no signature; let the call decide
        return
    try:
        signature.bind(*([None] * count))
    except TypeError:
        positional = [
            p for p in signature.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        required = sum(1 for p in positional if p.default is p.empty)
        if any(p.kind == p.VAR_POSITIONAL for p in signature.parameters.values()):
            expected = f"at least {required}"
        elif required == len(positional):
            expected = str(required)
        else:
            expected = f"{required} to {len(positional)}"
        noun = "argument" if expected.endswith(" 1") or expected == "1" else "arguments"
        raise HCLError.at(expr.pos, f"{expr.name}(): expects {expected} {noun}, got {count}") from None


def _argument_pos(expr: FunctionCall, arg_index: int | None) -> Pos:
    if arg_index is None or not expr.args:
        return expr.pos
    return expr.args[min(arg_index, len(expr.args) - 1)].pos


def _suggest(name: str, ctx: EvalContext) -> str:
    close = difflib.get_close_matches(name, [*ctx.functions, *_SPECIAL_FORMS], n=1, cutoff=0.75)
    return f'; did you mean "{close[0]}"?' if close else ""


def _special_form(expr: FunctionCall, ctx: EvalContext) -> Value:
    """try() and can() see their arguments' errors, so they evaluate the arguments themselves."""
    if expr.expand_final:
        raise HCLError.at(expr.pos, f"{expr.name}(): its arguments cannot be expanded with '...'")
    if expr.name == "can":
        if len(expr.args) != 1:
            raise HCLError.at(expr.pos, f"can(): expects 1 argument, got {len(expr.args)}")
        try:
            evaluate(expr.args[0], ctx)
        except HCLError:
            return False
        return True
    if not expr.args:
        raise HCLError.at(expr.pos, "try(): expects at least 1 argument, got 0")
    last_error: HCLError | None = None
    for arg in expr.args:
        try:
            return evaluate(arg, ctx)
        except HCLError as exc:
            last_error = exc
    assert last_error is not None
    raise HCLError.at(
        expr.pos, f"try(): no argument could be evaluated; the last error was: {last_error.diagnostics[0]}"
    )


_HANDLERS: dict[type[Expr], Callable[[Any, EvalContext], Value]] = {
    LiteralValue: _literal,
    TemplateExpr: _template,
    Heredoc: _template,
    TupleExpr: _tuple,
    ObjectExpr: _object,
    Variable: _variable,
    Traversal: _traversal,
    FunctionCall: _call,
    UnaryOp: _unary,
    BinaryOp: _binary,
    Conditional: _conditional,
    ForExpr: _for,
    Parenthesized: _parenthesized,
}
