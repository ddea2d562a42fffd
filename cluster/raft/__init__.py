"""Raft consensus as a pure state machine, after the Raft paper (extended version), Ongaro's
dissertation, and the shape of etcd-io/raft: messages, ticks and proposals go in; ``Ready`` batches
(messages to send, entries and hard state to persist, entries to apply, confirmed reads) come out.

No I/O, no clock, no global random: time is ``RawNode.tick()``, randomness an injected
``random.Random``. The runtime in ``agents/server`` persists, sends, applies and calls ``advance``.

Modules: ``types`` (durable structs), ``messages`` (wire structs), ``storage``, ``log``, ``progress``,
``tracker``, ``readonly``, ``raft`` (shared transitions), ``roles`` (per-role step functions),
``rawnode`` (the API), ``errors``.
"""

from cluster.raft.config import Config
from cluster.raft.errors import (
    ConfChangePending,
    InvalidConfChange,
    LogCompacted,
    NotLeader,
    ProposalDropped,
    SnapshotTemporarilyUnavailable,
)
from cluster.raft.messages import (
    NONE,
    ConfChange,
    ConfChangeType,
    Message,
    MessageType,
    Snapshot,
    conf_change_of,
    decode_conf_change,
    decode_message,
    encode_conf_change,
    encode_message,
)
from cluster.raft.progress import ProgressState
from cluster.raft.rawnode import RawNode, Ready
from cluster.raft.status import FollowerStatus, ReadState, Role, SoftState, Status
from cluster.raft.storage import MemoryStorage, Storage, bootstrap_snapshot
from cluster.raft.types import ConfState, Entry, EntryType, HardState, SnapshotMeta

__all__ = [
    "NONE",
    "ConfChange",
    "ConfChangePending",
    "ConfChangeType",
    "ConfState",
    "Config",
    "Entry",
    "EntryType",
    "FollowerStatus",
    "HardState",
    "InvalidConfChange",
    "LogCompacted",
    "MemoryStorage",
    "Message",
    "MessageType",
    "NotLeader",
    "ProgressState",
    "ProposalDropped",
    "RawNode",
    "ReadState",
    "Ready",
    "Role",
    "Snapshot",
    "SnapshotMeta",
    "SnapshotTemporarilyUnavailable",
    "SoftState",
    "Status",
    "Storage",
    "bootstrap_snapshot",
    "conf_change_of",
    "decode_conf_change",
    "decode_message",
    "encode_conf_change",
    "encode_message",
]
