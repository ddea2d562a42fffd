"""Checks for the right-hand side of ``version`` and ``semver`` constraints, as Nomad parses them:
a comma-separated list of ``[operator] version``, operators ``= != > >= < <= ~>``.

``version`` follows hashicorp/go-version (leading ``v``, any number of segments, a pre-release
with or without a dash); ``semver`` is stricter: one to three numeric segments and a dash before
the pre-release, as Semantic Versioning writes it.
"""

from __future__ import annotations

import re

__all__ = ["version_constraint_problem"]

_OPERATOR = r"(?P<op>=|!=|>=|<=|>|<|~>)?"
_IDENT = r"[0-9A-Za-z\-~]+(?:\.[0-9A-Za-z\-~]+)*"
_LOOSE = re.compile(rf"^{_OPERATOR}\s*v?\d+(?:\.\d+)*(?:-?{_IDENT})?(?:\+{_IDENT})?$")
_STRICT = re.compile(rf"^{_OPERATOR}\s*v?\d+(?:\.\d+){{0,2}}(?:-{_IDENT})?(?:\+{_IDENT})?$")


def version_constraint_problem(text: str, *, semver: bool) -> str | None:
    """What is wrong with the constraint list ``text``, or None if it parses."""
    pattern = _STRICT if semver else _LOOSE
    if not text.strip():
        return "the version constraint is empty"
    for part in text.split(","):
        item = part.strip()
        if not item:
            return f'empty constraint in "{text}"'
        if not pattern.match(item):
            kind = "semver" if semver else "version"
            return f'"{item}" is not a valid {kind} constraint (expected e.g. ">= 1.2.0")'
    return None
