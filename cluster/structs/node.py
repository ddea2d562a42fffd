"""A client node as the servers know it: identity, fingerprinted attributes and resources,
drivers, drain and eligibility. Times the node reports are RFC 3339 in Nomad's JSON (``datetime``
here); ``StatusUpdatedAt`` is Unix seconds, as Nomad has it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from cluster.structs.base import GO_ZERO_TIME, HotStruct
from cluster.structs.resources import NetworkResource, Resources

# The API names a field after this type; the alias lets later fields still name the type.
_Resources = Resources

__all__ = [
    "DeviceAttribute",
    "DrainMetadata",
    "DrainStrategy",
    "DriverInfo",
    "HostNetworkInfo",
    "HostVolumeInfo",
    "Node",
    "NodeCpuResources",
    "NodeDevice",
    "NodeDeviceLocality",
    "NodeDeviceResource",
    "NodeDiskResources",
    "NodeEvent",
    "NodeMemoryResources",
    "NodeReservedCpuResources",
    "NodeReservedDiskResources",
    "NodeReservedMemoryResources",
    "NodeReservedNetworkResources",
    "NodeReservedResources",
    "NodeResources",
]


class NodeCpuResources(HotStruct, kw_only=True):
    CpuShares: int = 0  # MHz
    TotalCpuCores: int = 0
    ReservableCpuCores: list[int] | None = None


class NodeMemoryResources(HotStruct, kw_only=True):
    MemoryMB: int = 0


class NodeDiskResources(HotStruct, kw_only=True):
    DiskMB: int = 0


class DeviceAttribute(HotStruct, kw_only=True):
    """One typed device attribute: exactly one of Float, Int, String, Bool is set."""

    Float: float | None = None
    Int: int | None = None
    String: str | None = None
    Bool: bool | None = None
    Unit: str = ""


class NodeDeviceLocality(HotStruct, kw_only=True):
    PciBusID: str = ""


class NodeDevice(HotStruct, kw_only=True):
    ID: str = ""
    Healthy: bool = False
    HealthDescription: str = ""
    Locality: NodeDeviceLocality | None = None


class NodeDeviceResource(HotStruct, kw_only=True):
    """A group of identical devices (same vendor/type/name) on a node."""

    Vendor: str = ""
    Type: str = ""
    Name: str = ""
    Instances: list[NodeDevice] | None = None
    Attributes: dict[str, DeviceAttribute] | None = None


class NodeResources(HotStruct, kw_only=True):
    """What a node offers: the scheduler's capacity side of bin packing."""

    Cpu: NodeCpuResources = msgspec.field(default_factory=NodeCpuResources)
    Memory: NodeMemoryResources = msgspec.field(default_factory=NodeMemoryResources)
    Disk: NodeDiskResources = msgspec.field(default_factory=NodeDiskResources)
    Networks: list[NetworkResource] | None = None
    NodeNetworks: list[dict[str, Any]] | None = None
    Devices: list[NodeDeviceResource] | None = None
    MinDynamicPort: int = 0
    MaxDynamicPort: int = 0


class NodeReservedCpuResources(HotStruct, kw_only=True):
    CpuShares: int = 0


class NodeReservedMemoryResources(HotStruct, kw_only=True):
    MemoryMB: int = 0


class NodeReservedDiskResources(HotStruct, kw_only=True):
    DiskMB: int = 0


class NodeReservedNetworkResources(HotStruct, kw_only=True):
    ReservedHostPorts: str = ""  # "22,80,8000-8100"


class NodeReservedResources(HotStruct, kw_only=True):
    """What the operator keeps back from the scheduler on this node."""

    Cpu: NodeReservedCpuResources = msgspec.field(default_factory=NodeReservedCpuResources)
    Memory: NodeReservedMemoryResources = msgspec.field(default_factory=NodeReservedMemoryResources)
    Disk: NodeReservedDiskResources = msgspec.field(default_factory=NodeReservedDiskResources)
    Networks: NodeReservedNetworkResources = msgspec.field(default_factory=NodeReservedNetworkResources)


class DriverInfo(HotStruct, kw_only=True):
    """A task driver as fingerprinted on the node."""

    Attributes: dict[str, str] | None = None
    Detected: bool = False
    Healthy: bool = False
    HealthDescription: str = ""
    UpdateTime: datetime = GO_ZERO_TIME


class DrainStrategy(HotStruct, kw_only=True):
    """An active drain. Nomad embeds its DrainSpec, so Deadline and IgnoreSystemJobs sit flat here."""

    Deadline: int = 0  # ns; -1 forces an immediate drain, 0 means no deadline
    IgnoreSystemJobs: bool = False
    ForceDeadline: datetime = GO_ZERO_TIME
    StartedAt: datetime = GO_ZERO_TIME


class DrainMetadata(HotStruct, kw_only=True):
    StartedAt: datetime = GO_ZERO_TIME
    UpdatedAt: datetime = GO_ZERO_TIME
    Status: str = ""
    AccessorID: str = ""
    Meta: dict[str, str] | None = None


class NodeEvent(HotStruct, kw_only=True):
    Message: str = ""
    Subsystem: str = ""
    Details: dict[str, str] | None = None
    Timestamp: datetime = GO_ZERO_TIME
    CreateIndex: int = 0


class HostVolumeInfo(HotStruct, kw_only=True):
    Path: str = ""
    ReadOnly: bool = False
    ID: str = ""


class HostNetworkInfo(HotStruct, kw_only=True):
    Name: str = ""
    CIDR: str = ""
    Interface: str = ""
    ReservedPorts: str = ""


class Node(HotStruct, kw_only=True):
    """A client node. ``ComputedClass`` groups nodes with identical scheduling-relevant attributes
    so the scheduler can reuse a feasibility answer for the whole class."""

    ID: str = ""
    SecretID: str = ""
    Datacenter: str = ""
    Name: str = ""
    HTTPAddr: str = ""
    TLSEnabled: bool = False
    Attributes: dict[str, str] | None = None
    Resources: Resources | None = None  # deprecated pre-0.9 shape, kept for old clients
    Reserved: _Resources | None = None  # deprecated pre-0.9 shape, kept for old clients
    NodeResources: NodeResources | None = None
    ReservedResources: NodeReservedResources | None = None
    Links: dict[str, str] | None = None
    Meta: dict[str, str] | None = None
    NodeClass: str = ""
    NodePool: str = ""
    CgroupParent: str = ""
    ComputedClass: str = ""
    Drain: bool = False
    DrainStrategy: DrainStrategy | None = None
    SchedulingEligibility: str = ""
    Status: str = ""
    StatusDescription: str = ""
    StatusUpdatedAt: int = 0  # Unix seconds
    Events: list[NodeEvent] | None = None
    Drivers: dict[str, DriverInfo] | None = None
    HostVolumes: dict[str, HostVolumeInfo] | None = None
    HostNetworks: dict[str, HostNetworkInfo] | None = None
    CSIControllerPlugins: dict[str, dict[str, Any]] | None = None
    CSINodePlugins: dict[str, dict[str, Any]] | None = None
    LastDrain: DrainMetadata | None = None
    NodeMaxAllocs: int = 0
    CreateIndex: int = 0
    ModifyIndex: int = 0
