"""Small process helpers shared by raw_exec: waiting for any process's exit without being its parent,
and running a command to completion (``exec``) with or without a terminal."""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from typing import Any

from agents.client.drivers.base import DriverError, ExecResult
from agents.client.drivers.procstat import ProcessIdentity

__all__ = ["process_exit", "run_to_completion"]

EXEC_READ_BYTES = 64 * 1024


async def process_exit(identity: ProcessIdentity) -> None:
    """Returns once the process has exited (or is gone). Works for processes this one is not the
    parent of: a pidfd becomes readable when its process exits, whoever its parent is."""
    try:
        fd = os.pidfd_open(identity.pid)
    except ProcessLookupError:
        fd = -1
    try:
        # Checked after opening: if the pid was recycled before, the fd names the stranger.
        if fd >= 0 and identity.process() is not None:
            loop = asyncio.get_running_loop()
            ready: asyncio.Future[None] = loop.create_future()

            def on_exit() -> None:
                if not ready.done():
                    ready.set_result(None)

            loop.add_reader(fd, on_exit)
            try:
                await ready
            finally:
                loop.remove_reader(fd)
    finally:
        if fd >= 0:
            os.close(fd)


def _run_pipes(argv: Sequence[str], options: dict[str, Any], timeout_s: float) -> ExecResult:
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **options) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise DriverError(f"exec of {argv[0]} timed out after {timeout_s:g}s") from None
        return ExecResult(proc.returncode, stdout, stderr)


def _run_tty(argv: Sequence[str], options: dict[str, Any], timeout_s: float) -> ExecResult:
    """Runs with a pseudo-terminal as stdin, stdout and stderr; the output is what the terminal got."""
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen(argv, stdout=slave, stderr=slave, **{**options, "stdin": slave})
    except BaseException:
        os.close(master)
        raise
    finally:
        os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            remaining = deadline - time.monotonic()
            readable, _, _ = select.select([master], [], [], max(remaining, 0.0))
            if not readable:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise DriverError(f"exec of {argv[0]} timed out after {timeout_s:g}s")
            try:
                data = os.read(master, EXEC_READ_BYTES)
            except OSError:  # EIO: every holder of the terminal has gone
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
    return ExecResult(proc.wait(), b"".join(chunks))


def run_to_completion(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str,
    tty: bool,
    timeout_s: float,
    popen_kwargs: Mapping[str, Any],
) -> ExecResult:
    """Blocking: runs ``argv`` in a session of its own (a timeout kills all it started)."""
    options: dict[str, Any] = {"env": dict(env), "cwd": cwd, "start_new_session": True, **popen_kwargs}
    if tty:
        return _run_tty(argv, options, timeout_s)
    return _run_pipes(argv, {**options, "stdin": subprocess.DEVNULL}, timeout_s)
