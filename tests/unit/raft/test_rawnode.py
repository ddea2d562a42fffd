"""The RawNode API: the Ready/advance contract, restarts, typed errors, configuration checks."""

from __future__ import annotations

import random

import pytest

from cluster.errors import InvalidInput
from cluster.raft import (
    Config,
    EntryType,
    HardState,
    MemoryStorage,
    MessageType,
    NotLeader,
    ProgressState,
    ProposalDropped,
    RawNode,
    Role,
    SoftState,
)
from tests.unit.raft.harness import Net

VOTERS3 = ("n1", "n2", "n3")


def solo() -> tuple[RawNode, MemoryStorage]:
    storage = MemoryStorage.bootstrap(("n1",))
    return RawNode(Config(id="n1"), storage, random.Random(0)), storage


def drain(node: RawNode, storage: MemoryStorage) -> None:
    while node.has_ready():
        rd = node.ready()
        storage.append(rd.entries)
        if rd.hard_state is not None:
            storage.set_hard_state(rd.hard_state)
        node.advance(rd)


def test_a_ready_holds_entries_to_persist_the_hard_state_and_the_committed_entries() -> None:
    node, storage = solo()
    node.campaign()
    rd = node.ready()
    assert rd.soft_state == SoftState("n1", Role.LEADER)
    assert rd.hard_state == HardState(term=2, vote="n1", commit=2)
    assert [(e.index, e.type) for e in rd.entries] == [(2, EntryType.NOOP)]
    assert [e.index for e in rd.committed_entries] == [2]
    assert rd.must_sync
    storage.append(rd.entries)
    storage.set_hard_state(rd.hard_state)
    node.advance(rd)
    assert not node.has_ready()
    node.propose(b"cmd")
    rd = node.ready()
    assert [e.data for e in rd.entries] == [b"cmd"]
    assert rd.soft_state is None, "unchanged soft state is not repeated"
    assert rd.hard_state == HardState(term=2, vote="n1", commit=3)


def test_a_commit_only_change_need_not_be_synced() -> None:
    """Only term, vote, entries and snapshots must reach the disk before messages leave; a commit index
    lost in a crash is learned again from the leader."""
    net = Net(VOTERS3)
    net.elect("n1")
    net.drop_if = lambda m: m.to == "n2" and m.type == MessageType.APPEND and not m.entries
    net.node("n1").propose(b"x")
    net.stabilize()
    n2 = net.node("n2")
    assert n2.raft.log.committed < n2.raft.log.last_index()
    net.heal()
    net.tick("n1")
    net.flush()
    for m in net.queue:
        net.deliver_one(m)
    net.queue.clear()
    rd = n2.ready()
    assert rd.hard_state is not None and rd.hard_state.commit == n2.raft.log.last_index()
    assert not rd.entries and not rd.must_sync


def test_ready_twice_without_advance_is_a_bug() -> None:
    node, _ = solo()
    node.campaign()
    node.ready()
    with pytest.raises(AssertionError):
        node.ready()


def test_messages_stepped_between_ready_and_advance_are_kept_for_the_next_ready() -> None:
    """The runtime may await its disk between ``ready`` and ``advance`` while messages arrive."""
    net = Net(VOTERS3)
    net.elect("n1")
    n1 = net.node("n1")
    n1.propose(b"a")
    rd = n1.ready()
    n1.propose(b"b")
    net.members["n1"].storage.append(rd.entries)
    n1.advance(rd)
    rd2 = n1.ready()
    assert [e.data for e in rd2.entries] == [b"b"]


def test_a_restarted_node_comes_back_with_its_term_vote_commit_and_membership() -> None:
    net = Net(VOTERS3)
    net.elect("n1")
    net.node("n1").propose(b"x")
    net.stabilize()
    before = net.node("n2").status()
    again = net.restart("n2")
    after = again.status()
    assert after.hard_state == before.hard_state
    assert after.conf == before.conf
    assert (after.soft_state.role, after.soft_state.leader_id) == (Role.FOLLOWER, "")
    assert again.ready().committed_entries[-1].data == b"x", "the application replays from its snapshot"


def test_proposals_go_to_the_leader_only_and_name_it() -> None:
    net = Net(VOTERS3)
    with pytest.raises(NotLeader) as none_yet:
        net.node("n1").propose(b"x")
    assert none_yet.value.leader_id == ""
    net.elect("n1")
    with pytest.raises(NotLeader) as info:
        net.node("n2").propose(b"x")
    assert info.value.leader_id == "n1"
    assert "n1" in str(info.value)


def test_the_uncommitted_tail_is_bounded() -> None:
    """A leader that cannot commit (no quorum) stops taking proposals once ``max_uncommitted_bytes``
    wait; one proposal is always allowed so a large command is never stuck."""
    net = Net(VOTERS3, max_uncommitted_bytes=100)
    net.elect("n1")
    net.down |= {"n2", "n3"}
    leader = net.node("n1")
    leader.propose(b"x" * 150)
    with pytest.raises(ProposalDropped):
        leader.propose(b"y")
    net.down.clear()
    net.tick_all(1)
    leader.propose(b"z" * 60)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"id": ""}, "id"),
        ({"election_ticks": 1, "heartbeat_ticks": 1}, "election_ticks"),
        ({"heartbeat_ticks": 0}, "heartbeat_ticks"),
        ({"max_inflight_msgs": 0}, "max_inflight_msgs"),
        ({"lease_reads": True, "check_quorum": False}, "lease_reads"),
        ({"lease_reads": True, "lease_margin_ticks": 1}, "lease_margin_ticks"),
    ],
)
def test_a_wrong_configuration_is_refused_with_the_field_named(fields: dict[str, object], message: str) -> None:
    config = {"id": "n1", **fields}
    with pytest.raises(InvalidInput, match=message):
        RawNode(Config(**config), MemoryStorage.bootstrap(("n1",)), random.Random(0))  # type: ignore[arg-type]


def test_a_node_runs_without_any_global_randomness() -> None:
    """Two nodes built with equal seeds behave identically: all randomness is injected."""
    runs = []
    for _ in range(2):
        net = Net(VOTERS3, seed=42)
        net.tick_all(40)
        runs.append((net.leader(), list(net.transcript)))
    assert runs[0] == runs[1]


def test_has_ready_is_false_while_a_ready_is_out() -> None:
    node, _ = solo()
    node.campaign()
    rd = node.ready()
    node.propose(b"more")
    assert not node.has_ready()
    node.advance(rd)
    assert node.has_ready()


def test_an_unreachable_follower_is_probed_instead_of_streamed_to() -> None:
    """The runtime reports a failed send: the leader stops pipelining to that follower and probes."""
    net = Net(VOTERS3)
    net.elect("n1")
    leader = net.node("n1")
    assert leader.status().progress["n2"].state == ProgressState.REPLICATE
    leader.report_unreachable("n2")
    assert leader.status().progress["n2"].state == ProgressState.PROBE
    leader.propose(b"x")
    net.stabilize()
    assert leader.status().progress["n2"].state == ProgressState.REPLICATE
    assert net.data_applied("n2") == [b"x"]
