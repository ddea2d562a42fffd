"""Processes named safely across client restarts, and their resource usage (psutil).

A pid alone does not name a process for long: once the process is gone the kernel hands the number
to the next one. A ``ProcessIdentity`` is the pid and the process's start time; a process matches
only if both do, so a recovered driver never signals or adopts a stranger that got a recycled pid.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import psutil

__all__ = ["CpuMeter", "ProcessIdentity", "TreeUsage", "tree_usage"]

# psutil derives start times from clock ticks since boot (10 ms); equal processes give equal floats,
# the tolerance only absorbs float formatting through JSON.
_START_TIME_TOLERANCE_S = 0.001


@dataclass(frozen=True, slots=True)
class ProcessIdentity:
    """A pid together with the process's start time (Unix seconds, as psutil reports it)."""

    pid: int
    start_time_s: float

    @classmethod
    def of(cls, pid: int) -> ProcessIdentity:
        """The identity of the live process ``pid``; raises ``psutil.NoSuchProcess`` if there is none."""
        return cls(pid, psutil.Process(pid).create_time())

    def process(self) -> psutil.Process | None:
        """The live (or zombie) process with this identity, or None when it is gone or the pid now
        belongs to another process."""
        try:
            process = psutil.Process(self.pid)
            same = abs(process.create_time() - self.start_time_s) <= _START_TIME_TOLERANCE_S
        except psutil.NoSuchProcess:
            return None
        return process if same else None

    def alive(self) -> bool:
        """Whether the process still runs (a zombie has exited and only waits to be reaped)."""
        process = self.process()
        if process is None:
            return False
        try:
            return bool(process.status() != psutil.STATUS_ZOMBIE)
        except psutil.NoSuchProcess:
            return False

    def signal_group(self, sig: int) -> bool:
        """Sends ``sig`` to the process group this process leads (the task and all its children).

        Only while the leader still exists (running or a zombie not yet reaped), because only then
        is its pid, the group's id, certain not to name another group. Returns whether it was sent.
        """
        if self.process() is None:
            return False
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            return False
        return True

    def to_json(self) -> dict[str, float]:
        return {"pid": self.pid, "start_time_s": self.start_time_s}

    @classmethod
    def from_json(cls, data: dict[str, float]) -> ProcessIdentity:
        return cls(int(data["pid"]), float(data["start_time_s"]))


@dataclass(frozen=True, slots=True)
class TreeUsage:
    """Summed usage of a process and all its descendants at one moment."""

    cpu_user_s: float
    cpu_system_s: float
    memory_rss_bytes: int
    memory_vms_bytes: int
    pids: int


def tree_usage(root: psutil.Process) -> TreeUsage:
    """Sums CPU times and memory over ``root`` and its descendants (those that vanish meanwhile count
    as zero). CPU of children that already exited is not included: it left with them."""
    user = system = 0.0
    rss = vms = count = 0
    try:
        members = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        members = [root]
    for process in members:
        try:
            with process.oneshot():
                times = process.cpu_times()
                memory = process.memory_info()
        except psutil.NoSuchProcess:
            continue
        user += times.user
        system += times.system
        rss += memory.rss
        vms += memory.vms
        count += 1
    return TreeUsage(user, system, rss, vms, count)


class CpuMeter:
    """Turns cumulative CPU seconds into a percentage between successive samples of one task.

    The first sample has no predecessor, so it reports the average since the task started, which
    is what a user expects to see rather than 0.
    """

    def __init__(self, started_at_s: float) -> None:
        self._last_cpu_s = 0.0
        self._last_wall_s = started_at_s
        self._last_mono_s: float | None = None

    def percent(self, cpu_total_s: float) -> float:
        now_mono = time.monotonic()
        if self._last_mono_s is None:
            elapsed = max(time.time() - self._last_wall_s, 1e-3)
        else:
            elapsed = max(now_mono - self._last_mono_s, 1e-3)
        used = max(cpu_total_s - self._last_cpu_s, 0.0)
        self._last_cpu_s, self._last_mono_s = cpu_total_s, now_mono
        return 100.0 * used / elapsed

