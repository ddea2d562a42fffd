"""Signing in at /ui/settings/tokens with a token's secret; a wrong secret is refused and says so."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Stack
from tests.e2e.helpers import screenshot, sign_in

pytestmark = pytest.mark.slow


def test_wrong_token_shows_the_error_and_stays_signed_out(page: Any, stack: Stack) -> None:
    sign_in(page, stack, "00000000-0000-0000-0000-000000000000")
    assert page.locator("#token-error").is_visible()
    assert "token not found" in page.locator("#token-error").inner_text().lower()
    assert page.locator("#signed-in").count() == 0
    page.goto(stack.url + "/ui/jobs")
    assert page.locator("#whoami a", has_text="Sign in").is_visible()


def test_management_token_signs_in_and_shows_who(page: Any, stack: Stack) -> None:
    page.goto(stack.url + "/ui/jobs")
    screenshot(page, "sign_in_before")
    sign_in(page, stack, stack.token)
    assert page.url.startswith(stack.url + "/ui/jobs")
    assert page.locator("#jobs-table").is_visible()
    assert page.locator("#whoami .token-name").is_visible()
    page.goto(stack.url + "/ui/settings/tokens")
    assert "management" in page.locator("#signed-in").inner_text()
    page.click("#sign-out")
    assert page.locator("#sign-in-form").is_visible()


def test_signing_in_from_a_refused_page_leads_back_to_it(page: Any, stack: Stack) -> None:
    response = page.goto(stack.url + "/ui/clients")
    assert response is not None and response.status == 403  # anonymous: no node:read
    assert page.locator("#error-page").is_visible()
    with page.expect_navigation():
        page.click("#sign-in-again")
    page.fill("#secret", stack.token)
    with page.expect_navigation():
        page.click("#sign-in")
    assert page.url == stack.url + "/ui/clients"
    assert page.locator("#clients-table").is_visible()


def test_sign_in_never_leads_to_another_site(page: Any, stack: Stack) -> None:
    page.goto(stack.url + "/ui/settings/tokens?next=//evil.example/ui/jobs")
    page.fill("#secret", stack.token)
    with page.expect_navigation():
        page.click("#sign-in")
    assert page.url.startswith(stack.url + "/ui/jobs")
