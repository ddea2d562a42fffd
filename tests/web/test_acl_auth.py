"""authenticate(): a SecretID (or none) to what it may do, with a small cache on a fake clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings
from pytest_django import DjangoAssertNumQueries, DjangoCaptureOnCommitCallbacks

from cluster.acl import NamespaceCapability
from cluster.errors import PermissionDenied
from webui.acl import (
    ANONYMOUS_TOKEN,
    DEFAULT_CACHE,
    AuthCache,
    acl_bootstrap,
    authenticate,
    policy_delete,
    policy_upsert,
    token_create,
    token_revoke,
)
from webui.models import ACLPolicy, ACLToken

pytestmark = pytest.mark.django_db

READ_DEFAULT = 'namespace "default" {\n  policy = "read"\n}\n'


class FakeClock:
    """A clock that moves only when a test moves it."""

    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(autouse=True)
def empty_default_cache() -> Iterator[None]:
    DEFAULT_CACHE.clear()
    yield
    DEFAULT_CACHE.clear()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_no_token_without_anonymous_policy_may_do_nothing() -> None:
    ctx = authenticate(None, cache=None)
    assert ctx.is_anonymous and ctx.token is ANONYMOUS_TOKEN
    assert not ctx.acl.allow_namespace_op("default", NamespaceCapability.LIST_JOBS)
    assert authenticate("", cache=None).is_anonymous


def test_no_token_gets_the_anonymous_policy() -> None:
    policy_upsert(name="anonymous", rules=READ_DEFAULT)
    ctx = authenticate(None, cache=None)
    assert ctx.acl.allow_namespace_op("default", NamespaceCapability.READ_JOB)
    assert not ctx.acl.allow_namespace_op("default", NamespaceCapability.SUBMIT_JOB)


def test_client_token_gets_its_policies_merged() -> None:
    policy_upsert(name="read", rules=READ_DEFAULT)
    policy_upsert(name="nodes", rules='node {\n  policy = "write"\n}\n')
    created = token_create(name="ci", policies=["read", "nodes"])
    ctx = authenticate(created.secret_id, cache=None)
    assert not ctx.is_anonymous and not ctx.is_management
    assert ctx.token.accessor_id == str(created.token.accessor_id)
    assert ctx.token.policies == ("read", "nodes")
    assert ctx.acl.allow_namespace_op("default", NamespaceCapability.READ_JOB)
    assert ctx.acl.allow_node_write()
    assert not ctx.acl.allow_agent_read()


def test_management_token_may_do_everything() -> None:
    ctx = authenticate(acl_bootstrap().secret_id, cache=None)
    assert ctx.is_management
    assert ctx.acl.allow_operator_write()


@pytest.mark.parametrize("secret", ["not-a-token", "00000000-0000-4000-8000-000000000000", "x" * 10_000])
def test_unknown_secret_is_refused(secret: str) -> None:
    with pytest.raises(PermissionDenied, match="ACL token not found"):
        authenticate(secret, cache=None)


def test_expired_token_is_refused(clock: FakeClock) -> None:
    policy_upsert(name="read", rules=READ_DEFAULT)
    created = token_create(policies=["read"], ttl=timedelta(minutes=10), clock=clock)
    clock.advance(minutes=9, seconds=59)
    authenticate(created.secret_id, clock=clock, cache=None)
    clock.advance(seconds=1)
    with pytest.raises(PermissionDenied, match="ACL token expired"):
        authenticate(created.secret_id, clock=clock, cache=None)


def test_cached_authentication_needs_no_query(clock: FakeClock, django_assert_num_queries: DjangoAssertNumQueries) -> None:
    policy_upsert(name="read", rules=READ_DEFAULT)
    secret = token_create(policies=["read"]).secret_id
    cache = AuthCache(ttl_s=10)
    first = authenticate(secret, clock=clock, cache=cache)
    with django_assert_num_queries(0):
        assert authenticate(secret, clock=clock, cache=cache) is first
        assert authenticate(f"  {secret}\n", clock=clock, cache=cache) is first


def test_cache_entries_live_at_most_the_ttl(clock: FakeClock) -> None:
    policy_upsert(name="read", rules=READ_DEFAULT)
    created = token_create(policies=["read"])
    cache = AuthCache(ttl_s=10)
    authenticate(created.secret_id, clock=clock, cache=cache)
    ACLToken.objects.filter(pk=created.token.pk).delete()  # as another process would revoke it
    clock.advance(seconds=9)
    authenticate(created.secret_id, clock=clock, cache=cache)  # still cached
    clock.advance(seconds=1)
    with pytest.raises(PermissionDenied, match="not found"):
        authenticate(created.secret_id, clock=clock, cache=cache)


def test_a_cached_token_is_refused_the_moment_it_expires(clock: FakeClock) -> None:
    policy_upsert(name="read", rules=READ_DEFAULT)
    created = token_create(policies=["read"], ttl=timedelta(minutes=1), clock=clock)
    cache = AuthCache(ttl_s=600)
    authenticate(created.secret_id, clock=clock, cache=cache)
    clock.advance(minutes=1)
    with pytest.raises(PermissionDenied, match="expired"):
        authenticate(created.secret_id, clock=clock, cache=cache)


def test_cache_is_bounded() -> None:
    policy_upsert(name="read", rules=READ_DEFAULT)
    cache = AuthCache(ttl_s=60, max_entries=3)
    for _ in range(5):
        authenticate(token_create(policies=["read"]).secret_id, cache=cache)
    assert len(cache) == 3


def test_revoking_empties_this_processes_cache(django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks) -> None:
    policy_upsert(name="read", rules=READ_DEFAULT)
    created = token_create(policies=["read"])
    authenticate(created.secret_id)  # now cached in DEFAULT_CACHE
    with django_capture_on_commit_callbacks(execute=True):
        token_revoke(created.token.accessor_id)
    with pytest.raises(PermissionDenied, match="not found"):
        authenticate(created.secret_id)


def test_policy_changes_reach_cached_tokens_in_this_process(django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks) -> None:
    policy_upsert(name="p", rules=READ_DEFAULT)
    secret = token_create(policies=["p"]).secret_id
    assert not authenticate(secret).acl.allow_namespace_op("default", NamespaceCapability.SUBMIT_JOB)
    with django_capture_on_commit_callbacks(execute=True):
        policy_upsert(name="p", rules='namespace "default" {\n  policy = "write"\n}\n')
    assert authenticate(secret).acl.allow_namespace_op("default", NamespaceCapability.SUBMIT_JOB)


def test_deleted_policy_grants_nothing_but_the_token_still_works(
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    policy_upsert(name="p", rules=READ_DEFAULT)
    secret = token_create(policies=["p"]).secret_id
    with django_capture_on_commit_callbacks(execute=True):
        policy_delete("p")
    ctx = authenticate(secret)
    assert not ctx.acl.allow_namespace_op("default", NamespaceCapability.READ_JOB)
    policy_upsert(name="p", rules=READ_DEFAULT)  # the same name again applies again
    assert authenticate(secret, cache=None).acl.allow_namespace_op("default", NamespaceCapability.READ_JOB)


def test_a_stored_policy_that_no_longer_parses_fails_closed() -> None:
    policy_upsert(name="p", rules=READ_DEFAULT)
    secret = token_create(policies=["p"]).secret_id
    ACLPolicy.objects.filter(name="p").update(rules='namespace "default" {\n  policy = "sideways"\n}\n')
    with pytest.raises(PermissionDenied, match="cannot be evaluated"):
        authenticate(secret, cache=None)


def test_rotating_secret_key_keeps_tokens_while_the_old_key_is_a_fallback() -> None:
    with override_settings(SECRET_KEY="old-key-" + "o" * 50):
        created = acl_bootstrap()
    old_hash = created.token.secret_hash
    with override_settings(SECRET_KEY="new-key-" + "n" * 50, SECRET_KEY_FALLBACKS=["old-key-" + "o" * 50]):
        assert authenticate(created.secret_id, cache=None).is_management
        new_hash = ACLToken.objects.get(pk=created.token.pk).secret_hash
        assert new_hash != old_hash  # re-hashed under the new key
    with override_settings(SECRET_KEY="new-key-" + "n" * 50, SECRET_KEY_FALLBACKS=[]):
        assert authenticate(created.secret_id, cache=None).is_management
    with override_settings(SECRET_KEY="other-key-" + "x" * 50, SECRET_KEY_FALLBACKS=[]), pytest.raises(PermissionDenied):
        authenticate(created.secret_id, cache=None)
