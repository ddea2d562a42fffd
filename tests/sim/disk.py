"""The simulated disk: writes land in a volatile buffer and become durable only when synced.

A crash keeps exactly what was synced. Writes are applied to the durable image in the order they
were made, so a crash loses a suffix of the writes, as a write-ahead log does. The durable image is
itself a ``MemoryStorage``; a restarted node reads a fresh copy of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from cluster.raft import Entry, HardState, MemoryStorage, Snapshot


@dataclass(frozen=True, slots=True)
class _Write:
    kind: str  # "entries", "hard_state", "snapshot", "created_snapshot", "compact"
    entries: tuple[Entry, ...] = ()
    hard_state: HardState | None = None
    snapshot: Snapshot | None = None
    index: int = 0


class SimDisk:
    def __init__(self, durable: MemoryStorage) -> None:
        self._durable = durable
        self._pending: list[_Write] = []
        self.syncs = 0

    @property
    def unsynced(self) -> int:
        return len(self._pending)

    def write_entries(self, entries: list[Entry]) -> None:
        if entries:
            self._pending.append(_Write("entries", entries=tuple(entries)))

    def write_hard_state(self, hard_state: HardState) -> None:
        self._pending.append(_Write("hard_state", hard_state=hard_state))

    def write_snapshot(self, snapshot: Snapshot) -> None:
        """A snapshot received from the leader: it replaces the whole log."""
        self._pending.append(_Write("snapshot", snapshot=snapshot))

    def write_created_snapshot(self, snapshot: Snapshot, compact_to: int) -> None:
        """The application's own snapshot, then the log compaction it allows."""
        self._pending.append(_Write("created_snapshot", snapshot=snapshot, index=compact_to))

    def sync(self) -> None:
        durable = self._durable
        for write in self._pending:
            if write.kind == "entries":
                durable.append(list(write.entries))
            elif write.kind == "hard_state":
                assert write.hard_state is not None
                durable.set_hard_state(write.hard_state)
            elif write.kind == "snapshot":
                assert write.snapshot is not None
                durable.apply_snapshot(write.snapshot)
            else:
                assert write.snapshot is not None
                meta = write.snapshot.meta
                if meta.index > durable.snapshot().meta.index and meta.index <= durable.last_index():
                    durable.create_snapshot(meta.index, meta.conf, write.snapshot.data)
                    durable.compact(write.index)
        self._pending = []
        self.syncs += 1

    def crash(self) -> None:
        """Power loss: everything not synced is gone."""
        self._pending = []

    def load(self) -> MemoryStorage:
        """A fresh storage holding what survived, for the restarted node.

        Entries the log kept below its snapshot are left out: the snapshot covers them.
        """
        durable = self._durable
        storage = MemoryStorage()
        storage.apply_snapshot(durable.snapshot())
        lo = storage.last_index() + 1
        if durable.last_index() >= lo:
            storage.append(durable.entries(lo, durable.last_index() + 1))
        storage.set_hard_state(durable.hard_state)
        return storage
