"""``RaftLog``: the log as one sequence over storage (persisted) and the unstable tail (not yet persisted).

Indexes below ``unstable_offset`` come from storage (or from a received snapshot not yet persisted);
indexes from ``unstable_offset`` on come from ``unstable``. The runtime persists the unstable tail
from a ``Ready`` and acknowledges it with ``stable_to``; a new leader's entries may replace part of
that tail (or of storage) before then, which is why acknowledging checks the term as well.

Beside the entries the log holds two positions: ``committed`` (known replicated on a quorum) and
``applied`` (handed to the application and acknowledged). ``applied <= committed <= last_index()``.
"""

from __future__ import annotations

from cluster.raft.errors import LogCompacted
from cluster.raft.messages import Snapshot
from cluster.raft.storage import Storage
from cluster.raft.types import Entry

__all__ = ["RaftLog"]


class RaftLog:
    """The log of one node: storage plus the unstable tail, with the commit and apply positions."""

    def __init__(self, storage: Storage, max_committed_per_ready: int) -> None:
        self.storage = storage
        self.unstable: list[Entry] = []
        self.unstable_offset = storage.last_index() + 1
        self.unstable_snapshot: Snapshot | None = None
        self.committed = storage.first_index() - 1
        self.applied = storage.first_index() - 1
        self.max_committed_per_ready = max_committed_per_ready

    # ---- positions -----------------------------------------------------------------------------

    def first_index(self) -> int:
        if self.unstable_snapshot is not None:
            return self.unstable_snapshot.meta.index + 1
        return self.storage.first_index()

    def last_index(self) -> int:
        return self.unstable_offset + len(self.unstable) - 1

    def term(self, index: int) -> int | None:
        """Term at ``index``, or None when the index is compacted away or beyond the last entry."""
        offset = self.unstable_offset
        if index >= offset:
            pos = index - offset
            return self.unstable[pos].term if pos < len(self.unstable) else None
        snap = self.unstable_snapshot
        if snap is not None:
            return snap.meta.term if index == snap.meta.index else None
        try:
            return self.storage.term(index)
        except LogCompacted:
            return None

    def last_term(self) -> int:
        term = self.term(self.last_index())
        assert term is not None, "the last entry (or the snapshot) always has a term"
        return term

    def match_term(self, index: int, term: int) -> bool:
        return self.term(index) == term

    def is_up_to_date(self, last_index: int, last_term: int) -> bool:
        """§5.4.1: "If the logs have last entries with different terms, then the log with the later term
        is more up-to-date. If the logs end with the same term, then whichever log is longer is more
        up-to-date."
        """
        my_term = self.last_term()
        return last_term > my_term or (last_term == my_term and last_index >= self.last_index())

    # ---- reading entries -----------------------------------------------------------------------

    def slice(self, lo: int, hi: int) -> list[Entry]:
        """Entries with ``lo <= index < hi``; raises ``LogCompacted`` when ``lo`` is compacted."""
        if lo < self.first_index():
            raise LogCompacted(f"entry {lo} is compacted")
        assert hi <= self.last_index() + 1, f"slice up to {hi - 1} beyond last {self.last_index()}"
        if lo >= hi:
            return []
        offset = self.unstable_offset
        if lo >= offset:
            return self.unstable[lo - offset : hi - offset]
        if hi <= offset:
            return self.storage.entries(lo, hi)
        return self.storage.entries(lo, offset) + self.unstable[: hi - offset]

    def snapshot(self) -> Snapshot:
        """The snapshot to send a follower that needs compacted entries (may raise while being built)."""
        if self.unstable_snapshot is not None:
            return self.unstable_snapshot
        return self.storage.snapshot()

    def has_next_committed_entries(self) -> bool:
        return self.committed > max(self.applied, self.first_index() - 1)

    def next_committed_entries(self) -> list[Entry]:
        """Committed entries not yet applied, at most ``max_committed_per_ready`` of them."""
        lo = max(self.applied + 1, self.first_index())
        hi = min(self.committed + 1, lo + self.max_committed_per_ready)
        return self.slice(lo, hi) if hi > lo else []

    # ---- changing the log ----------------------------------------------------------------------

    def append(self, entries: list[Entry]) -> None:
        """Add entries after ``entries[0].index - 1``, replacing whatever the log held from there on."""
        if not entries:
            return
        first = entries[0].index
        assert first > self.committed, f"entry {first} would overwrite committed {self.committed}"
        offset = self.unstable_offset
        if first == offset + len(self.unstable):
            self.unstable.extend(entries)
        elif first <= offset:
            # The new entries replace the whole tail, reaching back into what storage holds.
            self.unstable_offset = first
            self.unstable = list(entries)
        else:
            del self.unstable[first - offset :]
            self.unstable.extend(entries)

    def maybe_append(self, index: int, log_term: int, committed: int, entries: tuple[Entry, ...]) -> int | None:
        """The follower side of AppendEntries; returns the last index now known to match, or None.

        Figure 2: "Reply false if log doesn't contain an entry at prevLogIndex whose term matches
        prevLogTerm. If an existing entry conflicts with a new one (same index but different terms),
        delete the existing entry and all that follow it. Append any new entries not already in the
        log. If leaderCommit > commitIndex, set commitIndex = min(leaderCommit, index of last new entry)."
        """
        if not self.match_term(index, log_term):
            return None
        last_new = index + len(entries)
        conflict = self._find_conflict(entries)
        if conflict:
            self.append(list(entries[conflict - index - 1 :]))
        self.commit_to(min(committed, last_new))
        return last_new

    def _find_conflict(self, entries: tuple[Entry, ...]) -> int:
        """Index of the first entry that is new or conflicts with the log; 0 when all are present."""
        if not entries:
            return 0
        if entries[0].index > self.last_index():
            return entries[0].index
        last = entries[-1]
        if self.term(last.index) == last.term:
            return 0  # Log Matching: the last one matches, so every earlier one does too
        for entry in entries:
            if self.term(entry.index) != entry.term:
                return entry.index
        raise AssertionError("unreachable: the last entry did not match")

    def conflict_hint(self, index: int) -> tuple[int, int]:
        """For a rejected AppendEntries at ``index``: (our term there, first index we hold of that term).

        §5.3: "when rejecting an AppendEntries request, the follower can include the term of the
        conflicting entry and the first index it stores for that term." A log too short answers
        (0, last index + 1). Entries up to ``committed`` match the leader, so the scan stops there.
        """
        if index > self.last_index():
            return 0, self.last_index() + 1
        term = self.term(index)
        assert term is not None, f"term of {index} must be known above commit {self.committed}"
        floor = max(self.committed + 1, self.first_index())
        first = index
        while first > floor and self.term(first - 1) == term:
            first -= 1
        return term, first

    def last_index_of_term(self, index: int, term: int) -> int | None:
        """Largest ``i <= index`` whose entry has ``term``, or None if the log has no such entry there."""
        i = index
        while True:
            t = self.term(i)
            if t is None or t < term:
                return None
            if t == term:
                return i
            i -= 1

    def commit_to(self, index: int) -> None:
        if index > self.committed:
            assert index <= self.last_index(), f"commit {index} beyond last {self.last_index()}"
            self.committed = index

    def maybe_commit(self, index: int, term: int) -> bool:
        """Figure 8 / §5.4.2: "Raft never commits log entries from previous terms by counting replicas.
        Only log entries from the leader's current term are committed by counting replicas."
        """
        if index > self.committed and self.term(index) == term:
            self.committed = index
            return True
        return False

    def applied_to(self, index: int) -> None:
        assert self.applied <= index <= self.committed, f"applied {index} outside [{self.applied}, {self.committed}]"
        self.applied = index

    def stable_to(self, index: int, term: int) -> None:
        """The runtime persisted entries through ``index``; forget them unless a new leader replaced them."""
        offset = self.unstable_offset
        if index < offset or self.term(index) != term:
            return
        del self.unstable[: index + 1 - offset]
        self.unstable_offset = index + 1

    def stable_snap_to(self, index: int) -> None:
        if self.unstable_snapshot is not None and self.unstable_snapshot.meta.index == index:
            self.unstable_snapshot = None

    def restore(self, snapshot: Snapshot) -> None:
        """Replace the whole log by ``snapshot`` (a follower far behind the leader)."""
        self.committed = snapshot.meta.index
        self.unstable_offset = snapshot.meta.index + 1
        self.unstable = []
        self.unstable_snapshot = snapshot
