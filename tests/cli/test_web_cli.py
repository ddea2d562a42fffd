"""`caravan web -dev`: the web application in one real process, with dev credentials printed."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

CARAVAN = str(Path(sys.executable).parent / "caravan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env() -> dict[str, str]:
    """The environment of a user's shell: none of the test run's Django or Caravan settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CARAVAN_"))}


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    proc.wait(timeout=10)
    if proc.stderr is not None:
        proc.stderr.close()


def start(data_dir: Path, port: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [CARAVAN, "web", "-dev", "-http-port", str(port), "-data-dir", str(data_dir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=clean_env(),
    )
    assert proc.stderr is not None
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if "Listening on TCP address" in line:
            return proc, "".join(lines)
    proc.kill()
    proc.wait()
    if proc.stderr is not None:
        proc.stderr.close()
    raise AssertionError("caravan web did not start:\n" + "".join(lines))


@pytest.fixture
def web(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    port = free_port()
    proc, banner = start(tmp_path / "web", port)
    try:
        yield f"http://127.0.0.1:{port}", banner, tmp_path / "web"
    finally:
        stop(proc)


def admin_login(url: str, password: str) -> int:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{url}/admin/login/").read().decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert csrf
    form = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": csrf.group(1), "username": "admin", "password": password, "next": "/admin/"}
    ).encode()
    response = opener.open(urllib.request.Request(f"{url}/admin/login/?next=/admin/", data=form))
    return 200 if urllib.parse.urlparse(response.url).path == "/admin/" else 401


def test_dev_web_prints_working_credentials_and_serves_the_api(web: tuple[str, str, Path]) -> None:
    url, banner, _ = web
    token = re.search(r"Management token \(X-Nomad-Token\): ([0-9a-f-]{36})", banner)
    password = re.search(r"user admin, password (\S+)", banner)
    assert token and password, banner
    assert admin_login(url, password.group(1)) == 200
    assert admin_login(url, "wrong-password") == 401
    css = urllib.request.urlopen(f"{url}/static/admin/css/base.css")
    assert css.status == 200
    body = json.dumps({"JobHCL": 'job "x" {\n group "g" {\n task "t" {\n driver = "raw_exec"\n'
                       ' config { command = "/bin/true" }\n }\n }\n}\n'}).encode()
    parsed = json.load(urllib.request.urlopen(urllib.request.Request(f"{url}/v1/jobs/parse", data=body)))
    assert parsed["ID"] == "x" and parsed["TaskGroups"][0]["Tasks"][0]["KillTimeout"] == 5_000_000_000


def test_each_dev_start_prints_fresh_credentials(tmp_path: Path) -> None:
    banners = []
    for _ in range(2):
        port = free_port()
        proc, banner = start(tmp_path / "web", port)
        stop(proc)
        banners.append(banner)
    tokens = [re.findall(r"X-Nomad-Token\): (\S+)", b) for b in banners]
    assert tokens[0] and tokens[1] and tokens[0] != tokens[1]
    for b in banners:
        assert "X-Nomad-Token" in b
