"""One agent configuration file (HCL) to assignments, with every problem as a positioned ``Diagnostic``.

The decoder keeps going after a problem so that one run reports them all. Field paths in messages are
written as in the file: ``server.server_join.retry_join``, ``plugin[docker].config.gc.image``.
"""

from __future__ import annotations

import difflib

from agents.config.layers import Assignment, Origin
from agents.config.schema import IGNORED, PLUGINS, ROOT, Attr, Section
from cluster.errors import Diagnostic
from cluster.jobspec import hcl
from cluster.jobspec.values import KindError

__all__ = ["DecodedFile", "decode_file"]


class DecodedFile:
    """The result of ``decode_file``: assignments in file order, errors, warnings, and the struct paths
    whose values were rejected (later checks skip those, so one mistake gives one message). Checks of the
    whole configuration are skipped when a file is ``unreadable``: they would only guess."""

    def __init__(self) -> None:
        self.assignments: list[Assignment] = []
        self.errors: list[Diagnostic] = []
        self.warnings: list[Diagnostic] = []
        self.rejected: set[str] = set()
        self.unreadable = False  # a syntax error (or no file): nothing in it was read


def decode_file(source: str, filename: str) -> DecodedFile:
    """Parses and decodes ``source``; syntax errors are returned like any other problem."""
    out = DecodedFile()
    try:
        body = hcl.parse(source, filename)
    except hcl.HCLError as e:
        out.errors.extend(e.diagnostics)
        out.unreadable = True
        return out
    _Decoder(out).body(body, ROOT, "", "")
    return out


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix and name else prefix or name


class _Decoder:
    def __init__(self, out: DecodedFile) -> None:
        self.out = out
        self.ctx = hcl.EvalContext()

    def error(self, pos: hcl.Pos, path: str, message: str) -> None:
        self.out.errors.append(Origin(pos.filename, pos.line, pos.column, path).diagnostic(message))

    def body(self, body: hcl.Body, section: Section, key: str, path: str) -> None:
        seen: dict[str, hcl.Pos] = {}
        for item in body.items:
            if isinstance(item, hcl.Attribute):
                self.attribute(item, section, key, path)
            elif section is ROOT and item.type == "plugin":
                self.plugin(item, seen)
            else:
                self.block(item, section, key, path, seen)

    def attribute(self, item: hcl.Attribute, section: Section, key: str, path: str) -> None:
        apath = _join(path, item.name)
        attr = section.attrs.get(item.name)
        if attr is None:
            self.unknown(item.pos, apath, item.name, section, is_block=False)
            return
        try:
            value = hcl.evaluate(item.expr, self.ctx)
        except hcl.HCLError as e:
            for d in e.diagnostics:
                self.out.errors.append(Diagnostic(d.message, apath, d.filename, d.line, d.column))
            self.out.rejected.add(_join(key, attr.key))
            return
        self.store(attr, value, item.expr.pos, key, apath)

    def store(self, attr: Attr, value: hcl.Value, pos: hcl.Pos, key: str, path: str) -> None:
        field = _join(key, attr.key)
        try:
            converted = attr.convert(value)
        except KindError as e:
            self.error(pos, path, str(e))
            self.out.rejected.add(field)
            return
        if converted is not None:  # null means "not set"
            origin = Origin(pos.filename, pos.line, pos.column, path)
            self.out.assignments.append(Assignment(field, converted, origin, attr.merge))

    def block(self, item: hcl.Block, section: Section, key: str, path: str, seen: dict[str, hcl.Pos]) -> None:
        bpath = _join(path, item.type)
        attr = section.attrs.get(item.type)
        if attr is not None and attr.also_block:
            self.map_block(item, attr, key, bpath)
            return
        inner = section.blocks.get(item.type)
        if inner is None:
            self.unknown(item.pos, bpath, item.type, section, is_block=True)
            return
        if item.labels:
            self.error(item.label_pos[0], bpath, f"a {item.type} block takes no labels")
            return
        if item.type in seen:
            self.error(
                item.pos,
                bpath,
                f"only one {item.type} block is allowed here; the first is at line {seen[item.type].line}",
            )
            return
        seen[item.type] = item.pos
        self.body(item.body, inner, _join(key, inner.key), bpath)

    def map_block(self, item: hcl.Block, attr: Attr, key: str, path: str) -> None:
        """``meta { rack = "r1" }``: a block whose attributes are the entries of a map."""
        if item.labels:
            self.error(item.label_pos[0], path, f"a {item.type} block takes no labels")
            return
        entries: dict[str, hcl.Value] = {}
        for inner in item.body.items:
            if isinstance(inner, hcl.Block):
                self.error(
                    inner.pos,
                    f"{path}.{inner.type}",
                    f"a {item.type} block holds only attributes (key = value)",
                )
                continue
            try:
                entries[inner.name] = hcl.evaluate(inner.expr, self.ctx)
            except hcl.HCLError as e:
                self.out.errors.extend(
                    Diagnostic(d.message, f"{path}.{inner.name}", d.filename, d.line, d.column)
                    for d in e.diagnostics
                )
                self.out.rejected.add(_join(key, attr.key))
        self.store(attr, entries, item.pos, key, path)

    def plugin(self, item: hcl.Block, seen: dict[str, hcl.Pos]) -> None:
        """``plugin "docker" { config { ... } }``: one block per driver Caravan has."""
        if len(item.labels) != 1:
            self.error(
                item.pos, "plugin", 'a plugin block needs one label, the driver: plugin "docker" { ... }'
            )
            return
        name = item.labels[0]
        path = f"plugin[{name}]"
        spec = PLUGINS.get(name)
        if spec is None:
            known = sorted(PLUGINS)
            close = difflib.get_close_matches(name, known, n=1)
            hint = (
                f'; did you mean "{close[0]}"?' if close else f"; Caravan's drivers are: {', '.join(known)}"
            )
            self.error(item.label_pos[0], path, f'unknown plugin "{name}"{hint}')
            return
        if f"plugin {name}" in seen:
            self.error(
                item.pos,
                path,
                f'only one plugin "{name}" block is allowed; the first is at line '
                f"{seen[f'plugin {name}'].line}",
            )
            return
        seen[f"plugin {name}"] = item.pos
        self.body(item.body, _plugin_body(spec), "plugins", path)

    def unknown(self, pos: hcl.Pos, path: str, name: str, section: Section, *, is_block: bool) -> None:
        if section is ROOT and name in IGNORED:
            why = IGNORED[name]
            self.out.warnings.append(
                Origin(pos.filename, pos.line, pos.column, path).diagnostic(f"ignored: {why}")
            )
            return
        if is_block and name in section.attrs:
            self.error(pos, path, f"{name} is an attribute, not a block: write {name} = ...")
            return
        if not is_block and name in section.blocks:
            self.error(pos, path, f"{name} is a block, not an attribute: write {name} {{ ... }}")
            return
        known = sorted(set(section.attrs) | set(section.blocks) | ({"plugin"} if section is ROOT else set()))
        close = difflib.get_close_matches(name, known, n=1)
        hint = f'; did you mean "{close[0]}"?' if close else f"; expected one of: {', '.join(known)}"
        what = "block" if is_block else "attribute"
        self.error(pos, path, f'unknown {what} "{name}" in {section.name}{hint}')


def _plugin_body(spec: Section) -> Section:
    """The body of ``plugin "NAME" { ... }``: only a ``config`` block, holding the driver's settings."""
    return Section(f'the plugin "{spec.key}" block', "", {}, {"config": spec})
