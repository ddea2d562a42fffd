"""An :class:`ACL`: the policies of one token merged into tables that answer "may it do this?".

Merging follows Nomad: for each object the capabilities of every rule naming it are united,
except that ``deny`` wins: once any rule denies, the object's set is just ``{deny}``. Levels of
agent, node, operator, quota and plugin rules keep the most privilege, deny again winning.
A rule names an object exactly or by glob; an exact rule beats any glob, and among globs the
closest one wins (``cluster.acl.glob``). A management ACL allows everything; an ACL built from no
policies allows nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from cluster.acl import capabilities as caps
from cluster.acl.glob import closest_glob, is_glob
from cluster.acl.policy import Policy

__all__ = ["ACL", "ALL_NAMESPACES", "CapabilityTable"]

# Asking about namespace "*" means "any namespace": allowed if any rule allows the operation.
ALL_NAMESPACES = "*"
_NS = caps.NamespaceCapability


class CapabilityTable:
    """Capabilities by object name: exact names, and globs resolved to the closest match."""

    __slots__ = ("_exact", "_globs")

    def __init__(self, merged: dict[str, set[str]]) -> None:
        self._exact = {k: frozenset(v) for k, v in merged.items() if not is_glob(k)}
        self._globs = {k: frozenset(v) for k, v in merged.items() if is_glob(k)}

    @staticmethod
    def merge_into(merged: dict[str, set[str]], name: str, granted: frozenset[str]) -> None:
        """Adds one rule's capabilities for ``name``; deny, once present, is all that stays."""
        current = merged.setdefault(name, set())
        if caps.DENY in current:
            return
        if caps.DENY in granted:
            current.clear()
            current.add(caps.DENY)
            return
        current.update(granted)

    def lookup(self, name: str) -> frozenset[str] | None:
        """The capabilities of the rule that governs ``name``, or None when no rule does."""
        found = self._exact.get(name)
        return found if found is not None else closest_glob(self._globs, name)

    def allows(self, name: str, capability: str) -> bool:
        found = self.lookup(name)
        return found is not None and capability in found and caps.DENY not in found

    def any_allows(self, capability: str | None) -> bool:
        """Whether any rule grants ``capability`` (None: any capability at all)."""
        for granted in (*self._exact.values(), *self._globs.values()):
            if caps.DENY in granted:
                continue
            if granted if capability is None else capability in granted:
                return True
        return False

    def __bool__(self) -> bool:
        return bool(self._exact or self._globs)


