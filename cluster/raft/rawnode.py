"""``RawNode``: the public face of the Raft core, and ``Ready``, the batch of work it hands out.

The runtime drives a node like this (one thread, nothing else touches the node in between)::

    node.tick() / node.step(msg) / node.propose(data) ...
    if node.has_ready():
        rd = node.ready()
        persist rd.snapshot, rd.entries and rd.hard_state, and sync   # before any message leaves
        send rd.messages
        apply rd.snapshot, then rd.committed_entries (conf changes through node.apply_conf_change)
        serve reads in rd.read_states once their index is applied
        node.advance(rd)

Messages may be stepped between ``ready`` and ``advance`` (the runtime may await its disk), but a
second ``ready`` waits for ``advance``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from cluster.raft.config import Config
from cluster.raft.messages import ConfChange, Message, Snapshot
from cluster.raft.progress import ProgressState
from cluster.raft.raft import Raft
from cluster.raft.status import FollowerStatus, ReadState, Role, SoftState, Status
from cluster.raft.storage import Storage
from cluster.raft.types import ConfState, Entry, EntryType, HardState

__all__ = ["RawNode", "Ready"]


@dataclass(slots=True)
class Ready:
    """Work for the runtime. Empty fields mean nothing to do; ``hard_state`` is None when unchanged."""

    soft_state: SoftState | None = None
    hard_state: HardState | None = None
    entries: list[Entry] = field(default_factory=list)
    snapshot: Snapshot | None = None
    committed_entries: list[Entry] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    read_states: list[ReadState] = field(default_factory=list)
    must_sync: bool = False
    """Whether the writes must be synced before the messages leave: new entries, a snapshot, a new term
    or vote. A hard state that only moves the commit index may be written lazily."""


class RawNode:
    """One Raft node as a pure state machine: inputs in, ``Ready`` batches out."""

    def __init__(self, config: Config, storage: Storage, rng: random.Random) -> None:
        self.raft = Raft(config, storage, rng)
        self._prev_soft = self._soft_state()
        self._prev_hard = storage.initial_state()[0]
        self._ready_out = False

    # ---- inputs --------------------------------------------------------------------------------

    def tick(self) -> None:
        """Advance logical time by one tick (elections and heartbeats are counted in ticks)."""
        self.raft.tick()

    def step(self, msg: Message) -> None:
        """Handle a message from another node; messages of older terms are answered or dropped."""
        self.raft.step(msg)

    def campaign(self) -> None:
        """Start an election now (through pre-vote when enabled), e.g. at bootstrap or in tests."""
        self.raft.hup()

    def propose(self, data: bytes) -> None:
        """Append a command for the state machine; raises ``NotLeader`` or ``ProposalDropped``."""
        self.raft.propose([(EntryType.NORMAL, data)])

    def propose_batch(self, commands: list[bytes]) -> None:
        """Append several commands at once (one check, one append, one message per follower)."""
        if commands:
            self.raft.propose([(EntryType.NORMAL, data) for data in commands])

    def propose_conf_change(self, change: ConfChange) -> None:
        """Propose one membership change; raises ``NotLeader``, ``ConfChangePending`` or ``InvalidConfChange``."""
        self.raft.propose_conf_change(change)

    def apply_conf_change(self, change: ConfChange) -> ConfState:
        """Take a committed change into effect; the runtime calls it when it applies the change's entry."""
        return self.raft.apply_conf_change(change)

    def transfer_leadership(self, to: str) -> None:
        """Hand leadership to voter ``to``; proposals are refused until it takes over or the transfer
        times out (an election timeout)."""
        self.raft.transfer_leadership(to)

    def read_index(self, context: bytes) -> None:
        """Ask for a linearizable read point; a ``ReadState(index, context)`` appears in a later Ready.

        ``context`` identifies the request and must be unique among pending reads. Followers forward
        the request to the leader; with no known leader this raises ``NotLeader``.
        """
        self.raft.read_index(context)

    def report_unreachable(self, to: str) -> None:
        """The runtime failed to send to ``to``: stop streaming optimistically and probe it instead."""
        pr = self.raft.tracker.progress.get(to)
        if self.raft.role == Role.LEADER and pr is not None and pr.state == ProgressState.REPLICATE:
            pr.become_probe()

    def report_snapshot(self, to: str, *, ok: bool) -> None:
        """The runtime finished (or failed) sending a snapshot to ``to``; probe it from there."""
        pr = self.raft.tracker.progress.get(to)
        if self.raft.role != Role.LEADER or pr is None or pr.state != ProgressState.SNAPSHOT:
            return
        if not ok:
            pr.pending_snapshot = 0
        pr.become_probe()
        pr.probe_sent = True  # wait for the follower's answer or the next heartbeat

    def compact(self, data: bytes, *, keep_entries: int = 0) -> Snapshot:
        """Record the application's snapshot ``data`` of its state at the applied index, then drop the
        log up to ``keep_entries`` before it (keeping some lets slightly lagging followers catch up
        from the log rather than from a snapshot). Call it after ``advance``, never between
        ``ready`` and ``advance``."""
        log = self.raft.log
        storage = log.storage
        if log.applied <= storage.snapshot().meta.index:
            return storage.snapshot()  # nothing applied since the last one
        snapshot = storage.create_snapshot(log.applied, self.raft.tracker.conf_state(), data)
        storage.compact(max(snapshot.meta.index - keep_entries, storage.first_index() - 1))
        return snapshot

    # ---- outputs -------------------------------------------------------------------------------

    def _soft_state(self) -> SoftState:
        return SoftState(self.raft.lead, self.raft.role)

    def _hard_state(self) -> HardState:
        r = self.raft
        return HardState(term=r.term, vote=r.vote, commit=r.log.committed)

    def has_ready(self) -> bool:
        """Whether a ``Ready`` has work (False while one is out, until ``advance``). It first turns the
        proposals and commit-index changes batched since the last call into appends."""
        if self._ready_out:
            return False
        r = self.raft
        r.flush()
        if r.msgs or r.log.unstable or r.log.unstable_snapshot is not None or r.read_states:
            return True
        if r.log.has_next_committed_entries():
            return True
        prev = self._prev_hard
        if r.term != prev.term or r.vote != prev.vote or r.log.committed != prev.commit:
            return True
        return r.lead != self._prev_soft.leader_id or r.role != self._prev_soft.role

    def ready(self) -> Ready:
        """The work accumulated since the last ``advance``; call ``advance`` when it is done."""
        assert not self._ready_out, "ready() again before advance()"
        r = self.raft
        r.flush()
        log = r.log
        rd = Ready(
            entries=list(log.unstable),
            snapshot=log.unstable_snapshot,
            committed_entries=log.next_committed_entries() if log.has_next_committed_entries() else [],
            messages=r.msgs,
            read_states=r.read_states,
        )
        r.msgs = []
        r.read_states = []
        soft = self._soft_state()
        if soft != self._prev_soft:
            rd.soft_state = soft
        hard = self._hard_state()
        if hard != self._prev_hard:
            rd.hard_state = hard
        rd.must_sync = bool(rd.entries) or rd.snapshot is not None or (
            hard.term != self._prev_hard.term or hard.vote != self._prev_hard.vote
        )
        self._ready_out = True
        return rd

    def advance(self, rd: Ready) -> None:
        """The runtime persisted, sent and applied ``rd``."""
        assert self._ready_out, "advance() without ready()"
        self._ready_out = False
        r = self.raft
        log = r.log
        if rd.soft_state is not None:
            self._prev_soft = rd.soft_state
        if rd.hard_state is not None:
            self._prev_hard = rd.hard_state
        if rd.snapshot is not None:
            log.stable_snap_to(rd.snapshot.meta.index)
            if rd.snapshot.meta.index > log.applied:
                log.applied_to(rd.snapshot.meta.index)
        if rd.entries:
            last = rd.entries[-1]
            log.stable_to(last.index, last.term)
        if rd.committed_entries:
            log.applied_to(rd.committed_entries[-1].index)
            if r.role == Role.LEADER and r.uncommitted_bytes:
                done = sum(len(e.data) for e in rd.committed_entries if e.type == EntryType.NORMAL)
                r.uncommitted_bytes = max(0, r.uncommitted_bytes - done)

    # ---- views ---------------------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self.raft.id

    @property
    def role(self) -> Role:
        return self.raft.role

    @property
    def leader_id(self) -> str:
        return self.raft.lead

    @property
    def term(self) -> int:
        return self.raft.term

    def status(self) -> Status:
        r = self.raft
        progress: dict[str, FollowerStatus] = {}
        if r.role == Role.LEADER:
            for node_id, pr in r.tracker.progress.items():
                progress[node_id] = FollowerStatus(pr.match, pr.next, pr.state, pr.is_learner, pr.recent_active)
        return Status(
            id=r.id,
            hard_state=self._hard_state(),
            soft_state=self._soft_state(),
            applied=r.log.applied,
            last_index=r.log.last_index(),
            conf=r.tracker.conf_state(),
            lead_transferee=r.lead_transferee,
            progress=progress,
        )
