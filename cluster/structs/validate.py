"""``validate_job``: Nomad's semantic job validation (what ``nomad job validate`` rejects), every
problem at once, each pointed at the job-file field that causes it.

Path grammar
------------
A path names a place in the job file in HCL terms, starting at ``job``::

    path    := "job" step*
    step    := "." name                 an attribute, a single block, or a map's key:
                                         .priority  .update  .options.checksum
             | "." name "[" label "]"   a labelled block, by its label: .group[web]  .port[http]
             | "." name "[" index "]"   an unlabelled repeated block, 0-based: .constraint[0]
             | "[" index "]"            an element of a list attribute:  .crons[1]  .datacenters[0]

Names are the job file's (``memory``, ``static``, ``max_parallel``), never the API's
(``MemoryMB``). Labels are written verbatim (``device[nvidia/gpu]``); a label that is missing in
JSON input is written empty (``group[]``). Labelled blocks: ``group``, ``task``, ``port``,
``volume``, ``device``, spread ``target``, multiregion ``region``. Examples::

    job.priority
    job.group[cache].count
    job.group[cache].task[redis].resources.memory
    job.group[web].network[0].port[http].static
    job.group[web].service[0].check[1].interval
    job.group[web].task[app].constraint[0].operator
    job.update.max_parallel
    job.periodic.crons[0]

A job's ID is its block label, reported as ``job.id``. A problem of a whole block names the block
(``job.group[web].task[app].template[0]``). A task's legacy network sits under its resources
(``job.group[web].task[app].resources.network[0].port[debug]``); fields without a job-file
attribute use the API field in snake case (``job.payload``). Job-level ``update``, ``migrate`` and ``reschedule``
blocks are merged into every group, and (as in Nomad) only what a group ends up with is checked;
a problem a group inherited is reported once, at the job-level block where it was written.

Messages are short and concrete (``must be between 1 and 100, got 150``) and never repeat the path.
"""

from __future__ import annotations

import functools
import zoneinfo

from cluster.errors import Diagnostic
from cluster.structs.canonicalize import canonicalize
from cluster.structs.constants import JOB_TYPES, MULTIREGION_ON_FAILURE, PAYLOAD_REQUIREMENTS, JobType
from cluster.structs.cron import cron_problem
from cluster.structs.defaults import default_migrate_strategy, default_reschedule_policy, overlay
from cluster.structs.job import Job, Multiregion, ParameterizedJobConfig, PeriodicConfig
from cluster.structs.report import Origin, Problem, Report, need, one_of, quote
from cluster.structs.validate_group import (
    MIGRATE_FORBIDDEN,
    NO_MIGRATE,
    NO_RESCHEDULE,
    NO_UPDATE,
    UPDATE_FORBIDDEN,
    Inherited,
    check_group,
)
from cluster.structs.validate_placement import check_affinities, check_constraints, check_spreads
from cluster.structs.validate_policies import migrate_problems, reschedule_problems, update_problems

__all__ = ["MAX_ID_LENGTH", "validate_job"]

# Caravan's bound (Nomad sets none): IDs are keys, URL segments and parts of allocation names.
MAX_ID_LENGTH = 256
MIN_PRIORITY, MAX_PRIORITY = 1, 100
_NOT_BATCH_TYPES = (JobType.SERVICE, JobType.SYSTEM)


def validate_job(job: Job) -> list[Diagnostic]:
    """Every semantic problem of ``job`` (the job's own fields first, then each group in order);
    an empty list for a valid job.

    The job is canonicalized first (a copy; ``job`` is not changed), so a job as submitted and a
    canonical job validate alike, and an unset field is judged by the default it will get.
    """
    job = canonicalize(job)
    report = Report()
    job_type = need(job.Type)
    _check_identity(report, job)
    check_constraints(report, "job", job.Constraints, where="job")
    check_affinities(report, "job", job.Affinities, job_type=job_type)
    check_spreads(report, "job", job.Spreads, job_type=job_type)
    inherited = _check_job_policies(job, job_type)
    _check_groups(report, job, job_type, inherited)
    if job.Periodic is not None and job.Periodic.Enabled:
        _check_periodic(report, job.Periodic, job_type)
    if job.ParameterizedJob is not None and not job.Dispatched:
        _check_parameterized(report, job.ParameterizedJob, job_type)
    if job.Multiregion is not None:
        _check_multiregion(report, job.Multiregion)
    return report.diagnostics


def _name_problem(value: str, *, spaces_allowed: bool) -> str | None:
    if not value:
        return "is required"
    if not spaces_allowed and " " in value:
        return f"must not contain spaces, got {quote(value)}"
    if "\x00" in value:
        return "must not contain null characters"
    if len(value) > MAX_ID_LENGTH:
        return f"must be at most {MAX_ID_LENGTH} characters, got {len(value)}"
    return None


