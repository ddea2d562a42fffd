"""Questions about one allocation that the reconciler and schedulers ask (Nomad's methods on
``Allocation``, ``DesiredTransition`` and ``AllocDeploymentStatus``), as plain functions."""

from __future__ import annotations

import re
from datetime import datetime

from cluster.structs.alloc import Allocation
from cluster.structs.base import GO_ZERO_TIME
from cluster.structs.constants import AllocClientStatus, AllocDesiredStatus
from cluster.structs.group import TaskGroup
from cluster.structs.job import Job

__all__ = [
    "alloc_index",
    "client_terminal",
    "disconnect_expired",
    "disconnect_window_ns",
    "index_of_name",
    "is_canary",
    "is_healthy",
    "is_unhealthy",
    "last_unknown_ns",
    "lookup_group",
    "needs_to_reconnect",
    "replaces_when_disconnected",
    "server_terminal",
    "should_force_reschedule",
    "should_migrate",
    "should_reschedule",
    "terminal",
    "to_ns",
]

_INDEX = re.compile(r"\[(\d+)\]$")
_EPOCH = datetime(1970, 1, 1, tzinfo=GO_ZERO_TIME.tzinfo)


def to_ns(ts: datetime) -> int:
    """Unix nanoseconds of a timestamp (0 for Go's zero time)."""
    if ts == GO_ZERO_TIME:
        return 0
    delta = ts - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def index_of_name(name: str) -> int:
    """The ``n`` of ``job.group[n]``."""
    match = _INDEX.search(name)
    return int(match.group(1)) if match else 0


def alloc_index(alloc: Allocation) -> int:
    return index_of_name(alloc.Name)


def server_terminal(a: Allocation) -> bool:
    return a.DesiredStatus in (AllocDesiredStatus.STOP, AllocDesiredStatus.EVICT)


def client_terminal(a: Allocation) -> bool:
    return a.ClientStatus in (AllocClientStatus.COMPLETE, AllocClientStatus.FAILED, AllocClientStatus.LOST)


def terminal(a: Allocation) -> bool:
    return server_terminal(a) or client_terminal(a)


def should_migrate(a: Allocation) -> bool:
    return a.DesiredTransition.Migrate is True


def should_reschedule(a: Allocation) -> bool:
    return a.DesiredTransition.Reschedule is True


def should_force_reschedule(a: Allocation) -> bool:
    return a.DesiredTransition.ForceReschedule is True


def is_canary(a: Allocation) -> bool:
    return a.DeploymentStatus is not None and a.DeploymentStatus.Canary


def is_healthy(a: Allocation) -> bool:
    return a.DeploymentStatus is not None and a.DeploymentStatus.Healthy is True


def is_unhealthy(a: Allocation) -> bool:
    return a.DeploymentStatus is not None and a.DeploymentStatus.Healthy is False


def lookup_group(job: Job | None, name: str) -> TaskGroup | None:
    for tg in (job.TaskGroups if job is not None else None) or ():
        if tg.Name == name:
            return tg
    return None


def ran_successfully(a: Allocation) -> bool:
    """Every task finished and none failed (a batch allocation that completed its work)."""
    states = a.TaskStates or {}
    return bool(states) and all(s.State == "dead" and not s.Failed for s in states.values())


def disconnect_window_ns(a: Allocation) -> int | None:
    """How long the allocation may stay ``unknown`` on a disconnected client before it is lost
    (``disconnect { lost_after }``, or the older ``max_client_disconnect``); None: it is lost at
    once, as without either."""
    tg = lookup_group(a.Job, a.TaskGroup)
    if tg is None:
        return None
    if tg.Disconnect is not None and tg.Disconnect.LostAfter:
        return tg.Disconnect.LostAfter
    return tg.MaxClientDisconnect or None


def replaces_when_disconnected(a: Allocation) -> bool:
    """Whether an ``unknown`` allocation gets a replacement while its client is away
    (``disconnect { replace }``, default true; the older ``prevent_reschedule_on_lost`` inverts it)."""
    tg = lookup_group(a.Job, a.TaskGroup)
    if tg is None:
        return True
    if tg.Disconnect is not None and tg.Disconnect.Replace is not None:
        return tg.Disconnect.Replace
    return not tg.PreventRescheduleOnLost


def last_unknown_ns(a: Allocation) -> int:
    """When the servers last recorded the allocation going ``unknown`` (0: never)."""
    for state in reversed(a.AllocStates or ()):
        if state.Field == "ClientStatus" and state.Value == AllocClientStatus.UNKNOWN:
            return to_ns(state.Time)
    return 0


def needs_to_reconnect(a: Allocation) -> bool:
    """The last client status the servers recorded is ``unknown``: its client was away and the
    allocation has not been reconciled since (Nomad's ``NeedsToReconnect``)."""
    for state in reversed(a.AllocStates or ()):
        if state.Field == "ClientStatus":
            return state.Value == AllocClientStatus.UNKNOWN
    return False


def disconnect_expired(a: Allocation, now_ns: int) -> bool:
    """An ``unknown`` allocation whose disconnect window has run out: now lost."""
    if a.ClientStatus != AllocClientStatus.UNKNOWN:
        return False
    since = last_unknown_ns(a)
    window = disconnect_window_ns(a)
    return bool(since) and window is not None and now_ns >= since + window
