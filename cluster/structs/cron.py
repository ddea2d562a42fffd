"""A cron expression checker with the grammar of the library Nomad uses (gorhill/cronexpr).

Accepted forms: the macros ``@yearly @annually @monthly @weekly @daily @midnight @hourly``;
5 fields ``minute hour day-of-month month day-of-week``; 6 fields, the same plus ``year``;
7 fields, ``second`` first and ``year`` last. A field is a comma-separated list of ``*``, a value,
a range ``a-b``, any of those with a step ``/n`` (``a/n`` means from a to the end), and:
month and weekday names (``JAN``, ``MON``, full names too), ``?`` for the day fields,
``L``/``LW``/``15W`` in day-of-month, ``5L`` and ``1#3`` in day-of-week (7 is also Sunday).

Only validation lives here: Caravan's periodic dispatcher computes launch times elsewhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["MACROS", "cron_problem"]

MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_FULL_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
                "september", "october", "november", "december")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_FULL_DAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_STEP = re.compile(r"^(.*)/(\d+)$")


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int] = field(default_factory=dict)


_SECOND = _Field("second", 0, 59)
_MINUTE = _Field("minute", 0, 59)
_HOUR = _Field("hour", 0, 23)
_DOM = _Field("day-of-month", 1, 31)
_MONTH = _Field(
    "month", 1, 12,
    {**{n: i + 1 for i, n in enumerate(_MONTHS)}, **{n: i + 1 for i, n in enumerate(_FULL_MONTHS)}},
)
_DOW = _Field(
    "day-of-week", 0, 7, {**{n: i for i, n in enumerate(_DAYS)}, **{n: i for i, n in enumerate(_FULL_DAYS)}}
)
_YEAR = _Field("year", 1970, 2099)

_LAYOUTS = {
    5: (_MINUTE, _HOUR, _DOM, _MONTH, _DOW),
    6: (_MINUTE, _HOUR, _DOM, _MONTH, _DOW, _YEAR),
    7: (_SECOND, _MINUTE, _HOUR, _DOM, _MONTH, _DOW, _YEAR),
}


def cron_problem(spec: str) -> str | None:
    """What is wrong with ``spec``, in a few words, or None if it is a valid cron expression."""
    text = spec.strip()
    if not text:
        return "the cron expression is empty"
    if text.startswith("@"):
        if text.lower() in MACROS:
            return None
        return f'unknown macro "{text}"; use one of {", ".join(MACROS)}'
    parts = text.split()
    layout = _LAYOUTS.get(len(parts))
    if layout is None:
        return f"a cron expression has 5, 6 or 7 fields, got {len(parts)}"
    for part, spec_field in zip(parts, layout, strict=True):
        for item in part.split(","):
            problem = _item_problem(item, spec_field)
            if problem:
                return f"{spec_field.name}: {problem}"
    return None


def _item_problem(item: str, f: _Field) -> str | None:
    if not item:
        return "empty list item"
    special = _special_problem(item.lower(), f)
    if special is not False:
        return special
    match = _STEP.match(item)
    if match:
        base, step = match.group(1), int(match.group(2))
        if step < 1:
            return f'step must be at least 1 in "{item}"'
        if base in ("*", "?"):
            return None
        return _range_problem(base, f)
    if item == "*":
        return None
    return _range_problem(item, f)


def _special_problem(item: str, f: _Field) -> str | Literal[False] | None:
    """None when ``item`` is a valid special form, a message when it is a broken one, False when
    it is not a special form at all."""
    if item == "?":
        return None if f in (_DOM, _DOW) else f'"?" is only allowed in the day fields, not in {f.name}'
    if f is _DOM and item in ("l", "lw"):
        return None
    if f is _DOM and item.endswith("w") and item[:-1].isdigit():
        return _value_problem(item[:-1], f)
    if f is _DOW and item.endswith("l") and item[:-1].isdigit():
        return _value_problem(item[:-1], f)
    if f is _DOW and "#" in item:
        day, _, nth = item.partition("#")
        if not nth.isdigit() or not 1 <= int(nth) <= 5:
            return f'"#" needs a week number from 1 to 5 in "{item}"'
        return _value_problem(day, f)
    return False


def _range_problem(text: str, f: _Field) -> str | None:
    low, sep, high = text.partition("-")
    problem = _value_problem(low, f) or (_value_problem(high, f) if sep else None)
    if problem:
        return problem
    if sep and _value(low, f) > _value(high, f):
        return f'range "{text}" runs backwards'
    return None


def _value_problem(text: str, f: _Field) -> str | None:
    if not text:
        return "missing value"
    if text.isdigit():
        number = int(text)
        if f.low <= number <= f.high:
            return None
        return f"{number} is out of range {f.low}-{f.high}"
    if text.lower() in f.names:
        return None
    return f'"{text}" is not a number' + (" or a name" if f.names else "")


def _value(text: str, f: _Field) -> int:
    return int(text) if text.isdigit() else f.names[text.lower()]
