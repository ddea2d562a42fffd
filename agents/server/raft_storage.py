"""Raft storage for the runtime: the core reads a ``MemoryStorage``; the write-ahead log makes it durable.

The core only ever reads storage, and only from the event loop's thread. The runtime writes in two steps
per ``Ready``: ``DiskWriter.write`` (WAL records and one fsync, in the disk thread while the loop keeps
receiving; batches that queue up behind a running write share the next fsync), then ``remember`` (the same
data into memory, on the loop's thread, before ``advance`` lets the core read it from there). Opening
replays the WAL into memory: the newest snapshot, the entries after it, the hard state. Memory holds only
the entries after the newest snapshot (a few thousand with the runtime's snapshot threshold).

Snapshot data here is an envelope around the state machine's bytes that also carries every member's
address: a server that learns the membership from a snapshot learns where to reach the members too.

Checked against ``agents.server.wal``: ``save_snapshot`` syncs on its own and resets the WAL's log when the
snapshot's entry is not in it (one installed from the leader), so a ``Ready`` is written as snapshot, then
entries, then hard state, then one ``sync``. After the application's own snapshot, the WAL can drop every
segment the snapshot covers: its recovery never replays entries at or below the snapshot, so keeping
``keep_entries`` of them on disk (as the core does in memory) would buy nothing after a restart.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from agents.server.wal import WAL
from cluster.raft import Entry, HardState, MemoryStorage, Snapshot

__all__ = [
    "DiskWriter",
    "DurableStorage",
    "SnapshotEnvelope",
    "WriteBatch",
    "WriteResult",
    "decode_envelope",
    "encode_envelope",
]

Address = tuple[str, int]


class SnapshotEnvelope(msgspec.Struct, array_like=True, frozen=True):
    """What a Raft snapshot's data holds: the members' addresses and the state machine's own bytes."""

    addresses: dict[str, Address] = {}
    state: bytes = b""


_envelope_decoder = msgspec.msgpack.Decoder(SnapshotEnvelope)


def encode_envelope(addresses: dict[str, Address], state: bytes) -> bytes:
    return msgspec.msgpack.encode(SnapshotEnvelope(addresses, state))


def decode_envelope(data: bytes) -> SnapshotEnvelope:
    """The envelope in ``data``; empty data (a snapshot with no state yet) is an empty envelope."""
    return _envelope_decoder.decode(data) if data else SnapshotEnvelope()


@dataclass(slots=True)
class WriteBatch:
    """What one ``Ready`` (or the application's snapshot) asks the disk to hold."""

    snapshot: Snapshot | None = None  # installed from the leader
    entries: list[Entry] = field(default_factory=list)
    hard_state: HardState | None = None
    own_snapshot: Snapshot | None = None  # taken by this server (``RawNode.compact``)

    def __bool__(self) -> bool:
        return bool(self.snapshot or self.entries or self.hard_state or self.own_snapshot)


@dataclass(frozen=True, slots=True)
class WriteResult:
    durable_index: int  # last index of the log on disk after the sync
    seconds: float
    entries: int


