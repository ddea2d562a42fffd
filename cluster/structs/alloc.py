"""An allocation (one task group placed on one node), the placement metrics that explain it, and
the task states its client reports.

Allocation times ``CreateTime``/``ModifyTime`` are Unix nanoseconds; task state times are RFC 3339
in Nomad's JSON (``datetime`` here, Go's zero time when unset).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from cluster.structs.base import GO_ZERO_TIME, HotStruct
from cluster.structs.job import Job
from cluster.structs.resources import DNSConfig, NetworkResource, Resources

# The API names a field after this type; the alias lets later fields still name the type.
_Resources = Resources

__all__ = [
    "AllocDeploymentStatus",
    "AllocMetric",
    "AllocNetworkStatus",
    "AllocState",
    "AllocatedCpuResources",
    "AllocatedDeviceResource",
    "AllocatedMemoryResources",
    "AllocatedResources",
    "AllocatedSharedResources",
    "AllocatedTaskResources",
    "Allocation",
    "DesiredTransition",
    "NodeScoreMeta",
    "PortMapping",
    "RescheduleEvent",
    "RescheduleTracker",
    "TaskEvent",
    "TaskState",
]


class NodeScoreMeta(HotStruct, kw_only=True):
    NodeID: str = ""
    Scores: dict[str, float] | None = None
    NormScore: float = 0.0


class AllocMetric(HotStruct, kw_only=True):
    """Why a placement went where it did, or failed: counts per filtering and exhaustion reason."""

    NodesEvaluated: int = 0
    NodesFiltered: int = 0
    NodesInPool: int = 0
    NodePool: str = ""
    NodesAvailable: dict[str, int] | None = None  # per datacenter
    ClassFiltered: dict[str, int] | None = None
    ConstraintFiltered: dict[str, int] | None = None
    NodesExhausted: int = 0
    ClassExhausted: dict[str, int] | None = None
    DimensionExhausted: dict[str, int] | None = None  # e.g. {"memory": 3}
    QuotaExhausted: list[str] | None = None
    ResourcesExhausted: dict[str, Resources] | None = None
    Scores: dict[str, float] | None = None  # deprecated, see ScoreMetaData
    ScoreMetaData: list[NodeScoreMeta] | None = None
    AllocationTime: int = 0  # ns spent placing
    CoalescedFailures: int = 0


class AllocatedCpuResources(HotStruct, kw_only=True):
    CpuShares: int = 0
    ReservedCores: list[int] | None = None


class AllocatedMemoryResources(HotStruct, kw_only=True):
    MemoryMB: int = 0
    MemoryMaxMB: int = 0


class AllocatedDeviceResource(HotStruct, kw_only=True):
    Vendor: str = ""
    Type: str = ""
    Name: str = ""
    DeviceIDs: list[str] | None = None


class AllocatedTaskResources(HotStruct, kw_only=True):
    Cpu: AllocatedCpuResources = msgspec.field(default_factory=AllocatedCpuResources)
    Memory: AllocatedMemoryResources = msgspec.field(default_factory=AllocatedMemoryResources)
    Networks: list[NetworkResource] | None = None
    Devices: list[AllocatedDeviceResource] | None = None


class PortMapping(HotStruct, kw_only=True):
    Label: str = ""
    Value: int = 0
    To: int = 0
    HostIP: str = ""


class AllocatedSharedResources(HotStruct, kw_only=True):
    DiskMB: int = 0
    Networks: list[NetworkResource] | None = None
    Ports: list[PortMapping] | None = None


class AllocatedResources(HotStruct, kw_only=True):
    """What the scheduler granted: per task CPU/memory/devices, and the group's shared disk/ports."""

    Tasks: dict[str, AllocatedTaskResources] | None = None
    TaskLifecycles: dict[str, dict[str, Any] | None] | None = None
    Shared: AllocatedSharedResources = msgspec.field(default_factory=AllocatedSharedResources)


class DesiredTransition(HotStruct, kw_only=True):
    """Transitions the servers ask of a running allocation (set by drains and ``alloc stop``)."""

    Migrate: bool | None = None
    Reschedule: bool | None = None
    ForceReschedule: bool | None = None
    NoShutdownDelay: bool | None = None
    MigrateDisablePlacement: bool | None = None


