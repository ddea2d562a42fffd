"""``Config``: one node's Raft parameters. Time is counted in ticks; the runtime decides a tick's length."""

from __future__ import annotations

from dataclasses import dataclass

from cluster.errors import InvalidInput

__all__ = ["Config"]


@dataclass(frozen=True, slots=True)
class Config:
    """Parameters of one Raft node; ``validate`` runs when a ``RawNode`` is built from it.

    ``election_ticks`` must exceed ``heartbeat_ticks`` (the paper suggests ten times): a follower that
    hears nothing for a randomized timeout in [election_ticks, 2 * election_ticks) campaigns.
    ``applied`` is the index the application's state already reflects when the node restarts
    (its last snapshot, or later if its state machine is durable); 0 means the snapshot index.

    ``lease_reads`` lets the leader answer ReadIndex without a heartbeat round while its lease holds:
    a quorum acknowledged a heartbeat sent less than ``election_ticks - lease_margin_ticks`` ticks ago,
    and those followers refuse to vote for anyone else for ``election_ticks`` after hearing it. The
    margin must cover the servers' clock drift over an election timeout, plus one tick of phase.
    """

    id: str
    election_ticks: int = 10
    heartbeat_ticks: int = 1
    pre_vote: bool = True
    check_quorum: bool = True
    lease_reads: bool = False
    lease_margin_ticks: int = 2
    max_entries_per_msg: int = 256
    max_inflight_msgs: int = 64
    max_uncommitted_bytes: int = 64 * 1024 * 1024
    max_committed_per_ready: int = 4096
    max_pending_reads: int = 4096
    applied: int = 0

    def validate(self) -> None:
        """Raise ``InvalidInput`` naming the first wrong field."""
        if not self.id:
            raise InvalidInput("raft config: id must not be empty")
        if self.heartbeat_ticks < 1:
            raise InvalidInput("raft config: heartbeat_ticks must be at least 1")
        if self.election_ticks <= self.heartbeat_ticks:
            raise InvalidInput("raft config: election_ticks must be greater than heartbeat_ticks")
        for name in ("max_entries_per_msg", "max_inflight_msgs", "max_uncommitted_bytes",
                     "max_committed_per_ready", "max_pending_reads"):
            if getattr(self, name) < 1:
                raise InvalidInput(f"raft config: {name} must be at least 1")
        if self.applied < 0:
            raise InvalidInput("raft config: applied must not be negative")
        if self.lease_reads and not self.check_quorum:
            raise InvalidInput("raft config: lease_reads needs check_quorum (followers honour the lease)")
        if self.lease_reads and not 2 <= self.lease_margin_ticks < self.election_ticks:
            raise InvalidInput("raft config: lease_margin_ticks must be at least 2 and below election_ticks")
