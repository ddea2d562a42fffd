"""ACL services and selectors: bootstrap exactly once, tokens, policies, indexes, Nomad's errors."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest

from cluster.acl import PolicyError
from cluster.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tests.web.test_acl_auth import FakeClock
from webui.acl import (
    MAX_TOKEN_TTL,
    MIN_TOKEN_TTL,
    acl_bootstrap,
    acl_index,
    authenticate,
    is_bootstrapped,
    policy_delete,
    policy_get,
    policy_list,
    policy_upsert,
    token_create,
    token_get,
    token_list,
    token_revoke,
    token_self,
    tokens_expired_delete,
)
from webui.models import ACLPolicy, ACLToken

pytestmark = pytest.mark.django_db

READ_DEFAULT = 'namespace "default" {\n  policy = "read"\n}\n'
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# -- bootstrap ---------------------------------------------------------------------------------------


def test_bootstrap_creates_one_global_management_token() -> None:
    assert not is_bootstrapped()
    created = acl_bootstrap()
    token = created.token
    assert (token.name, token.type, token.policies, token.is_global) == ("Bootstrap Token", "management", [], True)
    assert token.expiration_time is None
    assert UUID_RE.fullmatch(created.secret_id)
    assert is_bootstrapped()
    assert list(token_list()) == [token]


def test_bootstrap_works_exactly_once() -> None:
    first = acl_bootstrap()
    index = acl_index()
    with pytest.raises(Conflict, match=r"^ACL bootstrap already done \(reset index: \d+\)$"):
        acl_bootstrap()
    assert ACLToken.objects.count() == 1
    assert acl_index() == index  # the failed attempt changed nothing
    assert authenticate(first.secret_id, cache=None).is_management


def test_bootstrap_stays_done_after_its_token_is_revoked() -> None:
    token_revoke(acl_bootstrap().token.accessor_id)
    with pytest.raises(Conflict):
        acl_bootstrap()


# -- tokens ------------------------------------------------------------------------------------------


def test_the_stored_hash_is_not_the_secret() -> None:
    policy_upsert(name="read", rules=READ_DEFAULT)
    created = token_create(name="ci", policies=["read"])
    row = ACLToken.objects.get(pk=created.token.pk)
    assert re.fullmatch(r"[0-9a-f]{64}", row.secret_hash)
    assert created.secret_id not in row.secret_hash
    assert created.secret_id.replace("-", "") not in row.secret_hash
    assert created.secret_id not in repr(created)
    assert str(row.accessor_id) != created.secret_id


def test_every_token_has_its_own_accessor_and_secret() -> None:
    policy_upsert(name="read", rules=READ_DEFAULT)
    made = [token_create(policies=["read"]) for _ in range(20)]
    assert len({m.secret_id for m in made}) == 20
    assert len({m.token.accessor_id for m in made}) == 20


def test_token_fields_and_selectors(clock: FakeClock) -> None:
    policy_upsert(name="read", rules=READ_DEFAULT)
    created = token_create(name="deploy", policies=["read", "read"], global_=True, region="eu", ttl=timedelta(hours=2), clock=clock)
    token = token_get(str(created.token.accessor_id))
    assert (token.name, token.type, token.policies, token.is_global, token.region) == ("deploy", "client", ["read"], True, "eu")
    assert token.create_time == clock.now
    assert token.expiration_time == clock.now + timedelta(hours=2)
    assert token.expiration_ttl == timedelta(hours=2)
    assert token.create_index == token.modify_index == acl_index()
    assert token_self(created.secret_id, clock=clock) == token


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"type": "client", "policies": []}, "client token missing policies"),
        ({"type": "management", "policies": ["read"]}, "management token cannot be associated with policies"),
        ({"type": "root", "policies": ["read"]}, 'token type must be "client" or "management"'),
        ({"policies": ["read", "missing", "gone"]}, "cannot find policy 'gone', 'missing'"),
        ({"policies": ["read"], "ttl": MIN_TOKEN_TTL - timedelta(seconds=1)}, "cannot be less than 0h1m0s"),
        ({"policies": ["read"], "ttl": MAX_TOKEN_TTL + timedelta(seconds=1)}, "cannot be more than 24h0m0s"),
        ({"policies": ["read"], "name": "n" * 257}, "longer than 256"),
    ],
)
def test_bad_token_requests_change_nothing(kwargs: dict[str, object], message: str) -> None:
    policy_upsert(name="read", rules=READ_DEFAULT)
    index = acl_index()
    with pytest.raises(InvalidInput, match=re.escape(message)):
        token_create(**kwargs)
    assert ACLToken.objects.count() == 0
    assert acl_index() == index


def test_management_token_without_policies() -> None:
    created = token_create(name="ops", type="management")
    assert authenticate(created.secret_id, cache=None).is_management


def test_revoke_deletes_the_token() -> None:
    policy_upsert(name="read", rules=READ_DEFAULT)
    created = token_create(policies=["read"])
    token_revoke(str(created.token.accessor_id))
    assert not ACLToken.objects.exists()
    with pytest.raises(PermissionDenied, match="ACL token not found"):
        authenticate(created.secret_id, cache=None)
    with pytest.raises(PermissionDenied, match="ACL token not found"):
        token_self(created.secret_id)


def test_revoke_unknown_or_malformed_accessor() -> None:
    with pytest.raises(NotFound):
        token_revoke(uuid.uuid4())
    with pytest.raises(InvalidInput, match="expected a UUID"):
        token_revoke("not-a-uuid")
    with pytest.raises(NotFound):
        token_get(str(uuid.uuid4()))


def test_token_self_refuses_expired_tokens(clock: FakeClock) -> None:
    policy_upsert(name="read", rules=READ_DEFAULT)
    created = token_create(policies=["read"], ttl=timedelta(minutes=5), clock=clock)
    clock.advance(minutes=5)
    with pytest.raises(PermissionDenied, match="ACL token expired"):
        token_self(created.secret_id, clock=clock)


def test_expired_tokens_are_garbage_collected(clock: FakeClock) -> None:
    policy_upsert(name="read", rules=READ_DEFAULT)
    short = token_create(policies=["read"], ttl=timedelta(minutes=1), clock=clock)
    lasting = token_create(policies=["read"], clock=clock)
    assert tokens_expired_delete(clock=clock) == 0
    clock.advance(minutes=1)
    assert tokens_expired_delete(clock=clock) == 1
    assert list(token_list()) == [lasting.token]
    assert not ACLToken.objects.filter(pk=short.token.pk).exists()


# -- policies ----------------------------------------------------------------------------------------


def test_policy_upsert_creates_then_replaces(clock: FakeClock) -> None:
    first = policy_upsert(name="readonly", rules=READ_DEFAULT, description="read", clock=clock)
    assert first.create_index == first.modify_index == acl_index()
    clock.advance(minutes=1)
    second = policy_upsert(name="readonly", rules='node {\n  policy = "read"\n}\n', clock=clock)
    assert second.pk == first.pk
    assert second.create_index == first.create_index
    assert second.modify_index > first.modify_index
    assert (second.created, second.modified) == (first.created, clock.now)
    stored = policy_get("readonly")
    assert stored.rules.startswith("node") and stored.description == ""
    assert [p.name for p in policy_list()] == ["readonly"]


def test_every_acl_write_takes_the_next_index() -> None:
    indexes = [acl_index()]
    policy_upsert(name="a", rules=READ_DEFAULT)
    indexes.append(acl_index())
    created = token_create(policies=["a"])
    indexes.append(acl_index())
    token_revoke(created.token.accessor_id)
    indexes.append(acl_index())
    policy_delete("a")
    indexes.append(acl_index())
    assert indexes == sorted(set(indexes)) and indexes[0] == 0


def test_invalid_rules_are_refused_with_their_line() -> None:
    rules = 'namespace "default" {\n  policy = "read"\n  capabilities = ["submit-jobs"]\n}\n'
    with pytest.raises(PolicyError) as info:
        policy_upsert(name="bad", rules=rules)
    assert "line 3" in str(info.value)
    assert "namespace[default].capabilities[0]" in str(info.value)
    assert not ACLPolicy.objects.exists()


@pytest.mark.parametrize("name", ["", "has space", "under_score", "x" * 129, "dots.not.allowed"])
def test_invalid_policy_names(name: str) -> None:
    with pytest.raises(InvalidInput, match="invalid policy name"):
        policy_upsert(name=name, rules=READ_DEFAULT)


def test_policy_delete() -> None:
    policy_upsert(name="p", rules=READ_DEFAULT)
    policy_delete("p")
    with pytest.raises(NotFound):
        policy_get("p")
    with pytest.raises(NotFound):
        policy_delete("p")
