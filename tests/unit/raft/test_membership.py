"""Membership changes one server at a time (dissertation chapter 4): learners, promotion, removal."""

from __future__ import annotations

from typing import Any

import pytest

from cluster.raft import (
    ConfChange,
    ConfChangePending,
    ConfChangeType,
    InvalidConfChange,
    MemoryStorage,
    MessageType,
    NotLeader,
    Role,
)
from tests.unit.raft.harness import Net

VOTERS3 = ("n1", "n2", "n3")


def change(kind: ConfChangeType, node_id: str) -> ConfChange:
    return ConfChange(kind, node_id)


def grown_net(*, spare: str = "n4", **config: Any) -> Net:
    """Three voters and one fresh server (empty storage, no membership) that may join."""
    net = Net((*VOTERS3, spare), voters=VOTERS3, **config)
    net.elect("n1")
    return net


def apply_change(net: Net, cc: ConfChange) -> None:
    net.node(net.leader()).propose_conf_change(cc)
    net.stabilize()


def test_a_learner_receives_the_log_but_neither_votes_nor_counts() -> None:
    """§4.2.1: new servers join "as non-voting members (the leader replicates log entries to them, but
    they are not considered for majorities)". The learner catches up, yet with one voter down the
    other two still commit, and the learner never campaigns however long it waits."""
    net = grown_net()
    apply_change(net, change(ConfChangeType.ADD_LEARNER, "n4"))
    assert net.members["n1"].conf.learners == ("n4",)
    net.node("n1").propose(b"x")
    net.stabilize()
    assert net.data_applied("n4") == [b"x"], "the learner caught up (through the bootstrap snapshot)"
    net.down.add("n2")
    net.node("n1").propose(b"y")
    net.stabilize()
    assert net.node("n1").raft.log.committed == net.node("n1").raft.log.last_index()
    net.isolate("n4")
    net.tick("n4", 100)
    assert net.node("n4").role == Role.FOLLOWER


def test_a_promoted_learner_counts_toward_the_quorum() -> None:
    net = grown_net()
    apply_change(net, change(ConfChangeType.ADD_LEARNER, "n4"))
    apply_change(net, change(ConfChangeType.PROMOTE_LEARNER, "n4"))
    assert net.members["n1"].conf.voters == ("n1", "n2", "n3", "n4")
    assert net.members["n4"].conf.voters == ("n1", "n2", "n3", "n4")
    # Four voters: a quorum is three. With n2 and n3 down, n1 and n4 cannot commit.
    net.down |= {"n2", "n3"}
    net.node("n1").propose(b"x")
    net.stabilize()
    log = net.node("n1").raft.log
    assert log.committed < log.last_index()
    net.down.clear()
    net.tick_all(1)
    assert log.committed == log.last_index()


def test_a_voter_can_be_added_in_one_step_and_then_campaign() -> None:
    net = grown_net(check_quorum=False)  # the others would ignore n4 while they still hear n1
    apply_change(net, change(ConfChangeType.ADD_VOTER, "n4"))
    net.down.add("n1")
    net.elect("n4")
    assert net.node("n4").term == 3


def test_removing_a_follower_shrinks_the_quorum() -> None:
    """§4.1: with n3 removed, n1 and n2 form the whole cluster, and n2 alone is a majority with n1."""
    net = Net(("n1", "n2", "n3", "n4"))
    net.elect("n1")
    apply_change(net, change(ConfChangeType.REMOVE_NODE, "n4"))
    apply_change(net, change(ConfChangeType.REMOVE_NODE, "n3"))
    net.down |= {"n3", "n4"}
    net.node("n1").propose(b"x")
    net.stabilize()
    assert net.data_applied("n2")[-1:] == [b"x"]


