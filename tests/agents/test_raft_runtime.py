"""Three real kvnode processes on loopback, default Raft timings, fsync on.

While clients keep writing: a leader is elected; writes are readable from every server; SIGKILL of the
leader, a new leader takes over and writes go on; the killed server restarts from its data directory and
catches up (from a snapshot, since the log it missed was compacted meanwhile); then every server is killed
at once and restarted. Through all of it, no write that a client saw acknowledged is lost.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from agents.server.kvnode import KVClient, KVError

ROOT = Path(__file__).resolve().parents[2]
IDS = ("n1", "n2", "n3")
SNAPSHOT_ENTRIES = 100


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


class Processes:
    """The three kvnode processes; a killed one restarts from its own data directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        ports = free_ports(6)
        self.raft_ports = dict(zip(IDS, ports[:3], strict=True))
        self.client_ports = dict(zip(IDS, ports[3:], strict=True))
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, node_id: str) -> None:
        peers = ",".join(f"{i}=127.0.0.1:{p}" for i, p in self.raft_ports.items())
        with (self.root / f"{node_id}.log").open("ab") as log:
            self.running[node_id] = subprocess.Popen(
                [sys.executable, "-m", "agents.server.kvnode", "--id", node_id, "--peers", peers,
                 "--client-port", str(self.client_ports[node_id]), "--data-dir", str(self.root / node_id),
                 "--snapshot-entries", str(SNAPSHOT_ENTRIES), "--keep-entries", "10", "--log-level", "INFO"],
                stdout=subprocess.DEVNULL, stderr=log, cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT), "CARAVAN_CLUSTER_KEY": "process-test-key"},
            )

    def kill(self, node_id: str) -> None:
        process = self.running.pop(node_id)
        process.send_signal(signal.SIGKILL)
        process.wait()

    def kill_all(self) -> None:
        for node_id in list(self.running):
            self.kill(node_id)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.root.glob("*.log")))


async def connect(procs: Processes, node_id: str) -> KVClient:
    async with asyncio.timeout(10):
        while True:
            try:
                return await KVClient.connect("127.0.0.1", procs.client_ports[node_id])
            except OSError:
                await asyncio.sleep(0.05)


async def leader_of(clients: dict[str, KVClient]) -> str:
    """The id every reachable server agrees leads (it may take an election)."""
    async with asyncio.timeout(10):
        while True:
            statuses = []
            for client in clients.values():
                try:
                    statuses.append(await client.status())
                except ConnectionError:
                    continue
            leaders = {s["leader"] for s in statuses}
            if len(leaders) == 1 and "" not in leaders and any(s["role"] == "leader" for s in statuses):
                return str(leaders.pop())
            await asyncio.sleep(0.05)


@dataclass
class Writers:
    """Clients writing unique keys to whoever leads; ``acked`` holds what they saw acknowledged."""

    clients: dict[str, KVClient]
    acked: dict[str, bytes] = field(default_factory=dict)
    target: str = IDS[0]
    running: bool = True
    ids: itertools.count[int] = field(default_factory=itertools.count)

    async def write(self) -> None:
        while self.running:
            n = next(self.ids)
            key, value = f"k{n:06d}", f"value of {n}".encode()
            target = self.target
            try:
                async with asyncio.timeout(2):
                    await self.clients[target].put(key, value)
                self.acked[key] = value
            except KVError as exc:
                self.target = exc.leader if exc.leader in self.clients else self._next(target)
                await asyncio.sleep(0.01)
            except (ConnectionError, TimeoutError, KeyError):
                self.target = self._next(target)
                await asyncio.sleep(0.01)

    def _next(self, target: str) -> str:
        ids = sorted(self.clients)
        return ids[(ids.index(target) + 1) % len(ids)] if target in ids else ids[0]

    async def until_acked(self, count: int, timeout_s: float = 15) -> None:
        async with asyncio.timeout(timeout_s):
            while len(self.acked) < count:
                await asyncio.sleep(0.01)


async def read(client: KVClient, key: str) -> bytes | None:
    """A linearizable read, retried as a client would while an election settles."""
    for _ in range(50):
        try:
            return await client.get(key)
        except KVError as exc:
            assert exc.error in ("not_leader", "unavailable"), exc
            await asyncio.sleep(0.1)
    raise AssertionError(f"no read of {key} succeeded")


async def all_readable(clients: dict[str, KVClient], acked: dict[str, bytes]) -> None:
    """Every acknowledged write, read linearizably from every server."""
    for node_id, client in clients.items():
        async with asyncio.timeout(20):
            values = await asyncio.gather(*[read(client, key) for key in acked])
        missing = [k for k, v in zip(acked, values, strict=True) if v != acked[k]]
        assert not missing, f"{node_id} lost {len(missing)} acknowledged writes, e.g. {missing[:5]}"


async def scenario(procs: Processes) -> None:
    for node_id in IDS:
        procs.start(node_id)
    clients = {node_id: await connect(procs, node_id) for node_id in IDS}
    first_leader = await leader_of(clients)
    writers = Writers(clients, target=first_leader)
    tasks = [asyncio.create_task(writers.write()) for _ in range(4)]
    await writers.until_acked(150)
    await all_readable(clients, dict(writers.acked))

    # SIGKILL of the leader: the two others elect a new one and the writes go on.
    procs.kill(first_leader)
    killed_at = time.monotonic()
    await clients.pop(first_leader).close()
    acked_before = len(writers.acked)
    await writers.until_acked(acked_before + 1)
    failover_s = time.monotonic() - killed_at
    new_leader = await leader_of(clients)
    assert new_leader != first_leader
    assert failover_s < 10, f"a new leader took {failover_s:.1f} s to commit"  # liveness; the benchmark times it
    await writers.until_acked(acked_before + 3 * SNAPSHOT_ENTRIES)  # the killed server's log gets compacted away

    # The killed server restarts from its data directory and catches up from a snapshot.
    procs.start(first_leader)
    clients[first_leader] = await connect(procs, first_leader)
    await writers.until_acked(len(writers.acked) + 50)
    writers.running = False
    await asyncio.gather(*tasks)
    async with asyncio.timeout(10):
        while True:
            status = await clients[first_leader].status()
            if status["applied"] >= (await clients[new_leader].status())["commit"]:
                break
            await asyncio.sleep(0.05)
    assert status["stats"]["snapshots_installed"] >= 1  # type: ignore[index]
    await all_readable(clients, writers.acked)

    # Every server dies at once; all restart from disk with every acknowledged write.
    for client in clients.values():
        await client.close()
    procs.kill_all()
    for node_id in IDS:
        procs.start(node_id)
    clients = {node_id: await connect(procs, node_id) for node_id in IDS}
    await leader_of(clients)
    await all_readable(clients, writers.acked)
    for client in clients.values():
        await client.close()


@pytest.mark.slow
def test_three_processes_lose_no_acknowledged_write_through_leader_crash_restart_and_full_crash(
    tmp_path: Path,
) -> None:
    procs = Processes(tmp_path)
    try:
        asyncio.run(asyncio.wait_for(scenario(procs), 90))
    except BaseException:
        print(procs.logs())
        raise
    finally:
        procs.kill_all()
