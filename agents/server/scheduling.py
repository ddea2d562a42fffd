"""The leader's scheduling glue: scheduler workers, the planner they submit to, and the plan applier.

The schedulers in ``cluster.scheduler`` are synchronous and CPU-bound; Raft must never wait behind them.
So each worker runs ``process_eval`` in a thread, on an immutable state snapshot at least as new as the
evaluation, and its ``RaftPlanner`` hands every plan and evaluation update back to the event loop
(``run_coroutine_threadsafe``) and blocks the worker thread, never the loop, until Raft has committed it.
The GIL is released to the loop every few milliseconds (the interpreter's switch interval), far below
the Raft tick of 100 ms, so a busy scheduler delays a heartbeat by milliseconds, not an election timeout.

The ``PlanApplier`` takes plans one at a time, in a single task: it re-checks each plan against the
newest state (``evaluate_plan``, in a thread too), proposes what still fits as one ``ApplyPlanResults``
entry, and answers with the result and, when part of the plan was refused, the newer state to retry on.
One applier serializes plans, which is what makes the optimistic concurrency safe: two workers that
placed on the same free capacity cannot both commit it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from random import Random
from typing import TypeVar

from agents.server.fsm_adapter import StateFSM
from cluster import fsm
from cluster.errors import CaravanError, Unavailable
from cluster.scheduler import EvalBroker, evaluate_plan, process_eval
from cluster.scheduler.context import new_uuid
from cluster.scheduler.plan import Plan, PlanResult
from cluster.scheduler.plan_apply import preemption_evals
from cluster.scheduler.ports import State
from cluster.structs.evaluation import Evaluation

__all__ = ["PlanApplier", "RaftPlanner", "SchedulerWorkers"]

log = logging.getLogger(__name__)

Propose = Callable[[fsm.Command], Awaitable[object]]
_T = TypeVar("_T")

# How long a worker thread waits for the loop to commit one of its writes before giving up on the eval
# (the broker then redelivers it); far above a Raft commit, so only a stuck or demoted leader hits it.
LOOP_CALL_TIMEOUT_S = 30.0
# How long a worker waits for its state to catch up with the evaluation it dequeued.
STATE_CATCH_UP_TIMEOUT_S = 5.0


class PlanApplier:
    """Commits plans through Raft, one at a time; see the module docstring."""

    def __init__(self, fsm_: StateFSM, propose: Propose, now_ns: Callable[[], int], rng: Random) -> None:
        self._fsm = fsm_
        self._propose = propose
        self._now_ns = now_ns
        self._rng = rng
        self._queue: asyncio.Queue[tuple[Plan, asyncio.Future[tuple[PlanResult, State | None]]]] = asyncio.Queue()
        self._closed = False
        self.applied = 0  # plans committed, for tests and operators

    async def submit(self, plan: Plan) -> tuple[PlanResult, State | None]:
        """Queues ``plan`` and waits for its result. After the applier stopped (leadership lost), plans of
        the workers still running are refused at once: the next leader re-runs their evaluations."""
        if self._closed:
            raise Unavailable("the plan applier stopped: this server no longer leads")
        future: asyncio.Future[tuple[PlanResult, State | None]] = asyncio.get_running_loop().create_future()
        await self._queue.put((plan, future))
        return await future

    async def run(self) -> None:
        """Applies queued plans until cancelled; a failed plan fails only its own submitter."""
        try:
            while True:
                plan, future = await self._queue.get()
                if future.done():
                    continue
                try:
                    answer = await self._apply(plan)
                except Exception as error:  # handed to the submitter, whose eval is nacked
                    if not future.done():
                        future.set_exception(error)
                else:
                    if not future.done():
                        future.set_result(answer)
        finally:
            self._closed = True
            while not self._queue.empty():
                _plan, future = self._queue.get_nowait()
                future.cancel()

    async def _apply(self, plan: Plan) -> tuple[PlanResult, State | None]:
        snapshot = self._fsm.store.snapshot()
        result = await asyncio.to_thread(evaluate_plan, snapshot, plan)
        preempted = [d for diffs in result.NodePreemptions.values() for d in diffs]
        now_ns = self._now_ns()
        evals = preemption_evals(snapshot, preempted, lambda: new_uuid(self._rng), now_ns) if preempted else []
        if not result.is_noop():
            await self._propose(fsm.ApplyPlanResults(
                EvalID=plan.EvalID, Job=plan.Job,
                AllocsUpdated=[a for allocs in result.NodeAllocation.values() for a in allocs],
                AllocsStopped=[d for diffs in result.NodeUpdate.values() for d in diffs],
                AllocsPreempted=preempted, Deployment=result.Deployment,
                DeploymentUpdates=result.DeploymentUpdates, PreemptionEvals=evals, UpdatedAt=now_ns))
            result.AllocIndex = self._fsm.store.latest_index()
            self.applied += 1
        refreshed = self._fsm.store.snapshot() if result.RefreshIndex else None
        return result, refreshed


class RaftPlanner:
    """The ``Planner`` a worker thread schedules against: each call runs on the loop and waits for it."""

    def __init__(self, loop: asyncio.AbstractEventLoop, applier: PlanApplier, propose: Propose) -> None:
        self._loop = loop
        self._applier = applier
        self._propose = propose

    def _on_loop(self, call: Awaitable[_T]) -> _T:
        async def run() -> _T:
            return await call

        future: Future[_T] = asyncio.run_coroutine_threadsafe(run(), self._loop)
        return future.result(LOOP_CALL_TIMEOUT_S)

    def submit_plan(self, plan: Plan) -> tuple[PlanResult, State | None]:
        return self._on_loop(self._applier.submit(plan))

    def update_eval(self, ev: Evaluation) -> None:
        self._on_loop(self._propose(fsm.EvalUpdate(Evals=[ev])))

    def create_eval(self, ev: Evaluation) -> None:
        self._on_loop(self._propose(fsm.EvalUpdate(Evals=[ev])))

    def reblock_eval(self, ev: Evaluation) -> None:
        self._on_loop(self._propose(fsm.EvalUpdate(Evals=[ev])))


class SchedulerWorkers:
    """``count`` asyncio tasks that dequeue evaluations from the broker and schedule them in threads."""

    def __init__(self, broker: EvalBroker, fsm_: StateFSM, planner: RaftPlanner, schedulers: list[str],
                 now_ns: Callable[[], int], rng: Random) -> None:
        self._broker = broker
        self._fsm = fsm_
        self._planner = planner
        self._schedulers = schedulers
        self._now_ns = now_ns
        self._rng = rng
        self._work = asyncio.Event()
        self.processed = 0
        self.in_flight: set[str] = set()  # IDs of the evaluations being scheduled now

    def wake(self) -> None:
        """Something was enqueued (or a broker timer fired): idle workers look again."""
        self._work.set()

    async def run(self, worker_id: int) -> None:
        while True:
            item = self._broker.dequeue(self._schedulers)
            if item is None:
                self._work.clear()
                await self._work.wait()
                continue
            ev, token = item
            await self._process(worker_id, ev, token)

    async def _process(self, worker_id: int, ev: Evaluation, token: str) -> None:
        seed = self._rng.getrandbits(64)  # each evaluation gets its own random source, drawn on the loop
        self.in_flight.add(ev.ID)
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            snapshot = await self._fsm.wait_applied(ev.ModifyIndex, STATE_CATCH_UP_TIMEOUT_S)
            await asyncio.to_thread(process_eval, snapshot, self._planner, ev, Random(seed), self._now_ns(),
                                    clock_ns=time.perf_counter_ns)
            log.info("worker %d: evaluation %s of job %s (%s) done in %.3f s", worker_id, ev.ID, ev.JobID,
                     ev.TriggeredBy, loop.time() - started)
        except asyncio.CancelledError:
            raise
        except Exception:  # any failure of one evaluation: the broker redelivers it
            log.exception("worker %d: evaluation %s failed; nacking it", worker_id, ev.ID)
            self._settle(self._broker.nack, ev, token)
            return
        finally:
            self.in_flight.discard(ev.ID)
        self._settle(self._broker.ack, ev, token)
        self.processed += 1

    def _settle(self, how: Callable[[str, str], None], ev: Evaluation, token: str) -> None:
        try:
            how(ev.ID, token)
        except CaravanError as error:  # the broker timed the eval out meanwhile: it was redelivered
            log.warning("evaluation %s: %s", ev.ID, error)
        self.wake()
