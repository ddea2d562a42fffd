"""Seeded whole-cluster runs under faults: every run checks the safety properties on every step, then
heals the cluster and checks that it converges, that every acknowledged write is on every live
member, that the members agree, and that the clients' history is linearizable.

Replay a failure with ``pytest tests/sim --seed N`` (the seed is in the test id and the report).
"""

from __future__ import annotations

from dataclasses import replace

from tests.sim.kv import Op
from tests.sim.seeds import seeded
from tests.sim.simulator import Scenario, Simulator


@seeded(500)
def test_random_scenario(seed: int) -> None:
    """3 or 5 servers; drops, duplicates, delays, partitions (some one-way), crashes at any point of
    a Ready, transfers, membership changes and snapshots, as the seed draws them."""
    Simulator(Scenario.draw(seed)).run()


@seeded(60)
def test_membership_changes_and_snapshots(seed: int) -> None:
    """Servers join as learners or voters, get promoted, and leave (leaders too), while logs are
    compacted often, so newcomers and stragglers catch up from snapshots."""
    scenario = replace(Scenario.draw(10_000 + seed), membership=True, spares=2, snapshot_every=4,
                       keep_entries=0, crash_every_steps=400 if seed % 2 else 0,
                       operate_every_steps=20)
    sim = Simulator(scenario)
    sim.run()
    assert sim.stats["conf_changes"] > 0
    assert sim.net.sent_by_type.get("SNAPSHOT", 0) > 0


def reads_scenario(seed: int) -> Scenario:
    return replace(Scenario.draw(20_000 + seed), check_quorum=True, pre_vote=True, lease_reads=seed % 2 == 0,
                   partition_every_steps=80, clients=4, ops_per_client=6, crash_every_steps=0)


@seeded(60)
def test_reads_under_partitions(seed: int) -> None:
    """More clients, frequent partitions, half the runs with leader leases: reads must stay
    linearizable whether confirmed by a heartbeat round or by the lease."""
    Simulator(reads_scenario(seed)).run()


def test_the_read_runs_do_read() -> None:
    """The runs above would prove little if their reads never completed: most do, some through
    followers (forwarded ReadIndex), some through leases."""
    reads = forwarded = 0
    for seed in range(10):
        sim = Simulator(reads_scenario(seed))
        sim.run()
        reads += sum(op.op == Op.GET for op in sim.workload.history)  # only answered gets are recorded
        forwarded += sim.net.sent_by_type.get("READ_INDEX_RESP", 0)
    assert reads > 40
    assert forwarded > 5