def test_a_removed_leader_steps_down_once_its_removal_is_committed() -> None:
    """§4.2.2: "the leader steps down (returns to follower state) once the Cnew entry is committed."
    The others then elect a leader among themselves; the old leader never campaigns again."""
    net = Net(VOTERS3)
    net.elect("n1")
    apply_change(net, change(ConfChangeType.REMOVE_NODE, "n1"))
    assert net.node("n1").role == Role.FOLLOWER
    assert net.members["n2"].conf.voters == ("n2", "n3")
    net.tick_all(40)
    assert net.leader() in ("n2", "n3")
    net.node(net.leader()).propose(b"after")
    net.stabilize()
    assert net.data_applied("n2")[-1] == b"after"
    assert not net.node("n1").raft.promotable()


def test_a_second_change_waits_until_the_first_is_applied() -> None:
    """§4.1: "the leader [...] does not begin a new configuration change until the previous one has
    committed" (here: until the leader has applied it)."""
    net = grown_net()
    leader = net.node("n1")
    leader.propose_conf_change(change(ConfChangeType.ADD_LEARNER, "n4"))
    with pytest.raises(ConfChangePending):
        leader.propose_conf_change(change(ConfChangeType.PROMOTE_LEARNER, "n4"))
    net.stabilize()
    leader.propose_conf_change(change(ConfChangeType.PROMOTE_LEARNER, "n4"))


def test_a_new_leader_proposes_changes_only_after_its_first_entry_is_applied() -> None:
    """A new leader may hold changes of earlier terms that are not committed; the dissertation's errata
    for single-server changes: a leader must commit an entry of its own term before it changes the
    membership. Its no-op does that, so changes wait until the no-op is applied."""
    net = Net(VOTERS3)
    net.drop_if = lambda m: m.type == MessageType.APPEND  # the no-op goes nowhere
    net.elect("n1")
    with pytest.raises(ConfChangePending):
        net.node("n1").propose_conf_change(change(ConfChangeType.REMOVE_NODE, "n3"))
    net.heal()
    net.tick_all(1)
    net.node("n1").propose_conf_change(change(ConfChangeType.REMOVE_NODE, "n3"))


@pytest.mark.parametrize(
    ("kind", "node_id"),
    [
        (ConfChangeType.ADD_VOTER, "n2"),
        (ConfChangeType.ADD_LEARNER, "n2"),
        (ConfChangeType.PROMOTE_LEARNER, "n4"),
        (ConfChangeType.REMOVE_NODE, "n9"),
        (ConfChangeType.ADD_VOTER, ""),
    ],
)
def test_changes_that_contradict_the_membership_are_refused(kind: ConfChangeType, node_id: str) -> None:
    net = grown_net()
    with pytest.raises(InvalidConfChange):
        net.node("n1").propose_conf_change(change(kind, node_id))


def test_the_last_voter_cannot_be_removed() -> None:
    net = Net(("n1",))
    net.elect("n1")
    with pytest.raises(InvalidConfChange):
        net.node("n1").propose_conf_change(change(ConfChangeType.REMOVE_NODE, "n1"))


def test_only_the_leader_takes_membership_changes() -> None:
    net = grown_net()
    with pytest.raises(NotLeader) as info:
        net.node("n2").propose_conf_change(change(ConfChangeType.ADD_LEARNER, "n4"))
    assert info.value.leader_id == "n1"


def test_a_server_added_after_compaction_catches_up_from_a_snapshot() -> None:
    """§7: "the leader must occasionally send snapshots to followers that lag behind", and a brand new
    server is the extreme case. Its membership arrives with the snapshot."""
    net = grown_net()
    for i in range(5):
        net.node("n1").propose(b"%d" % i)
    net.stabilize()
    leader = net.members["n1"]
    leader.node.compact(b"image-at-applied")
    assert leader.storage.first_index() > 2
    net.take()
    apply_change(net, change(ConfChangeType.ADD_LEARNER, "n4"))
    assert any(line.startswith("n1->n4 SNAPSHOT") for line in net.transcript)
    newcomer = net.members["n4"]
    assert newcomer.storage.snapshot().data == b"image-at-applied"
    assert newcomer.conf.learners == ("n4",)
    assert newcomer.node.raft.log.last_index() == leader.node.raft.log.last_index()
    assert isinstance(newcomer.storage, MemoryStorage)
