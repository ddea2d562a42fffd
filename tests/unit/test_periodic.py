"""Periodic launch times and child jobs (``cluster.periodic``), as a Nomad user would see them."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from cluster.errors import InvalidInput
from cluster.periodic import (
    child_job,
    child_launch_s,
    is_periodic,
    launch_eval,
    next_launch_ns,
    overlap_blocks,
    parse_cron,
)
from cluster.structs.constants import EvalTrigger, JobStatus
from cluster.structs.job import PeriodicConfig
from tests.unit.scheduler import factories

SECOND_NS = 1_000_000_000


def ns(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp()) * SECOND_NS


def iso(at_ns: int | None) -> str | None:
    return None if at_ns is None else datetime.fromtimestamp(at_ns // SECOND_NS, tz=UTC).isoformat()


# Saturday 2024-03-09 12:00:00 UTC unless a row says otherwise.
SAT_NOON = "2024-03-09T12:00:00+00:00"


@pytest.mark.parametrize(("spec", "zone", "after", "expected"), [
    ("*/15 * * * *", "UTC", SAT_NOON, "2024-03-09T12:15:00+00:00"),
    ("*/15 * * * *", "UTC", "2024-03-09T12:14:59+00:00", "2024-03-09T12:15:00+00:00"),
    ("* * * * * * *", "UTC", SAT_NOON, "2024-03-09T12:00:01+00:00"),
    ("30 9 * * 1-5", "UTC", SAT_NOON, "2024-03-11T09:30:00+00:00"),  # next weekday: Monday
    ("0 0 * * SUN", "UTC", SAT_NOON, "2024-03-10T00:00:00+00:00"),
    ("0 0 1 JAN *", "UTC", SAT_NOON, "2025-01-01T00:00:00+00:00"),
    ("@hourly", "UTC", SAT_NOON, "2024-03-09T13:00:00+00:00"),
    ("@weekly", "UTC", SAT_NOON, "2024-03-10T00:00:00+00:00"),
    ("@monthly", "UTC", SAT_NOON, "2024-04-01T00:00:00+00:00"),
    ("0 0 L * ?", "UTC", SAT_NOON, "2024-03-31T00:00:00+00:00"),
    ("0 0 29 2 *", "UTC", SAT_NOON, "2028-02-29T00:00:00+00:00"),
    ("0 0 * * 1#2", "UTC", SAT_NOON, "2024-03-11T00:00:00+00:00"),  # the second Monday of March
    ("0 0 * * 5L", "UTC", SAT_NOON, "2024-03-29T00:00:00+00:00"),  # the last Friday
    ("0 0 16W * ?", "UTC", SAT_NOON, "2024-03-15T00:00:00+00:00"),  # the 16th is a Saturday
    ("0 0 13 * 5", "UTC", SAT_NOON, "2024-03-13T00:00:00+00:00"),  # the 13th or a Friday, whichever first
    ("0 0 0 1 1 * 2030", "UTC", SAT_NOON, "2030-01-01T00:00:00+00:00"),  # seconds and years
    ("0 9 * * *", "Europe/Paris", SAT_NOON, "2024-03-10T08:00:00+00:00"),  # 9:00 in Paris is 8:00 UTC
    # 2:30 does not exist in New York on 10 March 2024 (clocks jump from 2:00 to 3:00): no launch that day.
    ("30 2 * * *", "America/New_York", SAT_NOON, "2024-03-11T06:30:00+00:00"),
    ("0 0 30 2 *", "UTC", SAT_NOON, None),  # never
])
def test_next_launch(spec: str, zone: str, after: str, expected: str | None) -> None:
    assert iso(next_launch_ns(PeriodicConfig(Spec=spec, TimeZone=zone), ns(after))) == expected


def test_the_earliest_of_several_crons_wins() -> None:
    periodic = PeriodicConfig(Specs=["0 18 * * *", "0 13 * * *"], TimeZone="UTC")
    assert iso(next_launch_ns(periodic, ns(SAT_NOON))) == "2024-03-09T13:00:00+00:00"


def test_bad_specs_and_zones_are_refused_with_what_is_wrong() -> None:
    with pytest.raises(InvalidInput, match="minute: 61 is out of range"):
        parse_cron("61 * * * *")
    with pytest.raises(InvalidInput, match='unknown time zone "Mars/Olympus"'):
        next_launch_ns(PeriodicConfig(Spec="* * * * *", TimeZone="Mars/Olympus"), 0)


def periodic_job(prohibit_overlap: bool = False):  # type: ignore[no-untyped-def]
    job = factories.job("report", type="batch")
    return msgspec.structs.replace(job, Periodic=PeriodicConfig(Enabled=True, Spec="* * * * *", TimeZone="UTC",
                                                                ProhibitOverlap=prohibit_overlap), Version=3,
                                   Status=JobStatus.RUNNING)


def test_a_child_is_named_after_its_launch_and_is_not_periodic() -> None:
    parent = periodic_job()
    launch_ns = ns("2024-03-09T12:01:00+00:00")
    child = child_job(parent, launch_ns, launch_ns + 5)
    assert child.ID == "report/periodic-1709985660" and child.Name == child.ID
    assert child.ParentID == "report" and child.Periodic is None and child.Status is None
    assert child.TaskGroups == parent.TaskGroups and child.SubmitTime == launch_ns + 5
    assert child_launch_s("report", child.ID) == 1709985660
    assert child_launch_s("reports", child.ID) is None
    ev = launch_eval(child, "e1", launch_ns)
    assert (ev.JobID, ev.TriggeredBy, ev.Type, ev.Status) == (child.ID, EvalTrigger.PERIODIC_JOB, "batch", "pending")


def test_children_and_stopped_jobs_are_not_dispatched() -> None:
    parent = periodic_job()
    assert is_periodic(parent)
    assert not is_periodic(msgspec.structs.replace(parent, Stop=True))
    assert not is_periodic(child_job(parent, 0, 0))
    assert not is_periodic(factories.job("plain", type="batch"))


def test_prohibit_overlap_skips_while_a_child_runs() -> None:
    parent = periodic_job(prohibit_overlap=True)
    running = msgspec.structs.replace(child_job(parent, 0, 0), Status=JobStatus.RUNNING)
    dead = msgspec.structs.replace(child_job(parent, SECOND_NS, 0), Status=JobStatus.DEAD)
    assert overlap_blocks(parent, [dead, running])
    assert not overlap_blocks(parent, [dead])
    assert not overlap_blocks(periodic_job(prohibit_overlap=False), [running])
