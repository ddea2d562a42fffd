"""What a task asks for (``Resources``) and the network shape shared by jobs, nodes and allocations.

These structs sit on the scheduler's hot path (every placement compares them), so they are plain
``HotStruct``s with no computed properties.
"""

from __future__ import annotations

from cluster.structs.base import HotStruct
from cluster.structs.placement import Affinity, Constraint

__all__ = [
    "CNIConfig",
    "DNSConfig",
    "NUMAResource",
    "NetworkResource",
    "Port",
    "RequestedDevice",
    "Resources",
]


class Port(HotStruct, kw_only=True):
    """A port ``Label``: ``Value`` is the host port (static, or assigned when dynamic), ``To`` the
    port inside the task's network namespace (-1: same as Value)."""

    Label: str = ""
    Value: int = 0
    To: int = 0
    HostNetwork: str = ""
    IgnoreCollision: bool = False


class DNSConfig(HotStruct, kw_only=True):
    Servers: list[str] | None = None
    Searches: list[str] | None = None
    Options: list[str] | None = None


class CNIConfig(HotStruct, kw_only=True):
    Args: dict[str, str] | None = None


class NetworkResource(HotStruct, kw_only=True):
    """A network a group (or, in the legacy form, a task) needs, or one a node offers."""

    Mode: str = ""  # "" becomes "host" on canonicalize
    Device: str = ""
    CIDR: str = ""
    IP: str = ""
    Hostname: str = ""
    MBits: int | None = None  # deprecated (bandwidth is not scheduled); 0 after canonicalize
    DNS: DNSConfig | None = None
    ReservedPorts: list[Port] | None = None
    DynamicPorts: list[Port] | None = None
    CNI: CNIConfig | None = None


class RequestedDevice(HotStruct, kw_only=True):
    """``device "vendor/type/name"``: Count instances of a device matching the name."""

    Name: str = ""
    Count: int | None = None  # 1 after canonicalize
    Constraints: list[Constraint] | None = None
    Affinities: list[Affinity] | None = None


class NUMAResource(HotStruct, kw_only=True):
    Affinity: str = ""
    Devices: list[str] | None = None


class Resources(HotStruct, kw_only=True):
    """A task's resource request. CPU in MHz, memory and disk in MiB."""

    CPU: int | None = None  # 100 after canonicalize (0 when Cores is given)
    Cores: int | None = None  # 0 after canonicalize
    MemoryMB: int | None = None  # 300 after canonicalize
    MemoryMaxMB: int | None = None  # 0 after canonicalize: no memory oversubscription
    DiskMB: int | None = None  # deprecated here, use the group's ephemeral_disk; 0 after canonicalize
    IOPS: int | None = None  # deprecated (not scheduled); 0 after canonicalize
    Networks: list[NetworkResource] | None = None  # deprecated: use the group's network
    Devices: list[RequestedDevice] | None = None
    NUMA: NUMAResource | None = None
    SecretsMB: int | None = None
