"""Raft benchmark: Caravan's runtime against PySyncObj, each as a 3-process cluster on loopback.

    python -m benchmarks.raft_bench [--json] [--clients 64] [--depth 4] [--seconds 8] [--latency-ops 1000]

For each system, in one run:

* throughput: ``clients`` concurrent proposers, each keeping ``depth`` writes in flight, for ``seconds``
  after a one-second warm-up; commits per second counted when the proposer learns its write was applied;
* latency: one proposer, one write at a time, ``latency_ops`` of them: p50 and p99 from send to answer;
* failover: the leader's process is killed with SIGKILL; the time until a write commits on a new leader.

Caravan: three ``agents.server.kvnode`` processes, WAL with an fdatasync per batch; the proposers are a
separate process (this one) speaking the kvnode client protocol over TCP, sending to the leader.
PySyncObj (``pysyncobj==0.3.17``): three processes of a ``SyncObj`` with a ``@replicated`` set, with
``journalFile`` and ``fullDumpFile`` set; the proposers run inside the leader's process and count a write
when PySyncObj calls its callback (it has no client protocol). ``appendEntriesUseBatch=False``: with its
default (True) PySyncObj ships new entries only every ``appendEntriesPeriod`` (100 ms), which measured
614 commits/s and 100 ms latencies at depth 1; without batching it sends at once and does best.
PySyncObj's journal is an mmap that it never flushes, so its writes are not durable when acknowledged;
Caravan's are. Both use 16-byte keys and 64-byte values.

``--json`` prints one line: ``{"caravan": {"commits_per_s", "p50_ms", "p99_ms", "failover_ms", ...},
"pysyncobj": {...}, "ratio_throughput"}``. Without it, a table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VALUE = b"v" * 64


@dataclass(frozen=True, slots=True)
class Workload:
    clients: int
    depth: int
    seconds: float
    warmup_s: float
    latency_ops: int


def key_of(client: int, n: int) -> str:
    return f"c{client:03d}-{n:011d}"


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def free_ports(count: int) -> list[int]:
    """Ports the kernel hands out now; the processes bind them a moment later (a race nobody else runs)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def kill(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait()


# ---- Caravan -------------------------------------------------------------------------------------------


class CaravanCluster:
    """Three kvnode processes with their data directories under ``workdir``."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        ports = free_ports(6)
        self.ids = ["n1", "n2", "n3"]
        self.raft_ports = dict(zip(self.ids, ports[:3], strict=True))
        self.client_ports = dict(zip(self.ids, ports[3:], strict=True))
        self.key = secrets.token_hex(16)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self) -> None:
        peers = ",".join(f"{i}=127.0.0.1:{p}" for i, p in self.raft_ports.items())
        for node_id in self.ids:
            with (self.workdir / f"{node_id}.log").open("ab") as log:
                self.processes[node_id] = subprocess.Popen(
                    [sys.executable, "-m", "agents.server.kvnode", "--id", node_id, "--peers", peers,
                     "--client-port", str(self.client_ports[node_id]), "--data-dir", str(self.workdir / node_id)],
                    stdout=subprocess.DEVNULL, stderr=log, cwd=ROOT,
                    env={**child_env(), "CARAVAN_CLUSTER_KEY": self.key},
                )

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                kill(process)


async def connect_all(cluster: CaravanCluster, timeout_s: float = 10.0) -> dict[str, Any]:
    from agents.server.kvnode import KVClient

    deadline = time.monotonic() + timeout_s
    clients: dict[str, KVClient] = {}
    while len(clients) < len(cluster.ids):
        for node_id in cluster.ids:
            if node_id not in clients:
                with contextlib.suppress(OSError, TimeoutError):
                    clients[node_id] = await KVClient.connect("127.0.0.1", cluster.client_ports[node_id])
        if time.monotonic() > deadline:
            raise RuntimeError("the kvnode processes did not open their client ports")
        await asyncio.sleep(0.05)
    return clients


async def find_leader(clients: dict[str, Any], timeout_s: float = 10.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for client in clients.values():
            status = await client.status()
            if status["role"] == "leader":
                return str(status["id"])
        await asyncio.sleep(0.05)
    raise RuntimeError("no leader elected")


async def caravan_throughput(client_pool: list[Any], w: Workload) -> tuple[float, int]:
    """Commits per second, and how many writes failed (say, the leader stepped down under load)."""
    from agents.server.kvnode import KVError

    done = failed = 0
    counting = False
    stop = False

    async def proposer(client_no: int) -> None:
        nonlocal done, failed
        conn = client_pool[client_no % len(client_pool)]
        n = 0
        while not stop:
            n += 1
            try:
                await conn.put(key_of(client_no, n), VALUE)
            except (KVError, ConnectionError):
                failed += 1
                await asyncio.sleep(0.001)
                continue
            if counting:
                done += 1

    tasks = [asyncio.create_task(proposer(c)) for c in range(w.clients) for _ in range(w.depth)]
    await asyncio.sleep(w.warmup_s)
    counting = True
    start = time.monotonic()
    await asyncio.sleep(w.seconds)
    counted, elapsed = done, time.monotonic() - start
    stop = True
    await asyncio.gather(*tasks)
    return counted / elapsed, failed


async def caravan_latency(client: Any, ops: int) -> list[float]:
    latencies = []
    for n in range(ops):
        started = time.perf_counter()
        await client.put(key_of(999, n), VALUE)
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


async def caravan_failover(cluster: CaravanCluster, clients: dict[str, Any], leader: str) -> float:
    """SIGKILL the leader; ms until a write commits on one of the others (retrying every 5 ms)."""
    from agents.server.kvnode import KVError

    killed_at = time.monotonic()
    kill(cluster.processes[leader])
    survivors = [n for n in cluster.ids if n != leader]
    target = survivors[0]
    while time.monotonic() - killed_at < 15:
        try:
            await asyncio.wait_for(clients[target].put("failover", VALUE), 1.0)
            return (time.monotonic() - killed_at) * 1000
        except KVError as exc:
            target = exc.leader if exc.leader in survivors else survivors[(survivors.index(target) + 1) % 2]
        except TimeoutError:
            target = survivors[(survivors.index(target) + 1) % 2]
        await asyncio.sleep(0.005)
    raise RuntimeError("no new leader committed within 15 s")


async def run_caravan(workdir: Path, w: Workload) -> dict[str, float]:
    from agents.server.kvnode import KVClient

    cluster = CaravanCluster(workdir)
    cluster.start()
    try:
        clients = await connect_all(cluster)
        leader = await find_leader(clients)
        pool = [await KVClient.connect("127.0.0.1", cluster.client_ports[leader]) for _ in range(8)]
        before = (await clients[leader].status())["stats"]
        throughput, failed = await caravan_throughput(pool, w)
        after = (await clients[leader].status())["stats"]
        leader = await find_leader(clients)  # it may have moved under load
        latencies = await caravan_latency(clients[leader], w.latency_ops)
        for conn in pool:
            await conn.close()
        failover_ms = await caravan_failover(cluster, clients, await find_leader(clients))
        for client in clients.values():
            await client.close()
    finally:
        cluster.stop()
    batches = after["synced_batches"] - before["synced_batches"]
    entries = after["synced_entries"] - before["synced_entries"]
    return {
        "commits_per_s": round(throughput, 1),
        "p50_ms": round(percentile(latencies, 0.50), 3),
        "p99_ms": round(percentile(latencies, 0.99), 3),
        "failover_ms": round(failover_ms, 1),
        "failed_writes": failed,
        "leader_entries_per_fsync": round(entries / max(batches, 1), 1),
        "leader_fsync_ms_avg": round(1000 * (after["sync_seconds"] - before["sync_seconds"]) / max(batches, 1), 3),
    }


# ---- PySyncObj -----------------------------------------------------------------------------------------


def pysyncobj_node(node_no: int, ports: list[int], workdir: Path) -> None:
    """One PySyncObj server, driven by JSON commands on stdin, answering on stdout (a child process)."""
    from pysyncobj import FAIL_REASON, SyncObj, SyncObjConf, replicated

    class KV(SyncObj):
        def __init__(self, address: str, partners: list[str], conf: Any) -> None:
            super().__init__(address, partners, conf)
            self.data: dict[str, bytes] = {}

        @replicated
        def set(self, key: str, value: bytes) -> None:
            self.data[key] = value

    addresses = [f"127.0.0.1:{p}" for p in ports]
    conf = SyncObjConf(journalFile=str(workdir / f"p{node_no}.journal"),
                       fullDumpFile=str(workdir / f"p{node_no}.dump"), dynamicMembershipChange=False,
                       appendEntriesUseBatch=False)
    kv = KV(addresses[node_no], [a for i, a in enumerate(addresses) if i != node_no], conf)
    ok = FAIL_REASON.SUCCESS
    for line in sys.stdin:
        command = json.loads(line)
        answer: dict[str, Any]
        if command["cmd"] == "status":
            answer = {"leader": kv._isLeader(), "ready": kv.isReady()}
        elif command["cmd"] == "throughput":
            rate, failed = _pso_throughput(kv, ok, Workload(**command["workload"]))
            answer = {"commits_per_s": rate, "failed_writes": failed}
        elif command["cmd"] == "latency":
            answer = {"latencies_ms": _pso_latency(kv, ok, command["ops"])}
        elif command["cmd"] == "commit":
            answer = {"committed_at": _pso_commit_retrying(kv)}
        else:
            answer = {"error": f"unknown command {command['cmd']}"}
        print(json.dumps(answer), flush=True)


def _pso_throughput(kv: Any, ok: int, w: Workload) -> tuple[float, int]:
    """Each proposer issues its next write from the callback of the previous one (PySyncObj's thread)."""
    state = {"done": 0, "counting": False, "stop": False, "errors": 0}

    def proposer(client_no: int) -> Any:
        n = 0

        def callback(_result: Any, error: int) -> None:
            nonlocal n
            if error != ok:
                state["errors"] += 1
            elif state["counting"]:
                state["done"] += 1
            if not state["stop"]:
                n += 1
                kv.set(key_of(client_no, n), VALUE, callback=callback)

        return callback

    for client_no in range(w.clients):
        for _ in range(w.depth):
            kv.set(key_of(client_no, 0), VALUE, callback=proposer(client_no))
    time.sleep(w.warmup_s)
    state["counting"] = True
    start, first = time.monotonic(), state["done"]
    time.sleep(w.seconds)
    counted, elapsed = state["done"] - first, time.monotonic() - start
    state["stop"] = True
    time.sleep(0.5)
    return counted / elapsed, state["errors"]


def _pso_latency(kv: Any, ok: int, ops: int) -> list[float]:
    latencies = []
    finished = threading.Event()
    outcome: list[int] = []

    def callback(_result: Any, error: int) -> None:
        outcome.append(error)
        finished.set()

    for n in range(ops):
        finished.clear()
        started = time.perf_counter()
        kv.set(key_of(999, n), VALUE, callback=callback)
        finished.wait(5)
        latencies.append((time.perf_counter() - started) * 1000)
    assert all(e == ok for e in outcome), f"PySyncObj writes failed: {set(outcome)}"
    return latencies


def _pso_commit_retrying(kv: Any) -> float:
    """Retry one write every 5 ms until it commits; the monotonic time it did (shared by processes)."""
    from pysyncobj import SyncObjException

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            kv.set("failover", VALUE, sync=True, timeout=1.0)
            return time.monotonic()
        except SyncObjException:
            time.sleep(0.005)
    raise RuntimeError("PySyncObj committed nothing within 15 s of the leader's death")


class PySyncObjCluster:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.ports = free_ports(3)
        self.processes: list[subprocess.Popen[str]] = []

    def start(self) -> None:
        for node_no in range(3):
            with (self.workdir / f"p{node_no}.log").open("ab") as log:
                self.processes.append(subprocess.Popen(
                    [sys.executable, "-m", "benchmarks.raft_bench", "--pysyncobj-node", str(node_no),
                     "--ports", ",".join(map(str, self.ports)), "--dir", str(self.workdir)],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, cwd=ROOT, env=child_env(), text=True,
                ))

    def ask(self, node_no: int, command: dict[str, Any]) -> dict[str, Any]:
        process = self.processes[node_no]
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps(command) + "\n")
        process.stdin.flush()
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"PySyncObj node {node_no} died; see {self.workdir}/p{node_no}.log")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def leader(self, timeout_s: float = 15.0, among: Sequence[int] = (0, 1, 2)) -> int:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for node_no in among:
                status = self.ask(node_no, {"cmd": "status"})
                if status["leader"] and status["ready"]:
                    return node_no
            time.sleep(0.05)
        raise RuntimeError("PySyncObj elected no leader")

    def stop(self) -> None:
        for process in self.processes:
            kill(process)


