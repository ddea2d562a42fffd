"""``ExecConsumer`` at ``/v1/client/allocation/<id>/exec``: Nomad's ``alloc exec`` over a WebSocket.

Query: ``task`` (may be left out when the group has one task), ``command`` (a JSON list such as
``["/bin/sh"]``), ``tty`` (``true``/``false``). Frames are Nomad's, JSON text::

    in:  {"stdin": {"data": "<base64>"}}   {"stdin": {"close": true}}   {"tty_size": {"height": H, "width": W}}
    out: {"stdout": {"data": "<base64>"}}  {"stderr": {"data": "<base64>"}}
         {"exited": true, "result": {"exit_code": N}}   then the socket closes (1000)

Authentication: the dashboard session's token, an ``X-Nomad-Token`` header, or, as Nomad's CLI sends it,
a first frame ``{"version": 1, "auth_token": "<secret>"}``. When neither the session nor the header
names a token and ACL is on, the consumer waits (bounded) for that first frame before starting anything.
A browser's Origin must be this site's (as ``LiveConsumer``). The token needs ``alloc-exec`` in the
allocation's namespace, and also ``alloc-node-exec`` for a raw_exec task (it runs on the host as the
client's user), checked before the command starts, and again every ``REAUTH_S``: a revoked token ends
its sessions within that time (the command is killed).

Errors close the socket with 4000 + the HTTP status the API would answer (4400 bad input, 4401 unknown
token, 4403 refused or foreign origin, 4404 no such allocation or task, 4500 anything else, 4503
unavailable) and the message as the close reason.

The client runs the command (``ClientAllocations.ExecStart``); two loops drive it: one waits for output
(``ExecIO`` with ``WaitMs``), one carries what the user types as it comes (``ExecIO`` without waiting).
Their answers carry a sequence number and are sent to the browser in that order. When the socket closes
first, the command is killed (``ExecClose``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from agents.client.rpc_endpoints import (
    Empty,
    ExecCloseRequest,
    ExecIORequest,
    ExecIOResponse,
    ExecStartRequest,
    ExecStartResponse,
)
from agents.server.endpoints import AllocSpecificRequest, SingleAllocResponse
from cluster.acl import ACL, NamespaceCapability
from cluster.errors import CaravanError, InvalidInput, NotFound, PermissionDenied, Unavailable
from cluster.structs import Allocation
from webui.acl import authenticate
from webui.api.auth import PERMISSION_DENIED, acl_enabled
from webui.api.client_allocs import client_call, node_address
from webui.gateway import gateway
from webui.live.consumers import origin_allowed
from webui.ui.access import SESSION_ACCESSOR_KEY, session_context

__all__ = ["ExecConsumer", "close_code"]

log = logging.getLogger(__name__)

AUTH_FRAME_WAIT_S = 10.0
OUTPUT_WAIT_MS = 5_000
CALL_TIMEOUT_S = 10.0
MAX_FRAME_CHARS = 1 << 20
MAX_REASON_BYTES = 120
REAUTH_S = 30.0
CLOSE_NORMAL = 1000


def close_code(error: BaseException) -> int:
    """The close code of an error: 4000 + the HTTP status the API maps it to."""
    if isinstance(error, PermissionDenied):
        return 4403
    if isinstance(error, NotFound):
        return 4404
    if isinstance(error, InvalidInput):
        return 4400
    if isinstance(error, Unavailable):
        return 4503
    return 4500


def _reason(message: str) -> str:
    """A close reason fits in a control frame: at most 123 bytes of UTF-8."""
    encoded = message.encode()[:MAX_REASON_BYTES]
    return encoded.decode(errors="ignore")


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    return next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == name), None)


def _query(scope: dict[str, Any]) -> tuple[str, list[str], bool]:
    """(task, command, tty) from the query string; InvalidInput says what is wrong."""
    params = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    task = (params.get("task") or [""])[0]
    raw_command = (params.get("command") or [""])[0]
    try:
        command = json.loads(raw_command) if raw_command else None
    except ValueError:
        command = None
    if not isinstance(command, list) or not command or not all(isinstance(c, str) for c in command) \
            or not command[0]:
        raise InvalidInput('command must be a JSON list of strings such as ["/bin/sh"]')
    tty = (params.get("tty") or ["false"])[0].strip().lower() in ("1", "true", "yes")
    return task, command, tty


def _task_driver(alloc: Allocation, task: str) -> tuple[str, str]:
    """(task name, driver) of the allocation's task ``task`` ("" when its group has one task)."""
    job = alloc.Job
    group = next((g for g in (job.TaskGroups or []) if g.Name == alloc.TaskGroup), None) if job else None
    tasks = list(group.Tasks or []) if group is not None else []
    if not task:
        if len(tasks) != 1:
            raise InvalidInput(f"allocation {alloc.ID[:8]} has {len(tasks)} tasks: name one with ?task=")
        return tasks[0].Name, tasks[0].Driver
    found = next((t for t in tasks if t.Name == task), None)
    if found is None:
        raise NotFound(f'allocation {alloc.ID[:8]} has no task "{task}"')
    return found.Name, found.Driver


