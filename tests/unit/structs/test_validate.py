"""What ``nomad job validate`` rejects: each case breaks one thing in a valid job and expects the
exact job-file path and the gist of the message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cluster import structs
from tests.unit.structs import fixtures

S = 1_000_000_000
M = 60 * S
JSON = dict[str, Any]


def put(data: JSON, where: str, value: Any) -> JSON:
    """Sets ``value`` at a dotted path (``TaskGroups.0.Count``) in ``data`` and returns ``data``."""
    *parents, last = where.split(".")
    node: Any = data
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
    if isinstance(node, list):
        index = int(last)
        if index == len(node):
            node.append(value)
        else:
            node[index] = value
    else:
        node[last] = value
    return data


def problems(data: JSON) -> list[tuple[str, str]]:
    return [(d.path, d.message) for d in structs.validate_job(structs.decode_job(data))]


WEB, CACHE, APP, REDIS = "TaskGroups.0", "TaskGroups.1", "TaskGroups.0.Tasks.0", "TaskGroups.1.Tasks.0"
G_WEB, G_CACHE = "job.group[web]", "job.group[cache]"
T_APP, T_REDIS = f"{G_WEB}.task[app]", f"{G_CACHE}.task[redis]"
CHECK0 = f"{G_WEB}.service[0].check[0]"


def web(*changes: tuple[str, Any]) -> Callable[[], JSON]:
    def make() -> JSON:
        data = fixtures.web_job()
        for where, value in changes:
            put(data, where, value)
        return data

    return make


def batch(*changes: tuple[str, Any]) -> Callable[[], JSON]:
    def make() -> JSON:
        data = fixtures.batch_job()
        for where, value in changes:
            put(data, where, value)
        return data

    return make


def system(*changes: tuple[str, Any]) -> Callable[[], JSON]:
    def make() -> JSON:
        data = fixtures.system_job()
        for where, value in changes:
            put(data, where, value)
        return data

    return make


def periodic(*specs: str, zone: str = "UTC") -> tuple[str, Any]:
    return ("Periodic", {"Specs": list(specs), "TimeZone": zone})


def constraint(attribute: str, operator: str, value: str = "") -> list[JSON]:
    return [{"LTarget": attribute, "Operand": operator, "RTarget": value}]


CASES: list[tuple[str, Callable[[], JSON], str, str]] = [
    # -- the job ---------------------------------------------------------------------------------
    ("priority-too-high", web(("Priority", 150)), "job.priority", "must be between 1 and 100, got 150"),
    ("priority-zero", web(("Priority", 0)), "job.priority", "must be between 1 and 100, got 0"),
    ("unknown-type", web(("Type", "web")), "job.type", 'must be one of "service", "batch", "system", "sysbatch"; got "web"'),
    ("id-with-space", web(("ID", "my web")), "job.id", 'must not contain spaces, got "my web"'),
    ("id-empty", web(("ID", ""), ("Name", "web")), "job.id", "is required"),
    ("id-too-long", web(("ID", "w" * 300)), "job.id", "must be at most 256 characters, got 300"),
    ("name-null-char", web(("Name", "we\x00b")), "job.name", "must not contain null characters"),
    ("empty-datacenter", web(("Datacenters", ["dc1", ""])), "job.datacenters[1]", "must not be empty"),
    ("no-groups", web(("TaskGroups", [])), "job", "a job needs at least one group"),
    ("payload-not-dispatched", web(("Payload", "aGVsbG8=")), "job.payload", "only given when dispatching"),
    ("duplicate-group", web((f"{CACHE}.Name", "web")), G_WEB, 'duplicate group name "web"'),
    ("group-without-name", web((f"{CACHE}.Name", None)), "job.group[]", "group name is required"),
    # -- groups ----------------------------------------------------------------------------------
    ("negative-count", web((f"{CACHE}.Count", -1)), f"{G_CACHE}.count", "must not be negative, got -1"),
    ("system-count", system(("TaskGroups.0.Count", 3)), "job.group[exporter].count", "must be 0 or 1 in a system job"),
    ("group-without-tasks", web((f"{CACHE}.Tasks", [])), G_CACHE, "a group needs at least one task"),
    ("duplicate-task", web((f"{CACHE}.Tasks.1", {"Name": "redis", "Driver": "docker"})), T_REDIS, 'duplicate task name "redis"'),
    ("two-leaders", web((f"{REDIS}.Leader", True), (f"{CACHE}.Tasks.1", {"Name": "sentinel", "Driver": "docker", "Leader": True})),
     G_CACHE, "only one task may be the leader, found 2: redis, sentinel"),
    ("disk-too-small", web((f"{WEB}.EphemeralDisk", {"SizeMB": 5})), f"{G_WEB}.ephemeral_disk.size", "must be at least 10 MB, got 5"),
    # -- tasks and resources ---------------------------------------------------------------------
    ("no-driver", web((f"{REDIS}.Driver", "")), f"{T_REDIS}.driver", "is required"),
    ("task-name-slash", web((f"{REDIS}.Name", "a/b")), f"{G_CACHE}.task[a/b]", 'task name must not contain slashes, got "a/b"'),
    ("memory-too-small", web((f"{REDIS}.Resources.MemoryMB", 5)), f"{T_REDIS}.resources.memory", "must be at least 10 MB, got 5"),
    ("cpu-zero", web((f"{REDIS}.Resources.CPU", 0)), f"{T_REDIS}.resources.cpu", "must be at least 1 MHz, got 0"),
    ("cpu-and-cores", web((f"{REDIS}.Resources.Cores", 2)), f"{T_REDIS}.resources.cores", "cannot be combined with cpu"),
    ("memory-max-below-memory", web((f"{REDIS}.Resources.MemoryMaxMB", 64)), f"{T_REDIS}.resources.memory_max",
     "must be at least memory (128 MB), got 64"),
    ("task-disk", web((f"{REDIS}.Resources.DiskMB", 500)), f"{T_REDIS}.resources.disk", "ephemeral_disk"),
    ("device-twice", web((f"{REDIS}.Resources.Devices", [{"Name": "nvidia/gpu"}, {"Name": "nvidia/gpu"}])),
     f"{T_REDIS}.resources.device[nvidia/gpu]", 'device "nvidia/gpu" is requested twice'),
    ("kill-timeout-negative", web((f"{APP}.KillTimeout", -S)), f"{T_APP}.kill_timeout", "must not be negative, got -1s"),
    ("logs-exceed-disk", batch(("TaskGroups.0.Tasks.0.LogConfig", {"MaxFiles": 10, "MaxFileSizeMB": 200})),
     "job.group[report].task[render].logs", "logs may use 2000 MB (10 files of 200 MB), which must be less than the group's ephemeral_disk size (1024 MB)"),
    ("logs-no-files", batch(("TaskGroups.0.Tasks.0.LogConfig.MaxFiles", 0)), "job.group[report].task[render].logs.max_files",
     "must be at least 1, got 0"),
    ("dispatch-payload-escapes", batch(("TaskGroups.0.Tasks.0.DispatchPayload", {"File": "../../../etc/passwd"})),
     "job.group[report].task[render].dispatch_payload.file", "must stay inside the allocation directory"),
    ("lifecycle-hook", web((f"{APP}.Lifecycle", {"Hook": "prerun"})), f"{T_APP}.lifecycle.hook",
     'must be one of "prestart", "poststart", "poststop"; got "prerun"'),
    # -- networks and ports ----------------------------------------------------------------------
    ("duplicate-port-label", web((f"{WEB}.Networks.0.DynamicPorts.1", {"Label": "metrics"})), f"{G_WEB}.network[0].port[metrics]",
     'port label "metrics" is already used in network[0]'),
    ("static-port-range", web((f"{WEB}.Networks.0.ReservedPorts.0.Value", 70000)), f"{G_WEB}.network[0].port[metrics].static",
     "must be between 1 and 65535, got 70000"),
    ("static-port-twice", web((f"{APP}.Resources.Networks", [{"ReservedPorts": [{"Label": "debug", "Value": 9100}]}])),
     f"{T_APP}.resources.network[0].port[debug].static", "port 9100 is already reserved by port \"metrics\" of network[0]"),
    ("port-to-negative", web((f"{WEB}.Networks.0.DynamicPorts.0.To", -5)), f"{G_WEB}.network[0].port[http].to",
     "must be between -1 and 65535, got -5"),
    ("two-networks", web((f"{WEB}.Networks.1", {"Mode": "host"})), f"{G_WEB}.network[1]", "only one network block is allowed per group"),
    ("network-mode", web((f"{WEB}.Networks.0.Mode", "overlay")), f"{G_WEB}.network[0].mode",
     'must be "host", "bridge", "none" or "cni/<network name>", got "overlay"'),
    # -- update, migrate, restart, reschedule ----------------------------------------------------
    ("update-max-parallel", web((f"{WEB}.Update.MaxParallel", -1)), f"{G_WEB}.update.max_parallel", "must not be negative, got -1"),
    ("job-update-health-check", web(("Update.HealthCheck", "bogus")), "job.update.health_check",
     'must be one of "checks", "task_states", "manual"; got "bogus"'),
    ("job-update-min-healthy", web(("Update.MinHealthyTime", 5 * M)), "job.update.min_healthy_time",
     "must be less than healthy_deadline (4m), got 5m"),
    ("update-progress", web((f"{WEB}.Update.HealthyDeadline", 11 * M)), f"{G_WEB}.update.healthy_deadline",
     "must be less than progress_deadline (10m), got 11m"),
    ("auto-promote-no-canary", web((f"{WEB}.Update.Canary", 0)), f"{G_WEB}.update.auto_promote", "needs canary to be greater than 0"),
    ("update-in-batch-group", batch(("TaskGroups.0.Update", {"MaxParallel": 1})), "job.group[report].update",
     "update is only allowed in service and system jobs"),
    ("update-in-batch-job", batch(("Update", {"MaxParallel": 1})), "job.update", "update is only allowed in service and system jobs"),
    ("migrate-in-batch", batch(("TaskGroups.0.Migrate", {"MaxParallel": 1})), "job.group[report].migrate",
     "migrate is only allowed in service jobs"),
    ("migrate-health-check", web((f"{WEB}.Migrate", {"HealthCheck": "manual"})), f"{G_WEB}.migrate.health_check",
     'must be one of "checks", "task_states"; got "manual"'),
    ("restart-mode", web((f"{CACHE}.RestartPolicy", {"Mode": "retry"})), f"{G_CACHE}.restart.mode",
     'must be one of "fail", "delay"; got "retry"'),
    ("restart-delay-no-attempts", web((f"{REDIS}.RestartPolicy", {"Attempts": 0, "Mode": "delay"})), f"{T_REDIS}.restart.attempts",
     'must be greater than 0 when mode is "delay"'),
    ("restart-interval-short", web((f"{WEB}.RestartPolicy", {"Interval": 2 * S, "Attempts": 0})), f"{G_WEB}.restart.interval",
     "must be at least 5s, got 2s"),
    ("restart-does-not-fit", web((f"{WEB}.RestartPolicy", {"Attempts": 10, "Delay": M, "Interval": 5 * M})),
     f"{G_WEB}.restart.interval", "must fit 10 attempts 1m apart (10m), got 5m"),
    ("reschedule-function", batch(("TaskGroups.0.ReschedulePolicy.DelayFunction", "linear")), "job.group[report].reschedule.delay_function",
     'must be one of "constant", "exponential", "fibonacci"; got "linear"'),
    ("reschedule-delay", batch(("TaskGroups.0.ReschedulePolicy.Delay", S)), "job.group[report].reschedule.delay",
     "must be at least 5s, got 1s"),
    ("reschedule-ambiguous", batch(("TaskGroups.0.ReschedulePolicy.Unlimited", True)), "job.group[report].reschedule.unlimited",
     "cannot be true when attempts is set"),
    ("reschedule-does-not-fit", batch(("TaskGroups.0.ReschedulePolicy", {"Attempts": 5, "Interval": M, "Delay": 30 * S})),
     "job.group[report].reschedule.interval", "must fit 5 attempts with constant delay from 30s (at least 2m30s), got 1m"),
    ("reschedule-in-system", system(("TaskGroups.0.ReschedulePolicy", {"Attempts": 1})), "job.group[exporter].reschedule",
     "system jobs cannot have a reschedule policy"),
    ("job-reschedule-max-delay", web(("Reschedule", {"Delay": M, "MaxDelay": 30 * S})), "job.reschedule.max_delay",
     "must be at least delay (1m), got 30s"),
    # -- placement -------------------------------------------------------------------------------
    ("unknown-operator", web(("Constraints", constraint("${attr.os.name}", "~=", "ubuntu"))), "job.constraint[0].operator",
     'unknown operator "~="'),
    ("bad-regexp", web((f"{APP}.Constraints", constraint("${attr.unique.hostname}", "regexp", "web-("))),
     f"{T_APP}.constraint[0].value", "is not a valid regular expression"),
    ("bad-version", web(("Constraints", constraint("${attr.nomad.version}", "version", "newest"))), "job.constraint[0].value",
     '"newest" is not a valid version constraint'),
    ("bad-semver", web(("Constraints", constraint("${attr.nomad.version}", "semver", ">= 1.2.3.4"))), "job.constraint[0].value",
     '">= 1.2.3.4" is not a valid semver constraint'),
    ("distinct-hosts-in-task", web((f"{APP}.Constraints", [{"Operand": "distinct_hosts", "RTarget": "true"}])),
     f"{T_APP}.constraint[0].operator", "distinct_hosts is not allowed in a task constraint"),
    ("is-set-with-value", web(("Constraints", constraint("${meta.rack}", "is_set", "yes"))), "job.constraint[0].value",
     'must be empty with operator "is_set", got "yes"'),
    ("constraint-no-attribute", web(("Constraints", constraint("", "=", "linux"))), "job.constraint[0].attribute",
     'is required with operator "="'),
    ("distinct-property-count", web((f"{WEB}.Constraints", constraint("${meta.rack}", "distinct_property", "two"))),
     f"{G_WEB}.constraint[0].value", 'must be a whole number of at least 1 (allocations per value), got "two"'),
    ("affinity-weight-zero", web(("Affinities", [{"LTarget": "${node.class}", "RTarget": "fast", "Weight": 0}])),
     "job.affinity[0].weight", "must not be 0"),
    ("affinity-weight-range", web(("Affinities", [{"LTarget": "${node.class}", "RTarget": "fast", "Weight": 150}])),
     "job.affinity[0].weight", "must be between -100 and 100, got 150"),
    ("affinity-in-system", system(("TaskGroups.0.Affinities", [{"LTarget": "${node.class}", "RTarget": "x"}])),
     "job.group[exporter].affinity[0]", "system jobs cannot have affinities"),
    ("spread-over-100", web((f"{WEB}.Spreads.0.SpreadTarget.1.Percent", 70)), f"{G_WEB}.spread[0]",
     "target percentages add up to 130%; they must not exceed 100%"),
    ("spread-duplicate-target", web((f"{WEB}.Spreads.0.SpreadTarget.1.Value", "dc1")), f"{G_WEB}.spread[0].target[dc1]",
     'duplicate target "dc1"'),
    ("spread-weight", web((f"{WEB}.Spreads.0.Weight", 0)), f"{G_WEB}.spread[0].weight", "must be between 1 and 100, got 0"),
    # -- periodic, parameterized, multiregion ----------------------------------------------------
    ("periodic-service", web(periodic("@daily")), "job.periodic", "is only allowed in batch and sysbatch jobs, not in a service job"),
    ("bad-cron", batch(periodic("0 3 * * *", "0 25 * * *")), "job.periodic.crons[1]",
     'invalid cron expression "0 25 * * *": hour: 25 is out of range 0-23'),
    ("cron-fields", batch(("Periodic", {"Spec": "* * * *"})), "job.periodic.cron",
     "a cron expression has 5, 6 or 7 fields, got 4"),
    ("cron-and-crons", batch(("Periodic.Spec", "@hourly")), "job.periodic.crons", "give either cron or crons, not both"),
    ("bad-time-zone", batch(periodic("@daily", zone="Mars/Olympus_Mons")), "job.periodic.time_zone",
     'unknown time zone "Mars/Olympus_Mons"'),
    ("payload-requirement", batch(("ParameterizedJob", {"Payload": "sometimes"})), "job.parameterized.payload",
     'must be one of "optional", "required", "forbidden"; got "sometimes"'),
    ("meta-overlap", batch(("ParameterizedJob", {"MetaRequired": ["customer", "day"], "MetaOptional": ["day"]})),
     "job.parameterized.meta_optional", "lists keys that meta_required has too: day"),
    ("parameterized-service", web(("ParameterizedJob", {})), "job.parameterized", "is only allowed in batch and sysbatch jobs"),
    ("duplicate-region", web(("Multiregion", {"Regions": [{"Name": "west"}, {"Name": "west"}]})), "job.multiregion.region[west]",
     'duplicate region "west"'),
    ("on-failure", web(("Multiregion", {"Strategy": {"OnFailure": "retry"}})), "job.multiregion.strategy.on_failure",
     'must be one of "fail_all", "fail_local"; got "retry"'),
    # -- services and checks ---------------------------------------------------------------------
    ("service-name", web((f"{WEB}.Services.0.Name", "web_api")), f"{G_WEB}.service[0].name", "must be a valid DNS label"),
    ("service-port", web((f"{WEB}.Services.0.PortLabel", "https")), f"{G_WEB}.service[0].port",
     'port label "https" is not defined in the group\'s network'),
    ("check-interval", web((f"{WEB}.Services.0.Checks.0.Interval", 0)), f"{CHECK0}.interval", "is required"),
    ("check-timeout", web((f"{WEB}.Services.0.Checks.1.Timeout", 500_000_000)), f"{G_WEB}.service[0].check[1].timeout",
     "must be at least 1s, got 500ms"),
    ("http-check-path", web((f"{WEB}.Services.0.Checks.0.Path", "")), f"{CHECK0}.path", "is required for an http check"),
    ("check-type", web((f"{WEB}.Services.0.Checks.1.Type", "udp")), f"{G_WEB}.service[0].check[1].type",
     'must be one of "http", "tcp", "grpc", "script"; got "udp"'),
    ("grpc-with-nomad", web((f"{WEB}.Services.0.Checks.0.Type", "grpc")), f"{CHECK0}.type",
     'must be "http" or "tcp" with provider "nomad", got "grpc"'),
    ("script-needs-command", batch(("TaskGroups.0.Tasks.0.Services", [{"Name": "render", "Checks": [
        {"Type": "script", "Interval": 10 * S, "Timeout": 2 * S}]}])), "job.group[report].task[render].service[0].check[0].command",
     "is required for a script check"),
    ("group-service-driver", web((f"{WEB}.Services.0.AddressMode", "driver")), f"{G_WEB}.service[0].address_mode",
     'cannot be "driver" in a group service'),
    ("task-service-alloc", web((f"{APP}.Services", [{"Name": "app", "Provider": "nomad", "AddressMode": "alloc"}])),
     f"{T_APP}.service[0].address_mode", 'cannot be "alloc" in a task service'),
    ("task-service-numeric-port", web((f"{APP}.Services", [{"Name": "app", "Provider": "nomad", "PortLabel": "8080"}])),
     f"{T_APP}.service[0].port", '"8080" is a number: use a port label of the network, or address_mode "driver"'),
    ("check-needs-port", web((f"{APP}.Services", [{"Name": "app", "Provider": "nomad", "Checks": [
        {"Type": "tcp", "Interval": 10 * S, "Timeout": S}]}])), f"{T_APP}.service[0].check[0].port",
     "is required for a tcp check: set it on the check or on its service"),
    ("mixed-providers", web((f"{APP}.Services", [{"Name": "app-admin", "PortLabel": "http"}])), f"{T_APP}.service[0].provider",
     "all services of a group must use one provider"),
    ("check-unknown-task", web((f"{WEB}.Services.0.Checks.0.TaskName", "worker")), f"{CHECK0}.task",
     'refers to task "worker", which is not in this group'),
    # -- templates, artifacts, volumes -----------------------------------------------------------
    ("template-change-mode", web((f"{APP}.Templates.0.ChangeMode", "reload")), f"{T_APP}.template[0].change_mode",
     'must be one of "noop", "restart", "signal", "script"; got "reload"'),
    ("template-signal-env", web((f"{APP}.Templates.0.ChangeMode", "signal")), f"{T_APP}.template[0].env",
     'cannot be true when change_mode is "signal"'),
    ("template-no-content", web((f"{APP}.Templates.1.SourcePath", "")), f"{T_APP}.template[1]",
     "needs source (a file) or data (the template itself)"),
    ("template-perms", web((f"{APP}.Templates.0.Perms", "rw-r--r--")), f"{T_APP}.template[0].perms",
     'must be an octal file mode such as "0644", got "rw-r--r--"'),
    ("template-escapes", web((f"{APP}.Templates.0.DestPath", "../../../etc/passwd")), f"{T_APP}.template[0].destination",
     "must stay inside the allocation directory"),
    ("template-same-destination", web((f"{APP}.Templates.1.DestPath", "local/app.env")), f"{T_APP}.template[1].destination",
     "is also the destination of template[0]"),
    ("artifact-source", web((f"{APP}.Artifacts.0.GetterSource", "")), f"{T_APP}.artifact[0].source", "is required"),
    ("artifact-checksum", web((f"{APP}.Artifacts.0.GetterOptions", {"checksum": "sha256:abc"})), f"{T_APP}.artifact[0].options.checksum",
     'must be "type:hex digest"'),
    ("volume-mount-undefined", web((f"{APP}.VolumeMounts", [{"Volume": "data", "Destination": "/data"}])),
     f"{T_APP}.volume_mount[0].volume", 'refers to volume "data", which the group does not define'),
    ("volume-type", web((f"{WEB}.Volumes", {"data": {"Name": "data", "Type": "nfs", "Source": "share"}})),
     f"{G_WEB}.volume[data].type", 'must be one of "host", "csi"; got "nfs"'),
    ("csi-access-mode", web((f"{WEB}.Volumes", {"data": {"Name": "data", "Type": "csi", "Source": "pg", "AttachmentMode": "file-system"}})),
     f"{G_WEB}.volume[data].access_mode", "is required for a csi volume"),
    # -- scaling and disconnect ------------------------------------------------------------------
    ("scaling-max-below-min", web((f"{WEB}.Scaling", {"Min": 5, "Max": 2})), f"{G_WEB}.scaling.max", "must be at least min (5), got 2"),
    ("count-outside-scaling", web((f"{WEB}.Scaling", {"Min": 1, "Max": 2})), f"{G_WEB}.count",
     "must be within scaling min 1 and max 2, got 3"),
    ("disconnect-both", web((f"{WEB}.Disconnect", {"LostAfter": M, "StopOnClientAfter": M})), f"{G_WEB}.disconnect.stop_on_client_after",
     "cannot be used together with lost_after"),
    ("disconnect-reconcile", web((f"{WEB}.Disconnect", {"Reconcile": "newest"})), f"{G_WEB}.disconnect.reconcile",
     'must be one of "keep_original", "keep_replacement", "best_score", "longest_running"; got "newest"'),
]


@pytest.mark.parametrize(("make", "path", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_one_broken_field_gives_one_diagnostic_at_its_path(make: Callable[[], JSON], path: str, fragment: str) -> None:
    found = problems(make())
    assert len(found) == 1, found
    assert found[0][0] == path
    assert fragment in found[0][1]


def test_case_ids_are_unique() -> None:
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 40


@pytest.mark.parametrize(
    "make",
    [fixtures.web_job, fixtures.batch_job, fixtures.system_job, fixtures.sysbatch_job, fixtures.cli_output_job],
)
def test_valid_jobs_have_no_diagnostics(make: Callable[[], JSON]) -> None:
    assert problems(make()) == []


def test_a_submitted_and_a_canonical_job_validate_alike() -> None:
    data = web((f"{REDIS}.Resources.MemoryMB", 5), ("Priority", 101))()
    raw = structs.decode_job(data)
    assert structs.validate_job(raw) == structs.validate_job(structs.canonicalize(raw))
    assert len(structs.validate_job(raw)) == 2


def test_every_problem_is_reported_at_once_without_position() -> None:
    data = web(("Priority", 0), (f"{REDIS}.Driver", ""), (f"{WEB}.Networks.0.Mode", "overlay"), ("Periodic", {"Specs": ["bad"]}))()
    found = structs.validate_job(structs.decode_job(data))
    assert [d.path for d in found] == [
        "job.priority", f"{G_WEB}.network[0].mode", f"{T_REDIS}.driver", "job.periodic", "job.periodic.crons[0]",
    ]
    assert all(d.line == 0 and d.filename == "" for d in found)


def test_an_inherited_problem_is_reported_once_at_the_job_level_block() -> None:
    data = web(("Update.MaxParallel", -1))()
    assert problems(data) == [("job.update.max_parallel", "must not be negative, got -1")]


def test_a_group_overriding_the_bad_job_level_field_is_not_blamed() -> None:
    data = web(("Update.MaxParallel", -1), (f"{WEB}.Update.MaxParallel", 1), (f"{CACHE}.Update", {"MaxParallel": 1}))()
    assert problems(data) == []  # as in Nomad, only what each group ends up with is checked


def test_the_job_id_of_nomad_inspect_output_revalidates() -> None:
    """``nomad job inspect`` prints the job-level update block zeroed except stagger and
    max_parallel; every group carries its full block, so resubmitting it must work."""
    data = structs.to_builtins(structs.canonicalize(structs.decode_job(fixtures.web_job())))
    data["Update"] = {"Stagger": 30 * S, "MaxParallel": 1, "HealthCheck": "", "MinHealthyTime": 0,
                      "HealthyDeadline": 0, "ProgressDeadline": 0, "Canary": 0, "AutoRevert": False, "AutoPromote": False}
    assert problems(data) == []


def test_task_restart_inherited_from_its_group_is_reported_at_the_group() -> None:
    data = web((f"{CACHE}.RestartPolicy", {"Interval": S}))()
    assert problems(data) == [(f"{G_CACHE}.restart.interval", "must be at least 5s, got 1s")]
