"""The building blocks: MemoryStorage, RaftLog, Progress/Inflights, ReadOnly, and the wire format."""

from __future__ import annotations

import msgspec
import pytest

from cluster.raft import (
    ConfChange,
    ConfChangeType,
    ConfState,
    Entry,
    EntryType,
    LogCompacted,
    MemoryStorage,
    Message,
    MessageType,
    Snapshot,
    SnapshotMeta,
    decode_conf_change,
    decode_message,
    encode_conf_change,
    encode_message,
)
from cluster.raft.log import RaftLog
from cluster.raft.progress import Inflights, Progress, ProgressState
from cluster.raft.readonly import ReadOnly
from tests.unit.raft.harness import log_storage

VOTERS = ("n1", "n2", "n3")


def entries(*terms: int, start: int = 1) -> list[Entry]:
    return [Entry(t, start + i) for i, t in enumerate(terms)]


# ---- MemoryStorage ------------------------------------------------------------------------------


def test_storage_append_replaces_a_conflicting_suffix() -> None:
    storage = log_storage(VOTERS, [1, 1, 1, 1])
    storage.append(entries(2, 2, start=3))
    assert [storage.term(i) for i in range(1, 5)] == [1, 1, 2, 2]
    assert storage.last_index() == 4


def test_storage_compaction_keeps_the_term_of_the_last_compacted_entry() -> None:
    storage = log_storage(VOTERS, [1, 1, 2, 2, 3])
    storage.create_snapshot(4, ConfState(voters=VOTERS), b"img")
    storage.compact(3)
    assert (storage.first_index(), storage.last_index()) == (4, 5)
    assert storage.term(3) == 2
    with pytest.raises(LogCompacted):
        storage.term(2)
    with pytest.raises(LogCompacted):
        storage.entries(3, 5)
    assert [e.index for e in storage.entries(4, 6)] == [4, 5]


def test_storage_never_compacts_past_its_snapshot() -> None:
    storage = log_storage(VOTERS, [1, 1, 2])
    with pytest.raises(AssertionError):
        storage.compact(2)


def test_storage_apply_snapshot_replaces_the_log() -> None:
    storage = log_storage(VOTERS, [1, 1, 2])
    snap = Snapshot(meta=SnapshotMeta(index=10, term=4, conf=ConfState(voters=("n1",))), data=b"s")
    storage.apply_snapshot(snap)
    assert (storage.first_index(), storage.last_index(), storage.term(10)) == (11, 10, 4)
    assert storage.initial_state()[1] == ConfState(voters=("n1",))


def test_bootstrap_storage_starts_from_the_founding_membership() -> None:
    storage = MemoryStorage.bootstrap(VOTERS, learners=("n4",))
    hard_state, conf = storage.initial_state()
    assert (hard_state.term, hard_state.commit) == (1, 1)
    assert conf == ConfState(voters=VOTERS, learners=("n4",))
    assert (storage.first_index(), storage.last_index()) == (2, 1)


# ---- RaftLog ------------------------------------------------------------------------------------


def test_log_reads_across_storage_and_the_unstable_tail() -> None:
    log = RaftLog(log_storage(VOTERS, [1, 1, 2]), max_committed_per_ready=100)
    log.append(entries(3, 3, start=4))
    assert [e.term for e in log.slice(2, 6)] == [1, 2, 3, 3]
    assert (log.last_index(), log.last_term()) == (5, 3)
    assert log.term(6) is None


def test_log_append_reaching_into_storage_replaces_from_there() -> None:
    log = RaftLog(log_storage(VOTERS, [1, 1, 2, 2]), max_committed_per_ready=100)
    log.append(entries(3, start=3))
    assert [log.term(i) for i in range(1, 4)] == [1, 1, 3]
    assert log.last_index() == 3
    assert log.unstable_offset == 3


def test_maybe_append_keeps_matching_entries_and_truncates_at_the_first_conflict() -> None:
    log = RaftLog(log_storage(VOTERS, [1, 1, 2, 2, 2]), max_committed_per_ready=100)
    assert log.maybe_append(1, 1, committed=3, entries=tuple(entries(1, 2, 3, start=2))) == 4
    assert [log.term(i) for i in range(1, 6)] == [1, 1, 2, 3, None]
    assert log.committed == 3
    assert log.maybe_append(4, 9, committed=4, entries=()) is None, "no entry (4, 9): rejected"


def test_a_stale_duplicate_append_does_not_truncate_newer_entries() -> None:
    """A delayed copy of an old AppendEntries must not cut off entries that came after it."""
    log = RaftLog(log_storage(VOTERS, [1, 1, 2, 2, 2]), max_committed_per_ready=100)
    assert log.maybe_append(1, 1, committed=0, entries=tuple(entries(1, 2, start=2))) == 3
    assert log.last_index() == 5


def test_the_conflict_hint_names_the_term_and_its_first_uncommitted_index() -> None:
    log = RaftLog(log_storage(VOTERS, [1, 1, 3, 3, 3, 3]), max_committed_per_ready=100)
    assert log.conflict_hint(6) == (3, 3)
    assert log.conflict_hint(9) == (0, 7)
    log.commit_to(4)
    assert log.conflict_hint(6) == (3, 5), "committed entries match the leader's: the scan stops"


