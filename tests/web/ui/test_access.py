"""Signing in to the dashboard and what a token may see and do, with ACL enforcement on.

What a user notices: without a token every page is a clear 403 page; signing in with a read token
shows jobs but refuses actions and node pages; a wrong secret is refused and kept nowhere; the secret
is never in a cookie; signing out (or revoking the token) ends it. With ACL off, pages need no token.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from tests.web.test_api_v1 import acl_off, acl_on, register, secret, server
from webui.acl import DEFAULT_CACHE, policy_upsert, token_create, token_revoke

pytestmark = [pytest.mark.slow, pytest.mark.django_db]
__all__ = ["acl_off", "acl_on", "server"]


def signed_in(secret_id: str) -> tuple[Client, str]:
    client = Client(enforce_csrf_checks=True)
    page = client.get("/ui/settings/tokens").content.decode()
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert match is not None
    token = match.group(1)
    response = client.post("/ui/settings/tokens", {"csrfmiddlewaretoken": token, "secret": secret_id})
    assert response.status_code == 302, response.content
    return client, token


def text(response: Any) -> str:
    body: str = response.content.decode()
    return body


def test_without_a_token_pages_are_a_clear_403(server: str, acl_on: None) -> None:
    for path in ("/ui/jobs", "/ui/clients", "/ui/topology", "/ui/evaluations", "/ui/servers", "/ui/jobs/x"):
        response = Client().get(path)
        assert response.status_code == 403, path
        assert "Not authorized" in text(response) and 'href="/ui/settings/tokens"' in text(response)


def test_read_token_sees_jobs_but_may_not_act(server: str, acl_on: None) -> None:
    register("ui-acl-job", **{"X-Nomad-Token": secret("write-default")})
    reader = token_create(name="reader-of-default", policies=["read-default"]).secret_id
    client, csrf = signed_in(reader)
    jobs = client.get("/ui/jobs?search=ui-acl")
    assert jobs.status_code == 200 and "ui-acl-job" in text(jobs)
    assert "reader-of-default" in text(jobs)  # the header names the signed-in token
    assert 'id="job-stop"' not in text(client.get("/ui/jobs/ui-acl-job"))
    stop = client.post("/ui/jobs/ui-acl-job/stop", {"csrfmiddlewaretoken": csrf})
    assert stop.status_code == 403
    assert client.get("/ui/clients").status_code == 403  # no node:read
    assert client.get("/ui/jobs?namespace=team-b").status_code == 403
    ran = client.post(
        "/ui/jobs/run",
        {
            "csrfmiddlewaretoken": csrf,
            "action": "plan",
            "source": '{"Job": {"ID": "x", "Datacenters": ["dc1"], "TaskGroups": '
            '[{"Name": "g", "Tasks": [{"Name": "t", "Driver": "raw_exec", '
            '"Config": {"command": "/bin/true"}}]}]}}',
        },
    )
    assert ran.status_code == 403


def test_writer_stops_a_job(server: str, acl_on: None) -> None:
    writer = secret("write-default")
    register("ui-acl-stop", **{"X-Nomad-Token": writer})
    client, csrf = signed_in(writer)
    assert 'id="job-stop"' in text(client.get("/ui/jobs/ui-acl-stop"))
    assert client.post("/ui/jobs/ui-acl-stop/stop", {"csrfmiddlewaretoken": csrf}).status_code == 302


def test_node_reader_sees_clients_but_may_not_drain(server: str, acl_on: None) -> None:
    policy_upsert(name="node-read", rules='node { policy = "read" }')
    client, csrf = signed_in(secret("node-read"))
    drain = client.post("/ui/clients/some-node/drain", {"csrfmiddlewaretoken": csrf, "enable": "1"})
    assert drain.status_code == 403 and "Not authorized" in text(drain)
    assert client.post("/ui/clients/some-node/eligibility", {"csrfmiddlewaretoken": csrf}).status_code == 403
    assert client.get("/ui/clients").status_code == 200
    assert client.get("/ui/topology").status_code == 200
    assert client.get("/ui/jobs").status_code == 403


def test_wrong_secret_is_refused_and_the_secret_is_never_in_a_cookie(server: str, acl_on: None) -> None:
    client = Client()
    refused = client.post("/ui/settings/tokens", {"secret": "00000000-0000-0000-0000-000000000000"})
    assert refused.status_code == 403 and "ACL token not found" in text(refused)
    good = secret("read-default")
    response = client.post("/ui/settings/tokens", {"secret": good})
    assert response.status_code == 302
    assert all(good not in morsel.value for morsel in client.cookies.values())
    assert "Signed in as" in text(client.get("/ui/settings/tokens"))
    # Nor at rest: the session table keeps the token's accessor, never its secret.
    from django.contrib.sessions.models import Session

    stored = [s.get_decoded() for s in Session.objects.all()]
    assert stored and all(good not in repr(data) for data in stored)


def test_sign_out_and_revocation_end_the_session(server: str, acl_on: None) -> None:
    created = token_create(name="short-lived", policies=["read-default"])
    client, csrf = signed_in(created.secret_id)
    assert client.get("/ui/jobs").status_code == 200
    client.post("/ui/settings/tokens", {"csrfmiddlewaretoken": csrf, "action": "sign-out"})
    assert client.get("/ui/jobs").status_code == 403

    client, _ = signed_in(created.secret_id)
    token_revoke(created.token.accessor_id)
    DEFAULT_CACHE.clear()
    assert client.get("/ui/jobs").status_code == 403
    page = client.get("/ui/settings/tokens")
    assert "signed out" in text(page)
    assert client.get("/ui/jobs").status_code == 403


def test_with_acl_off_pages_need_no_token(server: str, acl_off: None) -> None:
    response = Client().get("/ui/jobs")
    assert response.status_code == 200 and "ACL disabled" in text(response)
