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

The record format is in ``agents.server.wal_records``, recovery (segments and replay) in
``agents.server.wal_replay``; this module is the open log that appends, syncs, rolls segments, commits
snapshots and compacts.

Not thread-safe: the Raft runtime calls one WAL from one thread at a time.
"""

from __future__ import annotations

import bisect
import fcntl
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import ParamSpec, TypeVar

from agents.server.snapshots import (
    SnapshotStore,
    WALCorruption,
    WALError,
    WALInUse,
    fsync_directory,
    write_durably,
)
from agents.server.wal_records import (
    FORMAT_VERSION,
    RecordKind,
    SegmentHeader,
    SnapshotRecord,
    Truncate,
    WALRecord,
    encode_record,
    read_segment,
)
from agents.server.wal_replay import Segment, replay, segment_path
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


@dataclass(frozen=True, slots=True)
class Recovered:
    """What ``WAL.open`` found: the state Raft restarts from, and what recovery had to repair."""

    hard_state: HardState
    snapshot: SnapshotMeta | None
    entries: list[Entry]  # after the snapshot, contiguous, in index order
    warnings: list[str]


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
        self._segments: list[Segment] = []
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
        records = [encode_record(RecordKind.ENTRY, entry) for entry in entries]
        if first <= self.last_index:
            records.insert(0, encode_record(RecordKind.TRUNCATE, Truncate(first)))
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
            self._pending.append(encode_record(RecordKind.HARD_STATE, self._pending_hard_state))
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
        self._pending.append(encode_record(RecordKind.SNAPSHOT, SnapshotRecord(meta, kept_log)))
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
        log, self._segments, replay_warnings = replay(self._directory, newest.index if newest else 0)
        warnings.extend(replay_warnings)
        if log.snapshot != newest:  # a crash came between a snapshot's file and its record
            warnings.extend(self._snapshots.discard_after(log.snapshot))
            if self._snapshots.newest_meta() != log.snapshot:
                raise WALCorruption(self._directory, 0, f"the log commits snapshot {log.snapshot}, whose file "
                                    "is missing")
            log, self._segments, _ = replay(self._directory, log.snapshot.index if log.snapshot else 0)
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
        segment = Segment(seq, self.last_index + 1, segment_path(self._directory, seq, self.last_index + 1))
        header = SegmentHeader(FORMAT_VERSION, seq, segment.first_index, self._hard_state, self._snapshot)
        record = encode_record(RecordKind.SEGMENT_HEADER, header)
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
