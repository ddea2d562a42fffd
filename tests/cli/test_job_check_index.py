"""``caravan job run -check-index`` end to end: the console script, a real ``caravan web`` process and a
real server process. The job runs only when its modify index is the one given (0: it must not exist),
and a refused run exits 1 with Nomad's message, changing nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.agents.server.support import ServerCluster
from tests.web.test_api_v1_nomad import job, start_web

pytestmark = pytest.mark.slow

CARAVAN = str(Path(sys.executable).parent / "caravan")

JOB = """\
job "checked-cli" {
  datacenters = ["dc1"]
  priority    = %d

  group "g" {
    task "t" {
      driver = "raw_exec"

      config {
        command = "/bin/true"
      }
    }
  }
}
"""


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("check-index")
    cluster = ServerCluster(root, count=1)
    cluster.start()
    try:
        proc, port, _ = start_web(root, cluster.servers[0].address, "0")
        try:
            url = f"http://127.0.0.1:{port}"
            wait_for_writes(url)
            yield url
        finally:
            proc.terminate()
            proc.wait(10)
    finally:
        cluster.stop()


def wait_for_writes(api: str, timeout_s: float = 30) -> None:
    """The server takes writes a moment after it elects itself: register a warm-up job until it works."""
    body = json.dumps(job("warm-up")).encode()
    deadline = time.monotonic() + timeout_s
    while True:
        request = urllib.request.Request(f"{api}/v1/jobs", data=body, method="PUT")
        try:
            with urllib.request.urlopen(request, timeout=10):
                return
        except urllib.error.HTTPError as e:
            assert time.monotonic() < deadline, f"no writes in {timeout_s} s: {e.read()!r}"
        time.sleep(0.2)


def run(api: str, job_file: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CARAVAN_", "NOMAD_"))}
    env["NOMAD_ADDR"] = api
    return subprocess.run([CARAVAN, "job", "run", "-detach", *flags, str(job_file)], capture_output=True,
                          text=True, env=env, timeout=60, check=False)


def job_of(api: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{api}/v1/job/checked-cli", timeout=10) as answer:
        job: dict[str, Any] = json.load(answer)
    return job


def test_run_with_check_index_runs_only_at_the_given_index(api: str, tmp_path: Path) -> None:
    job_file = tmp_path / "checked.nomad.hcl"
    job_file.write_text(JOB % 50)
    missing = run(api, job_file, "-check-index", "5")
    assert missing.returncode == 1
    assert "Enforcing job modify index 5: job does not exist" in missing.stderr

    created = run(api, job_file, "-check-index", "0")
    assert created.returncode == 0, created.stderr
    assert "Job registration successful" in created.stdout
    index = job_of(api)["JobModifyIndex"]
    again = run(api, job_file, "-check-index", "0")
    assert again.returncode == 1 and "Enforcing job modify index 0: job already exists" in again.stderr

    job_file.write_text(JOB % 70)
    stale = run(api, job_file, "-check-index", str(index + 1))
    assert stale.returncode == 1
    assert (f"Enforcing job modify index {index + 1}: job exists with conflicting job modify index: {index}"
            in stale.stderr)
    assert job_of(api)["Priority"] == 50

    current = run(api, job_file, "-check-index", str(index))
    assert current.returncode == 0, current.stderr
    assert job_of(api)["Priority"] == 70 and job_of(api)["JobModifyIndex"] > index
