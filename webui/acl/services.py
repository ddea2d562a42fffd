"""Writes of the ACL system: bootstrap, tokens and policies. Views, admin pages, the CLI's
endpoints and tasks call these; nothing else writes ACL rows.

Each write runs in one transaction, takes the next ACL index for its ``create_index`` /
``modify_index``, and empties this process's authentication cache once it commits. Errors are
typed (``cluster.errors``) with Nomad's wording where Nomad has one. A SecretID leaves this module
only inside the :class:`CreatedToken` returned to the caller who must show it; it is never
stored, logged or put in an exception.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from cluster.acl import parse_policy
from cluster.errors import Conflict, InvalidInput, NotFound
from webui.acl.auth import DEFAULT_CACHE, Clock
from webui.acl.hashing import hash_secret, new_secret
from webui.acl.ids import parse_accessor_id
from webui.models import ACLPolicy, ACLState, ACLToken

__all__ = [
    "MAX_TOKEN_TTL",
    "MIN_TOKEN_TTL",
    "CreatedToken",
    "acl_bootstrap",
    "policy_delete",
    "policy_upsert",
    "token_create",
    "token_revoke",
    "token_update",
    "tokens_expired_delete",
]

logger = logging.getLogger("caravan.acl")

# Nomad's defaults for acl.token_min_expiration_ttl and acl.token_max_expiration_ttl.
MIN_TOKEN_TTL = timedelta(minutes=1)
MAX_TOKEN_TTL = timedelta(hours=24)

_POLICY_NAME = re.compile(ACLPolicy.NAME_PATTERN)
_MAX_TOKEN_NAME = 256
_MAX_DESCRIPTION = 256


@dataclass(frozen=True, slots=True)
class CreatedToken:
    """A new token and its SecretID, which exists nowhere else: show it once, then drop it."""

    token: ACLToken
    secret_id: str = field(repr=False)


# -- the ACL index ----------------------------------------------------------------------------------


def _state() -> ACLState:
    state, _ = ACLState.objects.get_or_create(id=ACLState.SINGLETON_ID)
    return state


def _next_index() -> int:
    """The next ACL index; call inside a transaction (the row stays locked until commit)."""
    _state()
    ACLState.objects.filter(id=ACLState.SINGLETON_ID).update(index=F("index") + 1)
    index: int = ACLState.objects.values_list("index", flat=True).get(id=ACLState.SINGLETON_ID)
    return index


def _after_commit_forget_authentications() -> None:
    transaction.on_commit(DEFAULT_CACHE.clear)


# -- bootstrap ---------------------------------------------------------------------------------------


def acl_bootstrap(*, region: str = "global", clock: Clock = timezone.now) -> CreatedToken:
    """Creates the first management token ("Bootstrap Token"); works exactly once.

    A second call, even one racing the first from another process, raises Conflict with
    Nomad's message: "ACL bootstrap already done (reset index: N)".
    """
    now = clock()
    with transaction.atomic():
        state = _state()
        index = _next_index()
        won = ACLState.objects.filter(id=state.id, bootstrap_index__isnull=True).update(
            bootstrap_index=index, bootstrapped_at=now
        )
        if not won:
            done = ACLState.objects.values_list("bootstrap_index", flat=True).get(id=state.id)
            raise Conflict(f"ACL bootstrap already done (reset index: {done})")
        created = _insert_token(
            name="Bootstrap Token", type=ACLToken.TYPE_MANAGEMENT, policies=[], global_=True,
            region=region, now=now, ttl=None, index=index,
        )
    logger.info("ACL bootstrap done: management token %s created", created.token.accessor_id)
    return created


# -- tokens ------------------------------------------------------------------------------------------


def token_create(
    *,
    name: str = "",
    type: str = ACLToken.TYPE_CLIENT,
    policies: Iterable[str] = (),
    global_: bool = False,
    ttl: timedelta | None = None,
    region: str = "global",
    clock: Clock = timezone.now,
) -> CreatedToken:
    """Creates a token. Client tokens need at least one existing policy; management tokens take
    none. ``ttl`` (between MIN_TOKEN_TTL and MAX_TOKEN_TTL) makes it expire."""
    names = list(dict.fromkeys(policies))
    _check_token(name, type, names, ttl)
    now = clock()
    with transaction.atomic():
        missing = sorted(set(names) - set(ACLPolicy.objects.filter(name__in=names).values_list("name", flat=True)))
        if missing:
            raise InvalidInput(f"cannot find policy {', '.join(repr(m) for m in missing)}")
        created = _insert_token(
            name=name, type=type, policies=names, global_=global_, region=region, now=now, ttl=ttl,
            index=_next_index(),
        )
    logger.info("ACL token %s created (%s, policies %s)", created.token.accessor_id, type, names)
    return created


def _check_token(name: str, type: str, policies: list[str], ttl: timedelta | None) -> None:
    if len(name) > _MAX_TOKEN_NAME:
        raise InvalidInput(f"token name is longer than {_MAX_TOKEN_NAME} characters")
    if type not in (ACLToken.TYPE_CLIENT, ACLToken.TYPE_MANAGEMENT):
        raise InvalidInput(f'token type must be "client" or "management", not {type!r}')
    if type == ACLToken.TYPE_CLIENT and not policies:
        raise InvalidInput("client token missing policies")
    if type == ACLToken.TYPE_MANAGEMENT and policies:
        raise InvalidInput("management token cannot be associated with policies")
    if ttl is not None and ttl < MIN_TOKEN_TTL:
        raise InvalidInput(f"expiration time cannot be less than {_duration(MIN_TOKEN_TTL)} in the future")
    if ttl is not None and ttl > MAX_TOKEN_TTL:
        raise InvalidInput(f"expiration time cannot be more than {_duration(MAX_TOKEN_TTL)} in the future")


def _duration(d: timedelta) -> str:
    minutes, seconds = divmod(int(d.total_seconds()), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes}m{seconds}s"


def _insert_token(
    *, name: str, type: str, policies: list[str], global_: bool, region: str, now: datetime,
    ttl: timedelta | None, index: int,
) -> CreatedToken:
    secret = new_secret()
    token = ACLToken(
        accessor_id=uuid.uuid4(), secret_hash=hash_secret(secret), name=name, type=type,
        policies=policies, is_global=global_, region=region, create_time=now,
        expiration_time=now + ttl if ttl is not None else None, expiration_ttl=ttl,
        create_index=index, modify_index=index,
    )
    try:
        with transaction.atomic():
            token.save(force_insert=True)
    except IntegrityError:  # pragma: no cover - a collision of 122 random bits
        raise Conflict("token ID collision; try again") from None
    return CreatedToken(token, secret)


def token_update(accessor_id: str | uuid.UUID, *, name: str, type: str, policies: Iterable[str],
                 global_: bool | None = None) -> ACLToken:
    """Changes a token's name, type and policies (Nomad's token update); its secret and expiry stay.
    ``global_`` cannot change after creation, as in Nomad."""
    accessor = parse_accessor_id(accessor_id)
    names = list(dict.fromkeys(policies))
    _check_token(name, type, names, None)
    with transaction.atomic():
        token = ACLToken.objects.select_for_update().filter(accessor_id=accessor).first()
        if token is None:
            raise NotFound(f"ACL token {accessor} not found")
        if global_ is not None and global_ != token.is_global:
            raise InvalidInput("cannot toggle global mode")
        missing = sorted(set(names) - set(ACLPolicy.objects.filter(name__in=names).values_list("name", flat=True)))
        if missing:
            raise InvalidInput(f"cannot find policy {', '.join(repr(m) for m in missing)}")
        token.name, token.type, token.policies = name, type, names
        token.modify_index = _next_index()
        token.save(update_fields=["name", "type", "policies", "modify_index"])
        _after_commit_forget_authentications()
    logger.info("ACL token %s updated (%s, policies %s)", accessor, type, names)
    return token


def token_revoke(accessor_id: str | uuid.UUID) -> None:
    """Deletes a token: its secret stops working at once here, within the cache TTL elsewhere."""
    accessor = parse_accessor_id(accessor_id)
    with transaction.atomic():
        deleted, _ = ACLToken.objects.filter(accessor_id=accessor).delete()
        if not deleted:
            raise NotFound(f"ACL token {accessor} not found")
        _next_index()
        _after_commit_forget_authentications()
    logger.info("ACL token %s revoked", accessor)


def tokens_expired_delete(*, clock: Clock = timezone.now) -> int:
    """Deletes every expired token (Nomad's token garbage collection); returns how many."""
    now = clock()
    with transaction.atomic():
        deleted, _ = ACLToken.objects.filter(expiration_time__lte=now).delete()
        if deleted:
            _next_index()
            _after_commit_forget_authentications()
    return deleted


# -- policies ----------------------------------------------------------------------------------------


def policy_upsert(*, name: str, rules: str, description: str = "", clock: Clock = timezone.now) -> ACLPolicy:
    """Creates or replaces a policy. Invalid rules raise PolicyError naming line and field."""
    if not _POLICY_NAME.fullmatch(name):
        raise InvalidInput(f"invalid policy name {name[:140]!r}: {ACLPolicy.NAME_MESSAGE}")
    if len(description) > _MAX_DESCRIPTION:
        raise InvalidInput(f"policy description is longer than {_MAX_DESCRIPTION} characters")
    parse_policy(rules)
    now = clock()
    with transaction.atomic():
        index = _next_index()
        policy = ACLPolicy.objects.select_for_update().filter(name=name).first()
        if policy is None:
            policy = ACLPolicy(name=name, create_index=index, created=now)
        policy.rules, policy.description = rules, description
        policy.modify_index, policy.modified = index, now
        try:
            with transaction.atomic():
                policy.save()
        except IntegrityError:
            raise Conflict(f"ACL policy {name!r} was created by another request; try again") from None
        _after_commit_forget_authentications()
    logger.info("ACL policy %s written at index %d", name, index)
    return policy


def policy_delete(name: str) -> None:
    """Deletes a policy. Tokens keep its name and lose what it granted."""
    with transaction.atomic():
        deleted, _ = ACLPolicy.objects.filter(name=name).delete()
        if not deleted:
            raise NotFound(f"ACL policy {name[:140]!r} not found")
        _next_index()
        _after_commit_forget_authentications()
    logger.info("ACL policy %s deleted", name)