@dataclass(slots=True)
class DurableStorage:
    """A ``MemoryStorage`` the core reads, and the ``WAL`` that holds the same log on disk."""

    wal: WAL
    memory: MemoryStorage
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, directory: Path, bootstrap: Snapshot | None) -> DurableStorage:
        """Recover ``directory``. An empty one starts from ``bootstrap`` (a founding server) if given,
        else empty (a server waiting to be added, which the leader will send a snapshot)."""
        wal, recovered = WAL.open(directory)
        memory = MemoryStorage()
        fresh = recovered.snapshot is None and not recovered.entries and recovered.hard_state == HardState()
        if fresh and bootstrap is not None:
            hard_state = HardState(term=bootstrap.meta.term, commit=bootstrap.meta.index)
            wal.save_snapshot(bootstrap.meta, bootstrap.data)
            wal.set_hard_state(hard_state)
            wal.sync()
            memory.apply_snapshot(bootstrap)
            memory.set_hard_state(hard_state)
            return cls(wal, memory, recovered.warnings)
        if recovered.snapshot is not None:
            loaded = wal.load_snapshot()
            assert loaded is not None and loaded[0] == recovered.snapshot, "the WAL recovered another snapshot"
            memory.apply_snapshot(Snapshot(loaded[0], loaded[1]))
        memory.append(recovered.entries)
        memory.set_hard_state(recovered.hard_state)
        return cls(wal, memory, recovered.warnings)

    def write(self, batches: list[WriteBatch]) -> WriteResult:
        """Write batches in order, then sync once (disk thread): the group commit. Returns the last index
        of the durable log."""
        started = time.perf_counter()
        entries = 0
        for batch in batches:
            if batch.snapshot is not None:
                self.wal.save_snapshot(batch.snapshot.meta, batch.snapshot.data)
            if batch.entries:
                self.wal.append(batch.entries)
                entries += len(batch.entries)
            if batch.hard_state is not None:
                self.wal.set_hard_state(batch.hard_state)
            if batch.own_snapshot is not None:
                self._save_own_snapshot(batch.own_snapshot)
        self.wal.sync()
        return WriteResult(self.wal.last_index, time.perf_counter() - started, entries)

    def remember(self, snapshot: Snapshot | None, entries: list[Entry], hard_state: HardState | None) -> None:
        """Put what ``persist`` wrote into memory (event-loop thread, before ``advance``)."""
        if snapshot is not None:
            self.memory.apply_snapshot(snapshot)
        if entries:
            self.memory.append(entries)
        if hard_state is not None:
            self.memory.set_hard_state(hard_state)

    def _save_own_snapshot(self, snapshot: Snapshot) -> None:
        """Make a snapshot the core took (``RawNode.compact``) durable and drop the segments it covers.
        A crash before this ends only costs replaying more of the log."""
        if snapshot.meta.index > self.wal.snapshot_index:
            self.wal.save_snapshot(snapshot.meta, snapshot.data)
            self.wal.compact(snapshot.meta.index)

    def close(self) -> None:
        self.wal.close()


class DiskWriter:
    """Runs ``DurableStorage.write`` on the disk thread, one job at a time; batches that arrive while a job
    runs wait and then go together in the next job, with one sync: the WAL never has more than one fsync
    in progress, and each covers everything that queued up behind the previous one.

    ``on_written`` sees every job's result on the event loop, before the waiting futures resolve.
    """

    def __init__(self, storage: DurableStorage, executor: Executor, on_written: Callable[[WriteResult], None]) -> None:
        self._storage = storage
        self._executor = executor
        self._on_written = on_written
        self._queue: list[tuple[WriteBatch, asyncio.Future[WriteResult]]] = []
        self._busy = False
        self._failure: BaseException | None = None

    @property
    def busy(self) -> bool:
        return self._busy

    def write(self, batch: WriteBatch) -> asyncio.Future[WriteResult]:
        """Queue ``batch``; the future resolves once it is durable (an empty batch: once all before it are)."""
        future: asyncio.Future[WriteResult] = asyncio.get_running_loop().create_future()
        if self._failure is not None:
            future.set_exception(self._failure)
            return future
        self._queue.append((batch, future))
        if not self._busy:
            self._start()
        return future

    def _start(self) -> None:
        queued, self._queue = self._queue, []
        self._busy = True
        job = asyncio.get_running_loop().run_in_executor(
            self._executor, self._storage.write, [batch for batch, _ in queued]
        )
        job.add_done_callback(lambda done: self._finished(done, [future for _, future in queued]))

    def _finished(self, job: asyncio.Future[WriteResult], futures: list[asyncio.Future[WriteResult]]) -> None:
        self._busy = False
        error = job.exception() if not job.cancelled() else asyncio.CancelledError()
        if error is not None:
            self._failure = error  # the WAL refuses further writes; so do we
            for _, future in self._queue:
                futures.append(future)
            self._queue.clear()
            for future in futures:
                if not future.done():
                    future.set_exception(error)
            return
        result = job.result()
        self._on_written(result)
        for future in futures:
            if not future.done():
                future.set_result(result)
        if self._queue:
            self._start()
