"""What Raft nodes say to each other, and the membership-change command, as msgspec structs.

Every message is one ``Message`` struct (array-like, so the msgpack form is a short array) with a
``MessageType``; fields unused by a type keep their defaults, which cost one byte each on the wire
(nothing at all at the end of the array).
Field meaning per type:

=================  ====================================  =========================================
type               ``index`` / ``log_term``              other fields
=================  ====================================  =========================================
VOTE, PRE_VOTE     candidate's last log index / term     ``context`` = CAMPAIGN_TRANSFER when forced
*_VOTE_RESP        --                                    ``reject``
APPEND             index / term of the entry before      ``entries``, ``commit``
                   ``entries`` (prevLogIndex/Term)
APPEND_RESP        accepted: last index now matching;    rejected: ``log_term`` = follower's term at
                   rejected: the probed prevLogIndex     ``index`` (0: log too short), ``reject_hint``
                                                         = first index of that term (or last + 1)
HEARTBEAT          the leader's tick count (a stamp)     ``commit``, ``context`` (ReadIndex round)
HEARTBEAT_RESP     the stamp, echoed                     ``context`` echoed
SNAPSHOT           --                                    ``snapshot``
READ_INDEX(_RESP)  resp: the read index                  ``context`` = the caller's request id
=================  ====================================  =========================================
"""

from __future__ import annotations

import enum

import msgspec

from cluster.raft.types import Entry, EntryType, SnapshotMeta

__all__ = [
    "CAMPAIGN_TRANSFER",
    "NONE",
    "ConfChange",
    "ConfChangeType",
    "Message",
    "MessageType",
    "Snapshot",
    "conf_change_of",
    "decode_conf_change",
    "decode_message",
    "encode_conf_change",
    "encode_message",
]

NONE = ""
"""The node id meaning "nobody": no leader known, no vote cast."""

CAMPAIGN_TRANSFER = b"transfer"
"""``context`` of a VOTE sent because of TimeoutNow: voters grant it even while they hear a leader."""


class MessageType(enum.IntEnum):
    VOTE = 1
    VOTE_RESP = 2
    PRE_VOTE = 3
    PRE_VOTE_RESP = 4
    APPEND = 5
    APPEND_RESP = 6
    HEARTBEAT = 7
    HEARTBEAT_RESP = 8
    SNAPSHOT = 9
    TIMEOUT_NOW = 10
    READ_INDEX = 11
    READ_INDEX_RESP = 12


class Snapshot(msgspec.Struct, array_like=True, frozen=True):
    """A state-machine image covering the log up to ``meta.index``; ``data`` is opaque to Raft."""

    meta: SnapshotMeta = SnapshotMeta()
    data: bytes = b""


class Message(msgspec.Struct, array_like=True, frozen=True, omit_defaults=True):
    """One Raft message; see the module docstring for what each field means per type."""

    type: MessageType
    to: str
    sender: str
    term: int
    log_term: int = 0
    index: int = 0
    entries: tuple[Entry, ...] = ()
    commit: int = 0
    reject: bool = False
    reject_hint: int = 0
    snapshot: Snapshot | None = None
    context: bytes = b""


class ConfChangeType(enum.IntEnum):
    ADD_VOTER = 0  # a new voter, or a learner promoted in one step
    ADD_LEARNER = 1  # a non-voting member that receives the log
    PROMOTE_LEARNER = 2  # an existing learner becomes a voter
    REMOVE_NODE = 3  # a voter or learner leaves


class ConfChange(msgspec.Struct, array_like=True, frozen=True):
    """One single-server membership change, carried as the data of a CONF_CHANGE log entry."""

    type: ConfChangeType
    node_id: str
    context: bytes = b""


_message_encoder = msgspec.msgpack.Encoder()
_message_decoder = msgspec.msgpack.Decoder(Message)
_conf_change_decoder = msgspec.msgpack.Decoder(ConfChange)


def encode_message(msg: Message) -> bytes:
    return _message_encoder.encode(msg)


def decode_message(data: bytes) -> Message:
    """Decode a wire message; raises ``msgspec.ValidationError``/``DecodeError`` on a malformed frame."""
    return _message_decoder.decode(data)


def encode_conf_change(change: ConfChange) -> bytes:
    return _message_encoder.encode(change)


def decode_conf_change(data: bytes) -> ConfChange:
    return _conf_change_decoder.decode(data)


def conf_change_of(entry: Entry) -> ConfChange:
    """The membership change a CONF_CHANGE entry carries."""
    assert entry.type == EntryType.CONF_CHANGE, "not a membership change entry"
    return _conf_change_decoder.decode(entry.data)
