"""Nomad's defaults, per job type, against values written out by hand from Nomad's documentation."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from cluster import structs
from cluster.structs import (
    EphemeralDisk,
    LogConfig,
    MigrateStrategy,
    ReschedulePolicy,
    Resources,
    RestartPolicy,
    UpdateStrategy,
)
from tests.unit.structs import fixtures

S = 1_000_000_000
M = 60 * S
H = 60 * M


def minimal(job_type: str | None) -> structs.Job:
    data: dict[str, Any] = {"ID": "demo", "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "docker"}]}]}
    if job_type is not None:
        data["Type"] = job_type
    return structs.canonicalize(structs.decode_job(data))


SERVICE_RESTART = RestartPolicy(Interval=30 * M, Attempts=2, Delay=15 * S, Mode="fail", RenderTemplates=False)
BATCH_RESTART = RestartPolicy(Interval=24 * H, Attempts=3, Delay=15 * S, Mode="fail", RenderTemplates=False)
SERVICE_RESCHEDULE = ReschedulePolicy(
    Attempts=0, Interval=0, Delay=30 * S, DelayFunction="exponential", MaxDelay=1 * H, Unlimited=True
)
BATCH_RESCHEDULE = ReschedulePolicy(
    Attempts=1, Interval=24 * H, Delay=5 * S, DelayFunction="constant", MaxDelay=0, Unlimited=False
)
NO_RESCHEDULE = ReschedulePolicy(Attempts=0, Interval=0, Delay=0, DelayFunction="", MaxDelay=0, Unlimited=False)
SERVICE_UPDATE = UpdateStrategy(
    Stagger=30 * S, MaxParallel=1, HealthCheck="checks", MinHealthyTime=10 * S, HealthyDeadline=5 * M,
    ProgressDeadline=10 * M, Canary=0, AutoRevert=False, AutoPromote=False,
)
SERVICE_MIGRATE = MigrateStrategy(MaxParallel=1, HealthCheck="checks", MinHealthyTime=10 * S, HealthyDeadline=5 * M)

PER_TYPE = {
    # type: (restart, reschedule, group update, migrate)
    None: (SERVICE_RESTART, SERVICE_RESCHEDULE, SERVICE_UPDATE, SERVICE_MIGRATE),
    "service": (SERVICE_RESTART, SERVICE_RESCHEDULE, SERVICE_UPDATE, SERVICE_MIGRATE),
    "batch": (BATCH_RESTART, BATCH_RESCHEDULE, None, None),
    "system": (SERVICE_RESTART, None, None, None),
    "sysbatch": (BATCH_RESTART, NO_RESCHEDULE, None, None),
}


@pytest.mark.parametrize("job_type", PER_TYPE, ids=[str(t) for t in PER_TYPE])
def test_group_policies_per_job_type(job_type: str | None) -> None:
    restart, reschedule, update, migrate = PER_TYPE[job_type]
    job = minimal(job_type)
    group = job.TaskGroups[0]  # type: ignore[index]
    assert group.RestartPolicy == restart
    assert group.ReschedulePolicy == reschedule
    assert group.Update == update
    assert group.Migrate == migrate
    assert job.Update == (SERVICE_UPDATE if job_type in (None, "service") else None)
    assert group.Tasks[0].RestartPolicy == restart  # type: ignore[index]


@pytest.mark.parametrize("job_type", PER_TYPE, ids=[str(t) for t in PER_TYPE])
def test_defaults_shared_by_every_job_type(job_type: str | None) -> None:
    job = minimal(job_type)
    assert (job.Region, job.Namespace, job.Priority, job.NodePool) == ("global", "default", 50, "default")
    assert job.Type == (job_type or "service")
    assert job.Name == "demo" and job.Datacenters == ["*"]
    assert (job.AllAtOnce, job.Stop, job.Stable, job.Version, job.ParentID) == (False, False, False, 0, "")
    group = job.TaskGroups[0]  # type: ignore[index]
    assert group.Count == 1
    assert group.EphemeralDisk == EphemeralDisk(Sticky=False, Migrate=False, SizeMB=300)
    assert group.PreventRescheduleOnLost is False
    assert group.Consul == structs.Consul(Namespace="", Cluster="default", Partition="")
    task = group.Tasks[0]  # type: ignore[index]
    assert task.KillTimeout == 5 * S
    assert task.LogConfig == LogConfig(MaxFiles=10, MaxFileSizeMB=10, Disabled=False)
    assert task.Resources == Resources(CPU=100, Cores=0, MemoryMB=300, MemoryMaxMB=0, DiskMB=0, IOPS=0)


def test_input_is_left_untouched() -> None:
    job = structs.decode_job(fixtures.web_job())
    before = structs.encode_json(job)
    out = structs.canonicalize(job)
    assert structs.encode_json(job) == before
    assert out is not job and out != job
    out.TaskGroups[0].Tasks[0].Env["NEW"] = "x"  # type: ignore[index]
    assert "NEW" not in job.TaskGroups[0].Tasks[0].Env  # type: ignore[index,operator]


@pytest.mark.parametrize("make", [fixtures.web_job, fixtures.batch_job, fixtures.system_job, fixtures.cli_output_job])
def test_canonicalize_is_idempotent(make: Any) -> None:
    once = structs.canonicalize(structs.decode_job(make()))
    assert structs.canonicalize(once) == once


def test_job_update_is_merged_into_each_group_and_the_group_wins() -> None:
    job = structs.canonicalize(structs.decode_job(fixtures.web_job()))
    web, cache = job.TaskGroups  # type: ignore[misc]
    assert web.Update == UpdateStrategy(
        Stagger=30 * S, MaxParallel=2, HealthCheck="checks", MinHealthyTime=15 * S, HealthyDeadline=4 * M,
        ProgressDeadline=10 * M, Canary=1, AutoRevert=True, AutoPromote=True,
    )
    assert cache.Update == UpdateStrategy(
        Stagger=30 * S, MaxParallel=2, HealthCheck="checks", MinHealthyTime=15 * S, HealthyDeadline=4 * M,
        ProgressDeadline=10 * M, Canary=0, AutoRevert=True, AutoPromote=False,
    )
    assert job.Update is not None and job.Update.Canary == 0  # the job-level block keeps its own values


def test_job_reschedule_and_migrate_are_merged_field_by_field() -> None:
    data = fixtures.web_job()
    data["Reschedule"] = {"Delay": 20 * S, "MaxDelay": 10 * M}
    data["Migrate"] = {"MaxParallel": 3}
    data["TaskGroups"][0]["ReschedulePolicy"] = {"DelayFunction": "fibonacci"}
    job = structs.canonicalize(structs.decode_job(data))
    web, cache = job.TaskGroups  # type: ignore[misc]
    assert web.ReschedulePolicy == ReschedulePolicy(
        Attempts=0, Interval=0, Delay=20 * S, DelayFunction="fibonacci", MaxDelay=10 * M, Unlimited=True
    )
    assert cache.ReschedulePolicy is not None and cache.ReschedulePolicy.DelayFunction == "exponential"
    assert cache.Migrate == MigrateStrategy(MaxParallel=3, HealthCheck="checks", MinHealthyTime=10 * S, HealthyDeadline=5 * M)


def test_task_restart_policy_merges_over_the_groups() -> None:
    job = structs.canonicalize(structs.decode_job(fixtures.web_job()))
    redis = job.TaskGroups[1].Tasks[0]  # type: ignore[index]
    assert redis.RestartPolicy == RestartPolicy(Interval=30 * M, Attempts=5, Delay=15 * S, Mode="fail", RenderTemplates=False)


def test_system_jobs_keep_a_given_update_block_but_get_none_by_default() -> None:
    data = fixtures.system_job()
    data["Update"] = {"MaxParallel": 5, "Stagger": 10 * S}
    group = structs.canonicalize(structs.decode_job(data)).TaskGroups[0]  # type: ignore[index]
    assert group.Update == UpdateStrategy(
        Stagger=10 * S, MaxParallel=5, HealthCheck="checks", MinHealthyTime=10 * S, HealthyDeadline=5 * M,
        ProgressDeadline=10 * M, Canary=0, AutoRevert=False, AutoPromote=False,
    )


def test_services_and_checks_get_nomads_defaults() -> None:
    job = structs.canonicalize(structs.decode_job(fixtures.web_job()))
    service = job.TaskGroups[0].Services[0]  # type: ignore[index]
    assert (service.AddressMode, service.OnUpdate, service.Provider, service.Cluster) == (
        "auto", "require_healthy", "nomad", "default",
    )
    http, tcp = service.Checks  # type: ignore[misc]
    assert http.Name == 'service: "web" check' and tcp.Name == "metrics-up"
    assert http.OnUpdate == "require_healthy" and http.TaskName == ""


def test_service_names_default_and_interpolate() -> None:
    data = fixtures.web_job()
    task = data["TaskGroups"][0]["Tasks"][0]
    task["Services"] = [
        {"PortLabel": "http"},
        {"Name": "${JOB}-${TASKGROUP}-${TASK}-admin", "PortLabel": "http"},
        {"Name": "${BASE}", "PortLabel": "http", "CheckRestart": {"Limit": 3},
         "Checks": [{"Type": "tcp", "Interval": 5 * S, "Timeout": S, "CheckRestart": {"Grace": 90 * S}}]},
    ]
    data["TaskGroups"][0]["Services"] = [{"PortLabel": "http"}]
    group = structs.canonicalize(structs.decode_job(data)).TaskGroups[0]  # type: ignore[index]
    names = [s.Name for s in group.Tasks[0].Services]  # type: ignore[index,union-attr]
    assert names == ["web-web-app", "web-web-app-admin", "web-web-app"]
    assert group.Services[0].Name == "web-web"  # type: ignore[index]
    check = group.Tasks[0].Services[2].Checks[0]  # type: ignore[index]
    assert check.CheckRestart == structs.CheckRestart(Limit=3, Grace=90 * S, IgnoreWarnings=False)
    assert check.TaskName == "app" and group.Tasks[0].Services[0].TaskName == "app"  # type: ignore[index]


def test_templates_artifacts_and_placement_defaults() -> None:
    data = fixtures.web_job()
    data["Affinities"] = [{"LTarget": "${node.class}", "RTarget": "fast"}]
    data["TaskGroups"][0]["Tasks"][0]["Artifacts"].append(
        {"GetterSource": "https://example.com/bin/tool?archive=false", "GetterMode": "file"}
    )
    job = structs.canonicalize(structs.decode_job(data))
    task = job.TaskGroups[0].Tasks[0]  # type: ignore[index]
    env_tmpl, conf_tmpl = task.Templates  # type: ignore[misc]
    assert (env_tmpl.ChangeMode, env_tmpl.ChangeSignal, env_tmpl.Splay, env_tmpl.Perms) == ("restart", "", 5 * S, "0644")
    assert (env_tmpl.LeftDelim, env_tmpl.RightDelim, env_tmpl.ErrMissingKey) == ("{{", "}}", False)
    assert conf_tmpl.ChangeSignal == "SIGHUP"  # upper-cased, as Nomad does
    given, file_mode = task.Artifacts  # type: ignore[misc]
    assert (given.GetterMode, given.RelativeDest, given.GetterInsecure) == ("any", "local/static", False)
    assert file_mode.RelativeDest == "local/tool?archive=false"
    assert job.Affinities == [structs.Affinity(LTarget="${node.class}", RTarget="fast", Operand="=", Weight=50)]
    assert job.TaskGroups[0].Spreads[0].Weight == 50  # type: ignore[index]
    network = job.TaskGroups[0].Networks[0]  # type: ignore[index]
    assert network.Mode == "bridge" and network.DynamicPorts[0].HostNetwork == "default"  # type: ignore[index]


@pytest.mark.parametrize(
    ("scaling", "count", "expected_count", "expected_min"),
    [({"Min": 2, "Max": 10}, None, 2, 2), ({"Max": 10}, 4, 4, 4), ({"Min": 1, "Max": 5}, 3, 3, 1)],
)
def test_group_count_follows_scaling_min(scaling: dict[str, int], count: int | None, expected_count: int, expected_min: int) -> None:
    data = fixtures.web_job()
    data["TaskGroups"][0]["Count"] = count
    data["TaskGroups"][0]["Scaling"] = scaling
    group = structs.canonicalize(structs.decode_job(data)).TaskGroups[0]  # type: ignore[index]
    assert group.Count == expected_count
    assert group.Scaling is not None
    assert (group.Scaling.Min, group.Scaling.Enabled, group.Scaling.Type) == (expected_min, True, "horizontal")


def test_periodic_parameterized_and_multiregion_defaults() -> None:
    data = fixtures.batch_job()
    data["Periodic"] = {"Specs": ["@daily"]}
    data["ParameterizedJob"] = {"MetaRequired": ["customer"]}
    data["Multiregion"] = {"Regions": [{"Name": "west"}]}
    job = structs.canonicalize(structs.decode_job(data))
    assert job.Periodic == structs.PeriodicConfig(
        Enabled=True, Spec="", Specs=["@daily"], SpecType="cron", ProhibitOverlap=False, TimeZone="UTC"
    )
    assert job.ParameterizedJob is not None and job.ParameterizedJob.Payload == "optional"
    assert job.Multiregion == structs.Multiregion(
        Strategy=structs.MultiregionStrategy(MaxParallel=0, OnFailure=""),
        Regions=[structs.MultiregionRegion(Name="west", Count=1, Datacenters=[], Meta={})],
    )


def test_cores_replace_the_default_cpu_and_devices_default_to_one() -> None:
    data = fixtures.batch_job()
    data["TaskGroups"][0]["Tasks"][0]["Resources"] = {"Cores": 4, "Devices": [{"Name": "nvidia/gpu"}]}
    task = structs.canonicalize(structs.decode_job(data)).TaskGroups[0].Tasks[0]  # type: ignore[index]
    assert task.Resources is not None
    assert (task.Resources.CPU, task.Resources.Cores, task.Resources.MemoryMB) == (0, 4, 300)
    assert task.Resources.Devices == [structs.RequestedDevice(Name="nvidia/gpu", Count=1)]


def test_a_job_level_vault_field_is_not_part_of_the_api_job() -> None:
    data = fixtures.web_job()
    data["Vault"] = {"Policies": ["read-secrets"]}
    with pytest.raises(msgspec.ValidationError, match="unknown field `Vault`"):
        structs.decode_job(data)


def test_empty_lifecycle_is_dropped_and_log_enabled_false_means_disabled() -> None:
    data = fixtures.batch_job()
    task = data["TaskGroups"][0]["Tasks"][0]
    task["Lifecycle"] = {"Sidecar": False}
    task["LogConfig"] = {"Enabled": False}
    out = structs.canonicalize(structs.decode_job(data)).TaskGroups[0].Tasks[0]  # type: ignore[index]
    assert out.Lifecycle is None
    assert out.LogConfig == LogConfig(MaxFiles=10, MaxFileSizeMB=10, Enabled=False, Disabled=True)
