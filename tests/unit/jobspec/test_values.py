"""Conversions of job-file values to Nomad's API JSON values (cluster/jobspec/values.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cluster.jobspec.values import Kind, KindError, convert, parse_duration_ns, parse_size_mb

SECOND = 1_000_000_000


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("30s", 30 * SECOND),
        ("5m", 300 * SECOND),
        ("1h30m", 5400 * SECOND),
        ("250ms", 250_000_000),
        ("1.5h", 5400 * SECOND),
        ("10us", 10_000),
        ("10µs", 10_000),
        ("7ns", 7),
        ("0", 0),
        ("-2s", -2 * SECOND),
        ("24h", 86400 * SECOND),
    ],
)
def test_go_durations(text: str, ns: int) -> None:
    assert parse_duration_ns(text) == ns
    assert convert(text, Kind.DURATION) == ns


@pytest.mark.parametrize("text", ["", "5", "s", "5x", "1h 30m", "abc", ".h", "1hh"])
def test_bad_durations_say_what_is_expected(text: str) -> None:
    with pytest.raises(KindError, match="expected a duration"):
        parse_duration_ns(text)


def test_duration_may_be_nanoseconds() -> None:
    assert convert(5_000_000_000, Kind.DURATION) == 5 * SECOND


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(["ns", "us", "ms", "s", "m", "h"]))
def test_duration_units_scale(n: int, unit: str) -> None:
    scale = {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}[unit]
    assert parse_duration_ns(f"{n}{unit}") == n * scale


def test_sizes() -> None:
    assert parse_size_mb("512MiB") == 512
    assert parse_size_mb("1GiB") == 1024
    assert parse_size_mb("1GB") == 953
    with pytest.raises(KindError):
        parse_size_mb("lots")


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        ("8080", Kind.INT, 8080),
        (8080.0, Kind.INT, 8080),
        (3, Kind.STRING, "3"),
        (True, Kind.STRING, "true"),
        ("true", Kind.BOOL, True),
        ([1, "a"], Kind.LIST_STRING, ["1", "a"]),
        ({"a": 1}, Kind.MAP_STRING, {"a": "1"}),
        ({"X": "v"}, Kind.MAP_LIST_STRING, {"X": ["v"]}),
        (None, Kind.INT, None),
    ],
)
def test_hcl_automatic_conversions(value: object, kind: Kind, expected: object) -> None:
    assert convert(value, kind) == expected


@pytest.mark.parametrize(
    ("value", "kind", "message"),
    [
        ("lots", Kind.INT, 'expected a whole number, got "lots"'),
        (1.5, Kind.INT, "expected a whole number, got 1.5"),
        (True, Kind.INT, "expected a whole number, got true"),
        ([1], Kind.STRING, "expected a string, got a list"),
        ("yes", Kind.BOOL, 'expected a bool, got "yes"'),
        ("a", Kind.LIST_STRING, 'expected a list of strings, got "a"'),
        ([["x"]], Kind.LIST_STRING, "element 0: expected a string, got a list"),
        ({"a": [1]}, Kind.MAP_STRING, 'key "a": expected a string, got a list'),
        ("nan", Kind.NUMBER, 'expected a number, got "nan"'),
    ],
)
def test_conversion_errors_name_expected_and_found(value: object, kind: Kind, message: str) -> None:
    with pytest.raises(KindError) as err:
        convert(value, kind)
    assert str(err.value) == message