class ACL:
    """What one token may do. Build with :meth:`from_policies`, :meth:`management` or :meth:`deny_all`."""

    __slots__ = (
        "_agent", "_host_volumes", "_management", "_namespaces", "_node", "_node_pools", "_operator",
        "_operator_caps", "_plugin", "_quota", "_variables",
    )

    def __init__(self, policies: Iterable[Policy] = (), *, management: bool = False) -> None:
        self._management = management
        namespaces: dict[str, set[str]] = {}
        node_pools: dict[str, set[str]] = {}
        host_volumes: dict[str, set[str]] = {}
        variables: dict[str, set[str]] = {}
        operator_caps: dict[str, set[str]] = {}
        self._agent = self._node = self._operator = self._quota = self._plugin = ""
        for policy in policies:
            for ns in policy.namespaces:
                CapabilityTable.merge_into(namespaces, ns.name, ns.capabilities)
                for rule in ns.variables:
                    CapabilityTable.merge_into(variables, _variable_key(ns.name, rule.path), rule.capabilities)
            for pool in policy.node_pools:
                CapabilityTable.merge_into(node_pools, pool.name, pool.capabilities)
            for volume in policy.host_volumes:
                CapabilityTable.merge_into(host_volumes, volume.name, volume.capabilities)
            CapabilityTable.merge_into(operator_caps, "", policy.operator_capabilities)
            self._merge_levels(policy)
        self._namespaces = CapabilityTable(namespaces)
        self._node_pools = CapabilityTable(node_pools)
        self._host_volumes = CapabilityTable(host_volumes)
        self._variables = CapabilityTable(variables)
        self._operator_caps = CapabilityTable(operator_caps)

    def _merge_levels(self, policy: Policy) -> None:
        self._agent = caps.max_level(self._agent, policy.agent)
        self._node = caps.max_level(self._node, policy.node)
        self._operator = caps.max_level(self._operator, policy.operator)
        self._quota = caps.max_level(self._quota, policy.quota)
        self._plugin = caps.max_level(self._plugin, policy.plugin)

    @classmethod
    def from_policies(cls, policies: Iterable[Policy]) -> ACL:
        """The merged ACL of a client token's policies."""
        return cls(policies)

    @classmethod
    def management(cls) -> ACL:
        """The ACL of a management token: everything is allowed."""
        return cls(management=True)

    @classmethod
    def deny_all(cls) -> ACL:
        """Nothing is allowed (an anonymous request when no anonymous policy exists)."""
        return cls()

    @property
    def is_management(self) -> bool:
        return self._management

    # -- namespaces -------------------------------------------------------------------------------

    def allow_namespace_op(self, namespace: str, capability: str) -> bool:
        """Whether ``capability`` (e.g. ``submit-job``) is granted in ``namespace``."""
        if self._management:
            return True
        if namespace == ALL_NAMESPACES and self._namespaces.any_allows(capability):
            return True
        return self._namespaces.allows(namespace, capability)

    def allow_namespace_any(self, namespace: str, *capabilities: str) -> bool:
        """Whether any one of ``capabilities`` is granted (Nomad's namespace validator)."""
        return any(self.allow_namespace_op(namespace, cap) for cap in capabilities)

    def allow_namespace(self, namespace: str) -> bool:
        """Whether anything at all is allowed in ``namespace`` (to show it in a list)."""
        if self._management:
            return True
        if namespace == ALL_NAMESPACES and self._namespaces.any_allows(None):
            return True
        found = self._namespaces.lookup(namespace)
        return found is not None and bool(found) and caps.DENY not in found

    def namespace_capabilities(self, namespace: str) -> frozenset[str]:
        """The capabilities granted in ``namespace`` (all of them for management)."""
        if self._management:
            return caps.NAMESPACE_CAPABILITIES - {_NS.DENY}
        found = self._namespaces.lookup(namespace) or frozenset()
        return frozenset() if caps.DENY in found else found

    def allow_variable_op(self, namespace: str, path: str, capability: str) -> bool:
        """Whether ``capability`` (read, write, list, destroy) is granted on a variable path."""
        return self._management or self._variables.allows(_variable_key(namespace, path), capability)

    # -- node pools and host volumes --------------------------------------------------------------

    def allow_node_pool_op(self, pool: str, capability: str) -> bool:
        return self._management or self._node_pools.allows(pool, capability)

    def allow_host_volume_op(self, volume: str, capability: str) -> bool:
        return self._management or self._host_volumes.allows(volume, capability)

    # -- coarse rules -----------------------------------------------------------------------------

    def allow_node_read(self) -> bool:
        return self._management or self._node in (caps.READ, caps.WRITE)

    def allow_node_write(self) -> bool:
        return self._management or self._node == caps.WRITE

    def allow_agent_read(self) -> bool:
        return self._management or self._agent in (caps.READ, caps.WRITE)

    def allow_agent_write(self) -> bool:
        return self._management or self._agent == caps.WRITE

    def allow_operator_read(self) -> bool:
        return self._management or self._operator in (caps.READ, caps.WRITE)

    def allow_operator_write(self) -> bool:
        return self._management or self._operator == caps.WRITE

    def allow_operator_op(self, capability: str) -> bool:
        """A fine-grained operator capability: ``snapshot-save`` or ``license-read``."""
        return self._management or (self._operator != caps.DENY and self._operator_caps.allows("", capability))

    def allow_quota_read(self) -> bool:
        return self._management or self._quota in (caps.READ, caps.WRITE)

    def allow_quota_write(self) -> bool:
        return self._management or self._quota == caps.WRITE

    def allow_plugin_read(self) -> bool:
        return self._management or self._plugin in (caps.READ, caps.WRITE)

    def allow_plugin_list(self) -> bool:
        return self._management or self._plugin in (caps.LIST, caps.READ, caps.WRITE)


def _variable_key(namespace: str, path: str) -> str:
    # NUL cannot appear in a namespace name, so the pair is unambiguous and globs in either part
    # match as one string, as Nomad does.
    return f"{namespace}\x00{path}"
