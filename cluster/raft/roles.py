"""The role-specific step functions: ``step_follower``, ``step_candidate``, ``step_leader``.

``Raft.step`` has already dealt with the message's term (newer terms demote us, older ones are
dropped) and with vote requests, which every role answers the same way. What remains here is what
each role does with a message of its own term.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cluster.raft.messages import Message, MessageType, Snapshot
from cluster.raft.progress import ProgressState
from cluster.raft.readonly import answer_read, leader_read_index
from cluster.raft.status import ReadState, Role
from cluster.raft.tracker import VoteResult

if TYPE_CHECKING:
    from cluster.raft.raft import Raft

__all__ = ["step_candidate", "step_follower", "step_leader"]


def step_follower(r: Raft, m: Message) -> None:
    t = m.type
    if t in (MessageType.APPEND, MessageType.HEARTBEAT, MessageType.SNAPSHOT):
        r.election_elapsed = 0
        r.lead = m.sender
        _handle_leader_message(r, m)
    elif t == MessageType.TIMEOUT_NOW:
        # §3.10: "this server [...] starts a new election" at once, even while it hears its leader.
        r.hup(transfer=True)
    elif t == MessageType.READ_INDEX_RESP:
        r.read_states.append(ReadState(m.index, m.context))


def step_candidate(r: Raft, m: Message) -> None:
    """Candidates and pre-candidates: count the answers, or yield to a leader of our term.

    §5.2: "If the leader's term [...] is at least as large as the candidate's current term, then the
    candidate recognizes the leader as legitimate and returns to follower state."
    """
    t = m.type
    if t in (MessageType.APPEND, MessageType.HEARTBEAT, MessageType.SNAPSHOT):
        r.become_follower(m.term, m.sender)
        _handle_leader_message(r, m)
        return
    expected = MessageType.PRE_VOTE_RESP if r.role == Role.PRE_CANDIDATE else MessageType.VOTE_RESP
    if t != expected:
        return
    r.tracker.record_vote(m.sender, not m.reject)
    result = r.tracker.tally()[2]
    if result == VoteResult.WON:
        r.won_votes()
    elif result == VoteResult.LOST:
        r.become_follower(r.term, "")


def _handle_leader_message(r: Raft, m: Message) -> None:
    r.leader_contact_elapsed = 0
    if m.type == MessageType.APPEND:
        _handle_append(r, m)
    elif m.type == MessageType.HEARTBEAT:
        _handle_heartbeat(r, m)
    else:
        _handle_snapshot(r, m)


def _handle_append(r: Raft, m: Message) -> None:
    """The follower side of §5.3: take the entries if the previous one matches, else say where to look."""
    if m.index < r.log.committed:
        _reply_append(r, m.sender, r.log.committed)
        return
    last_new = r.log.maybe_append(m.index, m.log_term, m.commit, m.entries)
    if last_new is not None:
        _reply_append(r, m.sender, last_new)
        return
    hint_term, hint_index = r.log.conflict_hint(m.index)
    r.msgs.append(Message(type=MessageType.APPEND_RESP, to=m.sender, sender=r.id, term=r.term,
                          index=m.index, reject=True, log_term=hint_term, reject_hint=hint_index))


def _reply_append(r: Raft, to: str, index: int) -> None:
    r.msgs.append(Message(type=MessageType.APPEND_RESP, to=to, sender=r.id, term=r.term, index=index))


def _handle_heartbeat(r: Raft, m: Message) -> None:
    r.log.commit_to(m.commit)
    r.msgs.append(Message(type=MessageType.HEARTBEAT_RESP, to=m.sender, sender=r.id, term=r.term,
                          index=m.index, context=m.context))


def _handle_snapshot(r: Raft, m: Message) -> None:
    assert m.snapshot is not None, "a SNAPSHOT message carries a snapshot"
    if _restore(r, m.snapshot):
        _reply_append(r, m.sender, r.log.last_index())
    else:
        _reply_append(r, m.sender, r.log.committed)


def _restore(r: Raft, snapshot: Snapshot) -> bool:
    """Figure 13: "If existing log entry has same index and term as snapshot's last included entry,
    retain log entries following it and reply"; otherwise "Discard the entire log" and take the
    snapshot's membership. A snapshot older than our commit index is ignored."""
    meta = snapshot.meta
    if meta.index <= r.log.committed:
        return False
    if r.log.match_term(meta.index, meta.term):
        r.log.commit_to(meta.index)
        return False
    r.log.restore(snapshot)
    r.tracker.set_members(meta.conf, r.log.last_index() + 1)
    return True


