"""Who is calling the /v1 API and may they: the token of a request, and capability checks.

    require_namespace_op(request, "default", NamespaceCapability.READ_JOB)   # PermissionDenied -> 403

The token comes from ``X-Nomad-Token`` or ``Authorization: Bearer <secret>``, as Nomad reads it. ACL
enforcement is on when ``CARAVAN_ACL`` says so, and by default everywhere but dev mode (Nomad's dev agent
runs without ACL). With it off every request may do everything; with it on a refusal is Nomad's 403
with the body "Permission denied".
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Protocol, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

from cluster.acl import ACL, ALL_NAMESPACES
from cluster.errors import PermissionDenied
from webui.acl import authenticate
from webui.config import CONFIG

__all__ = [
    "PERMISSION_DENIED",
    "acl_enabled",
    "readable_in_all_namespaces",
    "request_accessor",
    "request_acl",
    "request_secret",
    "require_namespace_op",
]


class _Namespaced(Protocol):
    @property
    def Namespace(self) -> str: ...


N = TypeVar("N", bound=_Namespaced)

PERMISSION_DENIED = "Permission denied"
_ON = frozenset({"1", "true", "yes", "on"})
_OFF = frozenset({"0", "false", "no", "off"})


def acl_enabled() -> bool:
    """``CARAVAN_ACL`` ("1"/"0"), read per request so an operator's restart is not needed in tests."""
    value = os.environ.get("CARAVAN_ACL", "").strip().lower()
    if not value:
        return not CONFIG.dev_mode
    if value in _ON:
        return True
    if value in _OFF:
        return False
    raise ImproperlyConfigured(f"CARAVAN_ACL: expected 1 or 0, got {value!r}")


def request_secret(request: HttpRequest) -> str | None:
    """The SecretID the request carries, if any."""
    token = request.headers.get("X-Nomad-Token", "").strip()
    if token:
        return token
    scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def request_acl(request: HttpRequest) -> ACL | None:
    """The request's compiled ACL, or None when enforcement is off (everything is allowed)."""
    if not acl_enabled():
        return None
    return authenticate(request_secret(request)).acl


def request_accessor(request: HttpRequest) -> str:
    """The AccessorID of the request's token ("" with enforcement off or no token), for records that
    keep who did something (a drain's ``LastDrain.AccessorID``)."""
    if not acl_enabled():
        return ""
    ctx = authenticate(request_secret(request))
    return "" if ctx.is_anonymous else ctx.token.accessor_id


def require_namespace_op(request: HttpRequest, namespace: str, capability: str) -> None:
    """PermissionDenied unless the request's token has ``capability`` in ``namespace``."""
    acl = request_acl(request)
    if acl is not None and not acl.allow_namespace_op(namespace, capability):
        raise PermissionDenied(PERMISSION_DENIED)


def readable_in_all_namespaces(request: HttpRequest, namespace: str, items: Sequence[N], capability: str) -> list[N]:
    """A list answer for ``?namespace=*`` keeps only the items whose namespace the token may use with
    ``capability``; for one namespace, ``require_namespace_op`` already decided."""
    acl = request_acl(request)
    if acl is None or namespace != ALL_NAMESPACES:
        return list(items)
    return [item for item in items if acl.allow_namespace_op(item.Namespace, capability)]
