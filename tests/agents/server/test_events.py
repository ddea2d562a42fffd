"""The server's event buffer and ``Event.Stream``.

What a subscriber notices: it gets the events of the writes after its index, filtered by topic, key (or
a related key such as an allocation's job) and namespace; a long poll answers as soon as a matching
write commits, or empty at its deadline (a heartbeat) with an index that moved past unwanted writes; an
index older than the buffer starts at the oldest kept write; the buffer keeps to its count and byte
bounds. The RPC half runs against a real server process; only the web and server roles may subscribe.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from agents.rpc import ConnectionPool, Role
from agents.server.endpoints import JobRegisterRequest, JobRegisterResponse
from agents.server.endpoints_events import EventStreamReply, EventStreamRequest
from agents.server.events import EventBuffer, EventFilter
from cluster.errors import InvalidInput, PermissionDenied
from cluster.state.events import Event, EventBatch
from tests.agents.server.support import ServerCluster, leader_of, pool
from tests.unit.scheduler import factories

SECOND_NS = 1_000_000_000


def batch(index: int, *events: tuple[str, str, str] | tuple[str, str, str, list[str]]) -> EventBatch:
    """A write's events from (topic, key, namespace[, filter keys])."""
    written = EventBatch(index)
    for spec in events:
        topic, key, namespace = spec[:3]
        filter_keys = list(spec[3]) if len(spec) == 4 else None
        written.add(Event(Topic=topic, Type=f"{topic}Updated", Key=key, Namespace=namespace,
                          FilterKeys=filter_keys, Index=index, Payload={topic: {"ID": key}}))
    return written


def decoded(data: list[bytes]) -> list[tuple[str, str, int]]:
    events = [msgspec.msgpack.decode(d, type=Event) for d in data]
    return [(e.Topic, e.Key, e.Index) for e in events]


def read_now(buffer: EventBuffer, topics: dict[str, list[str]] | None, after: int,
             namespace: str = "default") -> tuple[list[tuple[str, str, int]], int]:
    answer = asyncio.run(buffer.read(EventFilter.of(topics, namespace), after, 0))
    return decoded(answer.events), answer.index


# ---- the buffer ----------------------------------------------------------------------------------


def test_topics_keys_filter_keys_and_namespaces_select_events() -> None:
    buffer = EventBuffer()
    buffer.append(5, batch(5, ("Job", "web", "default"), ("Evaluation", "e1", "default", ["web"])))
    buffer.append(6, batch(6, ("Allocation", "a1", "default", ["web", "d1"]), ("Job", "api", "prod")))
    buffer.append(7, batch(7, ("Node", "n1", "")))

    assert read_now(buffer, {"Job": ["web"]}, 1) == ([("Job", "web", 5)], 7)
    # A key matches an event's related keys too: the job's evaluation and allocation.
    assert read_now(buffer, {"Evaluation": ["web"], "Allocation": ["web"]}, 1)[0] == [
        ("Evaluation", "e1", 5), ("Allocation", "a1", 6)]
    # Another namespace's job stays out; a node (no namespace) passes every namespace.
    assert read_now(buffer, {"*": ["*"]}, 1)[0] == [
        ("Job", "web", 5), ("Evaluation", "e1", 5), ("Allocation", "a1", 6), ("Node", "n1", 7)]
    assert read_now(buffer, None, 1, namespace="*")[0] == [
        ("Job", "web", 5), ("Evaluation", "e1", 5), ("Allocation", "a1", 6), ("Job", "api", 6), ("Node", "n1", 7)]
    assert read_now(buffer, {"Job": ["*"]}, 1, namespace="prod")[0] == [("Job", "api", 6)]
    # Only the writes after the index.
    assert read_now(buffer, {"*": ["*"]}, 6)[0] == [("Node", "n1", 7)]