def _check_exec(acl: ACL | None, alloc: Allocation | None, driver: str) -> None:
    if acl is None:
        return
    namespace = (alloc.Namespace if alloc is not None else "") or "default"
    allowed = acl.allow_namespace_op(namespace, NamespaceCapability.ALLOC_EXEC)
    if allowed and driver == "raw_exec":
        allowed = acl.allow_namespace_op(namespace, NamespaceCapability.ALLOC_NODE_EXEC)
    if not allowed:
        raise PermissionDenied(PERMISSION_DENIED)


def _scope_acl(scope: dict[str, Any], secret: str | None) -> ACL | None:
    """The token's ACL: ``secret`` (the first frame's) or else the session's or the header's."""
    if not acl_enabled():
        return None
    if secret is None:
        session = scope.get("session")
        if session is not None and session.get(SESSION_ACCESSOR_KEY):
            return session_context(session).acl
        secret = _header(scope, b"x-nomad-token")
    return authenticate(secret or None).acl


def _has_scope_token(scope: dict[str, Any]) -> bool:
    session = scope.get("session")
    return bool((session is not None and session.get(SESSION_ACCESSOR_KEY)) or _header(scope, b"x-nomad-token"))


class ExecConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    """See the module docstring."""

    async def connect(self) -> None:
        self._tasks: list[asyncio.Task[None]] = []
        self._input: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._pending: dict[int, ExecIOResponse] = {}
        self._next_seq = 1
        self._session: tuple[str, str] | None = None  # (client address, session id)
        self._done = False
        self._send_lock = asyncio.Lock()
        self._auth_wait: asyncio.Task[None] | None = None
        await self.accept()
        origin = _header(self.scope, b"origin")
        if origin is not None and not origin_allowed(self.scope):
            await self._fail(PermissionDenied("this origin may not open exec sessions"))
            return
        try:
            self._request = _query(self.scope)
        except InvalidInput as e:
            await self._fail(e)
            return
        if acl_enabled() and not _has_scope_token(self.scope):
            self._auth_wait = asyncio.create_task(self._anonymous_after_wait())
            return
        await self._begin(None)

    async def _anonymous_after_wait(self) -> None:
        """No token came in the first frame in time: go on as the anonymous token."""
        await asyncio.sleep(AUTH_FRAME_WAIT_S)
        self._auth_wait = None
        await self._begin(None)

    async def disconnect(self, code: int) -> None:
        self._done = True
        for task in [*getattr(self, "_tasks", []), getattr(self, "_auth_wait", None)]:
            if task is not None:
                task.cancel()
        session = getattr(self, "_session", None)
        if session is not None:
            self._session = None
            with contextlib.suppress(CaravanError):
                await client_call(session[0], "ClientAllocations.ExecClose", ExecCloseRequest(SessionID=session[1]),
                                  Empty, timeout_s=CALL_TIMEOUT_S)

    # ---- starting ---------------------------------------------------------------------------------

    async def _begin(self, secret: str | None) -> None:
        """Authenticates, checks the token's rights, and starts the command on the allocation's client."""
        task, command, tty = self._request
        try:
            try:
                acl = await database_sync_to_async(_scope_acl)(self.scope, secret)
            except PermissionDenied as e:
                raise _BadToken(str(e)) from None
            alloc_id = self.scope["url_route"]["kwargs"]["alloc_id"]
            reply = await gateway().call("Alloc.Get", AllocSpecificRequest(AllocID=alloc_id), SingleAllocResponse)
            alloc = reply.Alloc
            _check_exec(acl, alloc, "")
            if alloc is None:
                raise NotFound("Unknown allocation")
            task, driver = _task_driver(alloc, task)
            _check_exec(acl, alloc, driver)
            self._grant = (secret, alloc, driver)
            address = await asyncio.to_thread(node_address, alloc.NodeID)
            started = await client_call(address, "ClientAllocations.ExecStart", ExecStartRequest(
                AllocID=alloc.ID, Task=task, Cmd=command, Tty=tty), ExecStartResponse, timeout_s=CALL_TIMEOUT_S)
        except _BadToken as e:
            await self.close(code=4401, reason=_reason(str(e)))
            return
        except CaravanError as e:
            await self._fail(e)
            return
        self._session = (address, started.SessionID)
        self._tasks = [asyncio.create_task(self._read_output()), asyncio.create_task(self._write_input())]
        if acl_enabled():
            self._tasks.append(asyncio.create_task(self._check_token_periodically()))

    async def _check_token_periodically(self) -> None:
        """Ends the session (4401, 4403) once its token is revoked, expired or loses the right to exec."""
        secret, alloc, driver = self._grant
        while not self._done:
            await asyncio.sleep(REAUTH_S)
            try:
                acl = await database_sync_to_async(_scope_acl)(self.scope, secret)
            except PermissionDenied as e:
                self._done = True
                await self.close(code=4401, reason=_reason(str(e)))
                return
            try:
                _check_exec(acl, alloc, driver)
            except PermissionDenied as e:
                await self._fail(e)
                return

    async def _fail(self, error: CaravanError) -> None:
        self._done = True
        await self.close(code=close_code(error), reason=_reason(str(error)))

    # ---- frames from the user ---------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        if self._done:
            return
        try:
            frame = _frame(text_data)
        except InvalidInput as e:
            await self._fail(e)
            return
        if self._auth_wait is not None:
            self._auth_wait.cancel()
            self._auth_wait = None
            token = frame.get("auth_token")
            await self._begin(token if isinstance(token, str) else "")
            if "auth_token" in frame:
                return
        self._input.put_nowait(frame)

    # ---- the command's two directions -------------------------------------------------------------

    async def _write_input(self) -> None:
        """Carries what the user sends, batched while a call is on its way."""
        while not self._done:
            frames = [await self._input.get()]
            while not self._input.empty():
                frames.append(self._input.get_nowait())
            if self._done or self._session is None:
                return
            try:
                args = _io_request(self._session[1], frames)
            except InvalidInput as e:
                await self._fail(e)
                return
            if args is None:
                continue
            await self._call_io(args)

    async def _read_output(self) -> None:
        while not self._done and self._session is not None:
            await self._call_io(ExecIORequest(SessionID=self._session[1], WaitMs=OUTPUT_WAIT_MS))

    async def _call_io(self, args: ExecIORequest) -> None:
        if self._session is None:
            return  # ended meanwhile (exited, failed or closed)
        try:
            reply = await client_call(self._session[0], "ClientAllocations.ExecIO", args, ExecIOResponse,
                                      timeout_s=CALL_TIMEOUT_S + args.WaitMs / 1000)
        except CaravanError as e:
            if not self._done:
                self._session = None if isinstance(e, NotFound) else self._session
                await self._fail(e)
            return
        await self._deliver(reply)

    async def _deliver(self, reply: ExecIOResponse) -> None:
        """Sends answers in their sequence, whichever loop got them."""
        self._pending[reply.Seq] = reply
        async with self._send_lock:
            await self._send_in_order()

    async def _send_in_order(self) -> None:
        while self._next_seq in self._pending and not self._done:
            answer = self._pending.pop(self._next_seq)
            self._next_seq += 1
            for name, data in (("stdout", answer.Stdout), ("stderr", answer.Stderr)):
                if data:
                    await self.send(text_data=json.dumps({name: {"data": base64.b64encode(data).decode()}}))
            if answer.Exited:
                self._done = True
                self._session = None
                await self.send(text_data=json.dumps({"exited": True, "result": {"exit_code": answer.ExitCode}}))
                await self.close(code=CLOSE_NORMAL)


