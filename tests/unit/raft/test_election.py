"""Leader election (§5.2, §5.4.1): timeouts, majorities, one vote per term, terms, up-to-date logs."""

from __future__ import annotations

import random
from typing import Any

import pytest

from cluster.raft import (
    ConfChange,
    ConfChangeType,
    Config,
    Entry,
    EntryType,
    HardState,
    MemoryStorage,
    Message,
    MessageType,
    RawNode,
    Role,
    conf_change_of,
    encode_conf_change,
)
from tests.unit.raft.harness import Net, log_storage

VOTERS3 = ("n1", "n2", "n3")
VOTERS5 = ("n1", "n2", "n3", "n4", "n5")
PLAIN: dict[str, Any] = {"pre_vote": False, "check_quorum": False}  # the paper's basic algorithm


def vote(to: str, sender: str, term: int, index: int = 1, log_term: int = 1) -> Message:
    return Message(type=MessageType.VOTE, to=to, sender=sender, term=term, index=index, log_term=log_term)


def test_a_follower_that_hears_nothing_for_an_election_timeout_campaigns() -> None:
    """§5.2: "If a follower receives no communication over a period of time called the election timeout,
    then it assumes there is no viable leader and begins an election to choose a new leader.\""""
    net = Net(VOTERS3, **PLAIN)
    node = net.node("n1")
    timeout = node.raft.randomized_election_timeout
    net.tick("n1", timeout - 1)
    assert node.raft.role == Role.FOLLOWER
    net.tick("n1")
    assert node.status().soft_state.role == Role.CANDIDATE
    assert node.term == 2
    assert node.raft.vote == "n1"


def test_election_timeouts_are_randomized_between_one_and_two_timeouts() -> None:
    """§5.2: "election timeouts are chosen randomly from a fixed interval (e.g., 150–300ms)"; here
    [election_ticks, 2 * election_ticks), from the injected random source only."""
    node = RawNode(Config(id="n1", election_ticks=10), MemoryStorage.bootstrap(VOTERS3), random.Random(7))
    seen = set()
    for _ in range(300):
        node.raft.become_follower(node.term + 1, "")
        seen.add(node.raft.randomized_election_timeout)
    assert seen == set(range(10, 20))
    again = RawNode(Config(id="n1", election_ticks=10), MemoryStorage.bootstrap(VOTERS3), random.Random(7))
    assert again.raft.randomized_election_timeout == RawNode(
        Config(id="n1", election_ticks=10), MemoryStorage.bootstrap(VOTERS3), random.Random(7)
    ).raft.randomized_election_timeout


@pytest.mark.parametrize(("size", "reachable", "wins"), [(3, 1, True), (3, 0, False), (5, 2, True), (5, 1, False)])
def test_a_candidate_needs_votes_from_a_majority_of_the_full_cluster(size: int, reachable: int, wins: bool) -> None:
    """§5.2: "A candidate wins an election if it receives votes from a majority of the servers in the
    full cluster for the same term.\""""
    ids = VOTERS5[:size]
    net = Net(ids, **PLAIN)
    net.down |= set(ids[1 + reachable :])
    net.node("n1").campaign()
    net.stabilize()
    assert (net.node("n1").role == Role.LEADER) is wins


def test_a_server_votes_for_at_most_one_candidate_per_term() -> None:
    """§5.2: "Each server will vote for at most one candidate in a given term, on a first-come-first-
    served basis.\""""
    net = Net(VOTERS3, **PLAIN)
    n1 = net.node("n1")
    n1.step(vote("n1", "n2", term=2))
    n1.step(vote("n1", "n3", term=2))
    n1.step(vote("n1", "n2", term=2))  # a retransmission of the granted request is granted again
    answers = [(m.to, m.reject) for m in n1.ready().messages]
    assert answers == [("n2", False), ("n3", True), ("n2", False)]


def test_a_vote_survives_a_restart_because_it_is_persisted_before_the_answer_leaves() -> None:
    """Figure 2: votedFor is persistent state, "updated on stable storage before responding to RPCs".
    The Ready that carries the vote answer carries the vote in its hard state and must be synced."""
    net = Net(VOTERS3, **PLAIN)
    n1 = net.node("n1")
    n1.step(vote("n1", "n2", term=2))
    rd = n1.ready()
    assert rd.hard_state is not None and (rd.hard_state.term, rd.hard_state.vote) == (2, "n2")
    assert rd.must_sync
    net.members["n1"].storage.set_hard_state(rd.hard_state)
    n1.advance(rd)
    restarted = net.restart("n1")
    restarted.step(vote("n1", "n3", term=2))
    assert [m.reject for m in restarted.ready().messages] == [True]


def test_split_votes_are_resolved_by_randomized_timeouts() -> None:
    """§5.2: "Raft uses randomized election timeouts to ensure that split votes are rare and that they
    are resolved quickly." Three simultaneous candidates split the vote; the next round elects one."""
    net = Net(VOTERS3, seed=3, **PLAIN)
    for node_id in VOTERS3:
        net.node(node_id).campaign()
    net.stabilize()
    # Each voted for itself and was refused by the two others: nobody leads term 2.
    assert all(net.node(n).term == 2 and net.node(n).role != Role.LEADER for n in VOTERS3)
    for _ in range(40):
        net.tick_all(1)
        if any(net.node(n).role == Role.LEADER for n in VOTERS3):
            break
    leader = net.leader()
    assert net.node(leader).term == 3
    assert all(net.node(n).raft.lead == leader for n in VOTERS3)


