"""The alloc runner: runs one allocation's tasks in lifecycle order and reports the allocation.

Order, as Nomad runs a group::

    prestart tasks      ephemeral ones must finish successfully; sidecars must be running
    main tasks          then, once every main task has started, the poststart tasks
    ...                 a failed task (given up by its restart policy) kills its siblings; the
                        leader's death kills the others; when the main tasks are all dead the
                        sidecars and poststart tasks are stopped
    poststop tasks      run to completion after everything else, also after a stop

``ClientStatus`` follows from the task states: any failed task -> failed; else any running ->
running; else any pending -> pending; else complete. Updates go out through ``on_update`` in
batches (at most one per ``update_batch_s``), each a stub ``Allocation`` with the ID, the client
status and description and every task's state, as a Nomad client sends them.

A stop (``update`` with DesiredStatus stop or evict, or ``stop()``) kills the leader first, then
the other main and poststart tasks, then the prestart sidecars, then runs the poststop tasks.
Service checks of running tasks report through ``on_check``; the latest result of each is in
``checks``. An allocation of a deployment has its health decided here (``health.HealthTracker`` from the
group's ``update`` stanza, fed by task states and checks) and reported once as its ``DeploymentStatus``;
so has any other allocation of a service job, from the group's ``migrate`` stanza (the drainer waits on it).

``detach()`` lets go of the tasks without touching them (the client is restarting): a new alloc
runner built from ``ClientState`` reattaches to them.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from agents.client.allocdir import AllocDir
from agents.client.checks import PASSING, CheckResult
from agents.client.drivers.base import Driver
from agents.client.health import HealthTracker, tracked, tracker_for
from agents.client.state import ClientState
from agents.client.taskenv import build_task_env
from agents.client.taskrunner import Clock, TaskRunner
from cluster.errors import InvalidInput
from cluster.structs import Allocation, AllocDeploymentStatus, Node, Task, TaskEvent, TaskGroup, TaskState
from cluster.structs.base import SECOND_NS
from cluster.structs.constants import AllocClientStatus, AllocDesiredStatus, TaskEventType, TaskStateName

__all__ = ["AllocRunner", "client_status"]

PRESTART, POSTSTART, POSTSTOP = "prestart", "poststart", "poststop"


def client_status(states: Mapping[str, TaskState]) -> tuple[str, str]:
    """The allocation's client status and description from its tasks' states, as Nomad derives it."""
    kinds = {(s.State, s.State == TaskStateName.DEAD and s.Failed) for s in states.values()}
    if any(failed for _, failed in kinds):
        return AllocClientStatus.FAILED, "Failed tasks"
    names = {state for state, _ in kinds}
    if TaskStateName.RUNNING in names:
        return AllocClientStatus.RUNNING, "Tasks are running"
    if TaskStateName.PENDING in names or not names:
        return AllocClientStatus.PENDING, "No tasks have started"
    return AllocClientStatus.COMPLETE, "All tasks have completed"


def _hook(task: Task) -> str:
    return task.Lifecycle.Hook if task.Lifecycle and task.Lifecycle.Hook else ""


def _sidecar(task: Task) -> bool:
    return bool(task.Lifecycle and task.Lifecycle.Sidecar)


class AllocRunner:
    """Runs one allocation on this client. ``run`` returns when every task is dead (or on ``detach``)."""

    def __init__(
        self,
        *,
        alloc: Allocation,
        node: Node,
        drivers: Mapping[str, Driver],
        data_dir: Path,
        client_state: ClientState,
        on_update: Callable[[Allocation], None],
        clock: Clock,
        rng: random.Random,
        host_env: Mapping[str, str] | None = None,
        update_batch_s: float = 0.2,
        on_check: Callable[[CheckResult], None] | None = None,
    ) -> None:
        assert alloc.Job is not None, "an allocation handed to a client carries its job"
        self.alloc, self.node, self.clock = alloc, node, clock
        self.client_state, self.on_update, self.update_batch_s = client_state, on_update, update_batch_s
        self.alloc_dir = AllocDir(data_dir, alloc.ID)
        self.group = self._group(alloc)
        self._changed = asyncio.Event()
        self._dirty = asyncio.Event()
        self._stop_requested = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._reporter: asyncio.Task[None] | None = None
        self._main: asyncio.Task[object] | None = None
        self._finished = asyncio.Event()
        self.last_update: Allocation | None = None
        self.checks: dict[str, CheckResult] = {}  # the latest result of every service check, by check id
        self._on_check = on_check
        self.deployment_status = alloc.DeploymentStatus  # this allocation's health in its deployment
        self._health_changed = asyncio.Event()
        self._health: asyncio.Task[None] | None = None
        client_state.put_alloc(alloc)
        self.alloc_dir.build()
        self.runners: dict[str, TaskRunner] = {}
        for task in self.group.Tasks or []:
            driver = drivers.get(task.Driver)
            if driver is None:
                raise InvalidInput(f'task "{task.Name}" needs driver "{task.Driver}", which this client lacks')
            env = build_task_env(alloc=alloc, task=task, node=node, alloc_dir=self.alloc_dir,
                                 isolated=driver.capabilities.fs_isolation != "none",
                                 host_env=host_env if driver.capabilities.fs_isolation == "none" else None)
            self.runners[task.Name] = TaskRunner(
                alloc=alloc, task=task, driver=driver, alloc_dir=self.alloc_dir, task_env=env,
                client_state=client_state, on_change=self._task_changed, clock=clock, rng=rng,
                record=client_state.get_task(alloc.ID, task.Name), on_check=self._check_result)

    @staticmethod
    def _group(alloc: Allocation) -> TaskGroup:
        assert alloc.Job is not None
        for group in alloc.Job.TaskGroups or []:
            if group.Name == alloc.TaskGroup:
                return group
        raise InvalidInput(f'allocation {alloc.ID}: job {alloc.Job.ID} has no group "{alloc.TaskGroup}"')

    # -- public -----------------------------------------------------------------------------------------

    def status(self) -> tuple[str, str]:
        return client_status({name: r.state for name, r in self.runners.items()})

    async def run(self) -> None:
        """Runs the allocation to its end and sends the final update. ``detach`` cancels it."""
        self._main = asyncio.current_task()
        self._reporter = asyncio.ensure_future(self._report_loop())
        self._track_health()
        try:
            if not self._stop_wanted(self.alloc):
                await self._lifecycle()
            await self._stop_all()
        finally:
            if self._health is not None:
                self._health.cancel()
            self._reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reporter
        self._send_update()
        self._finished.set()

    def update(self, alloc: Allocation) -> None:
        """A newer version of the allocation from the servers; a stop or evict stops it."""
        assert alloc.ID == self.alloc.ID, (alloc.ID, self.alloc.ID)
        new_deployment = bool(alloc.DeploymentID) and alloc.DeploymentID != self.alloc.DeploymentID
        self.alloc = alloc
        self.client_state.put_alloc(alloc)
        if new_deployment and self._main is not None and not self._finished.is_set():
            # An in-place update by a new deployment: its health is decided afresh, as Nomad does.
            self.deployment_status = alloc.DeploymentStatus
            self._track_health()
        if self._stop_wanted(alloc):
            self._stop_requested.set()
            self._changed.set()

    async def stop(self) -> None:
        """Stops the allocation (as a desired-status stop does) and waits until ``run`` has ended."""
        self._stop_requested.set()
        self._changed.set()
        await self._finished.wait()

    async def detach(self) -> None:
        """The client is going away and leaves the tasks running: stop watching them. ``run`` ends
        with ``CancelledError``; each task's state and driver handle stay in ``ClientState``."""
        pending = [t for t in [*self._tasks, self._main] if t is not None and not t.done()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def destroy(self) -> None:
        """Removes the allocation's directory and kept state (garbage collection of a dead alloc)."""
        assert all(r.dead for r in self.runners.values()), "destroy a dead allocation only"
        self.alloc_dir.destroy()
        self.client_state.delete_alloc(self.alloc.ID)

    # -- lifecycle --------------------------------------------------------------------------------------

    @staticmethod
    def _stop_wanted(alloc: Allocation) -> bool:
        return alloc.DesiredStatus in (AllocDesiredStatus.STOP, AllocDesiredStatus.EVICT)

    def _by(self, hook: str, sidecar: bool | None = None) -> list[TaskRunner]:
        return [r for r in self.runners.values()
                if _hook(r.task) == hook and (sidecar is None or _sidecar(r.task) == sidecar)]

    async def _lifecycle(self) -> None:
        prestart, main = self._by(PRESTART), self._by("")
        self._start(prestart)
        ready = await self._until(lambda: all(
            (r.dead and not r.failed) if not _sidecar(r.task) else r.state.State == TaskStateName.RUNNING
            for r in prestart) or self._failed_any())
        if not ready or self._failed_any():
            return
        self._start(main)
        if not await self._until(lambda: all(r.state.State != TaskStateName.PENDING or r.dead for r in main)
                                 or self._failed_any()):
            return
        if not self._failed_any():
            self._start(self._by(POSTSTART))
        await self._until(lambda: all(r.dead for r in main) or self._failed_any() or self._leader_dead())

    def _start(self, runners: list[TaskRunner]) -> None:
        for runner in runners:
            if not runner.started:
                self._tasks.append(asyncio.ensure_future(runner.run()))

    async def _until(self, predicate: Callable[[], bool]) -> bool:
        """Waits until ``predicate`` holds (True) or a stop is requested (False)."""
        while True:
            if self._stop_requested.is_set():
                return False
            if predicate():
                return True
            self._changed.clear()
            await self._changed.wait()

    def _failed_any(self) -> bool:
        return any(r.failed for r in self.runners.values())

    def _leader_dead(self) -> bool:
        return any(r.task.Leader and r.dead for r in self.runners.values())

    def _reason(self) -> TaskEvent | None:
        """Why the remaining tasks are killed: a failed sibling, the leader's death, or nothing."""
        failed = next((r for r in self.runners.values() if r.failed), None)
        if failed is not None:
            return TaskEvent(Type=TaskEventType.SIBLING_FAILED, FailedSibling=failed.name)
        if self._leader_dead():
            return TaskEvent(Type=TaskEventType.LEADER_DEAD)
        return None

    async def _stop_all(self) -> None:
        """Kills what still runs (leader first, then main and poststart, then prestart sidecars) and
        runs the poststop tasks, unless the allocation has failed before any main task ran."""
        reason = self._reason()
        leaders = [r for r in self.runners.values() if r.task.Leader and _hook(r.task) != POSTSTOP]
        rest = [r for r in self._by("") + self._by(POSTSTART) if r not in leaders]
        for batch in (leaders, rest, self._by(PRESTART)):
            await asyncio.gather(*[r.kill(_copy(reason)) for r in batch if not r.dead])
        poststop = self._by(POSTSTOP)
        self._start(poststop)
        await asyncio.gather(*[r.done.wait() for r in poststop])

    # -- deployment health ------------------------------------------------------------------------------

    def _track_health(self) -> None:
        if self._health is not None:
            self._health.cancel()
        self._health = asyncio.ensure_future(self._health_loop()) if self._health_wanted() else None

    def _health_wanted(self) -> bool:
        decided = self.deployment_status is not None and self.deployment_status.Healthy is not None
        return tracked(self.alloc) and not decided and not self._stop_wanted(self.alloc)

    def _health_inputs(self) -> tuple[bool, bool, bool]:
        """(every task that should run is running, a task failed, every service check passes)."""
        running = all(r.state.State == TaskStateName.RUNNING for r in self.runners.values()
                      if _hook(r.task) == "" or (_sidecar(r.task) and _hook(r.task) != POSTSTOP))
        failed = self._failed_any()
        expected = sum(1 for r in self.runners.values() if _hook(r.task) != POSTSTOP
                       for service in r.task.Services or [] for check in service.Checks or []
                       if check.Type in ("http", "tcp", "script"))
        passing = len(self.checks) >= expected and all(c.status == PASSING for c in self.checks.values())
        return running, failed, passing

    async def _health_loop(self) -> None:
        """Feeds the tracker until it decides, then reports the decision with the next update."""
        tracker: HealthTracker | None = tracker_for(self.group, self.clock.now_ns(),
                                                    migrate=not self.alloc.DeploymentID)
        if tracker is None:
            return
        while True:
            self._health_changed.clear()
            now_ns = self.clock.now_ns()
            running, failed, passing = self._health_inputs()
            healthy = tracker.observe(now_ns, running=running, failed=failed, checks_passing=passing)
            if healthy is not None:
                canary = bool(self.alloc.DeploymentStatus and self.alloc.DeploymentStatus.Canary)
                self.deployment_status = AllocDeploymentStatus(
                    Healthy=healthy, Timestamp=datetime.fromtimestamp(now_ns / SECOND_NS, tz=UTC), Canary=canary)
                self._dirty.set()
                return
            wake_ns = tracker.next_wake_ns()
            assert wake_ns is not None
            await self._wait_health((wake_ns - now_ns) / SECOND_NS)

    async def _wait_health(self, seconds: float) -> None:
        changed = asyncio.ensure_future(self._health_changed.wait())
        timer = asyncio.ensure_future(self.clock.sleep(max(0.0, seconds)))
        try:
            await asyncio.wait({changed, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for future in (changed, timer):
                future.cancel()

    # -- reporting --------------------------------------------------------------------------------------

    def _check_result(self, result: CheckResult) -> None:
        self.checks[result.check_id] = result
        self._health_changed.set()
        if self._on_check is not None:
            self._on_check(result)

    def _task_changed(self, _runner: TaskRunner) -> None:
        self._changed.set()
        self._dirty.set()
        self._health_changed.set()

    async def _report_loop(self) -> None:
        while True:
            await self._dirty.wait()
            await self.clock.sleep(self.update_batch_s)
            self._dirty.clear()
            self._send_update()

    def _send_update(self) -> None:
        status, description = self.status()
        states = {name: msgspec.structs.replace(r.state) for name, r in self.runners.items()}
        stub = Allocation(ID=self.alloc.ID, NodeID=self.alloc.NodeID, JobID=self.alloc.JobID,
                          TaskGroup=self.alloc.TaskGroup, Namespace=self.alloc.Namespace,
                          ClientStatus=status, ClientDescription=description, TaskStates=states,
                          DeploymentStatus=self.deployment_status)
        if self.last_update is not None and _same(self.last_update, stub):
            return
        self.last_update = stub
        self.on_update(stub)


def _copy(event: TaskEvent | None) -> TaskEvent | None:
    return None if event is None else TaskEvent(**{f: getattr(event, f) for f in event.__struct_fields__})


def _same(a: Allocation, b: Allocation) -> bool:
    return (a.ClientStatus, a.ClientDescription, a.TaskStates, a.DeploymentStatus) == (
        b.ClientStatus, b.ClientDescription, b.TaskStates, b.DeploymentStatus)
