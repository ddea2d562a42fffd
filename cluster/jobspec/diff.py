"""Field-level diff between two versions of a job, in the shape of Nomad's ``JobDiff`` (what
``nomad job plan`` and ``GET /v1/job/:id/versions?diffs=true`` show).

The diff is generic over the msgspec structs: primitive fields become ``FieldDiff``s, maps of
primitives become fields named ``Name[key]``, lists of primitives and nested structs become
``ObjectDiff``s, lists of structs are compared as sets (an edited constraint shows as one deleted
and one added), task groups and tasks are matched by name. Bookkeeping fields (indexes, status,
version) are left out, as Nomad leaves them out.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = [
    "ADDED",
    "DELETED",
    "EDITED",
    "NONE",
    "FieldDiff",
    "JobDiff",
    "ObjectDiff",
    "TaskDiff",
    "TaskGroupDiff",
    "diff_jobs",
    "format_diff",
]

ADDED, DELETED, EDITED, NONE = "Added", "Deleted", "Edited", "None"

# Fields that change without the job changing (Nomad's diff ignores them too).
_IGNORED = frozenset(
    {
        "ID", "Status", "StatusDescription", "Version", "Stable", "CreateIndex", "ModifyIndex",
        "JobModifyIndex", "SubmitTime", "Stop", "Dispatched", "DispatchIdempotencyKey",
        "TaskGroups", "Tasks", "Name", "NomadTokenID", "VersionTag",
    }
)


class FieldDiff(msgspec.Struct, kw_only=True):
    Type: str
    Name: str
    Old: str
    New: str
    Annotations: list[str] | None = None


class ObjectDiff(msgspec.Struct, kw_only=True):
    Type: str
    Name: str
    Fields: list[FieldDiff] | None = None
    Objects: list[ObjectDiff] | None = None


class TaskDiff(msgspec.Struct, kw_only=True):
    Type: str
    Name: str
    Fields: list[FieldDiff] | None = None
    Objects: list[ObjectDiff] | None = None
    Annotations: list[str] | None = None


class TaskGroupDiff(msgspec.Struct, kw_only=True):
    Type: str
    Name: str
    Fields: list[FieldDiff] | None = None
    Objects: list[ObjectDiff] | None = None
    Tasks: list[TaskDiff] | None = None
    Updates: dict[str, int] | None = None


class JobDiff(msgspec.Struct, kw_only=True):
    Type: str
    ID: str
    Fields: list[FieldDiff] | None = None
    Objects: list[ObjectDiff] | None = None
    TaskGroups: list[TaskGroupDiff] | None = None


# -- flattening ----------------------------------------------------------------------------------

def _is_primitive(v: Any) -> bool:
    return v is None or isinstance(v, str | int | float | bool)


def _show(v: Any) -> str:
    """Values as Nomad's diff shows them: strings bare, bools lower-case, null as empty."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _as_mapping(obj: Any) -> dict[str, Any]:
    if isinstance(obj, msgspec.Struct):
        return {f: getattr(obj, f) for f in obj.__struct_fields__}
    if isinstance(obj, dict):
        return obj
    return {}


def _flatten_opaque(prefix: str, value: Any, out: dict[str, str]) -> None:
    """Flattens a free-form value (a driver config) into ``key[0][sub]``-style names."""
    if isinstance(value, dict):
        for k in value:
            _flatten_opaque(f"{prefix}[{k}]" if prefix else str(k), value[k], out)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _flatten_opaque(f"{prefix}[{i}]", item, out)
    else:
        out[prefix] = _show(value)


def _field_diffs(old: dict[str, str], new: dict[str, str], contextual: bool) -> list[FieldDiff]:
    diffs = []
    for name in sorted(set(old) | set(new)):
        o, n = old.get(name), new.get(name)
        if o == n:
            if contextual and o is not None:
                diffs.append(FieldDiff(Type=NONE, Name=name, Old=o, New=o))
            continue
        kind = ADDED if o is None else DELETED if n is None else EDITED
        diffs.append(FieldDiff(Type=kind, Name=name, Old=o or "", New=n or ""))
    return diffs


def _diff_kind(old: Any, new: Any) -> str:
    if old is None:
        return ADDED
    if new is None:
        return DELETED
    return EDITED


def _key(value: Any) -> bytes:
    return msgspec.json.encode(value, order="sorted")


def _singular(name: str) -> str:
    irregular = {"Affinities": "Affinity", "Policies": "Policy", "Spreads": "Spread"}
    if name in irregular:
        return irregular[name]
    return name[:-1] if name.endswith("s") and not name.endswith("ss") else name


def _object_diff(name: str, old: Any, new: Any, contextual: bool) -> ObjectDiff | None:
    """Diff of one nested object (either side may be None)."""
    fields, objects = _diff_members(_as_mapping(old), _as_mapping(new), contextual, opaque=isinstance(old or new, dict))
    if not fields and not objects and _key(old) == _key(new):
        return None
    kind = _diff_kind(old, new)
    if kind == EDITED and not any(f.Type != NONE for f in fields) and not objects:
        return None
    return ObjectDiff(Type=kind, Name=name, Fields=fields or None, Objects=objects or None)


