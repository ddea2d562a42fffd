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

import re
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.agents.server.support import free_ports
from tests.devagent import CARAVAN, clean_env, dev_agent, wait_for

ROOT = Path(__file__).resolve().parents[2]
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


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:
        return bytes(response.read())


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("e2e")
    (web_port,) = free_ports(1)
    web_log = root / "web.log"
    with dev_agent(root) as agent:
        web_env = {**clean_env(), "CARAVAN_ACL": "1", "CARAVAN_CLUSTER_KEY": agent.key}
        with open(web_log, "wb") as out:
            web = subprocess.Popen(
                [CARAVAN, "web", "-dev", "-http-port", str(web_port), "-data-dir", str(root / "web"),
                 "-servers", agent.rpc], stdout=out, stderr=subprocess.STDOUT, env=web_env, cwd=ROOT)
        try:
            pattern = re.compile(rb"Management token \(X-Nomad-Token\): (\S+)")
            match = wait_for("the web application's token", lambda: pattern.search(web_log.read_bytes()), 60,
                             web_log)
            url = f"http://127.0.0.1:{web_port}"
            wait_for("the web application", lambda: _get(f"{url}/v1/agent/health"), 60, web_log)
            yield Stack(url=url, token=match.group(1).decode(), agent_http=agent.http, root=root)
        finally:
            web.terminate()
            try:
                web.wait(20)
            except subprocess.TimeoutExpired:
                web.kill()


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
