"""``alloc exec`` over the WebSocket (``/v1/client/allocation/<id>/exec``) against a real dev agent.

What a user notices: the command's output comes back as Nomad's frames and the socket says how it
exited; what they type and their terminal size reach the command; a token without alloc-exec (and,
for raw_exec, alloc-node-exec) is refused before anything runs, whichever way it is presented; a page
of another site cannot open a session.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psutil
import pytest
from channels.routing import URLRouter
from channels.sessions import SessionMiddlewareStack
from channels.testing import WebsocketCommunicator

from tests.devagent import DevAgent, dev_agent
from webui.acl import DEFAULT_CACHE, policy_upsert, token_create, token_revoke
from webui.gateway import reset_gateway
from webui.routing import websocket_urlpatterns

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ORIGIN = (b"origin", b"http://localhost:4646")
TIMEOUT_S = 20.0


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevAgent]:
    with dev_agent(Path(tmp_path_factory.mktemp("exec-ws"))) as running, pytest.MonkeyPatch.context() as mp:
        mp.setenv("CARAVAN_SERVERS", running.rpc)
        mp.setenv("CARAVAN_CLUSTER_KEY", running.key)
        reset_gateway()
        try:
            yield running
        finally:
            reset_gateway()


@pytest.fixture(scope="module")
def alloc_id(agent: DevAgent) -> str:
    return agent.run_job("exec-target")[0]


@pytest.fixture(autouse=True)
def acl_off(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CARAVAN_ACL", "0")
    DEFAULT_CACHE.clear()
    yield
    DEFAULT_CACHE.clear()


def url(alloc: str, command: list[str], tty: bool = False, task: str = "t") -> str:
    return f"/v1/client/allocation/{alloc}/exec?task={task}&command={quote(json.dumps(command))}&tty={str(tty).lower()}"


def communicator(path: str, *headers: tuple[bytes, bytes]) -> WebsocketCommunicator:
    return WebsocketCommunicator(SessionMiddlewareStack(URLRouter(websocket_urlpatterns)), path, headers=list(headers))


def stdin(data: bytes) -> dict[str, Any]:
    return {"stdin": {"data": base64.b64encode(data).decode()}}


async def session(ws: WebsocketCommunicator, until: bytes = b"") -> tuple[bytes, bytes, int | None, int]:
    """Reads frames until the socket closes (or ``until`` shows in stdout): (stdout, stderr, exit code
    or None, close code or 0)."""
    out, err, exit_code = bytearray(), bytearray(), None
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        message = await ws.receive_output(max(0.1, deadline - time.monotonic()))
        if message["type"] == "websocket.close":
            return bytes(out), bytes(err), exit_code, int(message.get("code", 1000))
        frame = json.loads(message["text"])
        if "stdout" in frame:
            out += base64.b64decode(frame["stdout"]["data"])
        if "stderr" in frame:
            err += base64.b64decode(frame["stderr"]["data"])
        if frame.get("exited"):
            exit_code = frame["result"]["exit_code"]
        if until and until in out:
            return bytes(out), bytes(err), exit_code, 0


def run(body: Any) -> None:
    asyncio.run(asyncio.wait_for(body(), 60))


def test_output_and_exit_code_come_back_as_nomads_frames(alloc_id: str) -> None:
    async def body() -> None:
        ws = communicator(url(alloc_id, ["/bin/sh", "-c", "echo hi; echo oops >&2; exit 3"]), ORIGIN)
        assert (await ws.connect())[0]
        assert await session(ws) == (b"hi\n", b"oops\n", 3, 1000)

    run(body)


def test_typing_and_terminal_size_reach_an_interactive_shell(alloc_id: str) -> None:
    async def body() -> None:
        ws = communicator(url(alloc_id, ["/bin/sh"], tty=True), ORIGIN)
        assert (await ws.connect())[0]
        await ws.send_json_to({"tty_size": {"height": 21, "width": 77}})
        await ws.send_json_to(stdin(b"stty size\n"))
        await session(ws, until=b"21 77")
        await ws.send_json_to(stdin(b"echo $NOMAD_ALLOC_ID\n"))
        await session(ws, until=alloc_id.encode())
        await ws.send_json_to(stdin(b"exit 4\n"))
        _, err, exit_code, close = await session(ws)
        assert (err, exit_code, close) == (b"", 4, 1000)

    run(body)


def test_closing_stdin_ends_cat(alloc_id: str) -> None:
    async def body() -> None:
        ws = communicator(url(alloc_id, ["cat"]), ORIGIN)
        assert (await ws.connect())[0]
        await ws.send_json_to(stdin(b"round trip"))
        await ws.send_json_to({"stdin": {"close": True}})
        assert await session(ws) == (b"round trip", b"", 0, 1000)

    run(body)


def test_bad_requests_close_with_the_reason(alloc_id: str) -> None:
    async def body() -> None:
        cases = [
            (url(alloc_id, []), 4400, "command must be"),
            (url("00000000-0000-0000-0000-000000000000", ["true"]), 4404, "Unknown allocation"),
            (url(alloc_id, ["true"], task="nope"), 4404, 'no task "nope"'),
        ]
        for path, code, reason in cases:
            ws = communicator(path, ORIGIN)
            assert (await ws.connect())[0]
            closed = await ws.receive_output(TIMEOUT_S)
            assert (closed["type"], closed["code"]) == ("websocket.close", code)
            assert reason in closed["reason"]

        ws = communicator(url(alloc_id, ["true"]), (b"origin", b"http://evil.example"))
        assert (await ws.connect())[0]
        closed = await ws.receive_output(TIMEOUT_S)
        assert closed["code"] == 4403

    run(body)


def test_acl_needs_alloc_exec_and_alloc_node_exec_for_raw_exec(alloc_id: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARAVAN_ACL", "1")
    policy_upsert(name="ns-write", rules='namespace "default" { policy = "write" }')
    policy_upsert(name="ns-exec", rules='namespace "default" { capabilities = ["alloc-exec", "alloc-node-exec"] }')
    writer = token_create(name="w", policies=["ns-write"]).secret_id
    executor = token_create(name="x", policies=["ns-exec"]).secret_id
    command = ["/bin/sh", "-c", "echo ran; exit 0"]

    async def body() -> None:
        # alloc-exec alone (the write policy) is not enough for a raw_exec task, nor is no token.
        ws = communicator(url(alloc_id, command), ORIGIN, (b"x-nomad-token", writer.encode()))
        assert (await ws.connect())[0]
        assert await session(ws) == (b"", b"", None, 4403)
        ws = communicator(url(alloc_id, command), ORIGIN)
        assert (await ws.connect())[0]
        await ws.send_json_to({"version": 1, "auth_token": ""})
        assert await session(ws) == (b"", b"", None, 4403)
        ws = communicator(url(alloc_id, command), ORIGIN)
        assert (await ws.connect())[0]
        await ws.send_json_to({"version": 1, "auth_token": "not-a-token"})
        assert (await session(ws))[3] == 4401
        # Both capabilities, in Nomad's first frame or in the header.
        ws = communicator(url(alloc_id, command), ORIGIN)
        assert (await ws.connect())[0]
        await ws.send_json_to({"version": 1, "auth_token": executor})
        assert await session(ws) == (b"ran\n", b"", 0, 1000)
        ws = communicator(url(alloc_id, command), ORIGIN, (b"x-nomad-token", executor.encode()))
        assert (await ws.connect())[0]
        assert await session(ws) == (b"ran\n", b"", 0, 1000)

    run(body)


def test_a_revoked_token_ends_its_session(alloc_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARAVAN_ACL", "1")
    monkeypatch.setattr("webui.live.exec.REAUTH_S", 0.2)
    policy_upsert(name="ns-exec", rules='namespace "default" { capabilities = ["alloc-exec", "alloc-node-exec"] }')
    created = token_create(name="x", policies=["ns-exec"])

    async def body() -> None:
        ws = communicator(url(alloc_id, ["cat"]), ORIGIN, (b"x-nomad-token", created.secret_id.encode()))
        assert (await ws.connect())[0]
        await ws.send_json_to(stdin(b"still here\n"))
        await session(ws, until=b"still here\n")
        await asyncio.to_thread(token_revoke, created.token.accessor_id)
        await asyncio.to_thread(DEFAULT_CACHE.clear)
        assert (await session(ws))[3] == 4401

    run(body)


def test_leaving_the_page_kills_the_command(alloc_id: str) -> None:
    async def body() -> None:
        ws = communicator(url(alloc_id, ["/bin/sh", "-c", "echo $$; exec sleep 300"]), ORIGIN)
        assert (await ws.connect())[0]
        out, *_ = await session(ws, until=b"\n")
        process = psutil.Process(int(out.strip()))
        assert process.is_running()
        await ws.disconnect()
        await asyncio.to_thread(process.wait, TIMEOUT_S)  # raises TimeoutExpired if it lives on

    run(body)
