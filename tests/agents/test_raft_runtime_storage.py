"""The runtime's durable storage: what a batch writes is on disk when its future resolves, batches queued
behind a running write share one fsync (group commit), and reopening recovers what the core needs."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from agents.server.raft_storage import (
    DiskWriter,
    DurableStorage,
    WriteBatch,
    WriteResult,
    decode_envelope,
    encode_envelope,
)
from agents.server.wal import WAL
from cluster.raft import Entry, HardState, Snapshot, SnapshotMeta, bootstrap_snapshot


def founding(voters: tuple[str, ...] = ("a", "b", "c")) -> Snapshot:
    empty = bootstrap_snapshot(voters)
    return Snapshot(empty.meta, encode_envelope({"a": ("127.0.0.1", 7001)}, b""))


def entries(first: int, count: int, term: int = 2) -> list[Entry]:
    return [Entry(term, i, data=f"e{i}".encode()) for i in range(first, first + count)]


def test_a_fresh_directory_starts_from_the_founding_snapshot_and_reopens_the_same(tmp_path: Path) -> None:
    storage = DurableStorage.open(tmp_path, founding())
    assert storage.memory.snapshot().meta.conf.voters == ("a", "b", "c")
    assert storage.memory.hard_state == HardState(term=1, commit=1)
    storage.close()
    again = DurableStorage.open(tmp_path, None)
    assert again.memory.snapshot() == founding()
    assert decode_envelope(again.memory.snapshot().data).addresses == {"a": ("127.0.0.1", 7001)}
    assert again.memory.hard_state == HardState(term=1, commit=1)
    again.close()


def test_a_joining_server_starts_empty(tmp_path: Path) -> None:
    storage = DurableStorage.open(tmp_path, None)
    assert storage.memory.last_index() == 0
    assert storage.memory.snapshot().meta.conf.voters == ()
    storage.close()


def test_batches_queued_behind_a_running_write_share_the_next_fsync(tmp_path: Path) -> None:
    async def scenario() -> list[WriteResult]:
        storage = DurableStorage.open(tmp_path, founding())
        written: list[WriteResult] = []
        with ThreadPoolExecutor(max_workers=1) as disk:
            writer = DiskWriter(storage, disk, written.append)
            futures = [writer.write(WriteBatch(entries=entries(2 + 5 * i, 5))) for i in range(20)]
            futures.append(writer.write(WriteBatch(hard_state=HardState(term=2, vote="a", commit=90))))
            results = await asyncio.gather(*futures)
            assert not writer.busy
        storage.close()
        assert results[0].entries == 5 and all(r is results[1] for r in results[1:])
        return written

    written = asyncio.run(scenario())
    assert [w.entries for w in written] == [5, 95]  # the first write alone, the 19 behind it together
    assert written[-1].durable_index == 101
    wal, recovered = WAL.open(tmp_path)
    wal.close()
    assert [e.index for e in recovered.entries] == list(range(2, 102))
    assert recovered.hard_state == HardState(term=2, vote="a", commit=90)


def test_a_snapshot_installed_from_the_leader_replaces_the_log_on_disk(tmp_path: Path) -> None:
    async def scenario() -> None:
        storage = DurableStorage.open(tmp_path, founding())
        with ThreadPoolExecutor(max_workers=1) as disk:
            writer = DiskWriter(storage, disk, lambda _: None)
            await writer.write(WriteBatch(entries=entries(2, 10)))
            storage.remember(None, entries(2, 10), None)
            own = storage.memory.create_snapshot(8, storage.memory.snapshot().meta.conf, b"state at 8")
            await writer.write(WriteBatch(own_snapshot=own))
            installed = Snapshot(SnapshotMeta(index=50, term=4, conf=own.meta.conf), b"leader's state")
            await writer.write(WriteBatch(snapshot=installed, entries=entries(51, 3, term=4),
                                          hard_state=HardState(term=4, commit=50)))
        storage.close()

    asyncio.run(scenario())
    reopened = DurableStorage.open(tmp_path, founding())
    assert reopened.memory.snapshot().data == b"leader's state"
    assert reopened.memory.first_index() == 51
    assert [e.index for e in reopened.memory.entries(51, 54)] == [51, 52, 53]
    assert reopened.memory.hard_state == HardState(term=4, commit=50)
    reopened.close()
