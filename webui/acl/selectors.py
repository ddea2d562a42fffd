"""Reads of the ACL system. Token reads never expose a secret: rows hold only its hash."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from cluster.errors import NotFound
from webui.acl.auth import Clock, find_token
from webui.acl.ids import parse_accessor_id
from webui.models import ACLPolicy, ACLState, ACLToken

__all__ = ["acl_index", "is_bootstrapped", "policy_get", "policy_list", "token_get", "token_list", "token_self"]


def acl_index() -> int:
    """The index of the latest ACL write (``X-Nomad-Index`` of ACL endpoints); 0 before any."""
    index = ACLState.objects.filter(id=ACLState.SINGLETON_ID).values_list("index", flat=True).first()
    return index or 0


def is_bootstrapped() -> bool:
    return ACLState.objects.filter(id=ACLState.SINGLETON_ID, bootstrap_index__isnull=False).exists()


def token_list() -> QuerySet[ACLToken]:
    """Every token, oldest first (expired ones too, until they are garbage-collected)."""
    return ACLToken.objects.order_by("create_index")


def token_get(accessor_id: str) -> ACLToken:
    token = ACLToken.objects.filter(accessor_id=parse_accessor_id(accessor_id)).first()
    if token is None:
        raise NotFound(f"ACL token {accessor_id} not found")
    return token


def token_self(secret: str, *, clock: Clock = timezone.now) -> ACLToken:
    """The token a SecretID belongs to; PermissionDenied when it matches none or has expired."""
    return find_token(secret.strip(), clock())


def policy_list() -> QuerySet[ACLPolicy]:
    return ACLPolicy.objects.order_by("name")


def policy_get(name: str) -> ACLPolicy:
    policy = ACLPolicy.objects.filter(name=name).first()
    if policy is None:
        raise NotFound(f"ACL policy {name[:140]!r} not found")
    return policy
