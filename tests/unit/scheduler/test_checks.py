"""Table tests of each feasibility check and constraint operator against hand-picked nodes."""

from __future__ import annotations

import pytest

from cluster.scheduler.constraints import check_constraint, constraint_text, meets, resolve_target
from cluster.scheduler.nodes import dc_matches
from cluster.scheduler.versions import version_matches
from cluster.structs.placement import Constraint
from tests.unit.scheduler import factories as f

NODE = f.node(node_id="aaaaaaaa-0000-4000-8000-000000000001", name="web-1", dc="eu-west-1", node_class="large",
              pool="prod", attrs={"cpu.numcores": "8", "os.version": "22.04", "kernel.version": "5.15.0-91",
              "nomad.version": "1.7.2", "unique.network.ip-address": "10.0.0.9", "tags": "ssd, gpu ,fast"},
              meta={"rack": "r12", "zone": "b"})


@pytest.mark.parametrize(("target", "value", "found"), [
    ("${node.unique.id}", "aaaaaaaa-0000-4000-8000-000000000001", True),
    ("${node.unique.name}", "web-1", True),
    ("${node.datacenter}", "eu-west-1", True),
    ("${node.class}", "large", True),
    ("${node.pool}", "prod", True),
    ("${attr.cpu.numcores}", "8", True),
    ("${attr.unique.network.ip-address}", "10.0.0.9", True),
    ("${meta.rack}", "r12", True),
    ("${meta.missing}", "", False),
    ("${attr.missing}", "", False),
    ("${unknown.thing}", "", False),
    ("literal", "literal", True),
])
def test_resolve_target(target: str, value: str, found: bool) -> None:
    assert resolve_target(target, NODE) == (value, found)


@pytest.mark.parametrize(("ltarget", "op", "rtarget", "expected"), [
    ("${meta.rack}", "=", "r12", True),
    ("${meta.rack}", "==", "r12", True),
    ("${meta.rack}", "is", "r13", False),
    ("${meta.missing}", "=", "", False),  # equality needs both sides
    ("${meta.rack}", "!=", "r13", True),
    ("${meta.rack}", "not", "r12", False),
    ("${meta.missing}", "!=", "r12", True),  # a missing side is "" and differs
    ("${attr.cpu.numcores}", ">", "4", True),
    ("${attr.cpu.numcores}", ">=", "8", True),
    ("${attr.cpu.numcores}", "<", "10", True),  # as integers, not text ("8" > "10" as text)
    ("${attr.cpu.numcores}", "<=", "7", False),
    ("${attr.os.version}", "<", "22.10", True),  # as floats
    ("${meta.zone}", "<", "c", True),  # as text
    ("${meta.missing}", "<", "c", False),
    ("${attr.nomad.version}", "version", ">= 1.5, < 2.0", True),
    # go-version reads 5.15.0-91 as a pre-release of 5.15.0, which only pre-release constraints match
    ("${attr.kernel.version}", "version", ">= 5.10, < 6.0", False),
    ("${attr.nomad.version}", "version", "~> 1.7", True),
    ("${attr.nomad.version}", "version", "~> 1.6.0", False),
    ("${attr.nomad.version}", "semver", ">= 1.7.0", True),
    ("${attr.kernel.version}", "semver", ">= 5.10.0", True),  # semver orders pre-releases normally
    ("${attr.nomad.version}", "version", "garbage", False),
    ("${node.unique.name}", "regexp", "^web-[0-9]+$", True),
    ("${node.unique.name}", "regexp", "db", False),
    ("${node.unique.name}", "regexp", "[", False),  # a bad pattern never matches
    ("${attr.tags}", "set_contains", "gpu,ssd", True),
    ("${attr.tags}", "set_contains", "gpu,nvme", False),
    ("${attr.tags}", "set_contains_all", "fast", True),
    ("${attr.tags}", "set_contains_any", "nvme,fast", True),
    ("${attr.tags}", "set_contains_any", "nvme,hdd", False),
    ("${meta.rack}", "is_set", "", True),
    ("${meta.missing}", "is_set", "", False),
    ("${meta.missing}", "is_not_set", "", True),
    ("${meta.rack}", "is_not_set", "", False),
    ("${meta.rack}", "distinct_hosts", "", True),  # decided elsewhere, never here
    ("${meta.rack}", "distinct_property", "", True),
    ("${meta.rack}", "no_such_operator", "r12", False),
])
def test_operators(ltarget: str, op: str, rtarget: str, expected: bool) -> None:
    assert meets(Constraint(LTarget=ltarget, Operand=op, RTarget=rtarget), NODE) is expected


@pytest.mark.parametrize(("version", "constraint", "semver", "expected"), [
    ("1.2.3", "= 1.2.3", False, True),
    ("v1.2", "= 1.2.0", False, True),  # missing segments are zero, a leading v is fine
    ("1.2.3", "!= 1.2.3", False, False),
    ("1.2.3-beta1", "< 1.2.3", False, False),  # go-version: a pre-release only matches pre-release constraints
    ("1.2.3-beta1", ">= 1.2.3-alpha", False, True),
    ("1.2.3-beta1", "< 1.2.3", True, True),  # semver: it simply sorts first
    ("1.2.3.4", ">= 1.2.3", False, True),  # go-version takes any number of segments
    ("1.2.3.4", ">= 1.2.3", True, False),  # semver does not
    ("2.0.0", "~> 1.2", False, False),
    ("1.9.0", "~> 1.2", False, True),
    ("1.3.0", "~> 1.2.3", False, False),
    ("1.2.9", "~> 1.2.3", False, True),
    ("1.2.3+build.7", "= 1.2.3", True, True),  # build metadata is ignored
])
def test_versions(version: str, constraint: str, semver: bool, expected: bool) -> None:
    assert version_matches(version, constraint, semver=semver) is expected


def test_missing_sides_fail_the_ordered_operators() -> None:
    assert check_constraint("version", "", "> 1.0", False, True) is False
    assert check_constraint("regexp", "x", "x", True, False) is False


def test_constraints_are_named_as_nomad_prints_them() -> None:
    assert constraint_text(Constraint(LTarget="${attr.kernel.name}", Operand="=", RTarget="linux")) == \
        "${attr.kernel.name} = linux"


@pytest.mark.parametrize(("patterns", "dc", "expected"), [
    (["*"], "anything", True),
    (["dc1"], "dc1", True),
    (["dc1"], "dc10", False),
    (["eu-*"], "eu-west-1", True),
    (["eu-*", "us-*"], "ap-south-1", False),
    (["*-1"], "eu-west-1", True),
])
def test_datacenter_globs(patterns: list[str], dc: str, expected: bool) -> None:
    assert dc_matches(patterns, dc) is expected
