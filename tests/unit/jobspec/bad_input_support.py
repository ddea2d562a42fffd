"""Builders for the bad-input tests: a valid job with a snippet inserted, and where a snippet is."""

from __future__ import annotations

from typing import Any

import pytest

from cluster import jobspec
from cluster.errors import Diagnostic, JobSpecError

FILENAME = "bad.nomad.hcl"
TASK = "job.group[cache].task[redis]"  # the field path of the task in job_text()


def job_text(*, top: str = "", job: str = "", group: str = "", task: str = "", config: str = "") -> str:
    """A valid docker job "web" (group "cache", task "redis"), with snippets added at each level."""
    return (
        f"{top}\n"
        'job "web" {\n'
        '  datacenters = ["dc1"]\n'
        f"{job}\n"
        '  group "cache" {\n'
        f"{group}\n"
        '    task "redis" {\n'
        '      driver = "docker"\n'
        "      config {\n"
        '        image = "redis:7"\n'
        f"{config}\n"
        "      }\n"
        f"{task}\n"
        "    }\n"
        "  }\n"
        "}\n"
    )


def errors_of(source: str, **kwargs: Any) -> list[Diagnostic]:
    """The diagnostics of a job file that must be refused; fails if a job comes out instead."""
    with pytest.raises(JobSpecError) as info:
        jobspec.parse_hcl(source, filename=FILENAME, **kwargs)
    diags = info.value.diagnostics
    assert diags, "a refused job file must say why"
    return diags


def the_error(source: str, **kwargs: Any) -> Diagnostic:
    """The one and only diagnostic of a job file with exactly one mistake."""
    diags = errors_of(source, **kwargs)
    assert len(diags) == 1, "expected exactly one error, got:\n" + "\n".join(map(str, diags))
    return diags[0]


def position(source: str, needle: str, nth: int = 1) -> tuple[int, int]:
    """1-based (line, column) of the nth occurrence of ``needle`` in ``source``."""
    offset = -1
    for _ in range(nth):
        offset = source.index(needle, offset + 1)
    line = source.count("\n", 0, offset) + 1
    column = offset - (source.rfind("\n", 0, offset) + 1) + 1
    return line, column


def assert_at(diag: Diagnostic, source: str, needle: str, *, path: str, fragment: str, nth: int = 1) -> None:
    """The diagnostic points at ``needle`` (line and column), names ``path`` and says ``fragment``."""
    line, column = position(source, needle, nth)
    assert diag.filename == FILENAME, str(diag)
    assert (diag.line, diag.column) == (line, column), str(diag)
    assert diag.path == path, str(diag)
    assert fragment in diag.message, str(diag)
