"""Bad job files, part 1: syntax errors, unknown names, attributes written as blocks and back.

Each test checks that the file is refused (no job comes out), that the one diagnostic points at the
right line and column, names the field path in job-file terms and says what is wrong.
"""

from __future__ import annotations

from tests.unit.jobspec.bad_input_support import (
    TASK,
    assert_at,
    job_text,
    position,
    the_error,
)

# -- syntax ---------------------------------------------------------------------------------------


def test_unterminated_string_is_a_syntax_error_at_the_string() -> None:
    source = job_text(task='      user = "nobody\n')
    diag = the_error(source)
    assert_at(
        diag,
        source,
        '"nobody',
        path="",
        fragment="unterminated string: expected '\"' before the end of the line",
    )


def test_unclosed_block_points_at_its_opening_brace() -> None:
    source = 'job "web" {\n  group "cache" {\n    task "redis" {\n      driver = "docker"\n  }\n}\n'
    diag = the_error(source)
    assert (diag.line, diag.column, diag.path) == (1, 11, "")
    assert "unclosed block \"job\": no '}' closes this '{' before the end of the file" in diag.message


def test_attribute_without_a_value_is_a_syntax_error_at_the_end_of_its_line() -> None:
    source = job_text(task="      kill_timeout =\n")
    diag = the_error(source)
    line, column = position(source, "kill_timeout =")
    assert (diag.line, diag.column) == (line, column + len("kill_timeout ="))
    assert "expected an expression, found newline" in diag.message


def test_quoted_attribute_name_in_a_block_body_is_a_syntax_error() -> None:
    # HCL block bodies hold identifiers only; keys such as "a.b" need the map form `meta = { ... }`.
    source = job_text(job='  meta {\n    "a.b" = "c"\n  }\n')
    diag = the_error(source)
    assert_at(
        diag, source, '"a.b"', path="", fragment="expected an attribute name or block type, found a string"
    )


# -- unknown names --------------------------------------------------------------------------------


def test_unknown_block_suggests_the_close_name() -> None:
    source = job_text(task="      resourcez {\n        cpu = 100\n      }\n")
    diag = the_error(source)
    assert_at(
        diag,
        source,
        "resourcez",
        path=f"{TASK}.resourcez",
        fragment='unknown block "resourcez" in task; did you mean "resources"?',
    )


def test_unknown_attribute_suggests_the_close_name() -> None:
    source = job_text(task="      resources {\n        cpu = 100\n        memroy = 256\n      }\n")
    diag = the_error(source)
    assert_at(
        diag,
        source,
        "memroy",
        path=f"{TASK}.resources.memroy",
        fragment='unknown attribute "memroy" in resources; did you mean "memory"?',
    )


def test_unknown_attribute_far_from_any_name_lists_the_known_ones() -> None:
    source = job_text(job="  zzzqqq = 1\n")
    diag = the_error(source)
    assert_at(
        diag,
        source,
        "zzzqqq",
        path="job.zzzqqq",
        fragment='unknown attribute "zzzqqq" in job; expected one of:',
    )
    assert "datacenters" in diag.message and "priority" in diag.message


def test_unsupported_nomad_stanza_says_why() -> None:
    source = job_text(
        group='    service {\n      name = "web"\n      connect {\n        sidecar_service {}\n      }\n    }\n'
    )
    diag = the_error(source)
    assert_at(
        diag,
        source,
        "connect",
        path="job.group[cache].service[0].connect",
        fragment="Consul Connect service mesh is not supported",
    )


def test_unsupported_stanza_is_refused_with_a_reason() -> None:
    source = job_text(task="      csi_plugin {\n        id = \"ebs\"\n      }\n")
    diag = the_error(source)
    assert_at(
        diag, source, "csi_plugin", path=f"{TASK}.csi_plugin", fragment="CSI plugins are not supported"
    )


# -- attribute or block ---------------------------------------------------------------------------


def test_attribute_written_as_a_block() -> None:
    source = job_text(group="    count {\n      value = 3\n    }\n")
    diag = the_error(source)
    assert_at(
        diag,
        source,
        "count {",
        path="job.group[cache].count",
        fragment="count is an attribute, not a block: write count = ...",
    )


def test_block_written_as_an_attribute() -> None:
    source = job_text(task="      resources = {\n        cpu = 100\n      }\n")
    diag = the_error(source)
    assert_at(
        diag,
        source,
        "resources =",
        path=f"{TASK}.resources",
        fragment="resources is a block, not an attribute: write resources { ... }",
    )
