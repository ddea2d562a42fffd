"""Every page of the dashboard opens for a signed-in operator without a script error or a failed request,
and the live socket connects on the pages that have live regions."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Stack
from tests.e2e.helpers import api, job_allocs, raw_exec_job, screenshot, submit_job, wait_until

pytestmark = pytest.mark.slow


def test_every_page_opens_without_script_errors(signed_in: Any, stack: Stack) -> None:
    page = signed_in
    job_id = submit_job(stack, raw_exec_job("e2e-pages", "sleep 600"))
    alloc_id = wait_until("an allocation", lambda: next(iter(a["ID"] for a in job_allocs(stack, job_id)), None))
    node_id = api(stack, "GET", "/v1/nodes")[0]["ID"]
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"script error: {e}"))
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} {r.failure}")
            if r.failure != "net::ERR_ABORTED" else None)  # aborted: cut short by leaving the page
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    paths = ["/ui/jobs", f"/ui/jobs/{job_id}", f"/ui/allocations/{alloc_id}", "/ui/clients",
             f"/ui/clients/{node_id}", "/ui/servers", "/ui/topology", "/ui/evaluations", "/ui/workflows",
             "/ui/settings/tokens", "/ui/jobs/run"]
    for path in paths:
        response = page.goto(stack.url + path, wait_until="networkidle")  # its scripts and vendor files too
        assert response is not None and response.status == 200, path
        screenshot(page, "page_" + path.strip("/").replace("/", "_").replace(job_id, "job")
                   .replace(alloc_id, "alloc").replace(node_id, "client"))
    assert problems == []
    assert any(url.endswith("/ws/events") for url in sockets)


def test_topology_shows_even_a_small_allocation(signed_in: Any, stack: Stack) -> None:
    page = signed_in
    job_id = submit_job(stack, raw_exec_job("e2e-topology", "sleep 600"))  # 32 MiB of the machine's memory
    alloc_id = wait_until("an allocation", lambda: next(iter(a["ID"] for a in job_allocs(stack, job_id)), None))
    page.goto(stack.url + "/ui/topology")
    for kind in ("cpu", "mem"):
        block = page.locator(f".block-{kind}[href='/ui/allocations/{alloc_id}']")
        box = block.bounding_box()
        assert box is not None and box["width"] >= 2, kind  # visible and clickable
    with page.expect_navigation():
        page.click(f".block-mem[href='/ui/allocations/{alloc_id}']")
    assert page.url.endswith(f"/ui/allocations/{alloc_id}")


def test_the_jobs_list_shows_a_new_job_live(signed_in: Any, stack: Stack) -> None:
    page = signed_in
    page.goto(stack.url + "/ui/jobs")
    page.evaluate("window.__noReload = true")
    submit_job(stack, raw_exec_job("e2e-listed", "sleep 600"))
    row = page.locator("#jobs-table .job-row[data-job-id='e2e-listed']")
    row.wait_for(timeout=10_000)
    row.locator(".seg-running").wait_for(timeout=30_000)  # its allocation bar turns running too
    assert page.evaluate("window.__noReload") is True
