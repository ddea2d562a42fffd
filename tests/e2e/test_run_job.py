"""The Run page: an operator types a job file, plans it (diff and placements), runs it, and watches its
allocation turn running on the job page without reloading; a broken job file names the bad line."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Stack
from tests.e2e.helpers import api, raw_exec_job, screenshot, submit_job

pytestmark = pytest.mark.slow


def test_plan_then_run_then_watch_the_allocation_turn_running_live(signed_in: Any, stack: Stack) -> None:
    page = signed_in
    page.goto(stack.url + "/ui/jobs")
    page.click("#run-job")
    source = raw_exec_job("e2e-run", "echo hi; sleep 600")
    page.locator("#job-source").press_sequentially(source)  # typed, key by key
    assert page.input_value("#job-source") == source
    assert page.locator("#editor-gutter span").count() == source.count("\n") + 1  # numbered as typed
    page.click("#plan-button")
    updates = page.locator("#plan-updates tr[data-group='g'] td")
    assert updates.nth(1).inner_text() == "1"  # one placement
    diff = page.locator("#plan-diff").inner_text()
    assert diff.startswith('+ Job: "e2e-run"')  # a new job: everything is added
    assert '+ Task Group: "g"' in diff and '+ Task: "t"' in diff
    screenshot(page, "run_job_planned")
    with page.expect_navigation():
        page.click("#run-button")
    assert "/ui/jobs/e2e-run" in page.url
    page.evaluate("window.__noReload = 'still here'")
    fragments: list[str] = []
    page.on("request", lambda r: fragments.append(r.url) if "fragment=live" in r.url else None)
    running = page.locator("#job-allocations .alloc-row .badge-running")
    running.wait_for(timeout=30_000)
    assert page.evaluate("window.__noReload") == "still here"  # no navigation: updated in place
    assert fragments, "the allocation turned running without the live layer fetching the fragment"
    assert page.locator("#job-summary tr[data-group='g'] td").nth(3).inner_text() == "1"


def test_a_job_file_error_shows_its_line_and_marks_the_gutter(signed_in: Any, stack: Stack) -> None:
    page = signed_in
    page.goto(stack.url + "/ui/jobs/run")
    source = raw_exec_job("e2e-broken", "true").replace("count = 1", 'count = "many"')
    bad_line = source.splitlines().index('    count = "many"') + 1
    page.fill("#job-source", source)
    page.click("#plan-button")
    error = page.locator("#plan-errors .diagnostic").first
    assert error.get_attribute("data-line") == str(bad_line)
    assert f"line {bad_line}" in error.inner_text()
    assert "count" in error.inner_text()
    marked = page.locator("#editor-gutter span.bad")
    assert marked.count() == 1
    assert marked.first.inner_text().strip() == str(bad_line)
    assert page.input_value("#job-source") == source  # what was typed is kept for fixing
    page.click(f"#plan-errors .goto-line[data-line='{bad_line}']")
    caret = page.evaluate("document.getElementById('job-source').selectionStart")
    assert source[:caret].count("\n") + 1 == bad_line


def test_a_new_version_shows_live_and_opened_diffs_stay_open(signed_in: Any, stack: Stack) -> None:
    page = signed_in
    job_id = submit_job(stack, raw_exec_job("e2e-versions", "sleep 600"))
    page.goto(f"{stack.url}/ui/jobs/{job_id}")
    page.evaluate("window.__noReload = true")
    submit_job(stack, raw_exec_job("e2e-versions", "sleep 601"))
    newest = page.locator("#job-versions details[data-version='1']")
    newest.wait_for(timeout=10_000)  # version 1 arrived without a reload, its diff open
    assert "sleep 601" in newest.locator(".version-diff").inner_text()
    oldest = page.locator("#job-versions details[data-version='0']")
    assert oldest.get_attribute("open") is None
    oldest.locator("summary strong").click()  # the operator opens version 0 and closes version 1
    newest.locator("summary strong").click()
    assert oldest.get_attribute("open") is not None and newest.get_attribute("open") is None

    api(stack, "POST", f"/v1/job/{job_id}/stable", {"JobID": job_id, "JobVersion": 0, "Stable": True})
    oldest.locator(".badge-healthy", has_text="stable").wait_for(timeout=10_000)  # a refresh since
    assert oldest.get_attribute("open") is not None
    assert newest.get_attribute("open") is None
    assert page.evaluate("window.__noReload") is True


def test_run_waits_for_a_new_plan_once_the_file_is_edited(signed_in: Any, stack: Stack) -> None:
    page = signed_in
    page.goto(stack.url + "/ui/jobs/run")
    page.fill("#job-source", raw_exec_job("e2e-replan", "sleep 600"))
    page.click("#plan-button")
    assert page.is_enabled("#run-button")
    page.locator("#job-source").press("End")
    page.keyboard.type("\n# an edit nobody reviewed")
    assert page.is_disabled("#run-button")
    assert page.locator("#replan-hint").is_visible()

    page.evaluate("document.getElementById('run-button').disabled = false")  # the server checks too
    page.click("#run-button")
    assert "edited after its plan" in page.locator("#plan-errors").inner_text()
    assert api(stack, "GET", "/v1/jobs?prefix=e2e-replan") == []

    page.click("#plan-button")  # planned again: this version may run
    with page.expect_navigation():
        page.click("#run-button")
    assert "/ui/jobs/e2e-replan" in page.url
