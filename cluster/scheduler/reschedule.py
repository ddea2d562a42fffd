"""Reschedule policies: when a failed allocation may be replaced, and after what delay.

The delay grows with each reschedule in the allocation's tracker: ``constant`` keeps ``delay``,
``exponential`` doubles the last one, ``fibonacci`` adds the last two, all capped at
``max_delay`` (and starting over once the allocation ran longer than the cap since its last
reschedule). Without ``unlimited``, at most ``attempts`` reschedules within ``interval`` of the
failure are allowed. These are Nomad's rules (``Allocation.NextDelay``, ``NextRescheduleTime``).
"""

from __future__ import annotations

from cluster.scheduler.allocs import lookup_group, should_reschedule, to_ns
from cluster.structs.alloc import Allocation, RescheduleEvent, RescheduleTracker
from cluster.structs.constants import AllocClientStatus, AllocDesiredStatus, JobType
from cluster.structs.group import ReschedulePolicy

__all__ = [
    "MAX_PAST_RESCHEDULE_EVENTS",
    "last_event_time_ns",
    "next_delay_ns",
    "next_reschedule_time",
    "reschedule_policy",
    "updated_tracker",
]

MAX_PAST_RESCHEDULE_EVENTS = 5


def reschedule_policy(alloc: Allocation) -> ReschedulePolicy | None:
    tg = lookup_group(alloc.Job, alloc.TaskGroup)
    return tg.ReschedulePolicy if tg is not None else None


def last_event_time_ns(alloc: Allocation) -> int:
    """When the allocation last finished a task (its failure time); its modify time if unknown."""
    latest = 0
    for state in (alloc.TaskStates or {}).values():
        latest = max(latest, to_ns(state.FinishedAt))
    return latest or alloc.ModifyTime


def next_delay_ns(alloc: Allocation, policy: ReschedulePolicy | None = None) -> int:
    policy = policy or reschedule_policy(alloc)
    if policy is None:
        return 0
    delay = policy.Delay or 0
    events = (alloc.RescheduleTracker.Events if alloc.RescheduleTracker else None) or []
    if not events:
        return delay
    function = policy.DelayFunction or "constant"
    if function == "exponential":
        delay = events[-1].Delay * 2
    elif function == "fibonacci":
        if len(events) >= 2:
            last, before = events[-1].Delay, events[-2].Delay
            # A capped series starts over: (max, delay) restarts at delay.
            delay = last if before == (policy.MaxDelay or 0) and last == (policy.Delay or 0) else last + before
    else:
        return delay
    max_delay = policy.MaxDelay or 0
    if max_delay > 0 and delay > max_delay:
        delay = max_delay
        if last_event_time_ns(alloc) - events[-1].RescheduleTime > delay:
            delay = policy.Delay or 0
    return delay


def _attempted(tracker: RescheduleTracker | None, policy: ReschedulePolicy, fail_ns: int) -> int:
    if tracker is None or not (policy.Attempts or 0):
        return 0
    interval = policy.Interval or 0
    return sum(1 for e in tracker.Events or () if fail_ns - e.RescheduleTime < interval)


def next_reschedule_time(alloc: Allocation, fail_ns: int | None = None) -> tuple[int, bool]:
    """(Unix ns at or after which the allocation may be replaced, whether policy allows it at all)."""
    policy = reschedule_policy(alloc)
    if policy is None or (not (policy.Attempts or 0) and not policy.Unlimited):
        return 0, False
    if fail_ns is None:
        fail_ns = last_event_time_ns(alloc)
        batch_rescheduled = alloc.Job is not None and alloc.Job.Type == JobType.BATCH and should_reschedule(alloc)
        if (alloc.DesiredStatus == AllocDesiredStatus.STOP
                or (not batch_rescheduled
                    and alloc.ClientStatus not in (AllocClientStatus.FAILED, AllocClientStatus.LOST))
                or not fail_ns):
            return 0, False
    delay = next_delay_ns(alloc, policy)
    at = fail_ns + delay
    eligible = bool(policy.Unlimited) or ((policy.Attempts or 0) > 0 and alloc.RescheduleTracker is None)
    if (policy.Attempts or 0) > 0 and alloc.RescheduleTracker is not None and alloc.RescheduleTracker.Events:
        eligible = _attempted(alloc.RescheduleTracker, policy, fail_ns) < (policy.Attempts or 0) \
            and delay < (policy.Interval or 0)
    return at, eligible


def updated_tracker(prev: Allocation, now_ns: int) -> RescheduleTracker:
    """The tracker of ``prev``'s replacement: past events still in the policy's window (the last
    five when unlimited) plus this reschedule."""
    policy = reschedule_policy(prev)
    events: list[RescheduleEvent] = []
    past = (prev.RescheduleTracker.Events if prev.RescheduleTracker else None) or []
    if policy is not None and (policy.Attempts or 0) > 0:
        interval = policy.Interval or 0
        events = [e for e in past if interval > 0 and now_ns - e.RescheduleTime <= interval]
    else:
        events = list(past[-MAX_PAST_RESCHEDULE_EVENTS:])
    events.append(RescheduleEvent(RescheduleTime=now_ns, PrevAllocID=prev.ID, PrevNodeID=prev.NodeID,
                                  Delay=next_delay_ns(prev, policy)))
    return RescheduleTracker(Events=events)
