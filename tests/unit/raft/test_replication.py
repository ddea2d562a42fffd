"""Log replication (§5.3, §5.4.2): Figures 7 and 8, the no-op, batching, pipelining, backtracking."""

from __future__ import annotations

import pytest

from cluster.raft import EntryType, Message, MessageType, ProgressState, Role
from tests.unit.raft.harness import Net, log_storage, log_terms

VOTERS3 = ("n1", "n2", "n3")
VOTERS5 = ("n1", "n2", "n3", "n4", "n5")

# Figure 7: the leader of term 8 and six followers' logs (terms of the entries at indexes 1, 2, ...).
FIGURE7_LEADER = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6]
FIGURE7_FOLLOWERS = {
    "a": [1, 1, 1, 4, 4, 5, 5, 6, 6],
    "b": [1, 1, 1, 4],
    "c": [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
    "d": [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
    "e": [1, 1, 1, 4, 4, 4, 4],
    "f": [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
}


@pytest.mark.parametrize("case", sorted(FIGURE7_FOLLOWERS))
def test_figure7_follower_converges_to_the_leader_log(case: str) -> None:
    """§5.3: "the leader handles inconsistencies by forcing the followers' logs to duplicate its own.
    This means that conflicting entries in follower logs will be overwritten with entries from the
    leader's log." Any of Figure 7's followers (missing entries, extra entries, both) ends with the
    leader's log, and the follower's extra entries are gone."""
    follower = FIGURE7_FOLLOWERS[case]
    net = Net(VOTERS3, storages={
        "n1": log_storage(VOTERS3, FIGURE7_LEADER, term=7),
        "n2": log_storage(VOTERS3, follower, term=7),
        "n3": log_storage(VOTERS3, [], term=0),  # votes for n1, whose log beats its empty one
    })
    net.elect("n1")
    assert net.node("n1").term == 8
    expected = [*FIGURE7_LEADER, 8]  # the leader's no-op of term 8 follows
    assert log_terms(net.node("n2")) == expected
    assert log_terms(net.node("n3")) == expected
    assert net.node("n2").raft.log.committed == 11


def test_figure7_backtracking_skips_a_whole_conflicting_term_per_round_trip() -> None:
    """§5.3: "the follower can include the term of the conflicting entry and the first index it stores
    for that term. With this information, the leader can decrement nextIndex to bypass all of the
    conflicting entries in that term; one AppendEntries RPC will be required for each term with
    conflicting entries, rather than one RPC per entry." Follower (f) holds conflicting entries of
    terms 2 and 3 after index 3: two rejections, not eight."""
    net = Net(VOTERS3, storages={
        "n1": log_storage(VOTERS3, FIGURE7_LEADER, term=7),
        "n2": log_storage(VOTERS3, FIGURE7_FOLLOWERS["f"], term=7),
        "n3": log_storage(VOTERS3, [], term=0),
    })
    net.elect("n1")
    rejects = [line for line in net.transcript if line.startswith("n2->n1 APPEND_RESP") and "reject" in line]
    assert rejects == [
        "n2->n1 APPEND_RESP t8 i10 reject hint=3/7",  # our term 3 at 10; we hold term 3 from 7
        "n2->n1 APPEND_RESP t8 i6 reject hint=2/4",  # our term 2 at 6; we hold term 2 from 4
    ]
    assert log_terms(net.node("n2")) == [*FIGURE7_LEADER, 8]


def test_figure8_entries_of_older_terms_are_not_committed_by_counting_replicas() -> None:
    """Figure 8 / §5.4.2: "Raft never commits log entries from previous terms by counting replicas."

    State (c) of Figure 8: S1 leads term 4 and gets its term-2 entry at index 2 onto S2 and S3, so a
    majority of five holds it, and S1 knows. S1 still must not commit it: as (d) shows, once S1
    fails, S5 (with a term-3 entry at index 2) can be elected by S2, S3, S4 and overwrite it.
    """
    net = Net(VOTERS5, storages={
        "n1": log_storage(VOTERS5, [1, 2], term=3),
        "n2": log_storage(VOTERS5, [1], term=3),
        "n3": log_storage(VOTERS5, [1], term=3),
        "n4": log_storage(VOTERS5, [1], term=3),
        "n5": log_storage(VOTERS5, [1, 3], term=3),
    }, max_entries_per_msg=1, pre_vote=False, check_quorum=False)  # the paper's basic algorithm

    def only_the_old_entry(m: Message) -> bool:
        """S1's appends reach S2 and S3 only, and nothing of term 4 once they hold the term-2 entry."""
        if m.type != MessageType.APPEND:
            return False
        if m.to not in ("n2", "n3"):
            return True
        return any(e.term == 4 for e in m.entries) and len(log_terms(net.node(m.to))) >= 2

    net.drop_if = only_the_old_entry
    net.elect("n1")
    assert net.node("n1").term == 4
    assert log_terms(net.node("n2")) == log_terms(net.node("n3")) == [1, 2]
    assert net.node("n1").status().progress["n3"].match == 2
    assert net.node("n1").raft.log.committed < 2, "an old-term entry on a majority is not committed"

    # (d): S1 crashes; S5 wins with S2, S3, S4 (its last term 3 beats their 2) and overwrites index 2.
    net.down.add("n1")
    net.heal()
    net.elect("n5")
    for follower in ("n2", "n3", "n4"):
        assert log_terms(net.node(follower))[:2] == [1, 3]


def test_figure8_an_entry_of_the_current_term_commits_everything_before_it() -> None:
    """Figure 8 (e): "if S1 replicates an entry from its current term on a majority of the servers
    before crashing [...] then this entry is committed (S5 cannot win an election)". Entries before
    it are committed with it: §5.4.2 "all prior entries are committed indirectly"."""
    net = Net(VOTERS5, storages={
        "n1": log_storage(VOTERS5, [1, 2], term=3),
        "n2": log_storage(VOTERS5, [1, 2], term=3),
        "n3": log_storage(VOTERS5, [1], term=3),
        "n4": log_storage(VOTERS5, [1], term=3),
        "n5": log_storage(VOTERS5, [1, 3], term=3),
    }, pre_vote=False, check_quorum=False)
    net.cut |= {("n1", "n4"), ("n1", "n5")}  # the term-4 no-op reaches S2 and S3 only
    net.elect("n1")
    assert net.node("n1").raft.log.committed == 3
    net.down.add("n1")
    net.heal()
    net.node("n5").campaign()
    net.stabilize()
    assert net.node("n5").role != Role.LEADER, "S2 and S3 hold a newer last term than S5"


def test_a_new_leader_starts_its_term_with_a_noop_entry() -> None:
    """§8: "Raft handles this by having each leader commit a blank no-op entry into the log at the
    start of its term." It commits at once with a majority and carries the commit index forward."""
    net = Net(VOTERS3)
    net.elect("n1")
    log = net.node("n1").raft.log
    noop = log.slice(log.last_index(), log.last_index() + 1)[0]
    assert (noop.type, noop.term, noop.data) == (EntryType.NOOP, 2, b"")
    assert all(net.node(n).raft.log.committed == noop.index for n in VOTERS3)


def test_proposals_made_before_a_ready_travel_in_one_message_per_follower() -> None:
    """Batching: commands proposed between two Readies leave as one AppendEntries per follower."""
    net = Net(VOTERS3)
    net.elect("n1")
    net.take()
    for i in range(5):
        net.node("n1").propose(f"cmd{i}".encode())
    net.stabilize()
    appends = [line for line in net.transcript if " APPEND t" in line and "[]" not in line]
    assert appends == ["n1->n2 APPEND t2 i2/2 [2/3,2/4,2/5,2/6,2/7] c2",
                       "n1->n3 APPEND t2 i2/2 [2/3,2/4,2/5,2/6,2/7] c2"]
    assert net.data_applied("n3") == [f"cmd{i}".encode() for i in range(5)]


def test_max_entries_per_msg_splits_a_large_batch() -> None:
    net = Net(VOTERS3, max_entries_per_msg=4)
    net.elect("n1")
    net.take()
    net.node("n1").propose_batch([b"x"] * 10)
    net.stabilize()
    sizes = [line.count("/") - 1 for line in net.transcript if line.startswith("n1->n2 APPEND") and "[]" not in line]
    assert sizes == [4, 4, 2]


def test_replication_pipelines_at_most_max_inflight_msgs_unacknowledged_appends() -> None:
    """Bounded pipelining: in REPLICATE state the leader streams appends without waiting for answers,
    but never more than ``max_inflight_msgs`` unacknowledged ones."""
    net = Net(VOTERS3, max_entries_per_msg=1, max_inflight_msgs=3)
    net.elect("n1")
    assert net.node("n1").status().progress["n2"].state == ProgressState.REPLICATE
    net.cut.add(("n2", "n1"))  # n2 receives but its answers are lost
    net.take()
    for i in range(10):
        net.node("n1").propose(b"%d" % i)
        net.stabilize()
    to_n2 = [line for line in net.transcript if line.startswith("n1->n2 APPEND") and "[]" not in line]
    assert len(to_n2) == 3
    # n3 answers, so the commit goes on without n2.
    assert net.node("n1").raft.log.committed == net.node("n1").raft.log.last_index()
    # A heartbeat answer frees one slot (the messages may all have been lost), then acks free the rest.
    net.heal()
    net.tick_all(1)
    assert net.node("n2").raft.log.last_index() == net.node("n1").raft.log.last_index()


def test_a_probed_follower_gets_one_append_at_a_time_until_it_answers() -> None:
    """In PROBE state the leader does not know where the logs meet, so it sends one append and waits
    for its answer (or a heartbeat answer) before the next: no flood of doomed messages."""
    net = Net(VOTERS3)
    net.elect("n1")
    net.down.add("n3")
    for i in range(3):
        net.node("n1").propose(b"%d" % i)
        net.stabilize()
    net.node("n1").raft.tracker.progress["n3"].become_probe()
    net.take()
    net.node("n1").propose(b"more")
    net.node("n1").propose(b"again")
    net.stabilize()
    assert len([line for line in net.transcript if line.startswith("n1->n3 APPEND")]) == 1


def test_a_follower_rejects_an_append_whose_previous_entry_does_not_match() -> None:
    """Figure 2, AppendEntries: "Reply false if log doesn't contain an entry at prevLogIndex whose term
    matches prevLogTerm." The rejection says where the follower's log stops or which term conflicts."""
    net = Net(VOTERS3, storages={
        "n1": log_storage(VOTERS3, [1, 1, 2, 2], term=2),
        "n2": log_storage(VOTERS3, [1, 1], term=2),
        "n3": log_storage(VOTERS3, [1, 1, 2, 2], term=2),
    })
    net.elect("n1")
    rejects = [line for line in net.transcript if line.startswith("n2->n1 APPEND_RESP") and "reject" in line]
    assert rejects == ["n2->n1 APPEND_RESP t3 i4 reject hint=0/3"]  # too short: resend from index 3
    assert log_terms(net.node("n2")) == [1, 1, 2, 2, 3]


def test_a_follower_commits_only_what_it_holds_of_the_leader_log() -> None:
    """Figure 2: "If leaderCommit > commitIndex, set commitIndex = min(leaderCommit, index of last new
    entry)"; heartbeats likewise carry min(follower's match, leader's commit)."""
    net = Net(VOTERS3)
    net.elect("n1")
    net.cut |= {("n1", "n3")}
    net.node("n1").propose(b"x")
    net.stabilize()
    leader_commit = net.node("n1").raft.log.committed
    assert net.node("n3").raft.log.committed < leader_commit
    net.tick_all(1)  # heartbeats reach n2 only
    assert net.node("n3").raft.log.committed < leader_commit
    net.heal()
    net.tick_all(1)
    assert net.node("n3").raft.log.committed == leader_commit
