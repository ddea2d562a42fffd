"""Policy text (HCL or JSON) to one positioned tree of attributes and blocks.

Nomad accepts a policy in HCL or in HCL's JSON form, where a block is an object under its type
and a labelled block is nested under its label (``{"namespace": {"prod": {"policy": "read"}}}``;
a list of such objects also works). Both forms land in the same :class:`Body`, each node with the
position of its name, so the policy decoder reports mistakes the same way for either.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from cluster.acl.json_positions import JSONPath, JSONTooDeep, json_positions
from cluster.errors import Diagnostic
from cluster.jobspec import hcl
from cluster.jobspec.hcl.pos import SourceMap

__all__ = ["Attr", "Block", "Body", "Spec", "read_hcl", "read_json", "rule_path"]


@dataclass(frozen=True, slots=True)
class Spec:
    """What a body may hold: attribute names, and block types (labelled or not) with their specs.

    JSON needs it to tell a block from an attribute; the decoder uses it to reject unknown names.
    """

    attrs: frozenset[str] = frozenset()
    blocks: Mapping[str, tuple[bool, Spec]] = field(default_factory=dict)


@dataclass(slots=True)
class Attr:
    """``name = value``: positions of the name, of the value and of each list element if known."""

    name: str
    value: Any
    pos: hcl.Pos
    value_pos: hcl.Pos
    item_pos: list[hcl.Pos]

    def at(self, index: int) -> hcl.Pos:
        """Where list element ``index`` is (the value itself when elements have no position)."""
        return self.item_pos[index] if index < len(self.item_pos) else self.value_pos


@dataclass(slots=True)
class Block:
    """``type "label" { body }``; ``pos`` is the type word (HCL) or the label's key (JSON)."""

    type: str
    labels: list[str]
    pos: hcl.Pos
    body: Body


@dataclass(slots=True)
class Body:
    attrs: list[Attr] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)


def rule_path(parent: str, block_type: str, labels: list[str]) -> str:
    """The field path of a block: ``namespace[prod].variables.path[nomad/*]``."""
    own = block_type + "".join(f"[{label}]" for label in labels)
    return f"{parent}.{own}" if parent else own


# -- HCL --------------------------------------------------------------------------------------------


def read_hcl(text: str, filename: str, diags: list[Diagnostic]) -> Body | None:
    """The tree of an HCL policy; syntax errors end the reading, value errors are collected."""
    try:
        root = hcl.parse(text, filename)
    except hcl.HCLError as e:
        diags.extend(e.diagnostics)
        return None
    return _hcl_body(root, "", hcl.EvalContext(), diags)


def _hcl_body(body: hcl.Body, path: str, ctx: hcl.EvalContext, diags: list[Diagnostic]) -> Body:
    out = Body()
    for item in body.items:
        if isinstance(item, hcl.Block):
            inner = _hcl_body(item.body, rule_path(path, item.type, item.labels), ctx, diags)
            out.blocks.append(Block(item.type, list(item.labels), item.pos, inner))
            continue
        attr_path = f"{path}.{item.name}" if path else item.name
        try:
            value = hcl.evaluate(item.expr, ctx)
        except hcl.HCLError as e:
            diags.extend(Diagnostic(d.message, attr_path, d.filename, d.line, d.column) for d in e.diagnostics)
            continue
        items = [x.pos for x in item.expr.items] if isinstance(item.expr, hcl.TupleExpr) else []
        out.attrs.append(Attr(item.name, value, item.pos, item.expr.pos, items))
    return out


# -- JSON -------------------------------------------------------------------------------------------


class _JSONReader:
    def __init__(self, positions: dict[JSONPath, hcl.Pos], diags: list[Diagnostic]) -> None:
        self.positions = positions
        self.diags = diags

    def error(self, where: JSONPath, path: str, message: str) -> None:
        pos = self.positions[where]
        self.diags.append(Diagnostic(message, path, pos.filename, pos.line, pos.column))

    def body(self, data: dict[str, Any], spec: Spec, where: JSONPath, path: str) -> Body:
        out = Body()
        for key, value in data.items():
            here = (*where, key)
            if key not in spec.blocks:
                items = [self.positions[(*here, i)] for i in range(len(value))] if isinstance(value, list) else []
                out.attrs.append(Attr(key, value, self.positions[here], self.positions[here], items))
                continue
            labelled, inner = spec.blocks[key]
            for obj, obj_where in self.objects(value, here, rule_path(path, key, [])):
                if labelled:
                    self.labelled(key, obj, obj_where, inner, path, out)
                else:
                    body = self.body(obj, inner, obj_where, rule_path(path, key, []))
                    out.blocks.append(Block(key, [], self.positions[here], body))
        return out

    def labelled(
        self, key: str, obj: dict[str, Any], where: JSONPath, spec: Spec, path: str, out: Body
    ) -> None:
        for label, value in obj.items():
            here = (*where, label)
            block_path = rule_path(path, key, [label])
            for inner, inner_where in self.objects(value, here, block_path):
                out.blocks.append(Block(key, [label], self.positions[here], self.body(inner, spec, inner_where, block_path)))

    def objects(self, value: Any, where: JSONPath, path: str) -> list[tuple[dict[str, Any], JSONPath]]:
        """A block's value: one object, or a list of objects (HCL's JSON form allows both)."""
        found = [(value, where)] if isinstance(value, dict) else []
        if isinstance(value, list):
            found = [(item, (*where, i)) for i, item in enumerate(value)]
        good = [(obj, at) for obj, at in found if isinstance(obj, dict)]
        if len(good) != len(found) or not found:
            self.error(where, path, "expected an object (or a list of objects) holding the rule's fields")
        return good


_BYTE_SUFFIX = re.compile(r"\s*\(byte (\d+)\)$")


def _error_position(text: str, filename: str, message: str) -> tuple[int, int]:
    """Line and column of a decoder error that names a byte offset (0, 0 when it names none)."""
    match = _BYTE_SUFFIX.search(message)
    if match is None:
        return 0, 0
    offset = len(text.encode()[: int(match.group(1))].decode(errors="ignore"))
    pos = SourceMap(text, filename).pos(min(offset, len(text)))
    return pos.line, pos.column


def read_json(text: str, filename: str, spec: Spec, diags: list[Diagnostic]) -> Body | None:
    """The tree of a JSON policy; a document that is not a JSON object is one error."""
    try:
        data = msgspec.json.decode(text)
        positions = json_positions(text, filename)
    except msgspec.DecodeError as e:
        line, column = _error_position(text, filename, str(e))
        diags.append(Diagnostic(f"not valid JSON: {_BYTE_SUFFIX.sub('', str(e))}", "", filename, line, column))
        return None
    except (RecursionError, JSONTooDeep) as e:
        line, column = (e.pos.line, e.pos.column) if isinstance(e, JSONTooDeep) else (0, 0)
        diags.append(Diagnostic("not a policy: the JSON is nested too deeply", "", filename, line, column))
        return None
    if not isinstance(data, dict):
        diags.append(Diagnostic("a JSON policy must be an object of rules", "", filename, 1, 1))
        return None
    return _JSONReader(positions, diags).body(data, spec, (), "")
