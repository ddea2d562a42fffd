"""/v1/client/...: through Django's test clients against one real ``caravan agent -dev`` process (its client
endpoints share the dev agent's RPC port), reached by the gateway.

What a Nomad user notices: ``alloc logs`` shows the task's output (framed or plain, from the start or the
end), ``-f`` streams new lines as they are written and ends once a finished task is drained; ``alloc fs``
lists, stats and reads files but never outside the allocation; ``alloc status -stats`` and ``node status
-stats`` show usage; ``alloc signal`` and ``alloc restart`` reach the task; ACL tokens need read-logs,
read-fs and alloc-lifecycle; python-nomad's calls work unchanged.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nomad
import pytest
import requests
from django.test import AsyncClient, Client

from agents.server.endpoints import (
    JobRegisterRequest,
    JobRegisterResponse,
    NodeAllocsResponse,
    NodeSpecificRequest,
)
from cluster.structs import Allocation
from tests.agents.client_agent.support import kill_leftovers
from tests.agents.server.support import KEY_B64, ROOT, free_ports
from tests.unit.scheduler import factories
from tests.web.test_api_v1_nomad import start_web
from webui.acl import DEFAULT_CACHE, policy_upsert, token_create
from webui.gateway import gateway, reset_gateway

pytestmark = pytest.mark.slow

COUNTER = ('trap "echo got-usr1" USR1; echo "$$" >> "$NOMAD_ALLOC_DIR/pids"; i=0; '
           'while true; do i=$((i+1)); echo "line $i"; sleep 0.2; done')
SHORT = 'for i in 1 2 3; do echo "short $i"; sleep 0.3; done'


class Dev:
    def __init__(self, rpc: str, data: Path, log: Path) -> None:
        self.rpc, self.data, self.log = rpc, data, log
        self.allocs: dict[str, Allocation] = {}


def _wait(check: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"not in {timeout_s} s: {what}"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    root = Path(tmp_path_factory.mktemp("dev-client"))
    http, rpc, serf = free_ports(3)
    # The servers' test key (not one the dev agent makes), so `caravan web` below can use it as well.
    (root / "ports.hcl").write_text(f"ports {{\n  http = {http}\n  rpc = {rpc}\n  serf = {serf}\n}}\n"
                                    f'server {{\n  encrypt = "{KEY_B64}"\n}}\n')
    data, log = root / "data", root / "agent.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "agents", "-dev", "-data-dir", str(data), "-config",
                                    str(root / "ports.hcl")], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        _wait(lambda: '"event": "client-started"' in log.read_text(errors="replace"), 30, "the dev agent started")
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("CARAVAN_SERVERS", f"127.0.0.1:{rpc}")
            mp.setenv("CARAVAN_CLUSTER_KEY", KEY_B64)
            reset_gateway()
            d = Dev(f"127.0.0.1:{rpc}", data, log)
            d.allocs["counter"] = _run_job(d, "counter", "service", COUNTER, "running")
            d.allocs["short"] = _run_job(d, "short", "batch", SHORT, "running")
            yield d
            reset_gateway()
    except BaseException:
        print(log.read_text(errors="replace")[-6000:])
        raise
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        kill_leftovers(root)


def _run_job(dev: Dev, name: str, kind: str, script: str, status: str) -> Allocation:
    group = factories.group(count=1, cpu=100, memory_mb=64, disk_mb=150, driver="raw_exec")
    assert group.Tasks is not None
    group.Tasks[0].Config = {"command": "/bin/sh", "args": ["-c", script]}
    job = factories.job(name, type=kind, groups=[group])
    gateway().call_sync("Job.Register", JobRegisterRequest(Job=job), JobRegisterResponse)
    node_id = (dev.data / "client" / "client-id").read_text().strip()

    def placed() -> Allocation | None:
        reply = gateway().call_sync("Node.GetAllocs", NodeSpecificRequest(NodeID=node_id), NodeAllocsResponse)
        return next((a for a in reply.Allocs if a.JobID == name and a.ClientStatus == status), None)

    return _wait(placed, 30, f"{name} {status}")  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def acl_off(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CARAVAN_ACL", "0")
    DEFAULT_CACHE.clear()
    yield
    DEFAULT_CACHE.clear()


def frames(body: bytes) -> list[dict[str, Any]]:
    """Nomad's log frames: JSON objects one after another."""
    decoder, text, out, at = json.JSONDecoder(), body.decode(), [], 0
    while at < len(text):
        frame, at = decoder.raw_decode(text, at)
        out.append(frame)
    return out


