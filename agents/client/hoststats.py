"""The host's resource usage for ``ClientStats.Stats`` (``nomad node status -stats``), in Nomad's shape.

CPU percentages are since the previous sample (psutil keeps the last one), so the first answer after
start covers the time since the client started.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import msgspec
import psutil

__all__ = ["HostCPUStats", "HostDiskStats", "HostMemoryStats", "HostStats", "host_stats"]


class HostMemoryStats(msgspec.Struct, kw_only=True):
    Total: int = 0
    Available: int = 0
    Used: int = 0
    Free: int = 0


class HostCPUStats(msgspec.Struct, kw_only=True):
    CPU: str = ""
    User: float = 0.0
    System: float = 0.0
    Idle: float = 0.0
    Total: float = 0.0


class HostDiskStats(msgspec.Struct, kw_only=True):
    Device: str = ""
    Mountpoint: str = ""
    Size: int = 0
    Used: int = 0
    Available: int = 0
    UsedPercent: float = 0.0
    InodesUsedPercent: float = 0.0


class HostStats(msgspec.Struct, kw_only=True):
    Memory: HostMemoryStats | None = None
    CPU: list[HostCPUStats] | None = None
    DiskStats: list[HostDiskStats] | None = None
    AllocDirStats: HostDiskStats | None = None
    Uptime: int = 0
    Timestamp: int = 0
    CPUTicksConsumed: float = 0.0


def _disk(device: str, mountpoint: str) -> HostDiskStats:
    usage = psutil.disk_usage(mountpoint)
    inodes = 0.0
    with contextlib.suppress(OSError):
        st = os.statvfs(mountpoint)
        inodes = 100.0 * (st.f_files - st.f_ffree) / st.f_files if st.f_files else 0.0
    return HostDiskStats(Device=device, Mountpoint=mountpoint, Size=usage.total, Used=usage.used,
                         Available=usage.free, UsedPercent=usage.percent, InodesUsedPercent=inodes)


def host_stats(data_dir: Path, total_mhz: int) -> HostStats:
    """One sample. ``CPUTicksConsumed`` is the busy share of ``total_mhz`` (the node's compute)."""
    vm = psutil.virtual_memory()
    cpus = []
    for i, t in enumerate(psutil.cpu_times_percent(percpu=True)):
        busy = 100.0 - t.idle
        cpus.append(HostCPUStats(CPU=f"cpu{i}", User=t.user, System=t.system, Idle=t.idle, Total=busy))
    disks = []
    for part in psutil.disk_partitions(all=False):
        with contextlib.suppress(OSError):
            disks.append(_disk(part.device, part.mountpoint))
    busy_share = sum(c.Total for c in cpus) / (100.0 * len(cpus)) if cpus else 0.0
    return HostStats(
        Memory=HostMemoryStats(Total=vm.total, Available=vm.available, Used=vm.used, Free=vm.free),
        CPU=cpus, DiskStats=disks, AllocDirStats=_disk("", str(data_dir)),
        Uptime=int(time.time() - psutil.boot_time()), Timestamp=time.time_ns(),
        CPUTicksConsumed=busy_share * total_mhz)
