"""The words of Nomad's policy language: policy levels, capabilities, and what each level grants.

A rule's ``policy = "..."`` is shorthand for a set of fine-grained capabilities; the expansions
below are the ones Nomad documents, so a policy written for Nomad grants the same here. Names are
kept exactly as Nomad spells them because operators copy policies between the two.
"""

from __future__ import annotations

__all__ = [
    "DENY",
    "HOST_VOLUME_CAPABILITIES",
    "LIST",
    "NAMESPACE_CAPABILITIES",
    "NAMESPACE_LEVELS",
    "NODE_POOL_CAPABILITIES",
    "OPERATOR_CAPABILITIES",
    "PLUGIN_LEVELS",
    "READ",
    "SCALE",
    "SIMPLE_LEVELS",
    "VARIABLE_CAPABILITIES",
    "WRITE",
    "NamespaceCapability",
    "expand_host_volume_policy",
    "expand_namespace_capabilities",
    "expand_namespace_policy",
    "expand_node_pool_policy",
    "expand_operator_policy",
    "expand_variable_capabilities",
    "max_level",
]

# -- policy levels --------------------------------------------------------------------------------

DENY = "deny"
READ = "read"
WRITE = "write"
LIST = "list"
SCALE = "scale"

# agent, node, operator, quota; namespace adds scale; plugin adds list.
SIMPLE_LEVELS = frozenset({DENY, READ, WRITE})
NAMESPACE_LEVELS = frozenset({DENY, READ, WRITE, SCALE})
PLUGIN_LEVELS = frozenset({DENY, READ, LIST, WRITE})

# Merging several policies keeps the most privilege, except that deny always wins.
_RANK = {"": 0, LIST: 1, READ: 2, WRITE: 3, DENY: 4}


def max_level(a: str, b: str) -> str:
    """The merged level of two rules for the same object (``""`` is "no rule")."""
    assert a in _RANK and b in _RANK, (a, b)
    return a if _RANK[a] >= _RANK[b] else b


# -- namespaces -----------------------------------------------------------------------------------


class NamespaceCapability:
    """Capability names of namespace rules, as constants for the code that checks them."""

    DENY = "deny"
    LIST_JOBS = "list-jobs"
    PARSE_JOB = "parse-job"
    READ_JOB = "read-job"
    SUBMIT_JOB = "submit-job"
    DISPATCH_JOB = "dispatch-job"
    READ_LOGS = "read-logs"
    READ_FS = "read-fs"
    ALLOC_EXEC = "alloc-exec"
    ALLOC_NODE_EXEC = "alloc-node-exec"
    ALLOC_LIFECYCLE = "alloc-lifecycle"
    SENTINEL_OVERRIDE = "sentinel-override"
    CSI_REGISTER_PLUGIN = "csi-register-plugin"
    CSI_WRITE_VOLUME = "csi-write-volume"
    CSI_READ_VOLUME = "csi-read-volume"
    CSI_LIST_VOLUME = "csi-list-volume"
    CSI_MOUNT_VOLUME = "csi-mount-volume"
    HOST_VOLUME_CREATE = "host-volume-create"
    HOST_VOLUME_REGISTER = "host-volume-register"
    HOST_VOLUME_READ = "host-volume-read"
    HOST_VOLUME_WRITE = "host-volume-write"
    HOST_VOLUME_DELETE = "host-volume-delete"
    LIST_SCALING_POLICIES = "list-scaling-policies"
    READ_SCALING_POLICY = "read-scaling-policy"
    READ_JOB_SCALING = "read-job-scaling"
    SCALE_JOB = "scale-job"
    SUBMIT_RECOMMENDATION = "submit-recommendation"
    # Finer job capabilities of recent Nomad versions, accepted so their policies load here.
    REGISTER_JOB = "register-job"
    REVERT_JOB = "revert-job"
    DEREGISTER_JOB = "deregister-job"
    PURGE_JOB = "purge-job"
    EVALUATE_JOB = "evaluate-job"
    PLAN_JOB = "plan-job"
    TAG_JOB_VERSION = "tag-job-version"
    STABLE_JOB = "stable-job"
    FAIL_DEPLOYMENT = "fail-deployment"
    PAUSE_DEPLOYMENT = "pause-deployment"
    PROMOTE_DEPLOYMENT = "promote-deployment"
    UNBLOCK_DEPLOYMENT = "unblock-deployment"
    CANCEL_DEPLOYMENT = "cancel-deployment"
    SET_ALLOC_HEALTH_DEPLOYMENT = "set-alloc-health-deployment"
    GC_ALLOCATION = "gc-allocation"
    PAUSE_ALLOCATION = "pause-allocation"
    FORCE_PERIODIC_JOB = "force-periodic-job"
    DELETE_SERVICE_REGISTRATION = "delete-service-registration"


NAMESPACE_CAPABILITIES = frozenset(
    value for name, value in vars(NamespaceCapability).items() if name.isupper()
)

