"""HCL2 input variables (``variable`` blocks, ``-var`` and var files) and ``locals`` of a job file.

Resolution order, as Nomad's jobspec2: a variable's ``default``, then ``NOMAD_VAR_<name>`` values
from the environment (ignored for variables the file does not declare), then var files in the order
given, then ``-var name=value`` flags (last wins).
A value given on the command line is a string converted to the declared type; complex types
(lists, maps, objects) are written in HCL syntax: ``-var 'ports=[80, 443]'``.
Locals may refer to variables and to each other, in any order; cycles are reported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cluster.errors import Diagnostic
from cluster.jobspec import hcl
from cluster.jobspec.values import describe

__all__ = ["TypeSpec", "VarValues", "Variables", "parse_type", "resolve_inputs"]


class VarValues(dict[str, Any]):
    """Values read from var files, remembering where each was set so that errors can point there."""

    def __init__(self) -> None:
        super().__init__()
        self.positions: dict[str, hcl.Pos] = {}

    def set(self, name: str, value: Any, pos: hcl.Pos) -> None:
        self[name] = value
        self.positions[name] = pos

    def merge(self, other: VarValues) -> None:
        """Later files win, as with several -var-file flags."""
        self.update(other)
        self.positions.update(other.positions)


@dataclass(frozen=True, slots=True)
class TypeSpec:
    """An HCL type constraint: ``string``, ``list(number)``, ``object({a = string})``..."""

    name: str  # string number bool any list set map tuple object
    elem: TypeSpec | None = None
    fields: tuple[tuple[str, TypeSpec], ...] = ()  # object attributes, tuple elements (names "0", "1"...)

    def __str__(self) -> str:
        if self.name in ("list", "set", "map"):
            return f"{self.name}({self.elem})"
        if self.name == "object":
            return "object({" + ", ".join(f"{k} = {t}" for k, t in self.fields) + "})"
        if self.name == "tuple":
            return "tuple([" + ", ".join(str(t) for _, t in self.fields) + "])"
        return self.name


ANY = TypeSpec("any")
_TOKEN = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_-]*|[()\[\]{}=,])")


class _TypeParser:
    def __init__(self, text: str) -> None:
        self.tokens = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m:
                raise ValueError(f"unexpected {text[pos:].strip()[:10]!r} in type")
            self.tokens.append(m.group(1))
            pos = m.end()
            while pos < len(text) and text[pos].isspace():
                pos += 1
        self.i = 0

    def take(self, want: str | None = None) -> str:
        if self.i >= len(self.tokens):
            raise ValueError("unexpected end of type")
        tok = self.tokens[self.i]
        if want is not None and tok != want:
            raise ValueError(f"expected {want!r} in type, found {tok!r}")
        self.i += 1
        return tok

    def peek(self) -> str:
        return self.tokens[self.i] if self.i < len(self.tokens) else ""

    def parse(self) -> TypeSpec:
        name = self.take()
        if name in ("string", "number", "bool", "any"):
            return TypeSpec(name)
        if name in ("list", "set", "map"):
            self.take("(")
            elem = self.parse()
            self.take(")")
            return TypeSpec(name, elem)
        if name == "object":
            self.take("(")
            self.take("{")
            fields = []
            while self.peek() != "}":
                key = self.take()
                self.take("=")
                fields.append((key, self.parse()))
                if self.peek() == ",":
                    self.take(",")
            self.take("}")
            self.take(")")
            return TypeSpec("object", fields=tuple(fields))
        if name == "tuple":
            self.take("(")
            self.take("[")
            elems: list[tuple[str, TypeSpec]] = []
            while self.peek() != "]":
                elems.append((str(len(elems)), self.parse()))
                if self.peek() == ",":
                    self.take(",")
            self.take("]")
            self.take(")")
            return TypeSpec("tuple", fields=tuple(elems))
        raise ValueError(f"unknown type {name!r}; expected string, number, bool, any, list, set, map, object or tuple")


def parse_type(text: str) -> TypeSpec:
    """Parses a type constraint's source text; ``ValueError`` says what is wrong."""
    parser = _TypeParser(text)
    spec = parser.parse()
    if parser.i != len(parser.tokens):
        raise ValueError(f"unexpected {parser.tokens[parser.i]!r} after type")
    return spec


