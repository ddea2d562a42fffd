"""The cron checker accepts what Nomad's cron library accepts and says what is wrong otherwise."""

from __future__ import annotations

import pytest

from cluster.structs import cron_problem

VALID = [
    "*/5 * * * *",
    "0 3 * * *",
    "30 12 * * MON-FRI",
    "0 0 1,15 * *",
    "0 9-17/2 * * 1-5",
    "0 0 * JAN,jul *",
    "0 0 1 1 * 2030",  # 6 fields: a year at the end
    "30 0 0 1 1 * 2030-2035",  # 7 fields: seconds first
    "0 0 L * ?",
    "0 0 15W * *",
    "0 0 * * 5L",
    "0 0 * * 1#3",
    "0 0 * * 7",  # Sunday, written as 7
    "5/15 * * * *",
    "@hourly",
    "@DAILY",
    "@annually",
    "  0 3 * * *  ",
]


@pytest.mark.parametrize("spec", VALID)
def test_valid_expressions(spec: str) -> None:
    assert cron_problem(spec) is None


INVALID = [
    ("", "the cron expression is empty"),
    ("* * * *", "a cron expression has 5, 6 or 7 fields, got 4"),
    ("* * * * * * * *", "got 8"),
    ("@every 5m", 'unknown macro "@every 5m"'),
    ("60 * * * *", "minute: 60 is out of range 0-59"),
    ("0 24 * * *", "hour: 24 is out of range 0-23"),
    ("0 0 0 * *", "day-of-month: 0 is out of range 1-31"),
    ("0 0 * 13 *", "month: 13 is out of range 1-12"),
    ("0 0 * * 8", "day-of-week: 8 is out of range 0-7"),
    ("0 0 * * FUNDAY", 'day-of-week: "FUNDAY" is not a number or a name'),
    ("*/0 * * * *", 'minute: step must be at least 1 in "*/0"'),
    ("5-2 * * * *", 'minute: range "5-2" runs backwards'),
    ("0 ? * * *", '"?" is only allowed in the day fields, not in hour'),
    ("0 0 * * 1#6", '"#" needs a week number from 1 to 5'),
    ("1,,2 * * * *", "minute: empty list item"),
    ("0 0 1 1 * 1969", "year: 1969 is out of range 1970-2099"),
]


@pytest.mark.parametrize(("spec", "fragment"), INVALID, ids=[s or "empty" for s, _ in INVALID])
def test_invalid_expressions_say_why(spec: str, fragment: str) -> None:
    problem = cron_problem(spec)
    assert problem is not None and fragment in problem
