"""The client's ``alloc exec`` sessions: commands started in running tasks, driven by short RPC calls.

The web application holds the user's WebSocket; the client holds the process. Between them an exec is
a chain of calls, never an open stream on the RPC connection: ``ExecStart`` starts the command and names
the session; each ``ExecIO`` brings input (and a new terminal size) and takes what the command wrote
since the previous call, waiting up to ``WaitMs`` for something to come. Every answer carries a
sequence number, so a caller that overlaps calls (one waiting for output while another carries a
keystroke) can put the output back in order.

A session ends when its command has exited and the last of its output was taken, or when no call has
come for ``idle_timeout_s`` (the user's browser went away without a word): then the command is killed.
There are at most ``max_sessions`` at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from agents.client.drivers.base import Driver, TaskHandle
from agents.client.drivers.exec_stream import ExecStream
from cluster.errors import CaravanError, InvalidInput, NotFound, Unavailable

__all__ = ["ExecSessions", "SessionOutput"]

IDLE_TIMEOUT_S = 300.0
MAX_SESSIONS = 64
MAX_STDIN_BYTES = 1 << 20
MAX_WAIT_S = 10.0


@dataclass(frozen=True, slots=True)
class SessionOutput:
    """One ``io`` answer: output since the previous one, in order by ``seq`` (1, 2, ...)."""

    seq: int
    stdout: bytes
    stderr: bytes
    exited: bool
    exit_code: int


@dataclass(slots=True)
class _Session:
    id: str
    task_id: str
    stream: ExecStream
    seq: int = 0
    calls: int = 0  # io calls under way: a session is idle only with none
    idle: asyncio.TimerHandle | None = field(default=None)


class ExecSessions:
    """Every exec session of one client agent. Use from the agent's event loop."""

    def __init__(self, *, idle_timeout_s: float = IDLE_TIMEOUT_S, max_sessions: int = MAX_SESSIONS,
                 new_id: Callable[[], str] = lambda: str(uuid.uuid4())) -> None:
        assert idle_timeout_s > 0 and max_sessions > 0
        self.idle_timeout_s = idle_timeout_s
        self.max_sessions = max_sessions
        self._new_id = new_id
        self._sessions: dict[str, _Session] = {}
        self._reaping: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._sessions)

    async def start(self, driver: Driver, handle: TaskHandle, cmd: Sequence[str], *, tty: bool = False,
                    height: int = 0, width: int = 0) -> str:
        """Starts ``cmd`` in the task behind ``handle``; the new session's id."""
        if not cmd or not all(isinstance(part, str) and part for part in cmd[:1]):
            raise InvalidInput("exec needs a command: a non-empty list such as [\"/bin/sh\"]")
        if len(self._sessions) >= self.max_sessions:
            raise Unavailable(f"this client already runs {self.max_sessions} exec sessions; try again later")
        stream = await driver.exec_streaming(handle, list(cmd), tty=tty, height=max(0, height),
                                             width=max(0, width))
        session = _Session(self._new_id(), handle.task_id, stream)
        assert session.id not in self._sessions, "session ids are unique"
        self._sessions[session.id] = session
        self._arm(session)
        return session.id

    async def io(self, session_id: str, *, stdin: bytes = b"", close_stdin: bool = False, height: int = 0,
                 width: int = 0, wait_s: float = 0.0) -> SessionOutput:
        """Sends input and size changes, then takes the output (waiting up to ``wait_s`` for some)."""
        session = self._sessions.get(session_id)
        if session is None:
            raise NotFound(f"no exec session {session_id} on this client (it ended or timed out)")
        if len(stdin) > MAX_STDIN_BYTES:
            raise InvalidInput(f"at most {MAX_STDIN_BYTES} bytes of stdin per call")
        session.calls += 1
        self._disarm(session)
        try:
            if height > 0 and width > 0:
                await session.stream.resize(height, width)
            await session.stream.write(stdin)
            if close_stdin:
                await session.stream.close_stdin()
            await session.stream.wait_output(min(max(0.0, wait_s), MAX_WAIT_S))
            out = session.stream.take()
            session.seq += 1
            answer = SessionOutput(session.seq, out.stdout, out.stderr, out.exited, out.exit_code)
        finally:
            session.calls -= 1
            if session.id in self._sessions:
                self._arm(session)
        if answer.exited:
            self._end(session)
        return answer

    async def close(self, session_id: str) -> None:
        """Ends a session at once, killing its command if it still runs."""
        session = self._sessions.get(session_id)
        if session is not None:
            self._end(session)
            await session.stream.kill()

    async def close_all(self) -> None:
        """The client is stopping: every command started by exec is killed."""
        for session_id in list(self._sessions):
            with contextlib.suppress(CaravanError, OSError):
                await self.close(session_id)
        for task in list(self._reaping):
            with contextlib.suppress(CaravanError, OSError, asyncio.CancelledError):
                await task

    # ---- idle sessions ---------------------------------------------------------------------------

    def _arm(self, session: _Session) -> None:
        self._disarm(session)
        if session.calls == 0:
            loop = asyncio.get_running_loop()
            session.idle = loop.call_later(self.idle_timeout_s, self._expire, session.id)

    @staticmethod
    def _disarm(session: _Session) -> None:
        if session.idle is not None:
            session.idle.cancel()
            session.idle = None

    def _expire(self, session_id: str) -> None:
        session = self._sessions.get(session_id)
        if session is None or session.calls:
            return
        self._end(session)
        task = asyncio.ensure_future(session.stream.kill())
        self._reaping.add(task)
        task.add_done_callback(self._reaping.discard)

    def _end(self, session: _Session) -> None:
        self._disarm(session)
        if self._sessions.get(session.id) is session:
            del self._sessions[session.id]