def _list_diff(name: str, old: list[Any], new: list[Any], contextual: bool) -> list[ObjectDiff]:
    """Lists: primitives as one object of added/deleted values; structs as a set of objects."""
    if all(_is_primitive(v) for v in old + new):
        shown_old, shown_new = {_show(v) for v in old}, {_show(v) for v in new}
        if shown_old == shown_new:
            return []
        fields = [FieldDiff(Type=DELETED, Name=name, Old=v, New="") for v in sorted(shown_old - shown_new)]
        fields += [FieldDiff(Type=ADDED, Name=name, Old="", New=v) for v in sorted(shown_new - shown_old)]
        if contextual:
            fields += [FieldDiff(Type=NONE, Name=name, Old=v, New=v) for v in sorted(shown_old & shown_new)]
        kind = ADDED if not old else DELETED if not new else EDITED
        return [ObjectDiff(Type=kind, Name=name, Fields=fields)]
    before = {_key(v): v for v in old}
    after = {_key(v): v for v in new}
    out = []
    for k in before:
        if k not in after:
            d = _object_diff(_singular(name), before[k], None, contextual)
            if d:
                out.append(d)
    for k in after:
        if k not in before:
            d = _object_diff(_singular(name), None, after[k], contextual)
            if d:
                out.append(d)
    return out


def _diff_members(
    old: dict[str, Any], new: dict[str, Any], contextual: bool, *, opaque: bool = False
) -> tuple[list[FieldDiff], list[ObjectDiff]]:
    prim_old: dict[str, str] = {}
    prim_new: dict[str, str] = {}
    objects: list[ObjectDiff] = []
    for name in sorted(set(old) | set(new)):
        if name in _IGNORED and not opaque:
            continue
        o, n = old.get(name), new.get(name)
        if name == "Config" and not opaque:  # a driver config: free-form, flattened
            d = _opaque_object("Config", o, n, contextual)
            if d:
                objects.append(d)
            continue
        sample = o if o is not None else n
        if _is_primitive(sample) and _is_primitive(o) and _is_primitive(n):
            if o is not None:
                prim_old[name] = _show(o)
            if n is not None:
                prim_new[name] = _show(n)
        elif isinstance(sample, dict) and all(_is_primitive(v) for v in (o or {}).values()) and all(
            _is_primitive(v) for v in (n or {}).values()
        ):
            for k, v in (o or {}).items():
                prim_old[f"{name}[{k}]"] = _show(v)
            for k, v in (n or {}).items():
                prim_new[f"{name}[{k}]"] = _show(v)
        elif isinstance(sample, list):
            objects.extend(_list_diff(name, list(o or []), list(n or []), contextual))
        elif isinstance(sample, dict):
            for k in sorted(set(o or {}) | set(n or {})):
                d = _object_diff(f"{_singular(name)}[{k}]", (o or {}).get(k), (n or {}).get(k), contextual)
                if d:
                    objects.append(d)
        else:
            d = _object_diff(name, o, n, contextual)
            if d:
                objects.append(d)
    return _field_diffs(prim_old, prim_new, contextual), objects


def _opaque_object(name: str, old: Any, new: Any, contextual: bool) -> ObjectDiff | None:
    fo: dict[str, str] = {}
    fn: dict[str, str] = {}
    if old:
        _flatten_opaque("", old, fo)
    if new:
        _flatten_opaque("", new, fn)
    fields = _field_diffs(fo, fn, contextual)
    if not any(f.Type != NONE for f in fields):
        return None
    kind = ADDED if not old else DELETED if not new else EDITED
    return ObjectDiff(Type=kind, Name=name, Fields=fields)


# -- jobs, groups, tasks -------------------------------------------------------------------------

def _named(items: list[Any] | None) -> dict[str, Any]:
    return {item.Name: item for item in items or []}


def _task_diff(old: Any, new: Any, contextual: bool) -> TaskDiff | None:
    fields, objects = _diff_members(_as_mapping(old), _as_mapping(new), contextual)
    name = (old or new).Name
    changed = any(f.Type != NONE for f in fields) or bool(objects)
    kind = _diff_kind(old, new) if changed or old is None or new is None else NONE
    if kind == NONE and not contextual:
        return TaskDiff(Type=NONE, Name=name)
    return TaskDiff(Type=kind, Name=name, Fields=fields or None, Objects=objects or None)


