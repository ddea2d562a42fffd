"""Bad job JSON (``parse_json``), and deprecated fields that warn instead of failing."""

from __future__ import annotations

from cluster import jobspec
from cluster.errors import JobSpecError
from tests.unit.jobspec.bad_input_support import (
    FILENAME,
    job_text,
    position,
)

# -- JSON input ----------------------------------------------------------------------------------


def test_json_that_is_not_json() -> None:
    try:
        jobspec.parse_json('{"Job": {"ID": "web",', filename="job.json")
    except JobSpecError as e:
        [diag] = e.diagnostics
    else:
        raise AssertionError("broken JSON was accepted")
    assert diag.filename == "job.json"
    assert "not valid JSON" in diag.message


def test_json_value_of_the_wrong_type_names_its_path() -> None:
    source = '{"Job": {"ID": "web", "Name": "web", "Priority": "high", "TaskGroups": []}}'
    try:
        jobspec.parse_json(source, filename="job.json")
    except JobSpecError as e:
        [diag] = e.diagnostics
    else:
        raise AssertionError("a string priority was accepted")
    assert diag.path == "Job.Priority"
    assert "int" in diag.message.lower()


def test_json_nested_wrong_type_names_the_full_path() -> None:
    source = (
        '{"Job": {"ID": "web", "Name": "web", "TaskGroups": [{"Name": "cache", "Tasks": '
        '[{"Name": "redis", "Driver": "docker", "Config": {"image": "redis:7"}, "Resources": {"MemoryMB": "lots"}}]}]}}'
    )
    try:
        jobspec.parse_json(source)
    except JobSpecError as e:
        [diag] = e.diagnostics
    else:
        raise AssertionError("a string MemoryMB was accepted")
    assert diag.path == "Job.TaskGroups[0].Tasks[0].Resources.MemoryMB"


def test_json_array_instead_of_a_job() -> None:
    try:
        jobspec.parse_json("[1, 2]")
    except JobSpecError as e:
        [diag] = e.diagnostics
    else:
        raise AssertionError("a JSON array was accepted as a job")
    assert "expected a JSON object" in diag.message


def test_json_job_failing_validation_names_the_field() -> None:
    source = (
        '{"Job": {"ID": "web", "Name": "web", "Priority": 150, "TaskGroups": [{"Name": "cache", "Tasks": '
        '[{"Name": "redis", "Driver": "docker", "Config": {"image": "redis:7"}}]}]}}'
    )
    try:
        jobspec.parse_json(source)
    except JobSpecError as e:
        [diag] = e.diagnostics
    else:
        raise AssertionError("priority 150 was accepted")
    assert "priority" in diag.path.lower()
    assert diag.line == 0


# -- warnings are not errors ---------------------------------------------------------------------


def test_deprecated_fields_are_warnings_with_positions_and_the_job_still_parses() -> None:
    source = job_text(group='    max_client_disconnect = "1h"\n    network {\n      mbits = 10\n    }\n')
    parsed = jobspec.parse_hcl(source, filename=FILENAME)
    got = [(w.line, w.column, w.path) for w in parsed.warnings]
    assert got == [
        (*position(source, "max_client_disconnect"), "job.group[cache].max_client_disconnect"),
        (*position(source, "mbits"), "job.group[cache].network[0].mbits"),
    ]
    assert all("deprecated" in w.message for w in parsed.warnings)