def test_logs_framed_plain_and_from_the_end(dev: Dev) -> None:
    alloc = dev.allocs["counter"]
    response = Client().get(f"/v1/client/fs/logs/{alloc.ID}?task=web&type=stdout")
    assert response.status_code == 200, response.content
    got = frames(response.content)
    assert got[0]["File"] == "alloc/logs/web.stdout.0"
    assert b"".join(base64.b64decode(f["Data"]) for f in got).startswith(b"line 1\nline 2\n")
    plain = Client().get(f"/v1/client/fs/logs/{alloc.ID}?task=web&type=stdout&plain=true")
    assert plain.content.startswith(b"line 1\nline 2\n")
    tail = Client().get(f"/v1/client/fs/logs/{alloc.ID}?task=web&type=stdout&plain=true&origin=end&offset=7")
    # The last 7 bytes when read, and any line the task wrote meanwhile (the counter writes 5 a second).
    assert 7 <= len(tail.content) <= 7 + 40 and tail.content.endswith(b"\n")
    assert Client().get(f"/v1/client/fs/logs/{alloc.ID}?task=web&type=stdin").status_code == 400
    assert Client().get(f"/v1/client/fs/logs/{alloc.ID}?task=nope&type=stdout").status_code == 404
    assert Client().get("/v1/client/fs/logs/no-such-alloc?task=web&type=stdout").status_code == 404


def test_follow_streams_new_lines_and_ends_with_a_dead_task(dev: Dev) -> None:
    counter, short = dev.allocs["counter"], dev.allocs["short"]

    async def follow_counter() -> list[bytes]:
        response = await AsyncClient().get(
            f"/v1/client/fs/logs/{counter.ID}?task=web&type=stdout&plain=true&follow=true&origin=end&offset=0")
        assert response.status_code == 200 and response.streaming
        seen: list[bytes] = []
        stream = response.streaming_content
        async for part in stream:
            seen.append(part)
            if b"".join(seen).count(b"\n") >= 3:
                break
        await stream.aclose()  # the HTTP client went away
        return seen

    lines = b"".join(asyncio.run(asyncio.wait_for(follow_counter(), 20))).splitlines()
    numbers = [int(line.split()[1]) for line in lines if line.startswith(b"line ")]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))  # new lines, in order, none lost

    async def follow_short() -> bytes:
        response = await AsyncClient().get(f"/v1/client/fs/logs/{short.ID}?task=web&type=stdout&follow=true")
        return b"".join([part async for part in response.streaming_content])

    body = asyncio.run(asyncio.wait_for(follow_short(), 20))  # ends by itself: the batch task dies
    data = b"".join(base64.b64decode(f["Data"]) for f in frames(body) if f.get("Data"))
    assert data == b"short 1\nshort 2\nshort 3\n"


