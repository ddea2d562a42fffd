"""Single-server membership changes (dissertation §4.1): checking a proposed change, applying one.

"When adding a single server to a cluster or removing a single server from a cluster, any majority
of the old cluster overlaps with any majority of the new cluster", so changes made one at a time need
no joint consensus. A change takes effect on a server when it applies the change's entry.
"""

from __future__ import annotations

from cluster.raft.errors import InvalidConfChange
from cluster.raft.messages import ConfChange, ConfChangeType
from cluster.raft.tracker import ProgressTracker

__all__ = ["apply_to_tracker", "validate_conf_change"]


def validate_conf_change(tracker: ProgressTracker, change: ConfChange) -> None:
    """Raise ``InvalidConfChange`` when ``change`` contradicts the current membership."""
    node, voters, learners = change.node_id, tracker.voters, tracker.learners
    if not node:
        raise InvalidConfChange("a membership change needs a node id")
    if change.type == ConfChangeType.ADD_VOTER and node in voters:
        raise InvalidConfChange(f"{node} is already a voter")
    if change.type == ConfChangeType.ADD_LEARNER and (node in voters or node in learners):
        raise InvalidConfChange(f"{node} is already a member")
    if change.type == ConfChangeType.PROMOTE_LEARNER and node not in learners:
        raise InvalidConfChange(f"{node} is not a learner")
    if change.type == ConfChangeType.REMOVE_NODE:
        if node not in voters and node not in learners:
            raise InvalidConfChange(f"{node} is not a member")
        if voters == (node,):
            raise InvalidConfChange(f"{node} is the last voter")


def apply_to_tracker(tracker: ProgressTracker, change: ConfChange, next_index: int) -> None:
    """Apply a committed change; new members' progress starts at ``next_index``.

    Every server applies the same changes in log order, so a change that no longer makes sense (the
    leader checked it against an older membership) is skipped the same way everywhere.
    """
    node = change.node_id
    if change.type == ConfChangeType.ADD_VOTER:
        tracker.add_voter(node, next_index)
    elif change.type == ConfChangeType.ADD_LEARNER and node not in tracker.voters:
        tracker.add_learner(node, next_index)
    elif change.type == ConfChangeType.PROMOTE_LEARNER and node in tracker.learners:
        tracker.add_voter(node, next_index)
    elif change.type == ConfChangeType.REMOVE_NODE and tracker.voters != (node,):
        tracker.remove(node)
