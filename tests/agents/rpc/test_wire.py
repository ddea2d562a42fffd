"""The wire format on its own: frames, the length prefix, and errors as they travel."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from agents.rpc import (
    AuthenticationFailed,
    ConnectionFailed,
    FrameTooLarge,
    NotLeader,
    ProtocolError,
    RPCTimeout,
    UnknownMethod,
)
from agents.rpc.errors import error_from_wire, error_to_wire
from agents.rpc.frames import Cancel, Request, Response, decode_frame, encode_frame, encode_value, read_frame
from cluster.errors import (
    CaravanError,
    Conflict,
    Diagnostic,
    InvalidInput,
    JobSpecError,
    NotFound,
    PermissionDenied,
    Unavailable,
)
from cluster.jobspec.hcl import HCLError


class Point(msgspec.Struct):
    x: int
    y: int


def _reader(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


def test_a_request_round_trips_with_its_arguments_left_encoded() -> None:
    data = encode_frame(Request(7, "Job.Register", encode_value(Point(1, 2)), 5000, 1), 1 << 20)
    assert int.from_bytes(data[:4], "big") == len(data) - 4
    frame = decode_frame(data[4:])
    assert isinstance(frame, Request)
    assert (frame.id, frame.method, frame.timeout_ms, frame.hops) == (7, "Job.Register", 5000, 1)
    assert msgspec.msgpack.decode(frame.args, type=Point) == Point(1, 2)


def test_read_frame_reads_frames_in_order_and_none_at_a_clean_end() -> None:
    data = encode_frame(Cancel(1), 1024) + encode_frame(Response(2, encode_value(Point(3, 4))), 1024)

    async def scenario() -> list[object]:
        reader = _reader(data)
        return [await read_frame(reader, 1024) for _ in range(3)]

    first, second, end = asyncio.run(scenario())
    assert first == Cancel(1) and isinstance(second, Response) and end is None


@pytest.mark.parametrize(
    ("data", "error", "text"),
    [
        (
            (2000).to_bytes(4, "big") + b"x" * 10,
            FrameTooLarge,
            "a frame of 2000 bytes is over the limit of 1024",
        ),
        (b"\0\0", ProtocolError, "in the middle of a frame header"),
        ((10).to_bytes(4, "big") + b"abc", ProtocolError, "in the middle of a frame of 10 bytes"),
        ((3).to_bytes(4, "big") + b"\x93\x01\x02", ProtocolError, "malformed frame"),
    ],
)
def test_read_frame_rejects_what_is_not_a_frame(data: bytes, error: type[Exception], text: str) -> None:
    async def scenario() -> None:
        await read_frame(_reader(data), 1024)

    with pytest.raises(error, match=text):
        asyncio.run(scenario())


def test_encoding_a_frame_over_the_limit_fails_before_sending() -> None:
    with pytest.raises(FrameTooLarge, match="a frame of 36 bytes is over the limit of 20 bytes"):
        encode_frame(Request(1, "Job.Register", encode_value(Point(1, 2 << 40)), 0, 0), 20)


@pytest.mark.parametrize(
    "error",
    [
        CaravanError("base"),
        InvalidInput("bad"),
        NotFound("gone"),
        Conflict("raced"),
        PermissionDenied("no"),
        Unavailable("later"),
        FrameTooLarge("big"),
        UnknownMethod("Job.Nope"),
        AuthenticationFailed("key"),
        ConnectionFailed("refused"),
        RPCTimeout("slow"),
        ProtocolError("garbage"),
    ],
)
def test_errors_travel_as_their_own_class_and_message(error: CaravanError) -> None:
    back = error_from_wire(
        msgspec.msgpack.decode(msgspec.msgpack.encode(error_to_wire(error)), type=type(error_to_wire(error)))
    )
    assert type(back) is type(error) and str(back) == str(error)


def test_errors_keep_their_extras() -> None:
    diag = Diagnostic("unknown block 'grup'", "job.grup", "a.hcl", 3, 5)
    back = error_from_wire(error_to_wire(JobSpecError([diag])))
    assert isinstance(back, JobSpecError) and back.diagnostics == [diag]
    back = error_from_wire(error_to_wire(HCLError([Diagnostic("syntax", "", "a.hcl", 1, 2)])))
    assert isinstance(back, HCLError) and back.diagnostics[0].line == 1
    back = error_from_wire(error_to_wire(NotLeader("follower", leader="10.0.0.9:4647")))
    assert isinstance(back, NotLeader) and back.leader == "10.0.0.9:4647"


def test_an_error_class_the_wire_does_not_know_travels_as_its_nearest_known_base() -> None:
    class QuotaExceeded(Conflict):
        pass

    back = error_from_wire(error_to_wire(QuotaExceeded("quota 'dev' exceeded")))
    assert type(back) is Conflict and str(back) == "quota 'dev' exceeded"
