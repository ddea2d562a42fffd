"""Nomad's default policies, per job type, as fresh structs (callers may keep and change them).

The values are Nomad's (``api/tasks.go``, ``api/jobs.go`` and the job specification pages of
Nomad's documentation: restart, reschedule, update, migrate).
"""

from __future__ import annotations

from typing import TypeVar

import msgspec

from cluster.structs.base import HOUR_NS, MINUTE_NS, SECOND_NS
from cluster.structs.common import RestartPolicy
from cluster.structs.constants import JobType
from cluster.structs.group import EphemeralDisk, MigrateStrategy, ReschedulePolicy, UpdateStrategy
from cluster.structs.task import LogConfig

__all__ = [
    "DEFAULT_KILL_TIMEOUT_NS",
    "default_ephemeral_disk",
    "default_log_config",
    "default_migrate_strategy",
    "default_reschedule_policy",
    "default_restart_policy",
    "default_update_strategy",
    "overlay",
]

DEFAULT_KILL_TIMEOUT_NS = 5 * SECOND_NS

S = TypeVar("S", bound=msgspec.Struct)


def overlay(base: S, top: S | None) -> S:
    """A copy of ``base`` with every field that ``top`` sets (not None) taken from ``top``.

    This is Nomad's field-by-field merge of pointer structs: ``overlay(job_update, group_update)``
    lets the group win, and ``overlay(defaults, given)`` fills what was not given.
    """
    if top is None:
        return msgspec.structs.replace(base)
    given = {f: v for f in top.__struct_fields__ if (v := getattr(top, f)) is not None}
    return msgspec.structs.replace(base, **given)


def default_update_strategy() -> UpdateStrategy:
    return UpdateStrategy(
        Stagger=30 * SECOND_NS,
        MaxParallel=1,
        HealthCheck="checks",
        MinHealthyTime=10 * SECOND_NS,
        HealthyDeadline=5 * MINUTE_NS,
        ProgressDeadline=10 * MINUTE_NS,
        Canary=0,
        AutoRevert=False,
        AutoPromote=False,
    )


def default_migrate_strategy() -> MigrateStrategy:
    return MigrateStrategy(
        MaxParallel=1, HealthCheck="checks", MinHealthyTime=10 * SECOND_NS, HealthyDeadline=5 * MINUTE_NS
    )


def default_restart_policy(job_type: str) -> RestartPolicy:
    """Service and system tasks: 2 attempts in 30m; batch and sysbatch tasks: 3 in 24h."""
    if job_type in (JobType.SERVICE, JobType.SYSTEM):
        return RestartPolicy(
            Interval=30 * MINUTE_NS, Attempts=2, Delay=15 * SECOND_NS, Mode="fail", RenderTemplates=False
        )
    return RestartPolicy(Interval=24 * HOUR_NS, Attempts=3, Delay=15 * SECOND_NS, Mode="fail", RenderTemplates=False)


def default_reschedule_policy(job_type: str) -> ReschedulePolicy:
    """Service: unlimited, exponential from 30s up to 1h. Batch: once in 24h after 5s. Any other
    type gets the zero policy (no rescheduling); Nomad gives system groups none at all."""
    if job_type == JobType.SERVICE:
        return ReschedulePolicy(
            Attempts=0, Interval=0, Delay=30 * SECOND_NS, DelayFunction="exponential",
            MaxDelay=HOUR_NS, Unlimited=True,
        )
    if job_type == JobType.BATCH:
        return ReschedulePolicy(
            Attempts=1, Interval=24 * HOUR_NS, Delay=5 * SECOND_NS, DelayFunction="constant",
            MaxDelay=0, Unlimited=False,
        )
    return ReschedulePolicy(Attempts=0, Interval=0, Delay=0, DelayFunction="", MaxDelay=0, Unlimited=False)


def default_ephemeral_disk() -> EphemeralDisk:
    return EphemeralDisk(Sticky=False, Migrate=False, SizeMB=300)


def default_log_config() -> LogConfig:
    return LogConfig(MaxFiles=10, MaxFileSizeMB=10, Disabled=False)
