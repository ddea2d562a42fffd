"""What the browser tests share: signing in through the form, jobs submitted and watched through the dev
agent's own API (set-up and checks; what is under test goes through the dashboard), and screenshots."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from tests.e2e.conftest import SCREENSHOTS, Stack

__all__ = ["api", "job_allocs", "raw_exec_job", "screenshot", "sign_in", "submit_job", "wait_until"]


def api(stack: Stack, method: str, path: str, body: object | None = None) -> Any:
    """One call to the dev agent's /v1 API (ACL off there), decoded from JSON."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(stack.agent_http + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        raise AssertionError(f"{method} {path}: {e.code} {e.read().decode(errors='replace')}") from None


def raw_exec_job(job_id: str, script: str, *, name: str | None = None, meta: dict[str, str] | None = None,
                 count: int = 1, job_type: str = "service") -> str:
    """The HCL of a job (service unless told) with one raw_exec task ``t`` running ``/bin/sh -c <script>``."""
    meta_block = "".join(f"    {k} = {json.dumps(v)}\n" for k, v in (meta or {}).items())
    return (
        f'job {json.dumps(job_id)} {{\n'
        f'  datacenters = ["dc1"]\n'
        f'  type = {json.dumps(job_type)}\n'
        + (f"  name = {json.dumps(name)}\n" if name is not None else "")
        + (f"  meta {{\n{meta_block}  }}\n" if meta else "")
        + f'  group "g" {{\n'
        f'    count = {count}\n'
        f'    task "t" {{\n'
        f'      driver = "raw_exec"\n'
        f'      config {{\n'
        f'        command = "/bin/sh"\n'
        f'        args    = ["-c", {json.dumps(script)}]\n'
        f'      }}\n'
        f'      resources {{\n'
        f'        cpu    = 50\n'
        f'        memory = 32\n'
        f'      }}\n'
        f'    }}\n'
        f'  }}\n'
        f'}}\n'
    )


def submit_job(stack: Stack, hcl: str) -> str:
    """Parses and registers ``hcl`` through the agent's API; the job's ID."""
    job = api(stack, "POST", "/v1/jobs/parse", {"JobHCL": hcl, "Canonicalize": True})
    api(stack, "POST", "/v1/jobs", {"Job": job})
    return str(job["ID"])


def job_allocs(stack: Stack, job_id: str) -> list[dict[str, Any]]:
    return list(api(stack, "GET", f"/v1/job/{urllib.request.quote(job_id, safe='')}/allocations"))


def wait_until(what: str, check: Any, timeout_s: float = 30) -> Any:
    """``check()``'s first truthy answer, polled every 0.2 s (the processes are real: no fake clock here)."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = check()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.2)


def sign_in(page: Any, stack: Stack, secret: str) -> None:
    page.goto(stack.url + "/ui/settings/tokens")
    page.fill("#secret", secret)
    with page.expect_navigation():
        page.click("#sign-in")


def screenshot(page: Any, name: str) -> None:
    """A named screenshot besides the one every test saves at its end."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
