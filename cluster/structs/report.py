"""What the validators share: the diagnostics collector and the wording helpers.

A validator of one block returns ``Problem``s, pairs of (field, message) relative to the block
(``""`` for the block itself); the caller, which knows where the block sits in the job file,
turns them into diagnostics with ``Report.block``. That split lets a problem that a group merely
inherited from a job-level block be reported once, at the job-level block where it was written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeVar

from cluster.errors import Diagnostic
from cluster.structs.durations import format_duration

__all__ = ["Origin", "Problem", "Report", "dur", "need", "one_of", "quote"]

Problem = tuple[str, str]
T = TypeVar("T")


class Report:
    """Collects diagnostics in walk order, each (path, message) once."""

    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []
        self._seen: set[tuple[str, str]] = set()

    def error(self, path: str, message: str) -> None:
        if (path, message) not in self._seen:
            self._seen.add((path, message))
            self.diagnostics.append(Diagnostic(message=message, path=path))

    def block(self, path: str, problems: Iterable[Problem], *, origin: Origin | None = None) -> None:
        """Reports ``problems`` of the block at ``path``; a problem that ``origin`` (the block this
        one inherits from) has too is reported at the origin instead, where it was written."""
        inherited = set(origin.problems) if origin is not None else set()
        for field, message in problems:
            base = origin.path if origin is not None and (field, message) in inherited else path
            self.error(f"{base}.{field}" if field else base, message)


class Origin:
    """A block others inherit from: where it is, and the problems it has on its own."""

    def __init__(self, path: str, problems: list[Problem]) -> None:
        self.path = path
        self.problems = problems


def need(value: T | None) -> T:
    """A field that canonicalization has filled."""
    assert value is not None, "validation runs on a canonical job"
    return value


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dur(ns: int) -> str:
    return format_duration(ns)


def one_of(allowed: Sequence[str], got: str) -> str:
    """``must be one of "a", "b"; got "c"``."""
    return f"must be one of {', '.join(quote(a) for a in allowed)}; got {quote(got)}"