def test_an_index_older_than_the_ring_starts_at_the_oldest_kept_write() -> None:
    buffer = EventBuffer(max_events=3)
    for index in range(1, 6):
        buffer.append(index, batch(index, ("Job", f"j{index}", "default")))
    assert len(buffer) == 3 and buffer.oldest_index == 3
    assert read_now(buffer, None, 1)[0] == [("Job", "j3", 3), ("Job", "j4", 4), ("Job", "j5", 5)]


def test_the_ring_keeps_to_its_byte_bound_but_keeps_the_newest_write() -> None:
    everything = EventFilter.of(None, "*")
    buffer = EventBuffer(max_bytes=3_000)
    buffer.append(1, batch(1, *[("Job", f"small{i}", "default") for i in range(3)]))
    buffer.collect(everything, 0)  # read once: its size is now the encoded size
    big = EventBatch(2)
    big.add(Event(Topic="Job", Type="JobRegistered", Key="big", Namespace="default", Index=2,
                  Payload={"Job": {"Meta": "x" * 5_000}}))
    buffer.append(2, big)
    assert decoded(buffer.collect(everything, 0).events)[-1] == ("Job", "big", 2)
    assert buffer.size_bytes > 5_000
    buffer.append(3, batch(3, ("Job", "after", "default")))
    assert buffer.oldest_index == 3 and buffer.size_bytes <= 3_000

    # Writes nobody read yet count at the average size of those read; the newest always stays.
    alone = EventBuffer(max_bytes=10)
    for index in range(1, 4):
        alone.append(index, batch(index, ("Job", f"j{index}", "default")))
    assert alone.oldest_index == 3 and len(alone) == 1
    assert read_now(alone, None, 0)[0] == [("Job", "j3", 3)]


def test_an_answer_is_bounded_in_bytes_and_never_splits_a_write() -> None:
    buffer = EventBuffer(max_answer_bytes=600)
    for index in range(1, 4):
        buffer.append(index, batch(index, *[("Job", f"w{index}-{i}", "default") for i in range(5)]))
    seen: list[tuple[str, str, int]] = []
    after = -1
    for _ in range(3):
        part = buffer.collect(EventFilter.of(None, "default"), max(after, 0))
        assert len(part.events) == 5, "one whole write per answer at this bound"
        seen += decoded(part.events)
        after = part.index
    assert seen == [("Job", f"w{i}-{j}", i) for i in range(1, 4) for j in range(5)]


def test_a_waiting_reader_wakes_on_a_matching_write_and_skips_unwanted_ones() -> None:
    async def main() -> None:
        buffer = EventBuffer()
        buffer.append(1, batch(1, ("Job", "old", "default")))
        waiting = asyncio.create_task(buffer.read(EventFilter.of({"Job": ["web"]}, "default"), 0, 5))
        await asyncio.sleep(0.01)
        buffer.append(2, batch(2, ("Job", "other", "default")))
        await asyncio.sleep(0.01)
        assert not waiting.done(), "an unwanted write does not answer"
        started = time.monotonic()
        buffer.append(3, batch(3, ("Job", "web", "default")))
        answer = await waiting
        assert time.monotonic() - started < 1
        assert decoded(answer.events) == [("Job", "web", 3)] and answer.index == 3

        heartbeat = await buffer.read(EventFilter.of({"Job": ["web"]}, "default"), 3, 0.05)
        assert heartbeat.events == [] and heartbeat.index == 3
        buffer.append(4, EventBatch(4))  # a write without events still moves the index
        heartbeat = await buffer.read(EventFilter.of({"Job": ["web"]}, "default"), 3, 0.01)
        assert heartbeat.events == [] and heartbeat.index == 4

    asyncio.run(main())


# ---- Event.Stream against a real server process ---------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    cluster = ServerCluster(Path(tmp_path_factory.mktemp("events")), count=1)
    cluster.start()
    try:
        async def wait_leader() -> str:
            web = pool(Role.WEB, "web-test")
            try:
                return await leader_of(web, [cluster.servers[0].address])
            finally:
                await web.close()

        yield asyncio.run(wait_leader())
    finally:
        cluster.stop()


