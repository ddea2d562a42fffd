"""Policies in HCL and JSON: what parses to which rules, and every bad policy's error names its
line, its field and the mistake."""

from __future__ import annotations

import json

import pytest

from cluster.acl import Policy, PolicyError, parse_policy
from cluster.errors import InvalidInput

FULL_HCL = """
# Every rule type Nomad knows.
namespace "default" {
  policy       = "read"
  capabilities = ["submit-job", "read-logs"]

  variables {
    path "app/*" {
      capabilities = ["read", "write"]
    }
  }
}

namespace "prod-*" {
  policy = "write"
}

node_pool "gpu" {
  policy = "read"
}

host_volume "data-*" {
  capabilities = ["mount-readonly"]
}

node {
  policy = "read"
}

agent {
  policy = "write"
}

operator {
  policy = "read"
}

quota {
  policy = "read"
}

plugin {
  policy = "list"
}
"""

FULL_JSON = {
    "namespace": {
        "default": {
            "policy": "read",
            "capabilities": ["submit-job", "read-logs"],
            "variables": {"path": {"app/*": {"capabilities": ["read", "write"]}}},
        },
        "prod-*": {"policy": "write"},
    },
    "node_pool": {"gpu": {"policy": "read"}},
    "host_volume": {"data-*": {"capabilities": ["mount-readonly"]}},
    "node": {"policy": "read"},
    "agent": {"policy": "write"},
    "operator": {"policy": "read"},
    "quota": {"policy": "read"},
    "plugin": {"policy": "list"},
}


def without_lines(policy: Policy) -> Policy:
    """The policy with rule line numbers cleared, to compare HCL with JSON."""
    from dataclasses import replace

    return replace(
        policy,
        namespaces=tuple(
            replace(ns, line=0, variables=tuple(replace(v, line=0) for v in ns.variables)) for ns in policy.namespaces
        ),
        node_pools=tuple(replace(r, line=0) for r in policy.node_pools),
        host_volumes=tuple(replace(r, line=0) for r in policy.host_volumes),
    )


def test_full_policy_reads_every_rule() -> None:
    policy = parse_policy(FULL_HCL)
    default, prod = policy.namespaces
    assert (default.name, default.line) == ("default", 3)
    assert {"submit-job", "read-logs", "list-jobs", "read-job"} <= default.capabilities
    assert "alloc-exec" not in default.capabilities
    assert [(v.path, set(v.capabilities)) for v in default.variables] == [("app/*", {"read", "write", "list"})]
    assert prod.name == "prod-*" and "alloc-exec" in prod.capabilities
    assert [(r.name, set(r.capabilities)) for r in policy.node_pools] == [("gpu", {"read"})]
    assert [(r.name, set(r.capabilities)) for r in policy.host_volumes] == [("data-*", {"mount-readonly"})]
    assert (policy.node, policy.agent, policy.operator, policy.quota, policy.plugin) == (
        "read", "write", "read", "read", "list",
    )


def test_json_policy_means_the_same_as_hcl() -> None:
    assert without_lines(parse_policy(json.dumps(FULL_JSON, indent=2))) == without_lines(parse_policy(FULL_HCL))


def test_json_accepts_lists_of_blocks_as_hcl_json_does() -> None:
    listed = {
        "namespace": [{"default": {"policy": "read"}}, {"ops": [{"policy": "write"}]}],
        "node": [{"policy": "read"}],
    }
    policy = parse_policy(json.dumps(listed))
    assert [ns.name for ns in policy.namespaces] == ["default", "ops"]
    assert policy.node == "read"


def test_unquoted_labels_and_single_line_blocks() -> None:
    policy = parse_policy('namespace default { policy = "read" }\nnode { policy = "write" }\n')
    assert policy.namespaces[0].name == "default"
    assert policy.node == "write"


@pytest.mark.parametrize("rules", ["", "   \n  "])
def test_empty_rules_are_an_empty_policy(rules: str) -> None:
    assert parse_policy(rules).is_empty()


def the_error(rules: str) -> tuple[int, str, str]:
    with pytest.raises(PolicyError) as info:
        parse_policy(rules)
    assert len(info.value.diagnostics) == 1, info.value.diagnostics
    d = info.value.diagnostics[0]
    return d.line, d.path, d.message


