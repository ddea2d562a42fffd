"""The small parsers behind validation: version constraints, Go regular expressions, durations."""

from __future__ import annotations

import re

import pytest

from cluster.structs import compile_go_regexp, format_duration, version_constraint_problem

VERSIONS = [
    (">= 20.10, < 30", None, None),
    ("> 5.10", None, None),
    ("~> 1.8", None, None),
    (">= 1.6.0-beta.1", None, None),
    ("= v1.2.3+build.7", None, None),
    ("1.2.3.4", None, '"1.2.3.4" is not a valid semver constraint'),
    ("1.2.3beta", None, '"1.2.3beta" is not a valid semver constraint'),
    ("newest", '"newest" is not a valid version constraint', '"newest" is not a valid semver constraint'),
    (">= 1.2,", 'empty constraint in ">= 1.2,"', 'empty constraint in ">= 1.2,"'),
    ("", "the version constraint is empty", "the version constraint is empty"),
    ("=> 1.0", '"=> 1.0" is not a valid version constraint', '"=> 1.0" is not a valid semver constraint'),
]


@pytest.mark.parametrize(("text", "as_version", "as_semver"), VERSIONS, ids=[v[0] or "empty" for v in VERSIONS])
def test_version_and_semver_constraints(text: str, as_version: str | None, as_semver: str | None) -> None:
    for semver, expected in ((False, as_version), (True, as_semver)):
        problem = version_constraint_problem(text, semver=semver)
        if expected is None:
            assert problem is None
        else:
            assert problem is not None and problem.startswith(expected)


@pytest.mark.parametrize(
    ("pattern", "matches", "misses"),
    [
        (r"^2[24]\.04", "22.04", "20.04"),
        (r"^\pL+\z", "Zoë", "abc1"),  # RE2's Unicode letter class and end-of-text
        (r"^\PL+$", "123", "a1"),
        (r"^[[:alpha:]_]+$", "Ab_c", "a:b"),  # POSIX classes inside brackets, as RE2 reads them
        (r"^[[:digit:][:space:]]+$", "1 2", "1a"),
        (r"(?i)^web-[0-9]+$", "WEB-12", "web-x"),
    ],
)
def test_go_regexps_compile_and_match_like_re2(pattern: str, matches: str, misses: str) -> None:
    compiled = compile_go_regexp(pattern)
    assert compiled.search(matches)
    assert not compiled.search(misses)


def test_a_broken_regexp_raises_re_error() -> None:
    with pytest.raises(re.error):
        compile_go_regexp("web-(")


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (7, "7ns"),
        (1_500, "1.5µs"),
        (500_000_000, "500ms"),
        (1_500_000_000, "1.5s"),
        (90_000_000_000, "1m30s"),
        (300_000_000_000, "5m"),
        (7_200_000_000_000, "2h"),
        (3_723_000_000_000, "1h2m3s"),
        (-5_000_000_000, "-5s"),
    ],
)
def test_durations_read_like_a_job_file(ns: int, text: str) -> None:
    assert format_duration(ns) == text
