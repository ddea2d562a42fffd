"""A parsed ACL policy: its rules with every ``policy`` level already expanded to capabilities.

A :class:`Policy` is plain immutable data; ``cluster.acl.parse`` builds it from HCL or JSON and
``cluster.acl.compiled`` merges several into an :class:`~cluster.acl.compiled.ACL`. Rules keep
the line they came from so a tool can point at the rule that grants or denies something.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cluster.errors import Diagnostic, InvalidInput

__all__ = ["NamedRule", "NamespaceRule", "Policy", "PolicyError", "VariablesPathRule"]


class PolicyError(InvalidInput):
    """ACL policy rules are wrong. ``diagnostics`` lists every problem found, in file order, each
    with its line and field path (``namespace[prod].capabilities[1]``)."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        assert diagnostics, "a PolicyError needs at least one diagnostic"
        self.diagnostics = sorted(diagnostics, key=lambda d: (d.line, d.column, d.path))
        super().__init__("\n".join(str(d) for d in self.diagnostics))


@dataclass(frozen=True, slots=True)
class VariablesPathRule:
    """``path "nomad/jobs/*" { capabilities = [...] }`` inside a namespace's ``variables`` block."""

    path: str
    capabilities: frozenset[str]
    line: int = 0


@dataclass(frozen=True, slots=True)
class NamespaceRule:
    """``namespace "name" { policy, capabilities, variables }``; ``name`` may be a glob."""

    name: str
    capabilities: frozenset[str]
    variables: tuple[VariablesPathRule, ...] = ()
    line: int = 0


@dataclass(frozen=True, slots=True)
class NamedRule:
    """A ``node_pool`` or ``host_volume`` rule: a name (maybe a glob) and its capabilities."""

    name: str
    capabilities: frozenset[str]
    line: int = 0


@dataclass(frozen=True, slots=True)
class Policy:
    """Every rule of one policy. Levels are ``""`` where the policy has no such rule."""

    namespaces: tuple[NamespaceRule, ...] = ()
    node_pools: tuple[NamedRule, ...] = ()
    host_volumes: tuple[NamedRule, ...] = ()
    agent: str = ""
    node: str = ""
    operator: str = ""
    operator_capabilities: frozenset[str] = field(default_factory=frozenset)
    quota: str = ""
    plugin: str = ""

    def is_empty(self) -> bool:
        """True when the policy has no rule at all (it then grants nothing)."""
        return not (
            self.namespaces or self.node_pools or self.host_volumes or self.agent or self.node
            or self.operator or self.operator_capabilities or self.quota or self.plugin
        )
