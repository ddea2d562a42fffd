"""Service registrations (Consul or Nomad's built-in catalog) and their health checks."""

from __future__ import annotations

from typing import Any

from cluster.structs.base import ApiStruct
from cluster.structs.common import WorkloadIdentity

__all__ = ["CheckRestart", "Service", "ServiceCheck", "ServiceWeights"]


class CheckRestart(ApiStruct, kw_only=True):
    """Restart the task after Limit consecutive failing checks, not before Grace after a start."""

    Limit: int = 0
    Grace: int | None = None  # ns; 1s after canonicalize
    IgnoreWarnings: bool = False


class ServiceCheck(ApiStruct, kw_only=True):
    """One health check of a service. Interval and Timeout are nanoseconds."""

    Name: str = ""
    Type: str = ""
    Command: str = ""
    Args: list[str] | None = None
    Path: str = ""
    Protocol: str = ""
    PortLabel: str = ""
    Expose: bool = False
    AddressMode: str = ""
    Advertise: str = ""
    Interval: int = 0
    Timeout: int = 0
    InitialStatus: str = ""
    Notes: str = ""
    TLSServerName: str = ""
    TLSSkipVerify: bool = False
    Header: dict[str, list[str]] | None = None
    Method: str = ""
    CheckRestart: CheckRestart | None = None
    GRPCService: str = ""
    GRPCUseTLS: bool = False
    TaskName: str = ""
    SuccessBeforePassing: int = 0
    FailuresBeforeCritical: int = 0
    FailuresBeforeWarning: int = 0
    Body: str = ""
    OnUpdate: str = ""


class ServiceWeights(ApiStruct, kw_only=True):
    Passing: int = 0
    Warning: int = 0


class Service(ApiStruct, kw_only=True):
    """A ``service`` block of a group or a task. ``Connect`` (Consul service mesh) is kept as
    written: Caravan does not act on it."""

    Name: str = ""
    Tags: list[str] | None = None
    CanaryTags: list[str] | None = None
    EnableTagOverride: bool = False
    PortLabel: str = ""
    AddressMode: str = ""
    Address: str = ""
    Checks: list[ServiceCheck] | None = None
    CheckRestart: CheckRestart | None = None
    Connect: dict[str, Any] | None = None
    Meta: dict[str, str] | None = None
    CanaryMeta: dict[str, str] | None = None
    TaggedAddresses: dict[str, str] | None = None
    TaskName: str = ""
    OnUpdate: str = ""
    Identity: WorkloadIdentity | None = None
    Weights: ServiceWeights | None = None
    Provider: str = ""
    Cluster: str = ""
    Kind: str = ""
