"""Checks of the policy blocks: update, migrate, restart, reschedule, ephemeral_disk, logs,
disconnect and scaling. Each takes a canonical block and returns ``Problem``s (field, message).
Limits and messages follow Nomad's validation of the same blocks.
"""

from __future__ import annotations

from cluster.structs.base import SECOND_NS
from cluster.structs.common import RestartPolicy, ScalingPolicy
from cluster.structs.constants import (
    DELAY_FUNCTIONS,
    DISCONNECT_RECONCILE_OPTIONS,
    MIGRATE_HEALTH_CHECKS,
    RESTART_MODES,
    UPDATE_HEALTH_CHECKS,
)
from cluster.structs.group import (
    DisconnectStrategy,
    EphemeralDisk,
    MigrateStrategy,
    ReschedulePolicy,
    UpdateStrategy,
)
from cluster.structs.report import Problem, dur, need, one_of
from cluster.structs.task import LogConfig

__all__ = [
    "disconnect_problems",
    "disk_problems",
    "logs_problems",
    "migrate_problems",
    "reschedule_problems",
    "restart_problems",
    "scaling_problems",
    "update_problems",
]

RESTART_MIN_INTERVAL_NS = 5 * SECOND_NS
RESCHEDULE_MIN_DELAY_NS = 5 * SECOND_NS
RESCHEDULE_MIN_INTERVAL_NS = 15 * SECOND_NS
MIN_DISK_MB = 10


def _not_negative(field: str, value: int, show: bool = False) -> list[Problem]:
    if value >= 0:
        return []
    return [(field, f"must not be negative, got {dur(value) if show else value}")]


def update_problems(u: UpdateStrategy) -> list[Problem]:
    health_check, max_parallel, canary = need(u.HealthCheck), need(u.MaxParallel), need(u.Canary)
    min_healthy, healthy, progress = need(u.MinHealthyTime), need(u.HealthyDeadline), need(u.ProgressDeadline)
    out: list[Problem] = []
    if health_check not in UPDATE_HEALTH_CHECKS:
        out.append(("health_check", one_of(UPDATE_HEALTH_CHECKS, health_check)))
    out += _not_negative("max_parallel", max_parallel)
    out += _not_negative("canary", canary)
    if canary == 0 and need(u.AutoPromote):
        out.append(("auto_promote", "needs canary to be greater than 0"))
    out += _not_negative("min_healthy_time", min_healthy, show=True)
    if healthy <= 0:
        out.append(("healthy_deadline", f"must be greater than 0, got {dur(healthy)}"))
    out += _not_negative("progress_deadline", progress, show=True)
    if min_healthy >= 0 and 0 < healthy <= min_healthy:
        out.append(("min_healthy_time", f"must be less than healthy_deadline ({dur(healthy)}), got {dur(min_healthy)}"))
    if progress > 0 and healthy >= progress:
        out.append(("healthy_deadline", f"must be less than progress_deadline ({dur(progress)}), got {dur(healthy)}"))
    if need(u.Stagger) <= 0:
        out.append(("stagger", f"must be greater than 0, got {dur(need(u.Stagger))}"))
    return out


def migrate_problems(m: MigrateStrategy) -> list[Problem]:
    health_check, min_healthy, healthy = need(m.HealthCheck), need(m.MinHealthyTime), need(m.HealthyDeadline)
    out: list[Problem] = _not_negative("max_parallel", need(m.MaxParallel))
    if health_check not in MIGRATE_HEALTH_CHECKS:
        out.append(("health_check", one_of(MIGRATE_HEALTH_CHECKS, health_check)))
    out += _not_negative("min_healthy_time", min_healthy, show=True)
    out += _not_negative("healthy_deadline", healthy, show=True)
    if healthy >= 0 and min_healthy > healthy:
        out.append(("min_healthy_time", f"must not exceed healthy_deadline ({dur(healthy)}), got {dur(min_healthy)}"))
    return out


def restart_problems(r: RestartPolicy) -> list[Problem]:
    mode, attempts, interval, delay = need(r.Mode), need(r.Attempts), need(r.Interval), need(r.Delay)
    out: list[Problem] = []
    if mode not in RESTART_MODES:
        out.append(("mode", one_of(RESTART_MODES, mode)))
    out += _not_negative("attempts", attempts)
    if attempts == 0 and mode == "delay":
        out.append(("attempts", 'must be greater than 0 when mode is "delay"'))
    out += _not_negative("delay", delay, show=True)
    if interval < RESTART_MIN_INTERVAL_NS:
        out.append(("interval", f"must be at least {dur(RESTART_MIN_INTERVAL_NS)}, got {dur(interval)}"))
    elif attempts > 0 and delay > 0 and attempts * delay > interval:
        out.append((
            "interval",
            f"must fit {attempts} attempts {dur(delay)} apart ({dur(attempts * delay)}), got {dur(interval)}",
        ))
    return out


