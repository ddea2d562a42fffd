"""Walks a parsed HCL job file with the specs of ``schema.py`` and builds Nomad's API JSON for the job.

Every problem becomes a ``Diagnostic`` with the file position and the field path in job-file terms
(``job.group[cache].task[redis].resources.memory``); the decoder keeps going after an error so that
one run reports them all. It also records the position of every attribute and block by path, so
that later semantic checks (``cluster.structs.validate``), which only know paths, can be pointed
back at the line that caused them.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from cluster.errors import Diagnostic
from cluster.jobspec import hcl
from cluster.jobspec.schema import SPECS, Attr, Blk, Mode, Spec
from cluster.jobspec.values import KindError, convert, describe

__all__ = ["Decoder", "Positions"]

Positions = dict[str, hcl.Pos]
JSONObject = dict[str, Any]

# Constraint and affinity operators that can be written as an attribute of their own.
_OPERATOR_SHORTHANDS = (
    "version", "semver", "regexp", "set_contains", "set_contains_any", "set_contains_all",
    "distinct_hosts", "distinct_property",
)


class Decoder:
    """Decodes one job file. Use ``decode_job``; then read ``diagnostics`` and ``positions``."""

    def __init__(self, filename: str, ctx: hcl.EvalContext) -> None:
        self.filename = filename
        self.ctx = ctx
        self.diagnostics: list[Diagnostic] = []
        self.positions: Positions = {}
        self.warnings: list[Diagnostic] = []

    # -- reporting --------------------------------------------------------------------------------

    def error(self, pos: hcl.Pos | None, path: str, message: str) -> None:
        self.diagnostics.append(
            Diagnostic(
                message=message,
                path=path,
                filename=pos.filename if pos else self.filename,
                line=pos.line if pos else 0,
                column=pos.column if pos else 0,
            )
        )

    def warn(self, pos: hcl.Pos, path: str, message: str) -> None:
        self.warnings.append(Diagnostic(message, path, pos.filename, pos.line, pos.column))

    def hcl_errors(self, err: hcl.HCLError, path: str) -> None:
        for d in err.diagnostics:
            self.diagnostics.append(Diagnostic(d.message, path, d.filename, d.line, d.column))

    # -- the job ----------------------------------------------------------------------------------

    def decode_job(self, block: hcl.Block) -> JSONObject:
        if len(block.labels) != 1:
            self.error(block.pos, "job", f"a job block needs exactly one label, the job ID; found {len(block.labels)}")
            return {}
        self.positions["job"] = block.pos
        job = self.decode_body(block.body, SPECS["job"], "job")
        job["ID"] = block.labels[0]
        job.setdefault("Name", block.labels[0])
        return job

    # -- bodies -----------------------------------------------------------------------------------

    def decode_body(self, body: hcl.Body, spec: Spec, path: str) -> JSONObject:
        out: JSONObject = {}
        seen: dict[str, hcl.Pos] = {}  # single blocks and labels already seen, for duplicate errors
        counts: dict[str, int] = {}
        for item in body.items:
            if isinstance(item, hcl.Attribute):
                self._attribute(item, spec, path, out)
            else:
                self._block(item, spec, path, out, seen, counts)
        finisher = FINISHERS.get(spec.finish)
        if finisher is not None:
            finisher(self, out, path, body)
        return out

    def _attribute(self, item: hcl.Attribute, spec: Spec, path: str, out: JSONObject) -> None:
        apath = f"{path}.{item.name}"
        attr = spec.attrs.get(item.name)
        if attr is None:
            self._unknown(item.pos, apath, item.name, spec, is_block=False)
            return
        self.positions[apath] = item.pos
        if attr.deprecated:
            self.warn(item.pos, apath, f"deprecated: {attr.deprecated}")
        try:
            value = hcl.evaluate(item.expr, self.ctx)
        except hcl.HCLError as e:
            self.hcl_errors(e, apath)
            return
        self._store(attr, value, item.expr.pos, apath, out)

    def _store(self, attr: Attr, value: Any, pos: hcl.Pos, path: str, out: JSONObject) -> None:
        try:
            converted = convert(value, attr.kind)
        except KindError as e:
            self.error(pos, path, str(e))
            return
        if converted is not None:
            out[attr.key] = converted

    def _block(
        self,
        item: hcl.Block,
        spec: Spec,
        path: str,
        out: JSONObject,
        seen: dict[str, hcl.Pos],
        counts: dict[str, int],
    ) -> None:
        name = item.type
        attr = spec.attrs.get(name)
        if attr is not None and attr.also_block:
            self._map_block(item, attr, f"{path}.{name}", out)
            return
        blk = spec.blocks.get(name)
        if blk is None:
            self._unknown(item.pos, f"{path}.{name}", name, spec, is_block=True)
            return
        want_labels = 1 if blk.mode in (Mode.LABELLED, Mode.MAP) else 0
        if len(item.labels) != want_labels:
            self._label_error(item, blk, f"{path}.{name}", want_labels)
            return
        if blk.mode in (Mode.SINGLE, Mode.OPAQUE):
            bpath = f"{path}.{name}"
            if name in seen:
                first = seen[name]
                self.error(item.pos, bpath, f"only one {name} block is allowed here; the first is at line {first.line}")
                return
            seen[name] = item.pos
            self.positions[bpath] = item.pos
            if blk.mode is Mode.OPAQUE:
                out[blk.key] = self.decode_opaque(item.body, bpath)
            else:
                out[blk.key] = self.decode_body(item.body, SPECS[blk.spec], bpath)
        elif blk.mode is Mode.LIST:
            index = counts.get(name, 0)
            counts[name] = index + 1
            bpath = f"{path}.{name}[{index}]"
            self.positions[bpath] = item.pos
            out.setdefault(blk.key, []).append(self.decode_body(item.body, SPECS[blk.spec], bpath))
        else:
            self._labelled(item, blk, path, out, seen)

    def _labelled(self, item: hcl.Block, blk: Blk, path: str, out: JSONObject, seen: dict[str, hcl.Pos]) -> None:
        name, label = item.type, item.labels[0]
        bpath = f"{path}.{name}[{label}]"
        if not label:
            self.error(item.label_pos[0], bpath, f"the {blk.label_name} must not be empty")
            return
        key = f"{name}\x00{label}"
        if key in seen:
            self.error(
                item.label_pos[0], bpath,
                f'duplicate {name} "{label}"; the first is at line {seen[key].line}',
            )
            return
        seen[key] = item.pos
        self.positions[bpath] = item.pos
        decoded = self.decode_body(item.body, SPECS[blk.spec], bpath)
        decoded[blk.label_key] = label
        if blk.mode is Mode.MAP:
            out.setdefault(blk.key, {})[label] = decoded
        else:
            out.setdefault(blk.key, []).append(decoded)

    def _map_block(self, item: hcl.Block, attr: Attr, path: str, out: JSONObject) -> None:
        """``meta { a = "b" }``: a block whose attributes are the entries of a map."""
        if item.labels:
            self.error(item.label_pos[0], path, f"a {item.type} block takes no labels")
            return
        self.positions[path] = item.pos
        values: dict[str, Any] = dict(out.get(attr.key) or {})
        for inner in item.body.items:
            if isinstance(inner, hcl.Block):
                self.error(inner.pos, f"{path}.{inner.type}", f"a {item.type} block holds only attributes (key = value)")
                continue
            ipath = f"{path}.{inner.name}"
            self.positions[ipath] = inner.pos
            try:
                values[inner.name] = hcl.evaluate(inner.expr, self.ctx)
            except hcl.HCLError as e:
                self.hcl_errors(e, ipath)
        self._store(attr, values, item.pos, path, out)

    def decode_opaque(self, body: hcl.Body, path: str) -> JSONObject:
        """A free-form body such as a driver's ``config``: attributes as written (keys unchanged),
        nested blocks as lists of objects (labels become nested keys), as Nomad's jobspec2 does."""
        out: JSONObject = {}
        for item in body.items:
            if isinstance(item, hcl.Attribute):
                ipath = f"{path}.{item.name}"
                self.positions[ipath] = item.pos
                try:
                    out[item.name] = hcl.evaluate(item.expr, self.ctx)
                except hcl.HCLError as e:
                    self.hcl_errors(e, ipath)
                continue
            ipath = f"{path}.{item.type}"
            self.positions.setdefault(ipath, item.pos)
            value: Any = self.decode_opaque(item.body, ipath)
            for label in reversed(item.labels):
                value = {label: value}
            existing = out.setdefault(item.type, [])
            if not isinstance(existing, list):
                self.error(item.pos, ipath, f"{item.type} is set both as an attribute and as a block")
                continue
            existing.append(value)
        return out

    # -- messages ---------------------------------------------------------------------------------

    def _unknown(self, pos: hcl.Pos, path: str, name: str, spec: Spec, *, is_block: bool) -> None:
        what = "block" if is_block else "attribute"
        if name in spec.unsupported:
            self.error(pos, path, f"{name}: {spec.unsupported[name]}")
            return
        if is_block and name in spec.attrs:
            self.error(pos, path, f'{name} is an attribute, not a block: write {name} = ...')
            return
        if not is_block and name in spec.blocks:
            self.error(pos, path, f"{name} is a block, not an attribute: write {name} {{ ... }}")
            return
        known = sorted(set(spec.attrs) | set(spec.blocks))
        close = difflib.get_close_matches(name, known, n=1)
        hint = f'; did you mean "{close[0]}"?' if close else f"; expected one of: {', '.join(known)}"
        self.error(pos, path, f'unknown {what} "{name}" in {spec.name}{hint}')

    def _label_error(self, item: hcl.Block, blk: Blk, path: str, want: int) -> None:
        pos = item.label_pos[want] if len(item.label_pos) > want else item.pos
        if want == 0:
            self.error(pos, path, f"a {item.type} block takes no labels, found {describe(item.labels[0])}")
        else:
            self.error(pos, path, f'a {item.type} block needs one label, the {blk.label_name}: {item.type} "NAME" {{ ... }}')


