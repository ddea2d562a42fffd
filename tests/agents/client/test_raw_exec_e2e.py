"""End to end with the real raw_exec driver: a shell task sees its NOMAD_* environment, fails and is
restarted per policy, survives a client restart (reattached, not started again) and is stopped."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from agents.client.allocrunner import AllocRunner
from agents.client.drivers.raw_exec import RawExecDriver
from agents.client.state import ClientState
from agents.client.taskrunner import SystemClock
from cluster.structs import (
    AllocatedResources,
    AllocatedSharedResources,
    Allocation,
    PortMapping,
    RestartPolicy,
)
from cluster.structs.base import MILLISECOND_NS, MINUTE_NS
from tests.agents.client.support import make_alloc, make_node, make_task

SCRIPT = """
data="$NOMAD_ALLOC_DIR/data"
n=$(cat "$data/count" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$data/count"
env > "$data/env-$n"
[ "$n" -lt 3 ] && exit 1
trap 'echo term > "$data/stopped"; exit 0' INT
while true; do sleep 0.05; done
"""


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    for process in psutil.process_iter():  # a failed test must not leave its task running
        with contextlib.suppress(psutil.Error, OSError):
            if Path(process.cwd()).is_relative_to(tmp_path) and os.getpgid(process.pid) != os.getpgrp():
                os.killpg(os.getpgid(process.pid), signal.SIGKILL)


async def eventually(check: Callable[[], bool], what: str, timeout_s: float = 15.0) -> None:
    """Real processes take real time: poll, bounded."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout_s}s")
        await asyncio.sleep(0.02)


def alloc() -> Allocation:
    task = make_task("web", driver="raw_exec", Config={"command": "/bin/sh", "args": ["-c", SCRIPT]},
                     Env={"GREETING": "hello from ${NOMAD_JOB_NAME} in ${node.datacenter}"}, KillSignal="SIGINT",
                     RestartPolicy=RestartPolicy(Attempts=3, Interval=MINUTE_NS, Delay=50 * MILLISECOND_NS,
                                                 Mode="fail", RenderTemplates=False))
    a = make_alloc(task)
    a.AllocatedResources = AllocatedResources(
        Shared=AllocatedSharedResources(Ports=[PortMapping(Label="http", Value=25123, HostIP="127.0.0.1")]))
    return a


def runner(data_dir: Path, allocation: Allocation, updates: list[Allocation]) -> AllocRunner:
    return AllocRunner(alloc=allocation, node=make_node(), drivers={"raw_exec": RawExecDriver({"enabled": True})},
                       data_dir=data_dir, client_state=ClientState(data_dir), on_update=updates.append,
                       clock=SystemClock(), rng=random.Random(5), host_env={"PATH": os.environ["PATH"]},
                       update_batch_s=0.05)


def test_shell_task_env_restarts_reattach_and_stop(data_dir: Path) -> None:
    async def scenario() -> None:
        updates: list[Allocation] = []
        first = runner(data_dir, alloc(), updates)
        running = asyncio.ensure_future(first.run())
        web = first.runners["web"]
        await eventually(lambda: web.state.State == "running" and web.state.Restarts == 2, "two restarts")
        data = first.alloc_dir.data_dir
        env = dict(line.split("=", 1) for line in (data / "env-1").read_text().splitlines() if "=" in line)
        assert env["NOMAD_ALLOC_ID"] == first.alloc.ID and env["NOMAD_TASK_NAME"] == "web"
        assert env["NOMAD_PORT_http"] == "25123" and env["NOMAD_ADDR_http"] == "127.0.0.1:25123"
        assert env["GREETING"] == "hello from example in dc1"
        assert env["NOMAD_TASK_DIR"] == str(first.alloc_dir.task_dir("web").local_dir)
        assert [e.Type for e in web.state.Events or []].count("Restarting") == 2
        await eventually(lambda: bool(updates) and updates[-1].ClientStatus == "running", "running reported")

        await first.detach()  # the client restarts; the task keeps running
        with contextlib.suppress(asyncio.CancelledError):
            await running
        second = runner(data_dir, ClientState(data_dir).allocs()[0], updates)
        running = asyncio.ensure_future(second.run())
        await eventually(lambda: second.runners["web"].handle is not None, "reattached")
        assert (data / "count").read_text().strip() == "3"  # not started again
        assert second.runners["web"].state.Restarts == 2

        await second.stop()
        await running
        state = second.runners["web"].state
        assert (data / "stopped").read_text().strip() == "term"  # the task got its kill_signal
        assert (state.State, state.Failed) == ("dead", False)
        assert [e.Type for e in state.Events or []][-2:] == ["Killing", "Killed"]
        assert updates[-1].ClientStatus == "complete"

    asyncio.run(asyncio.wait_for(scenario(), 60))