class AllocDeploymentStatus(HotStruct, kw_only=True):
    """The allocation's health within its deployment; ``Healthy`` is None until decided."""

    Healthy: bool | None = None
    Timestamp: datetime = GO_ZERO_TIME
    Canary: bool = False
    ModifyIndex: int = 0


class RescheduleEvent(HotStruct, kw_only=True):
    RescheduleTime: int = 0  # Unix ns
    PrevAllocID: str = ""
    PrevNodeID: str = ""
    Delay: int = 0  # ns


class RescheduleTracker(HotStruct, kw_only=True):
    Events: list[RescheduleEvent] | None = None
    LastReschedule: str = ""


class AllocNetworkStatus(HotStruct, kw_only=True):
    InterfaceName: str = ""
    Address: str = ""
    AddressIPv6: str = ""
    DNS: DNSConfig | None = None


class TaskEvent(HotStruct, kw_only=True):
    """One event in a task's life. ``Time`` is Unix ns. The fields after ``Message`` are Nomad's
    older per-type details, still sent for compatibility."""

    Type: str = ""
    Time: int = 0
    DisplayMessage: str = ""
    Details: dict[str, str] | None = None
    Message: str = ""
    FailsTask: bool = False
    RestartReason: str = ""
    SetupError: str = ""
    DriverError: str = ""
    DriverMessage: str = ""
    ExitCode: int = 0
    Signal: int = 0
    KillReason: str = ""
    KillTimeout: int = 0  # ns
    KillError: str = ""
    StartDelay: int = 0  # ns
    DownloadError: str = ""
    ValidationError: str = ""
    DiskLimit: int = 0
    DiskSize: int = 0
    FailedSibling: str = ""
    VaultError: str = ""
    TaskSignalReason: str = ""
    TaskSignal: str = ""
    GenericSource: str = ""


class TaskState(HotStruct, kw_only=True):
    """A task's state as its client reports it: pending, running or dead, and its event history."""

    State: str = ""
    Failed: bool = False
    Restarts: int = 0
    LastRestart: datetime = GO_ZERO_TIME
    StartedAt: datetime = GO_ZERO_TIME
    FinishedAt: datetime = GO_ZERO_TIME
    Events: list[TaskEvent] | None = None
    TaskHandle: dict[str, Any] | None = None


class AllocState(HotStruct, kw_only=True):
    """One recorded change of an allocation's state by the servers (Nomad's ``AllocState``): the
    scheduler records ``ClientStatus`` going ``unknown`` when the node disconnects and back when
    it reconnects, which is how a reconnecting allocation is recognised."""

    Field: str = ""
    Value: str = ""
    Time: datetime = GO_ZERO_TIME


class Allocation(HotStruct, kw_only=True):
    """One placement of a task group on a node. ``DesiredStatus`` is what the servers want,
    ``ClientStatus`` what the client reports."""

    ID: str = ""
    Namespace: str = ""
    EvalID: str = ""
    Name: str = ""  # "<job>.<group>[<index>]"
    NodeID: str = ""
    NodeName: str = ""
    JobID: str = ""
    Job: Job | None = None
    TaskGroup: str = ""
    Resources: Resources | None = None  # deprecated pre-0.9 shape
    TaskResources: dict[str, _Resources] | None = None  # deprecated pre-0.9 shape
    AllocatedResources: AllocatedResources | None = None
    Services: dict[str, str] | None = None
    Metrics: AllocMetric | None = None
    DesiredStatus: str = ""
    DesiredDescription: str = ""
    DesiredTransition: DesiredTransition = msgspec.field(default_factory=DesiredTransition)
    ClientStatus: str = ""
    ClientDescription: str = ""
    TaskStates: dict[str, TaskState] | None = None
    DeploymentID: str = ""
    DeploymentStatus: AllocDeploymentStatus | None = None
    FollowupEvalID: str = ""
    PreviousAllocation: str = ""
    NextAllocation: str = ""
    RescheduleTracker: RescheduleTracker | None = None
    NetworkStatus: AllocNetworkStatus | None = None
    AllocStates: list[AllocState] | None = None
    PreemptedAllocations: list[str] | None = None
    PreemptedByAllocation: str = ""
    CreateIndex: int = 0
    ModifyIndex: int = 0
    AllocModifyIndex: int = 0
    CreateTime: int = 0  # Unix ns
    ModifyTime: int = 0  # Unix ns
