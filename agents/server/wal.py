"""Raft's write-ahead log: what a server must have on disk before it answers a Raft message.

A WAL directory holds::

    LOCK                              flock()ed while a WAL is open: one writer at a time
    <seq>-<first index>.wal           segments, 16 hex digits each; read in seq order
    <index>-<term>.snap               snapshots (``agents.server.snapshots``)

Segments carry both a sequence number and the index of their first entry: the index alone is not monotonic,
because a segment that starts after Raft truncated a conflicting suffix can start below its predecessor.

A segment is a run of records, each a 16-byte header and a msgpack payload::

    magic u16 | kind u8 | flags u8 | payload length u32 | payload CRC32 u32 | CRC32 of the 12 bytes before

The header has its own CRC so that a damaged length can never pass for a torn tail. Record kinds:
SEGMENT_HEADER opens every segment (seq, first index, and the hard state and snapshot current when it was
created); ENTRY is one Raft entry, always the next index; TRUNCATE drops the entries from an index on (Raft
overwriting an uncommitted conflicting suffix); HARD_STATE (the newest wins); SNAPSHOT commits a saved
snapshot and says what became of the log: kept after it (the server's own snapshot, whose index and term
the log holds) or emptied (a snapshot installed from the leader that the log does not hold).

A snapshot file is written and made durable first; the SNAPSHOT record is its commit point. A snapshot
file that no durable record commits (a crash between the two) is removed, with a warning, when the WAL is
opened: recovery never has to guess what the writer decided about the log.

Hard state is a WAL record rather than a small file replaced by rename: it rides in the same write and the
same fsync as the batch's entries (a file would cost a second fsync and a directory fsync per batch), it is
written after the batch's entries so a durable commit index never points past a durable entry, and each
segment header repeats it so that compaction can drop old segments without losing it.

``sync`` writes all buffered records with one ``write`` of a joined buffer and one ``fdatasync``; a new
segment starts once the current one has passed ``segment_bytes``, after the old one is durable. So only the
last record of the last segment can be torn by a crash. Recovery truncates such a tail with a warning, and
reports anything else (a bad record followed by a valid one, a damaged record in an earlier segment, a gap
in indexes or sequence numbers) as ``WALCorruption`` naming the file and the byte offset.

Not thread-safe: the Raft runtime calls one WAL from one thread at a time.
"""

from __future__ import annotations

import bisect
import enum
import fcntl
import itertools
import os
import re
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import NamedTuple, ParamSpec, TypeVar

import msgspec

from agents.server.snapshots import (
    SnapshotStore,
    WALCorruption,
    WALError,
    WALInUse,
    fsync_directory,
    write_durably,
)
from cluster.raft.types import Entry, HardState, SnapshotMeta

__all__ = [
    "WAL",
    "Recovered",
    "SegmentHeader",
    "SnapshotRecord",
    "Truncate",
    "WALCorruption",
    "WALError",
    "WALInUse",
    "WALRecord",
    "read_segment",
]

_FORMAT_VERSION = 1
_MAGIC = 0xCA7A
_MAGIC_BYTES = struct.pack("<H", _MAGIC)
_HEAD = struct.Struct("<HBBII")  # the part of the header its own CRC covers
_HEADER = struct.Struct("<HBBIII")
_CRC = struct.Struct("<I")
_MAX_PAYLOAD_BYTES = 256 << 20
_SEGMENT_NAME = re.compile(r"^([0-9a-f]{16})-([0-9a-f]{16})\.wal$")


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


class _Kind(enum.IntEnum):
    SEGMENT_HEADER = 1
    ENTRY = 2
    TRUNCATE = 3
    HARD_STATE = 4
    SNAPSHOT = 5


_ENCODER = msgspec.msgpack.Encoder()
_DECODERS: dict[int, msgspec.msgpack.Decoder[RecordValue]] = {
    _Kind.SEGMENT_HEADER: msgspec.msgpack.Decoder(SegmentHeader),
    _Kind.ENTRY: msgspec.msgpack.Decoder(Entry),
    _Kind.TRUNCATE: msgspec.msgpack.Decoder(Truncate),
    _Kind.HARD_STATE: msgspec.msgpack.Decoder(HardState),
    _Kind.SNAPSHOT: msgspec.msgpack.Decoder(SnapshotRecord),
}


