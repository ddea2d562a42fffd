"""docker's interactive exec: an engine exec (``exec_create`` + ``exec_start(socket=True)``) whose hijacked
connection carries stdin one way and the output the other, streamed through ``ExecStream``.

Without a tty the engine multiplexes stdout and stderr on the connection (8-byte frame headers, read
with the SDK's ``frames_iter``); with one everything is the terminal's output. Closing stdin half-closes
the connection (the command reads end of file, its output still comes back). ``resize`` is the engine's
``exec_resize``. The engine cannot kill an exec, so ``kill`` signals its process by the host pid the
engine reports, and closes the connection. While stdin is attached the engine does not close the
connection when the command exits, so a watcher polls the exec's state for the exit code.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import threading
import time
from typing import Any

from docker.utils.socket import STDERR, frames_iter

from agents.client.drivers.base import DriverError
from agents.client.drivers.docker_engine import ENGINE_ERRORS, Engine, engine_error
from agents.client.drivers.exec_stream import ExecStream

__all__ = ["DockerExecStream", "start_docker_exec_stream"]

EXIT_POLL_S = 0.2
DRAIN_S = 0.5


class DockerExecStream(ExecStream):
    """See the module docstring. Made by ``start_docker_exec_stream``."""

    def __init__(self, engine: Engine, exec_id: str, conn: Any, tty: bool) -> None:
        super().__init__()
        self._engine = engine
        self._exec_id = exec_id
        self._conn = conn  # the SDK's socket object (a SocketIO over the engine connection)
        self._raw: socket.socket = getattr(conn, "_sock", conn)
        self._tty = tty
        self._lock = threading.Lock()
        self._closed_conn = False

    def _start_threads(self) -> None:
        reader = threading.Thread(target=self._read, name=f"exec {self._exec_id[:12]}", daemon=True)
        reader.start()
        threading.Thread(target=self._watch, args=(reader,), name=f"exec wait {self._exec_id[:12]}",
                         daemon=True).start()

    def _read(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            for stream, data in frames_iter(self._conn, self._tty):
                if data:
                    self._push("stderr" if stream == STDERR else "stdout", data)

    def _watch(self, reader: threading.Thread) -> None:
        """Waits for the command's exit: the engine keeps the connection open while stdin is attached,
        so the end of the output does not say it. The output already sent is drained, then closed."""
        exit_code = self._engine_exit_code()
        reader.join(DRAIN_S)
        self._close_conn()
        reader.join()
        self._finish(exit_code)

    def _engine_exit_code(self) -> int:
        while True:
            try:
                info = self._engine.api.exec_inspect(self._exec_id)
            except ENGINE_ERRORS:
                return -1
            if not info.get("Running") and info.get("ExitCode") is not None:
                return int(info["ExitCode"])
            if self._closed_conn:
                return -1
            time.sleep(EXIT_POLL_S)

    def _close_conn(self) -> None:
        with self._lock:
            if self._closed_conn:
                return
            self._closed_conn = True
        with contextlib.suppress(OSError):
            self._raw.shutdown(socket.SHUT_RDWR)
        for closeable in (self._conn, self._raw, getattr(self._conn, "_response", None)):
            if closeable is not None:
                with contextlib.suppress(OSError, ValueError):
                    closeable.close()

    async def write(self, data: bytes) -> None:
        if not data:
            return
        try:
            await asyncio.to_thread(self._raw.sendall, data)
        except OSError:
            if not self.exited:
                raise DriverError("the command no longer reads its input") from None

    async def close_stdin(self) -> None:
        with contextlib.suppress(OSError):
            self._raw.shutdown(socket.SHUT_WR)

    async def resize(self, height: int, width: int) -> None:
        if not self._tty or height <= 0 or width <= 0:
            return
        try:
            await asyncio.to_thread(self._engine.api.exec_resize, self._exec_id, height=height, width=width)
        except ENGINE_ERRORS as e:
            if not self.exited:
                raise DriverError(f"cannot resize the exec's terminal: {engine_error(e)}") from None

    async def kill(self) -> None:
        with contextlib.suppress(*ENGINE_ERRORS):
            info = await asyncio.to_thread(self._engine.api.exec_inspect, self._exec_id)
            pid = int(info.get("Pid") or 0)
            if info.get("Running") and pid > 0:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        self._close_conn()
        self.close()


def _create_and_start(engine: Engine, container_id: str, cmd: list[str], tty: bool) -> tuple[str, Any]:
    try:
        exec_id = engine.api.exec_create(container_id, cmd, stdin=True, stdout=True, stderr=True, tty=tty)["Id"]
        conn = engine.api.exec_start(exec_id, tty=tty, socket=True)
    except ENGINE_ERRORS as e:
        raise DriverError(f"exec of {cmd[0]} failed: {engine_error(e)}") from None
    return exec_id, conn


async def start_docker_exec_stream(
    engine: Engine, container_id: str, cmd: list[str], *, tty: bool, height: int, width: int
) -> DockerExecStream:
    """Starts ``cmd`` in the container; ``DriverError`` when the engine refuses (not running, no such
    command...)."""
    exec_id, conn = await asyncio.to_thread(_create_and_start, engine, container_id, cmd, tty)
    stream = DockerExecStream(engine, exec_id, conn, tty)
    stream._start_threads()
    with contextlib.suppress(DriverError):
        await stream.resize(height, width)
    return stream
