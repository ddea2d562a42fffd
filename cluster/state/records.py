"""Stored objects that ``cluster.structs`` does not define: Nomad's built-in service catalog entry
and the cluster-wide scheduler configuration (``/v1/operator/scheduler/configuration``).
Field names are Nomad's JSON keys."""

from __future__ import annotations

import msgspec

from cluster.structs.base import ApiStruct, HotStruct

__all__ = ["PreemptionConfig", "SchedulerConfiguration", "ServiceRegistration"]

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
