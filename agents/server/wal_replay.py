"""Recovery of a WAL directory: its segment files, their order, and the log they replay to
(see ``agents.server.wal``).

``replay`` repairs a torn tail of the last segment (with a warning), then replays the records of every
segment a snapshot leaves useful into a ``LogReplay``: the entries after the snapshot, the newest hard
state and snapshot. A gap, a reordering or a record that cannot follow is ``WALCorruption``.
"""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass
from pathlib import Path

from agents.server.snapshots import WALCorruption, fsync_directory
from agents.server.wal_records import (
    FORMAT_VERSION,
    SegmentHeader,
    SnapshotRecord,
    Truncate,
    WALRecord,
    parse_segment,
    read_segment,
)
from cluster.raft.types import Entry, HardState

__all__ = ["LogReplay", "Segment", "list_segments", "replay", "segment_path"]

_SEGMENT_NAME = re.compile(r"^([0-9a-f]{16})-([0-9a-f]{16})\.wal$")


@dataclass(frozen=True, slots=True)
class Segment:
    seq: int
    first_index: int
    path: Path


def segment_path(directory: Path, seq: int, first_index: int) -> Path:
    return directory / f"{seq:016x}-{first_index:016x}.wal"


def list_segments(directory: Path) -> list[Segment]:
    """The segment files of ``directory`` in seq order; two with one seq cannot both be right."""
    segments = []
    for path in directory.iterdir():
        match = _SEGMENT_NAME.match(path.name)
        if match:
            segments.append(Segment(int(match[1], 16), int(match[2], 16), path))
    segments.sort(key=lambda segment: segment.seq)
    for before, after in itertools.pairwise(segments):
        if before.seq == after.seq:
            raise WALCorruption(after.path, 0, f"two segments have seq {after.seq}: {before.path.name}")
    return segments


class LogReplay:
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


def header_of(segment: Segment, records: list[WALRecord]) -> SegmentHeader:
    """The segment's header record, which must agree with the file name."""
    header = records[0].value if records else None
    if not isinstance(header, SegmentHeader):
        raise WALCorruption(segment.path, 0, "the segment does not start with a segment header")
    if header.version != FORMAT_VERSION:
        raise WALCorruption(segment.path, 0, f"unknown segment format version {header.version}")
    if (header.seq, header.first_index) != (segment.seq, segment.first_index):
        raise WALCorruption(segment.path, 0, f"the header says seq {header.seq} first index "
                            f"{header.first_index}, which does not match the file name")
    return header


def repair_tail(segments: list[Segment], warnings: list[str]) -> list[WALRecord]:
    """Cut a torn tail off the last segment (or drop the segment if its header was torn); its records."""
    last = segments[-1]
    records, torn = parse_segment(last.path, last.path.read_bytes(), tail_may_tear=True)
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


def replay(directory: Path, covered: int) -> tuple[LogReplay, list[Segment], list[str]]:
    """Rebuild the log from the first segment a snapshot through ``covered`` leaves useful, through the last."""
    warnings: list[str] = []
    segments = list_segments(directory)
    last_records = repair_tail(segments, warnings) if segments else []
    if not segments:
        if covered:
            raise WALCorruption(directory, 0, f"a snapshot through index {covered} but no log segments")
        return LogReplay(SegmentHeader(FORMAT_VERSION, 0, 1, HardState(), None)), segments, warnings
    start = next((i for i in reversed(range(len(segments))) if segments[i].first_index <= covered + 1), None)
    if start is None:
        raise WALCorruption(segments[0].path, 0, f"the log starts at index {segments[0].first_index} but the "
                            f"snapshot covers only through {covered}: segments are missing")
    log: LogReplay | None = None
    for i in range(start, len(segments)):
        segment = segments[i]
        records = last_records if i == len(segments) - 1 else read_segment(segment.path)
        header = header_of(segment, records)
        if log is None:
            log = LogReplay(header)
        elif segment.seq != segments[i - 1].seq + 1 or header.first_index != log.next_index:
            raise WALCorruption(segment.path, 0, f"segment seq {segment.seq} starting at index "
                                f"{header.first_index} cannot follow {segments[i - 1].path.name}, which "
                                f"ends at index {log.next_index - 1}")
        for record in records[1:]:
            log.apply(segment.path, record)
    assert log is not None
    return log, segments, warnings
