"""Allocation health during a deployment, as the client decides it (Nomad's alloc health tracker).

An allocation is healthy once every task that must stay up has been running for
``min_healthy_time`` (and, with ``health_check = "checks"``, its service checks have passed for
that long); it is unhealthy as soon as a task fails, or if it is not healthy by
``healthy_deadline`` after the client started watching it. With ``health_check = "manual"`` the
client never decides: an operator or the deployment watcher sets the health.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cluster.structs.alloc import TaskState
from cluster.structs.base import GO_ZERO_TIME
from cluster.structs.constants import TaskStateName
from cluster.structs.group import UpdateStrategy

__all__ = ["HealthVerdict", "alloc_health"]

CHECKS = "checks"
TASK_STATES = "task_states"
MANUAL = "manual"


@dataclass(frozen=True, slots=True)
class HealthVerdict:
    healthy: bool | None  # None: not decided yet
    reason: str = ""
    decide_at: datetime | None = None  # when to look again if undecided (a timer for the client)


def _ns(ns: int | None) -> timedelta:
    return timedelta(microseconds=(ns or 0) // 1000)


def alloc_health(tasks: dict[str, TaskState], update: UpdateStrategy, watching_since: datetime, now: datetime,
                 checks_passing_since: datetime | None = None, ignored_tasks: frozenset[str] = frozenset(),
                 ) -> HealthVerdict:
    """Health of one allocation from its task states. ``ignored_tasks`` are tasks not expected to
    keep running (prestart or poststop hooks that are not sidecars). ``checks_passing_since`` is
    when all of the allocation's checks last became passing (None while any is failing)."""
    mode = update.HealthCheck or CHECKS
    if mode == MANUAL:
        return HealthVerdict(None, "health is set manually")
    watched = {name: s for name, s in tasks.items() if name not in ignored_tasks}
    for name, state in watched.items():
        if state.Failed:
            return HealthVerdict(False, f'task "{name}" failed')
    deadline = watching_since + _ns(update.HealthyDeadline)
    if update.HealthyDeadline and now >= deadline:
        return HealthVerdict(False, "healthy deadline exceeded")
    pending = [name for name, s in watched.items() if s.State != TaskStateName.RUNNING or s.StartedAt == GO_ZERO_TIME]
    if not watched or pending:
        return HealthVerdict(None, "tasks not running", deadline if update.HealthyDeadline else None)
    running_since = max(s.StartedAt for s in watched.values())
    since = running_since
    if mode == CHECKS:
        if checks_passing_since is None:
            return HealthVerdict(None, "checks not passing", deadline if update.HealthyDeadline else None)
        since = max(since, checks_passing_since)
    healthy_at = since + _ns(update.MinHealthyTime)
    if now >= healthy_at:
        return HealthVerdict(True, "")
    return HealthVerdict(None, "waiting for min_healthy_time", healthy_at)
