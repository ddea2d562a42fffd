"""The scheduler test harness (Nomad's ``Harness``): an in-memory state store, a planner that
applies plans through the FSM and records everything, and a fake clock.

    h = Harness()
    nodes = h.add_nodes(10)
    ev = h.register(factories.job("web", count=5))
    h.process(ev)
    h.live_allocs("web")          # what is running now
    h.plans[-1], h.created_evals  # what the scheduler asked for
"""

from __future__ import annotations

import random
from typing import Any

from cluster import fsm
from cluster.scheduler.local_planner import LocalPlanner
from cluster.scheduler.plan import Plan, PlanResult
from cluster.scheduler.ports import State
from cluster.scheduler.worker import process_eval
from cluster.state import StateSnapshot, StateStore, alloc_uses_resources
from cluster.structs.alloc import Allocation
from cluster.structs.base import SECOND_NS
from cluster.structs.constants import EvalStatus, EvalTrigger
from cluster.structs.evaluation import Evaluation
from cluster.structs.job import Job
from cluster.structs.node import Node
from tests.unit.scheduler import factories

START_NS = 1_700_000_000 * SECOND_NS


class Clock:
    def __init__(self, start_ns: int = START_NS) -> None:
        self.now = start_ns

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * SECOND_NS)


class RecordingPlanner(LocalPlanner):
    """A ``LocalPlanner`` that also keeps the evaluations it was asked to create or update."""

    def __init__(self, store: StateStore, rng: random.Random, clock: Clock) -> None:
        super().__init__(store, rng, clock, record=True)
        self.created_evals: list[Evaluation] = []
        self.updated_evals: list[Evaluation] = []
        self.reblocked_evals: list[Evaluation] = []
        self.refuse_nodes: set[str] = set()  # simulate a concurrent scheduler filling these nodes

    def submit_plan(self, plan: Plan) -> tuple[PlanResult, State | None]:
        if self.refuse_nodes & set(plan.NodeAllocation):
            for node_id in self.refuse_nodes & set(plan.NodeAllocation):
                del plan.NodeAllocation[node_id]
            result, _ = super().submit_plan(plan)
            result.RefreshIndex = self.store.latest_index()
            self.refuse_nodes = set()
            return result, self.store.snapshot()
        return super().submit_plan(plan)

    def create_eval(self, ev: Evaluation) -> None:
        self.created_evals.append(ev)
        super().create_eval(ev)

    def update_eval(self, ev: Evaluation) -> None:
        self.updated_evals.append(ev)
        super().update_eval(ev)

    def reblock_eval(self, ev: Evaluation) -> None:
        self.reblocked_evals.append(ev)
        super().reblock_eval(ev)


class Harness:
    def __init__(self, seed: int = 1) -> None:
        self.store = StateStore()
        self.clock = Clock()
        self.rng = random.Random(seed)
        self.planner = RecordingPlanner(self.store, random.Random(seed + 1), self.clock)

    # -- writes through the FSM ------------------------------------------------------------------

    def apply(self, command: fsm.Command) -> Any:
        index = self.store.latest_index() + 1
        return fsm.apply(self.store, index, fsm.encode_command(command))[0]

    @property
    def snap(self) -> StateSnapshot:
        return self.store.snapshot()

    def add_node(self, node: Node | None = None, **kw: Any) -> Node:
        node = node or factories.node(**kw)
        self.apply(fsm.NodeRegister(Node=node))
        stored = self.snap.node_by_id(node.ID)
        assert stored is not None
        return stored

    def add_nodes(self, n: int, **kw: Any) -> list[Node]:
        return [self.add_node(**kw) for _ in range(n)]

    def evaluation(self, job_id: str, trigger: str = EvalTrigger.JOB_REGISTER, job_type: str = "service",
                   priority: int = 50) -> Evaluation:
        return Evaluation(ID=factories.new_id(), Namespace="default", Priority=priority, Type=job_type,
                          TriggeredBy=trigger, JobID=job_id, Status=EvalStatus.PENDING, CreateTime=self.clock.now)

    def register(self, job: Job) -> Evaluation:
        """Registers ``job`` with a pending evaluation, as ``nomad job run`` does."""
        ev = self.evaluation(job.ID or "", job_type=job.Type or "service", priority=job.Priority or 50)
        self.apply(fsm.JobRegister(Job=job, Eval=ev, SubmitTime=self.clock.now))
        stored = self.snap.eval_by_id(ev.ID)
        assert stored is not None
        return stored

    def process(self, ev: Evaluation) -> None:
        process_eval(self.snap, self.planner, ev, self.rng, self.clock.now)

    def run(self, job: Job) -> Evaluation:
        ev = self.register(job)
        self.process(ev)
        return ev

    # -- reads -----------------------------------------------------------------------------------

    def allocs(self, job_id: str) -> list[Allocation]:
        return self.snap.allocs_by_job("default", job_id)

    def live_allocs(self, job_id: str) -> list[Allocation]:
        return [a for a in self.allocs(job_id) if alloc_uses_resources(a)]

    def eval_status(self, ev: Evaluation) -> Evaluation:
        stored = self.snap.eval_by_id(ev.ID)
        assert stored is not None
        return stored

    @property
    def plans(self) -> list[Plan]:
        return self.planner.plans

    @property
    def created_evals(self) -> list[Evaluation]:
        return self.planner.created_evals
