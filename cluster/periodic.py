"""The periodic dispatcher's decisions (Nomad's ``periodic.go``), pure: when a periodic job launches
next, what its child job looks like, and whether a launch is skipped.

Launch times follow the cron grammar ``cluster.structs.cron`` validates (gorhill/cronexpr, the library
Nomad uses), evaluated in the job's ``time_zone``: a wall-clock time that does not exist (skipped by a
daylight-saving change) does not launch. With several ``crons`` the earliest next time wins. When both
day-of-month and day-of-week are restricted a day matching either launches, as in Vixie cron.

A child is the parent with ``ParentID`` set, no ``periodic`` block and the ID
``<parent>/periodic-<unix seconds of the launch>``: the ID names the launch, so a launch proposed twice
(a retry, a new leader) registers the same job twice rather than two jobs.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from cluster.errors import InvalidInput
from cluster.structs.constants import EvalStatus, EvalTrigger, JobStatus
from cluster.structs.cron import cron_problem
from cluster.structs.evaluation import Evaluation
from cluster.structs.job import Job, PeriodicConfig

__all__ = [
    "CronSchedule",
    "child_job",
    "child_launch_s",
    "is_periodic",
    "launch_eval",
    "next_launch_ns",
    "overlap_blocks",
    "parse_cron",
]

SECOND_NS = 1_000_000_000
PERIODIC_SUFFIX = "/periodic-"
LAST_YEAR = 2099

_MACROS = {
    "@yearly": "0 0 0 1 1 * *", "@annually": "0 0 0 1 1 * *", "@monthly": "0 0 0 1 * * *",
    "@weekly": "0 0 0 * * 0 *", "@daily": "0 0 0 * * * *", "@midnight": "0 0 0 * * * *",
    "@hourly": "0 0 * * * * *",
}
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_NAMES = {
    "month": {**{n: i + 1 for i, n in enumerate(_MONTHS)}, **{calendar.month_name[i + 1].lower(): i + 1
                                                               for i in range(12)}},
    "dow": {**{n: i for i, n in enumerate(_DAYS)}, **{calendar.day_name[(i + 6) % 7].lower(): i for i in range(7)}},
}
_BOUNDS = {"second": (0, 59), "minute": (0, 59), "hour": (0, 23), "dom": (1, 31), "month": (1, 12),
           "dow": (0, 7), "year": (1970, LAST_YEAR)}


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """One parsed cron expression: the allowed values of each field, and the day-field specials."""

    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    years: frozenset[int]
    dom: frozenset[int]
    dom_specials: tuple[str, ...]  # "l", "lw", "15w"
    dom_any: bool
    dow: frozenset[int]  # 0 = Sunday
    dow_specials: tuple[str, ...]  # "5l", "1#3"
    dow_any: bool

    def days(self, year: int, month: int) -> list[int]:
        """The days of that month on which the expression fires, ascending."""
        length = calendar.monthrange(year, month)[1]
        by_dom = {d for d in self.dom if d <= length} | {d for s in self.dom_specials
                                                          if (d := _dom_special(s, year, month)) is not None}
        by_dow = {d for d in range(1, length + 1) if _weekday(year, month, d) in self.dow}
        by_dow |= {d for s in self.dow_specials if (d := _dow_special(s, year, month)) is not None}
        if self.dom_any and self.dow_any:
            return list(range(1, length + 1))
        if self.dom_any:
            return sorted(by_dow)
        if self.dow_any:
            return sorted(by_dom)
        return sorted(by_dom | by_dow)

    def wall_times_from(self, start: datetime) -> Iterator[datetime]:
        """Naive wall-clock times the expression fires at, ascending, from ``start`` (inclusive)."""
        for year in sorted(y for y in self.years if y >= start.year):
            first_y = year == start.year
            for month in sorted(m for m in self.months if not first_y or m >= start.month):
                first_m = first_y and month == start.month
                for day in (d for d in self.days(year, month) if not first_m or d >= start.day):
                    first_d = first_m and day == start.day
                    for hour in sorted(h for h in self.hours if not first_d or h >= start.hour):
                        first_h = first_d and hour == start.hour
                        for minute in sorted(m for m in self.minutes if not first_h or m >= start.minute):
                            first_mi = first_h and minute == start.minute
                            for second in sorted(s for s in self.seconds if not first_mi or s >= start.second):
                                yield datetime(year, month, day, hour, minute, second)


def _weekday(year: int, month: int, day: int) -> int:
    return (calendar.weekday(year, month, day) + 1) % 7


def _dom_special(special: str, year: int, month: int) -> int | None:
    length = calendar.monthrange(year, month)[1]
    if special == "l":
        return length
    target = length if special == "lw" else int(special[:-1])
    if target > length:
        return None
    weekday = _weekday(year, month, target)
    if weekday == 6:  # Saturday: the Friday before, unless that leaves the month
        return target - 1 if target > 1 else target + 2
    if weekday == 0:  # Sunday: the Monday after, unless that leaves the month
        return target + 1 if target < length else target - 2
    return target


def _dow_special(special: str, year: int, month: int) -> int | None:
    length = calendar.monthrange(year, month)[1]
    if special.endswith("l"):
        wanted = int(special[:-1]) % 7
        return max(d for d in range(length - 6, length + 1) if _weekday(year, month, d) == wanted)
    day_text, _, nth_text = special.partition("#")
    wanted, nth = int(day_text) % 7, int(nth_text)
    matches = [d for d in range(1, length + 1) if _weekday(year, month, d) == wanted]
    return matches[nth - 1] if nth <= len(matches) else None


def _value(text: str, kind: str) -> int:
    return int(text) if text.isdigit() else _NAMES[kind][text.lower()]


def _values(part: str, kind: str) -> frozenset[int]:
    low, high = _BOUNDS[kind]
    out: set[int] = set()
    for item in part.split(","):
        base, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if base in ("*", "?"):
            first, last = low, high
        else:
            a, sep, b = base.partition("-")
            first = _value(a, kind)
            last = _value(b, kind) if sep else (high if step_text else first)
        out.update(range(first, last + 1, step))
    if kind == "dow" and 7 in out:
        out = (out - {7}) | {0}
    return frozenset(out)


def _day_field(part: str, kind: str) -> tuple[frozenset[int], tuple[str, ...], bool]:
    plain: list[str] = []
    specials: list[str] = []
    for item in part.lower().split(","):
        special = item in ("l", "lw") or (item[-1:] in ("w", "l") and item[:-1].isdigit()) or "#" in item
        (specials if special else plain).append(item)
    values = _values(",".join(plain), kind) if plain else frozenset()
    return values, tuple(specials), part in ("*", "?")


def parse_cron(spec: str) -> CronSchedule:
    """Parses a cron expression; ``InvalidInput`` with what is wrong if it is not one."""
    problem = cron_problem(spec)
    if problem is not None:
        raise InvalidInput(f'cron "{spec}": {problem}')
    text = spec.strip()
    fields = _MACROS[text.lower()].split() if text.startswith("@") else text.split()
    if len(fields) == 5:
        fields = ["0", *fields, "*"]
    elif len(fields) == 6:
        fields = ["0", *fields]
    second, minute, hour, dom, month, dow, year = fields
    dom_values, dom_specials, dom_any = _day_field(dom, "dom")
    dow_values, dow_specials, dow_any = _day_field(dow, "dow")
    return CronSchedule(seconds=_values(second, "second"), minutes=_values(minute, "minute"),
                        hours=_values(hour, "hour"), months=_values(month, "month"), years=_values(year, "year"),
                        dom=dom_values, dom_specials=dom_specials, dom_any=dom_any,
                        dow=dow_values, dow_specials=dow_specials, dow_any=dow_any)


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f'periodic: unknown time zone "{name}"') from None


def _next_for(schedule: CronSchedule, zone: ZoneInfo, after_ns: int) -> int | None:
    after = datetime.fromtimestamp(after_ns // SECOND_NS, tz=UTC).astimezone(zone)
    start = after.replace(tzinfo=None) + timedelta(seconds=1)
    for wall in schedule.wall_times_from(start):
        at = wall.replace(tzinfo=zone)
        if at.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
            continue  # a wall-clock time skipped by a daylight-saving change
        at_ns = int(at.timestamp()) * SECOND_NS
        if at_ns > after_ns:
            return at_ns
    return None


def next_launch_ns(periodic: PeriodicConfig, after_ns: int) -> int | None:
    """The first launch strictly after ``after_ns`` (whole seconds), or None if the schedule has none."""
    specs = list(periodic.Specs or []) or ([periodic.Spec] if periodic.Spec else [])
    zone = _zone(periodic.TimeZone)
    times = [t for spec in specs if (t := _next_for(parse_cron(spec), zone, after_ns)) is not None]
    return min(times, default=None)


def is_periodic(job: Job) -> bool:
    """A job the dispatcher launches: periodic, enabled, not stopped, not itself a child."""
    p = job.Periodic
    return p is not None and p.Enabled is not False and not job.Stop and not job.ParentID


def child_job(parent: Job, launch_ns: int, now_ns: int) -> Job:
    """The job a launch registers (Nomad's ``deriveJob``)."""
    child_id = f"{parent.ID}{PERIODIC_SUFFIX}{launch_ns // SECOND_NS}"
    return msgspec.structs.replace(parent, ID=child_id, Name=child_id, ParentID=parent.ID, Periodic=None,
                                   Status=None, StatusDescription=None, Stable=None, Version=None,
                                   SubmitTime=now_ns, CreateIndex=None, ModifyIndex=None, JobModifyIndex=None)


def child_launch_s(parent_id: str, child_id: str) -> int | None:
    """The launch time (Unix seconds) a child's ID names, None if it is not a periodic child of that parent."""
    prefix = f"{parent_id}{PERIODIC_SUFFIX}"
    rest = child_id[len(prefix):] if child_id.startswith(prefix) else ""
    return int(rest) if rest.isdigit() else None


def launch_eval(child: Job, eval_id: str, now_ns: int) -> Evaluation:
    return Evaluation(ID=eval_id, Namespace=child.Namespace or "default", Priority=child.Priority or 50,
                      Type=child.Type or "batch", TriggeredBy=EvalTrigger.PERIODIC_JOB, JobID=child.ID or "",
                      Status=EvalStatus.PENDING, CreateTime=now_ns, ModifyTime=now_ns)


def overlap_blocks(parent: Job, children: list[Job]) -> bool:
    """With ``prohibit_overlap``, a launch is skipped while an earlier child has not finished."""
    p = parent.Periodic
    if p is None or not p.ProhibitOverlap:
        return False
    return any(c.Status != JobStatus.DEAD and not c.Stop for c in children)