@dataclass(frozen=True, slots=True)
class WALRecord:
    """One record of a segment file, as ``read_segment`` shows it: bytes ``offset`` to ``end``."""

    offset: int
    end: int
    value: RecordValue


@dataclass(frozen=True, slots=True)
class Recovered:
    """What ``WAL.open`` found: the state Raft restarts from, and what recovery had to repair."""

    hard_state: HardState
    snapshot: SnapshotMeta | None
    entries: list[Entry]  # after the snapshot, contiguous, in index order
    warnings: list[str]


def _encode_record(kind: _Kind, value: RecordValue) -> bytes:
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


def _parse_segment(path: Path, data: bytes, *, tail_may_tear: bool) -> tuple[list[WALRecord], str | None]:
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
    return _parse_segment(path, path.read_bytes(), tail_may_tear=False)[0]


@dataclass(frozen=True, slots=True)
class _Segment:
    seq: int
    first_index: int
    path: Path


def _segment_path(directory: Path, seq: int, first_index: int) -> Path:
    return directory / f"{seq:016x}-{first_index:016x}.wal"


def _list_segments(directory: Path) -> list[_Segment]:
    """The segment files of ``directory`` in seq order; two with one seq cannot both be right."""
    segments = []
    for path in directory.iterdir():
        match = _SEGMENT_NAME.match(path.name)
        if match:
            segments.append(_Segment(int(match[1], 16), int(match[2], 16), path))
    segments.sort(key=lambda segment: segment.seq)
    for before, after in itertools.pairwise(segments):
        if before.seq == after.seq:
            raise WALCorruption(after.path, 0, f"two segments have seq {after.seq}: {before.path.name}")
    return segments


class _LogReplay:
    """The log as recovery replays records: entries ``base + 1`` on, the newest hard state and snapshot."""

    def __init__(self, header: SegmentHeader) -> None:
        self.base = header.first_index - 1
        self.entries: list[Entry] = []
        self.hard_state = header.hard_state
        self.snapshot = header.snapshot

    @property
    def next_index(self) -> int:
        return self.base + len(self.entries) + 1

    def apply(self, path: Path, record: WALRecord) -> None:
        """Replay one record after the segment header; a record that cannot follow is corruption."""
        value = record.value
        if isinstance(value, Entry):
            if value.index != self.next_index:
                raise WALCorruption(path, record.offset, f"entry {value.index} where entry "
                                    f"{self.next_index} was expected (a gap or a reordering)")
            self.entries.append(value)
        elif isinstance(value, Truncate):
            if not 1 <= value.index <= self.next_index:
                raise WALCorruption(path, record.offset, f"truncation at {value.index} past the log's "
                                    f"next index {self.next_index}")
            self.truncate(value.index)
        elif isinstance(value, HardState):
            self.hard_state = value
        elif isinstance(value, SnapshotRecord):
            self.apply_snapshot(path, record.offset, value)
        else:
            raise WALCorruption(path, record.offset, "a segment header that does not start its segment")

    def truncate(self, index: int) -> None:
        if index > self.base:
            del self.entries[index - self.base - 1 :]
        else:
            self.entries.clear()
            self.base = index - 1

    def apply_snapshot(self, path: Path, offset: int, record: SnapshotRecord) -> None:
        """Do to the log what the writer did when it saved the snapshot."""
        meta = record.meta
        if not record.kept_log:
            self.entries.clear()
            self.base = meta.index
        elif meta.index > self.base:  # at or below base, the entries it covers were never replayed
            if meta.index >= self.next_index or self.entries[meta.index - self.base - 1].term != meta.term:
                raise WALCorruption(path, offset, f"snapshot {meta.index} of term {meta.term} was recorded "
                                    "as part of the log, which does not hold that entry")
            del self.entries[: meta.index - self.base]
            self.base = meta.index
        self.snapshot = meta


def _header_of(segment: _Segment, records: list[WALRecord]) -> SegmentHeader:
    """The segment's header record, which must agree with the file name."""
    header = records[0].value if records else None
    if not isinstance(header, SegmentHeader):
        raise WALCorruption(segment.path, 0, "the segment does not start with a segment header")
    if header.version != _FORMAT_VERSION:
        raise WALCorruption(segment.path, 0, f"unknown segment format version {header.version}")
    if (header.seq, header.first_index) != (segment.seq, segment.first_index):
        raise WALCorruption(segment.path, 0, f"the header says seq {header.seq} first index "
                            f"{header.first_index}, which does not match the file name")
    return header


