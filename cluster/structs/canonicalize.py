"""``canonicalize``: fill every default exactly as Nomad does when it registers a job.

Nomad applies defaults in two places, the API client (``api.Job.Canonicalize``) and the servers
(``structs.Job.Canonicalize`` and the register endpoint); Caravan applies both at once, so the
result is the job ``GET /v1/job/:id`` would show. Merges follow Nomad: the job's ``update``,
``reschedule`` and ``migrate`` blocks are merged field by field into each group's (the group's
fields win), the group's ``restart`` into each task's.

The function works on a private deep copy and returns it: the caller's job is never touched, and
canonicalizing a canonical job changes nothing.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec

from cluster.structs.base import ApiStruct
from cluster.structs.canonical_task import (
    canon_affinities,
    canon_constraints,
    canon_consul,
    canon_networks,
    canon_service,
    canon_spreads,
    canon_task,
)
from cluster.structs.common import Consul
from cluster.structs.constants import DEFAULT_NAMESPACE, DEFAULT_NODE_POOL, DEFAULT_REGION, JobType
from cluster.structs.defaults import (
    default_ephemeral_disk,
    default_migrate_strategy,
    default_reschedule_policy,
    default_restart_policy,
    default_update_strategy,
    overlay,
)
from cluster.structs.group import DisconnectStrategy, MigrateStrategy, TaskGroup, UpdateStrategy
from cluster.structs.job import Job, Multiregion, MultiregionStrategy, PeriodicConfig

__all__ = ["canonicalize"]

S = TypeVar("S", bound=ApiStruct)

JOB_DEFAULT_PRIORITY = 50


def canonicalize(job: Job) -> Job:
    """A new Job with Nomad's defaults filled in; ``job`` itself is left as it was."""
    out = msgspec.msgpack.decode(msgspec.msgpack.encode(job), type=Job)
    _canon_job(out)
    return out


def _canon_job(job: Job) -> None:
    _canon_job_fields(job)
    if job.Periodic is not None:
        _canon_periodic(job.Periodic)
    if job.Update is not None:
        job.Update = overlay(default_update_strategy(), job.Update)
    elif job.Type == JobType.SERVICE:
        job.Update = default_update_strategy()
    if job.Multiregion is not None:
        _canon_multiregion(job.Multiregion)
    if job.ParameterizedJob is not None and not job.ParameterizedJob.Payload:
        job.ParameterizedJob.Payload = "optional"
    for group in job.TaskGroups or ():
        _canon_group(group, job)
    canon_spreads(job.Spreads)
    canon_affinities(job.Affinities)
    canon_constraints(job.Constraints)


def _canon_job_fields(job: Job) -> None:
    if job.ID is None:
        job.ID = ""
    if job.Name is None:
        job.Name = job.ID
    if job.ParentID is None:
        job.ParentID = ""
    job.Namespace = job.Namespace or DEFAULT_NAMESPACE
    if job.Priority is None:
        job.Priority = JOB_DEFAULT_PRIORITY
    if job.Stop is None:
        job.Stop = False
    job.Region = job.Region or DEFAULT_REGION
    job.NodePool = job.NodePool or DEFAULT_NODE_POOL
    if job.Type is None:
        job.Type = JobType.SERVICE
    if job.AllAtOnce is None:
        job.AllAtOnce = False
    for name in ("ConsulNamespace", "VaultNamespace", "NomadTokenID", "Status", "StatusDescription"):
        if getattr(job, name) is None:
            setattr(job, name, "")
    if job.Stable is None:
        job.Stable = False
    for name in ("Version", "CreateIndex", "ModifyIndex", "JobModifyIndex"):
        if getattr(job, name) is None:
            setattr(job, name, 0)
    job.Datacenters = job.Datacenters or ["*"]
    job.Meta = job.Meta or None


