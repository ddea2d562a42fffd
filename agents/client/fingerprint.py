"""Fingerprinting: what a client machine offers, as Nomad's node attributes and resources.

Two halves: ``collect_facts`` reads the machine (psutil, platform, the data dir's file system) and
returns plain ``MachineFacts`` (all the node reports; ``agents.config.HostFacts`` is the two facts the
configuration's defaults take); ``node_attributes`` and ``node_resources`` turn facts into Nomad's
``Attributes`` map (``cpu.numcores``, ``kernel.name``, ``unique.storage.bytesfree``, ...) and
``NodeResources``, with no I/O, so they are tested with fixed facts. Drivers add their own
``driver.<name>`` attributes from their fingerprints.
"""

from __future__ import annotations

import ipaddress
import os
import platform
import socket
from dataclasses import dataclass
from pathlib import Path

import psutil

from cluster.structs import (
    NodeCpuResources,
    NodeDiskResources,
    NodeMemoryResources,
    NodeResources,
)

__all__ = ["MachineFacts", "collect_facts", "node_attributes", "node_resources"]

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class MachineFacts:
    """A client machine as fingerprinted: what its node's attributes and resources are made of."""

    hostname: str
    cores: int
    mhz: int  # per core, as fingerprinted (the max frequency when known)
    cpu_model: str
    arch: str  # Go's spelling: amd64, arm64, 386
    memory_bytes: int
    kernel_name: str  # linux
    kernel_version: str
    os_name: str  # debian
    os_version: str
    data_dir: str
    disk_total_bytes: int
    disk_free_bytes: int
    ip_address: str


# The former name, kept only while ``agents.client.node`` and its test (owned elsewhere) still import it:

_GO_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "i686": "386", "i386": "386", "armv7l": "arm"}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mhz() -> int:
    freq = psutil.cpu_freq()
    if freq is not None and (freq.max or freq.current):
        return int(freq.max or freq.current)
    # Virtual machines often hide cpufreq; /proc/cpuinfo still says what the CPU runs at.
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("cpu MHz"):
                return int(float(line.split(":", 1)[1]))
    except (OSError, ValueError):
        pass
    return 1000  # Nomad's fallback when the frequency cannot be read


def _os_release() -> tuple[str, str]:
    try:
        info = platform.freedesktop_os_release()
    except OSError:
        return platform.system().lower(), ""
    return info.get("ID", "linux"), info.get("VERSION_ID", "")


def _ip_address(bind: str | None) -> str:
    """The address other machines reach this one at: the bind address if it is specific, else the
    first non-loopback IPv4 of an interface that is up, else loopback (a single-machine setup)."""
    if bind and bind not in ("0.0.0.0", "::"):
        return bind
    stats = psutil.net_if_stats()
    for name, addrs in psutil.net_if_addrs().items():
        if not stats.get(name) or not stats[name].isup:
            continue
        for addr in addrs:
            if addr.family == socket.AF_INET and not ipaddress.ip_address(addr.address).is_loopback:
                return str(addr.address)
    return "127.0.0.1"


def collect_facts(data_dir: str | Path, *, bind: str | None = None) -> MachineFacts:
    """Reads this machine. ``data_dir`` is where allocations live: its file system is the disk."""
    data = Path(data_dir)
    data.mkdir(parents=True, exist_ok=True)
    disk = os.statvfs(data)
    uname = platform.uname()
    os_name, os_version = _os_release()
    return MachineFacts(
        hostname=socket.gethostname(),
        cores=psutil.cpu_count(logical=True) or 1,
        mhz=_mhz(),
        cpu_model=_cpu_model(),
        arch=_GO_ARCH.get(uname.machine, uname.machine),
        memory_bytes=psutil.virtual_memory().total,
        kernel_name=uname.system.lower(),
        kernel_version=uname.release.split("-")[0],
        os_name=os_name,
        os_version=os_version,
        data_dir=str(data.resolve()),
        disk_total_bytes=disk.f_blocks * disk.f_frsize,
        disk_free_bytes=disk.f_bavail * disk.f_frsize,
        ip_address=_ip_address(bind),
    )


def node_attributes(facts: MachineFacts, *, version: str) -> dict[str, str]:
    """Nomad's node attributes for these facts (what constraints like ``${attr.kernel.name}`` read)."""
    return {
        "arch": facts.arch,
        "cpu.arch": facts.arch,
        "cpu.numcores": str(facts.cores),
        "cpu.frequency": str(facts.mhz),
        "cpu.totalcompute": str(facts.cores * facts.mhz),
        "cpu.modelname": facts.cpu_model,
        "memory.totalbytes": str(facts.memory_bytes),
        "kernel.name": facts.kernel_name,
        "kernel.version": facts.kernel_version,
        "os.name": facts.os_name,
        "os.version": facts.os_version,
        "unique.hostname": facts.hostname,
        "unique.network.ip-address": facts.ip_address,
        "unique.storage.volume": facts.data_dir,
        "unique.storage.bytestotal": str(facts.disk_total_bytes),
        "unique.storage.bytesfree": str(facts.disk_free_bytes),
        "nomad.version": version,
        "caravan.version": version,
    }


def node_resources(facts: MachineFacts) -> NodeResources:
    """What the node offers the scheduler: CPU in MHz (cores x MHz), memory and free disk in MB."""
    return NodeResources(
        Cpu=NodeCpuResources(
            CpuShares=facts.cores * facts.mhz,
            TotalCpuCores=facts.cores,
            ReservableCpuCores=list(range(facts.cores)),
        ),
        Memory=NodeMemoryResources(MemoryMB=facts.memory_bytes // MIB),
        Disk=NodeDiskResources(DiskMB=facts.disk_free_bytes // MIB),
        MinDynamicPort=20000,
        MaxDynamicPort=32000,
    )
