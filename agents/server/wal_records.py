"""The records of a WAL segment: their binary format, encoding, checks and parsing (see ``agents.server.wal``).

A record is a 16-byte header and a msgpack payload::

    magic u16 | kind u8 | flags u8 | payload length u32 | payload CRC32 u32 | CRC32 of the 12 bytes before

``parse_segment`` reads every valid record of a segment's bytes and tells a torn tail (only the last
record of the last segment, what a crash can leave) from corruption (``WALCorruption`` with the file and
the byte offset).
"""

from __future__ import annotations

import enum
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import msgspec

from agents.server.snapshots import WALCorruption, WALError
from cluster.raft.types import Entry, HardState, SnapshotMeta

__all__ = [
    "FORMAT_VERSION", "RecordKind", "RecordValue", "SegmentHeader", "SnapshotRecord", "Truncate", "WALRecord",
    "encode_record", "parse_segment", "read_segment",
]

FORMAT_VERSION = 1
_MAGIC = 0xCA7A
_MAGIC_BYTES = struct.pack("<H", _MAGIC)
_HEAD = struct.Struct("<HBBII")  # the part of the header its own CRC covers
_HEADER = struct.Struct("<HBBIII")
_CRC = struct.Struct("<I")
_MAX_PAYLOAD_BYTES = 256 << 20


class SegmentHeader(msgspec.Struct, array_like=True, frozen=True):
    """First record of every segment, with the hard state and the committed snapshot of its creation
    (so that compacting older segments loses neither)."""

    version: int
    seq: int
    first_index: int
    hard_state: HardState
    snapshot: SnapshotMeta | None


class SnapshotRecord(msgspec.Struct, array_like=True, frozen=True):
    """Commits a saved snapshot; ``kept_log``: the entries after it stayed, else the log was emptied."""

    meta: SnapshotMeta
    kept_log: bool


class Truncate(msgspec.Struct, array_like=True, frozen=True):
    """Entries from ``index`` on are dropped; the entries that follow replace them."""

    index: int


RecordValue = SegmentHeader | Entry | Truncate | HardState | SnapshotRecord


class RecordKind(enum.IntEnum):
    SEGMENT_HEADER = 1
    ENTRY = 2
    TRUNCATE = 3
    HARD_STATE = 4
    SNAPSHOT = 5


_ENCODER = msgspec.msgpack.Encoder()
_DECODERS: dict[int, msgspec.msgpack.Decoder[RecordValue]] = {
    RecordKind.SEGMENT_HEADER: msgspec.msgpack.Decoder(SegmentHeader),
    RecordKind.ENTRY: msgspec.msgpack.Decoder(Entry),
    RecordKind.TRUNCATE: msgspec.msgpack.Decoder(Truncate),
    RecordKind.HARD_STATE: msgspec.msgpack.Decoder(HardState),
    RecordKind.SNAPSHOT: msgspec.msgpack.Decoder(SnapshotRecord),
}


@dataclass(frozen=True, slots=True)
class WALRecord:
    """One record of a segment file, as ``read_segment`` shows it: bytes ``offset`` to ``end``."""

    offset: int
    end: int
    value: RecordValue


def encode_record(kind: RecordKind, value: RecordValue) -> bytes:
    payload = _ENCODER.encode(value)
    if len(payload) > _MAX_PAYLOAD_BYTES:
        raise WALError(f"a {kind.name.lower()} record of {len(payload)} bytes is over the "
                       f"{_MAX_PAYLOAD_BYTES} byte limit")
    head = _HEAD.pack(_MAGIC, kind, 0, len(payload), zlib.crc32(payload))
    return b"".join((head, _CRC.pack(zlib.crc32(head)), payload))


class _Good(NamedTuple):
    kind: int
    flags: int
    end: int


class _Bad(NamedTuple):
    reason: str
    resume: int | None  # where a valid record could start after this one; None: nowhere


def _check_record(data: bytes, view: memoryview, pos: int) -> _Good | _Bad:
    """Is there a whole record at ``pos`` whose header and payload match their CRCs?"""
    if len(data) - pos < _HEADER.size:
        return _Bad("a partial record header", None)
    magic, kind, flags, length, payload_crc, head_crc = _HEADER.unpack_from(data, pos)
    if magic != _MAGIC or zlib.crc32(view[pos : pos + _HEAD.size]) != head_crc:
        return _Bad("a record header that does not match its checksum", pos + 1)
    end = pos + _HEADER.size + length
    if end > len(data):
        return _Bad(f"a partial record ({len(data) - pos} of {end - pos} bytes)", None)
    if zlib.crc32(view[pos + _HEADER.size : end]) != payload_crc:
        return _Bad("a record payload that does not match its checksum", end)
    return _Good(kind, flags, end)


def _find_valid_record(data: bytes, view: memoryview, start: int) -> int | None:
    """The offset of the first whole, valid record at or after ``start``: proof that a bad one is not a tail."""
    pos = data.find(_MAGIC_BYTES, start)
    while pos != -1:
        if isinstance(_check_record(data, view, pos), _Good):
            return pos
        pos = data.find(_MAGIC_BYTES, pos + 1)
    return None


def _decode(path: Path, pos: int, good: _Good, payload: memoryview) -> RecordValue:
    decoder = _DECODERS.get(good.kind)
    if decoder is None or good.flags:
        raise WALCorruption(path, pos, f"unknown record kind {good.kind} with flags {good.flags}")
    try:
        return decoder.decode(payload)
    except msgspec.DecodeError as exc:
        raise WALCorruption(path, pos, f"a record that cannot be decoded: {exc}") from exc


def parse_segment(path: Path, data: bytes, *, tail_may_tear: bool) -> tuple[list[WALRecord], str | None]:
    """Every valid record, and a warning if a torn tail follows them (only when ``tail_may_tear``)."""
    view = memoryview(data)
    records: list[WALRecord] = []
    pos = 0
    while pos < len(data):
        checked = _check_record(data, view, pos)
        if isinstance(checked, _Bad):
            return records, _torn_tail_warning(path, data, view, pos, checked, tail_may_tear)
        value = _decode(path, pos, checked, view[pos + _HEADER.size : checked.end])
        records.append(WALRecord(pos, checked.end, value))
        pos = checked.end
    return records, None


def _torn_tail_warning(
    path: Path, data: bytes, view: memoryview, pos: int, bad: _Bad, tail_may_tear: bool
) -> str:
    """A crash can only tear the last record of the last segment; anything else is corruption."""
    if not tail_may_tear:
        raise WALCorruption(path, pos, f"{bad.reason} in a segment that has a successor")
    later = None if bad.resume is None else _find_valid_record(data, view, bad.resume)
    if later is not None:
        raise WALCorruption(path, pos, f"{bad.reason}, followed by a valid record at offset {later}")
    return (f"truncated a torn record at segment {path.name} offset {pos} ({bad.reason}; "
            f"{len(data) - pos} bytes dropped)")


def read_segment(path: Path) -> list[WALRecord]:
    """Every record of one segment file, checked; raises ``WALCorruption`` at the first bad one.

    For operators and tests that inspect a log; recovery (``WAL.open``) is what tolerates a torn tail.
    """
    return parse_segment(path, path.read_bytes(), tail_may_tear=False)[0]
