"""The durable log as the core reads it: ``Storage`` (a protocol) and ``MemoryStorage``.

The core only reads storage; the runtime writes it while handling a ``Ready`` (append the entries,
set the hard state, apply a received snapshot) and when the application snapshots (``compact``).
The runtime backs it with the write-ahead log; tests and the simulator use ``MemoryStorage``.

Layout of ``MemoryStorage``: ``_ents[0]`` is a placeholder standing for the snapshot (its index and
term), so ``_ents[i]`` holds index ``snapshot.index + i`` and a term lookup is one subtraction.
"""

from __future__ import annotations

from typing import Protocol

from cluster.raft.errors import LogCompacted
from cluster.raft.messages import Snapshot
from cluster.raft.types import ConfState, Entry, HardState, SnapshotMeta

__all__ = ["MemoryStorage", "Storage", "bootstrap_snapshot"]


class Storage(Protocol):
    """The persisted log. Indexes at or below the snapshot index raise ``LogCompacted``."""

    def initial_state(self) -> tuple[HardState, ConfState]:
        """The hard state and the membership of the snapshot, read once when a node starts."""
        ...

    def entries(self, lo: int, hi: int) -> list[Entry]:
        """Entries with ``lo <= index < hi``; ``hi`` is at most ``last_index() + 1``."""
        ...

    def term(self, index: int) -> int:
        """Term of the entry at ``index``; the snapshot index answers the snapshot's term."""
        ...

    def first_index(self) -> int:
        """Index of the first entry still held (snapshot index + 1)."""
        ...

    def last_index(self) -> int: ...

    def snapshot(self) -> Snapshot:
        """The newest snapshot; may raise ``SnapshotTemporarilyUnavailable``."""
        ...

    def append(self, entries: list[Entry]) -> None:
        """Persist entries; an entry at an existing index replaces it and everything after it."""
        ...

    def set_hard_state(self, hard_state: HardState) -> None: ...

    def apply_snapshot(self, snapshot: Snapshot) -> None:
        """Replace the whole log by a snapshot received from the leader."""
        ...

    def create_snapshot(self, index: int, conf: ConfState, data: bytes) -> Snapshot:
        """Record the application's snapshot of the state at ``index`` (an applied index)."""
        ...

    def compact(self, index: int) -> None:
        """Drop the entries up to and including ``index``, which a snapshot already covers."""
        ...


def bootstrap_snapshot(voters: tuple[str, ...], learners: tuple[str, ...] = ()) -> Snapshot:
    """The empty snapshot every founding server starts from (index 1, term 1, the first membership).

    Starting from a snapshot rather than from log entries means a server added later learns the
    founding membership the only way it can: the leader finds index 1 compacted and sends this
    snapshot (or a newer one). ``data`` is empty: the application's empty state.
    """
    assert voters, "a cluster needs at least one voter"
    return Snapshot(meta=SnapshotMeta(index=1, term=1, conf=ConfState(voters=voters, learners=learners)))


class MemoryStorage:
    """An in-memory ``Storage``: what the runtime's WAL reads back into, and the simulator's disk view."""

    def __init__(self) -> None:
        self._hard_state = HardState()
        self._snapshot = Snapshot()
        self._ents: list[Entry] = [Entry(term=0, index=0)]

    @classmethod
    def bootstrap(cls, voters: tuple[str, ...], learners: tuple[str, ...] = ()) -> MemoryStorage:
        """Storage of a founding server: the bootstrap snapshot and a hard state at term 1."""
        storage = cls()
        storage.apply_snapshot(bootstrap_snapshot(voters, learners))
        storage.set_hard_state(HardState(term=1, commit=1))
        return storage

    def initial_state(self) -> tuple[HardState, ConfState]:
        return self._hard_state, self._snapshot.meta.conf

    @property
    def hard_state(self) -> HardState:
        return self._hard_state

    def set_hard_state(self, hard_state: HardState) -> None:
        self._hard_state = hard_state

    def entries(self, lo: int, hi: int) -> list[Entry]:
        offset = self._ents[0].index
        if lo <= offset:
            raise LogCompacted(f"entry {lo} is compacted (snapshot at {offset})")
        assert hi <= self.last_index() + 1, f"entries up to {hi - 1} asked, last is {self.last_index()}"
        return self._ents[lo - offset : hi - offset]

    def term(self, index: int) -> int:
        offset = self._ents[0].index
        if index < offset:
            raise LogCompacted(f"term of {index} is compacted (snapshot at {offset})")
        assert index - offset < len(self._ents), f"term of {index} asked, last is {self.last_index()}"
        return self._ents[index - offset].term

    def first_index(self) -> int:
        return self._ents[0].index + 1

    def last_index(self) -> int:
        return self._ents[0].index + len(self._ents) - 1

    def snapshot(self) -> Snapshot:
        return self._snapshot

    def append(self, entries: list[Entry]) -> None:
        if not entries:
            return
        first = self.first_index()
        if entries[-1].index < first:
            return  # all already covered by the snapshot
        if entries[0].index < first:
            entries = entries[first - entries[0].index :]
        offset = entries[0].index - self._ents[0].index
        assert offset <= len(self._ents), f"gap: appending {entries[0].index} after {self.last_index()}"
        del self._ents[offset:]
        self._ents.extend(entries)

    def apply_snapshot(self, snapshot: Snapshot) -> None:
        assert snapshot.meta.index >= self._snapshot.meta.index, "snapshot older than the one held"
        self._snapshot = snapshot
        self._ents = [Entry(term=snapshot.meta.term, index=snapshot.meta.index)]

    def create_snapshot(self, index: int, conf: ConfState, data: bytes) -> Snapshot:
        assert self._snapshot.meta.index < index <= self.last_index(), f"cannot snapshot at {index}"
        meta = SnapshotMeta(index=index, term=self.term(index), conf=conf)
        self._snapshot = Snapshot(meta=meta, data=data)
        return self._snapshot

    def compact(self, index: int) -> None:
        offset = self._ents[0].index
        if index <= offset:
            return
        assert index <= self._snapshot.meta.index, f"compacting to {index}, past the snapshot"
        keep = self._ents[index - offset :]
        keep[0] = Entry(term=keep[0].term, index=index)
        self._ents = keep
