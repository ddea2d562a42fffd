"""Policy levels expand to Nomad's documented capability sets, and explicit capabilities add to them."""

from __future__ import annotations

import pytest

from cluster.acl import ACL, parse_policy

NAMESPACE_READ = {
    "list-jobs", "parse-job", "read-job", "csi-list-volume", "csi-read-volume", "read-job-scaling",
    "list-scaling-policies", "read-scaling-policy", "host-volume-read",
}
NAMESPACE_WRITE = NAMESPACE_READ | {
    "scale-job", "submit-job", "dispatch-job", "read-logs", "read-fs", "alloc-exec", "alloc-lifecycle",
    "csi-mount-volume", "csi-write-volume", "submit-recommendation", "host-volume-create",
}
NAMESPACE_SCALE = {
    "list-scaling-policies", "read-scaling-policy", "read-job-scaling", "scale-job", "read-job",
    "submit-recommendation",
}


def granted(rules: str, namespace: str = "default") -> set[str]:
    return set(ACL.from_policies([parse_policy(rules)]).namespace_capabilities(namespace))


@pytest.mark.parametrize(
    ("level", "expected"),
    [("read", NAMESPACE_READ), ("write", NAMESPACE_WRITE), ("scale", NAMESPACE_SCALE), ("deny", set())],
)
def test_namespace_levels_grant_nomads_capability_sets(level: str, expected: set[str]) -> None:
    assert granted(f'namespace "default" {{\n  policy = "{level}"\n}}\n') == expected


@pytest.mark.parametrize(
    ("capability", "level", "allowed"),
    [
        ("read-job", "read", True),
        ("list-jobs", "read", True),
        ("submit-job", "read", False),
        ("read-logs", "read", False),
        ("alloc-exec", "read", False),
        ("submit-job", "write", True),
        ("alloc-exec", "write", True),
        ("alloc-node-exec", "write", False),  # never part of a level: only granted by name
        ("csi-register-plugin", "write", False),
        ("sentinel-override", "write", False),
        ("scale-job", "scale", True),
        ("submit-job", "scale", False),
        ("list-jobs", "scale", False),
        ("read-job", "deny", False),
    ],
)
def test_namespace_level_allows(capability: str, level: str, allowed: bool) -> None:
    acl = ACL.from_policies([parse_policy(f'namespace "default" {{\n  policy = "{level}"\n}}\n')])
    assert acl.allow_namespace_op("default", capability) is allowed


def test_explicit_capabilities_add_to_the_level() -> None:
    rules = 'namespace "default" {\n  policy = "read"\n  capabilities = ["alloc-node-exec", "submit-job"]\n}\n'
    assert granted(rules) == NAMESPACE_READ | {"alloc-node-exec", "submit-job"}


def test_capabilities_without_a_level_grant_only_themselves() -> None:
    assert granted('namespace "default" {\n  capabilities = ["list-jobs"]\n}\n') == {"list-jobs"}


def test_host_volume_capabilities_imply_the_weaker_ones() -> None:
    rules = 'namespace "default" {\n  capabilities = ["host-volume-write"]\n}\n'
    assert granted(rules) == {
        "host-volume-write", "host-volume-register", "host-volume-create", "host-volume-delete", "host-volume-read",
    }


def test_deny_capability_beats_the_level_in_the_same_rule() -> None:
    rules = 'namespace "default" {\n  policy = "write"\n  capabilities = ["deny"]\n}\n'
    acl = ACL.from_policies([parse_policy(rules)])
    assert not acl.allow_namespace_op("default", "read-job")
    assert not acl.allow_namespace("default")


@pytest.mark.parametrize(
    ("rule", "read", "write"),
    [("read", True, False), ("write", True, True), ("deny", False, False)],
)
@pytest.mark.parametrize("kind", ["node", "agent", "operator", "quota"])
def test_coarse_rules(kind: str, rule: str, read: bool, write: bool) -> None:
    acl = ACL.from_policies([parse_policy(f'{kind} {{\n  policy = "{rule}"\n}}\n')])
    assert getattr(acl, f"allow_{kind}_read")() is read
    assert getattr(acl, f"allow_{kind}_write")() is write