def _canon_periodic(p: PeriodicConfig) -> None:
    if p.Enabled is None:
        p.Enabled = True
    if p.Spec is None:
        p.Spec = ""
    if p.SpecType is None:
        p.SpecType = "cron"
    if p.ProhibitOverlap is None:
        p.ProhibitOverlap = False
    p.TimeZone = p.TimeZone or "UTC"


def _canon_multiregion(m: Multiregion) -> None:
    m.Strategy = overlay(MultiregionStrategy(MaxParallel=0, OnFailure=""), m.Strategy)
    if m.Regions is None:
        m.Regions = []
    for region in m.Regions:
        if region.Count is None:
            region.Count = 1
        if region.Datacenters is None:
            region.Datacenters = []
        if region.Meta is None:
            region.Meta = {}


def _is_empty(u: UpdateStrategy) -> bool:
    """True when an update block sets nothing that differs from Go's zero values (Nomad's Empty)."""
    return not any(getattr(u, f) for f in u.__struct_fields__)


def _inherit(from_job: S | None, from_group: S | None) -> S | None:
    """The job's block with the group's set fields on top; either alone if the other is absent."""
    if from_job is None:
        return from_group
    return overlay(from_job, from_group)


def _canon_group(group: TaskGroup, job: Job) -> None:
    assert job.Type is not None and job.Name is not None, "job fields are filled before groups"
    if group.Name is None:
        group.Name = ""
    if group.Count is None:
        scaled_min = group.Scaling.Min if group.Scaling is not None else None
        group.Count = scaled_min if scaled_min is not None else 1
    if group.Scaling is not None:
        group.Scaling.Enabled = True if group.Scaling.Enabled is None else group.Scaling.Enabled
        group.Scaling.Min = group.Count if group.Scaling.Min is None else group.Scaling.Min
        group.Scaling.Type = group.Scaling.Type or "horizontal"
    group.EphemeralDisk = overlay(default_ephemeral_disk(), group.EphemeralDisk)
    _canon_group_consul(group, job)
    _canon_group_policies(group, job)
    for task in group.Tasks or ():
        assert group.RestartPolicy is not None
        canon_task(task, group.RestartPolicy, job.Name, group.Name)
    canon_spreads(group.Spreads)
    canon_affinities(group.Affinities)
    canon_constraints(group.Constraints)
    group.Networks = canon_networks(group.Networks)
    for service in group.Services or ():
        canon_service(service, job.Name, group.Name, None)
    if group.PreventRescheduleOnLost is None:
        group.PreventRescheduleOnLost = False
    if group.Disconnect is not None:
        group.Disconnect = overlay(DisconnectStrategy(Replace=True, Reconcile="best_score"), group.Disconnect)
    group.Meta = group.Meta or None


def _canon_group_consul(group: TaskGroup, job: Job) -> None:
    if group.Consul is None:
        group.Consul = Consul()
    if not group.Consul.Namespace and job.ConsulNamespace is not None:
        group.Consul.Namespace = job.ConsulNamespace
    canon_consul(group.Consul)


def _canon_group_policies(group: TaskGroup, job: Job) -> None:
    assert job.Type is not None
    if group.Update is not None or (job.Update is not None and not _is_empty(job.Update)):
        update = _inherit(job.Update, group.Update)
        assert update is not None
        group.Update = overlay(default_update_strategy(), update)
    reschedule = _inherit(job.Reschedule, group.ReschedulePolicy)
    if reschedule is None and job.Type != JobType.SYSTEM:
        reschedule = default_reschedule_policy(job.Type)
    if reschedule is not None:
        reschedule = overlay(default_reschedule_policy(job.Type), reschedule)
    group.ReschedulePolicy = reschedule
    migrate = _inherit(job.Migrate, group.Migrate)
    if migrate is None and job.Type == JobType.SERVICE:
        migrate = MigrateStrategy()
    group.Migrate = overlay(default_migrate_strategy(), migrate) if migrate is not None else None
    group.RestartPolicy = overlay(default_restart_policy(job.Type), group.RestartPolicy)