def conform(value: Any, spec: TypeSpec) -> Any:
    """Converts ``value`` to ``spec`` as HCL does (numbers and bools to strings and back);
    ``ValueError`` names the mismatch."""
    if value is None or spec.name == "any":
        return value
    if spec.name == "string":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float | str):
            return value if isinstance(value, str) else str(value)
    elif spec.name == "number":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value) if re.fullmatch(r"[-+]?[0-9]+", value.strip()) else float(value)
            except ValueError:
                pass
    elif spec.name == "bool":
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return value == "true"
    elif spec.name in ("list", "set") and isinstance(value, list):
        assert spec.elem is not None
        out = [conform(v, spec.elem) for v in value]
        return list(dict.fromkeys(out)) if spec.name == "set" and all(_hashable(v) for v in out) else out
    elif spec.name == "map" and isinstance(value, dict):
        assert spec.elem is not None
        return {k: conform(v, spec.elem) for k, v in value.items()}
    elif spec.name == "object" and isinstance(value, dict):
        missing = [k for k, _ in spec.fields if k not in value]
        if missing:
            raise ValueError(f"attribute {missing[0]!r} is required by {spec}")
        return {k: conform(value[k], t) for k, t in spec.fields}
    elif spec.name == "tuple" and isinstance(value, list):
        if len(value) != len(spec.fields):
            raise ValueError(f"expected {len(spec.fields)} elements for {spec}, got {len(value)}")
        return [conform(v, t) for v, (_, t) in zip(value, spec.fields, strict=True)]
    raise ValueError(f"expected {spec}, got {describe(value)}")


def _hashable(v: Any) -> bool:
    return isinstance(v, str | int | float | bool)


@dataclass
class _Declared:
    name: str
    block: hcl.Block
    type: TypeSpec = ANY
    default: Any = None
    has_default: bool = False
    validations: list[hcl.Block] = field(default_factory=list)


@dataclass
class Variables:
    """The result: ``var`` and ``local`` values, and every problem found."""

    var: dict[str, Any]
    local: dict[str, Any]
    diagnostics: list[Diagnostic]


_VARIABLE_ATTRS = {"type", "default", "description", "sensitive", "nullable"}


def _diag(pos: hcl.Pos, path: str, message: str) -> Diagnostic:
    return Diagnostic(message, path, pos.filename, pos.line, pos.column)


def _source_of(source: str, expr: hcl.Expr) -> str:
    return source[expr.pos.offset : expr.end.offset]


def _declare(block: hcl.Block, source: str, diags: list[Diagnostic]) -> _Declared | None:
    if len(block.labels) != 1:
        diags.append(_diag(block.pos, "variable", 'a variable block needs one label, its name: variable "NAME" { ... }'))
        return None
    name = block.labels[0]
    path = f"variable[{name}]"
    decl = _Declared(name, block)
    empty = hcl.EvalContext()
    for item in block.body.items:
        if isinstance(item, hcl.Block):
            if item.type == "validation":
                decl.validations.append(item)
            else:
                diags.append(_diag(item.pos, f"{path}.{item.type}", f'unknown block "{item.type}" in variable'))
            continue
        if item.name not in _VARIABLE_ATTRS:
            diags.append(_diag(item.pos, f"{path}.{item.name}", f'unknown attribute "{item.name}" in variable'))
        elif item.name == "type":
            try:
                decl.type = parse_type(_source_of(source, item.expr))
            except ValueError as e:
                diags.append(_diag(item.expr.pos, f"{path}.type", str(e)))
        elif item.name == "default":
            try:
                decl.default = hcl.evaluate(item.expr, empty)
                decl.has_default = True
            except hcl.HCLError as e:
                diags.extend(Diagnostic(d.message, f"{path}.default", d.filename, d.line, d.column) for d in e.diagnostics)
    if decl.has_default:
        try:
            decl.default = conform(decl.default, decl.type)
        except ValueError as e:
            expr = block.body.attributes["default"].expr
            diags.append(_diag(expr.pos, f"{path}.default", str(e)))
    return decl


def _from_text(text: str, spec: TypeSpec) -> Any:
    """A ``-var`` value: a plain string for string types, else an HCL expression."""
    if spec.name == "string":
        return text
    if spec.name in ("number", "bool", "any"):
        return conform(text, spec) if spec.name != "any" else text
    try:
        body = hcl.parse(f"v = {text}", "-var")
        value = hcl.evaluate(body.attributes["v"].expr, hcl.EvalContext())
    except hcl.HCLError as e:
        raise ValueError(e.diagnostics[0].message) from None
    return conform(value, spec)


