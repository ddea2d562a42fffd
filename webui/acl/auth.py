"""Who is asking, and what may they do: a SecretID (or none) to an :class:`ACLContext`.

    ctx = authenticate(request.headers.get("X-Nomad-Token"))   # PermissionDenied if unknown/expired
    if not ctx.acl.allow_namespace_op(ns, NamespaceCapability.SUBMIT_JOB): ...

No token means the anonymous policy (the policy named ``anonymous``; nothing when it does not
exist), as in Nomad. Results are cached for ``ttl_s`` seconds by secret hash, so a busy page does
not re-read and re-compile policies on every request. Writes in this process (revoking a token,
changing a policy) empty the cache when they commit; other processes see them within ``ttl_s``.
A cached token is still refused the moment it expires.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone

from cluster.acl import ACL, ANONYMOUS_POLICY, PolicyError, parse_policy
from cluster.errors import PermissionDenied
from webui.acl.hashing import MAX_SECRET_CHARS, candidate_hashes, hash_secret
from webui.models import ACLPolicy, ACLToken

__all__ = [
    "ANONYMOUS_TOKEN",
    "DEFAULT_CACHE",
    "ACLContext",
    "AuthCache",
    "Clock",
    "TokenIdentity",
    "authenticate",
    "authenticate_accessor",
    "compile_policies",
    "find_token",
]

logger = logging.getLogger("caravan.acl")

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class TokenIdentity:
    """The public facts of the token behind a request (never its secret)."""

    accessor_id: str
    name: str
    type: str
    policies: tuple[str, ...]
    global_: bool
    expiration_time: datetime | None

    @classmethod
    def of(cls, token: ACLToken) -> TokenIdentity:
        return cls(
            accessor_id=str(token.accessor_id),
            name=token.name,
            type=token.type,
            policies=tuple(token.policies),
            global_=token.is_global,
            expiration_time=token.expiration_time,
        )

    def expired(self, now: datetime) -> bool:
        return self.expiration_time is not None and self.expiration_time <= now


# Nomad's anonymous token: what a request without a token acts as.
ANONYMOUS_TOKEN = TokenIdentity("anonymous", "Anonymous Token", ACLToken.TYPE_CLIENT, (ANONYMOUS_POLICY,), False, None)


@dataclass(frozen=True, slots=True)
class ACLContext:
    """A request's token and its compiled ACL."""

    token: TokenIdentity
    acl: ACL

    @property
    def is_anonymous(self) -> bool:
        return self.token is ANONYMOUS_TOKEN

    @property
    def is_management(self) -> bool:
        return self.acl.is_management


class AuthCache:
    """A small LRU of authentications by secret hash, each kept at most ``ttl_s`` seconds."""

    def __init__(self, *, ttl_s: float = 10.0, max_entries: int = 512) -> None:
        assert ttl_s >= 0 and max_entries > 0, (ttl_s, max_entries)
        self.ttl = timedelta(seconds=ttl_s)
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[ACLContext, datetime]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, now: datetime) -> ACLContext | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            ctx, stored_at = entry
            if now - stored_at >= self.ttl or now < stored_at or ctx.token.expired(now):
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return ctx

    def put(self, key: str, ctx: ACLContext, now: datetime) -> None:
        with self._lock:
            self._entries[key] = (ctx, now)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


DEFAULT_CACHE = AuthCache()


def authenticate(
    secret: str | None, *, clock: Clock = timezone.now, cache: AuthCache | None = DEFAULT_CACHE
) -> ACLContext:
    """The context of ``secret``; anonymous when it is None or empty.

    Raises PermissionDenied for a secret that matches no token or an expired token, with Nomad's
    messages ("ACL token not found", "ACL token expired").
    """
    now = clock()
    secret = (secret or "").strip()
    if len(secret) > MAX_SECRET_CHARS:
        raise PermissionDenied("ACL token not found")
    key = hash_secret(secret) if secret else ""
    cached = cache.get(key, now) if cache is not None else None
    if cached is not None:
        return cached
    if not secret:
        ctx = ACLContext(ANONYMOUS_TOKEN, compile_policies([ANONYMOUS_POLICY]))
    else:
        token = find_token(secret, now)
        acl = ACL.management() if token.is_management else compile_policies(token.policies)
        ctx = ACLContext(TokenIdentity.of(token), acl)
    if cache is not None:
        cache.put(key, ctx, now)
    return ctx


def authenticate_accessor(
    accessor_id: str, *, clock: Clock = timezone.now, cache: AuthCache | None = DEFAULT_CACHE
) -> ACLContext:
    """The context of the token with this (public) AccessorID, for a holder who proved the secret
    earlier: the dashboard's session keeps the accessor, so no secret rests in the session table.
    PermissionDenied as :func:`authenticate` when the token is gone or expired."""
    now = clock()
    key = f"accessor:{accessor_id}"
    cached = cache.get(key, now) if cache is not None else None
    if cached is not None:
        return cached
    try:
        token = ACLToken.objects.filter(accessor_id=accessor_id).first()
    except (ValueError, ValidationError):
        token = None
    if token is None:
        raise PermissionDenied("ACL token not found")
    if token.expiration_time is not None and token.expiration_time <= now:
        raise PermissionDenied("ACL token expired")
    acl = ACL.management() if token.is_management else compile_policies(token.policies)
    ctx = ACLContext(TokenIdentity.of(token), acl)
    if cache is not None:
        cache.put(key, ctx, now)
    return ctx


def find_token(secret: str, now: datetime) -> ACLToken:
    """The live token whose secret is ``secret``; PermissionDenied when none or expired."""
    if len(secret) > MAX_SECRET_CHARS:
        raise PermissionDenied("ACL token not found")
    hashes = candidate_hashes(secret)
    found = {t.secret_hash: t for t in ACLToken.objects.filter(secret_hash__in=hashes)}
    token = next((found[h] for h in hashes if h in found), None)
    if token is None:
        raise PermissionDenied("ACL token not found")
    if token.expiration_time is not None and token.expiration_time <= now:
        raise PermissionDenied("ACL token expired")
    if token.secret_hash != hashes[0]:
        # Found under a fallback SECRET_KEY: store it under the current one before that key goes.
        ACLToken.objects.filter(pk=token.pk, secret_hash=token.secret_hash).update(secret_hash=hashes[0])
        token.secret_hash = hashes[0]
    return token


def compile_policies(names: list[str] | tuple[str, ...]) -> ACL:
    """The merged ACL of the named policies; names with no policy (deleted ones) grant nothing.

    A stored policy that no longer parses fails the request (closed), since skipping it could
    drop a deny rule.
    """
    parsed = []
    for policy in ACLPolicy.objects.filter(name__in=list(names)):
        try:
            parsed.append(parse_policy(policy.rules, strict=False))
        except PolicyError:
            logger.error("ACL policy %r in the database does not parse; requests using it are refused", policy.name)
            raise PermissionDenied(f"ACL policy {policy.name!r} cannot be evaluated; an operator must fix it") from None
    return ACL.from_policies(parsed)
