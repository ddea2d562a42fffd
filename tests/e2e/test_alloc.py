"""An allocation's page: the operator follows a task's log live (lines appear as the task prints them)
and sees the CPU and memory charts (uPlot) drawn from the client's figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Stack
from tests.e2e.helpers import job_allocs, raw_exec_job, screenshot, submit_job, wait_until

pytestmark = pytest.mark.slow

# Sixty lines at once (more than the pane shows), then one line a second.
TICKER = ('echo hello-from-e2e; seq 1 60 | sed "s/^/line /"; '
          'i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 1; done')

# The number of lines the log pane shows, and the highest "tick N" among them.
TICKS = """() => {
  const lines = [...document.querySelectorAll('#log-output .log-line')].map(l => l.textContent);
  const ticks = lines.filter(l => l.startsWith('tick ')).map(l => parseInt(l.slice(5), 10));
  return ticks.length ? Math.max(...ticks) : 0;
}"""

# How many pixels of a canvas are painted (not transparent): a drawn chart has its axes and its line.
PAINTED = """(canvas) => {
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
  return painted;
}"""


def _running_alloc(stack: Stack, job_id: str) -> str:
    def running() -> str | None:
        return next((a["ID"] for a in job_allocs(stack, job_id) if a["ClientStatus"] == "running"), None)

    return str(wait_until(f"an allocation of {job_id} running", running))


def test_follow_a_tasks_log_live_and_see_the_resource_charts(signed_in: Any, stack: Stack) -> None:
    page = signed_in
    alloc_id = _running_alloc(stack, submit_job(stack, raw_exec_job("e2e-ticker", TICKER)))
    page.goto(f"{stack.url}/ui/jobs/e2e-ticker")
    with page.expect_navigation():
        page.click(f"#job-allocations .alloc-row[data-alloc-id='{alloc_id}'] a[href*='/ui/allocations/']")
    assert page.locator("#alloc-status .badge-running").is_visible()
    output = page.locator("#log-output")
    output.get_by_text("hello-from-e2e", exact=True).wait_for()
    first = page.wait_for_function(TICKS).json_value()
    page.wait_for_function(f"() => ({TICKS})() >= {first + 2}", timeout=10_000)
    later = page.evaluate(TICKS)  # new lines arrived as the task printed them, without a reload

    output_box = "document.getElementById('log-output')"
    assert page.evaluate(f"{output_box}.scrollHeight > {output_box}.clientHeight + 100")
    assert page.is_checked("#log-follow")  # following: the newest line is in view
    page.evaluate(f"{output_box}.scrollTop = 0")  # the operator scrolls up to read the start
    page.wait_for_function("() => !document.getElementById('log-follow').checked")
    page.wait_for_function(f"() => ({TICKS})() >= {later + 2}", timeout=10_000)
    assert page.evaluate(f"{output_box}.scrollTop") == 0  # new lines no longer pull the view down
    page.check("#log-follow")
    page.wait_for_function(f"() => {output_box}.scrollHeight - {output_box}.scrollTop - "
                           f"{output_box}.clientHeight < 4")
    later = page.evaluate(TICKS)

    with page.expect_download() as download:
        page.click("#log-download")
    saved = download.value
    assert saved.suggested_filename == f"{alloc_id[:8]}-t.stdout.log"
    text = Path(saved.path()).read_text()
    assert text.startswith("hello-from-e2e\nline 1\n") and f"tick {later}" in text

    page.fill("#log-filter", f"tick {later}")
    visible = page.locator("#log-output .log-line:visible")
    assert [t for t in visible.all_inner_texts() if t] == [f"tick {later}"]
    page.fill("#log-filter", "")

    note = page.locator("#alloc-stats .live-note")
    page.wait_for_function("() => /CPU \\d+ MHz/.test(document.querySelector('#alloc-stats .live-note').textContent)")
    assert "MiB" in note.inner_text()
    charts = page.locator("#alloc-stats .live-chart canvas")
    assert charts.count() == 2
    for i in range(2):
        assert charts.nth(i).evaluate(PAINTED) > 500
    screenshot(page, "alloc_logs_and_charts")
