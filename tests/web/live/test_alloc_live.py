"""Live allocation stats and logs over ``/ws/events``, from a real server and a real client process.

What a dashboard user notices: asking for an allocation's stats brings CPU and memory figures every
second or two; asking for a task's log brings its tail and then new lines as the task writes them (the
text exactly as written, markup included, for the page to insert as text); a token that may not read the
allocation's namespace gets an error instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from channels.sessions import SessionMiddlewareStack
from channels.testing import WebsocketCommunicator

from agents.server.endpoints import (
    JobAllocationsResponse,
    JobRegisterRequest,
    JobRegisterResponse,
    JobSpecificRequest,
    StatusLeaderResponse,
    StatusRequest,
)
from cluster.errors import CaravanError
from tests.agents.client_agent.support import ClientProcess, kill_leftovers
from tests.agents.server.support import KEY_B64, ServerProcess, free_ports
from tests.unit.scheduler import factories
from webui.acl import DEFAULT_CACHE, policy_upsert, token_create
from webui.gateway import gateway, reset_gateway
from webui.live.consumers import LiveConsumer
from webui.live.relay import process_relay, reset_process_relay

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ORIGIN = (b"origin", b"http://localhost:4646")
SCRIPT = 'i=0; while true; do i=$((i+1)); echo "<b>line</b> $i"; sleep 0.2; done'


@pytest.fixture(scope="module")
def alloc_id(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running raw_exec allocation on a real client; the gateway pointed at its server."""
    root = Path(tmp_path_factory.mktemp("alloc-live"))
    rpc, serf, http = free_ports(3)
    server = ServerProcess(root, "s1", rpc, serf, http, [], 1)
    client = ClientProcess(root, "c1", [server.address])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CARAVAN_SERVERS", server.address)
        mp.setenv("CARAVAN_CLUSTER_KEY", KEY_B64)
        reset_gateway()
        server.start()
        client.start()
        try:
            yield _running_alloc()
        except BaseException:
            print(f"---- s1 ----\n{server.output()[-4000:]}\n---- c1 ----\n{client.output()[-4000:]}")
            raise
        finally:
            reset_gateway()
            client.stop()
            server.stop()
            kill_leftovers(root)


def _running_alloc() -> str:
    deadline = time.monotonic() + 60
    registered = False
    while time.monotonic() < deadline:
        with contextlib.suppress(CaravanError):
            if gateway().call_sync("Status.Leader", StatusRequest(), StatusLeaderResponse).Leader:
                if not registered:
                    group = factories.group(count=1, cpu=100, memory_mb=64, disk_mb=150, driver="raw_exec")
                    assert group.Tasks is not None
                    group.Tasks[0].Config = {"command": "/bin/sh", "args": ["-c", SCRIPT]}
                    gateway().call_sync("Job.Register", JobRegisterRequest(
                        Job=factories.job("live-counter", groups=[group])), JobRegisterResponse)
                    registered = True
                allocs = gateway().call_sync("Job.Allocations", JobSpecificRequest(JobID="live-counter"),
                                             JobAllocationsResponse).Allocations
                running = [a.ID for a in allocs if a.ClientStatus == "running"]
                if running:
                    return running[0]
        time.sleep(0.2)
    raise AssertionError("no running allocation within 60 s")


@pytest.fixture(autouse=True)
def acl_off(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CARAVAN_ACL", "0")
    DEFAULT_CACHE.clear()
    yield
    DEFAULT_CACHE.clear()


def run(body: Any) -> None:
    async def main() -> None:
        reset_process_relay()
        try:
            await asyncio.wait_for(body(), 60)
        finally:
            await process_relay().stop()
            reset_process_relay()

    asyncio.run(main())


async def first(ws: WebsocketCommunicator, key: str, timeout_s: float = 15) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        message: dict[str, Any] = await ws.receive_json_from(max(0.1, deadline - time.monotonic()))
        if key in message:
            return message


def test_stats_arrive_repeatedly_and_logs_are_followed(alloc_id: str) -> None:
    async def body() -> None:
        ws = WebsocketCommunicator(SessionMiddlewareStack(LiveConsumer.as_asgi()), "/ws/events", headers=[ORIGIN])
        assert (await ws.connect())[0]
        await ws.send_json_to({"stats": alloc_id})
        one = await first(ws, "usage")
        two = await first(ws, "usage")
        assert one["stats"] == alloc_id and two["usage"]["Timestamp"] > one["usage"]["Timestamp"]
        assert one["usage"]["ResourceUsage"]["MemoryStats"]["RSS"] > 0
        await ws.send_json_to({"stats": ""})  # stops

        await ws.send_json_to({"logs": alloc_id, "task": "web", "type": "stdout"})
        text = ""
        deadline = time.monotonic() + 15
        while text.count("\n") < 8:
            message = await first(ws, "data", max(0.1, deadline - time.monotonic()))
            assert (message["logs"], message["task"], message["type"]) == (alloc_id, "web", "stdout")
            text += message["data"]
        numbers = [int(line.rsplit(" ", 1)[1]) for line in text.splitlines()[1:-1]]
        assert all(line.startswith("<b>line</b> ") for line in text.splitlines()[1:-1])
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), "followed without gaps"
        await ws.disconnect()

    run(body)


def test_a_token_of_another_namespace_gets_an_error_not_stats(alloc_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARAVAN_ACL", "1")
    policy_upsert(name="write-prod", rules='namespace "prod" { policy = "write" }')
    secret = token_create(name="p", policies=["write-prod"]).secret_id

    async def body() -> None:
        ws = WebsocketCommunicator(SessionMiddlewareStack(LiveConsumer.as_asgi()), "/ws/events",
                                   headers=[ORIGIN, (b"x-nomad-token", secret.encode())])
        assert (await ws.connect())[0]
        await ws.send_json_to({"stats": alloc_id})
        assert await first(ws, "error") == {"error": "Permission denied", "for": {"stats": alloc_id}}
        await ws.send_json_to({"logs": alloc_id, "task": "web", "type": "stdout"})
        assert await first(ws, "error") == {"error": "Permission denied", "for": {"logs": alloc_id}}
        assert await ws.receive_nothing(2)
        await ws.disconnect()

    run(body)
