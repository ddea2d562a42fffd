"""Raft runtimes in one event loop, on real loopback sockets and real WALs, with fast timers (10 ms ticks).

What a user of the runtime notices: a leader appears; a proposal returns the state machine's result and
every server applies it once, in order; a follower refuses proposals naming the leader but serves
linearizable reads; state survives restarts; a server that fell behind the compacted log catches up from a
snapshot; leadership moves on request; members are added and removed; a leader cut off from its quorum
fails its pending proposals.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

import msgspec
import pytest

from agents.server.raft_runtime import (
    NotLeader,
    RaftRuntime,
    RuntimeConfig,
    RuntimeStopped,
)

KEY = b"in-process test key"
FAST = RuntimeConfig(cluster_key=KEY, tick_ms=10, election_ticks=10, snapshot_entries=40, keep_entries=5)


class Journal:
    """A state machine that records every command it applies; ``apply`` returns the command's position."""

    def __init__(self) -> None:
        self.commands: list[bytes] = []
        self.indexes: list[int] = []

    def apply(self, index: int, data: bytes) -> object:
        self.commands.append(data)
        self.indexes.append(index)
        return len(self.commands)

    def snapshot(self) -> bytes:
        return msgspec.msgpack.encode(self.commands)

    def restore(self, data: bytes) -> None:
        self.commands = msgspec.msgpack.decode(data, type=list[bytes]) if data else []
        self.indexes = []


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


class Cluster:
    """Runtimes by id, each with its own data directory under ``root``."""

    def __init__(self, root: Path, ids: tuple[str, ...], founders: int, config: RuntimeConfig = FAST) -> None:
        self.root = root
        self.config = config
        self.peers = {i: ("127.0.0.1", p) for i, p in zip(ids, free_ports(len(ids)), strict=True)}
        self.founders = ids[:founders]
        self.nodes: dict[str, RaftRuntime] = {}
        self.fsms: dict[str, Journal] = {}

    async def start(self, node_id: str, *, bootstrap: bool = True) -> RaftRuntime:
        fsm = Journal()
        config = dataclasses.replace(self.config, bootstrap=bootstrap)
        peers = {i: self.peers[i] for i in (*self.founders, node_id)}  # a joiner knows the founders
        runtime = RaftRuntime(node_id, peers, self.root / node_id, fsm, config)
        await runtime.start()
        self.nodes[node_id], self.fsms[node_id] = runtime, fsm
        return runtime

    async def start_all(self) -> None:
        for node_id in self.founders:
            await self.start(node_id)

    async def stop(self, node_id: str) -> None:
        await self.nodes.pop(node_id).stop()

    async def stop_all(self) -> None:
        for node_id in list(self.nodes):
            await self.stop(node_id)

    async def leader(self, among: tuple[str, ...] | None = None) -> RaftRuntime:
        """The one runtime that leads (and that every other running one follows)."""
        ids = among or tuple(self.nodes)
        async with asyncio.timeout(5):
            while True:
                leaders = [self.nodes[i] for i in ids if self.nodes[i].is_leader]
                if len(leaders) == 1 and all(self.nodes[i].leader_id == leaders[0].node_id for i in ids):
                    return leaders[0]
                await asyncio.sleep(0.01)

    async def converged(self, count: int, among: tuple[str, ...] | None = None) -> None:
        ids = among or tuple(self.nodes)
        async with asyncio.timeout(5):
            while any(len(self.fsms[i].commands) < count for i in ids):
                await asyncio.sleep(0.01)


def run(root: Path, scenario: Callable[[Cluster], Awaitable[None]], ids: tuple[str, ...] = ("a", "b", "c"),
        founders: int = 3) -> None:
    async def main() -> None:
        cluster = Cluster(root, ids, founders)
        try:
            await scenario(cluster)
        finally:
            await cluster.stop_all()

    asyncio.run(asyncio.wait_for(main(), 60))


def test_a_leader_commits_proposals_that_every_server_applies_once_in_order(tmp_path: Path) -> None:
    async def scenario(cluster: Cluster) -> None:
        await cluster.start_all()
        leader = await cluster.leader()
        results = await asyncio.gather(*[leader.propose(f"cmd {i}".encode()) for i in range(100)])
        assert sorted(results) == list(range(1, 101))  # every proposal got its own apply result
        await cluster.converged(100)
        expected = cluster.fsms[leader.node_id].commands
        assert sorted(expected) == sorted(f"cmd {i}".encode() for i in range(100))
        for fsm in cluster.fsms.values():
            assert fsm.commands == expected
            assert fsm.indexes == sorted(fsm.indexes)

    run(tmp_path, scenario)


