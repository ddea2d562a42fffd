"""Linearizable reads with ReadIndex, and with leases when enabled (dissertation §6.4)."""

from __future__ import annotations

import pytest

from cluster.raft import MessageType, NotLeader, ReadState, Role
from cluster.raft.readonly import lease_valid
from tests.unit.raft.harness import Net

VOTERS3 = ("n1", "n2", "n3")


def test_a_leader_read_is_confirmed_by_a_heartbeat_round() -> None:
    """§6.4: the leader "records its current commit index in a local variable readIndex", then "sends a
    new round of heartbeats, and waits for their acknowledgments from a majority of the cluster"."""
    net = Net(VOTERS3)
    net.elect("n1")
    net.node("n1").propose(b"x")
    net.stabilize()
    net.take()
    net.node("n1").read_index(b"r1")
    net.flush()
    assert net.members["n1"].read_states == [], "not before a quorum confirms the leadership"
    assert net.transcript == ["n1->n2 HEARTBEAT t2 c3 ctx=r1", "n1->n3 HEARTBEAT t2 c3 ctx=r1"]
    net.stabilize()
    assert net.members["n1"].read_states == [ReadState(3, b"r1")]


def test_a_deposed_leader_cannot_confirm_a_read() -> None:
    """The point of the heartbeat round: a leader cut off from the majority may already be replaced, and
    the new leader may have committed writes it does not know about. Its reads never complete."""
    net = Net(VOTERS3)
    net.elect("n1")
    net.isolate("n1")
    for _ in range(30):
        net.tick("n2")
        net.tick("n3")
        net.stabilize()
    new_leader = next(n for n in ("n2", "n3") if net.node(n).role == Role.LEADER)
    net.node(new_leader).propose(b"newer")
    net.stabilize()
    assert net.node("n1").role == Role.LEADER, "n1 has not noticed yet"
    net.node("n1").read_index(b"stale")
    net.stabilize()
    assert net.members["n1"].read_states == []
    net.heal()
    net.tick_all(2)
    assert net.node("n1").role == Role.FOLLOWER
    assert net.members["n1"].read_states == []


def test_a_follower_read_is_forwarded_to_the_leader() -> None:
    """Followers serve reads too: they ask the leader for its read index and wait until they applied
    it (§6.4: "Followers could also help offload the processing of read-only queries")."""
    net = Net(VOTERS3)
    net.elect("n1")
    net.node("n1").propose(b"x")
    net.stabilize()
    net.take()
    net.node("n3").read_index(b"f1")
    net.stabilize()
    assert net.transcript[0] == "n3->n1 READ_INDEX t2 ctx=f1"
    assert "n1->n3 READ_INDEX_RESP t2 i3 ctx=f1" in net.transcript
    assert net.members["n3"].read_states == [ReadState(3, b"f1")]
    assert net.node("n3").raft.log.applied >= 3


def test_a_node_without_a_leader_refuses_reads() -> None:
    net = Net(VOTERS3)
    with pytest.raises(NotLeader):
        net.node("n2").read_index(b"r")


def test_a_new_leader_answers_reads_only_after_committing_an_entry_of_its_term() -> None:
    """§6.4: "the leader must have the latest information on which entries are committed [...] Raft
    handles this by having each leader commit a blank no-op entry into the log at the start of its
    term." Reads asked before that wait for it."""
    net = Net(VOTERS3)
    net.drop_if = lambda m: m.type == MessageType.APPEND
    net.elect("n1")
    net.node("n1").read_index(b"early")
    net.stabilize()
    assert net.members["n1"].read_states == []
    net.heal()
    net.tick_all(1)
    net.tick_all(1)
    assert net.members["n1"].read_states == [ReadState(2, b"early")]


def test_one_heartbeat_round_confirms_every_read_queued_before_it() -> None:
    net = Net(VOTERS3)
    net.elect("n1")
    net.drop_if = lambda m: m.type == MessageType.HEARTBEAT_RESP and m.context != b"r3"
    for ctx in (b"r1", b"r2", b"r3"):
        net.node("n1").read_index(ctx)
    net.stabilize()
    assert [rs.context for rs in net.members["n1"].read_states] == [b"r1", b"r2", b"r3"]


def test_a_single_voter_answers_reads_at_once() -> None:
    net = Net(("n1",))
    net.elect("n1")
    net.node("n1").read_index(b"solo")
    net.stabilize()
    assert net.members["n1"].read_states == [ReadState(2, b"solo")]


def test_with_a_lease_the_leader_answers_without_a_heartbeat_round() -> None:
    """§6.4.1: "the leader would use the normal heartbeat mechanism to maintain a lease" and serve reads
    without a round of its own, while the followers' timeouts guarantee that no other leader exists."""
    net = Net(VOTERS3, lease_reads=True)
    net.tick_all(20)  # with leases, freshly started servers wait an election timeout before voting
    leader = net.leader()
    net.tick_all(1)
    net.take()
    net.node(leader).read_index(b"lease")
    net.flush()
    assert net.transcript == []
    assert [rs.context for rs in net.members[leader].read_states] == [b"lease"]


def test_an_expired_lease_falls_back_to_a_heartbeat_round() -> None:
    net = Net(VOTERS3, lease_reads=True)
    net.tick_all(20)
    leader = net.leader()
    net.isolate(leader)
    net.tick(leader, 8)  # no acknowledgements for 8 ticks: past election_ticks - lease_margin_ticks
    net.take()
    net.node(leader).read_index(b"late")
    net.stabilize()
    assert any("HEARTBEAT" in line and "ctx=late" in line for line in net.transcript)
    assert net.members[leader].read_states == []


@pytest.mark.parametrize("seed", range(5))
def test_a_lease_ends_before_another_leader_can_be_elected(seed: int) -> None:
    """The lease is safe only if no new leader can exist while it holds: followers that acknowledged
    the heartbeat refuse votes for an election timeout, and the lease is shorter than that."""
    net = Net(VOTERS3, lease_reads=True, seed=seed)
    net.tick_all(20)
    old = net.leader()
    net.isolate(old)
    new_leaders: list[str] = []
    for _ in range(80):
        net.tick_all(1)
        new_leaders = [n for n in VOTERS3 if n != old and net.node(n).role == Role.LEADER]
        if new_leaders:
            assert not lease_valid(net.node(old).raft), f"{old} still holds a lease while {new_leaders} leads"
    assert new_leaders, "the majority side elected a new leader"


def test_a_leader_that_sent_timeout_now_no_longer_trusts_its_lease() -> None:
    """TimeoutNow makes its target campaign through the followers' leases, and may arrive late, even
    after the transfer was given up: the leader reads with heartbeat rounds for the rest of its term."""
    net = Net(VOTERS3, lease_reads=True)
    net.tick_all(20)
    leader = net.leader()
    target = next(n for n in VOTERS3 if n != leader)
    assert lease_valid(net.node(leader).raft)
    net.drop_if = lambda m: m.type == MessageType.TIMEOUT_NOW
    net.node(leader).transfer_leadership(target)
    net.tick_all(12)  # the transfer times out
    assert net.node(leader).status().lead_transferee == ""
    assert not lease_valid(net.node(leader).raft)
