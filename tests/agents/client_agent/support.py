"""Client agents as real processes on loopback, next to the server processes of ``tests.agents.server``.

``ClientProcess`` writes an HCL file (raw_exec enabled, the servers' cluster key) and runs
``python -m agents -client -config F``; its node ID is read from the data dir, where the agent keeps it.
``kill_leftovers`` ends the raw_exec tasks a test leaves behind (a stopped client leaves its tasks running).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil

from tests.agents.server.support import KEY_B64, ROOT, free_ports


def client_hcl(name: str, data_dir: Path, servers: list[str], http: int) -> str:
    listed = ", ".join(f'"{s}"' for s in servers)
    return f'''
name      = "{name}"
data_dir  = "{data_dir}"
bind_addr = "127.0.0.1"
log_level = "INFO"
ports {{
  http = {http}
}}
server {{
  encrypt = "{KEY_B64}"
}}
client {{
  enabled = true
  servers = [{listed}]
}}
plugin "raw_exec" {{
  config {{
    enabled = true
  }}
}}
plugin "docker" {{
  config {{
    endpoint = "unix://{data_dir}/no-docker.sock"
  }}
}}
'''


class ClientProcess:
    def __init__(self, root: Path, name: str, servers: list[str]) -> None:
        self.name = name
        self.dir = root / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.dir / "data"
        self.config = self.dir / "client.hcl"
        self.config.write_text(client_hcl(name, self.data_dir, servers, free_ports(1)[0]))
        self.log = self.dir / "agent.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "agents", "-client", "-config", str(self.config)],
                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def starts(self) -> int:
        """How many times the agent has said it started (registered)."""
        return self.output().count('"event": "client-started"')

    @property
    def node_id(self) -> str:
        return (self.data_dir / "client" / "client-id").read_text().strip()

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def kill_leftovers(root: Path) -> None:
    """Kills every process group of a task or executor started under ``root`` (never this one's)."""
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            inside = Path(process.cwd()).is_relative_to(root) or any(str(root) in a for a in process.cmdline())
            if inside and os.getpgid(process.pid) != os.getpgrp():
                os.killpg(os.getpgid(process.pid), signal.SIGKILL)
