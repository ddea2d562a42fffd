"""/v1/acl: bootstrap, tokens and policies, as Nomad's ACL HTTP API.

    POST   /v1/acl/bootstrap               the first management token (once)
    GET    /v1/acl/tokens                  token stubs (management)
    POST   /v1/acl/token                   create (management); the answer holds the SecretID, once
    GET    /v1/acl/token/self              the caller's own token
    GET    /v1/acl/token/<accessor>        read (management, or the token's own holder)
    POST   /v1/acl/token/<accessor>        update name, type, policies (management)
    DELETE /v1/acl/token/<accessor>        revoke (management)
    GET    /v1/acl/policies                policy stubs (management; others see the policies of their token)
    GET    /v1/acl/policy/<name>           read
    POST   /v1/acl/policy/<name>           create or replace (management)
    DELETE /v1/acl/policy/<name>           delete (management)

Differences from Nomad, on purpose: a SecretID is shown only in the answer that creates it
(bootstrap, create). Reads answer ``SecretID: ""`` because only a keyed hash is stored. With ACL
enforcement off, every endpoint answers 400 "ACL support disabled", as Nomad does.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse

from cluster.errors import InvalidInput, NotFound, PermissionDenied
from cluster.jobspec.values import KindError, parse_duration_ns
from webui.acl import (
    ACLContext,
    acl_bootstrap,
    acl_index,
    authenticate,
    policy_delete,
    policy_get,
    policy_list,
    policy_upsert,
    token_create,
    token_get,
    token_list,
    token_revoke,
    token_update,
)
from webui.api.auth import PERMISSION_DENIED, acl_enabled, request_secret
from webui.api.http import api_view, json_response, read_json
from webui.gateway import DEFAULT_REGION
from webui.models import ACLPolicy, ACLToken

__all__ = [
    "acl_bootstrap_view",
    "acl_policies",
    "acl_policy",
    "acl_token",
    "acl_token_create",
    "acl_token_self",
    "acl_tokens",
]

_NS_PER_SECOND = 1_000_000_000


def _with_index(response: HttpResponse) -> HttpResponse:
    response["X-Nomad-Index"] = str(max(1, acl_index()))
    return response


def _require_enabled() -> None:
    if not acl_enabled():
        raise InvalidInput("ACL support disabled")


def _caller(request: HttpRequest) -> ACLContext:
    return authenticate(request_secret(request))


def _require_management(request: HttpRequest) -> ACLContext:
    ctx = _caller(request)
    if not ctx.is_management:
        raise PermissionDenied(PERMISSION_DENIED)
    return ctx


def _time(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")


def _ttl_ns(value: timedelta | None) -> int:
    return int(value.total_seconds() * _NS_PER_SECOND) if value is not None else 0


def token_json(token: ACLToken, secret_id: str = "") -> dict[str, Any]:
    """Nomad's ACLToken object; ``secret_id`` only in the answer that created it."""
    return {
        "AccessorID": str(token.accessor_id), "SecretID": secret_id, "Name": token.name, "Type": token.type,
        "Policies": list(token.policies), "Roles": [], "Global": token.is_global,
        "CreateTime": _time(token.create_time), "ExpirationTime": _time(token.expiration_time),
        "ExpirationTTL": _ttl_ns(token.expiration_ttl), "CreateIndex": token.create_index,
        "ModifyIndex": token.modify_index,
    }


def token_stub(token: ACLToken) -> dict[str, Any]:
    stub = token_json(token)
    del stub["SecretID"]
    return stub


def policy_json(policy: ACLPolicy, *, rules: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"Name": policy.name, "Description": policy.description,
                           "CreateIndex": policy.create_index, "ModifyIndex": policy.modify_index}
    if rules:
        out["Rules"] = policy.rules
    return out


# ---- bootstrap and tokens ---------------------------------------------------------------------------


@api_view("POST", "PUT")
def acl_bootstrap_view(request: HttpRequest) -> HttpResponse:
    _require_enabled()
    created = acl_bootstrap(region=DEFAULT_REGION)
    return _with_index(json_response(token_json(created.token, created.secret_id)))


@api_view("GET")
def acl_tokens(request: HttpRequest) -> HttpResponse:
    _require_enabled()
    _require_management(request)
    prefix = request.GET.get("prefix", "")
    tokens = [t for t in token_list() if str(t.accessor_id).startswith(prefix)]
    return _with_index(json_response([token_stub(t) for t in tokens]))


