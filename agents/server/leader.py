"""The loops only the leader runs, started when this server wins an election and stopped when it loses.

On ``start`` (after a Raft barrier, so the state holds every entry committed by earlier leaders) the
leader rebuilds what lives only in memory from the replicated state, as Nomad's ``establishLeadership``:

- the eval broker gets every pending evaluation, the blocked-evals tracker every blocked one;
- heartbeat timers start for every node that is not down, each with a full TTL, so clients of the
  old leader have time to find the new one before they are declared down;
- the scheduler workers, the plan applier, the broker's timers and the reaper of failed and
  superseded evaluations start;
- the deployment watcher, the node drainer, the periodic dispatcher (which first launches each
  periodic job's one most recent missed launch) and the core garbage collector start, each reading
  the state afresh (``deploy_watch``, ``drain_loop``, ``periodic``, ``core_gc``).

While it leads, ``on_apply`` sees each committed command (``StateFSM.listeners``): evaluations a write
created or unblocked go to the broker; a node that became ready, or allocations that stopped, wake the
blocked evaluations that could use that capacity; the deployment watcher and the drainer are woken to
look at the new state, and the periodic dispatcher after a job write. On ``stop`` every task is cancelled and the broker and
tracker are emptied: the next leader rebuilds them from state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from random import Random

import msgspec

from agents.server.core_gc import CoreGC, GCSettings
from agents.server.deploy_watch import DeploymentWatchLoop
from agents.server.drain_loop import DrainLoop
from agents.server.fsm_adapter import StateFSM
from agents.server.periodic import PeriodicDispatcher
from agents.server.scheduling import PlanApplier, Propose, RaftPlanner, SchedulerWorkers
from cluster import fsm
from cluster.errors import CaravanError
from cluster.scheduler import BlockedEvals, EvalBroker, HeartbeatTracker, capacity_changes, node_down_command
from cluster.scheduler.allocs import disconnect_window_ns
from cluster.scheduler.broker import FAILED_QUEUE
from cluster.scheduler.context import new_uuid
from cluster.scheduler.heartbeat import rate_scaled_interval_ns
from cluster.state.events import EventBatch
from cluster.structs.constants import EvalStatus, NodeStatus
from cluster.structs.evaluation import Evaluation

__all__ = ["LeaderConfig", "LeaderLoops"]

log = logging.getLogger(__name__)

SECOND_NS = 1_000_000_000
DEFAULT_GC = GCSettings()  # until the agent passes the server block's settings
# Longest sleep of the timer loops: a deadline added while one sleeps is noticed within this.
MAX_TIMER_SLEEP_S = 0.25


@dataclass(frozen=True, slots=True)
class LeaderConfig:
    num_schedulers: int
    schedulers: tuple[str, ...]
    min_heartbeat_ttl_ns: int
    heartbeat_grace_ns: int
    max_heartbeats_per_second: float
    gc: GCSettings = DEFAULT_GC


class LeaderLoops:
    """Everything the leader runs; see the module docstring."""

    def __init__(self, fsm_: StateFSM, propose: Propose, config: LeaderConfig, now_ns: Callable[[], int],
                 rng: Random) -> None:
        self._fsm = fsm_
        self._propose = propose
        self._config = config
        self._now_ns = now_ns
        self._rng = rng
        self.broker = EvalBroker(now_ns)
        self.blocked = BlockedEvals()
        self.heartbeats = HeartbeatTracker(config.heartbeat_grace_ns)
        self.applier = PlanApplier(fsm_, propose, now_ns, rng)  # a new one each term (see ``start``)
        self.workers: SchedulerWorkers | None = None
        self.deployments = DeploymentWatchLoop(fsm_, propose, now_ns, self._new_id)
        self.drainer = DrainLoop(fsm_, propose, now_ns, self._new_id)
        self.periodic = PeriodicDispatcher(fsm_, propose, now_ns, self._new_id)
        self.gc = CoreGC(fsm_, propose, now_ns, config.gc)
        self._tasks: list[asyncio.Task[None]] = []
        self._timers = asyncio.Event()

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    # ---- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        """Rebuilds the in-memory state from the store and starts the loops (synchronously: no command
        can be applied between the restore and the listener taking over)."""
        assert not self._tasks, "leader loops started twice"
        loop = asyncio.get_running_loop()
        self.broker.set_enabled(True)
        self.blocked.set_enabled(True)
        self.applier = PlanApplier(self._fsm, self._propose, self._now_ns, self._rng)
        planner = RaftPlanner(loop, self.applier, self._propose)
        self.workers = SchedulerWorkers(self.broker, self._fsm, planner, list(self._config.schedulers),
                                        self._now_ns, self._rng)
        self._fsm.listeners.append(self.on_apply)
        snap = self._fsm.store.snapshot()
        for ev in snap.evals():
            self._track_eval(ev)
        for node in snap.nodes():
            if node.Status != NodeStatus.DOWN:
                self.heartbeat(node.ID)
        workers = self.workers
        self._tasks = [asyncio.create_task(workers.run(i), name=f"scheduler-worker-{i}")
                       for i in range(self._config.num_schedulers)]
        self._tasks += [
            asyncio.create_task(self.applier.run(), name="plan-applier"),
            asyncio.create_task(self._broker_timers(), name="eval-broker-timers"),
            asyncio.create_task(self._heartbeat_timers(), name="heartbeat-timers"),
        ]
        # New each term: what they remember (healthy counts seen, next launches) is rebuilt from state.
        self.deployments = DeploymentWatchLoop(self._fsm, self._propose, self._now_ns, self._new_id)
        self.drainer = DrainLoop(self._fsm, self._propose, self._now_ns, self._new_id)
        self.periodic = PeriodicDispatcher(self._fsm, self._propose, self._now_ns, self._new_id)
        self.gc = CoreGC(self._fsm, self._propose, self._now_ns, self._config.gc)
        self._tasks += [
            asyncio.create_task(self.deployments.run(), name="deployment-watcher"),
            asyncio.create_task(self.drainer.run(), name="node-drainer"),
            asyncio.create_task(self.periodic.run(), name="periodic-dispatcher"),
            asyncio.create_task(self.gc.run(), name="core-gc"),
        ]
        for task in self._tasks:
            task.add_done_callback(_report_crash)
        log.info("leader loops started: %d pending evaluations, %d nodes tracked",
                 self.broker.stats().total_ready, len(self.heartbeats))

    async def stop(self) -> None:
        if self.on_apply in self._fsm.listeners:
            self._fsm.listeners.remove(self.on_apply)
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.broker.set_enabled(False)
        self.blocked.set_enabled(False)
        self.heartbeats = HeartbeatTracker(self._config.heartbeat_grace_ns)
        log.info("leader loops stopped")

    def _new_id(self) -> str:
        return new_uuid(self._rng)

    # ---- heartbeats ------------------------------------------------------------------------------

    def heartbeat(self, node_id: str) -> int:
        """Resets the node's timer; returns the TTL the client must heartbeat within (Nomad's formula:
        scaled so the leader sees at most ``max_heartbeats_per_second``, plus a random stagger)."""
        c = self._config
        ttl_ns = rate_scaled_interval_ns(c.max_heartbeats_per_second, c.min_heartbeat_ttl_ns,
                                         len(self.heartbeats) + 1)
        ttl_ns += int(self._rng.random() * ttl_ns)
        self.heartbeats.heartbeat(node_id, self._now_ns(), ttl_ns)
        self._timers.set()
        return ttl_ns

    async def _heartbeat_timers(self) -> None:
        while True:
            for node_id in self.heartbeats.expired(self._now_ns()):
                await self._node_missed_heartbeat(node_id)
            await self._sleep_until(self.heartbeats.next_deadline_ns())

    async def _node_missed_heartbeat(self, node_id: str) -> None:
        snap = self._fsm.store.snapshot()
        node = snap.node_by_id(node_id)
        if node is None or node.Status == NodeStatus.DOWN:
            return
        command = node_down_command(snap, node_id, self._now_ns(), lambda: new_uuid(self._rng))
        log.warning("node %s missed its heartbeat: marking it %s", node_id, command.Status)
        try:
            await self._propose(command)
        except CaravanError as error:
            log.warning("node %s: could not mark it %s: %s", node_id, command.Status, error)
            self.heartbeats.heartbeat(node_id, self._now_ns(), self._config.min_heartbeat_ttl_ns)  # retry
            return
        if command.Status == NodeStatus.DISCONNECTED:
            # Its allocations wait as ``unknown`` for their disconnect window; if it stays silent that
            # long, the next miss marks it down.
            windows = [disconnect_window_ns(a) or 0 for a in snap.allocs_by_node(node_id)]
            wait_ns = max([self._config.min_heartbeat_ttl_ns, *windows])
            self.heartbeats.heartbeat(node_id, self._now_ns(), wait_ns)

    # ---- the broker ------------------------------------------------------------------------------

    async def _broker_timers(self) -> None:
        """Fires the broker's delays and nack timeouts, and reaps failed and superseded evaluations."""
        while True:
            self.broker.tick()
            assert self.workers is not None
            self.workers.wake()
            await self._reap()
            await self._sleep_until(self.broker.next_deadline_ns())

    async def _reap(self) -> None:
        updates: list[Evaluation] = []
        now_ns = self._now_ns()
        while (item := self.broker.dequeue([FAILED_QUEUE])) is not None:
            ev, token = item
            self.broker.ack(ev.ID, token)
            updates.append(_with_status(ev, EvalStatus.FAILED, "evaluation reached its delivery limit", now_ns))
        for ev in self.broker.cancelable() + self.blocked.duplicates():
            updates.append(_with_status(ev, EvalStatus.CANCELED, "superseded by a newer evaluation", now_ns))
        if updates:
            try:
                await self._propose(fsm.EvalUpdate(Evals=updates))
            except CaravanError as error:
                log.warning("could not record %d failed or canceled evaluations: %s", len(updates), error)

    async def _sleep_until(self, deadline_ns: int | None) -> None:
        delay_s = MAX_TIMER_SLEEP_S
        if deadline_ns is not None:
            delay_s = min(delay_s, max(0.0, (deadline_ns - self._now_ns()) / SECOND_NS))
        self._timers.clear()
        with contextlib.suppress(TimeoutError):  # asyncio.timeout: see deploy_watch.Wakeup.wait
            async with asyncio.timeout(delay_s):
                await self._timers.wait()

    # ---- what committed commands mean for the leader ---------------------------------------------

    def on_apply(self, index: int, command: fsm.Command, events: EventBatch) -> None:
        snap = self._fsm.store.snapshot()
        for eval_id in _eval_ids(command):
            ev = snap.eval_by_id(eval_id)
            if ev is not None:
                self._track_eval(ev)
        # Where the write made room (a node ready and eligible, an allocation finished or failed):
        # wake the evaluations blocked on those classes, and system evaluations blocked on those nodes.
        for ev in self.blocked.unblock_changes(capacity_changes(index, events.objects(), snap.node_by_id)):
            self.broker.enqueue(ev)
        if self.workers is not None:
            self.workers.wake()
        self._timers.set()
        self.deployments.wakeup.set()
        self.drainer.wakeup.set()
        if isinstance(command, fsm.JobRegister | fsm.JobDeregister | fsm.JobBatchDeregister | fsm.StateRestore):
            self.periodic.wakeup.set()  # only a job write adds, changes or removes a schedule

    def _track_eval(self, ev: Evaluation) -> None:
        if self.workers is not None and ev.ID in self.workers.in_flight:
            return  # a worker's own update of the evaluation it holds: the broker has it already
        if ev.Status == EvalStatus.PENDING:
            self.broker.enqueue(ev)
        elif ev.Status == EvalStatus.BLOCKED:
            for ready in self.blocked.block(ev):
                self.broker.enqueue(ready)


def _report_crash(task: asyncio.Task[None]) -> None:
    """A leader loop ends only when cancelled: anything else is a bug, said loudly rather than lost."""
    if not task.cancelled() and task.exception() is not None:
        log.error("leader loop %s crashed", task.get_name(), exc_info=task.exception())


def _eval_ids(command: fsm.Command) -> list[str]:
    """IDs of the evaluations a command wrote (every command names them in one of these fields)."""
    ids: list[str] = []
    single = getattr(command, "Eval", None)
    if isinstance(single, Evaluation):
        ids.append(single.ID)
    for name in ("Evals", "PreemptionEvals"):
        many = getattr(command, name, None)
        if isinstance(many, list):
            ids += [e.ID for e in many if isinstance(e, Evaluation)]
    return ids


def _with_status(ev: Evaluation, status: str, description: str, now_ns: int) -> Evaluation:
    return msgspec.structs.replace(ev, Status=status, StatusDescription=description, ModifyTime=now_ns)