def step_leader(r: Raft, m: Message) -> None:
    t = m.type
    if t == MessageType.APPEND_RESP:
        _handle_append_response(r, m)
    elif t == MessageType.HEARTBEAT_RESP:
        _handle_heartbeat_response(r, m)
    elif t == MessageType.READ_INDEX and m.sender in r.tracker.progress:
        leader_read_index(r, m.sender, m.context)


def _handle_append_response(r: Raft, m: Message) -> None:
    pr = r.tracker.progress.get(m.sender)
    if pr is None:
        return
    pr.recent_active = True
    if m.reject:
        _handle_reject(r, m)
        return
    if pr.maybe_update(m.index) or (pr.match == m.index and pr.state == ProgressState.PROBE):
        if pr.state == ProgressState.PROBE:
            pr.become_replicate()
        elif pr.state == ProgressState.SNAPSHOT:
            if pr.match >= pr.pending_snapshot:
                pr.become_replicate()
        else:
            pr.inflights.free_le(m.index)
        r.maybe_commit()
        # The window may have opened for several messages (probe -> replicate, acks freeing slots);
        # the first one goes even if empty when the follower has yet to hear the commit index.
        if r.maybe_send_append(m.sender, send_if_empty=pr.sent_commit < r.log.committed):
            while r.maybe_send_append(m.sender, send_if_empty=False):
                pass
        if m.sender == r.lead_transferee and pr.match == r.log.last_index():
            # §3.10: the target is caught up; tell it to start an election now.
            r.send_timeout_now(m.sender)


def _handle_reject(r: Raft, m: Message) -> None:
    """§5.3: "the leader can decrement nextIndex to bypass all of the conflicting entries in that term".

    With the follower's conflicting term and the first index it holds of it: if we hold entries of
    that term, our last one there is where the logs agree; otherwise skip the follower's whole term.
    """
    pr = r.tracker.progress[m.sender]
    next_hint = m.reject_hint
    if m.log_term > 0:
        ours = r.log.last_index_of_term(min(m.index, r.log.last_index()), m.log_term)
        if ours is not None:
            next_hint = ours + 1
    if pr.maybe_decrease_to(m.index, next_hint):
        if pr.state == ProgressState.REPLICATE:
            pr.become_probe()
        r.maybe_send_append(m.sender)


def _handle_heartbeat_response(r: Raft, m: Message) -> None:
    pr = r.tracker.progress.get(m.sender)
    if pr is None:
        return
    pr.recent_active = True
    pr.probe_sent = False
    pr.lease_stamp = max(pr.lease_stamp, m.index)
    if pr.state == ProgressState.REPLICATE and pr.inflights.full():
        pr.inflights.free_first_one()  # its messages may all be lost; let one more through
    elif pr.state == ProgressState.SNAPSHOT and pr.snapshot_elapsed >= r.config.election_ticks:
        pr.become_probe()  # the snapshot was lost, or the follower refused it: start over
    if pr.match < r.log.last_index():
        r.maybe_send_append(m.sender)
    if m.context:
        acks = r.read_only.ack(m.sender, m.context)
        if acks is not None and r.tracker.has_quorum(acks):
            for read in r.read_only.release_through(m.context):
                answer_read(r, read)
