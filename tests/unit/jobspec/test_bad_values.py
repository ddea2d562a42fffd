"""Bad job files, part 3: values of the wrong type, semantic errors found by validation (mapped
back to the line that caused them), and driver configs Caravan can check (docker, raw_exec).
"""

from __future__ import annotations

from tests.unit.jobspec.bad_input_support import (
    TASK,
    assert_at,
    job_text,
    the_error,
)

# -- values ---------------------------------------------------------------------------------------


def test_wrong_type_points_at_the_value() -> None:
    source = job_text(task='      resources {\n        memory = "lots"\n      }\n')
    diag = the_error(source)
    assert_at(
        diag,
        source,
        '"lots"',
        path=f"{TASK}.resources.memory",
        fragment='expected a whole number, got "lots"',
    )
    assert str(diag).endswith(f'{TASK}.resources.memory: expected a whole number, got "lots"')


def test_wrong_type_list_for_string() -> None:
    source = job_text(job='  region = ["eu"]\n')
    diag = the_error(source)
    assert_at(diag, source, '["eu"]', path="job.region", fragment="expected a string, got a list")


def test_bad_duration_names_the_units() -> None:
    source = job_text(task='      kill_timeout = "5 minutes"\n')
    diag = the_error(source)
    assert_at(
        diag, source, '"5 minutes"', path=f"{TASK}.kill_timeout", fragment='expected a duration such as "30s"'
    )
    assert '"5 minutes"' in diag.message


def test_list_element_of_the_wrong_type_is_named_by_index() -> None:
    source = job_text(job='  datacenters = ["dc1", ["dc2"]]\n').replace('  datacenters = ["dc1"]\n', "", 1)
    diag = the_error(source)
    assert_at(
        diag,
        source,
        '["dc1", ["dc2"]]',
        path="job.datacenters",
        fragment="element 1: expected a string, got a list",
    )


# -- semantic errors, mapped back to lines -------------------------------------------------------


def test_priority_out_of_range_points_at_the_priority_line() -> None:
    source = job_text(job="  priority = 150\n")
    diag = the_error(source)
    assert_at(diag, source, "priority", path="job.priority", fragment="must be between 1 and 100, got 150")


def test_negative_count_points_at_the_count_line() -> None:
    source = job_text(group="    count = -1\n")
    diag = the_error(source)
    assert_at(diag, source, "count", path="job.group[cache].count", fragment="must not be negative, got -1")


def test_bad_cron_points_at_the_crons_line() -> None:
    source = job_text(job='  type = "batch"\n  periodic {\n    crons = ["61 * * * *"]\n  }\n')
    diag = the_error(source)
    assert_at(
        diag,
        source,
        "crons",
        path="job.periodic.crons[0]",
        fragment='invalid cron expression "61 * * * *": minute: 61 is out of range 0-59',
    )


def test_unknown_constraint_operator_points_at_the_operator() -> None:
    source = job_text(
        group='    constraint {\n      attribute = "${attr.kernel.name}"\n      operator = "~="\n      value = "linux"\n    }\n'
    )
    diag = the_error(source)
    assert_at(
        diag,
        source,
        'operator = "~="',
        path="job.group[cache].constraint[0].operator",
        fragment='unknown operator "~="; expected one of =, ==, is, !=',
    )


def test_unknown_update_health_check_points_at_the_health_check() -> None:
    source = job_text(group='    update {\n      health_check = "magic"\n    }\n')
    diag = the_error(source)
    assert_at(
        diag,
        source,
        "health_check",
        path="job.group[cache].update.health_check",
        fragment='must be one of "checks", "task_states", "manual"; got "magic"',
    )


def test_unknown_job_type() -> None:
    source = job_text(job='  type = "daemon"\n')
    diag = the_error(source)
    assert_at(
        diag,
        source,
        "type",
        path="job.type",
        fragment='must be one of "service", "batch", "system", "sysbatch"; got "daemon"',
    )


# -- driver configs ------------------------------------------------------------------------------


def test_docker_config_without_image() -> None:
    source = job_text().replace('        image = "redis:7"\n', '        args = ["-v"]\n')
    diag = the_error(source)
    assert_at(
        diag, source, "config {", path=f"{TASK}.config", fragment='the docker driver needs "image" in config'
    )


def test_unknown_docker_option_suggests_the_close_one() -> None:
    source = job_text(config='        port = ["db"]\n')
    diag = the_error(source)
    assert_at(
        diag,
        source,
        "port =",
        path=f"{TASK}.config.port",
        fragment='unknown docker config option "port"; did you mean "ports"?',
    )


def test_docker_option_of_the_wrong_type() -> None:
    source = job_text(config='        privileged = "maybe"\n')
    diag = the_error(source)
    assert_at(
        diag, source, "privileged", path=f"{TASK}.config.privileged", fragment='expected a bool, got "maybe"'
    )


def test_raw_exec_without_command() -> None:
    source = (
        job_text()
        .replace('driver = "docker"', 'driver = "raw_exec"')
        .replace('image = "redis:7"', 'args = ["x"]')
    )
    diag = the_error(source)
    assert_at(
        diag,
        source,
        "config {",
        path=f"{TASK}.config",
        fragment='the raw_exec driver needs "command" in config',
    )
