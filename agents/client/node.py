"""The client's node: its lasting identity and the ``Node`` it registers with the servers.

A node keeps its ID across restarts, as a Nomad client does (``<state_dir>/client-id`` and
``secret-id``): the servers then see a restarted client as the same node, so its allocations stay
its own and are reattached rather than replaced. The ``Node`` itself is rebuilt at every start from
the fingerprint and the configuration, so a changed machine or config is registered as it now is.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from pathlib import Path

from agents.client.fingerprint import MachineFacts, node_attributes, node_resources
from agents.config import AgentConfig
from cluster.structs import Node
from cluster.structs.constants import NodeStatus
from cluster.structs.node import (
    DriverInfo,
    NodeReservedCpuResources,
    NodeReservedDiskResources,
    NodeReservedMemoryResources,
    NodeReservedNetworkResources,
    NodeReservedResources,
)

__all__ = ["VERSION", "build_node", "node_identity", "reserved_resources"]

VERSION = "0.1.0"


def _read_or_create(path: Path) -> str:
    """The UUID kept in ``path``, written atomically the first time."""
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        text = ""
    if text:
        return text
    value = str(uuid.uuid4())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(value + "\n")
    os.replace(tmp, path)
    return value


def node_identity(state_dir: Path) -> tuple[str, str]:
    """The node's (ID, SecretID), the same after every restart with this state dir."""
    return _read_or_create(state_dir / "client-id"), _read_or_create(state_dir / "secret-id")


def build_node(*, config: AgentConfig, facts: MachineFacts, drivers: Mapping[str, DriverInfo],
               node_id: str, secret_id: str, http_addr: str = "") -> Node:
    """The node registered with the servers: fingerprinted attributes and resources, the operator's
    class, pool and meta, and each driver's fingerprint (the scheduler places on detected, healthy ones).

    ``HTTPAddr`` is, in Caravan, the address of the client's RPC listener (``ports.http`` on the node's
    address, or the dev agent's one RPC port): the web application reaches the client there for stats,
    logs and files, as Nomad's servers and UI reach a client's HTTP API."""
    attributes = node_attributes(facts, version=VERSION)
    for name, info in drivers.items():
        if info.Detected:
            attributes[f"driver.{name}"] = "1"
        attributes.update(info.Attributes or {})
    resources = node_resources(facts)
    c = config.client
    if c.cpu_total_compute_mhz:
        resources.Cpu.CpuShares = c.cpu_total_compute_mhz
    if c.memory_total_mb:
        resources.Memory.MemoryMB = c.memory_total_mb
    http_port = config.ports.http
    return Node(
        ID=node_id, SecretID=secret_id, Datacenter=config.datacenter, Name=config.name,
        HTTPAddr=http_addr or f"{facts.ip_address}:{http_port}", Attributes=attributes, NodeResources=resources,
        Meta=dict(c.meta) or None, NodeClass=c.node_class, NodePool=c.node_pool, Drivers=dict(drivers),
        SchedulingEligibility="eligible", Status=NodeStatus.READY, ReservedResources=reserved_resources(config))


def reserved_resources(config: AgentConfig) -> NodeReservedResources:
    """``client.reserved`` as the Node carries it: the servers subtract it from the fingerprinted
    resources when they check what fits (Nomad's ``ReservedResources``)."""
    r = config.client.reserved
    return NodeReservedResources(
        Cpu=NodeReservedCpuResources(CpuShares=r.cpu_mhz), Memory=NodeReservedMemoryResources(MemoryMB=r.memory_mb),
        Disk=NodeReservedDiskResources(DiskMB=r.disk_mb),
        Networks=NodeReservedNetworkResources(ReservedHostPorts=",".join(str(p) for p in r.reserved_ports)))
