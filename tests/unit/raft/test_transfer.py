"""Leadership transfer (dissertation §3.10)."""

from __future__ import annotations

import pytest

from cluster.errors import InvalidInput
from cluster.raft import (
    ConfChange,
    ConfChangeType,
    MessageType,
    NotLeader,
    ProposalDropped,
    Role,
)
from tests.unit.raft.harness import Net

VOTERS3 = ("n1", "n2", "n3")


def test_transfer_to_an_up_to_date_follower_sends_timeout_now_at_once() -> None:
    """§3.10: "The prior leader sends a TimeoutNow request to the target server. This request has the
    same effect as the target server's election timer firing: the target server starts a new election
    (incrementing its term and becoming a candidate)." It wins, even though the others hear a leader."""
    net = Net(VOTERS3)
    net.elect("n1")
    net.take()
    net.node("n1").transfer_leadership("n2")
    net.stabilize()
    assert net.transcript[0] == "n1->n2 TIMEOUT_NOW t2"
    assert net.transcript[1].startswith("n2->n1 VOTE t3"), "no pre-vote: the transfer is deliberate"
    assert net.leader() == "n2"
    assert net.node("n2").term == 3
    assert net.node("n1").role == Role.FOLLOWER


def test_transfer_to_a_lagging_follower_first_catches_it_up() -> None:
    """§3.10: "The prior leader sends an AppendEntries request to the target server" so that it has all
    of the leader's entries, and only then TimeoutNow."""
    net = Net(VOTERS3)
    net.elect("n1")
    net.down.add("n3")
    for i in range(3):
        net.node("n1").propose(b"%d" % i)
        net.stabilize()
    net.down.clear()
    net.take()
    net.node("n1").transfer_leadership("n3")
    net.stabilize()
    timeout_now = net.transcript.index("n1->n3 TIMEOUT_NOW t2")
    caught_up = next(i for i, line in enumerate(net.transcript) if line.startswith("n3->n1 APPEND_RESP t2 i5"))
    assert caught_up < timeout_now
    assert net.leader() == "n3"
    assert net.data_applied("n3") == [b"0", b"1", b"2"]


def test_proposals_are_refused_during_a_transfer() -> None:
    """§3.10: "the prior leader stops accepting client requests" while the transfer runs."""
    net = Net(VOTERS3)
    net.elect("n1")
    net.down.add("n2")
    net.node("n1").transfer_leadership("n2")
    with pytest.raises(ProposalDropped):
        net.node("n1").propose(b"x")
    with pytest.raises(ProposalDropped):
        net.node("n1").propose_conf_change(ConfChange(ConfChangeType.REMOVE_NODE, "n3"))


def test_a_transfer_that_does_not_complete_within_an_election_timeout_is_aborted() -> None:
    """§3.10: "If the transfer does not complete within an election timeout, the prior leader aborts
    the transfer and resumes accepting client requests.\""""
    net = Net(VOTERS3)
    net.elect("n1")
    net.drop_if = lambda m: m.type == MessageType.TIMEOUT_NOW
    net.node("n1").transfer_leadership("n2")
    net.tick_all(9)
    assert net.node("n1").status().lead_transferee == "n2"
    net.tick_all(1)
    assert net.node("n1").status().lead_transferee == ""
    net.node("n1").propose(b"resumed")
    net.stabilize()
    assert net.data_applied("n2")[-1] == b"resumed"


def test_only_a_leader_transfers_and_only_to_a_voter() -> None:
    net = Net(("n1", "n2", "n3", "n4"), voters=VOTERS3)
    net.elect("n1")
    with pytest.raises(NotLeader):
        net.node("n2").transfer_leadership("n3")
    with pytest.raises(InvalidInput):
        net.node("n1").transfer_leadership("n4")
    net.node("n1").transfer_leadership("n1")  # already the leader: nothing to do
    assert net.node("n1").status().lead_transferee == ""


def test_a_transfer_aborts_when_its_target_is_removed() -> None:
    net = Net(VOTERS3)
    net.elect("n1")
    leader = net.node("n1")
    leader.propose_conf_change(ConfChange(ConfChangeType.REMOVE_NODE, "n3"))
    net.drop_if = lambda m: m.type == MessageType.TIMEOUT_NOW or m.to == "n3"
    leader.transfer_leadership("n3")
    net.stabilize()
    assert leader.role == Role.LEADER
    assert leader.status().lead_transferee == ""
