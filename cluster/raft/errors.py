"""The errors the Raft core raises on purpose; they extend Caravan's tree (``cluster.errors``)::

    Unavailable
    ├── NotLeader                  this node cannot take the request; ``leader_id`` names who can ("" unknown)
    ├── ProposalDropped            the leader refuses new proposals now (transfer, too many uncommitted bytes)
    └── SnapshotTemporarilyUnavailable   storage cannot produce a snapshot yet; the leader retries later
    Conflict
    └── ConfChangePending          a membership change is still uncommitted; propose the next one after it
    InvalidInput
    └── InvalidConfChange          the change makes no sense against the current membership
    CaravanError
    └── LogCompacted               storage was asked for entries that a snapshot already replaced

``LogCompacted`` and ``SnapshotTemporarilyUnavailable`` are raised by ``Storage`` implementations and
handled inside the core; the rest reach the runtime, which maps them once at its edge.
"""

from __future__ import annotations

from cluster.errors import CaravanError, Conflict, InvalidInput, Unavailable

__all__ = [
    "ConfChangePending",
    "InvalidConfChange",
    "LogCompacted",
    "NotLeader",
    "ProposalDropped",
    "SnapshotTemporarilyUnavailable",
]


class NotLeader(Unavailable):
    """The request needs the leader and this node is not it. ``leader_id`` is "" when no leader is known."""

    def __init__(self, leader_id: str) -> None:
        self.leader_id = leader_id
        super().__init__(f"not the leader (leader: {leader_id or 'unknown'})")


class ProposalDropped(Unavailable):
    """The leader refuses the proposal for now (a leadership transfer runs, or the uncommitted tail is full)."""


class SnapshotTemporarilyUnavailable(Unavailable):
    """Storage is still building a snapshot; the leader tries again on a later heartbeat."""


class ConfChangePending(Conflict):
    """A membership change is proposed while an earlier one is not yet applied by the leader."""


class InvalidConfChange(InvalidInput):
    """The membership change contradicts the current membership (adds a voter twice, removes the last one...)."""


class LogCompacted(CaravanError):
    """The requested index is at or below the storage's snapshot: only the snapshot can answer."""
