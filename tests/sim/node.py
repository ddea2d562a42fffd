"""A simulated server: a ``RawNode`` with a simulated disk and the key-value state machine.

``handle_ready`` is the runtime's loop body (persist, sync, send, apply, advance) with two places
where the simulator may pull the plug: after writing but before syncing (the writes are lost), and
after sending but before applying (the messages are out, the in-memory state machine is lost).
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass, field, replace

from cluster.raft import (
    ConfChangeType,
    Config,
    ConfState,
    EntryType,
    MemoryStorage,
    Message,
    RawNode,
    ReadState,
    Ready,
    conf_change_of,
)
from tests.sim.disk import SimDisk
from tests.sim.invariants import SafetyChecker
from tests.sim.kv import KeyValue


class CrashPoint(enum.Enum):
    BEFORE_SYNC = "before-sync"
    AFTER_SEND = "after-send"


@dataclass(slots=True)
class ReadyOutput:
    messages: list[Message] = field(default_factory=list)
    applied: list[tuple[int, object]] = field(default_factory=list)  # (op id, result)
    read_states: list[ReadState] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # servers whose removal this node applied
    crashed: bool = False


class SimNode:
    def __init__(self, node_id: str, durable: MemoryStorage, config: Config, checker: SafetyChecker,
                 *, snapshot_every: int, keep_entries: int) -> None:
        self.id = node_id
        self.disk = SimDisk(durable)
        self.config = config
        self.checker = checker
        self.snapshot_every = snapshot_every
        self.keep_entries = keep_entries
        self.up = False
        self.retired = False
        self.incarnation = 0
        self.node: RawNode
        self.storage: MemoryStorage
        self.kv = KeyValue()
        self.conf = ConfState()
        self.applied_index = 0
        self._since_snapshot = 0

    def start(self, rng: random.Random) -> None:
        """Boot from what the disk kept: the snapshot restores the state machine, the log replays."""
        self.storage = self.disk.load()
        snapshot = self.storage.snapshot()
        self.kv = KeyValue()
        self.kv.restore(snapshot.data)
        self.conf = snapshot.meta.conf
        self.applied_index = snapshot.meta.index
        self.node = RawNode(replace(self.config, applied=snapshot.meta.index), self.storage, rng)
        self._since_snapshot = 0
        self.incarnation += 1
        self.up = True

    def crash(self) -> None:
        self.disk.crash()
        self.up = False

    def handle_ready(self, crash_point: CrashPoint | None) -> ReadyOutput:
        out = ReadyOutput()
        node, storage, disk = self.node, self.storage, self.disk
        rd = node.ready()
        if rd.snapshot is not None:
            disk.write_snapshot(rd.snapshot)
            storage.apply_snapshot(rd.snapshot)
        if rd.entries:
            self.checker.on_persist(self.id, rd.entries, storage.term(rd.entries[0].index - 1))
            disk.write_entries(rd.entries)
            storage.append(rd.entries)
        if rd.hard_state is not None:
            self.checker.observe_term(rd.hard_state.term)
            disk.write_hard_state(rd.hard_state)
            storage.set_hard_state(rd.hard_state)
        if crash_point == CrashPoint.BEFORE_SYNC:
            self.crash()
            out.crashed = True
            return out
        if rd.must_sync:
            disk.sync()
        out.messages = rd.messages
        if crash_point == CrashPoint.AFTER_SEND:
            self.crash()
            out.crashed = True
            return out
        self._apply(rd, out)
        out.read_states = rd.read_states
        node.advance(rd)
        self._maybe_snapshot()
        return out

    def _apply(self, rd: Ready, out: ReadyOutput) -> None:
        if rd.snapshot is not None and rd.snapshot.meta.index > self.applied_index:
            self.checker.on_snapshot(self.id, rd.snapshot.meta)
            self.kv.restore(rd.snapshot.data)
            self.conf = rd.snapshot.meta.conf
            self.applied_index = rd.snapshot.meta.index
        for entry in rd.committed_entries:
            self.checker.on_apply(self.id, entry)
            if entry.type == EntryType.NORMAL:
                out.applied.append(self.kv.apply(entry.data))
            elif entry.type == EntryType.CONF_CHANGE:
                change = conf_change_of(entry)
                self.conf = self.node.apply_conf_change(change)
                if change.type == ConfChangeType.REMOVE_NODE:
                    out.removed.append(change.node_id)
            self.applied_index = entry.index
            self._since_snapshot += 1

    def _maybe_snapshot(self) -> None:
        """The application snapshots every ``snapshot_every`` applied entries and lets Raft compact."""
        if self._since_snapshot < self.snapshot_every:
            return
        self._since_snapshot = 0
        snapshot = self.node.compact(self.kv.snapshot(), keep_entries=self.keep_entries)
        self.disk.write_created_snapshot(snapshot, self.storage.first_index() - 1)
        self.disk.sync()