def _repair_tail(segments: list[_Segment], warnings: list[str]) -> list[WALRecord]:
    """Cut a torn tail off the last segment (or drop the segment if its header was torn); its records."""
    last = segments[-1]
    records, torn = _parse_segment(last.path, last.path.read_bytes(), tail_may_tear=True)
    if not records:  # created, but a crash came before its header was durable
        last.path.unlink()
        fsync_directory(last.path.parent)
        warnings.append(f"removed segment {last.path.name}: a crash came before its header was complete"
                        + (f" ({torn})" if torn else ""))
        segments.pop()
        return read_segment(segments[-1].path) if segments else []
    if torn is None:
        return records
    with last.path.open("r+b") as file:
        file.truncate(records[-1].end)
        os.fsync(file.fileno())
    warnings.append(torn)
    return records


def _replay(directory: Path, covered: int) -> tuple[_LogReplay, list[_Segment], list[str]]:
    """Rebuild the log from the first segment a snapshot through ``covered`` leaves useful, through the last."""
    warnings: list[str] = []
    segments = _list_segments(directory)
    last_records = _repair_tail(segments, warnings) if segments else []
    if not segments:
        if covered:
            raise WALCorruption(directory, 0, f"a snapshot through index {covered} but no log segments")
        return _LogReplay(SegmentHeader(_FORMAT_VERSION, 0, 1, HardState(), None)), segments, warnings
    start = next((i for i in reversed(range(len(segments))) if segments[i].first_index <= covered + 1), None)
    if start is None:
        raise WALCorruption(segments[0].path, 0, f"the log starts at index {segments[0].first_index} but the "
                            f"snapshot covers only through {covered}: segments are missing")
    log: _LogReplay | None = None
    for i in range(start, len(segments)):
        segment = segments[i]
        records = last_records if i == len(segments) - 1 else read_segment(segment.path)
        header = _header_of(segment, records)
        if log is None:
            log = _LogReplay(header)
        elif segment.seq != segments[i - 1].seq + 1 or header.first_index != log.next_index:
            raise WALCorruption(segment.path, 0, f"segment seq {segment.seq} starting at index "
                                f"{header.first_index} cannot follow {segments[i - 1].path.name}, which "
                                f"ends at index {log.next_index - 1}")
        for record in records[1:]:
            log.apply(segment.path, record)
    assert log is not None
    return log, segments, warnings


class _Terms:
    """The term of every index after ``base``, as runs (one per term change): enough to decide whether a
    snapshot matches the log, without keeping entries in memory."""

    def __init__(self, base: int) -> None:
        self.base = base
        self.last = base
        self._starts: list[int] = []
        self._terms: list[int] = []

    def extend(self, entries: Sequence[Entry]) -> None:
        for entry in entries:
            assert entry.index == self.last + 1, f"entry {entry.index} does not follow {self.last}"
            if not self._terms or self._terms[-1] != entry.term:
                self._starts.append(entry.index)
                self._terms.append(entry.term)
            self.last = entry.index

    def truncate(self, index: int) -> None:
        """Forget ``index`` and everything after it."""
        assert self.base < index <= self.last + 1
        cut = bisect.bisect_left(self._starts, index)
        del self._starts[cut:], self._terms[cut:]
        self.last = index - 1

    def term_at(self, index: int) -> int | None:
        if not self.base < index <= self.last:
            return None
        return self._terms[bisect.bisect_right(self._starts, index) - 1]

    def rebase(self, index: int) -> None:
        """Forget everything through ``index`` but keep what follows."""
        assert self.base <= index <= self.last
        if index == self.last:
            self._starts.clear()
            self._terms.clear()
        else:
            keep = bisect.bisect_right(self._starts, index + 1) - 1
            del self._starts[:keep], self._terms[:keep]
            self._starts[0] = index + 1
        self.base = index

    def reset(self, index: int) -> None:
        """Forget every entry: the log now continues after ``index``."""
        self._starts.clear()
        self._terms.clear()
        self.base = self.last = index


_P = ParamSpec("_P")
_R = TypeVar("_R")