def test_last_index_of_term_finds_where_the_leader_agrees() -> None:
    log = RaftLog(log_storage(VOTERS, [1, 1, 4, 4, 5, 5]), max_committed_per_ready=100)
    assert log.last_index_of_term(6, 4) == 4
    assert log.last_index_of_term(6, 2) is None
    assert log.last_index_of_term(6, 5) == 6


def test_only_entries_of_the_current_term_commit_by_counting() -> None:
    log = RaftLog(log_storage(VOTERS, [1, 2, 2]), max_committed_per_ready=100)
    assert not log.maybe_commit(3, term=3)
    assert log.maybe_commit(3, term=2)
    assert log.committed == 3


def test_committed_entries_are_handed_out_in_bounded_batches() -> None:
    log = RaftLog(log_storage(VOTERS, [1] * 10), max_committed_per_ready=4)
    log.commit_to(10)
    first = log.next_committed_entries()
    assert [e.index for e in first] == [1, 2, 3, 4]
    log.applied_to(4)
    assert [e.index for e in log.next_committed_entries()] == [5, 6, 7, 8]


def test_stable_to_ignores_an_acknowledgement_for_entries_since_replaced() -> None:
    log = RaftLog(log_storage(VOTERS, [1]), max_committed_per_ready=100)
    log.append(entries(2, 2, start=2))
    log.append(entries(3, start=3))  # a new leader replaced index 3 before the runtime persisted it
    log.stable_to(3, 2)
    assert [e.term for e in log.unstable] == [2, 3]
    log.stable_to(3, 3)
    assert log.unstable == []


def test_restore_replaces_the_log_by_a_snapshot() -> None:
    log = RaftLog(log_storage(VOTERS, [1, 1]), max_committed_per_ready=100)
    snap = Snapshot(meta=SnapshotMeta(index=20, term=5, conf=ConfState(voters=VOTERS)))
    log.restore(snap)
    assert (log.first_index(), log.last_index(), log.last_term(), log.committed) == (21, 20, 5, 20)
    assert log.snapshot() is snap
    assert not log.has_next_committed_entries()


# ---- Progress and Inflights ---------------------------------------------------------------------


def test_inflights_are_bounded_and_freed_by_acknowledgements() -> None:
    window = Inflights(3)
    for last in (5, 10, 15):
        window.add(last)
    assert window.full()
    window.free_le(10)
    assert len(window) == 1
    window.free_first_one()
    assert len(window) == 0


def test_progress_moves_between_probe_replicate_and_snapshot() -> None:
    pr = Progress(next_index=11, max_inflight=2)
    assert pr.state == ProgressState.PROBE and not pr.is_paused()
    pr.sent_entries(12)
    assert pr.is_paused(), "one probe at a time"
    assert pr.maybe_update(12)
    pr.become_replicate()
    pr.sent_entries(14)
    pr.sent_entries(16)
    assert (pr.next, pr.is_paused()) == (17, True)
    assert pr.maybe_decrease_to(14, next_hint=3), "a rejection in replicate falls back to match + 1"
    assert pr.next == 13
    pr.become_snapshot(50)
    assert pr.is_paused()
    pr.maybe_update(50)
    pr.become_probe()
    assert pr.next == 51


def test_a_stale_rejection_is_ignored() -> None:
    pr = Progress(next_index=11, max_inflight=2)
    assert not pr.maybe_decrease_to(5, next_hint=3), "not the probe we sent (at 10)"
    assert pr.maybe_decrease_to(10, next_hint=4)
    assert pr.next == 4


# ---- ReadOnly -----------------------------------------------------------------------------------


def test_read_only_releases_every_request_up_to_the_acknowledged_one() -> None:
    reads = ReadOnly(max_pending=10)
    for i, ctx in enumerate((b"a", b"b", b"c")):
        assert reads.add("n1", ctx, index=10 + i)
    assert not reads.add("n1", b"b", index=99), "duplicate context"
    assert reads.last_context() == b"c"
    reads.ack("n2", b"b")
    released = reads.release_through(b"b")
    assert [(r.context, r.index) for r in released] == [(b"a", 10), (b"b", 11)]
    assert len(reads) == 1


# ---- the wire format ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(MessageType))
def test_every_message_type_survives_the_wire(kind: MessageType) -> None:
    msg = Message(
        type=kind, to="n2", sender="n1", term=7, log_term=6, index=41,
        entries=(Entry(7, 42, EntryType.NORMAL, b"\x00cmd"), Entry(7, 43, EntryType.NOOP)),
        commit=40, reject=True, reject_hint=12,
        snapshot=Snapshot(meta=SnapshotMeta(3, 2, ConfState(voters=VOTERS, learners=("n4",))), data=b"img"),
        context=b"ctx",
    )
    wire = encode_message(msg)
    assert decode_message(wire) == msg
    assert isinstance(msgspec.msgpack.decode(wire), list), "array-like: no field names on the wire"


def test_a_minimal_heartbeat_is_small_on_the_wire() -> None:
    wire = encode_message(Message(type=MessageType.HEARTBEAT, to="n2", sender="n1", term=3, commit=9))
    assert len(wire) < 24


def test_a_malformed_frame_raises_a_decode_error() -> None:
    with pytest.raises(msgspec.DecodeError):
        decode_message(b"\x93\x01")


def test_conf_changes_round_trip() -> None:
    change = ConfChange(ConfChangeType.PROMOTE_LEARNER, "n4", b"why")
    assert decode_conf_change(encode_conf_change(change)) == change
