"""Raft's safety properties (Figure 3 of the paper), checked while the simulation runs.

* Election Safety: "at most one leader can be elected in a given term."
* Log Matching: "if two logs contain an entry with the same index and term, then the logs are
  identical in all entries up through the given index." Checked on every entry a node persists:
  the (index, term) pair must always come with the same content and the same previous term, which
  by induction on the index makes the whole prefixes identical.
* Leader Completeness: "if a log entry is committed in a given term, then that entry will be present
  in the logs of the leaders for all higher-numbered terms." An entry first applied when the highest
  term anywhere was T was committed in a term <= T, so every leader of a term > T must hold it.
* State Machine Safety: "if a server has applied a log entry at a given index to its state machine,
  no other server will ever apply a different log entry for the same index."
* Lease Safety (with lease reads): while a leader's lease holds, no server leads a later term, so
  the reads it answers from its own commit index cannot miss a newer leader's writes.
"""

from __future__ import annotations

import bisect

from cluster.raft import Entry, EntryType, RawNode, SnapshotMeta
from cluster.raft.readonly import lease_valid


class SafetyViolation(AssertionError):
    """A Raft safety property does not hold: a bug in the core (or in the simulated runtime)."""


class SafetyChecker:
    def __init__(self) -> None:
        self.leaders: dict[int, str] = {}  # term -> the leader seen in it
        self._chain: dict[tuple[int, int], tuple[int, EntryType, bytes]] = {}
        self.applied: dict[int, Entry] = {}  # index -> the entry applied there (by anyone)
        self._first_applied_index: list[int] = []  # increasing indexes ...
        self._first_applied_bound: list[int] = []  # ... and the highest term known when first applied
        self.max_term = 0
        self.checks = 0

    def observe_term(self, term: int) -> None:
        if term > self.max_term:
            self.max_term = term

    def check_leaders(self, nodes: dict[str, RawNode]) -> None:
        """Election Safety and Leader Completeness for every node that believes it leads."""
        self.checks += 1
        for node_id, node in nodes.items():
            r = node.raft
            self.observe_term(r.term)
            if r.role != r.role.LEADER:
                continue
            seen = self.leaders.setdefault(r.term, node_id)
            if seen != node_id:
                raise SafetyViolation(f"Election Safety: {seen} and {node_id} both lead term {r.term}")
            self._check_complete(node_id, node)
            if r.config.lease_reads and lease_valid(r):
                newest = max(self.leaders)
                if newest > r.term:
                    raise SafetyViolation(
                        f"Lease Safety: {node_id} holds a lease in term {r.term} while "
                        f"{self.leaders[newest]} leads term {newest}"
                    )

    def _check_complete(self, node_id: str, node: RawNode) -> None:
        log = node.raft.log
        # The newest entry every leader of this term must hold: the last one first applied while the
        # highest term anywhere was still below this leader's term.
        pos = bisect.bisect_left(self._first_applied_bound, node.raft.term) - 1
        if pos < 0:
            return
        index = self._first_applied_index[pos]
        if index < log.first_index():
            return  # compacted into a snapshot, which only ever covers committed entries
        term = log.term(index)
        if term != self.applied[index].term:
            raise SafetyViolation(
                f"Leader Completeness: leader {node_id} of term {node.raft.term} has term {term} at "
                f"{index}, committed with term {self.applied[index].term}"
            )

    def on_persist(self, node_id: str, entries: list[Entry], prev_term: int) -> None:
        """Log Matching, for entries a node just persisted; ``prev_term`` is its term before the first."""
        chain = self._chain
        for entry in entries:
            record = (prev_term, entry.type, entry.data)
            known = chain.setdefault((entry.index, entry.term), record)
            if known != record:
                raise SafetyViolation(
                    f"Log Matching: {node_id} persisted ({entry.index}, {entry.term}) unlike another log: "
                    f"(previous term, type, data) {record!r} vs {known!r}"
                )
            prev_term = entry.term

    def on_apply(self, node_id: str, entry: Entry) -> None:
        """State Machine Safety, and the record Leader Completeness checks against."""
        known = self.applied.get(entry.index)
        if known is None:
            self.applied[entry.index] = entry
            assert not self._first_applied_index or entry.index > self._first_applied_index[-1], (
                "entries are first applied in index order"
            )
            self._first_applied_index.append(entry.index)
            self._first_applied_bound.append(self.max_term)
        elif known != entry:
            raise SafetyViolation(
                f"State Machine Safety: {node_id} applied {entry!r} at {entry.index}, another node {known!r}"
            )

    def on_snapshot(self, node_id: str, meta: SnapshotMeta) -> None:
        """A node jumped to a snapshot: the snapshot must end with the entry applied at its index."""
        known = self.applied.get(meta.index)
        if known is not None and known.term != meta.term:
            raise SafetyViolation(
                f"State Machine Safety: {node_id} installed a snapshot at {meta.index} with term "
                f"{meta.term}; the entry applied there has term {known.term}"
            )