def _group_diff(old: Any, new: Any, contextual: bool) -> TaskGroupDiff:
    fields, objects = _diff_members(_as_mapping(old), _as_mapping(new), contextual)
    tasks_old, tasks_new = _named(getattr(old, "Tasks", None)), _named(getattr(new, "Tasks", None))
    tasks = []
    for tname in sorted(set(tasks_old) | set(tasks_new)):
        td = _task_diff(tasks_old.get(tname), tasks_new.get(tname), contextual)
        if td is not None:
            tasks.append(td)
    changed = any(f.Type != NONE for f in fields) or objects or any(t.Type != NONE for t in tasks)
    kind = _diff_kind(old, new) if changed or old is None or new is None else NONE
    return TaskGroupDiff(
        Type=kind, Name=(old or new).Name, Fields=fields or None, Objects=objects or None, Tasks=tasks or None
    )


def diff_jobs(old: Any | None, new: Any | None, *, contextual: bool = False) -> JobDiff:
    """The diff from ``old`` to ``new`` (either may be None: a new or a deleted job).

    With ``contextual`` unchanged fields are included too (Type "None"), as ``nomad job plan -verbose``.
    """
    if old is None and new is None:
        raise ValueError("diff_jobs needs at least one job")
    if old is not None and new is not None and old.ID != new.ID:
        raise ValueError(f"cannot diff jobs with different IDs: {old.ID!r} and {new.ID!r}")
    fields, objects = _diff_members(_as_mapping(old), _as_mapping(new), contextual)
    groups_old, groups_new = _named(getattr(old, "TaskGroups", None)), _named(getattr(new, "TaskGroups", None))
    groups = [
        _group_diff(groups_old.get(name), groups_new.get(name), contextual)
        for name in sorted(set(groups_old) | set(groups_new))
    ]
    changed = any(f.Type != NONE for f in fields) or objects or any(g.Type != NONE for g in groups)
    kind = _diff_kind(old, new) if changed or old is None or new is None else NONE
    either: Any = old if old is not None else new
    return JobDiff(
        Type=kind, ID=either.ID, Fields=fields or None, Objects=objects or None, TaskGroups=groups or None
    )


# -- text, as `nomad job plan` prints it ---------------------------------------------------------

_MARK = {ADDED: "+", DELETED: "-", EDITED: "+/-", NONE: ""}


def _fmt_field(f: FieldDiff, indent: str) -> str:
    mark = _MARK[f.Type]
    if f.Type == ADDED:
        value = f'"{f.New}"'
    elif f.Type == DELETED:
        value = f'"{f.Old}"'
    elif f.Type == EDITED:
        value = f'"{f.Old}" => "{f.New}"'
    else:
        value = f'"{f.New}"'
    note = f" ({', '.join(f.Annotations)})" if f.Annotations else ""
    return f"{indent}{mark + ' ' if mark else '  '}{f.Name}: {value}{note}"


def _fmt_object(o: ObjectDiff, indent: str, lines: list[str]) -> None:
    mark = _MARK[o.Type]
    lines.append(f"{indent}{mark + ' ' if mark else '  '}{o.Name} {{")
    for f in o.Fields or []:
        lines.append(_fmt_field(f, indent + "  "))
    for sub in o.Objects or []:
        _fmt_object(sub, indent + "  ", lines)
    lines.append(f"{indent}  }}")


def format_diff(diff: JobDiff, *, verbose: bool = False) -> str:
    """Renders a diff as ``nomad job plan`` does (``+`` added, ``-`` deleted, ``+/-`` edited). As Nomad's,
    only an edited job, group or task lists its fields and objects; an added or deleted one shows just its
    header line, unless ``verbose``."""
    lines = [f'{_MARK[diff.Type] or " "} Job: "{diff.ID}"'.lstrip() if diff.Type != NONE else f'Job: "{diff.ID}"']
    if diff.Type == EDITED or verbose:
        for f in diff.Fields or []:
            lines.append(_fmt_field(f, ""))
        for o in diff.Objects or []:
            _fmt_object(o, "", lines)
    for g in diff.TaskGroups or []:
        if g.Type == NONE and not verbose:
            lines.append(f'Task Group: "{g.Name}"')
            continue
        mark = _MARK[g.Type]
        counts = f" ({', '.join(f'{n} {kind}' for kind, n in sorted((g.Updates or {}).items()))})" if g.Updates else ""
        lines.append(f'{mark + " " if mark else ""}Task Group: "{g.Name}"{counts}')
        if g.Type == EDITED or verbose:
            for f in g.Fields or []:
                lines.append(_fmt_field(f, "  "))
            for o in g.Objects or []:
                _fmt_object(o, "  ", lines)
        for t in g.Tasks or []:
            if t.Type == NONE and not verbose:
                lines.append(f'  Task: "{t.Name}"')
                continue
            note = f" ({', '.join(t.Annotations)})" if t.Annotations else ""
            tmark = _MARK[t.Type]
            lines.append(f'  {tmark + " " if tmark else ""}Task: "{t.Name}"{note}')
            if t.Type == EDITED or verbose:
                for f in t.Fields or []:
                    lines.append(_fmt_field(f, "    "))
                for o in t.Objects or []:
                    _fmt_object(o, "    ", lines)
    return "\n".join(lines)
