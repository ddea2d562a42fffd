"""Nomad's ``?filter=`` expressions: which objects pass, and where a bad expression goes wrong."""

from __future__ import annotations

import msgspec
import pytest

from cluster.errors import InvalidInput
from cluster.filter import FilterError, compile_filter, filter_items
from cluster.structs.job import Job, TaskGroup


class Stub(msgspec.Struct, kw_only=True):
    ID: str
    Status: str
    Priority: int
    Stop: bool
    Meta: dict[str, str] | None = None
    Datacenters: list[str] | None = None
    TaskGroups: list[TaskGroup] | None = None


WEB = Stub(ID="web-1", Status="running", Priority=50, Stop=False, Meta={"env": "prod", "team": "a b"},
           Datacenters=["dc1", "dc2"], TaskGroups=[TaskGroup(Name="cache"), TaskGroup(Name="api")])
BATCH = Stub(ID="batch-7", Status="dead", Priority=20, Stop=True, Meta={}, Datacenters=[])

CASES = [
    ('Status == "running"', True, False),
    ('Status != "running"', False, True),
    ("Status == running", True, False),  # a bare word is a value
    ("Priority == 50", True, False),
    ("Priority != 50", False, True),
    ("Stop == true", False, True),
    ("Stop == false", True, False),
    ('Meta.env == "prod"', True, False),
    ('Meta.env != "prod"', False, True),  # a missing key equals nothing
    ('Meta contains "env"', True, False),
    ('Meta is empty', False, True),
    ('Meta is not empty', True, False),
    ('Meta.missing is empty', True, True),
    ('Datacenters contains "dc2"', True, False),
    ('Datacenters not contains "dc2"', False, True),
    ('"dc1" in Datacenters', True, False),
    ('"dc1" not in Datacenters', False, True),
    ('Datacenters is empty', False, True),
    ('TaskGroups.Name contains "cache"', True, False),  # through a list: every element's field
    ('"api" in TaskGroups.Name', True, False),
    ('TaskGroups is empty', False, True),  # None is empty
    ('ID matches "^web-[0-9]+$"', True, False),
    ('ID not matches "^web"', False, True),
    ('ID matches "ch"', False, True),  # searched anywhere, as Go's MatchString
    ('ID contains "-"', True, True),
    ('Meta.team == "a b"', True, False),
    ('Meta.team == `a b`', True, False),
    ('Status == "running" and Priority == 50', True, False),
    ('Status == "running" and Priority == 20', False, False),
    ('Status == "dead" or Priority == 50', True, True),
    ('not Stop == true', True, False),
    ('not (Status == "dead" or Priority == 50)', False, False),
    ('Status == "x" or Status == "dead" and Priority == 20', False, True),  # and binds tighter
    ('(Status == "x" or Status == "running") and Priority == 50', True, False),
    ('ID == "web-1" and ("dc9" in Datacenters or Meta.env == "prod")', True, False),
]


@pytest.mark.parametrize(("expression", "web", "batch"), CASES)
def test_expression_selects(expression: str, web: bool, batch: bool) -> None:
    flt = compile_filter(expression)
    assert (flt.matches(WEB), flt.matches(BATCH)) == (web, batch)


def test_plain_mappings_filter_like_structs() -> None:
    rows = [{"ID": "a", "Meta": {"env": "prod"}}, {"ID": "b", "Meta": {"env": "dev"}}, {"ID": "c"}]
    assert filter_items(rows, 'Meta.env == "prod"') == [rows[0]]
    assert filter_items(rows, "Meta is empty") == [rows[2]]
    assert filter_items(rows, "") == rows
    assert filter_items(rows, None) == rows


def test_real_job_struct_selectors() -> None:
    job = Job(ID="api", Type="service", Meta={"owner": "ops"}, TaskGroups=[TaskGroup(Name="web", Count=3)])
    assert compile_filter('Type == "service" and Meta.owner == "ops"').matches(job)
    assert compile_filter('"web" in TaskGroups.Name').matches(job)
    assert compile_filter("TaskGroups.Count == 3").matches(job)


ERRORS = [
    ('Status ==', 10, "expected a value"),
    ('Status = "x"', 8, "unexpected character"),
    ('Status == "x" and', 18, "expected a selector"),
    ('(Status == "x"', 15, 'expected ")"'),
    ('Status == "x" Priority == 1', 15, 'unexpected "Priority"'),
    ('Status == "unterminated', 11, "unterminated string"),
    ('Status is full', 11, 'expected "empty"'),
    ('Status foo "x"', 8, "expected an operator"),
    ('ID matches "("', 12, "invalid regular expression"),
    ('"x" == Status', 1, 'followed by "in"'),
    ("", 1, "empty expression"),
    ("Meta..env == x", 1, "invalid selector"),
]


@pytest.mark.parametrize(("expression", "column", "says"), ERRORS)
def test_bad_expression_names_the_column(expression: str, column: int, says: str) -> None:
    with pytest.raises(FilterError) as caught:
        compile_filter(expression)
    assert caught.value.column == column
    assert says in str(caught.value)
    assert f"column {column}" in str(caught.value)
    assert isinstance(caught.value, InvalidInput)  # the HTTP edge answers 400


@pytest.mark.parametrize(("expression", "says"), [
    ('Nope == "x"', 'selector "Nope" is not valid'),
    ("Priority == high", '"high" is not an integer'),
    ("Stop == maybe", "not a boolean"),
])
def test_expression_that_does_not_fit_the_objects_is_an_error(expression: str, says: str) -> None:
    with pytest.raises(FilterError, match=says):
        compile_filter(expression).matches(WEB)
