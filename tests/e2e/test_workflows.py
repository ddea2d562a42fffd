"""A rolling restart started from the job page's Restart dialog: a workflow that restarts each running
allocation in place and reaches "succeeded", which the workflows page shows live."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Stack
from tests.e2e.helpers import job_allocs, raw_exec_job, screenshot, submit_job, wait_until

pytestmark = pytest.mark.slow


def _restarts(stack: Stack, job_id: str) -> dict[str, int]:
    """Restarts of task ``t`` per running allocation, as its client last reported."""
    return {a["ID"]: a["TaskStates"]["t"]["Restarts"] for a in job_allocs(stack, job_id)
            if a["ClientStatus"] == "running" and a.get("TaskStates")}


def test_rolling_restart_from_the_job_page_reaches_succeeded(signed_in: Any, stack: Stack) -> None:
    page = signed_in
    job_id = submit_job(stack, raw_exec_job("e2e-restart", "sleep 600", count=2))
    wait_until("two running allocations", lambda: len(_restarts(stack, job_id)) == 2)
    before = _restarts(stack, job_id)

    watcher = page.context.new_page()  # a second tab on the workflows list, never reloaded
    watcher.goto(stack.url + "/ui/workflows")
    watcher.evaluate("window.__noReload = true")

    page.goto(f"{stack.url}/ui/jobs/{job_id}")
    page.click("#open-restart")
    dialog = page.locator("#restart-dialog")
    assert dialog.is_visible()
    page.fill("#restart-batch-size", "1")
    page.fill("#restart-batch-wait", "1s")
    screenshot(page, "workflow_restart_dialog")
    with page.expect_navigation(timeout=30_000):
        page.click("#restart-submit")
    assert "/ui/workflows/" in page.url
    assert page.locator("#workflow-title").inner_text() == f"Restart job {job_id}"
    page.locator("#workflow-status", has_text="succeeded").wait_for(timeout=30_000)
    assert page.locator("#workflow-count").inner_text() == "2/2"
    log = page.locator("#workflow-log").inner_text()
    assert "restarting 2 running allocations" in log

    workflow_id = page.url.rsplit("/", 1)[-1].split("?")[0]
    row = watcher.locator(f"#workflows-table tr[data-workflow='{workflow_id}']")
    row.locator(".badge-succeeded").wait_for(timeout=10_000)
    assert watcher.evaluate("window.__noReload") is True  # the list updated in place
    screenshot(watcher, "workflow_list_live")
    wait_until("each allocation restarted once, in place, as its client reports",
               lambda: _restarts(stack, job_id) == {alloc: n + 1 for alloc, n in before.items()}, 10)
