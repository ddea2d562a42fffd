"""``GET /v1/event/stream`` against one real server process: through Django's async client (the gateway
in this process), and through a real ``caravan web`` process driven by python-nomad's event stream.

What a Nomad user notices: a stream from an index replays that write's events as one ndjson line
``{"Index", "Events"}``; a stream from now delivers a job registered after it opened; a quiet stream
sends ``{}`` heartbeats; topics filter by key; with ACL on, a token without node:read cannot follow
nodes, a token for one namespace sees only that namespace's events (even with ``namespace=*``), a revoked
token's stream ends at its next heartbeat, and a bad topic is a 400. The client going away ends the
stream quietly in the real web process.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nomad
import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient

from tests.web.support import one_server_gateway
from tests.web.test_api_v1 import job_json
from tests.web.test_api_v1_nomad import start_web
from webui.acl import DEFAULT_CACHE, policy_upsert, token_create, token_revoke
from webui.api import events as events_api

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with one_server_gateway(Path(tmp_path_factory.mktemp("events-v1"))) as address:
        yield address


@pytest.fixture(autouse=True)
def acl_off(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CARAVAN_ACL", "0")
    DEFAULT_CACHE.clear()
    yield
    DEFAULT_CACHE.clear()


async def register(client: AsyncClient, job_id: str, namespace: str | None = None, **headers: str) -> dict[str, Any]:
    response = await client.put("/v1/jobs", data=json.dumps({"Job": job_json(job_id, namespace)}),
                                content_type="application/json", headers=headers)
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


class Lines:
    """The ndjson lines of a streaming answer, one at a time."""

    def __init__(self, response: Any) -> None:
        assert response.status_code == 200, response.content
        assert response["Content-Type"] == "application/json"
        self._chunks: AsyncIterator[bytes] = aiter(response.streaming_content)

    async def next(self, timeout_s: float = 10) -> dict[str, Any]:
        line = await asyncio.wait_for(anext(self._chunks), timeout_s)
        assert line.endswith(b"\n") and line.count(b"\n") == 1, line
        body: dict[str, Any] = json.loads(line)
        return body

    async def events_until(self, key: str, timeout_s: float = 10) -> list[dict[str, Any]]:
        """Every event up to the first whose Key is ``key``."""
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout_s
        while not any(e["Key"] == key for e in seen):
            line = await self.next(max(0.1, deadline - time.monotonic()))
            seen += line.get("Events", [])
        return seen


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_a_stream_from_an_index_replays_that_write_as_one_line(server: str) -> None:
    async def main() -> None:
        client = AsyncClient()
        reply = await register(client, "evs-replay")
        index = reply["JobModifyIndex"]
        lines = Lines(await client.get(f"/v1/event/stream?topic=Job:evs-replay&index={index}"))
        line = await lines.next()
        assert line["Index"] == index
        (event,) = line["Events"]
        assert (event["Topic"], event["Type"], event["Key"], event["Namespace"], event["Index"]) == (
            "Job", "JobRegistered", "evs-replay", "default", index)
        assert event["Payload"]["Job"]["ID"] == "evs-replay"

    run(main())


def test_a_stream_from_now_delivers_a_new_job_and_its_evaluation_but_not_other_jobs(server: str) -> None:
    async def main() -> None:
        client = AsyncClient()
        lines = Lines(await client.get("/v1/event/stream?topic=Job:evs-new&topic=Evaluation:evs-new"))
        await register(client, "evs-other")
        reply = await register(client, "evs-new")
        seen = await lines.events_until("evs-new")
        if not any(e["Topic"] == "Evaluation" for e in seen):
            seen += await lines.events_until(reply["EvalID"])
        assert {(e["Topic"], e["Key"]) for e in seen} >= {("Job", "evs-new"), ("Evaluation", reply["EvalID"])}
        assert all("evs-other" not in (e["Key"], *(e["FilterKeys"] or [])) for e in seen)

    run(main())


def test_a_quiet_stream_sends_heartbeats(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events_api, "HEARTBEAT_S", 0.3)

    async def main() -> None:
        lines = Lines(await AsyncClient().get("/v1/event/stream?topic=Job:nobody-registers-this"))
        started = time.monotonic()
        assert await lines.next(5) == {}
        assert await lines.next(5) == {}
        assert time.monotonic() - started >= 0.5

    run(main())


def test_bad_topics_and_indexes_are_refused(server: str) -> None:
    async def main() -> None:
        client = AsyncClient()
        bad_topic = await client.get("/v1/event/stream?topic=Jobs:web")
        assert bad_topic.status_code == 400 and b"unknown event topic" in bad_topic.content
        assert (await client.get("/v1/event/stream?index=-3")).status_code == 400
        assert (await client.post("/v1/event/stream")).status_code == 405

    run(main())


# ---- ACL on ------------------------------------------------------------------------------------------


@pytest.fixture
def acl_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARAVAN_ACL", "1")
    policy_upsert(name="read-default", rules='namespace "default" { policy = "read" }')
    policy_upsert(name="read-nodes", rules='node { policy = "read" }')


def test_acl_refuses_what_the_token_cannot_read(server: str, acl_on: None) -> None:
    reader = {"X-Nomad-Token": token_create(name="r", policies=["read-default"]).secret_id}
    nodes = {"X-Nomad-Token": token_create(name="n", policies=["read-nodes"]).secret_id}

    async def main() -> None:
        client = AsyncClient()
        assert (await client.get("/v1/event/stream?topic=Node")).status_code == 403
        assert (await client.get("/v1/event/stream?topic=Node", headers=reader)).status_code == 403
        assert (await client.get("/v1/event/stream", headers=reader)).status_code == 403, "every topic: management"
        assert (await client.get("/v1/event/stream?topic=Job&namespace=prod", headers=reader)).status_code == 403
        assert (await client.get("/v1/event/stream?topic=Node", headers=nodes)).status_code == 200

    run(main())


def test_acl_namespace_star_shows_only_readable_namespaces(server: str, acl_on: None) -> None:
    reader = {"X-Nomad-Token": token_create(name="r", policies=["read-default"]).secret_id}
    admin = {"X-Nomad-Token": token_create(name="m", type="management").secret_id}

    async def main() -> None:
        client = AsyncClient()
        lines = Lines(await client.get("/v1/event/stream?topic=Job&namespace=*", headers=reader))
        await register(client, "evs-secret", namespace="theirs", **admin)
        await register(client, "evs-visible", **admin)
        seen = await lines.events_until("evs-visible")
        assert [e["Key"] for e in seen if e["Topic"] == "Job"] == ["evs-visible"]
        assert all(e["Namespace"] == "default" for e in seen)

    run(main())


# ---- python-nomad against a real `caravan web` ----------------------------------------------------


def test_python_nomad_event_stream(server: str, tmp_path: Path) -> None:
    proc, port, token = start_web(tmp_path, server, "1")
    try:
        client = nomad.Nomad(host="127.0.0.1", port=port, timeout=30, token=token)
        thread, exit_event, events = client.event.stream.get_stream(topic=["Job:evs-contract"], timeout=30)
        thread.daemon = True
        thread.start()
        time.sleep(0.5)  # the stream opens "from now on"
        client.jobs.register_job({"Job": job_json("evs-contract")})
        line = events.get(timeout=15)
        assert line["Index"] > 0
        assert [(e["Topic"], e["Key"]) for e in line["Events"]] == [("Job", "evs-contract")]
        # python-nomad's reader stops at the next line once asked to: make one come now.
        exit_event.set()
        changed = job_json("evs-contract")
        changed["Meta"] = {"v": "2"}
        client.jobs.register_job({"Job": changed})
        thread.join(15)
        assert not thread.is_alive()
        # The client went away: the web process ends that stream quietly (the RPC follow is cancelled).
        time.sleep(0.5)
        assert proc.poll() is None
        log = (tmp_path / "web-1.log").read_text(errors="replace")
        assert "Listening on TCP address" in log and "Traceback" not in log, log[-3000:]
    finally:
        proc.terminate()
        proc.wait(10)


def test_a_revoked_token_ends_its_stream_at_the_next_heartbeat(server: str, acl_on: None,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events_api, "HEARTBEAT_S", 0.3)
    created = token_create(name="soon-revoked", policies=["read-default"])

    async def main() -> None:
        response = await AsyncClient().get("/v1/event/stream?topic=Job:nobody",
                                           headers={"X-Nomad-Token": created.secret_id})
        lines = Lines(response)
        assert await lines.next(5) == {}
        await sync_to_async(token_revoke)(created.token.accessor_id)
        with pytest.raises(StopAsyncIteration):
            while True:
                assert await lines.next(5) == {}

    run(main())