def resolve_inputs(
    root: hcl.Body,
    source: str,
    *,
    overrides: Mapping[str, str],
    file_values: Mapping[str, Any],
    env_values: Mapping[str, str] | None = None,
    ctx_factory: Any,
) -> Variables:
    """Declares the job file's variables, applies the given values and evaluates its locals.

    ``file_values`` come from var files (already HCL values); ``overrides`` are ``-var`` strings.
    ``ctx_factory(variables)`` builds the evaluation context (so the caller controls functions).
    """
    diags: list[Diagnostic] = []
    declared: dict[str, _Declared] = {}
    for block in root.blocks:
        if block.type != "variable":
            continue
        decl = _declare(block, source, diags)
        if decl is None:
            continue
        if decl.name in declared:
            first = declared[decl.name].block.pos.line
            diags.append(_diag(block.label_pos[0], f"variable[{decl.name}]", f'variable "{decl.name}" is declared twice; the first is at line {first}'))
            continue
        declared[decl.name] = decl

    values: dict[str, Any] = {}
    for name, decl in declared.items():
        if decl.has_default:
            values[name] = decl.default
    for name, text in (env_values or {}).items():
        if name in declared:
            try:
                values[name] = _from_text(text, declared[name].type)
            except ValueError as e:
                diags.append(Diagnostic(f"NOMAD_VAR_{name}: {e}", f"var.{name}"))
    file_positions: Mapping[str, hcl.Pos] = getattr(file_values, "positions", {})
    for name, value in file_values.items():
        where = file_positions.get(name)
        if name not in declared:
            message = f'variable "{name}" is given a value but not declared in the job file'
            diags.append(_diag(where, f"var.{name}", message) if where else Diagnostic(message, f"var.{name}"))
            continue
        try:
            values[name] = conform(value, declared[name].type)
        except ValueError as e:
            message = f"value of variable {name!r}: {e}"
            diags.append(_diag(where, f"var.{name}", message) if where else Diagnostic(message, f"var.{name}"))
    for name, text in overrides.items():
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            diags.append(Diagnostic(f'-var {name}=...: no variable "{name}" is declared in the job file (declared: {known})', f"var.{name}"))
            continue
        try:
            values[name] = _from_text(text, declared[name].type)
        except ValueError as e:
            diags.append(Diagnostic(f"-var {name}=...: {e}", f"var.{name}"))
    for name, decl in declared.items():
        if name not in values:
            diags.append(_diag(decl.block.pos, f"variable[{name}]", f'variable "{name}" has no default and no value; set it with -var {name}=VALUE'))

    for name, decl in declared.items():
        if name in values:
            _check_validations(decl, values, ctx_factory, diags)

    local = _evaluate_locals(root, values, ctx_factory, diags)
    return Variables(var=values, local=local, diagnostics=diags)


def _check_validations(decl: _Declared, values: dict[str, Any], ctx_factory: Any, diags: list[Diagnostic]) -> None:
    ctx = ctx_factory({"var": {decl.name: values[decl.name]}})
    for v in decl.validations:
        path = f"variable[{decl.name}].validation"
        cond = v.body.attributes.get("condition")
        msg = v.body.attributes.get("error_message")
        if cond is None or msg is None:
            diags.append(_diag(v.pos, path, "a validation block needs condition and error_message"))
            continue
        try:
            ok = hcl.evaluate(cond.expr, ctx)
            text = hcl.evaluate(msg.expr, ctx)
        except hcl.HCLError as e:
            diags.extend(Diagnostic(d.message, path, d.filename, d.line, d.column) for d in e.diagnostics)
            continue
        if ok is not True:
            diags.append(_diag(cond.pos, path, f"invalid value for variable {decl.name!r}: {text}"))


def _evaluate_locals(root: hcl.Body, var: dict[str, Any], ctx_factory: Any, diags: list[Diagnostic]) -> dict[str, Any]:
    pending: dict[str, hcl.Attribute] = {}
    for block in root.blocks:
        if block.type != "locals":
            continue
        for item in block.body.items:
            if isinstance(item, hcl.Block):
                diags.append(_diag(item.pos, f"locals.{item.type}", "a locals block holds only attributes (name = value)"))
            elif item.name in pending:
                first = pending[item.name].pos.line
                diags.append(_diag(item.pos, f"local.{item.name}", f'local "{item.name}" is defined twice; the first is at line {first}'))
            else:
                pending[item.name] = item
    local: dict[str, Any] = {}
    failed: set[str] = set()
    while pending:
        progressed = False
        for name, item in list(pending.items()):
            needs = {ref[1] for ref in hcl.references(item.expr) if len(ref) > 1 and ref[0] == "local"}
            if needs & failed:
                failed.add(name)
                del pending[name]
                progressed = True
                continue
            if (needs - set(local)) & set(pending):
                continue  # wait for the locals it needs; an undefined one fails in evaluate below
            try:
                local[name] = hcl.evaluate(item.expr, ctx_factory({"var": var, "local": local}))
            except hcl.HCLError as e:
                failed.add(name)
                diags.extend(Diagnostic(d.message, f"local.{name}", d.filename, d.line, d.column) for d in e.diagnostics)
            del pending[name]
            progressed = True
        if not progressed:
            for name, item in pending.items():
                diags.append(_diag(item.pos, f"local.{name}", f'local "{name}" depends on itself (a cycle through {", ".join(sorted(pending))})'))
            break
    return local