class WAL:
    """An open write-ahead log. ``append`` and ``set_hard_state`` buffer; ``sync`` makes them durable.

    Build one with ``WAL.open``. After a failed write or fsync the WAL refuses further use (what reached
    the disk is unknown): close it and open it again, which recovers what was durable.
    """

    def __init__(self, directory: Path, segment_bytes: int, lock_fd: int, snapshots: SnapshotStore) -> None:
        self._directory = directory
        self._segment_bytes = segment_bytes
        self._lock_fd = lock_fd
        self._snapshots = snapshots
        self._segments: list[_Segment] = []
        self._fd = -1
        self._size = 0
        self._pending: list[bytes] = []
        self._pending_hard_state: HardState | None = None
        self._hard_state = HardState()
        self._snapshot: SnapshotMeta | None = None
        self._terms = _Terms(0)
        self._failure: str | None = None
        self._closed = False

    @classmethod
    def open(
        cls, directory: Path, *, segment_bytes: int = 64 << 20, keep_snapshots: int = 3
    ) -> tuple[WAL, Recovered]:
        """Lock ``directory`` (created if missing), recover what is durable there, and open for appends."""
        assert segment_bytes > 0
        if not directory.is_dir():
            directory.mkdir(parents=True)
            fsync_directory(directory.parent)  # or a power cut could lose the new directory and all in it
        lock_fd = _lock(directory)
        wal = cls(directory, segment_bytes, lock_fd, SnapshotStore(directory, keep=keep_snapshots))
        try:
            return wal, wal._recover()
        except BaseException:
            wal._release()
            raise

    @property
    def last_index(self) -> int:
        """Index of the last entry appended (buffered or durable), or of the snapshot if none follow it."""
        return self._terms.last

    @property
    def snapshot_index(self) -> int:
        """Index of the newest saved snapshot; 0 before the first one."""
        return self._snapshot.index if self._snapshot else 0

    def append(self, entries: Sequence[Entry]) -> None:
        """Buffer entries; the first one may overwrite a suffix of the log (Raft's conflicting entries).

        Entries at or below the snapshot index are skipped: the snapshot already holds them, committed.
        """
        self._check_usable()
        if not entries or entries[-1].index <= self.snapshot_index:
            return
        entries = entries[max(0, self.snapshot_index + 1 - entries[0].index) :]
        first = entries[0].index
        assert first <= self.last_index + 1, f"entry {first} would leave a gap after entry {self.last_index}"
        records = [_encode_record(_Kind.ENTRY, entry) for entry in entries]
        if first <= self.last_index:
            records.insert(0, _encode_record(_Kind.TRUNCATE, Truncate(first)))
            self._terms.truncate(first)
        self._terms.extend(entries)
        self._pending.extend(records)

    def set_hard_state(self, hard_state: HardState) -> None:
        """Buffer the hard state; ``sync`` writes it after the entries of its batch."""
        self._check_usable()
        self._pending_hard_state = hard_state

    def sync(self) -> None:
        """Write everything buffered with one write and one fdatasync; on return all of it is durable."""
        self._check_usable()
        if self._pending_hard_state is not None and self._pending_hard_state != self._hard_state:
            self._pending.append(_encode_record(_Kind.HARD_STATE, self._pending_hard_state))
            self._hard_state = self._pending_hard_state
        self._pending_hard_state = None
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        self._guarded(write_durably, self._fd, data)
        self._size += len(data)
        if self._size >= self._segment_bytes:
            self._guarded(self._start_segment)

    def save_snapshot(self, meta: SnapshotMeta, data: bytes) -> None:
        """Durably save a snapshot, then log it (syncing what is buffered) and prune old snapshots.

        If the log holds ``meta.index`` with ``meta.term`` (a snapshot of this server's own state) the
        entries after it stay; otherwise (a snapshot installed from the leader) the log restarts after it.
        """
        self._check_usable()
        assert meta.index >= max(self.snapshot_index, 1), f"snapshot {meta.index} is older than the last one"
        assert meta.index > self.snapshot_index or self._snapshot is None or meta.term == self._snapshot.term
        self._guarded(self._snapshots.save, meta, data)
        kept_log = meta.index == self._terms.base or self._terms.term_at(meta.index) == meta.term
        if not kept_log:
            self._terms.reset(meta.index)
        elif meta.index > self._terms.base:
            self._terms.rebase(meta.index)
        self._snapshot = meta
        self._pending.append(_encode_record(_Kind.SNAPSHOT, SnapshotRecord(meta, kept_log)))
        self.sync()
        self._guarded(self._snapshots.prune)

    def compact(self, through_index: int) -> None:
        """Delete whole segments whose entries all lie at or below ``through_index`` (within a snapshot)."""
        self._check_usable()
        assert through_index <= self.snapshot_index, "compacting entries that no snapshot covers"
        dropped = 0
        while len(self._segments) - dropped > 1 and self._segments[dropped + 1].first_index <= through_index + 1:
            self._guarded(self._segments[dropped].path.unlink)
            dropped += 1
        if dropped:
            del self._segments[:dropped]
            self._guarded(fsync_directory, self._directory)

    def load_snapshot(self) -> tuple[SnapshotMeta, bytes] | None:
        """The newest snapshot, checked; ``WALCorruption`` if its file is damaged."""
        self._check_usable()
        return self._snapshots.load_newest()

    def close(self) -> None:
        """Sync what is buffered (unless a write already failed) and release the directory."""
        if self._closed:
            return
        try:
            if self._failure is None:
                self.sync()
        finally:
            self._release()

    def __enter__(self) -> WAL:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _recover(self) -> Recovered:
        warnings = self._snapshots.remove_temp_files()
        newest = self._snapshots.newest_meta()
        log, self._segments, replay_warnings = _replay(self._directory, newest.index if newest else 0)
        warnings.extend(replay_warnings)
        if log.snapshot != newest:  # a crash came between a snapshot's file and its record
            warnings.extend(self._snapshots.discard_after(log.snapshot))
            if self._snapshots.newest_meta() != log.snapshot:
                raise WALCorruption(self._directory, 0, f"the log commits snapshot {log.snapshot}, whose file "
                                    "is missing")
            log, self._segments, _ = _replay(self._directory, log.snapshot.index if log.snapshot else 0)
        if log.base != (log.snapshot.index if log.snapshot else 0):
            raise WALCorruption(self._segments[-1].path, 0, f"the log continues after index {log.base}, "
                                f"not after its snapshot {log.snapshot}")
        self._hard_state, self._snapshot = log.hard_state, log.snapshot
        self._terms = _Terms(log.base)
        self._terms.extend(log.entries)
        if self._segments:
            current = self._segments[-1].path
            self._fd = os.open(current, os.O_WRONLY | os.O_APPEND)
            self._size = current.stat().st_size
        else:
            self._start_segment()
        return Recovered(log.hard_state, log.snapshot, log.entries, warnings)

    def _start_segment(self) -> None:
        """Open a new segment after the durable log; the old one is complete, so a crash cannot tear it."""
        seq = self._segments[-1].seq + 1 if self._segments else 1
        segment = _Segment(seq, self.last_index + 1, _segment_path(self._directory, seq, self.last_index + 1))
        header = SegmentHeader(_FORMAT_VERSION, seq, segment.first_index, self._hard_state, self._snapshot)
        record = _encode_record(_Kind.SEGMENT_HEADER, header)
        fd = os.open(segment.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            write_durably(fd, record)
            fsync_directory(self._directory)
        except BaseException:
            os.close(fd)
            raise
        if self._fd >= 0:
            os.close(self._fd)
        self._fd, self._size = fd, len(record)
        self._segments.append(segment)

    def _guarded(self, operation: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs) -> _R:
        """Run a disk operation; if it fails, what reached the disk is unknown, so stop accepting writes."""
        try:
            return operation(*args, **kwargs)
        except OSError as exc:
            self._failure = f"{getattr(operation, '__name__', 'a disk operation')} failed: {exc}"
            raise WALError(f"write-ahead log in {self._directory}: {self._failure}") from exc

    def _check_usable(self) -> None:
        if self._closed:
            raise WALError(f"write-ahead log in {self._directory} is closed")
        if self._failure is not None:
            raise WALError(f"write-ahead log in {self._directory} is unusable since {self._failure}; "
                           "reopen it to recover what is durable")

    def _release(self) -> None:
        """Close the segment and the lock (closing the lock file releases the flock)."""
        self._closed = True
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        os.close(self._lock_fd)


def _lock(directory: Path) -> int:
    """Take the directory's exclusive lock, or raise ``WALInUse``; the fd holds it until closed."""
    fd = os.open(directory / "LOCK", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise WALInUse(f"{directory} is in use by another write-ahead log") from None
    return fd
