"""How rules combine: exact names beat globs, the closest glob wins, deny wins across policies,
levels keep the most privilege, and the management and empty ACLs."""

from __future__ import annotations

import pytest

from cluster.acl import ACL, NamespaceCapability, glob_match, parse_policy

NS = NamespaceCapability


def acl_of(*rules: str) -> ACL:
    return ACL.from_policies([parse_policy(r) for r in rules])


GLOBS = """
namespace "*" {
  policy = "read"
}
namespace "prod-*" {
  policy = "write"
}
namespace "prod-api-*" {
  policy = "deny"
}
namespace "prod-db" {
  capabilities = ["list-jobs"]
}
"""


@pytest.mark.parametrize(
    ("namespace", "capability", "allowed"),
    [
        ("dev", NS.READ_JOB, True),  # only "*" matches
        ("dev", NS.SUBMIT_JOB, False),
        ("prod-web", NS.SUBMIT_JOB, True),  # "prod-*" is closer than "*"
        ("prod-api-eu", NS.READ_JOB, False),  # "prod-api-*" is closer still, and denies
        ("prod-db", NS.LIST_JOBS, True),  # an exact rule beats every glob...
        ("prod-db", NS.READ_JOB, False),  # ...even a glob that would grant more
        ("prod-", NS.SUBMIT_JOB, True),  # a glob's star matches the empty string
    ],
)
def test_exact_name_beats_globs_and_the_closest_glob_wins(namespace: str, capability: str, allowed: bool) -> None:
    assert acl_of(GLOBS).allow_namespace_op(namespace, capability) is allowed


def test_closest_glob_counts_literal_characters_not_rule_order() -> None:
    # "*-web" and "prod-*" both match "prod-web"; "prod-*" covers 3 characters with its star,
    # "*-web" covers 4, so "prod-*" wins wherever it is written.
    first = 'namespace "*-web" {\n  policy = "deny"\n}\nnamespace "prod-*" {\n  policy = "read"\n}\n'
    second = 'namespace "prod-*" {\n  policy = "read"\n}\nnamespace "*-web" {\n  policy = "deny"\n}\n'
    for rules in (first, second):
        assert acl_of(rules).allow_namespace_op("prod-web", NS.READ_JOB)
    assert not acl_of(first).allow_namespace_op("dev-web", NS.READ_JOB)


def test_equally_close_globs_resolve_the_same_way_whatever_the_order() -> None:
    a = 'namespace "a*" {\n  policy = "read"\n}\n'
    b = 'namespace "*b" {\n  policy = "write"\n}\n'
    assert acl_of(a, b).allow_namespace_op("ab", NS.SUBMIT_JOB) == acl_of(b, a).allow_namespace_op("ab", NS.SUBMIT_JOB)


def test_no_matching_rule_allows_nothing() -> None:
    acl = acl_of('namespace "prod" {\n  policy = "write"\n}\n')
    assert not acl.allow_namespace_op("dev", NS.READ_JOB)
    assert not acl.allow_namespace("dev")
    assert acl.namespace_capabilities("dev") == frozenset()


def test_capabilities_of_several_policies_are_united() -> None:
    acl = acl_of(
        'namespace "default" {\n  capabilities = ["list-jobs"]\n}\n',
        'namespace "default" {\n  capabilities = ["submit-job"]\n}\n',
    )
    assert acl.allow_namespace_op("default", NS.LIST_JOBS)
    assert acl.allow_namespace_op("default", NS.SUBMIT_JOB)
    assert not acl.allow_namespace_op("default", NS.READ_LOGS)


@pytest.mark.parametrize("deny_first", [True, False])
def test_deny_in_any_policy_wins_over_grants_in_others(deny_first: bool) -> None:
    grant = 'namespace "default" {\n  policy = "write"\n}\nnode {\n  policy = "write"\n}\n'
    deny = 'namespace "default" {\n  policy = "deny"\n}\nnode {\n  policy = "deny"\n}\n'
    acl = acl_of(deny, grant) if deny_first else acl_of(grant, deny)
    assert not acl.allow_namespace_op("default", NS.READ_JOB)
    assert not acl.allow_node_read()


def test_deny_on_a_glob_does_not_touch_an_exact_rule() -> None:
    acl = acl_of('namespace "*" {\n  policy = "deny"\n}\n', 'namespace "default" {\n  policy = "read"\n}\n')
    assert acl.allow_namespace_op("default", NS.READ_JOB)
    assert not acl.allow_namespace_op("other", NS.READ_JOB)


