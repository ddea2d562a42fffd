"""raw_exec's interactive exec: a process in the task's directory and environment, with a pseudo-terminal
(``tty``) or with pipes, streamed through ``ExecStream``.

With a tty the process gets the pty's slave as stdin, stdout and stderr (so stderr arrives as stdout, as
in a terminal) and as its controlling terminal, the initial size is set before it starts (``stty size`` sees it at once), and ``resize``
is ``TIOCSWINSZ`` on the master, which the kernel turns into a SIGWINCH for the foreground process.
Closing stdin on a terminal is typing the end-of-file character (^D), as a user would.

The process runs in a session of its own: ``kill`` kills its whole process group.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import struct
import subprocess
import termios
import threading
from collections.abc import Mapping, Sequence
from typing import IO, Any

from agents.client.drivers.base import DriverError
from agents.client.drivers.exec_stream import READ_BYTES, ExecStream

__all__ = ["RawExecStream", "start_raw_exec_stream"]

EOF_CHAR = b"\x04"


def _set_size(fd: int, height: int, width: int) -> None:
    if height > 0 and width > 0:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


def _take_terminal() -> None:
    """In the child, after its ``setsid``: the pty on stdin becomes its controlling terminal, so a shell
    has job control and ^C reaches the foreground process as SIGINT. (Only an ioctl: safe after fork.)"""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _exit_code(returncode: int) -> int:
    """A process killed by signal N reports 128+N, as a shell does."""
    return 128 - returncode if returncode < 0 else returncode


class RawExecStream(ExecStream):
    """See the module docstring. Made by ``start_raw_exec_stream``."""

    def __init__(self, proc: subprocess.Popen[bytes], master: int | None) -> None:
        super().__init__()
        self._proc = proc
        self._master = master  # the pty's master, or None with pipes
        self._master_lock = threading.Lock()
        self._stdin_closed = False

    def _start_readers(self) -> None:
        if self._master is not None:
            readers = [threading.Thread(target=self._read_pty, name="exec pty", daemon=True)]
        else:
            assert self._proc.stdout is not None and self._proc.stderr is not None
            readers = [threading.Thread(target=self._read_pipe, args=(self._proc.stdout, "stdout"), daemon=True),
                       threading.Thread(target=self._read_pipe, args=(self._proc.stderr, "stderr"), daemon=True)]
        for reader in readers:
            reader.start()
        threading.Thread(target=self._await_exit, args=(readers,), name="exec wait", daemon=True).start()

    def _read_pty(self) -> None:
        assert self._master is not None
        while True:
            try:
                data = os.read(self._master, READ_BYTES)
            except OSError:  # EIO: every holder of the terminal's slave has gone
                break
            if not data:
                break
            self._push("stdout", data)

    def _read_pipe(self, pipe: IO[bytes], stream: str) -> None:
        with pipe:
            while data := pipe.read1(READ_BYTES):  # type: ignore[attr-defined]
                self._push(stream, data)

    def _await_exit(self, readers: list[threading.Thread]) -> None:
        for reader in readers:
            reader.join()
        returncode = self._proc.wait()
        with self._master_lock:
            if self._master is not None:
                os.close(self._master)
                self._master = None
        if self._proc.stdin is not None:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
        self._finish(_exit_code(returncode))

    async def write(self, data: bytes) -> None:
        if not data:
            return
        if self._stdin_closed:
            raise DriverError("stdin of the exec session is closed")
        try:
            await asyncio.to_thread(self._write_blocking, data)
        except (BrokenPipeError, OSError, ValueError):
            if not self.exited:
                raise DriverError("the command no longer reads its input") from None

    def _write_blocking(self, data: bytes) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.write(data)
            self._proc.stdin.flush()
            return
        with self._master_lock:
            master = self._master
            if master is None:
                raise OSError("the terminal is closed")
            view = memoryview(data)
            while view:
                view = view[os.write(master, view):]

    async def close_stdin(self) -> None:
        if self._stdin_closed:
            return
        if self._proc.stdin is not None:
            self._stdin_closed = True
            with contextlib.suppress(OSError):
                await asyncio.to_thread(self._proc.stdin.close)
            return
        with contextlib.suppress(DriverError):
            await self.write(EOF_CHAR)
        self._stdin_closed = True

    async def resize(self, height: int, width: int) -> None:
        with self._master_lock:
            if self._master is not None:
                with contextlib.suppress(OSError):
                    _set_size(self._master, height, width)

    async def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        self.close()


async def start_raw_exec_stream(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str,
    tty: bool,
    height: int,
    width: int,
    popen_kwargs: Mapping[str, Any],
) -> RawExecStream:
    """Starts ``argv``; ``DriverError`` when it cannot be started (the message says why)."""
    options: dict[str, Any] = {"env": dict(env), "cwd": cwd, "start_new_session": True, **popen_kwargs}
    if tty:
        master, slave = os.openpty()
        try:
            _set_size(slave, height, width)
            proc = subprocess.Popen(list(argv), stdin=slave, stdout=slave, stderr=slave,
                                    preexec_fn=_take_terminal, **options)
        except OSError as e:
            os.close(master)
            raise DriverError(f"exec of {argv[0]} failed: {e.strerror or e}") from None
        finally:
            os.close(slave)
        stream = RawExecStream(proc, master)
    else:
        try:
            proc = subprocess.Popen(list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, **options)
        except OSError as e:
            raise DriverError(f"exec of {argv[0]} failed: {e.strerror or e}") from None
        stream = RawExecStream(proc, None)
    stream._start_readers()
    return stream
