"""Which events a token may see, for ``/v1/event/stream`` and the WebSocket subscriptions.

Nomad's rules: a subscription names topics (``Job:web``, ``Node``, ``Allocation:*``); ``Node`` events
need ``node:read``, ``Operator`` events ``operator:read``, the namespaced topics (jobs, evaluations,
allocations, deployments, services) ``read-job`` in the namespace; every topic at once (``*``, or no
topic) needs a management token. A subscription the token cannot read at all is refused up front (403);
with ``namespace=*`` each event is also checked against its own namespace, so a token sees only the
namespaces it may read.
"""

from __future__ import annotations

from collections.abc import Iterable

from cluster.acl import ACL, NamespaceCapability
from cluster.errors import InvalidInput, PermissionDenied

__all__ = ["ALL", "NODE_TOPICS", "check_subscription", "event_allowed", "parse_topics"]

ALL = "*"
NODE_TOPICS = frozenset({"Node", "NodePool"})
OPERATOR_TOPICS = frozenset({"Operator"})
KNOWN_TOPICS = frozenset({"Job", "JobSummary", "Evaluation", "Allocation", "Deployment", "Node", "NodePool", "Service",
                          "Operator", ALL})
MAX_TOPIC_CHARS = 300


def parse_topics(values: Iterable[str]) -> dict[str, list[str]]:
    """``["Job:web", "Node"]`` to ``{"Job": ["web"], "Node": ["*"]}``; no values mean every topic."""
    topics: dict[str, list[str]] = {}
    for value in values:
        if len(value) > MAX_TOPIC_CHARS:
            raise InvalidInput(f"topic is longer than {MAX_TOPIC_CHARS} characters")
        topic, _, key = value.partition(":")
        if topic not in KNOWN_TOPICS:
            known = ", ".join(sorted(KNOWN_TOPICS - {ALL}))
            raise InvalidInput(f'unknown event topic "{topic}" (known: {known}, or *)')
        keys = topics.setdefault(topic, [])
        if (key or ALL) not in keys:
            keys.append(key or ALL)
    return topics or {ALL: [ALL]}


def check_subscription(acl: ACL | None, topics: dict[str, list[str]], namespace: str) -> None:
    """PermissionDenied unless ``acl`` (None: enforcement off) may read every topic asked for."""
    if acl is None or acl.is_management:
        return
    for topic in topics:
        if topic == ALL:
            allowed = False
        elif topic in NODE_TOPICS:
            allowed = acl.allow_node_read()
        elif topic in OPERATOR_TOPICS:
            allowed = acl.allow_operator_read()
        elif namespace == ALL:
            allowed = True  # each event is checked against its own namespace
        else:
            allowed = acl.allow_namespace_op(namespace, NamespaceCapability.READ_JOB)
        if not allowed:
            raise PermissionDenied("Permission denied")


def event_allowed(acl: ACL | None, topic: str, namespace: str) -> bool:
    """Whether ``acl`` may see one event of ``topic`` in ``namespace`` ("" for nodes)."""
    if acl is None or acl.is_management:
        return True
    if topic in NODE_TOPICS:
        return acl.allow_node_read()
    if topic in OPERATOR_TOPICS:
        return acl.allow_operator_read()
    return bool(namespace) and acl.allow_namespace_op(namespace, NamespaceCapability.READ_JOB)
