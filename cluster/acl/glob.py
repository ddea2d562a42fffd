"""Glob names in rules (``namespace "prod-*"``) and which glob wins when several match.

Only ``*`` is special: it matches any run of characters, the empty run included. When no rule
names an object exactly, the matching glob closest to the name wins, as Nomad documents: the one
with the fewest characters left for its wildcards to cover (name length minus the glob's literal
characters). Ties go to the glob that sorts first, so the answer never depends on rule order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import TypeVar

__all__ = ["closest_glob", "glob_match", "is_glob"]

T = TypeVar("T")


def is_glob(name: str) -> bool:
    return "*" in name


@lru_cache(maxsize=4096)
def _pattern(glob: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in glob.split("*")), re.DOTALL)


def glob_match(glob: str, name: str) -> bool:
    """Whether ``name`` matches ``glob`` as a whole."""
    return _pattern(glob).fullmatch(name) is not None


def _distance(glob: str, name: str) -> int:
    """Characters of ``name`` covered by the glob's wildcards (smaller is more specific)."""
    return len(name) - (len(glob) - glob.count("*"))


def closest_glob(globs: Mapping[str, T], name: str) -> T | None:
    """The value of the matching glob closest to ``name``, or None when no glob matches."""
    best: tuple[int, str] | None = None
    for glob in globs:
        if glob_match(glob, name):
            key = (_distance(glob, name), glob)
            if best is None or key < best:
                best = key
    return None if best is None else globs[best[1]]
