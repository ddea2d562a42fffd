"""The state store: the current snapshot and the one way to move it forward.

``StateStore`` holds the latest ``StateSnapshot``. ``snapshot()`` is O(1) and the result never
changes, so schedulers read it while writes go on. ``write(index)`` opens a ``WriteTxn`` at a Raft
index; ``commit(txn)`` makes its result current and returns the change events. Writes are applied
one at a time, in Raft order, by the FSM.
"""

from __future__ import annotations

from cluster.state.events import EventBatch
from cluster.state.snapshot import StateSnapshot, Tables
from cluster.state.txn import WriteTxn

__all__ = ["StateStore"]


class StateStore:
    def __init__(self, snapshot: StateSnapshot | None = None) -> None:
        self._current = snapshot if snapshot is not None else StateSnapshot(Tables.empty())

    def snapshot(self) -> StateSnapshot:
        return self._current

    def latest_index(self) -> int:
        return self._current.latest_index()

    def write(self, index: int) -> WriteTxn:
        return WriteTxn(self._current.tables, index)

    def commit(self, txn: WriteTxn) -> EventBatch:
        assert txn.index >= self._current.latest_index(), "transactions commit in Raft order"
        self._current, events = txn.commit()
        return events

    def skip(self, index: int) -> None:
        """Records that Raft ``index`` was applied without changing anything (a rejected command)."""
        if index > self._current.latest_index():
            self._current = StateSnapshot(self._current.tables._replace(applied_index=index))

    def restore(self, snapshot: StateSnapshot) -> None:
        """Replaces the whole state (installing a Raft snapshot)."""
        self._current = snapshot
