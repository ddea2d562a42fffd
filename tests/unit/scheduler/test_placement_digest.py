"""Same seed, same decisions: a digest of everything a seeded scheduling run writes.

The scheduler's hot paths are tuned for speed (numpy windows, bulk IDs, cached per-group work,
plan apply shortcuts). Those changes must never change what the scheduler decides, so this test
runs a small seeded scenario through the whole engine (FSM -> scheduler -> plan apply -> state
store) and pins a digest of the resulting allocations (IDs, names, nodes, resources, metrics),
evaluations, deployments and job summaries. The scenario covers the fast path (plain groups in
full windows), ports, spread and affinity walks, ``distinct_hosts``, constraints, a destructive
rolling update with a deployment, a scale down, and a job that does not fit (blocked eval).

If this digest changes, the scheduler decides differently: that is a behaviour change and needs
its own reason, never a side effect of a performance change.
"""

from __future__ import annotations

import gc
import hashlib
import json
import random
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest

from benchmarks import scheduler_bench
from cluster import fsm
from cluster.scheduler.local_planner import LocalPlanner
from cluster.scheduler.worker import process_eval
from cluster.state import StateStore
from cluster.structs.base import SECOND_NS
from cluster.structs.constants import EvalStatus, EvalTrigger
from cluster.structs.evaluation import Evaluation
from cluster.structs.group import UpdateStrategy
from cluster.structs.job import Job
from tests.unit.scheduler import factories

START_NS = 1_700_000_000 * SECOND_NS

# sha256 of the scenario's final state, recorded before any performance work on this scheduler.
EXPECTED_DIGEST = "c19c83589880749051a4da974b4341ac37b3c17ccb62db3b130714ccc33c6ce1"


