"""Placements per second of the whole pure scheduling engine, on C1M-shaped work.

Each job is registered through the FSM with its evaluation, the evaluation goes through the eval
broker to the service scheduler (reconcile, feasibility, ranking, placement), and the plan goes
through the plan applier and the FSM into the state store: everything a leader does for a job
except Raft replication and the network. Defaults: 5,000 nodes, service jobs of count 1,000,
100,000 placements; ``--placements 1000000`` runs Nomad's C1M (a million containers).

    .venv/bin/python -m benchmarks.scheduler_bench [--placements N] [--nodes N] [--count N] [--json]

``--json`` prints one line: {"nodes", "placements", "seconds", "cpu_seconds", "placements_per_s",
"peak_rss_mb"} (and "digest" with ``--digest``). ``--digest`` also prints a sha256 of every
allocation's ID, name and node, to check that a faster scheduler still decides the same.
``--raft-bytes`` also encodes every command to bytes and decodes it before applying, as a
follower would. ``--profile`` prints the top of a cProfile run. ``--gc`` and ``--gc-threshold``
set the garbage collector's policy; the default is the server's (``cluster.scheduler.gc_tuning``:
a raised generation-0 threshold, and the heap frozen after each job's writes, as a server does
after applying a batch of entries).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import json
import pstats
import random
import resource
import sys
import time
from typing import Any

from cluster import fsm
from cluster.scheduler import gc_tuning
from cluster.scheduler.broker import EvalBroker
from cluster.scheduler.local_planner import LocalPlanner
from cluster.scheduler.worker import process_eval
from cluster.state import StateStore
from cluster.structs.base import SECOND_NS
from cluster.structs.canonicalize import canonicalize
from cluster.structs.constants import EvalStatus, EvalTrigger, NodeStatus
from cluster.structs.evaluation import Evaluation
from cluster.structs.group import EphemeralDisk, TaskGroup
from cluster.structs.job import Job
from cluster.structs.node import (
    DriverInfo,
    Node,
    NodeCpuResources,
    NodeDiskResources,
    NodeMemoryResources,
    NodeResources,
)
from cluster.structs.resources import NetworkResource, Resources
from cluster.structs.task import Task

START_NS = 1_700_000_000 * SECOND_NS


class Clock:
    """The benchmark's fake clock: one millisecond per reading."""

    def __init__(self) -> None:
        self.now = START_NS

    def __call__(self) -> int:
        self.now += 1_000_000
        return self.now


def make_node(i: int, rng: random.Random) -> Node:
    node_id = f"{rng.getrandbits(32):08x}-{rng.getrandbits(16):04x}-4{rng.getrandbits(12):03x}-" \
              f"8{rng.getrandbits(12):03x}-{i:012x}"
    return Node(
        ID=node_id, Name=f"node-{i}", Datacenter=f"dc{i % 3 + 1}", NodePool="default", Status=NodeStatus.READY,
        SchedulingEligibility="eligible", StatusUpdatedAt=START_NS // SECOND_NS,
        Attributes={"kernel.name": "linux", "arch": "amd64", "driver.docker": "1", "unique.hostname": f"node-{i}"},
        Drivers={"docker": DriverInfo(Detected=True, Healthy=True)},
        NodeResources=NodeResources(Cpu=NodeCpuResources(CpuShares=64_000), Memory=NodeMemoryResources(MemoryMB=262_144),
                                    Disk=NodeDiskResources(DiskMB=2_000_000),
                                    Networks=[NetworkResource(Mode="host", IP=f"10.0.{i // 250}.{i % 250}")]),
    )


def make_job(i: int, count: int) -> Job:
    task = Task(Name="redis", Driver="docker", Config={"image": "redis:7"}, Resources=Resources(CPU=100, MemoryMB=256))
    group = TaskGroup(Name="cache", Count=count, Tasks=[task], EphemeralDisk=EphemeralDisk(SizeMB=100))
    return canonicalize(Job(ID=f"job-{i}", Name=f"job-{i}", Type="service", Datacenters=["dc1", "dc2", "dc3"],
                            TaskGroups=[group]))


