"""Deployment health of one allocation, decided on the client as Nomad's clients decide it.

An allocation placed by a deployment (it has a ``DeploymentID``) is tracked by its group's ``update``
stanza; any other allocation of a service job by its group's ``migrate`` stanza (same fields, no
``"manual"``): the node drainer moves a group on only as its replacements turn healthy, so health
must be reported for allocations outside deployments too. Other job types are not tracked.

* ``health_check = "task_states"``: healthy once every task that should be running has been running,
  without interruption, for ``min_healthy_time``;
* ``"checks"`` (the default): the same, and every service check of its tasks passing throughout;
* ``"manual"``: not tracked (an operator sets health through the API).

A failed task makes the allocation unhealthy at once; so does ``healthy_deadline`` passing before it
became healthy. A task restart or a check leaving ``passing`` resets the ``min_healthy_time`` wait. The
decision is made once and reported with the allocation's next update as its ``DeploymentStatus``.

``HealthTracker`` is the rule alone (time in, decision out), so tests drive it with plain numbers; the
alloc runner feeds it and sleeps until ``next_wake_ns``.
"""

from __future__ import annotations

from dataclasses import dataclass

from cluster.structs import Allocation, MigrateStrategy, TaskGroup, UpdateStrategy
from cluster.structs.base import SECOND_NS
from cluster.structs.constants import JobType

__all__ = ["HEALTH_CHECKS", "HEALTH_MANUAL", "HEALTH_TASK_STATES", "HealthTracker", "tracked", "tracker_for"]

HEALTH_CHECKS, HEALTH_TASK_STATES, HEALTH_MANUAL = "checks", "task_states", "manual"
DEFAULT_MIN_HEALTHY_NS = 10 * SECOND_NS
DEFAULT_HEALTHY_DEADLINE_NS = 300 * SECOND_NS


@dataclass(slots=True)
class HealthTracker:
    """Decides one allocation's health; see the module docstring."""

    start_ns: int
    min_healthy_ns: int
    healthy_deadline_ns: int
    use_checks: bool
    healthy_since_ns: int | None = None
    decision: bool | None = None

    def __post_init__(self) -> None:
        assert self.min_healthy_ns >= 0 and self.healthy_deadline_ns > 0, self

    def observe(self, now_ns: int, *, running: bool, failed: bool, checks_passing: bool) -> bool | None:
        """The decision after what is true at ``now_ns`` (None: not yet decided)."""
        if self.decision is not None:
            return self.decision
        if failed:
            self.decision = False
            return False
        ok = running and (checks_passing or not self.use_checks)
        if not ok:
            self.healthy_since_ns = None
        elif self.healthy_since_ns is None:
            self.healthy_since_ns = now_ns
        if ok and self.healthy_since_ns is not None and now_ns - self.healthy_since_ns >= self.min_healthy_ns:
            self.decision = True
        elif now_ns >= self.start_ns + self.healthy_deadline_ns:
            self.decision = False
        return self.decision

    def next_wake_ns(self) -> int | None:
        """When the decision may change without anything else happening (None: decided)."""
        if self.decision is not None:
            return None
        deadline = self.start_ns + self.healthy_deadline_ns
        if self.healthy_since_ns is None:
            return deadline
        return min(deadline, self.healthy_since_ns + self.min_healthy_ns)


def tracker_for(group: TaskGroup, now_ns: int, *, migrate: bool = False) -> HealthTracker | None:
    """A tracker from the group's ``update`` stanza (``migrate``: from its ``migrate`` stanza, for an
    allocation outside a deployment), or None when health is set by hand."""
    stanza: UpdateStrategy | MigrateStrategy = (group.Migrate or MigrateStrategy()) if migrate \
        else (group.Update or UpdateStrategy())
    mode = stanza.HealthCheck or HEALTH_CHECKS
    if mode == HEALTH_MANUAL:
        return None
    min_healthy = DEFAULT_MIN_HEALTHY_NS if stanza.MinHealthyTime is None else stanza.MinHealthyTime
    deadline = stanza.HealthyDeadline or DEFAULT_HEALTHY_DEADLINE_NS
    return HealthTracker(start_ns=now_ns, min_healthy_ns=min_healthy, healthy_deadline_ns=deadline,
                         use_checks=mode == HEALTH_CHECKS)


def tracked(alloc: Allocation) -> bool:
    """Whether the client decides this allocation's health: one of a deployment, or of a service job
    (for migrations), as Nomad's clients do."""
    return bool(alloc.DeploymentID) or (alloc.Job is not None and alloc.Job.Type == JobType.SERVICE)
