"""Settings from several sources, applied in order: defaults, then each file, then the flags.

Each source yields ``Assignment``s (a dotted field path of ``AgentConfig``, a value, where it came from,
and how it merges with an earlier value). ``resolve`` applies them in order, as Nomad merges its
configuration: a later value replaces an earlier one, a later list is added to an earlier one, and a
later map adds or replaces entries. The ``Origin`` of the last assignment to each field is kept, so a
problem found later names the file and line, or the flag, that set the value at fault.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from agents.config.schema import Merge
from cluster.errors import Diagnostic

__all__ = ["COMMAND_LINE", "Assignment", "Origin", "Resolved", "resolve"]

COMMAND_LINE = "command line"


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a value was set: ``filename``/``line``/``column`` of a file, or the flag (``filename`` is
    ``COMMAND_LINE``); ``field`` is the name as the user wrote it (``server.bootstrap_expect``,
    ``-bootstrap-expect``). Defaults have an empty filename."""

    filename: str = ""
    line: int = 0
    column: int = 0
    field: str = ""

    def diagnostic(self, message: str) -> Diagnostic:
        return Diagnostic(
            message=message, path=self.field, filename=self.filename, line=self.line, column=self.column
        )


@dataclass(frozen=True, slots=True)
class Assignment:
    path: str
    value: Any
    origin: Origin
    merge: Merge = Merge.REPLACE


@dataclass(frozen=True, slots=True)
class Resolved:
    """The merged values (nested dicts keyed by ``AgentConfig`` field names) and each field's origin."""

    values: dict[str, Any]
    origins: dict[str, Origin]


def resolve(assignments: Iterable[Assignment]) -> Resolved:
    values: dict[str, Any] = {}
    origins: dict[str, Origin] = {}
    for a in assignments:
        *parents, leaf = a.path.split(".")
        target = values
        for name in parents:
            target = target.setdefault(name, {})
        old = target.get(leaf)
        target[leaf] = _merged(old, a.value, a.merge)
        origins[a.path] = a.origin
        if a.merge is Merge.APPEND:  # each element keeps the origin of the source that added it
            for index in range(len(old or ()), len(target[leaf])):
                origins[f"{a.path}[{index}]"] = a.origin
    return Resolved(values, origins)


def _merged(old: Any, new: Any, merge: Merge) -> Any:
    if old is None or merge is Merge.REPLACE:
        return new
    if merge is Merge.APPEND:
        return tuple(dict.fromkeys([*old, *new]))
    assert merge is Merge.UPDATE and isinstance(old, dict) and isinstance(new, dict)
    return {**old, **new}