_NS = NamespaceCapability
_NAMESPACE_READ = (
    _NS.LIST_JOBS, _NS.PARSE_JOB, _NS.READ_JOB, _NS.CSI_LIST_VOLUME, _NS.CSI_READ_VOLUME,
    _NS.READ_JOB_SCALING, _NS.LIST_SCALING_POLICIES, _NS.READ_SCALING_POLICY, _NS.HOST_VOLUME_READ,
)
_NAMESPACE_WRITE = (
    *_NAMESPACE_READ,
    _NS.SCALE_JOB, _NS.SUBMIT_JOB, _NS.DISPATCH_JOB, _NS.READ_LOGS, _NS.READ_FS, _NS.ALLOC_EXEC,
    _NS.ALLOC_LIFECYCLE, _NS.CSI_MOUNT_VOLUME, _NS.CSI_WRITE_VOLUME, _NS.SUBMIT_RECOMMENDATION,
    _NS.HOST_VOLUME_CREATE,
)
_NAMESPACE_SCALE = (
    _NS.LIST_SCALING_POLICIES, _NS.READ_SCALING_POLICY, _NS.READ_JOB_SCALING, _NS.SCALE_JOB,
    _NS.READ_JOB, _NS.SUBMIT_RECOMMENDATION,
)
_NAMESPACE_EXPANSIONS: dict[str, tuple[str, ...]] = {
    DENY: (_NS.DENY,),
    READ: _NAMESPACE_READ,
    WRITE: _NAMESPACE_WRITE,
    SCALE: _NAMESPACE_SCALE,
}
# A host-volume capability implies the weaker ones it needs to be useful.
_NAMESPACE_IMPLIED: dict[str, tuple[str, ...]] = {
    _NS.HOST_VOLUME_WRITE: (
        _NS.HOST_VOLUME_REGISTER, _NS.HOST_VOLUME_CREATE, _NS.HOST_VOLUME_DELETE, _NS.HOST_VOLUME_READ,
    ),
    _NS.HOST_VOLUME_REGISTER: (_NS.HOST_VOLUME_CREATE, _NS.HOST_VOLUME_READ),
    _NS.HOST_VOLUME_CREATE: (_NS.HOST_VOLUME_READ,),
}


def expand_namespace_policy(level: str) -> frozenset[str]:
    """The capabilities a namespace ``policy`` level grants (empty for no level)."""
    return frozenset(_NAMESPACE_EXPANSIONS.get(level, ()))


def expand_namespace_capabilities(capabilities: frozenset[str]) -> frozenset[str]:
    """``capabilities`` plus the ones they imply (``host-volume-write`` implies read, create...)."""
    implied = [extra for cap in capabilities for extra in _NAMESPACE_IMPLIED.get(cap, ())]
    return capabilities | frozenset(implied)


# -- node pools, host volumes, operator, variables ------------------------------------------------

NODE_POOL_CAPABILITIES = frozenset({DENY, READ, WRITE, "delete"})
HOST_VOLUME_CAPABILITIES = frozenset({DENY, "mount-readonly", "mount-readwrite"})
OPERATOR_CAPABILITIES = frozenset({DENY, "snapshot-save", "license-read"})
VARIABLE_CAPABILITIES = frozenset({DENY, READ, WRITE, LIST, "destroy"})

_NODE_POOL_EXPANSIONS: dict[str, tuple[str, ...]] = {
    DENY: (DENY,), READ: (READ,), WRITE: ("delete", READ, WRITE),
}
_HOST_VOLUME_EXPANSIONS: dict[str, tuple[str, ...]] = {
    DENY: (DENY,), READ: ("mount-readonly",), WRITE: ("mount-readonly", "mount-readwrite"),
}
_OPERATOR_EXPANSIONS: dict[str, tuple[str, ...]] = {
    DENY: (DENY,), READ: ("license-read",), WRITE: ("snapshot-save", "license-read"),
}


def expand_node_pool_policy(level: str) -> frozenset[str]:
    """The capabilities a node_pool ``policy`` level grants."""
    return frozenset(_NODE_POOL_EXPANSIONS.get(level, ()))


def expand_host_volume_policy(level: str) -> frozenset[str]:
    """The capabilities a host_volume ``policy`` level grants."""
    return frozenset(_HOST_VOLUME_EXPANSIONS.get(level, ()))


def expand_operator_policy(level: str) -> frozenset[str]:
    """The capabilities an operator ``policy`` level grants."""
    return frozenset(_OPERATOR_EXPANSIONS.get(level, ()))


def expand_variable_capabilities(capabilities: frozenset[str]) -> frozenset[str]:
    """Variables: ``deny`` alone stands for the whole rule, and ``read`` implies ``list``."""
    if DENY in capabilities:
        return frozenset({DENY})
    if READ in capabilities:
        return capabilities | {LIST}
    return capabilities