def stream(web: ConnectionPool, address: str, *, timeout_s: float = 10, **fields: Any) -> Any:
    return web.call(address, "Event.Stream", EventStreamRequest(**fields), EventStreamReply, timeout_s=timeout_s)


def register(web: ConnectionPool, address: str, job_id: str) -> Any:
    return web.call(address, "Job.Register", JobRegisterRequest(Job=factories.job(job_id, count=1)),
                    JobRegisterResponse, timeout_s=10)


@pytest.mark.slow
def test_a_long_poll_answers_with_the_job_write_as_it_commits(server: str) -> None:
    async def main() -> None:
        web = pool(Role.WEB, "web-test")
        try:
            await register(web, server, "ev-warmup")
            now = await stream(web, server, Topics={"Job": ["nobody"]}, MaxQueryTime=SECOND_NS // 10)
            assert now.Events == [] and now.Index > 0, "index 0 means from now on: a heartbeat first"
            waiting = asyncio.create_task(stream(web, server, Index=now.Index + 1, Topics={"Job": ["ev-web"]},
                                                 MaxQueryTime=20 * SECOND_NS, timeout_s=30))
            await asyncio.sleep(0.2)
            assert not waiting.done()
            started = time.monotonic()
            registered = await register(web, server, "ev-web")
            reply = await waiting
            assert time.monotonic() - started < 5
            (event,) = reply.Events
            assert (event.Topic, event.Type, event.Key, event.Namespace) == (
                "Job", "JobRegistered", "ev-web", "default")
            assert event.Index == registered.JobModifyIndex and event.Payload["Job"]["ID"] == "ev-web"

            # The start index is inclusive, as Nomad's ?index=: asking from the write's index finds it.
            again = await stream(web, server, Index=registered.JobModifyIndex, Topics={"Job": ["ev-web"]})
            assert [(e.Key, e.Index) for e in again.Events] == [("ev-web", registered.JobModifyIndex)]

            # From before the write, every topic: the job and its evaluation, in index order.
            everything = await stream(web, server, Index=now.Index + 1, Topics={"*": ["*"]})
            seen = [(e.Topic, e.Key) for e in everything.Events]
            assert ("Job", "ev-web") in seen and ("Evaluation", registered.EvalID) in seen
            assert [e.Index for e in everything.Events] == sorted(e.Index for e in everything.Events)
            # The evaluation matches a subscription to the job's key through its FilterKeys.
            evals = await stream(web, server, Index=now.Index + 1, Topics={"Evaluation": ["ev-web"]})
            assert [e.Key for e in evals.Events][:1] == [registered.EvalID]
        finally:
            await web.close()

    asyncio.run(main())


@pytest.mark.slow
def test_a_quiet_stream_heartbeats_and_other_namespaces_stay_out(server: str) -> None:
    async def main() -> None:
        web = pool(Role.WEB, "web-test")
        try:
            now = await stream(web, server, MaxQueryTime=SECOND_NS // 10)
            await register(web, server, "ev-quiet")
            started = time.monotonic()
            reply = await stream(web, server, Index=now.Index + 1, Topics={"Job": ["ev-quiet"]},
                                 Namespace="prod", MaxQueryTime=SECOND_NS // 2)
            assert reply.Events == [] and reply.Index > now.Index
            assert 0.4 < time.monotonic() - started < 5
        finally:
            await web.close()

    asyncio.run(main())


@pytest.mark.slow
def test_only_web_and_server_roles_may_subscribe_and_bad_requests_are_refused(server: str) -> None:
    async def main() -> None:
        client = pool(Role.CLIENT, "node-x")
        web = pool(Role.WEB, "web-test")
        try:
            with pytest.raises(PermissionDenied):
                await stream(client, server, MaxQueryTime=SECOND_NS // 10)
            with pytest.raises(InvalidInput, match="empty key"):
                await stream(web, server, Topics={"Job": [""]})
        finally:
            await client.close()
            await web.close()

    asyncio.run(main())
