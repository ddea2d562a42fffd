"""Log compaction and InstallSnapshot (§7)."""

from __future__ import annotations

from cluster.raft import Message, MessageType, ProgressState, Snapshot, SnapshotMeta
from cluster.raft.types import ConfState
from tests.unit.raft.harness import Net, log_storage

VOTERS3 = ("n1", "n2", "n3")


def leader_with_compacted_log(net: Net, commands: int = 6, *, keep_entries: int = 0) -> None:
    net.elect("n1")
    for i in range(commands):
        net.node("n1").propose(b"cmd%d" % i)
        net.stabilize()
    net.node("n1").compact(b"state-after-%d" % commands, keep_entries=keep_entries)


def test_compact_records_a_snapshot_at_the_applied_index_with_the_membership() -> None:
    """§7: "Each server takes snapshots independently, covering just the committed entries in its log"
    and keeps "the last included index [...] the last included term [...] the latest configuration"."""
    net = Net(VOTERS3)
    leader_with_compacted_log(net)
    storage = net.members["n1"].storage
    applied = net.node("n1").raft.log.applied
    meta = storage.snapshot().meta
    assert (meta.index, meta.term, meta.conf) == (applied, 2, ConfState(voters=VOTERS3))
    assert storage.first_index() == applied + 1


def test_compact_may_keep_some_entries_for_slow_followers() -> None:
    net = Net(VOTERS3)
    leader_with_compacted_log(net, keep_entries=3)
    storage = net.members["n1"].storage
    assert storage.first_index() == storage.snapshot().meta.index - 3 + 1


def test_a_follower_behind_the_first_index_catches_up_from_a_snapshot() -> None:
    """§7: "the leader must occasionally send snapshots to followers that lag behind. This happens when
    the leader has already discarded the next log entry that it needs to send to a follower." The
    follower then discards its log, takes the snapshot's state and receives the entries after it."""
    net = Net(VOTERS3)
    net.elect("n1")
    net.down.add("n3")
    for i in range(6):
        net.node("n1").propose(b"cmd%d" % i)
        net.stabilize()
    net.node("n1").compact(b"image")
    net.node("n1").propose(b"after")
    net.stabilize()
    net.down.clear()
    net.take()
    net.tick_all(1)
    follower = net.members["n3"]
    assert [line for line in net.transcript if "SNAPSHOT" in line] == ["n1->n3 SNAPSHOT t2 snap=8/2"]
    assert follower.storage.snapshot().data == b"image"
    assert follower.node.raft.log.last_index() == net.node("n1").raft.log.last_index()
    assert net.data_applied("n3")[-1:] == [b"after"], "entries after the snapshot follow it"
    assert net.node("n1").status().progress["n3"].state == ProgressState.REPLICATE


def test_a_snapshot_the_follower_already_covers_only_moves_its_commit_index() -> None:
    """Figure 13: "If existing log entry has same index and term as snapshot's last included entry,
    retain log entries following it and reply." """
    net = Net(VOTERS3, storages={"n2": log_storage(VOTERS3, [1, 1, 1, 1])})
    n2 = net.node("n2")
    snap = Snapshot(meta=SnapshotMeta(index=3, term=1, conf=ConfState(voters=VOTERS3)))
    n2.step(Message(type=MessageType.SNAPSHOT, to="n2", sender="n1", term=1, snapshot=snap))
    assert n2.raft.log.unstable_snapshot is None
    assert (n2.raft.log.committed, n2.raft.log.last_index()) == (3, 4)
    assert [(m.type, m.index) for m in n2.ready().messages] == [(MessageType.APPEND_RESP, 3)]


def test_a_snapshot_older_than_the_commit_index_is_ignored() -> None:
    net = Net(VOTERS3)
    leader_with_compacted_log(net)
    n2 = net.node("n2")
    old = Snapshot(meta=SnapshotMeta(index=2, term=2, conf=ConfState(voters=VOTERS3)))
    n2.step(Message(type=MessageType.SNAPSHOT, to="n2", sender="n1", term=2, snapshot=old))
    answer = n2.ready().messages
    assert [(m.type, m.index) for m in answer] == [(MessageType.APPEND_RESP, n2.raft.log.committed)]
    assert n2.raft.log.unstable_snapshot is None


def test_a_lost_snapshot_is_sent_again_after_an_election_timeout() -> None:
    """The leader waits for a snapshot's answer; if it never comes it tries again, so a lost message
    cannot stall a follower forever."""
    net = Net(VOTERS3)
    net.elect("n1")
    net.down.add("n3")
    for i in range(4):
        net.node("n1").propose(b"cmd%d" % i)
        net.stabilize()
    net.node("n1").compact(b"image")
    net.down.clear()
    net.drop_if = lambda m: m.type == MessageType.SNAPSHOT
    net.take()
    net.tick_all(5)
    assert net.node("n1").status().progress["n3"].state == ProgressState.SNAPSHOT
    assert sum("SNAPSHOT" in line for line in net.transcript) == 1, "no resend while it may be on its way"
    net.drop_if = None
    net.tick_all(12)
    assert sum("SNAPSHOT" in line for line in net.transcript) == 2
    assert net.members["n3"].storage.snapshot().data == b"image"


def test_the_runtime_can_report_a_failed_snapshot_send() -> None:
    net = Net(VOTERS3)
    net.elect("n1")
    net.down.add("n3")
    for i in range(4):
        net.node("n1").propose(b"cmd%d" % i)
        net.stabilize()
    net.node("n1").compact(b"image")
    net.down.clear()
    net.drop_if = lambda m: m.type == MessageType.SNAPSHOT
    net.tick_all(1)
    net.node("n1").report_snapshot("n3", ok=False)
    assert net.node("n1").status().progress["n3"].state == ProgressState.PROBE
    net.drop_if = None
    net.tick_all(1)
    assert net.members["n3"].storage.snapshot().data == b"image"


def test_a_restarted_node_resumes_from_its_snapshot_and_replays_the_rest() -> None:
    """After a restart the application restores the snapshot; committed entries after it come back
    through Ready (``Config.applied`` says what the application already has)."""
    net = Net(VOTERS3)
    leader_with_compacted_log(net, commands=4)
    net.node("n1").propose(b"tail")
    net.stabilize()
    snapshot_index = net.members["n1"].storage.snapshot().meta.index
    restarted = net.restart("n1")
    assert restarted.raft.log.applied == snapshot_index
    rd = restarted.ready()
    assert [e.data for e in rd.committed_entries] == [b"tail"]
