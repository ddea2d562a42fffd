"""A ``Planner`` that applies plans straight into a ``StateStore`` through the FSM, one Raft
index per write, with no network in between.

It is the leader's plan applier without Raft: ``evaluate_plan`` against the newest snapshot, then
an ``ApplyPlanResults`` command through ``cluster.fsm``. The benchmark runs on it, tests use it to
drive whole scenarios, and a single-server agent may too. Times come from the ``now_ns`` callable
and IDs from the injected random source. Evaluations it creates or re-blocks are also handed to
``on_eval`` (the eval broker or the blocked-evals tracker, in a server).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import chain
from random import Random

from cluster import fsm
from cluster.scheduler.context import new_uuid
from cluster.scheduler.plan import Plan, PlanResult
from cluster.scheduler.plan_apply import evaluate_plan, preemption_evals
from cluster.scheduler.ports import State
from cluster.state.events import EventBatch
from cluster.state.store import StateStore
from cluster.structs.evaluation import Evaluation

__all__ = ["LocalPlanner"]


class LocalPlanner:
    def __init__(self, store: StateStore, rng: Random, now_ns: Callable[[], int], *,
                 on_eval: Callable[[Evaluation], None] | None = None,
                 on_events: Callable[[EventBatch], None] | None = None, record: bool = False,
                 encode: bool = False) -> None:
        self.store = store
        self.rng = rng
        self.now_ns = now_ns
        self.on_eval = on_eval
        self.on_events = on_events
        self.record = record
        self.encode = encode  # send commands through bytes, as they travel in the Raft log
        self.plans: list[Plan] = []  # kept when recording (tests)
        self.results: list[PlanResult] = []
        self.placed = 0  # allocations committed by submitted plans, in total

    def _apply(self, command: fsm.Command) -> object:
        index = self.store.latest_index() + 1
        if self.encode:
            result, events = fsm.apply(self.store, index, fsm.encode_command(command))
        else:
            result, events = fsm.apply_command(self.store, index, command)
        if self.on_events is not None:
            self.on_events(events)
        return result

    def submit_plan(self, plan: Plan) -> tuple[PlanResult, State | None]:
        snapshot = self.store.snapshot()
        result = evaluate_plan(snapshot, plan)
        preempted = [d for diffs in result.NodePreemptions.values() for d in diffs]
        evals = preemption_evals(snapshot, preempted, lambda: new_uuid(self.rng), self.now_ns()) if preempted else []
        if not result.is_noop():
            command = fsm.ApplyPlanResults(
                EvalID=plan.EvalID, Job=plan.Job,
                AllocsUpdated=list(chain.from_iterable(result.NodeAllocation.values())),
                AllocsStopped=[d for diffs in result.NodeUpdate.values() for d in diffs],
                AllocsPreempted=preempted, Deployment=result.Deployment, DeploymentUpdates=result.DeploymentUpdates,
                PreemptionEvals=evals, UpdatedAt=self.now_ns())
            self._apply(command)
            result.AllocIndex = self.store.latest_index()
            for ev in evals:
                self._handoff(ev)
        self.placed += sum(len(allocs) for allocs in result.NodeAllocation.values())
        if self.record:
            self.plans.append(plan)
            self.results.append(result)
        refreshed = self.store.snapshot() if result.RefreshIndex else None
        return result, refreshed

    def _handoff(self, ev: Evaluation) -> None:
        if self.on_eval is not None:
            self.on_eval(ev)

    def update_eval(self, ev: Evaluation) -> None:
        self._apply(fsm.EvalUpdate(Evals=[ev]))

    def create_eval(self, ev: Evaluation) -> None:
        self._apply(fsm.EvalUpdate(Evals=[ev]))
        self._handoff(self.store.snapshot().eval_by_id(ev.ID) or ev)

    def reblock_eval(self, ev: Evaluation) -> None:
        self._apply(fsm.EvalUpdate(Evals=[ev]))
        self._handoff(self.store.snapshot().eval_by_id(ev.ID) or ev)
