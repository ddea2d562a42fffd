"""The whole local stack for ``./dev up``: Redis, 3 servers, 3 clients (docker and raw_exec), the web
application with ACL on, and a Celery worker with its beat schedule; Ctrl-C stops them all.

    python scripts/devstack.py [--data .data/stack] [--http-port 4646]

Everything lives under ``--data``: one folder and one log per process, the cluster key (made once),
Redis's socket-free port. A restart keeps the cluster's state. The dashboard URL and a fresh management
token (valid 24 h) are printed when the stack is up.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SERVERS = 3
CLIENTS = 3
SERVER_RPC = [4647, 4657, 4667]
SERVER_RAFT = [4648, 4658, 4668]
CLIENT_HTTP = [4676, 4686, 4696]  # a client serves its RPC (logs, stats) on its http port
REDIS_PORT = 6390
START_TIMEOUT_S = 90.0


def _cluster_key(data: Path) -> str:
    path = data / "cluster-key"
    if not path.exists():
        path.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
        path.chmod(0o600)
    return path.read_text().strip()


def server_hcl(i: int, data: Path, key: str) -> str:
    join = ", ".join(f'"127.0.0.1:{p}"' for j, p in enumerate(SERVER_RPC) if j != i)
    return f'''name      = "server-{i + 1}"
data_dir  = "{data / f"server-{i + 1}"}"
bind_addr = "127.0.0.1"
ports {{
  rpc  = {SERVER_RPC[i]}
  serf = {SERVER_RAFT[i]}
}}
server {{
  enabled          = true
  bootstrap_expect = {SERVERS}
  encrypt          = "{key}"
  server_join {{
    retry_join = [{join}]
  }}
}}
'''


def client_hcl(i: int, data: Path, key: str) -> str:
    servers = ", ".join(f'"127.0.0.1:{p}"' for p in SERVER_RPC)
    return f'''name      = "client-{i + 1}"
data_dir  = "{data / f"client-{i + 1}"}"
bind_addr = "127.0.0.1"
ports {{
  http = {CLIENT_HTTP[i]}
}}
server {{
  encrypt = "{key}"
}}
client {{
  enabled    = true
  servers    = [{servers}]
  node_class = "{"edge" if i == CLIENTS - 1 else "general"}"
  meta {{
    rack = "r{i % 2 + 1}"
  }}
}}
plugin "raw_exec" {{
  config {{
    enabled = true
  }}
}}
plugin "docker" {{
  config {{
    endpoint = "unix:///var/run/docker.sock"
  }}
}}
'''


class Stack:
    def __init__(self, data: Path, http_port: int) -> None:
        self.data = data
        self.http_port = http_port
        self.logs = data / "logs"
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 - the child keeps it; fresh per run
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, **(env or {})}, cwd=ROOT, start_new_session=True)
        log.close()
        self.procs.append((name, proc))
        return proc

    def stop(self) -> None:
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for _, proc in reversed(self.procs):
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def check_alive(self) -> None:
        for name, proc in self.procs:
            if proc.poll() is not None:
                tail = (self.logs / f"{name}.log").read_text(errors="replace").splitlines()[-25:]
                raise SystemExit(f"{name} exited with {proc.returncode}; its log ends:\n" + "\n".join(tail))

    def wait_for(self, what: str, ready: object) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ready():  # type: ignore[operator]
            self.check_alive()
            if time.monotonic() > deadline:
                raise SystemExit(f"{what} did not come up within {START_TIMEOUT_S:.0f} s (logs: {self.logs})")
            time.sleep(0.3)


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _http_json_ok(url: str, token: str = "") -> bool:
    request = urllib.request.Request(url, headers={"X-Nomad-Token": token} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return bool(response.read().strip(b'"\n '))
    except OSError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT / ".data" / "stack"))
    parser.add_argument("--http-port", type=int, default=4646)
    args = parser.parse_args()
    data = Path(args.data).resolve()
    (data / "logs").mkdir(parents=True, exist_ok=True)
    key = _cluster_key(data)
    stack = Stack(data, args.http_port)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    redis_url = f"redis://127.0.0.1:{REDIS_PORT}/0"
    web_env = {"CARAVAN_SERVERS": ",".join(f"127.0.0.1:{p}" for p in SERVER_RPC), "CARAVAN_CLUSTER_KEY": key,
               "CARAVAN_ACL": "1", "CARAVAN_DEV": "1", "REDIS_URL": redis_url,
               "CARAVAN_DATA_DIR": str(data / "web"), "DJANGO_SETTINGS_MODULE": "webui.settings"}
    try:
        print(f"==> starting Redis on 127.0.0.1:{REDIS_PORT}", file=sys.stderr)
        (data / "redis").mkdir(exist_ok=True)
        stack.spawn("redis", [shutil.which("redis-server") or "/usr/bin/redis-server", "--port", str(REDIS_PORT),
                              "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                              "--dir", str(data / "redis")])
        print(f"==> starting {SERVERS} servers and {CLIENTS} clients (logs: {stack.logs})", file=sys.stderr)
        for i in range(SERVERS):
            config = data / f"server-{i + 1}.hcl"
            config.write_text(server_hcl(i, data, key))
            stack.spawn(f"server-{i + 1}", [str(BIN / "caravan"), "agent", "-config", str(config)])
        for i in range(CLIENTS):
            config = data / f"client-{i + 1}.hcl"
            config.write_text(client_hcl(i, data, key))
            stack.spawn(f"client-{i + 1}", [str(BIN / "caravan"), "agent", "-config", str(config)])
        stack.wait_for("Redis", lambda: _port_open(REDIS_PORT))
        print("==> starting the web application and a Celery worker", file=sys.stderr)
        stack.spawn("web", [str(BIN / "caravan"), "web", "-dev", "-http-port", str(args.http_port),
                            "-data-dir", str(data / "web")], web_env)
        url = f"http://127.0.0.1:{args.http_port}"
        stack.wait_for("the web application", lambda: _port_open(args.http_port))
        stack.spawn("celery", [str(BIN / "celery"), "-A", "webui.celery", "worker", "-B", "--loglevel", "INFO",
                               "--concurrency", "2", "--schedule", str(data / "celerybeat-schedule")], web_env)
        token = _token_from_log(stack)
        stack.wait_for("a Raft leader", lambda: _http_json_ok(f"{url}/v1/status/leader", token))
        print(f"\n    Dashboard:        {url}/ui/\n    API:              {url}/v1/\n"
              f"    Management token: {token}\n    export NOMAD_ADDR={url} NOMAD_TOKEN={token}\n"
              f"    Logs:             {stack.logs}\n\n    Ctrl-C stops the stack.\n", file=sys.stderr, flush=True)
        while True:
            stack.check_alive()
            time.sleep(1)
    except KeyboardInterrupt:
        return 130
    finally:
        print("==> stopping the stack", file=sys.stderr)
        stack.stop()


def _token_from_log(stack: Stack) -> str:
    pattern = re.compile(r"Management token \(X-Nomad-Token\): (\S+)")
    found: list[str] = []

    def ready() -> bool:
        text = (stack.logs / "web.log").read_text(errors="replace")
        found[:] = pattern.findall(text)[-1:]
        return bool(found)

    stack.wait_for("the web application's management token", ready)
    return found[0]


if __name__ == "__main__":
    raise SystemExit(main())
