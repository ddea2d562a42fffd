"""Bad job files, part 2: duplicate labels and blocks, missing or extra job blocks, wrong label
counts, and several mistakes reported together in file order.
"""

from __future__ import annotations

from tests.unit.jobspec.bad_input_support import (
    TASK,
    assert_at,
    errors_of,
    job_text,
    position,
    the_error,
)

# -- duplicates and counts of blocks -------------------------------------------------------------


def test_duplicate_group_label_points_at_the_second_label() -> None:
    source = job_text(
        job='  group "cache" {\n    task "x" {\n      driver = "docker"\n      config {\n        image = "a"\n      }\n    }\n  }\n'
    )
    diag = the_error(source)
    first_line = position(source, 'group "cache"')[0]
    assert_at(
        diag,
        source,
        '"cache"',
        nth=2,
        path="job.group[cache]",
        fragment=f'duplicate group "cache"; the first is at line {first_line}',
    )


def test_duplicate_task_label() -> None:
    source = job_text(
        group='    task "redis" {\n      driver = "docker"\n      config {\n        image = "a"\n      }\n    }\n'
    )
    diag = the_error(source)
    first_line = position(source, 'task "redis"')[0]
    assert_at(
        diag,
        source,
        '"redis"',
        nth=2,
        path="job.group[cache].task[redis]",
        fragment=f'duplicate task "redis"; the first is at line {first_line}',
    )


def test_duplicate_port_label() -> None:
    source = job_text(
        group='    network {\n      port "db" {}\n      port "db" {\n        static = 6379\n      }\n    }\n'
    )
    diag = the_error(source)
    assert_at(
        diag,
        source,
        '"db"',
        nth=2,
        path="job.group[cache].network[0].port[db]",
        fragment='duplicate port "db"; the first is at line',
    )


def test_group_without_tasks() -> None:
    source = 'job "web" {\n  datacenters = ["dc1"]\n  group "empty" {\n  }\n}\n'
    diag = the_error(source)
    assert_at(
        diag, source, 'group "empty"', path="job.group[empty]", fragment="a group needs at least one task"
    )


def test_two_update_blocks() -> None:
    source = job_text(group="    update {\n      canary = 1\n    }\n    update {\n      canary = 2\n    }\n")
    diag = the_error(source)
    first_line = position(source, "update {")[0]
    assert_at(
        diag,
        source,
        "update {",
        nth=2,
        path="job.group[cache].update",
        fragment=f"only one update block is allowed here; the first is at line {first_line}",
    )


def test_missing_job_block() -> None:
    source = 'variable "image" {\n  default = "redis:7"\n}\n'
    diag = the_error(source)
    assert (diag.line, diag.column, diag.path) == (1, 1, "job")
    assert "no job block found" in diag.message


def test_two_job_blocks() -> None:
    source = job_text() + 'job "other" {\n}\n'
    diag = the_error(source)
    assert_at(
        diag,
        source,
        'job "other"',
        path="job",
        fragment="only one job block is allowed per file; the first is at line 2",
    )


def test_job_without_its_label() -> None:
    source = job_text().replace('job "web" {', "job {", 1)
    diag = the_error(source)
    assert_at(
        diag, source, "job {", path="job", fragment="a job block needs exactly one label, the job ID; found 0"
    )


def test_group_without_its_label() -> None:
    source = job_text().replace('group "cache" {', "group {", 1)
    diag = the_error(source)
    assert_at(
        diag, source, "group {", path="job.group", fragment="a group block needs one label, the group name"
    )


def test_task_with_two_labels_points_at_the_extra_one() -> None:
    source = job_text().replace('task "redis" {', 'task "redis" "extra" {', 1)
    diag = the_error(source)
    assert_at(
        diag,
        source,
        '"extra"',
        path="job.group[cache].task",
        fragment="a task block needs one label, the task name",
    )


def test_unlabelled_block_given_a_label() -> None:
    source = job_text(group='    update "fast" {\n      canary = 1\n    }\n')
    diag = the_error(source)
    assert_at(
        diag, source, '"fast"', path="job.group[cache].update", fragment='takes no labels, found "fast"'
    )


# -- several errors at once ----------------------------------------------------------------------


def test_every_error_of_a_file_is_reported_together_in_file_order() -> None:
    source = job_text(
        job="  priorty = 50\n",
        group='    count = "three"\n',
        task='      kill_timeout = "soon"\n      resources {\n        memory = "lots"\n      }\n',
    )
    diags = errors_of(source)
    got = [(d.line, d.path) for d in diags]
    assert got == [
        (position(source, "priorty")[0], "job.priorty"),
        (position(source, "count")[0], "job.group[cache].count"),
        (position(source, "kill_timeout")[0], f"{TASK}.kill_timeout"),
        (position(source, '"lots"')[0], f"{TASK}.resources.memory"),
    ]
    assert 'did you mean "priority"?' in diags[0].message