def pysyncobj_failover(cluster: PySyncObjCluster, leader: int) -> float:
    """SIGKILL the leader; a survivor retries a synchronous write (PySyncObj forwards it to whoever
    leads) until one commits. Both processes read the same monotonic clock."""
    killed_at = time.monotonic()
    kill(cluster.processes[leader])
    survivor = next(i for i in range(3) if i != leader)
    committed_at = cluster.ask(survivor, {"cmd": "commit"})["committed_at"]
    return (committed_at - killed_at) * 1000


def run_pysyncobj(workdir: Path, w: Workload) -> dict[str, float]:
    cluster = PySyncObjCluster(workdir)
    cluster.start()
    try:
        leader = cluster.leader()
        workload = {"clients": w.clients, "depth": w.depth, "seconds": w.seconds, "warmup_s": w.warmup_s,
                    "latency_ops": w.latency_ops}
        measured = cluster.ask(leader, {"cmd": "throughput", "workload": workload})
        leader = cluster.leader()  # it may have moved under load
        latencies = cluster.ask(leader, {"cmd": "latency", "ops": w.latency_ops})["latencies_ms"]
        failover_ms = pysyncobj_failover(cluster, cluster.leader())
    finally:
        cluster.stop()
    return {
        "commits_per_s": round(measured["commits_per_s"], 1),
        "p50_ms": round(percentile(latencies, 0.50), 3),
        "p99_ms": round(percentile(latencies, 0.99), 3),
        "failover_ms": round(failover_ms, 1),
        "failed_writes": measured["failed_writes"],
    }


