"""Who is using the dashboard and what may they do: the signed-in token, kept in the Django session.

Signing in proves the secret once (``webui.acl.authenticate``); the session then keeps only the token's
public AccessorID (the browser holds the session key; no secret rests in the session table or a cookie,
and none is logged). Every request re-checks the token by accessor (``authenticate_accessor``, cached a
few seconds), so a revoked or expired token stops working at once. With ACL enforcement off
(dev mode) every page works without signing in, as Nomad's dev agent does.

    require_namespace(request, "default", NamespaceCapability.SUBMIT_JOB)   # PermissionDenied -> 403 page
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.http import HttpRequest

from cluster.acl import ACL, NamespaceCapability
from cluster.errors import PermissionDenied
from webui.acl import ACLContext, TokenIdentity, authenticate, authenticate_accessor
from webui.api.auth import PERMISSION_DENIED, acl_enabled

__all__ = [
    "Viewer",
    "namespace_allowed",
    "require_agent_read",
    "require_namespace",
    "require_node_read",
    "require_node_write",
    "session_context",
    "sign_in",
    "sign_out",
    "viewer",
]

SESSION_ACCESSOR_KEY = "caravan.ui.accessor"


@dataclass(frozen=True, slots=True)
class Viewer:
    """The dashboard user of one request: their token's public facts and ACL (None: ACL is off)."""

    acl: ACL | None
    token: TokenIdentity | None
    signed_in: bool

    @property
    def name(self) -> str:
        if self.acl is None:
            return "ACL disabled"
        assert self.token is not None
        return self.token.name or self.token.accessor_id[:8]


def session_context(session: Mapping[str, object] | None) -> ACLContext:
    """The ACL context of a dashboard session (anonymous when nobody signed in); PermissionDenied when
    its token was revoked or expired. The WebSocket consumers use it too."""
    accessor = session.get(SESSION_ACCESSOR_KEY) if session is not None else None
    if isinstance(accessor, str) and accessor:
        return authenticate_accessor(accessor)
    return authenticate(None)


def viewer(request: HttpRequest) -> Viewer:
    """The request's viewer; PermissionDenied when the session's token was revoked or expired."""
    if not acl_enabled():
        return Viewer(acl=None, token=None, signed_in=bool(request.session.get(SESSION_ACCESSOR_KEY)))
    ctx: ACLContext = session_context(request.session)
    return Viewer(acl=ctx.acl, token=ctx.token, signed_in=not ctx.is_anonymous)


def sign_in(request: HttpRequest, secret: str) -> TokenIdentity:
    """Checks ``secret`` and keeps its token's AccessorID in a fresh session (a new key: no fixation)."""
    ctx = authenticate(secret.strip())
    request.session.cycle_key()
    request.session[SESSION_ACCESSOR_KEY] = ctx.token.accessor_id
    return ctx.token


def sign_out(request: HttpRequest) -> None:
    """Forgets the token: the session and its key are thrown away."""
    request.session.flush()


def namespace_allowed(who: Viewer, namespace: str, capability: str) -> bool:
    return who.acl is None or who.acl.allow_namespace_op(namespace, capability)


def require_namespace(request: HttpRequest, namespace: str, capability: str) -> Viewer:
    """The viewer, if their token has ``capability`` in ``namespace``; else PermissionDenied."""
    who = viewer(request)
    if not namespace_allowed(who, namespace, capability):
        raise PermissionDenied(PERMISSION_DENIED)
    return who


def require_node_read(request: HttpRequest) -> Viewer:
    who = viewer(request)
    if who.acl is not None and not who.acl.allow_node_read():
        raise PermissionDenied(PERMISSION_DENIED)
    return who


def require_node_write(request: HttpRequest) -> Viewer:
    who = viewer(request)
    if who.acl is not None and not who.acl.allow_node_write():
        raise PermissionDenied(PERMISSION_DENIED)
    return who


def require_agent_read(request: HttpRequest) -> Viewer:
    who = viewer(request)
    if who.acl is not None and not who.acl.allow_agent_read():
        raise PermissionDenied(PERMISSION_DENIED)
    return who


READ_JOB = NamespaceCapability.READ_JOB
