"""``ProgressTracker``: the membership (voters, learners), each member's ``Progress``, votes and quorums.

Membership changes one server at a time (dissertation §4.1), so there is a single configuration and a
quorum is a plain majority of its voters. Learners receive the log but neither vote nor count.
Voters and learners are kept as sorted tuples: every iteration order is the same on every run,
whatever the string hash seed, so a simulation replays exactly.
"""

from __future__ import annotations

import enum

from cluster.raft.progress import Progress
from cluster.raft.types import ConfState

__all__ = ["ProgressTracker", "VoteResult"]


class VoteResult(enum.IntEnum):
    PENDING = 0
    WON = 1
    LOST = 2


class ProgressTracker:
    """Membership, per-member progress and the votes of the current election."""

    def __init__(self, max_inflight: int) -> None:
        self.max_inflight = max_inflight
        self.voters: tuple[str, ...] = ()
        self.learners: tuple[str, ...] = ()
        self.progress: dict[str, Progress] = {}
        self.votes: dict[str, bool] = {}

    def conf_state(self) -> ConfState:
        return ConfState(voters=self.voters, learners=self.learners)

    def members(self) -> tuple[str, ...]:
        return self.voters + self.learners

    def quorum(self) -> int:
        return len(self.voters) // 2 + 1

    def is_voter(self, node_id: str) -> bool:
        return node_id in self.voters

    # ---- membership ----------------------------------------------------------------------------

    def set_members(self, conf: ConfState, next_index: int) -> None:
        """Adopt ``conf`` (from a snapshot or at start); progress of new members starts at ``next_index``."""
        self.voters = tuple(sorted(conf.voters))
        self.learners = tuple(sorted(set(conf.learners) - set(conf.voters)))
        old = self.progress
        self.progress = {}
        for node_id in self.members():
            pr = old.get(node_id) or Progress(next_index, self.max_inflight)
            pr.is_learner = node_id in self.learners
            self.progress[node_id] = pr

    def add_voter(self, node_id: str, next_index: int) -> None:
        self.learners = tuple(n for n in self.learners if n != node_id)
        if node_id not in self.voters:
            self.voters = tuple(sorted((*self.voters, node_id)))
        pr = self.progress.setdefault(node_id, Progress(next_index, self.max_inflight))
        pr.is_learner = False

    def add_learner(self, node_id: str, next_index: int) -> None:
        assert node_id not in self.voters, "demoting a voter is not a single-server change"
        if node_id not in self.learners:
            self.learners = tuple(sorted((*self.learners, node_id)))
        pr = self.progress.setdefault(node_id, Progress(next_index, self.max_inflight, is_learner=True))
        pr.is_learner = True

    def remove(self, node_id: str) -> None:
        self.voters = tuple(n for n in self.voters if n != node_id)
        self.learners = tuple(n for n in self.learners if n != node_id)
        self.progress.pop(node_id, None)

    # ---- quorums -------------------------------------------------------------------------------

    def committed_index(self) -> int:
        """The largest index a quorum of voters holds: the median of their ``match`` (rounded down)."""
        if not self.voters:
            return 0
        progress = self.progress
        matches = sorted((progress[v].match for v in self.voters), reverse=True)
        return matches[self.quorum() - 1]

    def quorum_active(self, self_id: str) -> bool:
        """Whether a quorum of voters was heard from since the last check (the leader counts itself)."""
        active = 0
        for voter in self.voters:
            if voter == self_id or self.progress[voter].recent_active:
                active += 1
        return active >= self.quorum()

    def lease_start(self, self_id: str, now: int) -> int:
        """The leader tick from which a quorum of voters is known to have heard from us (-1: none)."""
        stamps = sorted(
            (now if v == self_id else self.progress[v].lease_stamp for v in self.voters), reverse=True
        )
        return stamps[self.quorum() - 1] if stamps else -1

    def has_quorum(self, ids: set[str]) -> bool:
        return sum(1 for v in self.voters if v in ids) >= self.quorum()

    # ---- votes ---------------------------------------------------------------------------------

    def reset_votes(self) -> None:
        self.votes = {}

    def record_vote(self, node_id: str, granted: bool) -> None:
        """Count the first answer of each node only; a duplicate (from the network) changes nothing."""
        self.votes.setdefault(node_id, granted)

    def tally(self) -> tuple[int, int, VoteResult]:
        granted = rejected = 0
        for voter in self.voters:
            answer = self.votes.get(voter)
            if answer is True:
                granted += 1
            elif answer is False:
                rejected += 1
        quorum = self.quorum()
        if granted >= quorum:
            return granted, rejected, VoteResult.WON
        if len(self.voters) - rejected < quorum:
            return granted, rejected, VoteResult.LOST
        return granted, rejected, VoteResult.PENDING
