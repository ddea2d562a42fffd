"""Markup in what users submit (a job's name, its meta, a task's log) is shown as text, never run."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Stack
from tests.e2e.helpers import job_allocs, raw_exec_job, screenshot, submit_job, wait_until

pytestmark = pytest.mark.slow

NAME = "<img src=x onerror=window.__xss=1>"
META = "<script>window.__xss=2</script><b>bold</b>"
LOG = "<img src=x onerror=window.__xss=3>"


def _assert_inert(page: Any) -> None:
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator("img[src='x'], #content script, #content b").count() == 0


def test_job_name_meta_and_log_with_html_render_as_text(signed_in: Any, stack: Stack) -> None:
    page = signed_in
    job_id = submit_job(stack, raw_exec_job("e2e-xss", f"echo '{LOG}'; sleep 600", name=NAME, meta={"note": META}))
    wait_until("the xss job's allocation running",
               lambda: any(a["ClientStatus"] == "running" for a in job_allocs(stack, job_id)))

    page.goto(stack.url + "/ui/jobs?search=e2e-xss")
    assert page.locator("#jobs-table .job-link").inner_text() == NAME
    _assert_inert(page)

    page.click("#jobs-table .job-link")
    assert page.locator("#job-title").inner_text() == NAME
    assert page.locator("#job-meta td").inner_text() == META
    assert NAME in page.title()
    _assert_inert(page)

    page.click("#job-allocations .alloc-row a[href*='/ui/allocations/']")
    page.locator("#log-output .log-line", has_text="onerror").wait_for()
    assert page.locator("#log-output .log-line").first.inner_text() == LOG
    _assert_inert(page)
    screenshot(page, "xss_alloc_log_as_text")

    page.goto(stack.url + "/ui/jobs/run")  # the plan's diff of an edit names it too
    page.fill("#job-source", raw_exec_job("e2e-xss", f"echo '{LOG}'; sleep 600", name=NAME,
                                          meta={"note": META + " v2"}))
    page.click("#plan-button")
    assert f'"{META}" => "{META} v2"' in page.locator("#plan-diff").inner_text()
    _assert_inert(page)