def test_a_follower_refuses_proposals_naming_the_leader_and_serves_linearizable_reads(tmp_path: Path) -> None:
    async def scenario(cluster: Cluster) -> None:
        await cluster.start_all()
        leader = await cluster.leader()
        follower = next(n for n in cluster.nodes.values() if n is not leader)
        with pytest.raises(NotLeader) as refused:
            await follower.propose(b"nope")
        assert refused.value.leader_id == leader.node_id
        for i in range(20):
            await leader.propose(f"w{i}".encode())
            index = await follower.read_index()  # after the write was acknowledged: it must be visible
            assert f"w{i}".encode() in cluster.fsms[follower.node_id].commands
            assert index >= i + 1

    run(tmp_path, scenario)


def test_state_survives_a_restart_of_every_server(tmp_path: Path) -> None:
    async def scenario(cluster: Cluster) -> None:
        await cluster.start_all()
        leader = await cluster.leader()
        for i in range(100):  # past two snapshot thresholds: restart from a snapshot plus a log tail
            await leader.propose(f"v{i}".encode())
        await cluster.converged(100)
        await cluster.stop_all()
        await cluster.start_all()
        leader = await cluster.leader()
        await leader.propose(b"after restart")
        await cluster.converged(101)
        for fsm in cluster.fsms.values():
            assert fsm.commands == [f"v{i}".encode() for i in range(100)] + [b"after restart"]
        snapshots = sorted(p.name for p in (tmp_path / leader.node_id / "raft").glob("*.snap"))
        assert len(snapshots) >= 2, snapshots

    run(tmp_path, scenario)


def test_a_server_far_behind_catches_up_from_a_snapshot(tmp_path: Path) -> None:
    async def scenario(cluster: Cluster) -> None:
        await cluster.start_all()
        leader = await cluster.leader()
        lagging = next(i for i in cluster.nodes if i != leader.node_id)
        await cluster.stop(lagging)
        for i in range(150):
            await leader.propose(f"x{i}".encode())
        assert leader.status().snapshot_index > 100  # the log it would need is compacted
        await cluster.start(lagging)
        await cluster.converged(150)
        assert cluster.fsms[lagging].commands == cluster.fsms[leader.node_id].commands
        assert cluster.nodes[lagging].status().stats.snapshots_installed == 1

    run(tmp_path, scenario)


def test_leadership_moves_on_request(tmp_path: Path) -> None:
    async def scenario(cluster: Cluster) -> None:
        await cluster.start_all()
        leader = await cluster.leader()
        await leader.propose(b"before")
        target = next(i for i in cluster.nodes if i != leader.node_id)
        await leader.transfer_leadership(target)
        new_leader = await cluster.leader()
        assert new_leader.node_id == target
        await new_leader.propose(b"after")
        await cluster.converged(2)

    run(tmp_path, scenario)


def test_a_new_server_joins_as_learner_then_voter_and_a_server_leaves(tmp_path: Path) -> None:
    async def scenario(cluster: Cluster) -> None:
        await cluster.start_all()
        leader = await cluster.leader()
        for i in range(60):
            await leader.propose(f"y{i}".encode())
        await cluster.start("d", bootstrap=False)
        conf = await leader.add_learner("d", cluster.peers["d"])
        assert conf.learners == ("d",)
        await cluster.converged(60, ("d",))
        conf = await leader.promote_learner("d")
        assert conf.voters == ("a", "b", "c", "d")
        removed = next(i for i in ("a", "b", "c") if i != leader.node_id)
        conf = await leader.remove_node(removed)
        assert conf.voters == tuple(sorted({"a", "b", "c", "d"} - {removed}))
        await cluster.stop(removed)
        await leader.propose(b"three voters again")
        remaining = tuple(i for i in cluster.nodes)
        await cluster.converged(61, remaining)
        assert all(cluster.fsms[i].commands == cluster.fsms["d"].commands for i in remaining)

    run(tmp_path, scenario, ids=("a", "b", "c", "d"), founders=3)


def test_a_leader_cut_off_from_its_quorum_fails_its_pending_proposals(tmp_path: Path) -> None:
    async def scenario(cluster: Cluster) -> None:
        await cluster.start_all()
        leader = await cluster.leader()
        for node_id in [i for i in cluster.nodes if i != leader.node_id]:
            await cluster.stop(node_id)
        pending = leader.propose_nowait(b"cannot commit")
        with pytest.raises(NotLeader):
            async with asyncio.timeout(3):  # check-quorum steps it down after an election timeout
                await pending
        assert not leader.is_leader
        await leader.stop()
        with pytest.raises(RuntimeStopped):
            leader.propose_nowait(b"stopped")

    run(tmp_path, scenario)
