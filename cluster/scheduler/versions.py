"""Version constraint matching for the ``version`` and ``semver`` operators.

``version`` follows hashicorp/go-version, which Nomad uses: any number of numeric segments
(missing ones count as 0), a pre-release that sorts before its release, and go-version's
pre-release rule: a version with a pre-release only satisfies a constraint that names a
pre-release of the same release (``1.3.0-beta1`` does not satisfy ``>= 1.0``). ``semver`` follows
Semantic Versioning 2.0 ordering with no such rule (``1.3.0-beta1`` satisfies ``>= 1.0.0``).
Both accept ``= != > >= < <= ~>`` and comma-separated lists, all of which must hold.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Version", "parse_version", "version_matches"]

_LOOSE = re.compile(r"^v?(\d+(?:\.\d+)*)(?:-?([0-9A-Za-z\-~]+(?:\.[0-9A-Za-z\-~]+)*))?(?:\+([0-9A-Za-z\-~.]+))?$")
_STRICT = re.compile(r"^v?(\d+(?:\.\d+){0,2})(?:-([0-9A-Za-z\-]+(?:\.[0-9A-Za-z\-]+)*))?(?:\+([0-9A-Za-z\-.]+))?$")
_CONSTRAINT = re.compile(r"^\s*(=|!=|>=|<=|>|<|~>)?\s*(\S+)\s*$")


@dataclass(frozen=True, slots=True)
class Version:
    segments: tuple[int, ...]
    prerelease: str
    given: int  # how many segments were written (for ~>)

    def key(self, width: int) -> tuple[int, ...]:
        return self.segments + (0,) * (width - len(self.segments))


def parse_version(text: str, *, semver: bool = False) -> Version | None:
    match = (_STRICT if semver else _LOOSE).match(text.strip())
    if match is None:
        return None
    segments = tuple(int(s) for s in match.group(1).split("."))
    return Version(segments, match.group(2) or "", len(segments))


def _compare_prerelease(a: str, b: str) -> int:
    if a == b:
        return 0
    if not a:
        return 1  # a release sorts after its pre-releases
    if not b:
        return -1
    for x, y in zip(a.split("."), b.split("."), strict=False):
        if x == y:
            continue
        xn, yn = x.isdigit(), y.isdigit()
        if xn and yn:
            return -1 if int(x) < int(y) else 1
        if xn != yn:
            return -1 if xn else 1  # numeric identifiers sort first
        return -1 if x < y else 1
    return -1 if len(a.split(".")) < len(b.split(".")) else 1


def compare(a: Version, b: Version) -> int:
    width = max(len(a.segments), len(b.segments), 3)
    ka, kb = a.key(width), b.key(width)
    if ka != kb:
        return -1 if ka < kb else 1
    return _compare_prerelease(a.prerelease, b.prerelease)


def _prerelease_ok(v: Version, c: Version) -> bool:
    """go-version: a pre-release only matches a constraint on a pre-release of the same release."""
    if v.prerelease and c.prerelease:
        width = max(len(v.segments), len(c.segments), 3)
        return v.key(width) == c.key(width)
    return not v.prerelease


def _pessimistic(v: Version, c: Version) -> bool:
    """``~> c``: at least c, and below the next release of c's second-to-last written segment."""
    if compare(v, c) < 0:
        return False
    fixed = max(c.given - 1, 1)
    width = max(len(v.segments), len(c.segments), 3)
    return v.key(width)[:fixed] == c.key(width)[:fixed]


Check = Callable[[Version], bool]


def _one(op: str, c: Version, semver: bool) -> Check:
    gate: Callable[[Version], bool] = (lambda v: True) if semver else (lambda v: _prerelease_ok(v, c))
    checks: dict[str, Check] = {
        "=": lambda v: compare(v, c) == 0,
        "!=": lambda v: compare(v, c) != 0,
        ">": lambda v: gate(v) and compare(v, c) > 0,
        ">=": lambda v: gate(v) and compare(v, c) >= 0,
        "<": lambda v: gate(v) and compare(v, c) < 0,
        "<=": lambda v: gate(v) and compare(v, c) <= 0,
        "~>": lambda v: gate(v) and _pessimistic(v, c),
    }
    return checks[op]


@functools.lru_cache(maxsize=1024)
def _constraints(text: str, semver: bool) -> tuple[Check, ...] | None:
    out: list[Check] = []
    for part in text.split(","):
        match = _CONSTRAINT.match(part)
        if match is None:
            return None
        c = parse_version(match.group(2), semver=semver)
        if c is None:
            return None
        out.append(_one(match.group(1) or "=", c, semver))
    return tuple(out)


def version_matches(value: str, constraint: str, *, semver: bool) -> bool:
    """Whether version ``value`` satisfies every part of ``constraint`` (False if either does not parse)."""
    v = parse_version(value, semver=semver)
    checks = _constraints(constraint, semver)
    if v is None or checks is None:
        return False
    return all(check(v) for check in checks)
