"""Small read-only views of a node: its ``Role``, ``SoftState``, confirmed reads (``ReadState``), ``Status``."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from cluster.raft.progress import ProgressState
from cluster.raft.types import ConfState, HardState

__all__ = ["FollowerStatus", "ReadState", "Role", "SoftState", "Status"]


class Role(enum.IntEnum):
    FOLLOWER = 0
    PRE_CANDIDATE = 1
    CANDIDATE = 2
    LEADER = 3


@dataclass(frozen=True, slots=True)
class ReadState:
    """A confirmed ReadIndex: once the application has applied ``index``, reads for ``context`` are safe."""

    index: int
    context: bytes


@dataclass(frozen=True, slots=True)
class SoftState:
    """What a node believes now and need not persist: who leads, and its own role."""

    leader_id: str
    role: Role


@dataclass(frozen=True, slots=True)
class FollowerStatus:
    """The leader's view of one member's log."""

    match: int
    next: int
    state: ProgressState
    is_learner: bool
    recent_active: bool


@dataclass(frozen=True, slots=True)
class Status:
    """A snapshot of a node's state, for tests, the runtime's metrics and operator commands."""

    id: str
    hard_state: HardState
    soft_state: SoftState
    applied: int
    last_index: int
    conf: ConfState
    lead_transferee: str
    progress: dict[str, FollowerStatus] = field(default_factory=dict)  # filled on the leader only
