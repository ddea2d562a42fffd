"""The RPC messages of the job endpoints beyond register and read (``endpoints_jobs``): deregister,
versions, revert, stable, scale and scale status, dispatch, summary, periodic force. Nomad's field names.

The job list, register and read messages are in ``agents.server.messages``; a job's deployments answer
with the deployment endpoints' messages.
"""

from __future__ import annotations

from typing import Any

import msgspec

from agents.server.messages import Query
from cluster.jobspec.diff import JobDiff
from cluster.state.summaries import JobSummary
from cluster.structs.job import Job

__all__ = [
    "JobDeregisterRequest", "JobDeregisterResponse", "JobDispatchRequest", "JobDispatchResponse",
    "JobRevertRequest", "JobScaleRequest", "JobScaleStatusResponse", "JobStabilityRequest",
    "JobStabilityResponse", "JobSummaryResponse", "JobVersionsRequest", "JobVersionsResponse",
    "PeriodicForceRequest", "PeriodicForceResponse", "ScaleStatus", "TaskGroupScaleStatus",
]


class JobDeregisterRequest(msgspec.Struct, kw_only=True):
    JobID: str
    Namespace: str = "default"
    Purge: bool = False
    Region: str = ""


class JobDeregisterResponse(msgspec.Struct, kw_only=True):
    EvalID: str = ""
    EvalCreateIndex: int = 0
    JobModifyIndex: int = 0
    Index: int = 0


class JobVersionsRequest(Query, kw_only=True):
    JobID: str
    Namespace: str = "default"
    Diffs: bool = False


class JobVersionsResponse(msgspec.Struct, kw_only=True):
    Versions: list[Job]
    Diffs: list[JobDiff] | None = None  # Diffs[i]: Versions[i] against Versions[i + 1]
    Index: int = 0


class JobRevertRequest(msgspec.Struct, kw_only=True):
    JobID: str
    JobVersion: int
    EnforcePriorVersion: int | None = None
    Namespace: str = "default"
    Region: str = ""


class JobStabilityRequest(msgspec.Struct, kw_only=True):
    JobID: str
    JobVersion: int
    Stable: bool
    Namespace: str = "default"
    Region: str = ""


class JobStabilityResponse(msgspec.Struct, kw_only=True):
    Index: int = 0


class JobScaleRequest(msgspec.Struct, kw_only=True):
    JobID: str
    Target: dict[str, str]  # {"Group": name}, as Nomad's scaling target
    Count: int | None = None
    Message: str = ""
    Error: bool = False
    Meta: dict[str, Any] | None = None
    Namespace: str = "default"
    Region: str = ""


class TaskGroupScaleStatus(msgspec.Struct, kw_only=True):
    Desired: int
    Placed: int
    Running: int
    Healthy: int
    Unhealthy: int
    Events: list[dict[str, Any]] | None = None


class ScaleStatus(msgspec.Struct, kw_only=True):
    JobID: str
    Namespace: str
    JobCreateIndex: int
    JobModifyIndex: int
    JobStopped: bool
    TaskGroups: dict[str, TaskGroupScaleStatus]


class JobScaleStatusResponse(msgspec.Struct, kw_only=True):
    JobScaleStatus: ScaleStatus | None = None
    Index: int = 0


class JobDispatchRequest(msgspec.Struct, kw_only=True):
    JobID: str
    Payload: bytes | None = None
    Meta: dict[str, str] | None = None
    IdempotencyToken: str = ""
    Namespace: str = "default"
    Region: str = ""


class JobDispatchResponse(msgspec.Struct, kw_only=True):
    DispatchedJobID: str = ""
    EvalID: str = ""
    EvalCreateIndex: int = 0
    JobCreateIndex: int = 0
    Index: int = 0


class JobSummaryResponse(msgspec.Struct, kw_only=True):
    JobSummary: JobSummary | None = None
    Index: int = 0


class PeriodicForceRequest(msgspec.Struct, kw_only=True):
    JobID: str
    Namespace: str = "default"
    Region: str = ""


class PeriodicForceResponse(msgspec.Struct, kw_only=True):
    EvalID: str = ""
    EvalCreateIndex: int = 0
    Index: int = 0
