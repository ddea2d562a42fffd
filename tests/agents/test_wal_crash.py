"""Crash tests: cut the last segment at every record boundary and inside records, and damage bytes all over the
log. Recovery must keep exactly the records before a cut, and must either truncate a torn last record or
raise ``WALCorruption`` naming the file and offset: it never returns data that was not written.
"""

from __future__ import annotations

import itertools
import random
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agents.server.wal import WAL, Recovered, SnapshotRecord, Truncate, WALCorruption, WALRecord, read_segment
from cluster.raft.types import Entry, HardState, SnapshotMeta


@dataclass(frozen=True)
class Checkpoint:
    """What was durable after one ``sync``: where the log ended, and the state a restart must find."""

    segment: str
    size: int
    entries: list[Entry]
    hard_state: HardState


def entry(term: int, index: int) -> Entry:
    return Entry(term, index, data=bytes([index % 256]) * (index * 7 % 50))


def last_segment(directory: Path) -> Path:
    return max(directory.glob("*.wal"))


class SampleLog:
    """Writes a log with rollovers, overwrites, hard states and multi-record batches, one checkpoint per sync."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.checkpoints: list[Checkpoint] = []
        self._entries: list[Entry] = []
        self._hard_state = HardState()
        self._wal, _ = WAL.open(directory, segment_bytes=600)
        for index in range(1, 25):
            self._step([entry(1, index)], HardState(1, "n1", index) if index % 4 == 0 else None)
        self._wal.close()  # reopen with room, so everything below lands in the last segment
        self._wal, _ = WAL.open(directory, segment_bytes=1 << 20)
        self._step([], HardState(2, "", 17))
        self._step([entry(2, index) for index in range(18, 22)])  # an overwrite and more, in one batch
        self._step([entry(2, index) for index in range(22, 26)], HardState(2, "n2", 23))
        self._step([entry(3, 24)], HardState(3, "n3", 24))
        for index in range(25, 31):
            self._step([entry(3, index)])
        self._wal.close()

    def _step(self, new: list[Entry], hard_state: HardState | None = None) -> None:
        if new:
            self._wal.append(new)
            del self._entries[new[0].index - 1 :]
            self._entries.extend(new)
        if hard_state is not None:
            self._wal.set_hard_state(hard_state)
            self._hard_state = hard_state
        self._wal.sync()
        segment = last_segment(self.directory)
        self.checkpoints.append(Checkpoint(segment.name, segment.stat().st_size, list(self._entries),
                                           self._hard_state))


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleLog:
    log = SampleLog(tmp_path_factory.mktemp("sample"))
    records = read_segment(last_segment(log.directory))
    kinds = {type(record.value).__name__ for record in records}
    assert {"SegmentHeader", "Entry", "Truncate", "HardState"} <= kinds, kinds
    assert len(list(log.directory.glob("*.wal"))) >= 3
    return log


class Copies:
    """Fresh copies of the sample log to damage, one per recovery."""

    def __init__(self, source: Path, root: Path) -> None:
        self._source = source
        self._root = root
        self._count = 0

    def make(self) -> Path:
        self._count += 1
        copy = self._root / f"copy-{self._count}"
        shutil.copytree(self._source, copy)
        return copy


@pytest.fixture
def copies(sample: SampleLog, tmp_path: Path) -> Copies:
    return Copies(sample.directory, tmp_path)


def recover(directory: Path) -> Recovered:
    wal, recovered = WAL.open(directory)
    wal.close()
    return recovered


def recover_cut(copies: Copies, segment: str, cut: int) -> tuple[Path, Recovered]:
    directory = copies.make()
    with (directory / segment).open("r+b") as file:
        file.truncate(cut)
    return directory, recover(directory)


def common_prefix(a: list[Entry], b: list[Entry]) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


def positions_inside(record: WALRecord) -> Iterator[int]:
    """Cut points that tear ``record``: in its header, at its payload's start, middle and end."""
    inside = {record.offset + 1, record.offset + 8, record.offset + 15, record.offset + 16,
              record.offset + 17, (record.offset + record.end) // 2, record.end - 1}
    yield from sorted(pos for pos in inside if record.offset < pos < record.end)


def test_a_cut_at_a_record_boundary_keeps_every_record_before_it(sample: SampleLog, copies: Copies) -> None:
    segment = last_segment(sample.directory).name
    records = read_segment(sample.directory / segment)
    exact = {c.size: c for c in sample.checkpoints if c.segment == segment}
    assert records[0].end in exact, "the last segment began with a rollover at the end of a sync"
    for before, record in itertools.pairwise(records):
        _, recovered = recover_cut(copies, segment, record.end)
        assert recovered.warnings == []
        assert recovered.hard_state.commit <= len(recovered.entries), "a commit index past the durable log"
        if record.end in exact:
            assert (recovered.entries, recovered.hard_state) == (exact[record.end].entries,
                                                                 exact[record.end].hard_state)
            continue
        # Inside a batch: the records written so far of the batch, no more, no less.
        previous = max((c for c in exact.values() if c.size <= before.end), key=lambda c: c.size)
        following = min((c for c in exact.values() if c.size > record.end), key=lambda c: c.size)
        assert recovered.entries == following.entries[: len(recovered.entries)]
        assert len(recovered.entries) >= common_prefix(previous.entries, following.entries)
        assert recovered.hard_state in (previous.hard_state, following.hard_state)
        if isinstance(record.value, Entry):
            assert recovered.entries[-1] == record.value
        if isinstance(record.value, Truncate):
            assert len(recovered.entries) == record.value.index - 1


def test_a_cut_inside_a_record_drops_that_record_with_a_warning(sample: SampleLog, copies: Copies) -> None:
    segment = last_segment(sample.directory).name
    records = read_segment(sample.directory / segment)
    for record in records[1:]:
        _, at_boundary = recover_cut(copies, segment, record.offset)
        for cut in positions_inside(record):
            directory, recovered = recover_cut(copies, segment, cut)
            assert (recovered.entries, recovered.hard_state) == (at_boundary.entries, at_boundary.hard_state)
            (warning,) = recovered.warnings
            assert f"torn record at segment {segment} offset {record.offset}" in warning
            assert (directory / segment).stat().st_size == record.offset
        if record.offset % 3 == 0:  # the torn bytes are gone for good: new appends follow the kept records
            wal, _ = WAL.open(directory)
            with wal:
                wal.append([Entry(9, wal.last_index + 1, data=b"after the crash")])
            assert recover(directory).entries == [*at_boundary.entries, Entry(9, len(at_boundary.entries) + 1,
                                                                             data=b"after the crash")]


def test_a_cut_inside_a_new_segment_header_removes_that_segment(sample: SampleLog, copies: Copies) -> None:
    segment = last_segment(sample.directory).name
    header = read_segment(sample.directory / segment)[0]
    rollover = next(c for c in sample.checkpoints if c.segment == segment and c.size == header.end)
    for cut in [0, *positions_inside(header)]:
        directory, recovered = recover_cut(copies, segment, cut)
        assert (recovered.entries, recovered.hard_state) == (rollover.entries, rollover.hard_state)
        (warning,) = recovered.warnings
        assert f"removed segment {segment}" in warning
        assert not (directory / segment).exists()


def test_damaged_bytes_are_a_torn_tail_only_in_the_last_record(sample: SampleLog, copies: Copies) -> None:
    rng = random.Random(20240531)
    names = sorted(path.name for path in sample.directory.glob("*.wal"))
    checked = 0
    for name in names:
        records = read_segment(sample.directory / name)
        for record in records:
            is_tail = name == names[-1] and record is records[-1]
            expected = recover_cut(copies, name, record.offset)[1] if is_tail else None
            payload = range(record.offset + 16, record.end)
            picks = [*range(record.offset, record.offset + 16), payload[0], payload[len(payload) // 2], payload[-1]]
            for pos in picks:
                directory = copies.make()
                content = bytearray((directory / name).read_bytes())
                content[pos] ^= rng.choice([0x01, 0x80, 0xFF, rng.randrange(1, 256)])
                (directory / name).write_bytes(content)
                checked += 1
                if expected is None:
                    with pytest.raises(WALCorruption) as caught:
                        recover(directory)
                    assert (caught.value.path.name, caught.value.offset) == (name, record.offset), pos
                    assert f"{name} offset {record.offset}" in str(caught.value)
                else:
                    recovered = recover(directory)
                    assert (recovered.entries, recovered.hard_state) == (expected.entries, expected.hard_state)
                    assert f"torn record at segment {name} offset {record.offset}" in recovered.warnings[0]
    assert checked > 500


def test_zeros_after_the_last_record_are_a_torn_tail(sample: SampleLog, copies: Copies) -> None:
    directory = copies.make()
    segment = last_segment(directory)
    with segment.open("ab") as file:  # a file system that grew the file but never wrote the data
        file.write(bytes(4096))
    recovered = recover(directory)
    assert recovered.entries == sample.checkpoints[-1].entries
    assert "4096 bytes dropped" in recovered.warnings[0]


def test_a_lost_page_before_valid_records_is_corruption(sample: SampleLog, copies: Copies) -> None:
    directory = copies.make()
    segment = last_segment(directory)
    records = read_segment(segment)
    victim = records[len(records) // 2]
    content = bytearray(segment.read_bytes())
    content[victim.offset : victim.end] = bytes(victim.end - victim.offset)
    segment.write_bytes(content)
    with pytest.raises(WALCorruption, match="followed by a valid record") as caught:
        recover(directory)
    assert (caught.value.path, caught.value.offset) == (segment, victim.offset)


def test_a_damaged_record_at_the_end_of_an_earlier_segment_is_corruption(sample: SampleLog, copies: Copies) -> None:
    directory = copies.make()
    earlier = sorted(directory.glob("*.wal"))[-2]
    with earlier.open("r+b") as file:
        file.truncate(earlier.stat().st_size - 3)
    with pytest.raises(WALCorruption, match="has a successor") as caught:
        recover(directory)
    assert caught.value.path == earlier


@pytest.mark.parametrize("installed", [False, True], ids=["own snapshot", "installed snapshot"])
def test_a_cut_before_a_snapshot_record_keeps_the_previous_snapshot(tmp_path: Path, installed: bool) -> None:
    directory = tmp_path / "log"
    new_meta = SnapshotMeta(8, 2 if installed else 1)  # installed: the leader's entry 8 has another term
    with WAL.open(directory)[0] as wal:
        wal.append([entry(1, index) for index in range(1, 10)])
        wal.save_snapshot(SnapshotMeta(2, 1), b"two")
        wal.save_snapshot(new_meta, b"eight")
        wal.append([entry(2, index) for index in range(wal.last_index + 1, 13)])
    segment = last_segment(directory)
    records = read_segment(segment)
    record = next(r for r in records if isinstance(r.value, SnapshotRecord) and r.value.meta == new_meta)
    copies = Copies(directory, tmp_path)
    for cut in (record.offset, record.offset + 5, record.end - 1):
        _, recovered = recover_cut(copies, segment.name, cut)
        assert recovered.snapshot == SnapshotMeta(2, 1), cut
        assert recovered.entries == [entry(1, index) for index in range(3, 10)], cut
        assert recovered.warnings[-1] == (f"removed snapshot {8:016x}-{new_meta.term:016x}.snap: a crash came "
                                          "before the log committed it")
    for cut in (record.end, segment.stat().st_size):
        copy, recovered = recover_cut(copies, segment.name, cut)
        kept = [] if installed else [entry(1, 9)]
        new = [entry(2, index) for index in range(9 if installed else 10, 13)] if cut > record.end else []
        assert (recovered.snapshot, recovered.entries, recovered.warnings) == (new_meta, kept + new, [])
        wal, _ = WAL.open(copy)
        with wal:
            assert wal.load_snapshot() == (new_meta, b"eight")
