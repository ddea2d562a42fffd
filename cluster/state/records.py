"""Stored objects that ``cluster.structs`` does not define: Nomad's built-in service catalog entry,
the cluster-wide scheduler configuration (``/v1/operator/scheduler/configuration``) and the scaling
events of jobs (``/v1/job/<id>/scale``). Field names are Nomad's JSON keys."""

from __future__ import annotations

from typing import Any

import msgspec

from cluster.structs.base import ApiStruct, HotStruct

__all__ = [
    "MAX_SCALING_EVENTS",
    "JobScalingEvents",
    "PreemptionConfig",
    "ScalingEvent",
    "SchedulerConfiguration",
    "ServiceRegistration",
]

# Nomad keeps this many scaling events per task group (``JobTrackedScalingEvents``).
MAX_SCALING_EVENTS = 20

SCHEDULER_ALGORITHM_BINPACK = "binpack"
SCHEDULER_ALGORITHM_SPREAD = "spread"


class ServiceRegistration(HotStruct, kw_only=True):
    """One instance of a service registered in Nomad's own catalog (``provider = "nomad"``)."""

    ID: str = ""
    ServiceName: str = ""
    Namespace: str = ""
    NodeID: str = ""
    Datacenter: str = ""
    JobID: str = ""
    AllocID: str = ""
    Tags: list[str] | None = None
    Address: str = ""
    Port: int = 0
    CreateIndex: int = 0
    ModifyIndex: int = 0


class PreemptionConfig(ApiStruct, kw_only=True):
    """Which schedulers may preempt lower-priority allocations. Nomad's defaults: system only."""

    SystemSchedulerEnabled: bool = True
    SysBatchSchedulerEnabled: bool = False
    BatchSchedulerEnabled: bool = False
    ServiceSchedulerEnabled: bool = False


class SchedulerConfiguration(ApiStruct, kw_only=True):
    """Cluster-wide scheduler settings. ``SchedulerAlgorithm`` is "binpack" (ScoreFitBinPack) or
    "spread" (ScoreFitSpread)."""

    SchedulerAlgorithm: str = SCHEDULER_ALGORITHM_BINPACK
    PreemptionConfig: PreemptionConfig = msgspec.field(default_factory=PreemptionConfig)
    MemoryOversubscriptionEnabled: bool = False
    RejectJobRegistration: bool = False
    PauseEvalBroker: bool = False
    CreateIndex: int = 0
    ModifyIndex: int = 0


class ScalingEvent(ApiStruct, kw_only=True):
    """One scaling action or report on a task group: ``Count`` is the new count (None for a report
    that changed nothing, such as an autoscaler's error), ``EvalID`` the evaluation the change created.
    ``CreateIndex`` is set by the state when the event is stored."""

    Time: int = 0  # Unix ns
    Count: int | None = None
    PreviousCount: int = 0
    Message: str = ""
    Error: bool = False
    Meta: dict[str, Any] | None = None
    EvalID: str | None = None
    CreateIndex: int = 0


class JobScalingEvents(ApiStruct, kw_only=True):
    """A job's scaling events by task group, newest first, at most ``MAX_SCALING_EVENTS`` per group."""

    Namespace: str = ""
    JobID: str = ""
    ScalingEvents: dict[str, list[ScalingEvent]] = msgspec.field(default_factory=dict)
    ModifyIndex: int = 0
