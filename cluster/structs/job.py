"""The job: Nomad's API ``Job`` object, field for field, as ``nomad job run -output`` prints it and
``GET /v1/job/:id`` returns it.

Fields in the first part come from the job file; the second part is set by the servers. Go
pointer fields are ``T | None`` (``None`` until ``canonicalize`` fills Nomad's default); Go slices
and maps are ``list``/``dict`` or ``None`` (Nomad prints ``null`` for an empty one).
"""

from __future__ import annotations

from cluster.structs.base import ApiStruct
from cluster.structs.group import MigrateStrategy, ReschedulePolicy, TaskGroup, UpdateStrategy
from cluster.structs.placement import Affinity, Constraint, Spread

__all__ = [
    "Job",
    "JobUIConfig",
    "JobUILink",
    "JobVersionTag",
    "Multiregion",
    "MultiregionRegion",
    "MultiregionStrategy",
    "ParameterizedJobConfig",
    "PeriodicConfig",
]


class MultiregionStrategy(ApiStruct, kw_only=True):
    MaxParallel: int | None = None
    OnFailure: str | None = None


class MultiregionRegion(ApiStruct, kw_only=True):
    """``region "name"`` of a multiregion job: this region's count, datacenters and pool."""

    Name: str = ""
    Count: int | None = None  # 1 after canonicalize
    Datacenters: list[str] | None = None
    NodePool: str = ""
    Meta: dict[str, str] | None = None


class Multiregion(ApiStruct, kw_only=True):
    Strategy: MultiregionStrategy | None = None
    Regions: list[MultiregionRegion] | None = None


class PeriodicConfig(ApiStruct, kw_only=True):
    """``periodic``: launch the (batch) job on a cron schedule. ``Specs`` is the job file's
    ``crons`` list; ``Spec`` its older single ``cron``."""

    Enabled: bool | None = None  # true after canonicalize
    Spec: str | None = None
    Specs: list[str] | None = None
    SpecType: str | None = None  # "cron" after canonicalize
    ProhibitOverlap: bool | None = None
    TimeZone: str | None = None  # "UTC" after canonicalize


class ParameterizedJobConfig(ApiStruct, kw_only=True):
    """``parameterized``: the job is a template run with ``nomad job dispatch``."""

    Payload: str = ""  # "optional" after canonicalize
    MetaRequired: list[str] | None = None
    MetaOptional: list[str] | None = None


class JobUILink(ApiStruct, kw_only=True):
    Label: str = ""
    URL: str = ""


class JobUIConfig(ApiStruct, kw_only=True):
    Description: str = ""
    Links: list[JobUILink] | None = None


class JobVersionTag(ApiStruct, kw_only=True):
    Name: str = ""
    Description: str = ""
    TaggedTime: int = 0  # Unix ns


class Job(ApiStruct, kw_only=True):
    """A job. Job-level ``Update``/``Reschedule``/``Migrate`` are defaults merged into every group.

    A job file's job- or group-level ``vault`` block is copied into the tasks by the job-file decoder,
    as Nomad does; the API job has no ``Vault``. ``ConsulToken`` and ``VaultToken`` are accepted for
    older clients that still send them.
    """

    Region: str | None = None
    Namespace: str | None = None
    ID: str | None = None
    Name: str | None = None
    Type: str | None = None
    Priority: int | None = None
    AllAtOnce: bool | None = None
    Datacenters: list[str] | None = None
    NodePool: str | None = None
    Constraints: list[Constraint] | None = None
    Affinities: list[Affinity] | None = None
    TaskGroups: list[TaskGroup] | None = None
    Update: UpdateStrategy | None = None
    Multiregion: Multiregion | None = None
    Spreads: list[Spread] | None = None
    Periodic: PeriodicConfig | None = None
    ParameterizedJob: ParameterizedJobConfig | None = None
    Reschedule: ReschedulePolicy | None = None
    Migrate: MigrateStrategy | None = None
    Meta: dict[str, str] | None = None
    UI: JobUIConfig | None = None
    ConsulToken: str | None = None
    VaultToken: str | None = None

    # -- set by the servers --
    Stop: bool | None = None
    ParentID: str | None = None
    Dispatched: bool = False
    DispatchIdempotencyToken: str | None = None
    Payload: bytes | None = None  # base64 in JSON
    ConsulNamespace: str | None = None
    VaultNamespace: str | None = None
    NomadTokenID: str | None = None
    Status: str | None = None
    StatusDescription: str | None = None
    Stable: bool | None = None
    Version: int | None = None
    SubmitTime: int | None = None  # Unix ns
    CreateIndex: int | None = None
    ModifyIndex: int | None = None
    JobModifyIndex: int | None = None
    VersionTag: JobVersionTag | None = None
