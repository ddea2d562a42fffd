"""A SecretID exists only in the answer to whoever created the token: never in the database,
never in a log line, never in a SQL statement a debug log could print."""

from __future__ import annotations

import logging
import re

import pytest
from django.apps import apps
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from webui.acl import acl_bootstrap, authenticate, policy_upsert, token_create, token_revoke, token_self

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client: Client, django_user_model: type[User]) -> Client:
    client.force_login(django_user_model.objects.create_superuser("admin", password=None))
    return client


def every_stored_value() -> str:
    """All rows of every table Django knows (ours, auth, admin log, sessions) as one text."""
    rows = []
    for model in apps.get_models():
        rows.extend(repr(row) for row in model.objects.values_list())
    return "\n".join(rows)


def test_secrets_appear_in_no_row_no_query_and_no_log(caplog: pytest.LogCaptureFixture, staff_client: Client) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django.db.backends")
    secrets: list[str] = []
    with CaptureQueriesContext(connection) as queries:
        secrets.append(acl_bootstrap().secret_id)
        policy_upsert(name="readonly", rules='namespace "*" {\n  policy = "read"\n}\n')
        secrets.append(token_create(name="ci", policies=["readonly"]).secret_id)
        page = staff_client.post(
            "/admin/webui/acltoken/add/", {"name": "web", "type": "management", "region": "global", "ttl": ""}
        ).content.decode()
        match = re.search(r'<code id="secret-id">([^<]+)</code>', page)
        assert match
        secrets.append(match.group(1))
        for secret in secrets:
            authenticate(secret, cache=None)
            token_self(secret)
        revoked = token_create(name="short-lived", policies=["readonly"])
        secrets.append(revoked.secret_id)
        token_revoke(revoked.token.accessor_id)
    assert len(set(secrets)) == 4

    sql = "\n".join(q["sql"] for q in queries.captured_queries)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    stored = every_stored_value()
    assert LogEntry.objects.exists() and "ACL token" in logged  # the places looked at are not empty
    for secret in secrets:
        for form in (secret, secret.replace("-", ""), secret.upper()):
            assert form not in sql
            assert form not in logged
            assert form not in stored
