"""Caravan's exception tree. Operating errors are typed here and mapped once at each edge
(HTTP status and body, WebSocket close code, CLI exit code and message)::

    CaravanError                      base of every error Caravan raises on purpose
    ├── InvalidInput                  the caller's input is wrong; nothing was changed
    │   ├── JobSpecError              a job file or job JSON is wrong: carries every Diagnostic
    │   ├── HCLError                  (cluster.jobspec.hcl) HCL syntax or evaluation errors, positioned
    │   └── PolicyError               (cluster.acl) ACL policy rules are wrong: every Diagnostic
    ├── NotFound                      the named object does not exist
    ├── Conflict                      the write lost a race (index mismatch, bootstrap done twice)
    ├── PermissionDenied              the token may not do this (HTTP 403)
    ├── DriverError                   (agents.client.drivers.base) a task driver failed
    │   ├── DriverDisabled            the client did not enable this driver (raw_exec is off by default)
    │   ├── InvalidTaskConfig         the task's driver config is wrong (also an InvalidInput)
    │   ├── TaskNotFound              the task or container is gone
    │   ├── TaskStartError            the task could not be started
    │   └── ImagePullError            the image could not be pulled
    ├── WALError                      (agents.server.snapshots) the write-ahead log cannot be used
    │   ├── WALCorruption             a record or snapshot is damaged: names the file and offset
    │   └── WALInUse                  another process holds the log's lock
    └── Unavailable                   no leader, region unreachable, shutting down; try again

Invariants are ``assert``s, not exceptions: a broken invariant is a bug, never an input problem.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CaravanError",
    "Conflict",
    "Diagnostic",
    "InvalidInput",
    "JobSpecError",
    "NotFound",
    "PermissionDenied",
    "Unavailable",
]


class CaravanError(Exception):
    """Base of every error Caravan raises on purpose."""


class InvalidInput(CaravanError):
    """The caller's input is wrong; nothing was changed."""


class NotFound(CaravanError):
    """The named object does not exist."""


class Conflict(CaravanError):
    """The write lost a race or repeats a once-only action."""


class PermissionDenied(CaravanError):
    """The token may not do this."""


class Unavailable(CaravanError):
    """The cluster cannot answer now (no leader, region unreachable); the caller may retry."""


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem in a job file: where (file, line, column, field path) and what.

    ``line`` and ``column`` are 1-based; 0 means unknown (JSON input has no positions for
    values it lacks). ``path`` is the field path in job-file terms, e.g.
    ``job.group[cache].task[redis].resources.memory``.
    """

    message: str
    path: str = ""
    filename: str = ""
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        where = []
        if self.filename:
            where.append(self.filename)
        if self.line:
            where.append(f"line {self.line}" + (f", column {self.column}" if self.column else ""))
        head = ": ".join(where)
        body = f"{self.path}: {self.message}" if self.path else self.message
        return f"{head}: {body}" if head else body


class JobSpecError(InvalidInput):
    """A job file or job JSON is wrong. ``diagnostics`` lists every problem found, in file order."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        assert diagnostics, "a JobSpecError needs at least one diagnostic"
        self.diagnostics = sorted(diagnostics, key=lambda d: (d.filename, d.line, d.column, d.path))
        super().__init__("\n".join(str(d) for d in self.diagnostics))