@pytest.mark.parametrize("kind", ["node", "agent", "operator", "quota"])
def test_no_rule_allows_nothing(kind: str) -> None:
    acl = ACL.from_policies([parse_policy('namespace "default" {\n  policy = "write"\n}\n')])
    assert not getattr(acl, f"allow_{kind}_read")()
    assert not getattr(acl, f"allow_{kind}_write")()


@pytest.mark.parametrize(
    ("rule", "read", "listed"),
    [("list", False, True), ("read", True, True), ("write", True, True), ("deny", False, False)],
)
def test_plugin_levels(rule: str, read: bool, listed: bool) -> None:
    acl = ACL.from_policies([parse_policy(f'plugin {{\n  policy = "{rule}"\n}}\n')])
    assert (acl.allow_plugin_read(), acl.allow_plugin_list()) == (read, listed)


@pytest.mark.parametrize(
    ("rules", "snapshot_save", "license_read"),
    [
        ('operator {\n  policy = "write"\n}\n', True, True),
        ('operator {\n  policy = "read"\n}\n', False, True),
        ('operator {\n  capabilities = ["snapshot-save"]\n}\n', True, False),
        ('operator {\n  policy = "deny"\n  capabilities = ["snapshot-save"]\n}\n', False, False),
    ],
)
def test_operator_capabilities(rules: str, snapshot_save: bool, license_read: bool) -> None:
    acl = ACL.from_policies([parse_policy(rules)])
    assert acl.allow_operator_op("snapshot-save") is snapshot_save
    assert acl.allow_operator_op("license-read") is license_read


@pytest.mark.parametrize(
    ("rules", "readonly", "readwrite"),
    [
        ('host_volume "data" {\n  policy = "read"\n}\n', True, False),
        ('host_volume "data" {\n  policy = "write"\n}\n', True, True),
        ('host_volume "data" {\n  capabilities = ["mount-readwrite"]\n}\n', False, True),
        ('host_volume "data" {\n  policy = "deny"\n}\n', False, False),
    ],
)
def test_host_volume_rules(rules: str, readonly: bool, readwrite: bool) -> None:
    acl = ACL.from_policies([parse_policy(rules)])
    assert acl.allow_host_volume_op("data", "mount-readonly") is readonly
    assert acl.allow_host_volume_op("data", "mount-readwrite") is readwrite
    assert not acl.allow_host_volume_op("other", "mount-readonly")


@pytest.mark.parametrize(
    ("level", "read", "write", "delete"),
    [("read", True, False, False), ("write", True, True, True), ("deny", False, False, False)],
)
def test_node_pool_rules(level: str, read: bool, write: bool, delete: bool) -> None:
    acl = ACL.from_policies([parse_policy(f'node_pool "gpu_pool" {{\n  policy = "{level}"\n}}\n')])
    assert [acl.allow_node_pool_op("gpu_pool", c) for c in ("read", "write", "delete")] == [read, write, delete]


def test_variables_read_implies_list_and_deny_stands_alone() -> None:
    rules = (
        'namespace "default" {\n  variables {\n'
        '    path "app/*" {\n      capabilities = ["read"]\n    }\n'
        '    path "app/secret" {\n      capabilities = ["deny", "read"]\n    }\n'
        "  }\n}\n"
    )
    acl = ACL.from_policies([parse_policy(rules)])
    assert acl.allow_variable_op("default", "app/config", "read")
    assert acl.allow_variable_op("default", "app/config", "list")
    assert not acl.allow_variable_op("default", "app/config", "write")
    assert not acl.allow_variable_op("default", "app/secret", "read")
    assert not acl.allow_variable_op("other", "app/config", "read")
