"""``/ws/events`` through Channels' ``WebsocketCommunicator``, with the relay following a real server process.

What a dashboard user notices: a subscribed page receives the event of a job registered after it
subscribed, once, even when two of its subscriptions match; a socket from a foreign origin is closed
with 4403 (and refused outright by the router); an unknown token is closed with 4401; a subscription the
token may not read is refused with an error, and events of namespaces it may not read never arrive; the
same works over the Redis channel layer with a real ``redis-server``; the relay stops when the last
subscriber leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from socket import create_connection
from typing import Any

import msgspec
import pytest
from channels.db import database_sync_to_async
from channels.sessions import SessionMiddlewareStack
from channels.testing import WebsocketCommunicator

from agents.server.endpoints import (
    JobRegisterRequest,
    JobRegisterResponse,
)
from cluster.structs.job import Job
from tests.agents.server.support import free_ports
from tests.web.support import one_server_gateway
from tests.web.test_api_v1 import job_json
from webui.acl import DEFAULT_CACHE, policy_upsert, token_create, token_revoke
from webui.gateway import gateway
from webui.live import consumers
from webui.live import relay as relay_module
from webui.live.consumers import CLOSE_BAD_ORIGIN, CLOSE_BAD_TOKEN, LiveConsumer
from webui.live.relay import process_relay, reset_process_relay

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ORIGIN = (b"origin", b"http://127.0.0.1:4646")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with one_server_gateway(Path(tmp_path_factory.mktemp("live"))) as address:
        yield address


@pytest.fixture(autouse=True)
def acl_off(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CARAVAN_ACL", "0")
    DEFAULT_CACHE.clear()
    yield
    DEFAULT_CACHE.clear()


def run(body: Callable[[], Awaitable[None]]) -> None:
    """Runs ``body`` on a fresh loop with a fresh relay, stopped at the end."""

    async def main() -> None:
        reset_process_relay()
        try:
            await asyncio.wait_for(body(), 60)
        finally:
            await process_relay().stop()
            reset_process_relay()

    asyncio.run(main())


def socket(*headers: tuple[bytes, bytes]) -> WebsocketCommunicator:
    return WebsocketCommunicator(SessionMiddlewareStack(LiveConsumer.as_asgi()), "/ws/events",
                                 headers=list(headers))


async def register(job_id: str, namespace: str = "default") -> JobRegisterResponse:
    job = msgspec.convert(job_json(job_id, namespace), Job)
    return await gateway().call("Job.Register", JobRegisterRequest(Job=job), JobRegisterResponse)


async def events_until(ws: WebsocketCommunicator, key: str, timeout_s: float = 10) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while not any(e["Key"] == key for e in seen):
        message = await ws.receive_json_from(max(0.1, deadline - time.monotonic()))
        if "event" in message:
            seen.append(message["event"])
    return seen


async def subscribed(ws: WebsocketCommunicator, *topics: str) -> dict[str, Any]:
    await ws.send_json_to({"subscribe": list(topics)})
    answers: dict[str, Any] = {"errors": []}
    while True:
        message = await ws.receive_json_from(10)
        if "subscribed" in message:
            answers["subscribed"] = message["subscribed"]
            return answers
        answers["errors"].append(message)


def test_a_subscribed_page_gets_a_new_jobs_event_once(server: str) -> None:
    async def body() -> None:
        ws = socket(ORIGIN)
        connected, _ = await ws.connect()
        assert connected
        answer = await subscribed(ws, "Job:default/live-a", "Job:*", "Allocation:*")
        assert answer["subscribed"] == ["Job:default/live-a", "Job:*", "Allocation:*"]
        await asyncio.sleep(0.3)  # the relay's first long poll starts "from now on"
        await register("live-other")
        reply = await register("live-a")
        seen = await events_until(ws, "live-a")
        while not await ws.receive_nothing(0.5):  # anything that would come twice comes now
            message = await ws.receive_json_from(1)
            seen += [message["event"]] if "event" in message else []
        job_events = [e for e in seen if e["Topic"] == "Job"]
        assert [e["Key"] for e in job_events] == ["live-other", "live-a"], "once each, in order"
        assert job_events[-1]["Index"] == reply.JobModifyIndex
        assert job_events[-1]["Payload"]["Job"]["ID"] == "live-a"

        await ws.send_json_to({"unsubscribe": ["Job:*", "Allocation:*", "Job:default/live-a"]})
        assert (await ws.receive_json_from(5))["unsubscribed"]
        await register("live-after")
        assert await ws.receive_nothing(0.5)
        await ws.disconnect()

    run(body)


def test_a_foreign_origin_is_closed_with_4403_and_refused_by_the_router(server: str) -> None:
    async def body() -> None:
        for origin in ((b"origin", b"http://evil.example"), (b"origin", b"null")):
            ws = socket(origin)
            connected, _ = await ws.connect()
            assert connected
            assert await ws.receive_output(5) == {"type": "websocket.close", "code": CLOSE_BAD_ORIGIN}
        no_origin = socket()
        await no_origin.connect()
        assert (await no_origin.receive_output(5))["code"] == CLOSE_BAD_ORIGIN

        from webui.asgi import application

        routed = WebsocketCommunicator(application, "/ws/events", headers=[(b"origin", b"http://evil.example"),
                                                                            (b"host", b"127.0.0.1")])
        connected, _ = await routed.connect()
        assert not connected
        ok = WebsocketCommunicator(application, "/ws/events", headers=[ORIGIN, (b"host", b"127.0.0.1")])
        connected, _ = await ok.connect()
        assert connected
        await ok.disconnect()
        # A program without an Origin passes the router, and the live consumer (browsers only) closes it.
        program = WebsocketCommunicator(application, "/ws/events", headers=[(b"host", b"127.0.0.1")])
        connected, _ = await program.connect()
        assert connected
        assert (await program.receive_output(5))["code"] == CLOSE_BAD_ORIGIN

    run(body)


@pytest.fixture
def acl_on(monkeypatch: pytest.MonkeyPatch) -> dict[str, tuple[bytes, bytes]]:
    monkeypatch.setenv("CARAVAN_ACL", "1")
    policy_upsert(name="read-default", rules='namespace "default" { policy = "read" }')
    reader = token_create(name="r", policies=["read-default"]).secret_id
    return {"reader": (b"x-nomad-token", reader.encode())}


def test_acl_refuses_subscriptions_and_hides_other_namespaces(server: str, acl_on: dict[str, Any]) -> None:
    async def body() -> None:
        bad = socket(ORIGIN, (b"x-nomad-token", b"not-a-token"))
        await bad.connect()
        assert await bad.receive_output(5) == {"type": "websocket.close", "code": CLOSE_BAD_TOKEN}

        ws = socket(ORIGIN, acl_on["reader"])
        connected, _ = await ws.connect()
        assert connected
        answer = await subscribed(ws, "Node:*", "Job:prod/web", "*", "Job:*")
        assert answer["subscribed"] == ["Job:*"]
        assert [e["for"] for e in answer["errors"]] == ["Node:*", "Job:prod/web", "*"]
        assert all(e["error"] == "Permission denied" for e in answer["errors"])
        await asyncio.sleep(0.3)
        await register("live-hidden", namespace="theirs")
        await register("live-shown")
        seen = await events_until(ws, "live-shown")
        assert [e["Key"] for e in seen] == ["live-shown"]
        await ws.disconnect()

    run(body)


def test_the_relay_stops_when_the_last_subscriber_leaves(server: str) -> None:
    async def body() -> None:
        relay = process_relay()
        relay._stop_grace_s = 0.05
        ws = socket(ORIGIN)
        await ws.connect()
        await subscribed(ws, "Job:*")
        assert relay.running
        await ws.disconnect()
        await asyncio.sleep(0.3)
        assert not relay.running

    run(body)


# ---- the Redis channel layer ----------------------------------------------------------------------


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    (port,) = free_ports(1)
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), create_connection(("127.0.0.1", port), 0.2):
                break
            assert time.monotonic() < deadline and proc.poll() is None, "redis-server did not start"
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


def test_events_reach_the_page_over_the_redis_layer(server: str, redis_url: str, settings: Any) -> None:
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                           "CONFIG": {"hosts": [redis_url]}}}

    async def body() -> None:
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        assert type(layer).__name__ == "RedisChannelLayer"
        ws = socket(ORIGIN)
        await ws.connect()
        await subscribed(ws, "Job:default/live-redis")
        assert process_relay().layer is layer
        await asyncio.sleep(0.3)
        await register("live-redis")
        seen = await events_until(ws, "live-redis")
        assert seen[-1]["Topic"] == "Job"
        await ws.disconnect()
        await layer.flush()
        await layer.close_pools()

    run(body)


def test_group_names_are_valid_and_per_process() -> None:
    one, two = relay_module.Relay(), relay_module.Relay()
    name = one.group("Job", "default/a job with spaces/and/slashes" * 5)
    assert len(name) < 100 and all(c.isalnum() or c in "-_." for c in name)
    assert one.group("Job", "x") != two.group("Job", "x")


def test_a_revoked_token_closes_its_socket(server: str, acl_on: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(consumers, "REAUTH_S", 0.2)
    created = token_create(name="soon-revoked", policies=["read-default"])

    async def body() -> None:
        ws = socket(ORIGIN, (b"x-nomad-token", created.secret_id.encode()))
        assert (await ws.connect())[0]
        await subscribed(ws, "Job:*")
        assert await ws.receive_nothing(0.5), "a valid token keeps its socket"
        await database_sync_to_async(token_revoke)(created.token.accessor_id)
        assert await ws.receive_output(5) == {"type": "websocket.close", "code": CLOSE_BAD_TOKEN}

    run(body)


def test_the_dashboard_sessions_token_is_the_sockets_token(server: str, acl_on: dict[str, Any]) -> None:
    from django.conf import settings
    from django.contrib.sessions.backends.db import SessionStore

    from webui.acl import authenticate
    from webui.ui.access import SESSION_ACCESSOR_KEY

    session = SessionStore()
    session[SESSION_ACCESSOR_KEY] = authenticate(acl_on["reader"][1].decode()).token.accessor_id
    session.create()
    cookie = (b"cookie", f"{settings.SESSION_COOKIE_NAME}={session.session_key}".encode())

    async def body() -> None:
        anonymous = socket(ORIGIN)
        assert (await anonymous.connect())[0]
        assert (await subscribed(anonymous, "Job:default/web"))["subscribed"] == []
        await anonymous.disconnect()
        signed_in = socket(ORIGIN, cookie)
        assert (await signed_in.connect())[0]
        assert (await subscribed(signed_in, "Job:default/web"))["subscribed"] == ["Job:default/web"]
        await signed_in.disconnect()

    run(body)


def test_every_topic_for_a_management_token_and_garbage_frames_get_errors(server: str) -> None:
    async def body() -> None:
        ws = socket(ORIGIN)
        assert (await ws.connect())[0]
        await ws.send_to(text_data="{not json")
        assert "error" in await ws.receive_json_from(5)
        await ws.send_to(bytes_data=b"\x00\x01")
        assert "error" in await ws.receive_json_from(5)
        await ws.send_json_to(["subscribe"])
        assert "error" in await ws.receive_json_from(5)
        assert (await subscribed(ws, "*"))["subscribed"] == ["*"]  # ACL off: allowed
        await asyncio.sleep(0.3)
        reply = await register("live-star")
        seen = await events_until(ws, "live-star")
        assert ("Job", "live-star") in {(e["Topic"], e["Key"]) for e in seen}
        seen += await events_until(ws, reply.EvalID)
        await ws.disconnect()

    run(body)
