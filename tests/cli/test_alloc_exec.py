"""``caravan alloc exec`` end to end: the installed console script against a real dev agent (its web
application's exec WebSocket, its client's raw_exec task), as a user runs it from a shell."""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.devagent import CARAVAN, DevAgent, clean_env, dev_agent

pytestmark = pytest.mark.slow

TIMEOUT_S = 30


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevAgent]:
    with dev_agent(Path(tmp_path_factory.mktemp("exec-cli"))) as running:
        yield running


@pytest.fixture(scope="module")
def alloc_id(agent: DevAgent) -> str:
    return agent.run_job("exec-cli")[0]


def caravan(agent: DevAgent, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([CARAVAN, "alloc", "exec", "-address", agent.http, *args], input=stdin,
                          capture_output=True, timeout=TIMEOUT_S, env=clean_env())


def test_output_goes_through_and_the_exit_code_is_the_commands(agent: DevAgent, alloc_id: str) -> None:
    done = caravan(agent, alloc_id, "/bin/sh", "-c", "echo hi; echo oops >&2; exit 3")
    assert (done.returncode, done.stdout, done.stderr) == (3, b"hi\n", b"oops\n")
    done = caravan(agent, "-task", "t", alloc_id[:8], "/bin/sh", "-c", "echo $NOMAD_TASK_NAME")
    assert (done.returncode, done.stdout) == (0, b"t\n")
    done = caravan(agent, "-job", "exec-cli", "/bin/sh", "-c", "echo $NOMAD_JOB_NAME")
    assert (done.returncode, done.stdout) == (0, b"exec-cli\n")


def test_piped_stdin_reaches_the_command(agent: DevAgent, alloc_id: str) -> None:
    done = caravan(agent, "-i", alloc_id, "cat", stdin=b"line one\nline two\n")
    assert (done.returncode, done.stdout) == (0, b"line one\nline two\n")
    done = caravan(agent, "-i=false", alloc_id, "cat", stdin=b"not sent")
    assert (done.returncode, done.stdout) == (0, b"")


def test_a_terminal_session(agent: DevAgent, alloc_id: str) -> None:
    """On a real terminal (a pty here): -t is the default, keys go through and the size is the window's."""
    master, slave = os.openpty()
    os.set_blocking(master, False)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    proc = subprocess.Popen([CARAVAN, "alloc", "exec", "-address", agent.http, alloc_id, "/bin/sh"],
                            stdin=slave, stdout=slave, stderr=slave, env=clean_env(), start_new_session=True)
    os.close(slave)
    seen = bytearray()

    def read_until(needle: bytes) -> None:
        deadline = time.monotonic() + TIMEOUT_S
        while needle not in seen:
            assert time.monotonic() < deadline and proc.poll() is None, f"no {needle!r} in {bytes(seen)!r}"
            if select.select([master], [], [], 0.2)[0]:
                try:
                    seen.extend(os.read(master, 4096))
                except OSError:
                    break

    try:
        read_until(b"# ")  # the remote shell's prompt
        os.write(master, b"stty size\r")
        read_until(b"30 100")
        os.write(master, b"exit 6\r")
        assert proc.wait(TIMEOUT_S) == 6
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


def test_errors_say_what(agent: DevAgent, alloc_id: str) -> None:
    done = caravan(agent, "-task", "nope", alloc_id, "true")
    assert done.returncode == 1 and b'no task "nope"' in done.stderr
    done = caravan(agent, alloc_id)
    assert done.returncode == 1 and b"needs a command" in done.stderr
    done = caravan(agent, alloc_id, "/no/such/command")
    assert done.returncode == 1 and b"/no/such/command" in done.stderr
