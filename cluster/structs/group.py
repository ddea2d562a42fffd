"""A task group (the unit of scheduling: its tasks are placed together on one node) and the
policies a group carries: update, migrate, reschedule, ephemeral disk, disconnect, volumes.

Go pointer fields are ``T | None``: ``None`` means "not given here", which matters because the
job-level ``update``, ``migrate`` and ``reschedule`` blocks are merged field by field into each
group's (``canonicalize``); after canonicalization they hold their defaults.
"""

from __future__ import annotations

from cluster.structs.base import ApiStruct
from cluster.structs.common import Consul, RestartPolicy, ScalingPolicy
from cluster.structs.placement import Affinity, Constraint, Spread
from cluster.structs.resources import NetworkResource
from cluster.structs.services import Service
from cluster.structs.task import Task

__all__ = [
    "CSIMountOptions",
    "DisconnectStrategy",
    "EphemeralDisk",
    "MigrateStrategy",
    "ReschedulePolicy",
    "TaskGroup",
    "UpdateStrategy",
    "VolumeRequest",
]


class UpdateStrategy(ApiStruct, kw_only=True):
    """``update``: rolling updates and canaries (deployments). Durations in nanoseconds."""

    Stagger: int | None = None
    MaxParallel: int | None = None
    HealthCheck: str | None = None
    MinHealthyTime: int | None = None
    HealthyDeadline: int | None = None
    ProgressDeadline: int | None = None
    Canary: int | None = None
    AutoRevert: bool | None = None
    AutoPromote: bool | None = None


class MigrateStrategy(ApiStruct, kw_only=True):
    """``migrate``: how allocations leave a draining node (service jobs only)."""

    MaxParallel: int | None = None
    HealthCheck: str | None = None
    MinHealthyTime: int | None = None
    HealthyDeadline: int | None = None


class ReschedulePolicy(ApiStruct, kw_only=True):
    """``reschedule``: replacing failed allocations on other nodes, with a growing delay."""

    Attempts: int | None = None
    Interval: int | None = None
    Delay: int | None = None
    DelayFunction: str | None = None
    MaxDelay: int | None = None
    Unlimited: bool | None = None


class EphemeralDisk(ApiStruct, kw_only=True):
    Sticky: bool | None = None
    Migrate: bool | None = None
    SizeMB: int | None = None  # 300 after canonicalize


class DisconnectStrategy(ApiStruct, kw_only=True):
    """``disconnect``: what happens to allocations of a client that stops heartbeating."""

    LostAfter: int | None = None
    StopOnClientAfter: int | None = None
    Replace: bool | None = None  # true after canonicalize
    Reconcile: str | None = None  # "best_score" after canonicalize


class CSIMountOptions(ApiStruct, kw_only=True):
    FSType: str = ""
    MountFlags: list[str] | None = None


class VolumeRequest(ApiStruct, kw_only=True):
    """``volume "name"``: a host or CSI volume the group claims; tasks mount it by name."""

    Name: str = ""
    Type: str = ""
    Source: str = ""
    ReadOnly: bool = False
    Sticky: bool = False
    AccessMode: str = ""
    AttachmentMode: str = ""
    MountOptions: CSIMountOptions | None = None
    PerAlloc: bool = False


class TaskGroup(ApiStruct, kw_only=True):
    """A ``group`` block: Count copies of its tasks, each copy one allocation on one node."""

    Name: str | None = None
    Count: int | None = None  # 1 (or scaling.min) after canonicalize
    Constraints: list[Constraint] | None = None
    Affinities: list[Affinity] | None = None
    Tasks: list[Task] | None = None
    Spreads: list[Spread] | None = None
    Volumes: dict[str, VolumeRequest] | None = None
    RestartPolicy: RestartPolicy | None = None
    Disconnect: DisconnectStrategy | None = None
    ReschedulePolicy: ReschedulePolicy | None = None
    EphemeralDisk: EphemeralDisk | None = None
    Update: UpdateStrategy | None = None
    Migrate: MigrateStrategy | None = None
    Networks: list[NetworkResource] | None = None
    Meta: dict[str, str] | None = None
    Services: list[Service] | None = None
    ShutdownDelay: int | None = None  # ns
    MaxRunDuration: int | None = None  # ns
    StopAfterClientDisconnect: int | None = None  # ns; deprecated, use Disconnect
    MaxClientDisconnect: int | None = None  # ns; deprecated, use Disconnect
    Scaling: ScalingPolicy | None = None
    Consul: Consul | None = None
    PreventRescheduleOnLost: bool | None = None  # deprecated, use Disconnect.Replace
