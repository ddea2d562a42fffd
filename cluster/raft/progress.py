"""What the leader knows of each follower: ``Progress`` (match/next and the flow-control state).

A follower's progress is in one of three states:

* PROBE: the leader does not know where the logs diverge. It sends one AppendEntries at a time and
  waits for the answer (or the next heartbeat answer) before sending another.
* REPLICATE: the logs match up to ``match``. The leader streams entries optimistically, advancing
  ``next`` as it sends, with at most ``Inflights.capacity`` messages unacknowledged (bounded pipelining).
* SNAPSHOT: the follower needs entries the leader has compacted; a snapshot is on its way and the
  leader sends nothing else until the follower acknowledges it (or the attempt times out).
"""

from __future__ import annotations

import collections
import enum

__all__ = ["Inflights", "Progress", "ProgressState"]


class ProgressState(enum.IntEnum):
    PROBE = 0
    REPLICATE = 1
    SNAPSHOT = 2


class Inflights:
    """Last indexes of the AppendEntries messages in flight to one follower, oldest first, bounded."""

    __slots__ = ("_last_indexes", "capacity")

    def __init__(self, capacity: int) -> None:
        assert capacity > 0, "at least one message must be allowed in flight"
        self.capacity = capacity
        self._last_indexes: collections.deque[int] = collections.deque()

    def __len__(self) -> int:
        return len(self._last_indexes)

    def full(self) -> bool:
        return len(self._last_indexes) >= self.capacity

    def add(self, last_index: int) -> None:
        assert not self.full(), "sending past the in-flight limit"
        self._last_indexes.append(last_index)

    def free_le(self, index: int) -> None:
        """The follower acknowledged everything through ``index``: those messages are no longer in flight."""
        queue = self._last_indexes
        while queue and queue[0] <= index:
            queue.popleft()

    def free_first_one(self) -> None:
        """Forget the oldest message, so a window whose messages were all lost opens again."""
        if self._last_indexes:
            self._last_indexes.popleft()

    def reset(self) -> None:
        self._last_indexes.clear()


class Progress:
    """The leader's view of one follower's log (or of its own, for the leader's entry)."""

    __slots__ = (
        "inflights",
        "is_learner",
        "lease_stamp",
        "match",
        "next",
        "pending_snapshot",
        "probe_sent",
        "recent_active",
        "sent_commit",
        "snapshot_elapsed",
        "state",
    )

    def __init__(self, next_index: int, max_inflight: int, *, is_learner: bool = False) -> None:
        self.match = 0
        self.next = next_index
        self.state = ProgressState.PROBE
        self.probe_sent = False  # PROBE: an append is out; wait for its answer or a heartbeat answer
        self.pending_snapshot = 0  # SNAPSHOT: index of the snapshot sent
        self.snapshot_elapsed = 0  # SNAPSHOT: leader ticks since it was sent
        self.recent_active = False  # heard from it since the last check-quorum round
        self.sent_commit = 0  # highest commit index sent to it (to skip empty appends that tell nothing)
        self.lease_stamp = -1  # leader tick of the newest heartbeat it acknowledged (this term)
        self.inflights = Inflights(max_inflight)
        self.is_learner = is_learner

    def __repr__(self) -> str:
        return f"Progress({self.state.name} match={self.match} next={self.next})"

    def _reset_state(self, state: ProgressState) -> None:
        self.state = state
        self.probe_sent = False
        self.pending_snapshot = 0
        self.snapshot_elapsed = 0
        self.inflights.reset()

    def reset(self, next_index: int, match: int = 0) -> None:
        """Forget everything known of this follower (a new term): probe from ``next_index``."""
        self._reset_state(ProgressState.PROBE)
        self.match = match
        self.next = next_index
        self.recent_active = False
        self.sent_commit = 0
        self.lease_stamp = -1

    def become_probe(self) -> None:
        """Start probing after ``match``; after a snapshot, right after the snapshot's index."""
        if self.state == ProgressState.SNAPSHOT:
            pending = self.pending_snapshot
            self._reset_state(ProgressState.PROBE)
            self.next = max(self.match + 1, pending + 1)
        else:
            self._reset_state(ProgressState.PROBE)
            self.next = self.match + 1

    def become_replicate(self) -> None:
        self._reset_state(ProgressState.REPLICATE)
        self.next = self.match + 1

    def become_snapshot(self, snapshot_index: int) -> None:
        self._reset_state(ProgressState.SNAPSHOT)
        self.pending_snapshot = snapshot_index

    def maybe_update(self, index: int) -> bool:
        """The follower holds our log through ``index``; False if that is old news."""
        updated = False
        if self.match < index:
            self.match = index
            updated = True
            self.probe_sent = False
        self.next = max(self.next, index + 1)
        return updated

    def sent_entries(self, last_index: int) -> None:
        """Bookkeeping after an AppendEntries carrying entries through ``last_index`` left."""
        if self.state == ProgressState.REPLICATE:
            self.next = last_index + 1
            self.inflights.add(last_index)
        else:
            self.probe_sent = True

    def maybe_decrease_to(self, rejected: int, next_hint: int) -> bool:
        """The follower rejected the append after ``rejected``; move ``next`` back. False if stale.

        In REPLICATE the follower had everything through ``match``, so we resume right after it.
        In PROBE only the answer to the probe we sent (``next - 1``) counts; ``next_hint`` is where
        the follower's hint says the logs may agree, never below ``match + 1``.
        """
        if self.state == ProgressState.REPLICATE:
            if rejected <= self.match:
                return False
            self.next = self.match + 1
            return True
        if self.next - 1 != rejected:
            return False
        self.next = max(min(rejected, next_hint), self.match + 1)
        self.probe_sent = False
        return True

    def is_paused(self) -> bool:
        """Whether the leader must hold back appends to this follower for now."""
        if self.state == ProgressState.PROBE:
            return self.probe_sent
        if self.state == ProgressState.REPLICATE:
            return self.inflights.full()
        return True