class _BadToken(Exception):
    """The token is unknown or expired (4401, not 4403)."""


def _frame(text: str | None) -> dict[str, Any]:
    if text is None or len(text) > MAX_FRAME_CHARS:
        raise InvalidInput(f"frames are JSON text of at most {MAX_FRAME_CHARS} characters")
    try:
        frame = json.loads(text)
    except ValueError:
        raise InvalidInput("frames are JSON objects") from None
    if not isinstance(frame, dict):
        raise InvalidInput("frames are JSON objects")
    return frame


def _io_request(session_id: str, frames: list[dict[str, Any]]) -> ExecIORequest | None:
    """One ``ExecIO`` call for a batch of frames (None when they carry nothing to send)."""
    stdin, close, height, width = bytearray(), False, 0, 0
    for frame in frames:
        data = frame.get("stdin")
        if isinstance(data, dict):
            if isinstance(data.get("data"), str):
                try:
                    stdin += base64.b64decode(data["data"], validate=True)
                except (binascii.Error, ValueError):
                    raise InvalidInput("stdin data must be base64") from None
            close = close or data.get("close") is True
        size = frame.get("tty_size")
        if isinstance(size, dict):
            h, w = size.get("height"), size.get("width")
            if not isinstance(h, int) or not isinstance(w, int) or not (0 < h < 10_000 and 0 < w < 10_000):
                raise InvalidInput("tty_size needs a height and a width")
            height, width = h, w
    if not stdin and not close and not height:
        return None
    return ExecIORequest(SessionID=session_id, Stdin=bytes(stdin), CloseStdin=close, Height=height, Width=width)
