"""``alloc exec`` sessions on a client, against real raw_exec tasks and real docker containers.

What a user of ``alloc exec`` notices: the command's output and exit code come back; what they type
reaches it; with a terminal, ``stty size`` shows their window's size, also after a resize; a session
they walk away from is killed; a task that is not running cannot be exec'd into.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import docker
import psutil
import pytest

from agents.client.drivers.base import Driver, DriverError, TaskHandle
from agents.client.drivers.docker import DockerDriver
from agents.client.drivers.raw_exec import RawExecDriver
from agents.client.exec_sessions import ExecSessions, SessionOutput
from cluster.errors import InvalidInput, NotFound, Unavailable
from tests.agents.drivers.conftest import (  # noqa: F401  (fixtures)
    MakeTask,
    alloc_ids,
    docker_engine,
    docker_test_image,
    make_task,
)

DEADLINE_S = 15.0


async def run_to_end(sessions: ExecSessions, session_id: str, stdin: bytes = b"",
                     close_stdin: bool = False) -> tuple[bytes, bytes, int]:
    """Sends ``stdin`` once, then takes output until the command has exited: (stdout, stderr, code)."""
    out, err = bytearray(), bytearray()
    deadline = time.monotonic() + DEADLINE_S
    answer = await sessions.io(session_id, stdin=stdin, close_stdin=close_stdin, wait_s=1.0)
    while True:
        out += answer.stdout
        err += answer.stderr
        if answer.exited:
            return bytes(out), bytes(err), answer.exit_code
        assert time.monotonic() < deadline, f"no exit within {DEADLINE_S}s; so far {bytes(out)!r} {bytes(err)!r}"
        answer = await sessions.io(session_id, wait_s=1.0)


async def read_until(sessions: ExecSessions, session_id: str, needle: bytes, *, stdin: bytes = b"", height: int = 0,
                     width: int = 0) -> bytes:
    """Sends ``stdin`` (and a size) once, then takes output until ``needle`` has appeared (the command
    still runs)."""
    seen = bytearray()
    deadline = time.monotonic() + DEADLINE_S
    while needle not in seen:
        assert time.monotonic() < deadline, f"{needle!r} did not come; so far {bytes(seen)!r}"
        answer: SessionOutput = await sessions.io(session_id, wait_s=1.0, stdin=stdin, height=height, width=width)
        stdin, height, width = b"", 0, 0
        assert not answer.exited, f"exited ({answer.exit_code}) before {needle!r}; so far {bytes(seen)!r}"
        seen += answer.stdout + answer.stderr
    return bytes(seen)


def sh(script: str) -> dict[str, object]:
    return {"command": "/bin/sh", "args": ["-c", script]}


# ---- raw_exec -------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def started(new_task: MakeTask, env: dict[str, str] | None = None) -> AsyncIterator[tuple[Driver, TaskHandle]]:
    driver = RawExecDriver({"enabled": True})
    task = new_task(sh("sleep 300"), env={"PATH": "/usr/bin:/bin", **(env or {})})
    handle = await driver.start(task)
    try:
        yield driver, handle
    finally:
        await driver.stop(handle, timeout_s=2)
        await driver.destroy(handle)


def test_output_and_exit_code_come_back_from_the_task_environment(make_task: MakeTask) -> None:  # noqa: F811
    async def scenario() -> None:
        async with started(make_task, {"GREETING": "hello"}) as (driver, handle):
            sessions = ExecSessions()
            sid = await sessions.start(driver, handle, ["/bin/sh", "-c", 'echo "$GREETING"; pwd; echo oops >&2; exit 3'])
            out, err, code = await run_to_end(sessions, sid)
            cwd = handle.state["cwd"]
            assert (out, err, code) == (f"hello\n{cwd}\n".encode(), b"oops\n", 3)
            assert len(sessions) == 0  # ended with its output taken
            with pytest.raises(NotFound, match="no exec session"):
                await sessions.io(sid)

    asyncio.run(scenario())


def test_stdin_reaches_the_command_and_closing_it_ends_cat(make_task: MakeTask) -> None:  # noqa: F811
    async def scenario() -> None:
        async with started(make_task) as (driver, handle):
            sessions = ExecSessions()
            sid = await sessions.start(driver, handle, ["cat"])
            assert await read_until(sessions, sid, b"first line\n", stdin=b"first line\n") == b"first line\n"
            out, err, code = await run_to_end(sessions, sid, stdin=b"second", close_stdin=True)
            assert (out, err, code) == (b"second", b"", 0)

    asyncio.run(scenario())


def test_a_terminal_has_the_callers_size_and_follows_a_resize(make_task: MakeTask) -> None:  # noqa: F811
    async def scenario() -> None:
        async with started(make_task) as (driver, handle):
            sessions = ExecSessions()
            sid = await sessions.start(driver, handle, ["/bin/sh"], tty=True, height=33, width=101)
            assert b"33 101" in await read_until(sessions, sid, b"33 101\r\n", stdin=b"stty size\n")
            await read_until(sessions, sid, b"40 120\r\n", height=40, width=120, stdin=b"stty size\n")
            _, err, code = await run_to_end(sessions, sid, stdin=b"exit 7\n")
            assert err == b"" and code == 7

            # The pty is the command's controlling terminal: /dev/tty opens, a shell has job control.
            sid = await sessions.start(driver, handle, ["/bin/sh", "-c", "test -t 0 && exec 3</dev/tty && echo ctty"],
                                       tty=True)
            assert (await run_to_end(sessions, sid))[0].strip() == b"ctty"

    asyncio.run(scenario())


def test_an_idle_session_is_killed(make_task: MakeTask) -> None:  # noqa: F811
    async def scenario() -> None:
        async with started(make_task) as (driver, handle):
            sessions = ExecSessions(idle_timeout_s=0.5)
            sid = await sessions.start(driver, handle, ["/bin/sh", "-c", "echo $$; exec sleep 300"])
            pid = int((await read_until(sessions, sid, b"\n")).strip())
            assert psutil.pid_exists(pid)
            deadline = time.monotonic() + DEADLINE_S
            while len(sessions) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)  # a real process: the idle timer is the loop's own
            with pytest.raises(NotFound):
                await sessions.io(sid)
            while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                assert time.monotonic() < deadline, "the idle command was not killed"
                await asyncio.sleep(0.05)

    asyncio.run(scenario())


def test_limits_and_refusals(make_task: MakeTask) -> None:  # noqa: F811
    async def scenario() -> None:
        async with started(make_task) as (driver, handle):
            sessions = ExecSessions(max_sessions=1)
            with pytest.raises(InvalidInput, match="needs a command"):
                await sessions.start(driver, handle, [])
            with pytest.raises(DriverError, match="no-such-command"):
                await sessions.start(driver, handle, ["no-such-command"])
            sid = await sessions.start(driver, handle, ["sleep", "300"])
            with pytest.raises(Unavailable, match="1 exec sessions"):
                await sessions.start(driver, handle, ["true"])
            await sessions.close_all()
            assert len(sessions) == 0
            with pytest.raises(NotFound):
                await sessions.io(sid)
            await driver.stop(handle, timeout_s=2)
            with pytest.raises(DriverError, match="not running"):
                await sessions.start(driver, handle, ["true"])

    asyncio.run(scenario())


# ---- docker ---------------------------------------------------------------------------------------


def test_docker_exec_streams_output_input_and_terminal_size(
        make_task: MakeTask, docker_test_image: str, docker_engine: docker.DockerClient) -> None:  # noqa: F811
    async def scenario() -> None:
        driver = DockerDriver({})
        task = make_task({"image": docker_test_image, "command": "sleep", "args": ["300"]})
        handle = await driver.start(task)
        try:
            sessions = ExecSessions()
            sid = await sessions.start(driver, handle, ["sh", "-c", "echo out; echo err >&2; exit 4"])
            assert await run_to_end(sessions, sid) == (b"out\n", b"err\n", 4)

            sid = await sessions.start(driver, handle, ["cat"])
            assert await read_until(sessions, sid, b"ping\n", stdin=b"ping\n") == b"ping\n"
            assert await run_to_end(sessions, sid, close_stdin=True) == (b"", b"", 0)

            sid = await sessions.start(driver, handle, ["sh"], tty=True, height=25, width=90)
            await read_until(sessions, sid, b"25 90", stdin=b"stty size\n")
            await read_until(sessions, sid, b"50 132", height=50, width=132, stdin=b"stty size\n")
            assert (await run_to_end(sessions, sid, stdin=b"exit 5\n"))[2] == 5

            # A session closed while its command runs (the user left): the command is killed.
            sid = await sessions.start(driver, handle, ["sleep", "301"])
            container = docker_engine.containers.get(handle.state["container_id"])
            deadline = time.monotonic() + DEADLINE_S
            while not any("301" in " ".join(p) for p in container.top()["Processes"]):  # exec starts async
                assert time.monotonic() < deadline, "the session's command never started"
                await asyncio.sleep(0.05)
            await sessions.close(sid)
            deadline = time.monotonic() + DEADLINE_S
            while any("301" in " ".join(p) for p in container.top()["Processes"]):
                assert time.monotonic() < deadline, "the closed session's command still runs"
                await asyncio.sleep(0.1)
        finally:
            await driver.stop(handle, timeout_s=2)
            await driver.destroy(handle)
            for container in docker_engine.containers.list(all=True, filters={"name": f"web-{task.alloc_id}"}):
                container.remove(force=True)
            await driver.shutdown()

    asyncio.run(scenario())