def test_fs_ls_stat_cat_and_no_way_out(dev: Dev) -> None:
    alloc = dev.allocs["counter"]
    listing = Client().get(f"/v1/client/fs/ls/{alloc.ID}?path=/alloc").json()
    assert {"logs", "data", "tmp", "pids"} <= {f["Name"] for f in listing}
    info = Client().get(f"/v1/client/fs/stat/{alloc.ID}?path=/alloc/pids").json()
    assert info["Name"] == "pids" and not info["IsDir"] and info["Size"] > 0
    cat = Client().get(f"/v1/client/fs/cat/{alloc.ID}?path=alloc/pids")
    assert cat.status_code == 200 and int(cat.content.split()[0]) > 0
    part = Client().get(f"/v1/client/fs/readat/{alloc.ID}?path=alloc/logs/web.stdout.0&offset=5&limit=2")
    assert part.content == b"1\n"
    for path in ("../../dev-cluster-key", "/../../client/secret-id", "web/secrets"):
        response = Client().get(f"/v1/client/fs/cat/{alloc.ID}?path={path}")
        assert response.status_code == 403, (path, response.content)
    assert Client().get(f"/v1/client/fs/ls/{alloc.ID}?path=/nope").status_code == 404


def test_stats_of_the_allocation_and_the_host(dev: Dev) -> None:
    alloc = dev.allocs["counter"]
    stats = Client().get(f"/v1/client/allocation/{alloc.ID}/stats").json()
    task = stats["Tasks"]["web"]["ResourceUsage"]
    assert task["MemoryStats"]["RSS"] > 0 and "Percent" in task["CpuStats"]
    assert stats["ResourceUsage"]["MemoryStats"]["RSS"] >= task["MemoryStats"]["RSS"]
    host = Client().get("/v1/client/stats").json()
    assert host["Memory"]["Total"] > 0 and host["CPU"] and host["AllocDirStats"]["Size"] > 0
    node_id = (dev.data / "client" / "client-id").read_text().strip()
    assert Client().get(f"/v1/client/stats?node_id={node_id}").status_code == 200
    assert Client().get("/v1/client/stats?node_id=no-such-node").status_code == 404


def test_signal_and_restart_reach_the_task(dev: Dev) -> None:
    alloc = dev.allocs["counter"]
    pids_before = Client().get(f"/v1/client/fs/cat/{alloc.ID}?path=alloc/pids").content.split()
    response = Client().post(f"/v1/client/allocation/{alloc.ID}/signal",
                             data=json.dumps({"Task": "web", "Signal": "SIGUSR1"}), content_type="application/json")
    assert response.status_code == 200, response.content
    _wait(lambda: b"got-usr1" in Client().get(
        f"/v1/client/fs/logs/{alloc.ID}?task=web&type=stdout&plain=true").content, 10, "the trap ran")
    assert Client().put(f"/v1/client/allocation/{alloc.ID}/restart").status_code == 200
    _wait(lambda: len(Client().get(f"/v1/client/fs/cat/{alloc.ID}?path=alloc/pids").content.split())
          > len(pids_before), 15, "the task started again")
    bad = Client().post(f"/v1/client/allocation/{alloc.ID}/restart", data=json.dumps({"TaskName": "nope"}),
                        content_type="application/json")
    assert bad.status_code == 404


@pytest.fixture
def acl_on(monkeypatch: pytest.MonkeyPatch, db: None) -> None:
    monkeypatch.setenv("CARAVAN_ACL", "1")
    policy_upsert(name="read-only", rules='namespace "default" { policy = "read" }')
    policy_upsert(name="write", rules='namespace "default" { policy = "write" }')
    policy_upsert(name="fs-only", rules='namespace "default" { capabilities = ["read-fs"] }')


