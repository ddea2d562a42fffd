"""The node a client registers: a lasting identity and the fingerprint plus the operator's settings."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from agents.client.fingerprint import MachineFacts
from agents.client.node import build_node, node_identity
from agents.config import load
from cluster.structs.node import DriverInfo

FACTS = MachineFacts(hostname="h1", cores=4, mhz=2000, cpu_model="cpu", arch="amd64", memory_bytes=8 << 30,
                  kernel_name="linux", kernel_version="6.1", os_name="debian", os_version="12",
                  data_dir="/d", disk_total_bytes=100 << 30, disk_free_bytes=50 << 30, ip_address="10.0.0.5")
KEY = "c2VydmVyLWFnZW50LXRlc3QtY2x1c3Rlci1rZXktMzI="


def test_a_node_keeps_its_id_and_secret_across_restarts(tmp_path: Path) -> None:
    first = node_identity(tmp_path / "a")
    assert node_identity(tmp_path / "a") == first
    other = node_identity(tmp_path / "b")
    assert other[0] != first[0] and other[1] != first[1] and first[0] != first[1]


def test_the_node_carries_drivers_settings_and_overrides(tmp_path: Path) -> None:
    hcl = tmp_path / "c.hcl"
    hcl.write_text('client {\n  enabled = true\n  servers = ["127.0.0.1"]\n  node_class = "batch"\n'
                   '  cpu_total_compute = 1234\n  meta {\n    rack = "r7"\n  }\n}\n')
    config = load(["-client", "-data-dir", str(tmp_path), "-encrypt", KEY, "-dc", "east", "-config", str(hcl)]).config
    seen = datetime(2026, 1, 1, tzinfo=UTC)
    drivers = {"raw_exec": DriverInfo(Detected=True, Healthy=True, Attributes={"driver.raw_exec.x": "y"},
                                      UpdateTime=seen),
               "docker": DriverInfo(Detected=False, Healthy=False, UpdateTime=seen)}
    node = build_node(config=config, facts=FACTS, drivers=drivers, node_id="n1", secret_id="s1")
    assert (node.ID, node.SecretID, node.Datacenter, node.NodeClass) == ("n1", "s1", "east", "batch")
    assert node.Status == "ready" and node.SchedulingEligibility == "eligible"
    assert node.Meta == {"rack": "r7"}
    attrs = node.Attributes or {}
    assert attrs["driver.raw_exec"] == "1" and attrs["driver.raw_exec.x"] == "y" and "driver.docker" not in attrs
    assert attrs["kernel.name"] == "linux" and attrs["unique.network.ip-address"] == "10.0.0.5"
    assert node.NodeResources is not None and node.NodeResources.Cpu.CpuShares == 1234
    assert node.NodeResources.Memory.MemoryMB == 8192
    assert node.Drivers is not None and not node.Drivers["docker"].Healthy
