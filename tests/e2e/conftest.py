"""Browser tests: a real dev agent (server + client with raw_exec), a real ``caravan web`` with ACL on in
front of it, and Debian's Chromium driven by Playwright. Screenshots go to ``.data/screenshots/``.

The stack and the browser live for this package only (``scope="package"``): Playwright's sync API keeps an
event loop running in the main thread while it is open, which would break every later test that starts
one of its own (``asyncio.run``).

Chromium is launched with the flags this machine needs (no sandbox as root, no GPU, no background
networking); ``playwright install`` is never used.

The processes start once per session and the tests share them, each in its own browser context (its own
session cookie). Jobs are named ``e2e-<test>`` so tests do not meet each other's; the drain test is in
``test_zz_drain.py`` so it runs last, as draining the one node stops what the others left running.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.agents.client_agent.support import kill_leftovers
from tests.agents.server.support import free_ports

ROOT = Path(__file__).resolve().parents[2]
CARAVAN = str(Path(sys.executable).parent / "caravan")
SCREENSHOTS = ROOT / ".data" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@dataclass
class Stack:
    url: str  # the web application (ACL on)
    token: str  # a management token
    agent_http: str  # the dev agent's own API (ACL off), for set-up and checks
    root: Path


def _wait(what: str, check: object, timeout_s: float, logs: list[Path]) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if check():  # type: ignore[operator]
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {p}\n{p.read_text(errors='replace')[-2000:]}" for p in logs if p.exists())
            raise AssertionError(f"timed out waiting for {what}\n{tails}")
        time.sleep(0.2)


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:
        return bytes(response.read())


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("e2e")
    agent_http, rpc, serf, web_port = free_ports(4)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CARAVAN_", "DJANGO_"))}
    (root / "ports.hcl").write_text(f"ports {{\n  serf = {serf}\n}}\n")
    agent_log, web_log = root / "agent.log", root / "web.log"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with open(agent_log, "wb") as out:
            procs.append(subprocess.Popen(
                [CARAVAN, "agent", "-dev", "-data-dir", str(root / "agent"), "-http-port", str(agent_http),
                 "-rpc-port", str(rpc), "-config", str(root / "ports.hcl")],
                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=root))
        agent_url = f"http://127.0.0.1:{agent_http}"
        _wait("the dev agent's node", lambda: b'"ready"' in _get(f"{agent_url}/v1/nodes"), 60, [agent_log])
        key = (root / "agent" / "dev-cluster-key").read_text().strip()
        web_env = {**env, "CARAVAN_ACL": "1", "CARAVAN_CLUSTER_KEY": key}
        with open(web_log, "wb") as out:
            procs.append(subprocess.Popen(
                [CARAVAN, "web", "-dev", "-http-port", str(web_port), "-data-dir", str(root / "web"),
                 "-servers", f"127.0.0.1:{rpc}"], stdout=out, stderr=subprocess.STDOUT, env=web_env, cwd=ROOT))
        pattern = re.compile(rb"Management token \(X-Nomad-Token\): (\S+)")
        _wait("the web application's token", lambda: pattern.search(web_log.read_bytes()), 60, [web_log])
        match = pattern.search(web_log.read_bytes())
        assert match is not None
        url = f"http://127.0.0.1:{web_port}"
        _wait("the web application", lambda: _get(f"{url}/v1/agent/health") is not None, 60, [web_log])
        yield Stack(url=url, token=match.group(1).decode(), agent_http=agent_url, root=root)
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        kill_leftovers(root)


@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: object, request: pytest.FixtureRequest) -> Iterator[object]:
    """A fresh browser context and page; its screenshot is saved under the test's name at the end."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
    context.close()


@pytest.fixture(scope="package")
def management_cookies(browser: object, stack: Stack) -> list[dict[str, object]]:
    """The cookies of a dashboard session signed in once with the management token, through the form."""
    from tests.e2e.helpers import sign_in

    context = browser.new_context()  # type: ignore[attr-defined]
    try:
        page = context.new_page()
        sign_in(page, stack, stack.token)
        assert page.url.startswith(stack.url + "/ui/jobs"), page.url
        return list(context.cookies())
    finally:
        context.close()


@pytest.fixture
def signed_in(page: object, management_cookies: list[dict[str, object]]) -> object:
    """A page of a context that shares the management session (its sign-in already done)."""
    page.context.add_cookies(management_cookies)  # type: ignore[attr-defined]
    return page
