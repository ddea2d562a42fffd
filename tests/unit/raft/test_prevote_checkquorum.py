"""Pre-vote (dissertation §9.6), check-quorum (§6.2) and leader stickiness (§4.2.3)."""

from __future__ import annotations

from cluster.raft import Message, MessageType, Role
from tests.unit.raft.harness import Net

VOTERS3 = ("n1", "n2", "n3")


def isolated_ticks(net: Net, node_id: str, ticks: int) -> None:
    net.isolate(node_id)
    net.tick_all(ticks)


def test_a_partitioned_node_rejoining_does_not_disrupt_the_leader() -> None:
    """§9.6: "the Pre-Vote algorithm [...] a candidate would first ask other servers whether its log was
    up-to-date enough to get their vote. Only if the candidate believed it could get votes from a
    majority of the cluster would it increment its term and start a normal election." The cut-off
    node times out again and again but keeps its term; when it returns, the leader goes on."""
    net = Net(VOTERS3)
    net.elect("n1")
    isolated_ticks(net, "n3", 100)
    assert net.node("n3").term == 2, "pre-votes do not raise the term"
    assert net.node("n3").role == Role.PRE_CANDIDATE
    net.heal()
    net.tick_all(20)
    assert net.leader() == "n1"
    assert [net.node(n).term for n in VOTERS3] == [2, 2, 2]
    assert net.node("n3").raft.lead == "n1"


def test_without_pre_vote_a_rejoining_node_forces_a_new_election() -> None:
    """The problem pre-vote solves (§9.6): "the server [...] will time out and start a new election,
    incrementing its term [...] the leader [...] will eventually step down". Shown here so the test
    above is known to test something."""
    net = Net(VOTERS3, pre_vote=False, check_quorum=False)
    net.elect("n1")
    isolated_ticks(net, "n3", 100)
    assert net.node("n3").term > 5
    net.heal()
    net.tick_all(40)
    assert net.node("n1").term > 2, "the leader had to step down and a new term began"


def test_a_pre_vote_changes_neither_the_voters_term_nor_its_vote() -> None:
    net = Net(VOTERS3)
    n1 = net.node("n1")
    before = (n1.term, n1.raft.vote)
    n1.step(Message(type=MessageType.PRE_VOTE, to="n1", sender="n2", term=5, index=1, log_term=1))
    answers = n1.ready().messages
    assert [(m.type, m.term, m.reject) for m in answers] == [(MessageType.PRE_VOTE_RESP, 5, False)]
    assert (n1.term, n1.raft.vote) == before


def test_a_won_pre_vote_leads_to_a_real_election_once_the_leader_is_gone() -> None:
    net = Net(VOTERS3)
    net.elect("n1")
    net.down.add("n1")
    net.tick_all(40)
    leader = net.leader()
    assert leader in ("n2", "n3")
    assert net.node(leader).term == 3, "one pre-vote round, then one real election"


def test_a_pre_candidate_with_a_stale_log_does_not_win() -> None:
    """A pre-vote is granted only to a log at least as up-to-date (§5.4.1 applies to pre-votes too),
    so a node that missed entries cannot even start a real election."""
    net = Net(VOTERS3, check_quorum=False)
    net.elect("n1")
    net.down.add("n3")
    net.node("n1").propose(b"x")
    net.stabilize()
    net.down = {"n1"}
    net.take()
    net.node("n3").campaign()
    net.stabilize()
    assert "n2->n3 PRE_VOTE_RESP t2 reject" in net.transcript
    assert net.node("n3").role == Role.PRE_CANDIDATE
    assert net.node("n3").term == net.node("n2").term == 2


def test_an_isolated_leader_steps_down_after_an_election_timeout() -> None:
    """§6.2 (dissertation): "a leader steps down if an election timeout elapses without a successful
    round of heartbeats to a majority of its cluster; this allows clients to retry their requests with
    another server." Before the timeout it still leads."""
    net = Net(VOTERS3)
    net.elect("n1")
    net.isolate("n1")
    net.tick("n1", 9)
    assert net.node("n1").role == Role.LEADER
    net.tick("n1", 11)
    assert net.node("n1").role == Role.FOLLOWER


def test_without_check_quorum_an_isolated_leader_believes_it_leads_forever() -> None:
    net = Net(VOTERS3, check_quorum=False)
    net.elect("n1")
    net.isolate("n1")
    net.tick("n1", 200)
    assert net.node("n1").role == Role.LEADER


def test_a_leader_that_hears_a_minority_also_steps_down() -> None:
    net = Net(("n1", "n2", "n3", "n4", "n5"))
    net.elect("n1")
    net.partition(["n1", "n2"], ["n3", "n4", "n5"])
    net.tick_all(25)
    assert net.node("n1").role != Role.LEADER


def test_a_follower_that_hears_its_leader_ignores_vote_requests() -> None:
    """§4.2.3 (dissertation): "if a server receives a RequestVote request within the minimum election
    timeout of hearing from a current leader, it does not update its term or grant its vote." This
    keeps a removed or partitioned server from deposing a working leader."""
    net = Net(VOTERS3, pre_vote=False)
    net.elect("n1")
    n2 = net.node("n2")
    n2.step(Message(type=MessageType.VOTE, to="n2", sender="n3", term=9, index=99, log_term=9))
    assert n2.term == 2 and n2.raft.vote == "n1"
    assert not n2.ready().messages, "not even a rejection"
    net.tick("n2", 10)  # an election timeout without the leader
    n2.step(Message(type=MessageType.VOTE, to="n2", sender="n3", term=9, index=99, log_term=9))
    assert (n2.term, n2.raft.vote) == (9, "n3")
