"""Go (RE2) regular expressions, as constraints and affinities write them, compiled by Python.

Job files are written for Nomad, whose ``regexp`` operator uses Go's RE2 syntax. Python's ``re``
reads nearly all of it; the few RE2-only forms are rewritten first: ``\\z`` (end of text) becomes
``\\Z``, POSIX classes in brackets (``[[:alpha:]]``) become the ranges they stand for, and
Unicode classes ``\\pL``/``\\p{Greek}`` (which ``re`` lacks) become their closest ``re``
equivalent. Validation and the scheduler both compile through here, so a pattern that
validates is a pattern that schedules.
"""

from __future__ import annotations

import functools
import re
import warnings

__all__ = ["compile_go_regexp"]

_POSIX_CLASSES = {
    "alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x00-\\x7f", "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f", "digit": "0-9", "graph": "!-~", "lower": "a-z", "print": " -~",
    "punct": "!-/:-@[-`{-~", "space": "\\t\\n\\v\\f\\r ", "upper": "A-Z", "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}
_POSIX_CLASS = re.compile(r"\[:(" + "|".join(_POSIX_CLASSES) + r"):\]")
_UNICODE_CLASS = re.compile(r"\\([pP])(\{\^?[A-Za-z_]+\}|[A-Za-z])")
_LETTER_CLASSES = {"L", "{L}", "{Letter}"}
_DIGIT_CLASSES = {"N", "{N}", "{Nd}"}


def _rewrite(pattern: str) -> str:
    def unicode_class(match: re.Match[str]) -> str:
        negated = match.group(1) == "P"
        name = match.group(2)
        if name in _LETTER_CLASSES:
            return r"[^\W\d_]" if not negated else r"[\W\d_]"
        if name in _DIGIT_CLASSES:
            return r"\D" if negated else r"\d"
        return r"\W" if negated else r"\w"  # other scripts and categories: the nearest re has

    pattern = _UNICODE_CLASS.sub(unicode_class, pattern)
    pattern = _POSIX_CLASS.sub(lambda m: _POSIX_CLASSES[m.group(1)], pattern)
    return re.sub(r"(?<!\\)((?:\\\\)*)\\z", r"\1\\Z", pattern)


@functools.lru_cache(maxsize=1024)
def compile_go_regexp(pattern: str) -> re.Pattern[str]:
    """Compiles a Go regular expression; raises ``re.error`` when it is not one."""
    with warnings.catch_warnings():
        # "[[:alpha:]]" is a POSIX class in RE2; re only warns that it looks like a nested set.
        warnings.simplefilter("ignore", FutureWarning)
        return re.compile(_rewrite(pattern))