# ---- the run -------------------------------------------------------------------------------------------


@contextlib.contextmanager
def scratch_dir(parent: str | None, keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="raft-bench-", dir=parent))
    try:
        yield path
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)


def run(args: argparse.Namespace) -> dict[str, Any]:
    w = Workload(args.clients, args.depth, args.seconds, args.warmup, args.latency_ops)
    with scratch_dir(args.dir, args.keep) as workdir:
        (workdir / "caravan").mkdir()
        (workdir / "pysyncobj").mkdir()
        caravan = asyncio.run(run_caravan(workdir / "caravan", w))
        pysyncobj = run_pysyncobj(workdir / "pysyncobj", w)
    return {
        "caravan": caravan,
        "pysyncobj": pysyncobj,
        "ratio_throughput": round(caravan["commits_per_s"] / pysyncobj["commits_per_s"], 2),
        "workload": {"clients": w.clients, "depth": w.depth, "seconds": w.seconds, "latency_ops": w.latency_ops},
    }


def print_table(result: dict[str, Any]) -> None:
    rows = ["commits_per_s", "p50_ms", "p99_ms", "failover_ms", "failed_writes"]
    print(f"{'':24}{'caravan':>14}{'pysyncobj':>14}")
    for row in rows:
        print(f"{row:24}{result['caravan'][row]:>14}{result['pysyncobj'][row]:>14}")
    print(f"{'ratio_throughput':24}{result['ratio_throughput']:>14}")
    print(f"caravan leader: {result['caravan']['leader_entries_per_fsync']} entries per fsync, "
          f"{result['caravan']['leader_fsync_ms_avg']} ms per fsync")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.raft_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--depth", type=int, default=4, help="writes each client keeps in flight (pipelined)")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--latency-ops", type=int, default=1000)
    parser.add_argument("--dir", help="where the data directories go (default: the system's temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the data directories and logs")
    parser.add_argument("--pysyncobj-node", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--ports", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.pysyncobj_node is not None:
        pysyncobj_node(args.pysyncobj_node, [int(p) for p in args.ports.split(",")], Path(args.dir))
        return 0
    result = run(args)
    if args.json:
        print(json.dumps(result))
    else:
        print_table(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
