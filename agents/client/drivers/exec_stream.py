"""A command running inside a task for ``alloc exec``: its input, terminal size and output, streamed.

``Driver.exec`` runs a command to completion; an interactive shell needs more: bytes in while it runs,
output out as it comes, the terminal resized, and the exit code at the end. Each driver starts the
command its own way (raw_exec: a process with a pty or pipes; docker: an engine exec over a hijacked
socket) and hands back an ``ExecStream``, which owns the common half: bounded output buffers that the
driver's reader threads fill and ``take`` empties.

Bounds: each buffer holds at most ``max_buffer_bytes``; a reader thread that finds its buffer full
waits (so a command writing faster than the caller reads is slowed down, never a growing heap), and
``take`` hands out at most ``max_chunk_bytes`` per stream per call.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import threading
from dataclasses import dataclass

__all__ = ["ExecOutput", "ExecStream"]

MAX_BUFFER_BYTES = 1 << 20
MAX_CHUNK_BYTES = 256 << 10
READ_BYTES = 32 << 10


@dataclass(frozen=True, slots=True)
class ExecOutput:
    """What ``take`` handed out. ``exited`` is set only once every byte has been handed out."""

    stdout: bytes
    stderr: bytes
    exited: bool
    exit_code: int


class ExecStream(abc.ABC):
    """One running exec. Readers call ``_push``/``_finish`` from their threads; the loop side awaits
    ``wait_output`` and calls ``take``. Subclasses send input, resize and kill."""

    def __init__(self, *, max_buffer_bytes: int = MAX_BUFFER_BYTES, max_chunk_bytes: int = MAX_CHUNK_BYTES) -> None:
        assert max_buffer_bytes > 0 and max_chunk_bytes > 0
        self._loop = asyncio.get_running_loop()
        self._max_buffer = max_buffer_bytes
        self._max_chunk = max_chunk_bytes
        self._buffers = {"stdout": bytearray(), "stderr": bytearray()}
        self._room = threading.Condition()
        self._changed = asyncio.Event()
        self._exit_code: int | None = None
        self._closed = False

    # ---- the reader threads' side -----------------------------------------------------------------

    def _push(self, stream: str, data: bytes) -> None:
        """Appends ``data``, waiting while the buffer is full (unless the stream was closed)."""
        with self._room:
            buffer = self._buffers[stream]
            while len(buffer) >= self._max_buffer and not self._closed:
                self._room.wait(timeout=1.0)
            if self._closed:
                return
            buffer += data
        self._wake()

    def _finish(self, exit_code: int) -> None:
        """The command has exited and its output has been read to the end."""
        with self._room:
            self._exit_code = exit_code
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits any more
            self._loop.call_soon_threadsafe(self._changed.set)

    # ---- the loop's side --------------------------------------------------------------------------

    @property
    def exited(self) -> bool:
        return self._exit_code is not None

    async def wait_output(self, timeout_s: float) -> None:
        """Returns once there is output or an exit to take, or after ``timeout_s``."""
        if timeout_s <= 0 or self._pending():
            return
        self._changed.clear()
        if self._pending():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout_s)

    def _pending(self) -> bool:
        with self._room:
            return self._exit_code is not None or any(self._buffers.values())

    def take(self) -> ExecOutput:
        """Hands out (and forgets) up to ``max_chunk_bytes`` of each stream."""
        with self._room:
            out = {}
            for name, buffer in self._buffers.items():
                out[name] = bytes(buffer[: self._max_chunk])
                del buffer[: self._max_chunk]
            drained = not any(self._buffers.values())
            exit_code = self._exit_code
            self._room.notify_all()
        exited = exit_code is not None and drained
        return ExecOutput(out["stdout"], out["stderr"], exited, exit_code if exited and exit_code is not None else 0)

    def close(self) -> None:
        """Lets go of the buffers; reader threads blocked on a full buffer drop what they have."""
        with self._room:
            self._closed = True
            for buffer in self._buffers.values():
                buffer.clear()
            self._room.notify_all()

    # ---- what each driver provides ----------------------------------------------------------------

    @abc.abstractmethod
    async def write(self, data: bytes) -> None:
        """Sends ``data`` to the command's stdin."""

    @abc.abstractmethod
    async def close_stdin(self) -> None:
        """The caller has no more input: the command reads end of file."""

    @abc.abstractmethod
    async def resize(self, height: int, width: int) -> None:
        """The caller's terminal changed size (only meaningful with a tty)."""

    @abc.abstractmethod
    async def kill(self) -> None:
        """Kills the command (and what it started) and frees what the stream holds."""
