"""``caravan agent -dev``: one process with a server and a client (raw_exec on) that runs a batch job to
completion, with no cluster key given (it makes one and keeps it in the data dir)."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from agents.rpc import ClientAuth, ConnectionPool, Role
from agents.server.endpoints import (
    JobRegisterRequest,
    JobRegisterResponse,
    NodeAllocsResponse,
    NodeSpecificRequest,
)
from cluster.structs import Allocation
from tests.agents.client_agent.support import kill_leftovers
from tests.agents.server.support import ROOT, eventually, free_ports
from tests.unit.scheduler import factories

pytestmark = pytest.mark.slow


def test_dev_agent_runs_a_batch_job(tmp_path: Path) -> None:
    http, rpc, serf = free_ports(3)
    ports = tmp_path / "ports.hcl"
    ports.write_text(f"ports {{\n  http = {http}\n  rpc = {rpc}\n  serf = {serf}\n}}\n")
    data = tmp_path / "data"
    log = tmp_path / "agent.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "agents", "-dev", "-data-dir", str(data), "-config",
                                    str(ports)], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        asyncio.run(_scenario(f"127.0.0.1:{rpc}", data, log))
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
    except BaseException:
        print(log.read_text(errors="replace")[-8000:])
        raise
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        kill_leftovers(tmp_path)


async def _scenario(address: str, data: Path, log: Path) -> None:
    async def started() -> bool | None:
        return True if '"event": "client-started"' in log.read_text(errors="replace") else None

    await eventually(started, 30, "the dev agent's client registered")
    key = base64.b64decode((data / "dev-cluster-key").read_text().strip())
    web = ConnectionPool(ClientAuth(role=Role.WEB, name="test", region="global", cluster_key=key))
    try:
        group = factories.group(count=1, cpu=100, memory_mb=64, disk_mb=150, driver="raw_exec")
        assert group.Tasks is not None
        group.Tasks[0].Config = {"command": "/bin/sh", "args": ["-c", 'echo "hi from $NOMAD_JOB_NAME"']}
        job = factories.job("hi", type="batch", groups=[group])
        await web.call(address, "Job.Register", JobRegisterRequest(Job=job), JobRegisterResponse, timeout_s=5)
        node_id = (data / "client" / "client-id").read_text().strip()

        async def complete() -> Allocation | None:
            reply = await web.call(address, "Node.GetAllocs", NodeSpecificRequest(NodeID=node_id),
                                   NodeAllocsResponse, timeout_s=5)
            done = [a for a in reply.Allocs if a.ClientStatus == "complete"]
            return done[0] if done else None

        alloc = await eventually(complete, 20, "the batch allocation complete")
        assert alloc.TaskStates is not None and not alloc.TaskStates["web"].Failed
        logs = data / "alloc" / alloc.ID / "alloc" / "logs"
        assert "hi from hi" in "".join(p.read_text() for p in logs.glob("web.stdout.*"))
    finally:
        await web.close()
