"""The command line, parsed as Go's flag package parses Nomad's."""

from __future__ import annotations

import pytest

from agents.config import parse_flags
from agents.config.layers import COMMAND_LINE


def _values(argv: list[str]) -> dict[str, object]:
    parsed = parse_flags(argv)
    assert parsed.errors == ()
    return {a.path: a.value for a in parsed.assignments}


@pytest.mark.parametrize(
    "argv",
    [
        ["-data-dir", "/d"],
        ["-data-dir=/d"],
        ["--data-dir=/d"],
        ["--data-dir", "/d"],
    ],
)
def test_a_value_flag_takes_its_value_after_a_space_or_an_equals_sign(argv: list[str]) -> None:
    assert _values(argv) == {"data_dir": "/d"}


@pytest.mark.parametrize(
    ("argv", "enabled"),
    [(["-server"], True), (["-server=true"], True), (["-server=false"], False), (["-server=0"], False)],
)
def test_a_boolean_flag_alone_is_true_and_takes_a_value_only_after_an_equals_sign(
    argv: list[str], enabled: bool
) -> None:
    assert _values(argv) == {"server.enabled": enabled}


def test_a_boolean_flag_does_not_swallow_the_next_argument() -> None:
    assert _values(["-server", "-client"]) == {"server.enabled": True, "client.enabled": True}


def test_repeatable_flags_collect_every_value() -> None:
    parsed = parse_flags(["-config", "a.hcl", "-config=b.d", "-retry-join", "x", "-retry-join", "y", "-dev"])
    assert parsed.config_paths == ("a.hcl", "b.d") and parsed.dev
    assert [a.value for a in parsed.assignments] == [("x",), ("y",)]


def test_parsing_stops_at_a_double_dash() -> None:
    parsed = parse_flags(["-server", "--", "-client"])
    assert parsed.errors == () and [a.path for a in parsed.assignments] == ["server.enabled"]


@pytest.mark.parametrize(
    ("argv", "field", "message"),
    [
        (["-sever"], "-sever", 'unknown flag -sever; did you mean "-server"?'),
        (["-frobnicate"], "-frobnicate", "unknown flag -frobnicate"),
        (["-data-dir"], "-data-dir", "flag needs an argument: -data-dir"),
        (
            ["-bootstrap-expect", "three"],
            "-bootstrap-expect",
            "invalid value 'three': expected a whole number",
        ),
        (["-server=maybe"], "-server", "invalid value 'maybe': expected true or false, got 'maybe'"),
        (["-meta", "novalue"], "-meta", "invalid value 'novalue': expected KEY=VALUE, got 'novalue'"),
        (["-retry-interval=soon"], "-retry-interval", "invalid value 'soon': expected a duration"),
        (["server"], "server", "unexpected argument: the agent takes only flags"),
    ],
)
def test_a_bad_flag_is_reported_with_its_name(argv: list[str], field: str, message: str) -> None:
    [error] = parse_flags(argv).errors
    assert (error.filename, error.path) == (COMMAND_LINE, field)
    assert error.message.startswith(message), error.message


def test_every_bad_flag_is_reported() -> None:
    errors = parse_flags(["-sever", "-bootstrap-expect=x", "-dc", "eu", "-nod=n"]).errors
    assert [e.path for e in errors] == ["-sever", "-bootstrap-expect", "-nod"]
