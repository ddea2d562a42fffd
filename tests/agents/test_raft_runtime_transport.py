"""The Raft transport on real loopback sockets: frames, the keyed handshake, batching, bounded drops."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Awaitable, Callable

import msgspec
import pytest

from agents.server.raft_transport import (
    PROTOCOL,
    FrameDecoder,
    RaftTransport,
    TransportConfig,
    TransportError,
    encode_frame,
    read_frame,
)
from cluster.raft import Entry, Message, MessageType

KEY = b"cluster key for tests"


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def append(to: str, sender: str, index: int) -> Message:
    return Message(type=MessageType.APPEND, to=to, sender=sender, term=3, index=index, log_term=3,
                   entries=(Entry(3, index + 1, data=b"x" * (index % 50)),), commit=index)


async def eventually(check: Callable[[], bool], timeout_s: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


class Endpoint:
    """A transport with lists of what it received and what it gave up on."""

    def __init__(self, node_id: str, ports: dict[str, int], key: bytes = KEY, max_queue_msgs: int = 8192) -> None:
        self.received: list[Message] = []
        self.dropped: list[Message] = []
        self.transport = RaftTransport(
            node_id, ("127.0.0.1", ports[node_id]), {n: ("127.0.0.1", p) for n, p in ports.items()},
            TransportConfig(cluster_key=key, max_queue_msgs=max_queue_msgs, backoff_min_ms=10, backoff_max_ms=50),
            self.received.append, self.dropped.append, random.Random(7),
        )


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), 20))


# ---- frames ----------------------------------------------------------------------------------------


def test_frames_split_anywhere_in_the_stream_decode_to_the_same_payloads() -> None:
    payloads = [bytes([i]) * (i * 7) for i in range(40)]
    stream = b"".join(encode_frame(p) for p in payloads)
    rng = random.Random(3)
    for _ in range(20):
        decoder = FrameDecoder(1 << 20)
        out: list[bytes] = []
        pos = 0
        while pos < len(stream):
            step = rng.randint(1, 50)
            out.extend(decoder.feed(stream[pos : pos + step]))
            pos += step
        assert out == payloads


def test_a_frame_over_the_limit_is_refused_before_it_is_buffered() -> None:
    decoder = FrameDecoder(100)
    with pytest.raises(TransportError, match="101 bytes is over the 100 byte limit"):
        decoder.feed(encode_frame(b"x" * 101)[:10])


# ---- delivery --------------------------------------------------------------------------------------


def test_a_burst_of_messages_arrives_whole_and_in_order() -> None:
    async def scenario() -> None:
        ports = dict(zip(("a", "b"), free_ports(2), strict=True))
        a, b = Endpoint("a", ports), Endpoint("b", ports)
        await a.transport.start()
        await b.transport.start()
        try:
            await eventually(lambda: a.transport.connected()["b"])
            sent = [append("b", "a", i) for i in range(2000)]
            for msg in sent:
                a.transport.send(msg)
            await eventually(lambda: len(b.received) == len(sent))
            assert b.received == sent
            assert a.dropped == []
        finally:
            await a.transport.stop()
            await b.transport.stop()

    run(scenario)


def test_messages_to_a_peer_that_is_down_are_dropped_and_reported() -> None:
    async def scenario() -> None:
        ports = dict(zip(("a", "b"), free_ports(2), strict=True))
        a = Endpoint("a", ports, max_queue_msgs=16)
        await a.transport.start()
        try:
            for i in range(100):
                a.transport.send(append("b", "a", i))
            await eventually(lambda: len(a.dropped) == 100)
            assert {m.index for m in a.dropped} == set(range(100))
            # Then b comes up, and the next messages get through (reconnect after backoff).
            b = Endpoint("b", ports)
            await b.transport.start()
            try:
                await eventually(lambda: a.transport.connected()["b"])
                a.transport.send(append("b", "a", 500))
                await eventually(lambda: [m.index for m in b.received] == [500])
            finally:
                await b.transport.stop()
        finally:
            await a.transport.stop()

    run(scenario)


def test_a_peer_without_the_cluster_key_cannot_deliver_anything() -> None:
    async def scenario() -> None:
        ports = dict(zip(("a", "b"), free_ports(2), strict=True))
        intruder, b = Endpoint("a", ports, key=b"a guess"), Endpoint("b", ports)
        await intruder.transport.start()
        await b.transport.start()
        try:
            for i in range(20):
                intruder.transport.send(append("b", "a", i))
                await asyncio.sleep(0.02)
            assert b.received == []
            assert not intruder.transport.connected()["b"]
            assert len(intruder.dropped) == 20
        finally:
            await intruder.transport.stop()
            await b.transport.stop()

    run(scenario)


def test_a_raw_connection_that_fails_the_challenge_is_closed() -> None:
    async def scenario() -> None:
        ports = dict(zip(("a", "b"), free_ports(2), strict=True))
        b = Endpoint("b", ports)
        await b.transport.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", ports["b"])
            hello = msgspec.msgpack.decode(await read_frame(reader, 4096))
            assert hello[0] == PROTOCOL
            proof = ["a", b"n" * 32, b"\0" * 32]  # a made-up MAC
            writer.write(encode_frame(msgspec.msgpack.encode(proof)))
            frame = msgspec.msgpack.encode(append("b", "a", 1))
            writer.write(encode_frame(frame))
            assert await reader.read() == b"", "the server must close the connection"
            writer.close()
            assert b.received == []
        finally:
            await b.transport.stop()

    run(scenario)


def test_a_message_claiming_another_sender_closes_the_connection(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        ports = dict(zip(("a", "b", "c"), free_ports(3), strict=True))
        a, b = Endpoint("a", ports), Endpoint("b", ports)
        await a.transport.start()
        await b.transport.start()
        try:
            await eventually(lambda: a.transport.connected()["b"])
            a.transport.send(append("b", "c", 1))  # a, authenticated as a, speaking for c
            await eventually(lambda: "b: closed an inbound connection" in caplog.text)
            assert "a sent a message from 'c' to 'b'" in caplog.text
            for index in range(2, 200):  # a reconnects; its honest messages pass again
                a.transport.send(append("b", "a", index))
                await asyncio.sleep(0.01)
                if b.received:
                    break
            assert b.received and {m.sender for m in b.received} == {"a"}
        finally:
            await a.transport.stop()
            await b.transport.stop()

    run(scenario)