@pytest.mark.parametrize(
    ("levels", "read", "write"),
    [
        (("read", "write"), True, True),
        (("write", "read"), True, True),
        (("read", "read"), True, False),
        (("write", "deny"), False, False),
        (("deny", "read"), False, False),
    ],
)
def test_coarse_levels_keep_the_most_privilege_but_deny_wins(levels: tuple[str, str], read: bool, write: bool) -> None:
    acl = acl_of(*(f'agent {{\n  policy = "{level}"\n}}\n' for level in levels))
    assert (acl.allow_agent_read(), acl.allow_agent_write()) == (read, write)


def test_management_allows_everything() -> None:
    acl = ACL.management()
    assert acl.is_management
    assert acl.allow_namespace_op("anything", NS.ALLOC_NODE_EXEC)
    assert acl.allow_namespace("anything")
    assert NS.SUBMIT_JOB in acl.namespace_capabilities("x")
    assert acl.allow_variable_op("default", "a/b", "destroy")
    assert all(
        check()
        for check in (
            acl.allow_node_write, acl.allow_agent_write, acl.allow_operator_write, acl.allow_quota_write,
            acl.allow_plugin_read,
        )
    )
    assert acl.allow_operator_op("snapshot-save")
    assert acl.allow_node_pool_op("default", "delete")
    assert acl.allow_host_volume_op("data", "mount-readwrite")


def test_an_acl_without_policies_allows_nothing() -> None:
    for acl in (ACL.deny_all(), ACL.from_policies([]), acl_of("")):
        assert not acl.is_management
        assert not acl.allow_namespace_op("default", NS.LIST_JOBS)
        assert not acl.allow_namespace_op("*", NS.LIST_JOBS)
        assert not acl.allow_node_read()
        assert not acl.allow_agent_read()
        assert not acl.allow_operator_read()
        assert not acl.allow_plugin_list()


def test_all_namespaces_sentinel_asks_whether_any_namespace_allows() -> None:
    acl = acl_of('namespace "team-a" {\n  policy = "read"\n}\nnamespace "team-b" {\n  policy = "deny"\n}\n')
    assert acl.allow_namespace_op("*", NS.LIST_JOBS)
    assert not acl.allow_namespace_op("*", NS.SUBMIT_JOB)
    assert acl.allow_namespace("*")
    assert not acl_of('namespace "team-b" {\n  policy = "deny"\n}\n').allow_namespace("*")


def test_allow_namespace_any_is_true_when_one_capability_is_granted() -> None:
    acl = acl_of('namespace "default" {\n  capabilities = ["register-job"]\n}\n')
    assert acl.allow_namespace_any("default", NS.SUBMIT_JOB, NS.REGISTER_JOB)
    assert not acl.allow_namespace_any("default", NS.SUBMIT_JOB, NS.PURGE_JOB)


def test_an_empty_exact_rule_shadows_a_glob() -> None:
    # As in Nomad: the exact rule governs the namespace, even when it grants nothing.
    acl = acl_of('namespace "*" {\n  policy = "read"\n}\nnamespace "secret" {}\n')
    assert not acl.allow_namespace_op("secret", NS.READ_JOB)
    assert acl.allow_namespace_op("public", NS.READ_JOB)


def test_variable_globs_over_namespace_and_path() -> None:
    acl = acl_of(
        'namespace "*" {\n  variables {\n    path "shared/*" {\n      capabilities = ["read"]\n    }\n  }\n}\n',
        'namespace "team" {\n  variables {\n    path "*" {\n      capabilities = ["write", "read"]\n    }\n  }\n}\n',
    )
    assert acl.allow_variable_op("any", "shared/x", "read")
    assert not acl.allow_variable_op("any", "private/x", "read")
    assert acl.allow_variable_op("team", "private/x", "write")
    assert not acl.allow_variable_op("any", "shared/x", "write")


@pytest.mark.parametrize(
    ("glob", "name", "matches"),
    [
        ("*", "", True),
        ("*", "anything", True),
        ("prod-*", "prod-", True),
        ("prod-*", "prod", False),
        ("*-web", "a-web", True),
        ("a*b*c", "abc", True),
        ("a*b*c", "aXbYc", True),
        ("a*b*c", "aXbY", False),
        ("a.b", "aXb", False),  # only * is special
        ("[a]", "[a]", True),
    ],
)
def test_glob_match(glob: str, name: str, matches: bool) -> None:
    assert glob_match(glob, name) is matches
