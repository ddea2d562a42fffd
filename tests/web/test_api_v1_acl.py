"""/v1/acl through Django's test client: what an operator running `nomad acl ...` notices.

Bootstrap works once and shows the secret once; management tokens create, list, update and revoke
tokens and policies; a client token sees only itself and its policies; bad bodies are 400s that
change nothing; with enforcement off every ACL endpoint says "ACL support disabled".
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from webui.acl import DEFAULT_CACHE
from webui.models import ACLPolicy, ACLToken

# Transactions commit, so the services' on-commit cache invalidation runs as in production.
pytestmark = pytest.mark.django_db(transaction=True)

READ_DEFAULT = 'namespace "default" {\n  policy = "read"\n}\n'


@pytest.fixture(autouse=True)
def acl_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CARAVAN_ACL", "1")
    DEFAULT_CACHE.clear()
    yield
    DEFAULT_CACHE.clear()


def call(client: Client, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
    headers = {"HTTP_X_NOMAD_TOKEN": token} if token else {}
    data = json.dumps(body) if body is not None else ""
    return getattr(client, method.lower())(path, data=data, content_type="application/json", **headers)


@pytest.fixture
def root(client: Client) -> str:
    response = call(client, "POST", "/v1/acl/bootstrap")
    assert response.status_code == 200, response.content
    return str(response.json()["SecretID"])


def test_bootstrap_once_then_conflict(client: Client) -> None:
    first = call(client, "POST", "/v1/acl/bootstrap")
    assert first.status_code == 200
    token = first.json()
    assert token["Type"] == "management" and token["Name"] == "Bootstrap Token" and token["Global"] is True
    assert len(token["SecretID"]) == 36 and token["AccessorID"] != token["SecretID"]
    assert int(first["X-Nomad-Index"]) >= 1
    again = call(client, "POST", "/v1/acl/bootstrap")
    assert again.status_code == 409 and "ACL bootstrap already done" in again.content.decode()
    assert ACLToken.objects.count() == 1


def test_token_lifecycle(client: Client, root: str) -> None:
    assert call(client, "POST", "/v1/acl/policy/readonly", {"Rules": READ_DEFAULT, "Description": "ro"},
                root).status_code == 200
    created = call(client, "POST", "/v1/acl/token", {"Name": "ci", "Type": "client", "Policies": ["readonly"],
                                                       "ExpirationTTL": "1h"}, root)
    assert created.status_code == 200, created.content
    token = created.json()
    assert token["Policies"] == ["readonly"] and token["ExpirationTTL"] == 3600 * 10**9
    assert token["ExpirationTime"] is not None
    secret, accessor = token["SecretID"], token["AccessorID"]

    listed = call(client, "GET", "/v1/acl/tokens", token=root).json()
    assert {t["AccessorID"] for t in listed} >= {accessor} and all("SecretID" not in t for t in listed)

    me = call(client, "GET", "/v1/acl/token/self", token=secret)
    assert me.status_code == 200 and me.json()["AccessorID"] == accessor
    assert me.json()["SecretID"] == ""  # only the creating answer shows it

    # A client token reads itself, not the list, and not other tokens.
    assert call(client, "GET", f"/v1/acl/token/{accessor}", token=secret).status_code == 200
    assert call(client, "GET", "/v1/acl/tokens", token=secret).status_code == 403
    root_accessor = listed[0]["AccessorID"]
    assert call(client, "GET", f"/v1/acl/token/{root_accessor}", token=secret).status_code == 403

    renamed = call(client, "POST", f"/v1/acl/token/{accessor}", {"Name": "ci-2"}, root)
    assert renamed.status_code == 200 and renamed.json()["Name"] == "ci-2"
    assert renamed.json()["Policies"] == ["readonly"]
    assert renamed.json()["ModifyIndex"] > token["ModifyIndex"]

    assert call(client, "DELETE", f"/v1/acl/token/{accessor}", token=root).status_code == 200
    assert call(client, "GET", "/v1/acl/token/self", token=secret).status_code == 403
    assert call(client, "GET", f"/v1/acl/token/{accessor}", token=root).status_code == 404


def test_policies(client: Client, root: str) -> None:
    written = call(client, "PUT", "/v1/acl/policy/ops", {"Name": "ops", "Rules": READ_DEFAULT}, root)
    assert written.status_code == 200 and written.json()["Rules"] == READ_DEFAULT
    stubs = call(client, "GET", "/v1/acl/policies", token=root).json()
    assert [p["Name"] for p in stubs] == ["ops"] and "Rules" not in stubs[0]
    secret = call(client, "POST", "/v1/acl/token", {"Type": "client", "Policies": ["ops"]}, root).json()["SecretID"]
    assert call(client, "GET", "/v1/acl/policy/ops", token=secret).status_code == 200
    assert [p["Name"] for p in call(client, "GET", "/v1/acl/policies", token=secret).json()] == ["ops"]
    assert call(client, "POST", "/v1/acl/policy/ops", {"Rules": READ_DEFAULT}, secret).status_code == 403
    assert call(client, "DELETE", "/v1/acl/policy/ops", token=root).status_code == 200
    assert call(client, "GET", "/v1/acl/policy/ops", token=root).status_code == 404


@pytest.mark.parametrize(("path", "body", "message"), [
    ("/v1/acl/policy/bad", {"Rules": 'namespace "default" {\n  policy = "sudo"\n}\n'}, "policy"),
    ("/v1/acl/policy/bad", {"Rules": ""}, "Rules"),
    ("/v1/acl/policy/bad", {"Name": "other", "Rules": READ_DEFAULT}, "does not match"),
    ("/v1/acl/token", {"Type": "client", "Policies": ["missing"]}, "cannot find policy 'missing'"),
    ("/v1/acl/token", {"Type": "client"}, "client token missing policies"),
    ("/v1/acl/token", {"Type": "root"}, "token type"),
    ("/v1/acl/token", {"Type": "management", "ExpirationTTL": "soon"}, "ExpirationTTL"),
    ("/v1/acl/token", {"Type": "management", "ExpirationTTL": "1s"}, "cannot be less than"),
    ("/v1/acl/token", {"Type": "management", "Policies": "ops"}, "Policies: expected a list"),
])
def test_bad_bodies_are_400_and_change_nothing(client: Client, root: str, path: str, body: Any,
                                                message: str) -> None:
    before = (ACLToken.objects.count(), ACLPolicy.objects.count())
    response = call(client, "POST", path, body, root)
    assert response.status_code == 400, response.content
    assert message in response.content.decode()
    assert (ACLToken.objects.count(), ACLPolicy.objects.count()) == before


def test_writes_need_management(client: Client, root: str) -> None:
    assert call(client, "POST", "/v1/acl/token", {"Type": "management"}).status_code == 403
    assert call(client, "POST", "/v1/acl/token", {"Type": "management"}, "not-a-secret").status_code == 403
    assert ACLToken.objects.count() == 1


def test_disabled_acl_says_so(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARAVAN_ACL", "0")
    for method, path in [("POST", "/v1/acl/bootstrap"), ("GET", "/v1/acl/tokens"), ("GET", "/v1/acl/policies")]:
        response = call(client, method, path)
        assert response.status_code == 400 and response.content.decode() == "ACL support disabled"
    assert ACLToken.objects.count() == 0