def reschedule_problems(r: ReschedulePolicy) -> list[Problem]:
    """Nothing to check when rescheduling is off (no attempts and not unlimited), as in Nomad."""
    attempts, unlimited = need(r.Attempts), need(r.Unlimited)
    if attempts < 0:
        return _not_negative("attempts", attempts)
    if attempts == 0 and not unlimited:
        return []
    interval, delay, max_delay, function = need(r.Interval), need(r.Delay), need(r.MaxDelay), need(r.DelayFunction)
    out: list[Problem] = []
    if attempts > 0 and unlimited:
        out.append(("unlimited", "cannot be true when attempts is set; use one or the other"))
    if delay < RESCHEDULE_MIN_DELAY_NS:
        out.append(("delay", f"must be at least {dur(RESCHEDULE_MIN_DELAY_NS)}, got {dur(delay)}"))
    if function not in DELAY_FUNCTIONS:
        out.append(("delay_function", one_of(DELAY_FUNCTIONS, function)))
    elif function != "constant":
        if max_delay < RESCHEDULE_MIN_DELAY_NS:
            out.append(("max_delay", f"must be at least {dur(RESCHEDULE_MIN_DELAY_NS)}, got {dur(max_delay)}"))
        elif max_delay < delay:
            out.append(("max_delay", f"must be at least delay ({dur(delay)}), got {dur(max_delay)}"))
    if not unlimited:
        if interval < RESCHEDULE_MIN_INTERVAL_NS:
            out.append(("interval", f"must be at least {dur(RESCHEDULE_MIN_INTERVAL_NS)}, got {dur(interval)}"))
        elif not out:
            needed = _reschedule_span(attempts, delay, max_delay, function)
            if needed > interval:
                out.append((
                    "interval",
                    f"must fit {attempts} attempts with {function} delay from {dur(delay)} "
                    f"(at least {dur(needed)}), got {dur(interval)}",
                ))
    return out


def _reschedule_span(attempts: int, delay: int, max_delay: int, function: str) -> int:
    """The interval ``attempts`` reschedules need: all their delays for a constant delay; the
    longest single delay (capped at ``max_delay``) when the delay grows."""
    if function == "constant":
        return attempts * delay
    if function == "exponential":
        longest = delay
        for i in range(1, attempts):
            if longest >= max_delay:
                break
            longest = delay * 2**i
        return min(longest, max_delay)
    before, last = delay, delay  # fibonacci: d, d, 2d, 3d, 5d, ...
    for _ in range(2, attempts):
        if last >= max_delay:
            break
        before, last = last, before + last
    return min(last, max_delay)


def disk_problems(d: EphemeralDisk) -> list[Problem]:
    size = need(d.SizeMB)
    if size < MIN_DISK_MB:
        return [("size", f"must be at least {MIN_DISK_MB} MB, got {size}")]
    return []


def logs_problems(logs: LogConfig, disk: EphemeralDisk) -> list[Problem]:
    files, size = need(logs.MaxFiles), need(logs.MaxFileSizeMB)
    out: list[Problem] = []
    if files < 1:
        out.append(("max_files", f"must be at least 1, got {files}"))
    if size < 1:
        out.append(("max_file_size", f"must be at least 1 MB, got {size}"))
    disk_mb = need(disk.SizeMB)
    if not out and not logs.Disabled and disk_mb >= MIN_DISK_MB and files * size >= disk_mb:
        out.append((
            "",
            f"logs may use {files * size} MB ({files} files of {size} MB), "
            f"which must be less than the group's ephemeral_disk size ({disk_mb} MB)",
        ))
    return out


def disconnect_problems(d: DisconnectStrategy) -> list[Problem]:
    out: list[Problem] = []
    if d.LostAfter is not None:
        out += _not_negative("lost_after", d.LostAfter, show=True)
    if d.StopOnClientAfter is not None:
        out += _not_negative("stop_on_client_after", d.StopOnClientAfter, show=True)
    if d.LostAfter and d.StopOnClientAfter:
        out.append(("stop_on_client_after", "cannot be used together with lost_after"))
    reconcile = need(d.Reconcile)
    if reconcile not in DISCONNECT_RECONCILE_OPTIONS:
        out.append(("reconcile", one_of(DISCONNECT_RECONCILE_OPTIONS, reconcile)))
    return out


def scaling_problems(s: ScalingPolicy, count: int) -> list[Problem]:
    """A group's horizontal scaling bounds, and the group's count within them."""
    out: list[Problem] = []
    low = need(s.Min)
    if s.Type not in ("horizontal", ""):
        out.append(("type", f'must be "horizontal" in a group, got "{s.Type}"'))
    if s.Max is None:
        return [*out, ("max", "is required")]
    out += _not_negative("min", low)
    out += _not_negative("max", s.Max)
    if low > s.Max:
        out.append(("max", f"must be at least min ({low}), got {s.Max}"))
    return out
