"""Keyboard shortcuts: ``g j`` jobs, ``g c`` clients, ``?`` the help dialog; none fire while typing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Stack

pytestmark = pytest.mark.slow


def test_g_j_g_c_and_question_mark(signed_in: Any, stack: Stack) -> None:
    page = signed_in
    page.goto(stack.url + "/ui/servers")
    with page.expect_navigation():
        page.keyboard.press("g")
        page.keyboard.press("c")
    assert page.url.startswith(stack.url + "/ui/clients")
    assert "active" in (page.locator("#nav-clients").get_attribute("class") or "")

    with page.expect_navigation():
        page.keyboard.press("g")
        page.keyboard.press("j")
    assert page.url.startswith(stack.url + "/ui/jobs")

    help_dialog = page.locator("#shortcuts")
    assert not help_dialog.is_visible()
    page.keyboard.press("?")
    assert help_dialog.is_visible()
    assert "Clients" in help_dialog.inner_text()
    page.keyboard.press("Escape")
    assert not help_dialog.is_visible()

    page.keyboard.press("/")  # focuses the search box; typing there is text, not shortcuts
    assert page.evaluate("document.activeElement.id") == "search"
    page.keyboard.type("g j?")
    assert page.input_value("#search") == "g j?"
    assert not help_dialog.is_visible()
    assert page.url.startswith(stack.url + "/ui/jobs")