def test_acl_capabilities(dev: Dev, acl_on: None) -> None:
    alloc = dev.allocs["counter"]
    read = {"X-Nomad-Token": token_create(name="r", policies=["read-only"]).secret_id}
    fs = {"X-Nomad-Token": token_create(name="f", policies=["fs-only"]).secret_id}
    write = {"X-Nomad-Token": token_create(name="w", policies=["write"]).secret_id}
    assert Client().get(f"/v1/client/fs/ls/{alloc.ID}").status_code == 403
    assert Client().get(f"/v1/client/fs/ls/{alloc.ID}", headers=fs).status_code == 200
    assert Client().get("/v1/client/fs/ls/no-such-alloc", headers={}).status_code == 403  # no 404 hint
    assert Client().get(f"/v1/client/allocation/{alloc.ID}/stats", headers=fs).status_code == 403
    assert Client().get(f"/v1/client/allocation/{alloc.ID}/stats", headers=read).status_code == 200
    # As Nomad's, the read policy reads jobs and allocations, not logs, files or the lifecycle.
    assert Client().get(f"/v1/client/fs/cat/{alloc.ID}?path=alloc/pids", headers=read).status_code == 403
    logs = f"/v1/client/fs/logs/{alloc.ID}?task=web&type=stdout"
    assert Client().get(logs, headers=read).status_code == 403
    assert Client().get(logs, headers=fs).status_code == 403  # read-logs is its own capability
    assert Client().get(logs, headers=write).status_code == 200
    assert Client().post(f"/v1/client/allocation/{alloc.ID}/restart", data=b"not json",
                         content_type="application/json", headers=read).status_code == 403
    assert Client().get("/v1/client/stats", headers=read).status_code == 403  # node:read is not in it


@pytest.fixture(scope="module")
def web_port(dev: Dev, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A real ``caravan web`` process (ASGI) pointed at the dev agent, ACL off."""
    proc, port, _token = start_web(Path(tmp_path_factory.mktemp("web")), dev.rpc, "0")
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def test_python_nomad_client_calls(dev: Dev, web_port: int) -> None:
    """python-nomad 2.1.0, unchanged, against `caravan web`: the client endpoints it wraps."""
    n = nomad.Nomad(host="127.0.0.1", port=web_port, timeout=10)
    alloc = dev.allocs["counter"]
    assert {"logs", "pids"} <= {f["Name"] for f in n.client.ls.list_files(alloc.ID, path="/alloc")}
    assert n.client.stat.stat_file(alloc.ID, path="/alloc/pids")["Size"] > 0
    assert int(n.client.cat.read_file(alloc.ID, path="/alloc/pids").split()[0]) > 0
    assert n.client.read_at.read_file_offset(alloc.ID, 0, 7, path="/alloc/logs/web.stdout.0") == "line 1\n"
    assert n.client.stream_logs.stream(alloc.ID, "web", "stdout", plain=True).startswith("line 1\nline 2\n")
    assert n.client.allocation.read_allocation_stats(alloc.ID)["Tasks"]["web"]["ResourceUsage"]["MemoryStats"]["RSS"]
    node_id = (dev.data / "client" / "client-id").read_text().strip()
    assert n.client.stats.read_stats(node_id)["Memory"]["Total"] > 0
    assert n.client.allocation.signal_allocation(alloc.ID, "SIGUSR1", task="web") == {}
    with pytest.raises(nomad.api.exceptions.URLNotFoundNomadException):
        n.client.ls.list_files("no-such-alloc")


def test_follow_over_a_real_asgi_server(dev: Dev, web_port: int) -> None:
    """`nomad alloc logs -f` as the CLI does it: one long response whose frames arrive as lines are written."""
    alloc = dev.allocs["counter"]
    url = (f"http://127.0.0.1:{web_port}/v1/client/fs/logs/{alloc.ID}"
           "?task=web&type=stdout&follow=true&origin=end&offset=0")
    with requests.get(url, stream=True, timeout=10) as response:
        assert response.status_code == 200
        data, started = b"", time.monotonic()
        decoder, text = json.JSONDecoder(), ""
        for piece in response.iter_content(chunk_size=None):
            text += piece.decode()
            while text:
                try:
                    frame, end = decoder.raw_decode(text)
                except ValueError:
                    break
                text = text[end:]
                data += base64.b64decode(frame.get("Data", ""))
            if data.count(b"\n") >= 3 or time.monotonic() - started > 8:
                break
    assert data.count(b"\n") >= 3 and data.startswith(b"line ")