BAD = [
    # (rules, line, path, a fragment of the message)
    ('namespace "default" {\n  policy = "reed"\n}\n', 2, "namespace[default].policy", 'invalid policy "reed"'),
    ('namespace "default" {\n  policy = "reed"\n}\n', 2, "namespace[default].policy", 'did you mean "read"?'),
    ('node {\n  policy = "scale"\n}\n', 2, "node.policy", 'expected one of "deny", "read", "write"'),
    ('plugin {\n  policy = "scale"\n}\n', 2, "plugin.policy", 'invalid policy "scale"'),
    ('namespace "default" {\n  policy = 3\n}\n', 2, "namespace[default].policy", "expected a policy level (\"deny\", \"read\", \"scale\", \"write\"), got a number"),
    (
        'namespace "default" {\n  capabilities = [\n    "list-jobs",\n    "submit-jobs",\n  ]\n}\n',
        4, "namespace[default].capabilities[1]", 'unknown capability "submit-jobs"; did you mean "submit-job"?',
    ),
    ('namespace "default" {\n  capabilities = "list-jobs"\n}\n', 2, "namespace[default].capabilities", "expected a list"),
    ('namespace "default" {\n  polcy = "read"\n}\n', 2, "namespace[default].polcy", 'unknown field "polcy"'),
    ("\n\nnamspace \"default\" {\n}\n", 3, "namspace", 'unknown block "namspace" at the top of a policy; did you mean "namespace"?'),
    ('namespace {\n  policy = "read"\n}\n', 1, "namespace", "needs exactly one label"),
    ('namespace "a" "b" {\n  policy = "read"\n}\n', 1, "namespace[a][b]", "needs exactly one label"),
    ('namespace "prod_eu" {\n  policy = "read"\n}\n', 1, "namespace[prod_eu]", 'invalid namespace name "prod_eu"'),
    ('node "x" {\n  policy = "read"\n}\n', 1, "node", "takes no label"),
    ("node {\n}\n", 1, "node.policy", "a node rule needs a policy"),
    ("operator {\n}\n", 1, "operator", "needs a policy"),
    ('agent {\n  policy = "read"\n}\nagent {\n  policy = "write"\n}\n', 4, "agent", "duplicate agent rule; the first is at line 1"),
    ('host_volume "data" {\n  capabilities = ["mount"]\n}\n', 2, "host_volume[data].capabilities[0]", 'unknown capability "mount"'),
    ('node_pool "gpu" {\n  capabilities = ["scale"]\n}\n', 2, "node_pool[gpu].capabilities[0]", 'unknown capability "scale"'),
    ('operator {\n  capabilities = ["snapshot-restore"]\n}\n', 2, "operator.capabilities[0]", 'unknown capability "snapshot-restore"'),
    (
        'namespace "default" {\n  variables {\n    path "/abs" {\n      capabilities = ["read"]\n    }\n  }\n}\n',
        3, "namespace[default].variables.path[/abs]", 'may not start with "/"',
    ),
    (
        'namespace "default" {\n  variables {\n    path "a" {\n      capabilities = ["execute"]\n    }\n  }\n}\n',
        4, "namespace[default].variables.path[a].capabilities[0]", 'unknown capability "execute"',
    ),
    ('namespace "default" {\n  variables {\n  }\n}\n', 2, "namespace[default].variables", "at least one path"),
    ('policy = "read"\n', 1, "policy", "unknown field \"policy\" at the top of a policy"),
    ("# only a comment\n", 1, "", "at least one rule"),
    ('namespace "default" {\n  policy = "read"\n', 1, "", 'unclosed block "namespace"'),
    ('namespace "default" {\n  policy = "${var.level}"\n}\n', 2, "namespace[default].policy", "var"),
]


@pytest.mark.parametrize(("rules", "line", "path", "fragment"), BAD, ids=[f"{i}" for i in range(len(BAD))])
def test_bad_policy_errors_name_line_and_field(rules: str, line: int, path: str, fragment: str) -> None:
    got_line, got_path, message = the_error(rules)
    assert (got_line, got_path) == (line, path), message
    assert fragment in message


BAD_JSON = [
    (
        '{\n  "namespace": {\n    "default": {\n      "policy": "reed"\n    }\n  }\n}\n',
        4, "namespace[default].policy", 'invalid policy "reed"',
    ),
    (
        '{\n  "namespace": {\n    "default": {\n      "capabilities": [\n        "list-jobs",\n        "nope"\n      ]\n    }\n  }\n}\n',
        6, "namespace[default].capabilities[1]", 'unknown capability "nope"',
    ),
    ('{\n  "node": "read"\n}\n', 2, "node", "expected an object"),
    ('{\n  "nodes": {"policy": "read"}\n}\n', 2, "nodes", 'unknown field "nodes"'),
    ('{\n  "node": {"policy": "read",}\n}\n', 2, "", "not valid JSON"),
    ("[1, 2]", 1, "", "expected an attribute name"),  # not an object: read as HCL, which fails
]


@pytest.mark.parametrize(("rules", "line", "path", "fragment"), BAD_JSON, ids=[f"{i}" for i in range(len(BAD_JSON))])
def test_bad_json_policy_errors_name_line_and_field(rules: str, line: int, path: str, fragment: str) -> None:
    got_line, got_path, message = the_error(rules)
    assert (got_line, got_path) == (line, path), message
    assert fragment in message


def test_every_mistake_is_reported_at_once_in_line_order() -> None:
    rules = 'node {\n  policy = "rd"\n}\nnamespace "x" {\n  capabilities = ["nope"]\n  polcy = "read"\n}\n'
    with pytest.raises(PolicyError) as info:
        parse_policy(rules)
    assert [(d.line, d.path) for d in info.value.diagnostics] == [
        (2, "node.policy"), (5, "namespace[x].capabilities[0]"), (6, "namespace[x].polcy"),
    ]
    assert isinstance(info.value, InvalidInput)
    assert "line 2" in str(info.value)


def test_lenient_parsing_ignores_unknown_fields_but_not_bad_values() -> None:
    rules = 'namespace "x" {\n  policy = "read"\n  future_field = true\n}\nfuture_block {\n}\n'
    assert parse_policy(rules, strict=False).namespaces[0].name == "x"
    with pytest.raises(PolicyError):
        parse_policy(rules)
    with pytest.raises(PolicyError):
        parse_policy('namespace "x" {\n  policy = "reed"\n}\n', strict=False)


def test_deeply_nested_json_is_refused_cleanly() -> None:
    with pytest.raises(PolicyError, match="nested too deeply"):
        parse_policy('{"namespace": ' + "[" * 5000 + "]" * 5000 + "}")


def test_oversized_rules_are_refused() -> None:
    with pytest.raises(PolicyError, match="longer than"):
        parse_policy('namespace "x" {\n  policy = "read"\n}\n' + "#" * (1 << 20))


def test_filename_appears_in_messages() -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy('node {\n  policy = "x"\n}\n', filename="ops.hcl")
    assert str(info.value).startswith("ops.hcl: line 2")
