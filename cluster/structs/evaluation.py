"""An evaluation: the unit of scheduler work, created when something may change what should run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cluster.structs.alloc import AllocMetric
from cluster.structs.base import GO_ZERO_TIME, HotStruct

__all__ = ["Evaluation"]


class Evaluation(HotStruct, kw_only=True):
    """Why (``TriggeredBy``) which job must be reconsidered, and the outcome. A blocked evaluation
    keeps the groups it could not place in ``FailedTGAllocs`` and waits for capacity."""

    ID: str = ""
    Namespace: str = ""
    Priority: int = 0
    Type: str = ""  # the job's scheduler type
    TriggeredBy: str = ""
    JobID: str = ""
    JobModifyIndex: int = 0
    NodeID: str = ""
    NodeModifyIndex: int = 0
    DeploymentID: str = ""
    Status: str = ""
    StatusDescription: str = ""
    Wait: int = 0  # ns
    WaitUntil: datetime = GO_ZERO_TIME
    NextEval: str = ""
    PreviousEval: str = ""
    BlockedEval: str = ""
    RelatedEvals: list[dict[str, Any]] | None = None
    FailedTGAllocs: dict[str, AllocMetric] | None = None
    PlanAnnotations: dict[str, Any] | None = None
    ClassEligibility: dict[str, bool] | None = None
    EscapedComputedClass: bool = False
    QuotaLimitReached: str = ""
    AnnotatePlan: bool = False
    QueuedAllocations: dict[str, int] | None = None
    SnapshotIndex: int = 0
    CreateIndex: int = 0
    ModifyIndex: int = 0
    CreateTime: int = 0  # Unix ns
    ModifyTime: int = 0  # Unix ns