def _check_identity(report: Report, job: Job) -> None:
    for path, value, spaces in (("job.id", need(job.ID), False), ("job.name", need(job.Name), True)):
        problem = _name_problem(value, spaces_allowed=spaces)
        if problem:
            report.error(path, problem)
    job_type = need(job.Type)
    if job_type not in JOB_TYPES:
        report.error("job.type", one_of(JOB_TYPES, job_type))
    priority = need(job.Priority)
    if not MIN_PRIORITY <= priority <= MAX_PRIORITY:
        report.error("job.priority", f"must be between {MIN_PRIORITY} and {MAX_PRIORITY}, got {priority}")
    for i, datacenter in enumerate(need(job.Datacenters)):
        if not datacenter:
            report.error(f"job.datacenters[{i}]", "must not be empty")
    if job.Payload and not job.Dispatched:
        report.error("job.payload", "a payload is only given when dispatching a parameterized job")


def _check_job_policies(job: Job, job_type: str) -> Inherited:
    """The job-level blocks the groups inherit and their problems, reported only through the
    groups that inherit them (as Nomad validates the merged result, not the job-level block)."""
    update: list[Problem] = []
    if job.Update is not None:
        update = [("", NO_UPDATE)] if job_type in UPDATE_FORBIDDEN else update_problems(job.Update)
    migrate: list[Problem] = []
    if job.Migrate is not None:
        migrate = (
            [("", NO_MIGRATE)] if job_type in MIGRATE_FORBIDDEN
            else migrate_problems(overlay(default_migrate_strategy(), job.Migrate))
        )
    reschedule: list[Problem] = []
    if job.Reschedule is not None:
        reschedule = (
            [("", NO_RESCHEDULE)] if job_type == JobType.SYSTEM
            else reschedule_problems(overlay(default_reschedule_policy(job_type), job.Reschedule))
        )
    return Inherited(
        update=Origin("job.update", update),
        migrate=Origin("job.migrate", migrate),
        reschedule=Origin("job.reschedule", reschedule),
    )


def _check_groups(report: Report, job: Job, job_type: str, inherited: Inherited) -> None:
    groups = job.TaskGroups or []
    if not groups:
        report.error("job", "a job needs at least one group")
    seen: set[str] = set()
    for group in groups:
        name = need(group.Name)
        path = f"job.group[{name}]"
        if not name:
            report.error(path, "group name is required")
        elif name in seen:
            report.error(path, f"duplicate group name {quote(name)}")
        seen.add(name)
        check_group(report, path, group, job_type, inherited)


def _check_periodic(report: Report, p: PeriodicConfig, job_type: str) -> None:
    if job_type in _NOT_BATCH_TYPES:
        report.error("job.periodic", f"is only allowed in batch and sysbatch jobs, not in a {job_type} job")
    specs = [("job.periodic.cron", p.Spec)] if p.Spec else []
    specs += [(f"job.periodic.crons[{i}]", spec) for i, spec in enumerate(p.Specs or ())]
    if p.Spec and p.Specs:
        report.error("job.periodic.crons", "give either cron or crons, not both")
    if not specs:
        report.error("job.periodic", "needs a schedule: crons = [\"...\"]")
    if p.SpecType != "cron":
        report.error("job.periodic", f'spec type must be "cron", got {quote(p.SpecType or "")}')
    else:
        for path, spec in specs:
            problem = cron_problem(spec)
            if problem:
                report.error(path, f"invalid cron expression {quote(spec)}: {problem}")
    time_zone = need(p.TimeZone)
    if not _time_zone_known(time_zone):
        report.error("job.periodic.time_zone", f"unknown time zone {quote(time_zone)}")


@functools.lru_cache(maxsize=256)
def _time_zone_known(name: str) -> bool:
    """Looked up in the IANA time zone database; when none is installed, any name passes."""
    if name in ("UTC", "Local"):
        return True
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return not zoneinfo.available_timezones()
    return True


def _check_parameterized(report: Report, p: ParameterizedJobConfig, job_type: str) -> None:
    if job_type in _NOT_BATCH_TYPES:
        report.error("job.parameterized", f"is only allowed in batch and sysbatch jobs, not in a {job_type} job")
    if p.Payload not in PAYLOAD_REQUIREMENTS:
        report.error("job.parameterized.payload", one_of(PAYLOAD_REQUIREMENTS, p.Payload))
    both = sorted(set(p.MetaRequired or ()) & set(p.MetaOptional or ()))
    if both:
        report.error("job.parameterized.meta_optional", f"lists keys that meta_required has too: {', '.join(both)}")


def _check_multiregion(report: Report, m: Multiregion) -> None:
    strategy = need(m.Strategy)
    if need(strategy.MaxParallel) < 0:
        report.error("job.multiregion.strategy.max_parallel", f"must not be negative, got {strategy.MaxParallel}")
    on_failure = need(strategy.OnFailure)
    if on_failure and on_failure not in MULTIREGION_ON_FAILURE:
        report.error("job.multiregion.strategy.on_failure", one_of(MULTIREGION_ON_FAILURE, on_failure))
    seen: set[str] = set()
    for region in m.Regions or ():
        path = f"job.multiregion.region[{region.Name}]"
        if not region.Name:
            report.error(path, "region name is required")
        elif region.Name in seen:
            report.error(path, f"duplicate region {quote(region.Name)}")
        seen.add(region.Name)
        if need(region.Count) < 0:
            report.error(f"{path}.count", f"must not be negative, got {region.Count}")
