"""Fingerprinting this machine (real reads) and turning facts into Nomad's attributes (pure)."""

from __future__ import annotations

import os
import platform
from pathlib import Path

from agents.client.fingerprint import MachineFacts, collect_facts, node_attributes, node_resources

FACTS = MachineFacts(
    hostname="worker-1", cores=4, mhz=2500, cpu_model="Test CPU", arch="amd64",
    memory_bytes=8 * 1024**3, kernel_name="linux", kernel_version="6.1.0", os_name="debian",
    os_version="12", data_dir="/var/lib/caravan", disk_total_bytes=100 * 1024**3,
    disk_free_bytes=60 * 1024**3, ip_address="10.0.0.5",
)


def test_attributes_use_nomads_names() -> None:
    attrs = node_attributes(FACTS, version="0.1.0")
    assert attrs["cpu.numcores"] == "4"
    assert attrs["cpu.totalcompute"] == "10000"
    assert attrs["kernel.name"] == "linux"
    assert attrs["os.name"] == "debian"
    assert attrs["unique.hostname"] == "worker-1"
    assert attrs["unique.network.ip-address"] == "10.0.0.5"
    assert attrs["memory.totalbytes"] == str(8 * 1024**3)
    assert all(isinstance(v, str) for v in attrs.values())


def test_resources_offer_cores_times_mhz_memory_and_free_disk() -> None:
    res = node_resources(FACTS)
    assert (res.Cpu.CpuShares, res.Cpu.TotalCpuCores) == (10000, 4)
    assert res.Cpu.ReservableCpuCores == [0, 1, 2, 3]
    assert res.Memory.MemoryMB == 8192
    assert res.Disk.DiskMB == 60 * 1024


def test_collect_facts_reads_this_machine(tmp_path: Path) -> None:
    facts = collect_facts(tmp_path / "data", bind="127.0.0.1")
    assert facts.cores == os.cpu_count()
    assert facts.mhz > 0
    assert facts.memory_bytes > 256 * 1024**2
    assert facts.kernel_name == platform.system().lower()
    assert facts.data_dir == str((tmp_path / "data").resolve())
    stat = os.statvfs(tmp_path)
    assert facts.disk_total_bytes == stat.f_blocks * stat.f_frsize
    assert 0 < facts.disk_free_bytes <= facts.disk_total_bytes
    assert facts.ip_address == "127.0.0.1"
    assert facts.arch in {"amd64", "arm64", "386", "arm"}


def test_unspecific_bind_picks_a_reachable_address(tmp_path: Path) -> None:
    facts = collect_facts(tmp_path, bind="0.0.0.0")
    assert facts.ip_address.count(".") == 3
