"""Raft's durable data types, shared by the pure core (``cluster.raft``) and the write-ahead log
(``agents.server.wal``). Plain msgspec structs: cheap to build, encode and compare.
"""

from __future__ import annotations

import enum

import msgspec

__all__ = ["ConfState", "Entry", "EntryType", "HardState", "SnapshotMeta"]


class EntryType(enum.IntEnum):
    NORMAL = 0  # an FSM command (opaque bytes)
    NOOP = 1  # appended by each new leader at the start of its term
    CONF_CHANGE = 2  # a membership change; data is an encoded ConfChange


class Entry(msgspec.Struct, array_like=True, frozen=True):
    """One log entry. ``index`` starts at 1; ``term`` is the leader's term when it was appended."""

    term: int
    index: int
    type: EntryType = EntryType.NORMAL
    data: bytes = b""


class HardState(msgspec.Struct, array_like=True, frozen=True):
    """What a node must persist before it answers a message: its term, its vote, its commit index."""

    term: int = 0
    vote: str = ""  # node id voted for in ``term``; "" means none
    commit: int = 0


class ConfState(msgspec.Struct, array_like=True, frozen=True):
    """The membership a log prefix or snapshot implies: voters and non-voting learners, by node id."""

    voters: tuple[str, ...] = ()
    learners: tuple[str, ...] = ()


class SnapshotMeta(msgspec.Struct, array_like=True, frozen=True):
    """Describes a snapshot: the last index and term it covers and the membership at that point."""

    index: int = 0
    term: int = 0
    conf: ConfState = ConfState()
