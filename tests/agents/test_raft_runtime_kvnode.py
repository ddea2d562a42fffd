"""The kvnode client protocol over real sockets, on runtimes in this process (fast timers).

A single server commits on its own; in a cluster, a follower answers writes with the leader's id and
serves linearizable reads; concurrent writes share fsyncs (group commit).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from agents.server.kvnode import KVClient, KVError, KVServer, KVStore, parse_peers
from agents.server.raft_runtime import RaftRuntime, RuntimeConfig
from cluster.errors import InvalidInput

CONFIG = RuntimeConfig(cluster_key=b"kv test key", tick_ms=10, election_ticks=10)


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


class Node:
    def __init__(self, runtime: RaftRuntime, server: asyncio.Server, client: KVClient) -> None:
        self.runtime, self.server, self.client = runtime, server, client


async def start_nodes(root: Path, ids: tuple[str, ...]) -> dict[str, Node]:
    ports = free_ports(2 * len(ids))
    peers = {i: ("127.0.0.1", p) for i, p in zip(ids, ports, strict=False)}
    nodes = {}
    for n, node_id in enumerate(ids):
        store = KVStore()
        runtime = RaftRuntime(node_id, peers, root / node_id, store, CONFIG)
        await runtime.start()
        client_port = ports[len(ids) + n]
        server = await asyncio.start_server(KVServer(runtime, store).serve, "127.0.0.1", client_port)
        nodes[node_id] = Node(runtime, server, await KVClient.connect("127.0.0.1", client_port))
    async with asyncio.timeout(5):  # until all follow one leader that knows it leads
        while not (len({n.runtime.leader_id for n in nodes.values()} - {""}) == 1
                   and any(n.runtime.is_leader for n in nodes.values())
                   and all(n.runtime.leader_id for n in nodes.values())):
            await asyncio.sleep(0.01)
    return nodes


async def stop_nodes(nodes: dict[str, Node]) -> None:
    for node in nodes.values():
        await node.client.close()
        node.server.close()
        await node.runtime.stop()


def run(root: Path, ids: tuple[str, ...], scenario: Callable[[dict[str, Node]], Awaitable[None]]) -> None:
    async def main() -> None:
        nodes = await start_nodes(root, ids)
        try:
            await scenario(nodes)
        finally:
            await stop_nodes(nodes)

    asyncio.run(asyncio.wait_for(main(), 30))


def test_a_single_server_puts_gets_and_compares_and_sets(tmp_path: Path) -> None:
    async def scenario(nodes: dict[str, Node]) -> None:
        kv = nodes["solo"].client
        assert await kv.get("color") is None
        await kv.put("color", b"blue")
        assert await kv.get("color") == b"blue"
        assert await kv.cas("color", b"green", b"red") is False
        assert await kv.get("color") == b"blue"
        assert await kv.cas("color", b"blue", b"red") is True
        assert await kv.cas("shape", None, b"round") is True  # None: only if absent
        assert await kv.cas("shape", None, b"square") is False
        assert (await kv.get("color"), await kv.get("shape")) == (b"red", b"round")
        status = await kv.status()
        assert status["role"] == "leader" and status["keys"] == 2

    run(tmp_path, ("solo",), scenario)


def test_a_follower_names_the_leader_for_writes_and_serves_reads(tmp_path: Path) -> None:
    async def scenario(nodes: dict[str, Node]) -> None:
        leader_id = next(iter(nodes.values())).runtime.leader_id
        follower = next(node for node_id, node in nodes.items() if node_id != leader_id)
        with pytest.raises(KVError) as refused:
            await follower.client.put("k", b"v")
        assert (refused.value.error, refused.value.leader) == ("not_leader", leader_id)
        await nodes[leader_id].client.put("k", b"v")
        assert await follower.client.get("k") == b"v"

    run(tmp_path, ("a", "b", "c"), scenario)


def test_concurrent_writes_share_fsyncs(tmp_path: Path) -> None:
    async def scenario(nodes: dict[str, Node]) -> None:
        leader = nodes[next(iter(nodes.values())).runtime.leader_id]
        before = leader.runtime.status().stats.synced_batches
        await asyncio.gather(*[leader.client.put(f"key{i}", b"x" * 32) for i in range(1000)])
        batches = leader.runtime.status().stats.synced_batches - before
        assert batches <= 100, f"1000 concurrent writes took {batches} fsyncs on the leader"
        assert (await leader.client.status())["keys"] == 1000

    run(tmp_path, ("a", "b", "c"), scenario)


def test_peers_are_parsed_with_errors_that_name_the_bad_item() -> None:
    assert parse_peers("n1=127.0.0.1:7001, n2=10.0.0.2:7002") == {
        "n1": ("127.0.0.1", 7001), "n2": ("10.0.0.2", 7002)}
    with pytest.raises(ValueError, match="bad peer 'n3=host'"):
        parse_peers("n1=127.0.0.1:7001,n3=host")


def test_a_kvnode_without_a_cluster_key_refuses_to_start(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k != "CARAVAN_CLUSTER_KEY"}
    done = subprocess.run(
        [sys.executable, "-m", "agents.server.kvnode", "--id", "n1", "--peers", "n1=127.0.0.1:1",
         "--client-port", "2", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, cwd=root, env={**env, "PYTHONPATH": str(root)}, timeout=30,
    )
    assert done.returncode != 0
    assert "a cluster key is required" in done.stderr
    assert not (tmp_path / "raft").exists()  # refused before touching the data directory
    with pytest.raises(InvalidInput, match="cluster key is required"):
        RuntimeConfig(cluster_key=b"")