# -- finishers: stanzas whose shape needs more than a mapping ------------------------------------


def _finish_constraint(dec: Decoder, out: JSONObject, path: str, body: hcl.Body) -> None:
    """Operator shorthands: ``distinct_hosts = true``, ``version = ">= 1.2"``, ``distinct_property = "${meta.rack}"``."""
    used = [k for k in _OPERATOR_SHORTHANDS if k in out]
    if not used:
        return
    if len(used) > 1 or "Operand" in out:
        others = used[1:] or ["operator"]
        pos = body.attributes[others[0]].pos if others[0] in body.attributes else body.pos
        dec.error(pos, f"{path}.{others[0]}", f"only one operator may be given; found {used[0]} and {others[0]}")
        return
    op = used[0]
    value = out.pop(op)
    out["Operand"] = op
    if op == "distinct_hosts":
        if value is False:  # `distinct_hosts = false` asks for nothing, as in Nomad
            del out["Operand"]
    elif op == "distinct_property":
        out["LTarget"] = value
    else:
        out["RTarget"] = value


def _finish_network(dec: Decoder, out: JSONObject, path: str, body: hcl.Body) -> None:
    """Ports with a ``static`` value are reserved; the others are dynamic (Nomad's ReservedPorts/DynamicPorts)."""
    ports = out.pop("Ports", [])
    for port in ports:
        port.setdefault("Value", 0)
        port.setdefault("To", 0)
        port.setdefault("HostNetwork", "default")
        target = "ReservedPorts" if port["Value"] else "DynamicPorts"
        out.setdefault(target, []).append(port)


