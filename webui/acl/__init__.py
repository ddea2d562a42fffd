"""ACL tokens and policies for the web application: services (writes), selectors (reads) and
``authenticate`` (a SecretID to what it may do). The policy language itself is ``cluster.acl``.

    created = acl_bootstrap()                     # once; Conflict afterwards
    created.secret_id                             # show it once: only its hash is stored
    policy_upsert(name="readonly", rules='namespace "*" { policy = "read" }')
    token_create(name="ci", policies=["readonly"], ttl=timedelta(hours=1))
    ctx = authenticate(secret)                    # ACLContext; PermissionDenied if unknown/expired
    ctx.acl.allow_namespace_op("default", "read-job")

Import from here (not the submodules): the names below are the package's public surface.
"""

from __future__ import annotations

from webui.acl.auth import (
    ANONYMOUS_TOKEN,
    DEFAULT_CACHE,
    ACLContext,
    AuthCache,
    Clock,
    TokenIdentity,
    authenticate,
    authenticate_accessor,
)
from webui.acl.selectors import (
    acl_index,
    is_bootstrapped,
    policy_get,
    policy_list,
    token_get,
    token_list,
    token_self,
)
from webui.acl.services import (
    MAX_TOKEN_TTL,
    MIN_TOKEN_TTL,
    CreatedToken,
    acl_bootstrap,
    policy_delete,
    policy_upsert,
    token_create,
    token_revoke,
    token_update,
    tokens_expired_delete,
)

__all__ = [
    "ANONYMOUS_TOKEN",
    "DEFAULT_CACHE",
    "MAX_TOKEN_TTL",
    "MIN_TOKEN_TTL",
    "ACLContext",
    "AuthCache",
    "Clock",
    "CreatedToken",
    "TokenIdentity",
    "acl_bootstrap",
    "acl_index",
    "authenticate",
    "authenticate_accessor",
    "is_bootstrapped",
    "policy_delete",
    "policy_get",
    "policy_list",
    "policy_upsert",
    "token_create",
    "token_get",
    "token_list",
    "token_revoke",
    "token_self",
    "token_update",
    "tokens_expired_delete",
]
