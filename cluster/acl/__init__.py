"""Nomad's ACL policy language: parse policies, merge a token's policies, answer capability checks.

    policy = parse_policy(rules)                    # HCL or JSON; PolicyError names line and field
    acl = ACL.from_policies([policy, other])        # deny wins; exact names beat globs
    acl.allow_namespace_op("prod", NamespaceCapability.SUBMIT_JOB)
    acl.allow_node_read(); acl.allow_operator_write(); ACL.management().is_management

Pure: the web application stores policies and tokens and calls in here (``webui.acl``).
Requests without a token get the ACL of the policy named ``anonymous`` (:data:`ANONYMOUS_POLICY`),
or nothing when no such policy exists, as Nomad does.

Errors: :class:`PolicyError` (an ``InvalidInput``) with ``diagnostics``.
"""

from __future__ import annotations

from cluster.acl.capabilities import (
    DENY,
    LIST,
    NAMESPACE_CAPABILITIES,
    READ,
    SCALE,
    WRITE,
    NamespaceCapability,
    expand_namespace_policy,
)
from cluster.acl.compiled import ACL, ALL_NAMESPACES
from cluster.acl.glob import glob_match
from cluster.acl.parse import MAX_RULES_CHARS, parse_policy
from cluster.acl.policy import NamedRule, NamespaceRule, Policy, PolicyError, VariablesPathRule

__all__ = [
    "ACL",
    "ALL_NAMESPACES",
    "ANONYMOUS_POLICY",
    "DENY",
    "LIST",
    "MAX_RULES_CHARS",
    "NAMESPACE_CAPABILITIES",
    "READ",
    "SCALE",
    "WRITE",
    "NamedRule",
    "NamespaceCapability",
    "NamespaceRule",
    "Policy",
    "PolicyError",
    "VariablesPathRule",
    "expand_namespace_policy",
    "glob_match",
    "parse_policy",
]

# The policy that applies to requests made without a token.
ANONYMOUS_POLICY = "anonymous"