@api_view("POST", "PUT")
def acl_token_create(request: HttpRequest) -> HttpResponse:
    _require_enabled()
    _require_management(request)
    body = read_json(request)
    if body.get("AccessorID"):
        raise InvalidInput("AccessorID: must be empty to create a token (update it at /v1/acl/token/<id>)")
    created = token_create(
        name=_str(body, "Name"), type=_str(body, "Type") or ACLToken.TYPE_CLIENT,
        policies=_names(body, "Policies"), global_=bool(body.get("Global", False)), ttl=_ttl(body),
        region=DEFAULT_REGION,
    )
    return _with_index(json_response(token_json(created.token, created.secret_id)))


@api_view("GET")
def acl_token_self(request: HttpRequest) -> HttpResponse:
    _require_enabled()
    ctx = _caller(request)
    if ctx.is_anonymous:
        raise InvalidInput("ACL token not found")  # Nomad answers the anonymous caller this way
    try:
        token = token_get(ctx.token.accessor_id)
    except NotFound:  # revoked a moment ago, while this process still had it cached
        raise PermissionDenied("ACL token not found") from None
    return _with_index(json_response(token_json(token)))


@api_view("GET", "POST", "PUT", "DELETE")
def acl_token(request: HttpRequest, accessor_id: str) -> HttpResponse:
    _require_enabled()
    if request.method == "GET":
        ctx = _caller(request)
        if not ctx.is_management and ctx.token.accessor_id != accessor_id:
            raise PermissionDenied(PERMISSION_DENIED)
        return _with_index(json_response(token_json(token_get(accessor_id))))
    _require_management(request)
    if request.method == "DELETE":
        token_revoke(accessor_id)
        return _with_index(json_response(None))
    body = read_json(request)
    if body.get("AccessorID") not in (None, "", accessor_id):
        raise InvalidInput(f"AccessorID: {body['AccessorID']!r} does not match the path's {accessor_id!r}")
    current = token_get(accessor_id)
    token = token_update(
        accessor_id, name=_str(body, "Name", current.name), type=_str(body, "Type", current.type),
        policies=_names(body, "Policies") if "Policies" in body else list(current.policies),
        global_=bool(body["Global"]) if "Global" in body else None,
    )
    return _with_index(json_response(token_json(token)))


# ---- policies ---------------------------------------------------------------------------------------


@api_view("GET")
def acl_policies(request: HttpRequest) -> HttpResponse:
    _require_enabled()
    ctx = _caller(request)
    prefix = request.GET.get("prefix", "")
    policies = [p for p in policy_list() if p.name.startswith(prefix)]
    if not ctx.is_management:  # as Nomad: a client token lists the policies it holds
        own = set(ctx.token.policies)
        policies = [p for p in policies if p.name in own]
    return _with_index(json_response([policy_json(p, rules=False) for p in policies]))


@api_view("GET", "POST", "PUT", "DELETE")
def acl_policy(request: HttpRequest, name: str) -> HttpResponse:
    _require_enabled()
    if request.method == "GET":
        ctx = _caller(request)
        if not ctx.is_management and name not in ctx.token.policies:
            raise PermissionDenied(PERMISSION_DENIED)
        return _with_index(json_response(policy_json(policy_get(name))))
    _require_management(request)
    if request.method == "DELETE":
        policy_delete(name)
        return _with_index(json_response(None))
    body = read_json(request)
    if body.get("Name") not in (None, "", name):
        raise InvalidInput(f"Name: {body['Name']!r} does not match the path's {name!r}")
    rules = body.get("Rules")
    if not isinstance(rules, str) or not rules.strip():
        raise InvalidInput("Rules: a policy needs rules (HCL or JSON text)")
    policy = policy_upsert(name=name, rules=rules, description=_str(body, "Description"))
    return _with_index(json_response(policy_json(policy)))


# ---- body fields ------------------------------------------------------------------------------------


def _str(body: dict[str, Any], key: str, default: str = "") -> str:
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise InvalidInput(f"{key}: expected a string, got {type(value).__name__}")
    return value


def _names(body: dict[str, Any], key: str) -> list[str]:
    value = body.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{key}: expected a list of strings")
    return value



def _ttl(body: dict[str, Any]) -> timedelta | None:
    """``ExpirationTTL`` as Nomad accepts it: nanoseconds, or a duration string such as "1h"."""
    value = body.get("ExpirationTTL")
    if value in (None, 0, ""):
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidInput("ExpirationTTL: expected nanoseconds or a duration such as \"1h\"")
    if isinstance(value, int):
        return timedelta(microseconds=value / 1000)
    try:
        return timedelta(microseconds=parse_duration_ns(value) / 1000)
    except KindError as e:
        raise InvalidInput(f"ExpirationTTL: {e}") from None