def _finish_periodic(dec: Decoder, out: JSONObject, path: str, body: hcl.Body) -> None:
    if "Spec" in out and "Specs" in out:
        pos = body.attributes["crons"].pos if "crons" in body.attributes else body.pos
        dec.error(pos, f"{path}.crons", "give either cron or crons, not both")


def _finish_logs(dec: Decoder, out: JSONObject, path: str, body: hcl.Body) -> None:
    if "Enabled" in out:
        enabled = out.pop("Enabled")
        out.setdefault("Disabled", not enabled)


def _copy_vault(out: JSONObject, tasks: list[JSONObject]) -> None:
    """A job- or group-level ``vault`` block applies to each task below it that has none of its own
    (Nomad's jobspec2 does the same); Nomad's API has the field on tasks only."""
    vault = out.pop("Vault", None)
    if vault is None:
        return
    for task in tasks:
        task.setdefault("Vault", dict(vault))


def _finish_group(dec: Decoder, out: JSONObject, path: str, body: hcl.Body) -> None:
    _copy_vault(out, out.get("Tasks", []))


def _finish_job(dec: Decoder, out: JSONObject, path: str, body: hcl.Body) -> None:
    _copy_vault(out, [t for g in out.get("TaskGroups", []) for t in g.get("Tasks", [])])


def _finish_task(dec: Decoder, out: JSONObject, path: str, body: hcl.Body) -> None:
    """Identities: the one without a name (or named "default") is the task's default identity."""
    identities = out.pop("_Identities", [])
    blocks = [b for b in body.blocks if b.type == "identity"]
    named = []
    for index, (ident, block) in enumerate(zip(identities, blocks, strict=True)):
        if ident.get("Name", "default") != "default":
            named.append(ident)
        elif "Identity" in out:
            dec.error(block.pos, f"{path}.identity[{index}]", 'only one identity block may omit name (the "default" identity)')
        else:
            ident["Name"] = "default"
            out["Identity"] = ident
    if named:
        out["Identities"] = named


FINISHERS: dict[str, Callable[[Decoder, JSONObject, str, hcl.Body], None]] = {
    "constraint": _finish_constraint,
    "affinity": _finish_constraint,
    "network": _finish_network,
    "periodic": _finish_periodic,
    "logs": _finish_logs,
    "task": _finish_task,
    "group": _finish_group,
    "job": _finish_job,
}
