"""Draining the dev agent's node from its client page with the drain dialog; a second tab on the same
page shows the drain and the ineligibility live, its buttons included. The file's name sorts it last:
the dev agent has one node, and draining it stops what the other tests left running there."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Stack
from tests.e2e.helpers import api, job_allocs, raw_exec_job, screenshot, submit_job, wait_until

pytestmark = pytest.mark.slow


def test_drain_a_client_with_the_dialog_and_see_it_live(signed_in: Any, stack: Stack) -> None:
    page = signed_in
    # A running batch allocation is left to finish until the deadline: the node stays draining meanwhile.
    batch = submit_job(stack, raw_exec_job("e2e-drain-batch", "sleep 600", job_type="batch"))
    wait_until("the batch allocation running",
               lambda: any(a["ClientStatus"] == "running" for a in job_allocs(stack, batch)))
    node_id = api(stack, "GET", "/v1/nodes")[0]["ID"]
    client_url = f"{stack.url}/ui/clients/{node_id}"
    watcher = page.context.new_page()  # the same client page in a second tab, never reloaded
    watcher.goto(client_url)
    watcher.evaluate("window.__noReload = true")
    assert watcher.locator("#client-facts .badge-eligible").is_visible()
    assert watcher.locator("#open-drain").is_visible()

    page.goto(f"{stack.url}/ui/clients")
    with page.expect_navigation():
        page.click(f"a[href='/ui/clients/{node_id}']")
    page.click("#open-drain")
    assert page.locator("#drain-dialog").is_visible()
    page.fill("#drain-deadline", "1h")
    page.check("#drain-ignore-system")
    screenshot(page, "drain_dialog")
    with page.expect_navigation():
        page.click("#drain-submit")
    assert page.url.startswith(client_url)
    assert page.locator("#client-facts .badge-draining").is_visible()
    assert page.locator("#drain-deadline-shown").inner_text() == "deadline 1h"
    drain = api(stack, "GET", f"/v1/node/{node_id}")["DrainStrategy"]
    assert drain["Deadline"] == 3600 * 10**9 and drain["IgnoreSystemJobs"] is True

    watcher.locator("#client-facts .badge-draining").wait_for(timeout=10_000)
    assert watcher.locator("#client-facts .badge-ineligible").is_visible()
    watcher.locator("#cancel-drain").wait_for(timeout=10_000)  # the buttons follow the node too
    assert watcher.locator("#toggle-eligibility").is_disabled()
    assert watcher.evaluate("window.__noReload") is True
    screenshot(watcher, "drain_seen_live")

    with watcher.expect_navigation():
        watcher.click("#cancel-drain")  # a button the live layer swapped in: its form and CSRF token work
    assert watcher.locator("#client-facts .badge-eligible").is_visible()
    node = api(stack, "GET", f"/v1/node/{node_id}")
    assert node["Drain"] is False and node["SchedulingEligibility"] == "eligible"
    page.locator("#client-facts .badge-eligible").wait_for(timeout=10_000)  # and the first tab, live
    assert page.locator("#open-drain").is_visible()
    api(stack, "DELETE", f"/v1/job/{batch}?purge=true")
