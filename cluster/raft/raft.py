"""``Raft``: one node's consensus state and the transitions shared by every role.

The role-specific handling of messages lives in ``cluster.raft.roles`` (``step_leader``,
``step_candidate``, ``step_follower``); the node swaps the step function when its role changes, as
it swaps its tick function (``tick_election`` for followers and candidates, ``tick_heartbeat`` for the
leader). Everything the node wants done (messages, read states) accumulates here until ``RawNode``
hands it out in a ``Ready``.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from cluster.errors import InvalidInput
from cluster.raft import roles
from cluster.raft.confchange import apply_to_tracker, validate_conf_change
from cluster.raft.config import Config
from cluster.raft.errors import (
    ConfChangePending,
    LogCompacted,
    NotLeader,
    ProposalDropped,
    SnapshotTemporarilyUnavailable,
)
from cluster.raft.log import RaftLog
from cluster.raft.messages import (
    CAMPAIGN_TRANSFER,
    NONE,
    ConfChange,
    Message,
    MessageType,
    encode_conf_change,
)
from cluster.raft.progress import Progress, ProgressState
from cluster.raft.readonly import ReadOnly, leader_read_index
from cluster.raft.status import ReadState, Role
from cluster.raft.storage import Storage
from cluster.raft.tracker import ProgressTracker, VoteResult
from cluster.raft.types import ConfState, Entry, EntryType

__all__ = ["Raft"]


class Raft:
    """The consensus state of one node; ``RawNode`` is its public face."""

    def __init__(self, config: Config, storage: Storage, rng: random.Random) -> None:
        config.validate()
        self.id = config.id
        self.config = config
        self.rng = rng
        self.log = RaftLog(storage, config.max_committed_per_ready)
        self.tracker = ProgressTracker(config.max_inflight_msgs)
        self.read_only = ReadOnly(config.max_pending_reads)
        self.msgs: list[Message] = []
        self.read_states: list[ReadState] = []
        self.term = 0
        self.vote = NONE
        self.lead = NONE
        self.role = Role.FOLLOWER
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self.ticks = 0  # ticks since start: stamps heartbeats for lease reads
        # Ticks since a leader last spoke to us. A restarted node may have acknowledged a leader's
        # heartbeat just before it went down, so with leases it honours one for a full timeout.
        self.leader_contact_elapsed = 0 if config.lease_reads else config.election_ticks
        self.randomized_election_timeout = config.election_ticks
        self.lead_transferee = NONE
        self.lease_forfeited = False  # a TimeoutNow went out this term: it overrides followers' leases
        self.pending_conf_index = 0
        self.uncommitted_bytes = 0
        self.reads_awaiting_commit: list[tuple[str, bytes]] = []
        self.bcast_pending = False  # appends to send at the next flush (batches proposals and commits)
        self._step_fn: Callable[[Raft, Message], None] = roles.step_follower
        self._tick_fn: Callable[[Raft], None] = Raft.tick_election

        hard_state, conf = storage.initial_state()
        self.tracker.set_members(conf, self.log.last_index() + 1)
        self.term, self.vote = hard_state.term, hard_state.vote
        self.log.commit_to(max(hard_state.commit, self.log.committed))
        if config.applied > self.log.applied:
            self.log.applied_to(config.applied)
        self.become_follower(self.term, NONE)

    # ---- role transitions ----------------------------------------------------------------------

    def _reset(self, term: int) -> None:
        if self.term != term:
            self.term = term
            self.vote = NONE
        self.lead = NONE
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self.randomized_election_timeout = self.rng.randrange(
            self.config.election_ticks, 2 * self.config.election_ticks
        )
        self.lead_transferee = NONE
        self.lease_forfeited = False
        self.tracker.reset_votes()
        last = self.log.last_index()
        for node_id, pr in self.tracker.progress.items():
            if node_id == self.id:
                pr.reset(last + 1, match=last)
                pr.recent_active = True
            else:
                pr.reset(last + 1)
        self.pending_conf_index = 0
        self.uncommitted_bytes = 0
        self.read_only.reset()
        self.reads_awaiting_commit = []
        self.bcast_pending = False

    def become_follower(self, term: int, lead: str) -> None:
        self._step_fn = roles.step_follower
        self._tick_fn = Raft.tick_election
        self._reset(term)
        self.lead = lead
        self.role = Role.FOLLOWER

    def become_pre_candidate(self) -> None:
        """§9.6 (dissertation): a pre-candidate asks whether it could win before it disrupts anyone.

        Its term and vote stay as they are; only a won pre-vote leads to a real election.
        """
        assert self.role != Role.LEADER, "a leader does not pre-campaign"
        self._step_fn = roles.step_candidate
        self._tick_fn = Raft.tick_election
        self.tracker.reset_votes()
        self.lead = NONE
        self.role = Role.PRE_CANDIDATE

    def become_candidate(self) -> None:
        """§5.2: "To begin an election, a follower increments its current term and transitions to
        candidate state. It then votes for itself and issues RequestVote RPCs in parallel"."""
        assert self.role != Role.LEADER, "a leader does not campaign"
        self._step_fn = roles.step_candidate
        self._tick_fn = Raft.tick_election
        self._reset(self.term + 1)
        self.vote = self.id
        self.role = Role.CANDIDATE

    def become_leader(self) -> None:
        """§8: "Raft handles this by having each leader commit a blank no-op entry into the log at the
        start of its term." Membership changes wait until that entry (and all before it) is applied."""
        assert self.role == Role.CANDIDATE, "only a candidate wins an election"
        self._step_fn = roles.step_leader
        self._tick_fn = Raft.tick_heartbeat
        self._reset(self.term)
        self.lead = self.id
        self.role = Role.LEADER
        self.tracker.progress[self.id].become_replicate()
        self.append_entries([(EntryType.NOOP, b"")])
        self.pending_conf_index = self.log.last_index()

    # ---- elections -----------------------------------------------------------------------------

    def promotable(self) -> bool:
        """Whether this node may campaign: a voter, with no received snapshot still to apply."""
        return self.tracker.is_voter(self.id) and self.log.unstable_snapshot is None

    def _has_unapplied_conf_change(self) -> bool:
        if self.log.committed <= self.log.applied:
            return False
        lo = max(self.log.applied + 1, self.log.first_index())
        entries = self.log.slice(lo, self.log.committed + 1)
        return any(e.type == EntryType.CONF_CHANGE for e in entries)

    def hup(self, *, transfer: bool = False) -> None:
        """Start an election (pre-vote first, unless disabled or asked to by TimeoutNow)."""
        if self.role == Role.LEADER or not self.promotable():
            return
        if self._has_unapplied_conf_change():
            return  # that change may make us a non-voter; campaign once it is applied
        if self.config.pre_vote and not transfer:
            self.campaign(pre_vote=True)
        else:
            self.campaign(pre_vote=False, transfer=transfer)

    def campaign(self, *, pre_vote: bool, transfer: bool = False) -> None:
        if pre_vote:
            self.become_pre_candidate()
            vote_type, term = MessageType.PRE_VOTE, self.term + 1
        else:
            self.become_candidate()
            vote_type, term = MessageType.VOTE, self.term
        self.tracker.record_vote(self.id, True)
        if self.tracker.tally()[2] == VoteResult.WON:
            self.won_votes()  # a single voter wins on its own vote
            return
        last_index, last_term = self.log.last_index(), self.log.last_term()
        context = CAMPAIGN_TRANSFER if transfer else b""
        for voter in self.tracker.voters:
            if voter != self.id:
                self.msgs.append(Message(type=vote_type, to=voter, sender=self.id, term=term,
                                         index=last_index, log_term=last_term, context=context))

    def won_votes(self) -> None:
        if self.role == Role.PRE_CANDIDATE:
            self.campaign(pre_vote=False)
        else:
            self.become_leader()
            self.bcast_append()

    def handle_vote_request(self, m: Message) -> None:
        """Figure 2 RequestVote: "If votedFor is null or candidateId, and candidate's log is at least as
        up-to-date as receiver's log, grant vote." A pre-vote for a later term is granted on the log
        alone and changes nothing here."""
        resp_type = MessageType.VOTE_RESP if m.type == MessageType.VOTE else MessageType.PRE_VOTE_RESP
        can_vote = (
            self.vote == m.sender
            or (self.vote == NONE and self.lead == NONE)
            or (m.type == MessageType.PRE_VOTE and m.term > self.term)
        )
        if can_vote and self.log.is_up_to_date(m.index, m.log_term):
            self.msgs.append(Message(type=resp_type, to=m.sender, sender=self.id, term=m.term))
            if m.type == MessageType.VOTE:
                self.election_elapsed = 0
                self.vote = m.sender
        else:
            self.msgs.append(Message(type=resp_type, to=m.sender, sender=self.id, term=self.term, reject=True))

    # ---- ticks ---------------------------------------------------------------------------------

    def tick(self) -> None:
        self.ticks += 1
        self.leader_contact_elapsed += 1
        self._tick_fn(self)

    def tick_election(self) -> None:
        """§5.2: "If a follower receives no communication over a period of time called the election
        timeout, then it assumes there is no viable leader and begins an election"."""
        self.election_elapsed += 1
        if self.election_elapsed >= self.randomized_election_timeout and self.promotable():
            self.election_elapsed = 0
            self.hup()

    def tick_heartbeat(self) -> None:
        self.heartbeat_elapsed += 1
        self.election_elapsed += 1
        if self.election_elapsed >= self.config.election_ticks:
            self.election_elapsed = 0
            if self.config.check_quorum and not self._check_quorum():
                return
            self.abort_leader_transfer()  # §3.10: give up a transfer that took an election timeout
        for pr in self.tracker.progress.values():
            if pr.state == ProgressState.SNAPSHOT:
                pr.snapshot_elapsed += 1
        if self.heartbeat_elapsed >= self.config.heartbeat_ticks:
            self.heartbeat_elapsed = 0
            self.bcast_heartbeat()

    def _check_quorum(self) -> bool:
        """§6.2 (dissertation): "a leader steps down if an election timeout elapses without a successful
        round of heartbeats to a majority of its cluster". True while the leader stays."""
        if not self.tracker.quorum_active(self.id):
            self.become_follower(self.term, NONE)
            return False
        for node_id, pr in self.tracker.progress.items():
            pr.recent_active = node_id == self.id
        return True

    def in_lease(self) -> bool:
        """Whether we lead, or heard from a leader less than an election timeout ago (with check-quorum)."""
        if not self.config.check_quorum:
            return False
        return self.role == Role.LEADER or self.leader_contact_elapsed < self.config.election_ticks

    # ---- stepping ------------------------------------------------------------------------------

    def step(self, m: Message) -> None:
        """Handle one message: first its term (Figure 2, "All Servers"), then by role."""
        if m.term > self.term:
            # §4.2.3 (dissertation): "if a server receives a RequestVote request within the minimum
            # election timeout of hearing from a current leader, it does not update its term or grant
            # its vote." TimeoutNow-forced campaigns are exempt.
            is_vote = m.type in (MessageType.VOTE, MessageType.PRE_VOTE)
            if is_vote and m.context != CAMPAIGN_TRANSFER and self.in_lease():
                return
            if m.type == MessageType.PRE_VOTE or (m.type == MessageType.PRE_VOTE_RESP and not m.reject):
                pass  # a pre-vote changes no term: the election it asks about has not started
            elif m.type in (MessageType.APPEND, MessageType.HEARTBEAT, MessageType.SNAPSHOT):
                self.become_follower(m.term, m.sender)
            else:
                self.become_follower(m.term, NONE)
        elif m.term < self.term:
            self._answer_stale(m)
            return
        if m.type in (MessageType.VOTE, MessageType.PRE_VOTE):
            self.handle_vote_request(m)
        else:
            self._step_fn(self, m)

    def _answer_stale(self, m: Message) -> None:
        """A message from an older term is dropped, but a stale leader or pre-candidate is told our term.

        Without the answer, a leader cut off long enough for the rest to move on would never learn it
        is deposed when check-quorum or pre-vote keep the others from raising their terms toward it.
        """
        if (self.config.check_quorum or self.config.pre_vote) and m.type in (
            MessageType.APPEND,
            MessageType.HEARTBEAT,
        ):
            self.msgs.append(Message(type=MessageType.APPEND_RESP, to=m.sender, sender=self.id, term=self.term))
        elif m.type == MessageType.PRE_VOTE:
            self.msgs.append(
                Message(type=MessageType.PRE_VOTE_RESP, to=m.sender, sender=self.id, term=self.term, reject=True)
            )

    # ---- replication (leader) ------------------------------------------------------------------

    def append_entries(self, items: list[tuple[EntryType, bytes]]) -> None:
        """Append new entries of our term to our log; our own progress counts them at once."""
        last = self.log.last_index()
        term = self.term
        entries = [Entry(term, last + 1 + i, kind, data) for i, (kind, data) in enumerate(items)]
        self.log.append(entries)
        self.tracker.progress[self.id].maybe_update(entries[-1].index)
        self.maybe_commit()
        self.bcast_pending = True

    def maybe_commit(self) -> bool:
        if not self.log.maybe_commit(self.tracker.committed_index(), self.term):
            return False
        self.bcast_pending = True
        if self.reads_awaiting_commit:
            waiting, self.reads_awaiting_commit = self.reads_awaiting_commit, []
            for requester, context in waiting:
                leader_read_index(self, requester, context)
        return True

    def flush(self) -> None:
        """Send the appends batched since the last flush (new entries, a new commit index)."""
        if self.bcast_pending:
            self.bcast_pending = False
            if self.role == Role.LEADER:
                self.bcast_append(only_news=True)

    def bcast_append(self, *, only_news: bool = False) -> None:
        """Send appends to every member; with ``only_news``, skip those with nothing new to hear."""
        committed = self.log.committed
        for node_id, pr in self.tracker.progress.items():
            if node_id != self.id:
                self.maybe_send_append(node_id, send_if_empty=not only_news or pr.sent_commit < committed)

    def maybe_send_append(self, to: str, *, send_if_empty: bool = True) -> bool:
        """§5.3: send the entries after ``next - 1`` with that entry's index and term, or a snapshot
        when those entries are compacted. Returns whether a message was sent."""
        pr = self.tracker.progress[to]
        if pr.is_paused():
            return False
        prev_index = pr.next - 1
        prev_term = self.log.term(prev_index)
        if prev_term is None:
            return self._send_snapshot(to, pr)
        last = self.log.last_index()
        entries: list[Entry] = []
        if pr.next <= last:
            try:
                entries = self.log.slice(pr.next, min(last + 1, pr.next + self.config.max_entries_per_msg))
            except LogCompacted:
                return self._send_snapshot(to, pr)
        if not entries and not send_if_empty:
            return False
        self.msgs.append(Message(type=MessageType.APPEND, to=to, sender=self.id, term=self.term,
                                 index=prev_index, log_term=prev_term, entries=tuple(entries),
                                 commit=self.log.committed))
        pr.sent_commit = self.log.committed
        if entries:
            pr.sent_entries(entries[-1].index)
        elif pr.state == ProgressState.PROBE:
            pr.probe_sent = True
        return True

    def _send_snapshot(self, to: str, pr: Progress) -> bool:
        """§7: "the leader must occasionally send snapshots to followers that lag behind"."""
        if not pr.recent_active:
            return False  # it may be down; wait until it answers a heartbeat
        try:
            snapshot = self.log.snapshot()
        except SnapshotTemporarilyUnavailable:
            return False
        assert snapshot.meta.index > 0, "entries were compacted, so a snapshot must exist"
        pr.become_snapshot(snapshot.meta.index)
        self.msgs.append(Message(type=MessageType.SNAPSHOT, to=to, sender=self.id, term=self.term,
                                 snapshot=snapshot))
        return True

    def bcast_heartbeat(self) -> None:
        context = self.read_only.last_context()
        committed = self.log.committed
        for node_id, pr in self.tracker.progress.items():
            if node_id != self.id:
                commit = min(pr.match, committed)
                pr.sent_commit = max(pr.sent_commit, commit)
                self.msgs.append(Message(type=MessageType.HEARTBEAT, to=node_id, sender=self.id,
                                         term=self.term, index=self.ticks, commit=commit, context=context))

    # ---- client requests -----------------------------------------------------------------------

    def propose(self, items: list[tuple[EntryType, bytes]]) -> None:
        if self.role != Role.LEADER:
            raise NotLeader(self.lead)
        if self.lead_transferee != NONE:
            raise ProposalDropped(f"leadership is being transferred to {self.lead_transferee}")
        size = sum(len(data) for _, data in items)
        if self.uncommitted_bytes and self.uncommitted_bytes + size > self.config.max_uncommitted_bytes:
            raise ProposalDropped(f"{self.uncommitted_bytes} bytes await commit; the limit is reached")
        self.uncommitted_bytes += size
        self.append_entries(items)

    def propose_conf_change(self, change: ConfChange) -> None:
        """Dissertation §4.1: changes are made one server at a time; "the leader [...] does not begin a
        new configuration change until the previous one has committed" (here: applied by the leader)."""
        if self.role != Role.LEADER:
            raise NotLeader(self.lead)
        if self.lead_transferee != NONE:
            raise ProposalDropped(f"leadership is being transferred to {self.lead_transferee}")
        if self.pending_conf_index > self.log.applied:
            raise ConfChangePending(f"an earlier change at index {self.pending_conf_index} is not applied yet")
        validate_conf_change(self.tracker, change)
        self.append_entries([(EntryType.CONF_CHANGE, encode_conf_change(change))])
        self.pending_conf_index = self.log.last_index()

    def apply_conf_change(self, change: ConfChange) -> ConfState:
        """Take a committed change into effect when the application applies its entry.

        Every node applies the same changes in log order, so a change that no longer makes sense
        (the leader validated it against an older membership) is skipped the same way everywhere.
        """
        apply_to_tracker(self.tracker, change, self.log.last_index() + 1)
        if self.role == Role.LEADER:
            self._after_leader_conf_change()
        return self.tracker.conf_state()

    def _after_leader_conf_change(self) -> None:
        """Dissertation §4.2.2: a leader that is no longer a voter "steps down (returns to follower
        state) once the Cnew entry is committed"; otherwise the quorum may have changed."""
        if not self.tracker.is_voter(self.id):
            self.become_follower(self.term, NONE)
            return
        if self.lead_transferee != NONE and not self.tracker.is_voter(self.lead_transferee):
            self.abort_leader_transfer()
        self.maybe_commit()
        self.bcast_pending = True

    def transfer_leadership(self, to: str) -> None:
        """Dissertation §3.10: "The prior leader sends an AppendEntries request to the target server"
        until its log is current, then "a TimeoutNow request to the target server"."""
        if self.role != Role.LEADER:
            raise NotLeader(self.lead)
        if to == self.id or to == self.lead_transferee:
            return
        if not self.tracker.is_voter(to):
            raise InvalidInput(f"cannot transfer leadership to {to}: not a voter")
        self.abort_leader_transfer()
        self.lead_transferee = to
        self.election_elapsed = 0
        if self.tracker.progress[to].match == self.log.last_index():
            self.send_timeout_now(to)
        else:
            self.maybe_send_append(to)

    def send_timeout_now(self, to: str) -> None:
        self.lease_forfeited = True  # even if the transfer is aborted, this message may arrive later
        self.msgs.append(Message(type=MessageType.TIMEOUT_NOW, to=to, sender=self.id, term=self.term))

    def abort_leader_transfer(self) -> None:
        self.lead_transferee = NONE

    def read_index(self, context: bytes) -> None:
        if self.role == Role.LEADER:
            if not leader_read_index(self, self.id, context):
                raise ProposalDropped("too many reads are pending")
            return
        if self.lead == NONE:
            raise NotLeader(NONE)
        self.msgs.append(Message(type=MessageType.READ_INDEX, to=self.lead, sender=self.id, term=self.term,
                                 context=context))
