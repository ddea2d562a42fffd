"""A real ``caravan agent -dev`` process for tests: a server, a client with raw_exec, and the web application
(ACL off) in one process on free ports.

    with dev_agent(tmp_path) as agent:
        agent.http            # "http://127.0.0.1:PORT" (the /v1 API and /ui/)
        agent.rpc, agent.key  # for the gateway: CARAVAN_SERVERS and CARAVAN_CLUSTER_KEY
        agent.get("/v1/nodes")
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from tests.agents.client_agent.support import kill_leftovers
from tests.agents.server.support import free_ports

__all__ = ["CARAVAN", "DevAgent", "clean_env", "dev_agent", "wait_for"]

CARAVAN = str(Path(sys.executable).parent / "caravan")
T = TypeVar("T")


def clean_env() -> dict[str, str]:
    """A user's shell: none of the test run's Django or Caravan settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("CARAVAN_", "DJANGO_", "NOMAD_"))}


def wait_for(what: str, check: Callable[[], T], timeout_s: float = 30.0, log: Path | None = None) -> T:
    """``check()``'s first truthy answer; an AssertionError with the log's tail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            value = check()
        except OSError:
            value = None  # type: ignore[assignment]
        if value:
            return value
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log is not None and log.exists() else ""
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}\n{tail}")
        time.sleep(0.2)


@dataclass
class DevAgent:
    http: str
    rpc: str
    key: str
    data_dir: Path
    log: Path

    def request(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.http + path, data=data, method=method)
        with urllib.request.urlopen(req, timeout=10) as response:
            return json.loads(response.read() or b"null")

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def run_job(self, job_id: str, count: int = 1, command: str = "/bin/sleep", args: list[str] | None = None,
                timeout_s: float = 60.0) -> list[str]:
        """Registers a raw_exec service job and waits until ``count`` allocations run; their ids."""
        job = {"ID": job_id, "Name": job_id, "Type": "service", "Datacenters": ["dc1"],
               "TaskGroups": [{"Name": "g", "Count": count, "Tasks": [{
                   "Name": "t", "Driver": "raw_exec", "Config": {"command": command, "args": args or ["600"]},
                   "Resources": {"CPU": 20, "MemoryMB": 16}}]}]}
        self.request("PUT", "/v1/jobs", {"Job": job})

        def running() -> list[str]:
            allocs = self.get(f"/v1/job/{job_id}/allocations")
            ids = [a["ID"] for a in allocs if a["ClientStatus"] == "running"]
            return ids if len(ids) >= count else []

        return wait_for(f"{count} running allocations of {job_id}", running, timeout_s, self.log)


@contextlib.contextmanager
def dev_agent(root: Path) -> Iterator[DevAgent]:
    http_port, rpc_port, serf_port = free_ports(3)
    log = root / "agent.log"
    config = root / "ports.hcl"
    config.write_text(f"ports {{\n  serf = {serf_port}\n}}\n")
    with open(log, "wb") as out:
        proc = subprocess.Popen([CARAVAN, "agent", "-dev", "-data-dir", str(root / "data"), "-http-port",
                                 str(http_port), "-rpc-port", str(rpc_port), "-config", str(config)],
                                stdout=out, stderr=subprocess.STDOUT, cwd=root, env=clean_env())
    try:
        agent = DevAgent(f"http://127.0.0.1:{http_port}", f"127.0.0.1:{rpc_port}", "", root / "data", log)
        wait_for("the dev agent's node", lambda: [n for n in agent.get("/v1/nodes") if n["Status"] == "ready"],
                 60, log)
        agent.key = (root / "data" / "dev-cluster-key").read_text().strip()
        yield agent
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        kill_leftovers(root)
