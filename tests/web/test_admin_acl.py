"""The ACL admin pages, driven with Django's test client as a staff user would use them."""

from __future__ import annotations

import html
import re

import pytest
from django.contrib.auth.models import User
from django.test import Client

from webui.acl import authenticate, policy_upsert, token_create
from webui.models import ACLPolicy, ACLToken

pytestmark = pytest.mark.django_db

TOKENS = "/admin/webui/acltoken/"
POLICIES = "/admin/webui/aclpolicy/"
READ_DEFAULT = 'namespace "default" {\n  policy = "read"\n}\n'


@pytest.fixture
def staff_client(client: Client, django_user_model: type[User]) -> Client:
    """A signed-in superuser. No password: hashing one costs most of a second per test."""
    client.force_login(django_user_model.objects.create_superuser("admin", password=None))
    return client


def secret_on(page: str) -> str:
    match = re.search(r'<code id="secret-id">([^<]+)</code>', page)
    assert match, "the page shows no Secret ID"
    return match.group(1)


def create_token(client: Client, **fields: object) -> tuple[int, str]:
    data = {"name": "", "type": "client", "region": "global", "ttl": "", **fields}
    response = client.post(f"{TOKENS}add/", data)
    return response.status_code, response.content.decode()


# -- access -------------------------------------------------------------------------------------------


def test_admin_pages_need_a_staff_user(client: Client, django_user_model: type[User]) -> None:
    for path in (TOKENS, f"{TOKENS}add/", POLICIES):
        response = client.get(path)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    client.force_login(django_user_model.objects.create_user("plain", password=None))
    assert client.get(TOKENS).status_code == 302


def test_staff_without_permissions_cannot_create_or_revoke(client: Client, django_user_model: type[User]) -> None:
    client.force_login(django_user_model.objects.create_user("staff", password=None, is_staff=True))
    assert client.get(f"{TOKENS}add/").status_code == 403
    assert client.post(f"{TOKENS}add/", {"type": "management", "region": "global"}).status_code == 403
    assert client.get(TOKENS).status_code == 403
    assert not ACLToken.objects.exists()


# -- creating tokens ----------------------------------------------------------------------------------


def test_create_token_shows_the_secret_once(staff_client: Client) -> None:
    policy_upsert(name="readonly", rules=READ_DEFAULT)
    form = staff_client.get(f"{TOKENS}add/").content.decode()
    assert 'value="readonly"' in form  # existing policies are offered

    status, page = create_token(staff_client, name="ci deploy", policies=["readonly"], ttl="8h")
    assert status == 200
    secret = secret_on(page)
    token = ACLToken.objects.get()
    assert str(token.accessor_id) in page
    assert "only time the Secret ID is shown" in page
    assert (token.name, token.policies, token.expiration_ttl.total_seconds()) == ("ci deploy", ["readonly"], 8 * 3600)
    assert authenticate(secret, cache=None).token.accessor_id == str(token.accessor_id)

    # Never again: not on the list, not on the token's page, not on the add form.
    for path in (TOKENS, f"{TOKENS}{token.pk}/change/", f"{TOKENS}add/", "/admin/"):
        response = staff_client.get(path)
        assert response.status_code == 200, path
        shown = response.content.decode()
        assert secret not in shown, path
        assert token.secret_hash not in shown, path


def test_the_secret_page_may_not_be_cached(staff_client: Client) -> None:
    response = staff_client.post(f"{TOKENS}add/", {"type": "management", "region": "global", "ttl": ""})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_management_token_from_the_admin(staff_client: Client) -> None:
    status, page = create_token(staff_client, name="ops", type="management", global_="on")
    assert status == 200
    assert authenticate(secret_on(page), cache=None).is_management
    assert ACLToken.objects.get().is_global


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"type": "client"}, "client token missing policies"),
        ({"type": "management", "policies": ["readonly"]}, "management token cannot be associated with policies"),
        ({"policies": ["readonly"], "ttl": "soon"}, "expected a duration"),
        ({"policies": ["readonly"], "ttl": "30s"}, "cannot be less than"),
        ({"policies": ["nonexistent"]}, "Select a valid choice"),
    ],
)
def test_bad_token_forms_show_the_error_and_create_nothing(staff_client: Client, fields: dict[str, object], error: str) -> None:
    policy_upsert(name="readonly", rules=READ_DEFAULT)
    status, page = create_token(staff_client, **fields)
    assert status == 200
    assert error in html.unescape(page)
    assert 'id="secret-id"' not in page
    assert not ACLToken.objects.exists()