class _Run:
    """The seeded scenario's engine: a store, a planner and a clock, with fixed IDs everywhere."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.now_ns = START_NS
        self.store = StateStore()
        self.planner = LocalPlanner(self.store, random.Random(seed + 1), self._clock)
        self.evals = 0
        self._apply(fsm.SchedulerConfigUpdate(Config=self.store.snapshot().scheduler_config()))

    def _clock(self) -> int:
        self.now_ns += 1_000_000
        return self.now_ns

    def _apply(self, command: fsm.Command) -> Any:
        index = self.store.latest_index() + 1
        return fsm.apply(self.store, index, fsm.encode_command(command))[0]

    def add_nodes(self, n: int) -> None:
        for i in range(n):
            node = factories.node(
                node_id=f"{self.rng.getrandbits(32):08x}-0000-4000-8000-{i:012x}", name=f"node-{i}",
                dc=f"dc{i % 3 + 1}", cpu=self.rng.choice((2000, 4000, 8000)),
                memory_mb=self.rng.choice((4096, 8192, 16384)), node_class=f"class-{i % 4}",
                attrs={"rack": f"r{i % 7}", "kernel.version": f"5.{i % 5}.0"})
            self._apply(fsm.NodeRegister(Node=node))

    def run(self, job: Job) -> None:
        self.evals += 1
        ev = Evaluation(ID=f"{self.evals:08x}-0000-4000-8000-eval00000000", Namespace="default",
                        Priority=job.Priority or 50, Type=job.Type or "service",
                        TriggeredBy=EvalTrigger.JOB_REGISTER, JobID=job.ID or "", Status=EvalStatus.PENDING,
                        CreateTime=self._clock())
        self._apply(fsm.JobRegister(Job=job, Eval=ev, SubmitTime=self._clock()))
        stored = self.store.snapshot().eval_by_id(ev.ID)
        assert stored is not None
        process_eval(self.store.snapshot(), self.planner, stored, self.rng, self._clock())

    def digest(self) -> str:
        snap = self.store.snapshot()
        state = {
            "allocs": [_pick(a, _ALLOC_FIELDS) for a in sorted(snap.allocs(), key=lambda a: a.ID)],
            "evals": [_pick(e, _EVAL_FIELDS) for e in sorted(snap.evals(), key=lambda e: e.ID)],
            "deployments": [_pick(d, _DEPLOYMENT_FIELDS) for d in sorted(snap.deployments(), key=lambda d: d.ID)],
        }
        return hashlib.sha256(msgspec.json.encode(state, order="sorted")).hexdigest()


# What the scheduler decides, and nothing that other parts of the state store stamp (times and
# indexes of writes), so that the digest moves only when decisions do.
_ALLOC_FIELDS = ("ID", "Name", "NodeID", "JobID", "TaskGroup", "EvalID", "DesiredStatus", "DesiredDescription",
                 "ClientStatus", "DeploymentID", "DeploymentStatus", "PreviousAllocation", "NextAllocation",
                 "FollowupEvalID", "AllocatedResources", "Metrics")
_EVAL_FIELDS = ("ID", "JobID", "Status", "StatusDescription", "TriggeredBy", "PreviousEval", "BlockedEval",
                "FailedTGAllocs", "QueuedAllocations", "ClassEligibility", "EscapedComputedClass", "DeploymentID")
_DEPLOYMENT_FIELDS = ("ID", "JobID", "JobVersion", "Status", "TaskGroups")
_DEPLOYMENT_GROUP_FIELDS = ("DesiredTotal", "DesiredCanaries", "PlacedAllocs", "PlacedCanaries")


def _pick(obj: msgspec.Struct, fields: tuple[str, ...]) -> dict[str, Any]:
    out = {f: msgspec.to_builtins(getattr(obj, f)) for f in fields}
    if isinstance(out.get("Metrics"), dict):
        out["Metrics"].pop("AllocationTime", None)
    if isinstance(out.get("TaskGroups"), dict):
        out["TaskGroups"] = {name: {f: group.get(f) for f in _DEPLOYMENT_GROUP_FIELDS}
                             for name, group in out["TaskGroups"].items()}
    return out


def _scenario(seed: int) -> _Run:
    run = _Run(seed)
    run.add_nodes(120)
    c, s = factories.constraint, factories.spread
    run.run(factories.job("plain", count=300, cpu=100, memory_mb=128, disk_mb=50,
                          datacenters=["dc1", "dc2", "dc3"]))
    run.run(factories.job("ports", count=40, cpu=200, memory_mb=256, datacenters=["dc1", "dc2"],
                          networks=[factories.ports_network(static={"admin": 9090}, dynamic=("http", "rpc"))]))
    run.run(factories.job("spread", count=45, cpu=150, memory_mb=128, datacenters=["dc1", "dc2", "dc3"],
                          spreads=[s("${node.datacenter}", 70, {"dc1": 50, "dc2": 30, "dc3": 20})],
                          affinities=[factories.affinity("${meta.rack}", "=", "r3", 40),
                                      factories.affinity("${attr.rack}", "=", "r2", 60)]))
    run.run(factories.job("distinct", count=25, cpu=300, memory_mb=512, datacenters=["dc1", "dc2", "dc3"],
                          constraints=[c("", "distinct_hosts", "true"),
                                       c("${attr.kernel.version}", "version", ">= 5.1")]))
    update = UpdateStrategy(MaxParallel=5, MinHealthyTime=SECOND_NS, HealthyDeadline=60 * SECOND_NS,
                            ProgressDeadline=120 * SECOND_NS)
    run.run(factories.job("rolling", count=30, cpu=100, memory_mb=256, datacenters=["dc1", "dc2", "dc3"],
                          update=update))
    run.run(factories.job("rolling", count=30, cpu=100, memory_mb=300, datacenters=["dc1", "dc2", "dc3"],
                          update=update))
    run.run(factories.job("plain", count=200, cpu=100, memory_mb=128, disk_mb=50,
                          datacenters=["dc1", "dc2", "dc3"]))
    run.run(factories.job("huge", count=20, cpu=7000, memory_mb=15000, datacenters=["dc1", "dc2", "dc3"]))
    run.run(factories.job("batch", type="batch", count=60, cpu=50, memory_mb=64, datacenters=["dc2"]))
    return run


def test_a_seeded_run_decides_exactly_as_before() -> None:
    assert _scenario(7).digest() == EXPECTED_DIGEST


def test_the_digest_sees_a_different_seed() -> None:
    """The digest is sensitive to placements: another seed places differently."""
    assert _scenario(8).digest() != _scenario(7).digest()


@pytest.fixture
def restore_gc() -> Iterator[None]:
    """The benchmark applies the server's collector policy to the whole process: undo it."""
    thresholds = gc.get_threshold()
    yield
    gc.set_threshold(*thresholds)
    gc.unfreeze()


def _bench_digest(capsys: pytest.CaptureFixture[str], seed: int) -> str:
    args = ["--nodes", "60", "--placements", "300", "--count", "100", "--seed", str(seed), "--json", "--digest"]
    assert scheduler_bench.main(args) == 0
    digest: str = json.loads(capsys.readouterr().out)["digest"]
    return digest


@pytest.mark.usefixtures("restore_gc")
def test_the_benchmark_digest_pins_its_placements(capsys: pytest.CaptureFixture[str]) -> None:
    """``scheduler_bench --digest`` is how a large run proves it decided as before."""
    first = _bench_digest(capsys, 1)
    assert _bench_digest(capsys, 1) == first
    assert _bench_digest(capsys, 2) != first
