"""Bad job files, part 4: HCL2 input variables (-var, var files, validation) and locals."""

from __future__ import annotations

from tests.unit.jobspec.bad_input_support import (
    assert_at,
    errors_of,
    job_text,
    position,
    the_error,
)

# -- variables and locals ------------------------------------------------------------------------

VARIABLE_JOB = (
    'variable "replicas" {\n'
    "  type = number\n"
    "  default = 2\n"
    "  validation {\n"
    "    condition     = var.replicas <= 10\n"
    '    error_message = "At most 10 replicas."\n'
    "  }\n"
    "}\n"
)


def test_undeclared_var_is_an_error_naming_the_declared_ones() -> None:
    source = job_text(top=VARIABLE_JOB, group="    count = var.replicas\n")
    diag = the_error(source, variables={"replica": "3"})
    assert diag.path == "var.replica"
    assert 'no variable "replica" is declared' in diag.message
    assert "replicas" in diag.message


def test_variable_without_a_value() -> None:
    source = job_text(top='variable "image" {\n  type = string\n}\n').replace('"redis:7"', "var.image")
    diag = the_error(source)
    assert_at(
        diag,
        source,
        'variable "image"',
        path="variable[image]",
        fragment='variable "image" has no default and no value',
    )


def test_variable_validation_failure_shows_its_error_message() -> None:
    source = job_text(top=VARIABLE_JOB, group="    count = var.replicas\n")
    diag = the_error(source, variables={"replicas": "12"})
    assert_at(
        diag, source, "condition", path="variable[replicas].validation", fragment="At most 10 replicas."
    )


def test_var_of_the_wrong_type() -> None:
    source = job_text(top=VARIABLE_JOB, group="    count = var.replicas\n")
    diag = the_error(source, variables={"replicas": "many"})
    assert diag.path == "var.replicas"
    assert '"many"' in diag.message and "number" in diag.message


def test_var_file_value_of_the_wrong_type() -> None:
    source = job_text(top=VARIABLE_JOB, group="    count = var.replicas\n")
    diag = the_error(source, var_files={"replicas": [1, 2]})
    assert diag.path == "var.replicas"
    assert "number" in diag.message


def test_var_file_errors_point_into_the_var_file() -> None:
    from cluster.jobspec import parse_var_file

    values = parse_var_file('# prod\nreplicas = [1, 2]\nextra = 1\n', "prod.vars.hcl")
    source = job_text(top=VARIABLE_JOB, group="    count = var.replicas\n")
    diags = errors_of(source, var_files=values)
    assert [(d.filename, d.line, d.column, d.path) for d in diags] == [
        ("prod.vars.hcl", 2, 12, "var.replicas"),
        ("prod.vars.hcl", 3, 9, "var.extra"),
    ]
    assert "not declared in the job file" in diags[1].message


def test_local_cycle_names_every_local_in_it() -> None:
    source = job_text(top="locals {\n  a = local.b\n  b = local.a\n  c = 1\n}\n")
    diags = errors_of(source)
    assert [(d.line, d.path) for d in diags] == [
        (position(source, "a = local.b")[0], "local.a"),
        (position(source, "b = local.a")[0], "local.b"),
    ]
    assert all("cycle" in d.message for d in diags)


def test_reference_to_an_unknown_local() -> None:
    source = job_text(job="  region = local.nowhere\n")
    diag = the_error(source)
    assert_at(diag, source, "local.nowhere", path="job.region", fragment='undefined variable "local.nowhere"')
