"""A deployment: the progress of rolling a job version out, group by group."""

from __future__ import annotations

from datetime import datetime

from cluster.structs.base import GO_ZERO_TIME, ApiStruct

__all__ = ["Deployment", "DeploymentState"]


class DeploymentState(ApiStruct, kw_only=True):
    """One group's rollout: canaries placed and promoted, allocations placed and healthy."""

    AutoRevert: bool = False
    AutoPromote: bool = False
    ProgressDeadline: int = 0  # ns
    RequireProgressBy: datetime = GO_ZERO_TIME
    Promoted: bool = False
    PlacedCanaries: list[str] | None = None
    DesiredCanaries: int = 0
    DesiredTotal: int = 0
    PlacedAllocs: int = 0
    HealthyAllocs: int = 0
    UnhealthyAllocs: int = 0


class Deployment(ApiStruct, kw_only=True):
    ID: str = ""
    Namespace: str = ""
    JobID: str = ""
    JobVersion: int = 0
    JobModifyIndex: int = 0
    JobSpecModifyIndex: int = 0
    JobCreateIndex: int = 0
    IsMultiregion: bool = False
    TaskGroups: dict[str, DeploymentState] | None = None
    Status: str = ""
    StatusDescription: str = ""
    EvalPriority: int = 0
    CreateIndex: int = 0
    ModifyIndex: int = 0
    CreateTime: int = 0  # Unix ns
    ModifyTime: int = 0  # Unix ns