class Bench:
    def __init__(self, nodes: int, seed: int, raft_bytes: bool) -> None:
        self.rng = random.Random(seed)
        self.clock = Clock()
        self.store = StateStore()
        self.raft_bytes = raft_bytes
        self.broker = EvalBroker(self.clock)
        self.broker.set_enabled(True)
        self.planner = LocalPlanner(self.store, self.rng, self.clock, encode=raft_bytes)
        self._apply_raw(fsm.SchedulerConfigUpdate(Config=self.store.snapshot().scheduler_config()))
        for i in range(nodes):
            self._apply_raw(fsm.NodeRegister(Node=make_node(i, self.rng)))

    def _apply_raw(self, command: fsm.Command) -> Any:
        index = self.store.latest_index() + 1
        if self.raft_bytes:
            return fsm.apply(self.store, index, fsm.encode_command(command))[0]
        return fsm.apply_command(self.store, index, command)[0]

    def run_job(self, i: int, count: int) -> int:
        job = make_job(i, count)
        ev = Evaluation(ID=f"eval-{i:08d}", Namespace="default", Priority=50, Type="service",
                        TriggeredBy=EvalTrigger.JOB_REGISTER, JobID=job.ID or "", Status=EvalStatus.PENDING,
                        CreateTime=self.clock.now)
        self._apply_raw(fsm.JobRegister(Job=job, Eval=ev, SubmitTime=self.clock()))
        self.broker.enqueue(self.store.snapshot().eval_by_id(ev.ID) or ev)
        got = self.broker.dequeue(["service"])
        assert got is not None
        pending, token = got
        before = self.planner.placed
        # The server measures placements (AllocMetric.AllocationTime) with its monotonic clock.
        process_eval(self.store.snapshot(), self.planner, pending, self.rng, self.clock(),
                     clock_ns=time.perf_counter_ns)
        self.broker.ack(pending.ID, token)
        return self.planner.placed - before


def placements_digest(store: StateStore) -> str:
    """sha256 over (ID, name, node) of every allocation, in ID order: equal digests, same decisions."""
    h = hashlib.sha256()
    for alloc in sorted(store.snapshot().allocs(), key=lambda a: a.ID):
        h.update(f"{alloc.ID} {alloc.Name} {alloc.NodeID}\n".encode())
    return h.hexdigest()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--placements", type=int, default=100_000)
    parser.add_argument("--count", type=int, default=1000, help="allocations per job")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--raft-bytes", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--digest", action="store_true", help="print a digest of the placements")
    parser.add_argument("--gc", choices=("server", "freeze", "default"), default="server",
                        help="server: the server's policy (gc_tuning: raised threshold, freeze after each "
                             "job); freeze: only the freeze, Python's thresholds; default: Python's")
    parser.add_argument("--gc-threshold", type=int, default=0,
                        help="override the collector's generation-0 threshold (Python's default: 700; "
                             f"the server's: {gc_tuning.SERVER_GC_THRESHOLDS[0]})")
    args = parser.parse_args(argv)
    if args.gc == "server":
        gc_tuning.configure_for_server()
    if args.gc_threshold:
        gc.set_threshold(args.gc_threshold, *gc.get_threshold()[1:])

    bench = Bench(args.nodes, args.seed, args.raft_bytes)
    jobs = -(-args.placements // args.count)
    gc.collect()
    gc_tuning.settle_after_bulk_apply()  # what a server does after loading its state
    profiler = cProfile.Profile() if args.profile else None
    placed = 0
    first_eval_s = 0.0
    start = time.perf_counter()
    cpu_start = time.process_time()
    if profiler is not None:
        profiler.enable()
    for i in range(jobs):
        t0 = time.perf_counter()
        placed += bench.run_job(i, min(args.count, args.placements - placed))
        if i == 0:
            first_eval_s = time.perf_counter() - t0
        if args.gc != "default":
            gc_tuning.settle_after_bulk_apply()
    if profiler is not None:
        profiler.disable()
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    assert placed == args.placements, f"placed {placed} of {args.placements}"
    out: dict[str, Any] = {"nodes": args.nodes, "placements": placed, "seconds": round(seconds, 3),
                           "cpu_seconds": round(cpu_seconds, 3), "placements_per_s": round(placed / seconds),
                           "peak_rss_mb": round(peak_rss_mb(), 1)}
    if args.digest:
        out["digest"] = placements_digest(bench.store)
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{placed} placements on {args.nodes} nodes in {seconds:.2f} s: {placed / seconds:,.0f} placements/s "
              f"({placed / cpu_seconds:,.0f}/s of CPU time), first eval {first_eval_s * 1000:.1f} ms, "
              f"peak RSS {out['peak_rss_mb']} MB")
        if args.digest:
            print(f"digest {out['digest']}")
    if profiler is not None:
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
