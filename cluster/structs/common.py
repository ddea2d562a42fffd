"""Blocks that appear at more than one level of a job: ``restart`` and ``consul`` (group and
task), ``scaling`` (group and task), and workload ``identity`` (task and service)."""

from __future__ import annotations

from typing import Any

from cluster.structs.base import ApiStruct

__all__ = ["Consul", "RestartPolicy", "ScalingPolicy", "WorkloadIdentity"]


class RestartPolicy(ApiStruct, kw_only=True):
    """How the client restarts a failed task in place: Attempts within Interval, Delay apart;
    Mode "fail" gives up after that, "delay" waits for the next interval."""

    Interval: int | None = None  # ns
    Attempts: int | None = None
    Delay: int | None = None  # ns
    Mode: str | None = None
    RenderTemplates: bool | None = None


class Consul(ApiStruct, kw_only=True):
    """The ``consul`` block: which Consul namespace, cluster and partition a group or task uses."""

    Namespace: str = ""
    Cluster: str = ""  # "default" after canonicalize
    Partition: str = ""


class WorkloadIdentity(ApiStruct, kw_only=True):
    """The ``identity`` block: a signed workload identity (JWT) exposed to a task or service."""

    Name: str = ""
    Audience: list[str] | None = None
    ChangeMode: str = ""
    ChangeSignal: str = ""
    Env: bool = False
    File: bool = False
    Filepath: str = ""
    ServiceName: str = ""
    TTL: int = 0  # ns
    ExtraClaims: list[str] | None = None


class ScalingPolicy(ApiStruct, kw_only=True):
    """The ``scaling`` block of a group (horizontal) or task (vertical, Enterprise). ``Policy`` is
    the autoscaler's free-form configuration, kept as written."""

    ID: str = ""
    Namespace: str = ""
    Type: str = ""  # "horizontal" after canonicalize
    Target: dict[str, str] | None = None
    Min: int | None = None  # the group's count after canonicalize
    Max: int | None = None
    Policy: dict[str, Any] | None = None
    Enabled: bool | None = None  # true after canonicalize
    CreateIndex: int = 0
    ModifyIndex: int = 0
