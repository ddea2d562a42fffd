"""The restart policy tracker: whether, and after how long, a task that ended is started again.

Pure: it reads no clock (the caller passes ``now_ns``) and no global random (the caller injects a
``random.Random``), so every decision is table-tested.

Nomad's rules, which this follows:
- Attempts are counted within an interval that starts at the first counted restart; once ``now``
  is past the interval's end the count starts over.
- A restart within the policy waits ``delay`` plus a jitter of up to a quarter of it (so many tasks
  that fail together do not come back in lockstep).
- More than ``attempts`` in the interval: mode "fail" gives up (the task fails, the allocation may be
  rescheduled elsewhere); mode "delay" waits until the interval ends, then starts counting again.
- A task that exits successfully is restarted only when the job is a service or system job and the
  task is not an ephemeral lifecycle hook (a prestart or poststart task without ``sidecar``, or a
  poststop task): batch work that is done stays done.
- A restart asked for by someone (template re-render, ``nomad alloc restart``) always happens, at once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import Enum

from cluster.structs import RestartPolicy, TaskLifecycle

__all__ = ["JITTER_FRACTION", "RestartDecision", "RestartTracker", "Verdict"]

JITTER_FRACTION = 0.25

REASON_WITHIN_POLICY = "Restart within policy"
REASON_NO_RESTARTS = "Policy allows no restarts"
REASON_UNRECOVERABLE = "Error was unrecoverable"
REASON_DELAY = "Exceeded allowed attempts, applying a delay"
REASON_TRIGGERED = "Restart requested"
REASON_SUCCESS = "Restart unnecessary as task terminated successfully"


class Verdict(Enum):
    RESTART = "restart"
    NOT_RESTARTING = "not_restarting"  # the task failed for good
    EXITED = "exited"  # the task is done, successfully


@dataclass(frozen=True, slots=True)
class RestartDecision:
    verdict: Verdict
    delay_ns: int = 0
    reason: str = ""


class RestartTracker:
    """Tracks one task's restarts against its policy. ``count`` is the attempts in this interval."""

    def __init__(self, policy: RestartPolicy, job_type: str, lifecycle: TaskLifecycle | None,
                 rng: random.Random) -> None:
        assert policy.Attempts is not None and policy.Interval is not None and policy.Delay is not None, (
            "the task's restart policy must be canonical")
        assert policy.Mode in ("fail", "delay"), policy.Mode
        self.policy = policy
        self.rng = rng
        self.restart_on_success = _restarts_on_success(job_type, lifecycle)
        self.count = 0
        self.interval_start_ns: int | None = None

    def on_exit(self, successful: bool, now_ns: int) -> RestartDecision:
        """The task's process ended (``successful``: exit code 0, no signal)."""
        if successful and not self.restart_on_success:
            return RestartDecision(Verdict.EXITED, reason=REASON_SUCCESS)
        return self._count_attempt(now_ns, successful)

    def on_start_error(self, recoverable: bool, now_ns: int) -> RestartDecision:
        """The driver could not start the task; an unrecoverable error (bad config) is never retried."""
        if not recoverable:
            return RestartDecision(Verdict.NOT_RESTARTING, reason=REASON_UNRECOVERABLE)
        return self._count_attempt(now_ns, successful=False)

    def on_restart_request(self) -> RestartDecision:
        """Someone asked for a restart: it happens now and does not count against the policy."""
        return RestartDecision(Verdict.RESTART, 0, REASON_TRIGGERED)

    def _count_attempt(self, now_ns: int, successful: bool) -> RestartDecision:
        attempts, interval_ns = self.policy.Attempts or 0, self.policy.Interval or 0
        if attempts == 0:
            verdict = Verdict.EXITED if successful else Verdict.NOT_RESTARTING
            return RestartDecision(verdict, reason=REASON_NO_RESTARTS)
        if self.interval_start_ns is None or now_ns > self.interval_start_ns + interval_ns:
            self.interval_start_ns, self.count = now_ns, 0
        self.count += 1
        if self.count <= attempts:
            return RestartDecision(Verdict.RESTART, self._jittered_delay_ns(), REASON_WITHIN_POLICY)
        if self.policy.Mode == "fail":
            reason = f'Exceeded allowed attempts {attempts} in interval {_duration(interval_ns)} and mode is "fail"'
            return RestartDecision(Verdict.NOT_RESTARTING, reason=reason)
        remaining_ns = max(0, self.interval_start_ns + interval_ns - now_ns)
        return RestartDecision(Verdict.RESTART, remaining_ns, REASON_DELAY)

    def _jittered_delay_ns(self) -> int:
        delay_ns = self.policy.Delay or 0
        if delay_ns <= 0:
            return 0
        return delay_ns + int(self.rng.randrange(delay_ns) * JITTER_FRACTION)


def _restarts_on_success(job_type: str, lifecycle: TaskLifecycle | None) -> bool:
    if job_type in ("batch", "sysbatch"):
        return False
    return lifecycle is None or not lifecycle.Hook or (lifecycle.Sidecar and lifecycle.Hook != "poststop")


def _duration(ns: int) -> str:
    """Go's short duration form for the common cases (``30m0s``, ``1h0m0s``, ``15s``)."""
    seconds = ns // 1_000_000_000
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