# -- listing and revoking -----------------------------------------------------------------------------


def test_token_list_shows_public_fields_only(staff_client: Client) -> None:
    policy_upsert(name="readonly", rules=READ_DEFAULT)
    created = token_create(name="reporting", policies=["readonly"])
    page = staff_client.get(TOKENS).content.decode()
    assert "reporting" in page and str(created.token.accessor_id) in page and "readonly" in page
    assert created.secret_id not in page
    assert created.token.secret_hash not in page


def test_revoke_action(staff_client: Client) -> None:
    policy_upsert(name="readonly", rules=READ_DEFAULT)
    keep, drop_a, drop_b = (token_create(name=n, policies=["readonly"]) for n in ("keep", "a", "b"))
    response = staff_client.post(
        TOKENS, {"action": "revoke_tokens", "_selected_action": [drop_a.token.pk, drop_b.token.pk]}, follow=True
    )
    assert response.status_code == 200
    assert "Revoked 2 ACL tokens." in response.content.decode()
    assert list(ACLToken.objects.values_list("name", flat=True)) == ["keep"]
    with pytest.raises(Exception, match="not found"):
        authenticate(drop_a.secret_id, cache=None)
    assert authenticate(keep.secret_id, cache=None).token.name == "keep"


def test_tokens_cannot_be_edited_or_deleted_behind_the_services(staff_client: Client) -> None:
    policy_upsert(name="readonly", rules=READ_DEFAULT)
    token = token_create(name="t", policies=["readonly"]).token
    assert staff_client.get(f"{TOKENS}{token.pk}/delete/").status_code == 403
    response = staff_client.post(f"{TOKENS}{token.pk}/change/", {"name": "renamed", "type": "management"})
    assert response.status_code == 403
    assert ACLToken.objects.get().name == "t"
    assert "delete_selected" not in staff_client.get(TOKENS).content.decode()


# -- policies ------------------------------------------------------------------------------------------


def test_policy_with_bad_rules_shows_the_line_on_the_rules_field(staff_client: Client) -> None:
    rules = 'namespace "default" {\n  policy = "reed"\n}\nnode {\n  policy = "write"\n  color = "red"\n}\n'
    response = staff_client.post(f"{POLICIES}add/", {"name": "ops", "description": "", "rules": rules})
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    field = re.search(r'<div class="form-row errors field-rules">(.*?)</div>', page, re.S)
    assert field, "no error on the rules field"
    assert 'line 2, column 12: namespace[default].policy: invalid policy "reed"' in field.group(1)
    assert 'line 6, column 3: node.color: unknown field "color"' in field.group(1)
    assert not ACLPolicy.objects.exists()


def test_policy_add_and_edit_go_through_the_service(staff_client: Client) -> None:
    response = staff_client.post(f"{POLICIES}add/", {"name": "readonly", "description": "reads", "rules": READ_DEFAULT})
    assert response.status_code == 302
    policy = ACLPolicy.objects.get()
    assert policy.create_index > 0 and policy.created is not None

    change = f"{POLICIES}{policy.pk}/change/"
    page = staff_client.get(change).content.decode()
    assert 'name="name"' not in page  # a policy's name is fixed once tokens may refer to it
    response = staff_client.post(change, {"description": "reads more", "rules": 'node {\n  policy = "read"\n}\n'})
    assert response.status_code == 302
    edited = ACLPolicy.objects.get()
    assert (edited.name, edited.description) == ("readonly", "reads more")
    assert edited.modify_index > policy.modify_index
    assert edited.create_index == policy.create_index


def test_policy_name_is_checked(staff_client: Client) -> None:
    response = staff_client.post(f"{POLICIES}add/", {"name": "bad name", "description": "", "rules": READ_DEFAULT})
    assert response.status_code == 200
    assert "letters, digits and -" in html.unescape(response.content.decode())
    assert not ACLPolicy.objects.exists()


def test_policy_delete_from_the_admin(staff_client: Client) -> None:
    policy = policy_upsert(name="gone", rules=READ_DEFAULT)
    response = staff_client.post(f"{POLICIES}{policy.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not ACLPolicy.objects.exists()