def test_a_candidate_returns_to_follower_when_a_leader_of_its_term_appears() -> None:
    """§5.2: "If the leader's term (included in its RPC) is at least as large as the candidate's current
    term, then the candidate recognizes the leader as legitimate and returns to follower state.\""""
    net = Net(VOTERS3, **PLAIN)
    n2 = net.node("n2")
    n2.campaign()
    assert (n2.role, n2.term) == (Role.CANDIDATE, 2)
    n2.step(Message(type=MessageType.APPEND, to="n2", sender="n1", term=2, index=1, log_term=1))
    assert (n2.role, n2.raft.lead) == (Role.FOLLOWER, "n1")


def test_a_stale_term_request_is_rejected_and_the_sender_learns_the_newer_term() -> None:
    """§5.1: "If a server receives a request with a stale term number, it rejects the request." and
    "If a candidate or leader discovers that its term is out of date, it immediately reverts to follower
    state.\""""
    net = Net(VOTERS3)
    net.elect("n1")
    n2 = net.node("n2")
    n2.raft.become_follower(5, "")  # n2 moved on to term 5 (say, a leader of term 5 it heard from)
    n2.step(Message(type=MessageType.APPEND, to="n2", sender="n1", term=2, index=2, log_term=2))
    answer = n2.ready().messages
    assert [(m.type, m.term) for m in answer] == [(MessageType.APPEND_RESP, 5)]
    assert n2.raft.log.last_index() == 2, "nothing from the stale leader was taken"
    net.node("n1").step(answer[0])
    assert (net.node("n1").role, net.node("n1").term) == (Role.FOLLOWER, 5)


def test_a_node_adopts_a_newer_term_from_any_message() -> None:
    """§5.1: "if one server's current term is smaller than the other's, then it updates its current term
    to the larger value.\""""
    net = Net(VOTERS3, **PLAIN)
    n1 = net.node("n1")
    n1.step(Message(type=MessageType.HEARTBEAT, to="n1", sender="n3", term=7))
    assert (n1.term, n1.raft.lead, n1.role) == (7, "n3", Role.FOLLOWER)


@pytest.mark.parametrize(
    ("candidate_last", "granted"),
    [((3, 2), True), ((2, 2), True), ((1, 2), False), ((9, 1), False), ((1, 3), True)],
    ids=["longer-same-term", "equal", "shorter-same-term", "older-last-term", "newer-last-term"],
)
def test_votes_go_only_to_candidates_whose_log_is_at_least_as_up_to_date(
    candidate_last: tuple[int, int], granted: bool
) -> None:
    """§5.4.1: "the voter denies its vote if its own log is more up-to-date than that of the candidate
    [...] If the logs have last entries with different terms, then the log with the later term is more
    up-to-date. If the logs end with the same term, then whichever log is longer is more up-to-date."
    The voter's log: terms [1, 2] (last index 2, last term 2)."""
    voter = Net(VOTERS3, storages={"n1": log_storage(VOTERS3, [1, 2])}, **PLAIN).node("n1")
    index, term = candidate_last
    voter.step(vote("n1", "n2", term=5, index=index, log_term=term))
    assert [m.reject for m in voter.ready().messages] == [not granted]


def test_a_leader_keeps_its_term_by_heartbeats() -> None:
    """§5.2: "Leaders send periodic heartbeats (AppendEntries RPCs that carry no log entries) to all
    followers in order to maintain their authority." Many election timeouts pass without an election."""
    net = Net(VOTERS3)
    net.elect("n1")
    net.tick_all(100)
    assert net.leader() == "n1"
    assert all(net.node(n).term == 2 for n in VOTERS3)


def test_a_follower_with_a_committed_but_unapplied_membership_change_does_not_campaign() -> None:
    """Campaigning waits until every committed membership change is applied: the change may make this
    node a non-voter. Here index 2 (adding a learner) is committed but the node restarts applied to 1."""
    storage = log_storage(VOTERS3, [1])
    change = ConfChange(ConfChangeType.ADD_LEARNER, "n4")
    storage.append([Entry(1, 2, EntryType.CONF_CHANGE, encode_conf_change(change))])
    storage.set_hard_state(HardState(term=1, commit=2))
    node = RawNode(Config(id="n3", applied=1, **PLAIN), storage, random.Random(1))
    for _ in range(40):
        node.tick()
    assert node.raft.role == Role.FOLLOWER
    rd = node.ready()
    assert [e.index for e in rd.committed_entries] == [2]
    node.apply_conf_change(conf_change_of(rd.committed_entries[0]))
    node.advance(rd)
    for _ in range(20):
        node.tick()
    assert node.status().soft_state.role == Role.CANDIDATE
