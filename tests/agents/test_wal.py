"""The write-ahead log's round trips: what a server finds on disk after a clean restart or a crash.

A "crash" here is a copy of the directory taken while the WAL is open: the WAL writes only in ``sync``, so
the copy holds exactly what a power cut would have left (the crash tests cut and damage files further).
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import pytest

from agents.server.snapshots import SnapshotStore
from agents.server.wal import WAL, WALCorruption, WALError, WALInUse, read_segment
from cluster.raft.types import ConfState, Entry, EntryType, HardState, SnapshotMeta


def entries(term: int, first: int, last: int, size: int = 8) -> list[Entry]:
    return [Entry(term, index, data=index.to_bytes(4, "big") * (size // 4)) for index in range(first, last + 1)]


def crash_copy(directory: Path, tmp_path: Path) -> Path:
    """What the disk holds if the machine died now (everything synced, nothing buffered)."""
    copy = tmp_path / f"crash-{len(list(tmp_path.glob('crash-*')))}"
    shutil.copytree(directory, copy)
    return copy


def reopen(directory: Path, **options: int) -> tuple[WAL, list[Entry], HardState, list[str]]:
    wal, recovered = WAL.open(directory, **options)
    return wal, recovered.entries, recovered.hard_state, recovered.warnings


def segment_files(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.glob("*.wal"))


def test_a_new_directory_recovers_an_empty_log(tmp_path: Path) -> None:
    wal, recovered = WAL.open(tmp_path / "wal")
    with wal:
        assert recovered.entries == [] and recovered.snapshot is None and recovered.warnings == []
        assert recovered.hard_state == HardState() and wal.last_index == 0


def test_synced_entries_and_hard_state_survive_a_restart(tmp_path: Path) -> None:
    written = [*entries(1, 1, 3), Entry(2, 4, EntryType.NOOP), Entry(2, 5, EntryType.CONF_CHANGE, b"\x00\xff")]
    with WAL.open(tmp_path)[0] as wal:
        wal.append(written[:2])
        wal.set_hard_state(HardState(1, "n1", 1))
        wal.sync()
        wal.append(written[2:])
        wal.set_hard_state(HardState(2, "n2", 4))
        wal.sync()
    wal, got, hard_state, warnings = reopen(tmp_path)
    with wal:
        assert (got, hard_state, warnings) == (written, HardState(2, "n2", 4), [])
        assert wal.last_index == 5


def test_only_synced_writes_survive_a_crash(tmp_path: Path) -> None:
    directory = tmp_path / "wal"
    with WAL.open(directory)[0] as wal:
        wal.append(entries(1, 1, 4))
        wal.set_hard_state(HardState(1, "n1", 2))
        wal.sync()
        wal.append(entries(1, 5, 9))
        wal.set_hard_state(HardState(2, "", 7))
        crashed = crash_copy(directory, tmp_path)
    wal, got, hard_state, _ = reopen(crashed)
    with wal:
        assert (got, hard_state) == (entries(1, 1, 4), HardState(1, "n1", 2))


def test_close_makes_buffered_writes_durable(tmp_path: Path) -> None:
    with WAL.open(tmp_path)[0] as wal:
        wal.append(entries(1, 1, 3))
        wal.set_hard_state(HardState(1, "n3", 3))
    wal, got, hard_state, _ = reopen(tmp_path)
    with wal:
        assert (got, hard_state) == (entries(1, 1, 3), HardState(1, "n3", 3))


def test_a_conflicting_suffix_is_overwritten_and_stays_overwritten(tmp_path: Path) -> None:
    with WAL.open(tmp_path)[0] as wal:
        wal.append(entries(1, 1, 10))
        wal.sync()
        wal.append(entries(2, 6, 7))
        wal.sync()
        assert wal.last_index == 7
        wal.append(entries(3, 8, 8))  # appends again after the overwrite, in a later batch
    wal, got, _, _ = reopen(tmp_path)
    with wal:
        assert got == entries(1, 1, 5) + entries(2, 6, 7) + entries(3, 8, 8)


def test_an_overwrite_within_one_unsynced_batch_keeps_the_newest_entries(tmp_path: Path) -> None:
    with WAL.open(tmp_path)[0] as wal:
        wal.append(entries(1, 1, 5))
        wal.append(entries(2, 3, 4))
        wal.append(entries(3, 2, 2))
    wal, got, _, _ = reopen(tmp_path)
    with wal:
        assert got == entries(1, 1, 1) + entries(3, 2, 2)


def test_segments_roll_over_and_read_back_in_order(tmp_path: Path) -> None:
    with WAL.open(tmp_path, segment_bytes=1024)[0] as wal:
        for first in range(1, 200, 10):
            wal.append(entries(1, first, first + 9, size=40))
            wal.sync()
    names = segment_files(tmp_path)
    assert len(names) > 5
    seqs = [int(name.split("-")[0], 16) for name in names]
    assert seqs == list(range(1, len(names) + 1))
    wal, got, _, warnings = reopen(tmp_path, segment_bytes=1024)
    with wal:
        assert got == entries(1, 1, 200, size=40) and warnings == []
    for name in names[:-1]:  # each file starts with the index its name promises (the last one may be empty)
        first_entry = next(r.value for r in read_segment(tmp_path / name) if isinstance(r.value, Entry))
        assert first_entry.index == int(name.split("-")[1].removesuffix(".wal"), 16)


def test_an_overwrite_reaching_back_into_an_earlier_segment_survives_a_restart(tmp_path: Path) -> None:
    with WAL.open(tmp_path, segment_bytes=512)[0] as wal:
        for first in range(1, 60, 5):
            wal.append(entries(1, first, first + 4, size=24))
            wal.sync()
        before = segment_files(tmp_path)
        wal.append(entries(2, 12, 14, size=24))
        wal.sync()
        for first in range(15, 40, 5):
            wal.append(entries(2, first, first + 4, size=24))
            wal.sync()
    first_indexes = [int(name[17:33], 16) for name in segment_files(tmp_path)]
    assert first_indexes[len(before) - 1] > 12, "the overwrite must reach into an earlier segment"
    assert first_indexes != sorted(first_indexes), "a segment after the overwrite starts below its predecessor"
    wal, got, _, _ = reopen(tmp_path, segment_bytes=512)
    with wal:
        assert got == entries(1, 1, 11, size=24) + entries(2, 12, 39, size=24)


def test_a_snapshot_of_the_own_log_keeps_the_entries_after_it(tmp_path: Path) -> None:
    meta = SnapshotMeta(6, 1, ConfState(("a", "b", "c")))
    with WAL.open(tmp_path)[0] as wal:
        wal.append(entries(1, 1, 9))
        wal.save_snapshot(meta, b"state at 6")
        wal.append(entries(1, 5, 6))  # already in the snapshot: nothing to do
        wal.append(entries(1, 5, 9) + entries(2, 10, 10))  # the part after the snapshot is kept
    wal, recovered = WAL.open(tmp_path)
    with wal:
        assert recovered.snapshot == meta and recovered.entries == entries(1, 7, 9) + entries(2, 10, 10)
        assert wal.load_snapshot() == (meta, b"state at 6")
        assert wal.snapshot_index == 6 and wal.last_index == 10


def test_compaction_deletes_only_segments_the_snapshot_covers(tmp_path: Path) -> None:
    with WAL.open(tmp_path, segment_bytes=600)[0] as wal:
        for first in range(1, 100, 5):
            wal.append(entries(1, first, first + 4, size=32))
            wal.sync()
        wal.set_hard_state(HardState(1, "n1", 70))  # lands in the last segment; earlier ones hold older ones
        wal.save_snapshot(SnapshotMeta(70, 1), b"seventy")
        before = segment_files(tmp_path)
        wal.compact(70)
        after = segment_files(tmp_path)
    assert len(after) < len(before) and after == before[-len(after) :]
    assert int(after[0].split("-")[1].removesuffix(".wal"), 16) <= 71  # the entries after 70 are all kept
    wal, recovered = WAL.open(tmp_path, segment_bytes=600)
    with wal:
        assert recovered.entries == entries(1, 71, 100, size=32)
        assert recovered.hard_state == HardState(1, "n1", 70)


def test_compaction_keeps_the_hard_state_held_only_by_dropped_segments(tmp_path: Path) -> None:
    with WAL.open(tmp_path, segment_bytes=400)[0] as wal:
        wal.set_hard_state(HardState(5, "n2", 0))
        wal.sync()
        for first in range(1, 80, 4):
            wal.append(entries(5, first, first + 3, size=32))
            wal.sync()
        wal.save_snapshot(SnapshotMeta(60, 5), b"")
        wal.compact(60)
    wal, recovered = WAL.open(tmp_path)
    with wal:
        assert recovered.hard_state == HardState(5, "n2", 0)


def test_a_snapshot_installed_from_the_leader_replaces_a_log_that_does_not_hold_it(tmp_path: Path) -> None:
    with WAL.open(tmp_path)[0] as wal:
        wal.append(entries(1, 1, 8))
        wal.save_snapshot(SnapshotMeta(5, 2), b"leader state")  # entry 5 has term 1 here: not our log
        assert wal.last_index == 5
        wal.append(entries(2, 6, 7))
        wal.save_snapshot(SnapshotMeta(20, 3), b"far ahead")
        wal.append(entries(3, 21, 22))
    wal, recovered = WAL.open(tmp_path)
    with wal:
        assert recovered.snapshot == SnapshotMeta(20, 3) and recovered.entries == entries(3, 21, 22)


def test_a_snapshot_the_log_never_committed_is_discarded(tmp_path: Path) -> None:
    with WAL.open(tmp_path)[0] as wal:
        wal.append(entries(1, 1, 8))
        wal.save_snapshot(SnapshotMeta(3, 1), b"three")
    store = SnapshotStore(tmp_path, keep=3)
    store.save(SnapshotMeta(5, 1), b"five")  # durable, but the crash came before its log record
    store.save(SnapshotMeta(30, 4), b"thirty")
    wal, recovered = WAL.open(tmp_path)
    with wal:
        assert recovered.snapshot == SnapshotMeta(3, 1) and recovered.entries == entries(1, 4, 8)
        assert wal.load_snapshot() == (SnapshotMeta(3, 1), b"three")
        assert recovered.warnings == [
            "removed snapshot 0000000000000005-0000000000000001.snap: a crash came before the log committed it",
            "removed snapshot 000000000000001e-0000000000000004.snap: a crash came before the log committed it",
        ]


def test_an_installed_snapshot_at_a_segment_boundary_replaces_the_log(tmp_path: Path) -> None:
    with WAL.open(tmp_path, segment_bytes=300)[0] as wal:
        while len(segment_files(tmp_path)) < 2:  # until a new segment starts right after the last entry
            wal.append(entries(1, wal.last_index + 1, wal.last_index + 1, size=32))
            wal.sync()
        boundary = wal.last_index
        wal.append(entries(2, boundary + 1, boundary + 1))
        wal.save_snapshot(SnapshotMeta(boundary, 2), b"leader's")  # our entry there has term 1: not the leader's
        assert wal.last_index == boundary
    wal, recovered = WAL.open(tmp_path)
    with wal:
        assert recovered.snapshot == SnapshotMeta(boundary, 2) and recovered.entries == []


def test_a_crash_while_saving_a_snapshot_leaves_the_previous_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with WAL.open(tmp_path)[0] as wal:
        wal.append(entries(1, 1, 9))
        wal.save_snapshot(SnapshotMeta(4, 1), b"old")

        def power_cut(source: str | Path, target: str | Path) -> None:
            raise OSError(errno.EIO, "power cut before the rename")

        monkeypatch.setattr(os, "replace", power_cut)
        with pytest.raises(WALError, match="power cut"):
            wal.save_snapshot(SnapshotMeta(8, 1), b"new")
        monkeypatch.undo()
        assert list(tmp_path.glob("*.tmp"))
    wal, recovered = WAL.open(tmp_path)
    with wal:
        assert wal.load_snapshot() == (SnapshotMeta(4, 1), b"old")
        assert recovered.entries == entries(1, 5, 9)
        assert recovered.warnings == ["removed an unfinished snapshot file 0000000000000008-0000000000000001.snap.tmp"]
        assert not list(tmp_path.glob("*.tmp"))


def test_only_the_newest_snapshots_are_kept(tmp_path: Path) -> None:
    with WAL.open(tmp_path, keep_snapshots=2)[0] as wal:
        wal.append(entries(1, 1, 9))
        for index in (2, 4, 6, 8):
            wal.save_snapshot(SnapshotMeta(index, 1), bytes([index]))
        assert wal.load_snapshot() == (SnapshotMeta(8, 1), b"\x08")
    assert sorted(path.name[:16] for path in tmp_path.glob("*.snap")) == [f"{6:016x}", f"{8:016x}"]


def test_a_damaged_snapshot_is_reported_with_its_file(tmp_path: Path) -> None:
    with WAL.open(tmp_path)[0] as wal:
        wal.append(entries(1, 1, 3))
        wal.save_snapshot(SnapshotMeta(3, 1), b"x" * 100)
    (snapshot,) = tmp_path.glob("*.snap")
    content = bytearray(snapshot.read_bytes())
    content[-10] ^= 0x40
    snapshot.write_bytes(content)
    wal, _ = WAL.open(tmp_path)  # the meta is intact: the log opens
    with wal, pytest.raises(WALCorruption, match="snapshot data does not match") as caught:
        wal.load_snapshot()
    assert caught.value.path == snapshot
    content[20] ^= 0x01  # now the header too
    snapshot.write_bytes(content)
    with pytest.raises(WALCorruption, match="snapshot header is damaged"):
        WAL.open(tmp_path)


def test_a_second_writer_is_refused(tmp_path: Path) -> None:
    with WAL.open(tmp_path)[0], pytest.raises(WALInUse):
        WAL.open(tmp_path)
    WAL.open(tmp_path)[0].close()  # released on close


def test_a_batch_is_one_write_and_one_fsync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real_write, real_fdatasync = os.write, os.fdatasync

    def counting_write(fd: int, data: bytes | memoryview) -> int:
        calls.append("write")
        return real_write(fd, data)

    def counting_fdatasync(fd: int) -> None:
        calls.append("fdatasync")
        real_fdatasync(fd)

    with WAL.open(tmp_path)[0] as wal:
        monkeypatch.setattr(os, "write", counting_write)
        monkeypatch.setattr(os, "fdatasync", counting_fdatasync)
        for index in range(1, 2001):
            wal.append([Entry(1, index, data=b"proposal")])
            wal.set_hard_state(HardState(1, "n1", index - 1))
        assert calls == []
        wal.sync()
        assert calls == ["write", "fdatasync"]
        wal.sync()  # nothing new: no syscall
        assert calls == ["write", "fdatasync"]
        monkeypatch.undo()
    wal, got, hard_state, _ = reopen(tmp_path)
    with wal:
        assert len(got) == 2000 and hard_state == HardState(1, "n1", 1999)


def test_a_failed_write_stops_the_wal_and_a_reopen_recovers_what_was_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wal = WAL.open(tmp_path)[0]
    wal.append(entries(1, 1, 3))
    wal.sync()
    wal.append(entries(1, 4, 6))

    def disk_full(fd: int, data: bytes | memoryview) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", disk_full)
    with pytest.raises(WALError, match="No space left"):
        wal.sync()
    monkeypatch.undo()
    with pytest.raises(WALError, match="reopen it"):
        wal.append(entries(1, 7, 7))
    wal.close()
    wal, got, _, _ = reopen(tmp_path)
    with wal:
        assert got == entries(1, 1, 3)


def test_a_missing_middle_segment_is_reported(tmp_path: Path) -> None:
    with WAL.open(tmp_path, segment_bytes=300)[0] as wal:
        for first in range(1, 50, 5):
            wal.append(entries(1, first, first + 4, size=24))
            wal.sync()
    names = segment_files(tmp_path)
    (tmp_path / names[2]).unlink()
    with pytest.raises(WALCorruption, match="cannot follow") as caught:
        WAL.open(tmp_path)
    assert caught.value.path.name == names[3] and caught.value.offset == 0


def test_missing_first_segments_without_a_snapshot_are_reported(tmp_path: Path) -> None:
    with WAL.open(tmp_path, segment_bytes=300)[0] as wal:
        for first in range(1, 50, 5):
            wal.append(entries(1, first, first + 4, size=24))
            wal.sync()
    names = segment_files(tmp_path)
    (tmp_path / names[0]).unlink()
    with pytest.raises(WALCorruption, match="segments are missing") as caught:
        WAL.open(tmp_path)
    assert caught.value.path.name == names[1]


def test_a_snapshot_without_any_log_is_reported(tmp_path: Path) -> None:
    with WAL.open(tmp_path)[0] as wal:
        wal.append(entries(1, 1, 3))
        wal.save_snapshot(SnapshotMeta(3, 1), b"")
    for name in segment_files(tmp_path):
        (tmp_path / name).unlink()
    with pytest.raises(WALCorruption, match="no log segments"):
        WAL.open(tmp_path)


def test_a_gap_in_indexes_is_reported_with_file_and_offset(tmp_path: Path) -> None:
    with WAL.open(tmp_path)[0] as wal:
        for index in range(1, 8):
            wal.append(entries(1, index, index))
            wal.sync()
    (segment,) = tmp_path.glob("*.wal")
    records = read_segment(segment)
    fourth = next(r for r in records if r.value == entries(1, 4, 4)[0])
    content = segment.read_bytes()
    segment.write_bytes(content[: fourth.offset] + content[fourth.end :])  # entry 4 vanishes
    with pytest.raises(WALCorruption, match="entry 5 where entry 4 was expected") as caught:
        WAL.open(tmp_path)
    assert (caught.value.path, caught.value.offset) == (segment, fourth.offset)


def test_read_segment_shows_every_record(tmp_path: Path) -> None:
    with WAL.open(tmp_path)[0] as wal:
        wal.append(entries(1, 1, 2))
        wal.set_hard_state(HardState(1, "n1", 2))
    (segment,) = tmp_path.glob("*.wal")
    values = [record.value for record in read_segment(segment)]
    assert values[1:] == [*entries(1, 1, 2), HardState(1, "n1", 2)]
    assert type(values[0]).__name__ == "SegmentHeader"


def test_compaction_through_any_index_keeps_every_entry_after_it(tmp_path: Path) -> None:
    source = tmp_path / "source"
    with WAL.open(source, segment_bytes=200)[0] as wal:
        for index in range(1, 41):
            wal.append(entries(1 + index // 10, index, index, size=16))
            wal.sync()
    assert len(segment_files(source)) > 6
    for through in range(1, 41):
        directory = tmp_path / f"through-{through}"
        shutil.copytree(source, directory)
        with WAL.open(directory, segment_bytes=200)[0] as wal:
            wal.save_snapshot(SnapshotMeta(through, 1 + through // 10), b"")
            wal.compact(through)
        wal, got, _, _ = reopen(directory)
        with wal:
            assert [entry.index for entry in got] == list(range(through + 1, 41)), through


def test_a_deleted_snapshot_file_that_the_log_relies_on_is_reported(tmp_path: Path) -> None:
    with WAL.open(tmp_path)[0] as wal:
        wal.append(entries(1, 1, 4))
        wal.save_snapshot(SnapshotMeta(9, 2), b"installed from the leader")
        wal.append(entries(2, 10, 11))
    (snapshot,) = tmp_path.glob("*.snap")
    snapshot.unlink()
    with pytest.raises(WALCorruption, match="whose file is missing"):
        WAL.open(tmp_path)


def test_a_missing_segment_without_entries_is_reported(tmp_path: Path) -> None:
    with WAL.open(tmp_path, segment_bytes=120)[0] as wal:
        wal.append(entries(1, 1, 3))
        wal.sync()
        for term in range(2, 30):  # elections only: segments that hold hard states and no entry
            wal.set_hard_state(HardState(term, "n2", 0))
            wal.sync()
    names = segment_files(tmp_path)
    same_start = [name for name in names if name.endswith(f"{4:016x}.wal")]
    assert len(same_start) >= 3
    (tmp_path / same_start[1]).unlink()  # the index check alone cannot see this one missing
    with pytest.raises(WALCorruption, match="cannot follow") as caught:
        WAL.open(tmp_path)
    assert caught.value.path.name == same_start[2]
