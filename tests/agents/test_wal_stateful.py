"""The WAL against a plain-list model, driven by Hypothesis: appends with overwrites, hard states, syncs,
snapshots (own and installed), compaction, clean restarts and crashes (a copy of the directory while open).

This checks the WAL's logic, not the disk: a copy of the directory sees the page cache whether or not it
was flushed, so fsync is switched off here to keep thousands of steps fast on a shared machine. Durability
on a real disk is what the crash tests and the SIGKILL test check, with fsync on.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from unittest import mock

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from agents.server.wal import WAL, Recovered
from cluster.raft.types import Entry, HardState, SnapshotMeta

SEGMENT_BYTES = 160


class Model:
    """What a restart must find: the snapshot, the entries after it, the hard state."""

    def __init__(self) -> None:
        self.snapshot: SnapshotMeta | None = None
        self.snapshot_data = b""
        self.entries: list[Entry] = []
        self.hard_state = HardState()

    @property
    def base(self) -> int:
        return self.snapshot.index if self.snapshot else 0

    @property
    def last_index(self) -> int:
        return self.base + len(self.entries)

    def copy(self) -> Model:
        twin = Model()
        twin.snapshot, twin.snapshot_data = self.snapshot, self.snapshot_data
        twin.entries, twin.hard_state = list(self.entries), self.hard_state
        return twin


class WALMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.no_fsync = [mock.patch.object(os, name, lambda fd: None) for name in ("fsync", "fdatasync")]
        for patch in self.no_fsync:
            patch.start()
        self.root = Path(tempfile.mkdtemp(prefix="wal-stateful-"))
        self.restarts = 0
        self.directory = self.root / "0"
        self.wal, _ = WAL.open(self.directory, segment_bytes=SEGMENT_BYTES)
        self.term = 1
        self.current = Model()  # everything appended, buffered or not
        self.durable = Model()  # what the last sync made durable

    def teardown(self) -> None:
        try:
            self.wal.close()
            shutil.rmtree(self.root)
        finally:
            for patch in self.no_fsync:
                patch.stop()

    @rule(data=st.data(), count=st.integers(1, 5))
    def append(self, data: st.DataObject, count: int) -> None:
        model = self.current
        first = data.draw(st.integers(model.base + 1, model.last_index + 1), label="first")
        payloads = data.draw(st.lists(st.binary(max_size=60), min_size=count, max_size=count), label="payloads")
        new = [Entry(self.term, first + i, data=payload) for i, payload in enumerate(payloads)]
        self.wal.append(new)
        del model.entries[first - model.base - 1 :]
        model.entries.extend(new)

    @rule()
    def new_term(self) -> None:
        self.term += 1

    @rule(vote=st.sampled_from(["", "n1", "n2"]), commit=st.integers(0, 100))
    def set_hard_state(self, vote: str, commit: int) -> None:
        hard_state = HardState(self.term, vote, commit)
        self.wal.set_hard_state(hard_state)
        self.current.hard_state = hard_state

    @rule()
    def sync(self) -> None:
        self.wal.sync()
        self.durable = self.current.copy()

    @precondition(lambda self: self.current.entries)
    @rule(data=st.data())
    def snapshot_own_log(self, data: st.DataObject) -> None:
        model = self.current
        index = data.draw(st.integers(model.base + 1, model.last_index), label="index")
        self._save_snapshot(SnapshotMeta(index, model.entries[index - model.base - 1].term))

    @rule(data=st.data(), term_bump=st.integers(0, 1))
    def install_snapshot_from_leader(self, data: st.DataObject, term_bump: int) -> None:
        model = self.current
        near_the_end = st.sampled_from(sorted({max(model.base + 1, model.last_index), model.last_index + 1}))
        index = data.draw(st.integers(model.base + 1, model.last_index + 3) | near_the_end, label="index")
        self.term += term_bump
        self._save_snapshot(SnapshotMeta(index, self.term))

    def _save_snapshot(self, meta: SnapshotMeta) -> None:
        self.wal.save_snapshot(meta, f"state at {meta.index}".encode())
        model = self.current
        offset = meta.index - model.base
        if offset <= len(model.entries) and model.entries[offset - 1].term == meta.term:
            model.entries = model.entries[offset:]
        else:
            model.entries = []
        model.snapshot, model.snapshot_data = meta, f"state at {meta.index}".encode()
        self.durable = model.copy()  # saving a snapshot syncs what was buffered

    @rule(data=st.data())
    def compact(self, data: st.DataObject) -> None:
        self.wal.compact(data.draw(st.integers(0, self.current.base), label="through"))

    @rule()
    def restart(self) -> None:
        self.wal.close()
        self.durable = self.current.copy()
        self.wal, recovered = WAL.open(self.directory, segment_bytes=SEGMENT_BYTES)
        self._check(recovered)

    @rule()
    def crash(self) -> None:
        """Recover from a copy taken while the WAL was open; go on with that copy."""
        self.restarts += 1
        crashed = self.root / str(self.restarts)
        shutil.copytree(self.directory, crashed)
        self.wal.close()
        shutil.rmtree(self.directory)
        self.directory = crashed
        self.current = self.durable.copy()
        self.wal, recovered = WAL.open(self.directory, segment_bytes=SEGMENT_BYTES)
        self._check(recovered)

    def _check(self, recovered: Recovered) -> None:
        model = self.current
        assert recovered.warnings == []
        assert recovered.snapshot == model.snapshot
        assert recovered.entries == model.entries
        assert recovered.hard_state == model.hard_state
        expected_snapshot = (model.snapshot, model.snapshot_data) if model.snapshot else None
        assert self.wal.load_snapshot() == expected_snapshot
        self.term = max([self.term, model.hard_state.term, *(entry.term for entry in model.entries)])

    @invariant()
    def indexes_match(self) -> None:
        assert (self.wal.last_index, self.wal.snapshot_index) == (self.current.last_index, self.current.base)


WALMachine.TestCase.settings = settings(max_examples=100, stateful_step_count=50, deadline=None)
test_wal_matches_a_list_model = WALMachine.TestCase
