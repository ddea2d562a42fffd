"""Linearizable reads: ``ReadOnly`` (the leader's ReadIndex requests waiting for a heartbeat round to
confirm its leadership) and the leader's read path (``leader_read_index``, ``lease_valid``).

Dissertation §6.4: the leader records its commit index as the read index, "sends a new round of
heartbeats, and waits for their acknowledgments from a majority of the cluster. Once these
acknowledgments are received, the leader knows that there could not have existed a leader for a
greater term at the moment it sent the heartbeats." Heartbeats carry the newest request's context;
an acknowledgment of it also confirms every request queued before it, since those heartbeats left later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cluster.raft.messages import NONE, Message, MessageType
from cluster.raft.status import ReadState

if TYPE_CHECKING:
    from cluster.raft.raft import Raft

__all__ = ["PendingRead", "ReadOnly", "answer_read", "leader_read_index", "lease_valid"]


@dataclass(slots=True)
class PendingRead:
    """One ReadIndex request: who asked (a follower id, or the leader itself), its context, the index."""

    requester: str
    context: bytes
    index: int
    acks: set[str] = field(default_factory=set)


class ReadOnly:
    """Pending ReadIndex requests in arrival order, at most ``max_pending`` of them."""

    def __init__(self, max_pending: int) -> None:
        self.max_pending = max_pending
        self._pending: dict[bytes, PendingRead] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def full(self) -> bool:
        return len(self._pending) >= self.max_pending

    def add(self, requester: str, context: bytes, index: int) -> bool:
        """Queue a request; False when its context is already pending (a duplicate) or the queue is full."""
        if context in self._pending or self.full():
            return False
        self._pending[context] = PendingRead(requester, context, index)
        return True

    def ack(self, node_id: str, context: bytes) -> set[str] | None:
        """Record that ``node_id`` answered the heartbeat carrying ``context``; the acks so far, or None."""
        read = self._pending.get(context)
        if read is None:
            return None
        read.acks.add(node_id)
        return read.acks

    def release_through(self, context: bytes) -> list[PendingRead]:
        """Remove and return every request up to and including the one with ``context``, oldest first."""
        released: list[PendingRead] = []
        if context not in self._pending:
            return released
        for key in list(self._pending):
            released.append(self._pending.pop(key))
            if key == context:
                break
        return released

    def last_context(self) -> bytes:
        """Context of the newest pending request (b"" when none): what heartbeats carry."""
        return next(reversed(self._pending), b"")

    def reset(self) -> None:
        self._pending.clear()


def leader_read_index(r: Raft, requester: str, context: bytes) -> bool:
    """Dissertation §6.4: the leader needs an entry of its term committed ("the leader may not know
    which entries are committed" before), records the commit index, then confirms it still leads.
    Returns False when the request cannot be queued."""
    if r.tracker.voters == (r.id,):
        answer_read(r, PendingRead(requester, context, r.log.committed))
        return True
    if r.log.term(r.log.committed) != r.term:
        if len(r.reads_awaiting_commit) >= r.config.max_pending_reads:
            return False
        r.reads_awaiting_commit.append((requester, context))
        return True
    if lease_valid(r):
        answer_read(r, PendingRead(requester, context, r.log.committed))
        return True
    if not r.read_only.add(requester, context, r.log.committed):
        return not r.read_only.full()  # a duplicate context joins the pending request
    r.read_only.ack(r.id, context)
    r.bcast_heartbeat()
    return True


def lease_valid(r: Raft) -> bool:
    """Dissertation §6.4.1: "the leader would use the normal heartbeat mechanism to maintain a lease";
    no other leader can be elected before a quorum's lease on us runs out, so until then our commit
    index is current without a heartbeat round. Not for the rest of a term in which we sent
    TimeoutNow: the campaign it forces ignores leases, and the message may arrive at any time.
    """
    if not r.config.lease_reads or r.lead_transferee != NONE or r.lease_forfeited:
        return False
    start = r.tracker.lease_start(r.id, r.ticks)
    return start >= 0 and r.ticks < start + r.config.election_ticks - r.config.lease_margin_ticks


def answer_read(r: Raft, read: PendingRead) -> None:
    if read.requester == r.id:
        r.read_states.append(ReadState(read.index, read.context))
    else:
        r.msgs.append(Message(type=MessageType.READ_INDEX_RESP, to=read.requester, sender=r.id,
                              term=r.term, index=read.index, context=read.context))

