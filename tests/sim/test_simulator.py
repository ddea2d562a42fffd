"""The simulator's own parts: one seed replays exactly, the disk loses what was not synced, the
network cuts and delays, and the invariant checks do catch a broken Raft."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from cluster.raft import Entry, HardState, MemoryStorage, Message, MessageType
from cluster.raft.log import RaftLog
from tests.sim.disk import SimDisk
from tests.sim.invariants import SafetyViolation
from tests.sim.network import Faults, SimNetwork
from tests.sim.simulator import Scenario, Simulator

ROOT = Path(__file__).resolve().parents[2]


def run_digest(seed: int) -> tuple[str, int]:
    sim = Simulator(Scenario.draw(seed))
    sim.run()
    return sim.net.trace.hexdigest(), len(sim.workload.history)


def test_one_seed_replays_exactly() -> None:
    assert run_digest(11) == run_digest(11)
    assert run_digest(11) != run_digest(12)


def test_a_seed_replays_exactly_in_another_process_with_another_hash_seed() -> None:
    """Nothing may depend on the string hash seed (set iteration order), or a replay would differ."""
    code = "from tests.sim.test_simulator import run_digest; print(run_digest(11))"
    outputs = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(ROOT)}
        done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                              check=True, timeout=120)
        outputs.add(done.stdout.strip())
    assert outputs == {str(run_digest(11))}


def test_the_disk_keeps_only_synced_writes_through_a_crash() -> None:
    durable = MemoryStorage.bootstrap(("n1",))
    disk = SimDisk(durable)
    disk.write_entries([Entry(1, 2), Entry(1, 3)])
    disk.write_hard_state(HardState(term=1, commit=3))
    disk.sync()
    disk.write_entries([Entry(2, 4)])
    disk.write_hard_state(HardState(term=2, vote="n1", commit=3))
    disk.crash()
    restored = disk.load()
    assert restored.last_index() == 3
    assert restored.initial_state()[0] == HardState(term=1, commit=3)


def test_the_network_delays_within_bounds_and_cuts_links_one_way() -> None:
    net = SimNetwork(random.Random(1), Faults(min_delay_steps=2, max_delay_steps=5))
    for i in range(20):
        net.send(0, Message(type=MessageType.HEARTBEAT, to="b", sender="a", term=1, commit=i))
    assert net.due(1) == []
    arrived = [m for now in range(2, 6) for m in net.due(now)]
    assert len(arrived) == 20
    assert [m.commit for m in arrived] != list(range(20)), "independent delays reorder messages"
    net.cut.add(("a", "b"))
    net.send(10, Message(type=MessageType.HEARTBEAT, to="b", sender="a", term=1))
    net.send(10, Message(type=MessageType.HEARTBEAT, to="a", sender="b", term=1))
    assert [m.to for now in range(10, 16) for m in net.due(now)] == ["a"]


def test_a_partition_also_swallows_messages_already_in_flight() -> None:
    net = SimNetwork(random.Random(1), Faults(min_delay_steps=3, max_delay_steps=3))
    net.send(0, Message(type=MessageType.HEARTBEAT, to="b", sender="a", term=1))
    net.partition([["a"], ["b"]])
    assert net.due(3) == []


def first_failure(seeds: range) -> BaseException | None:
    for seed in seeds:
        try:
            Simulator(Scenario.draw(seed)).run()
        except AssertionError as exc:
            return exc
    return None


def test_the_checks_catch_a_raft_that_votes_for_any_log(monkeypatch: pytest.MonkeyPatch) -> None:
    """Break §5.4.1 (grant votes whatever the candidate's log): the simulation must notice."""
    monkeypatch.setattr(RaftLog, "is_up_to_date", lambda self, last_index, last_term: True)
    assert isinstance(first_failure(range(40)), SafetyViolation)


def test_the_checks_catch_a_runtime_that_sends_before_it_syncs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never sync: every crash loses what the node already promised (votes, acknowledged entries); the
    safety checks or the core's own invariant assertions must notice."""
    monkeypatch.setattr(SimDisk, "sync", lambda self: None)
    assert first_failure(range(40)) is not None
