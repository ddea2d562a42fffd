"""Test helpers for the alloc and task runners: a fake clock, an in-memory driver and job factories.

``FakeDriver`` implements the whole ``Driver`` interface in memory. Its "processes" live in a
``FakeMachine`` that outlives a driver instance, as real processes outlive a client: a second driver
on the same machine ``recover``s them, a driver on a fresh machine cannot. Each start of a task
consumes the next ``Behaviour`` scripted for it (default: run until stopped).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agents.client.drivers.base import (
    Capabilities,
    ConfigProblem,
    Driver,
    DriverInfo,
    ExecResult,
    ExitResult,
    ResourceUsage,
    TaskConfig,
    TaskHandle,
    TaskNotFound,
    TaskStartError,
    TaskStatus,
    parse_signal,
)
from cluster.structs import (
    Allocation,
    Job,
    Node,
    RestartPolicy,
    Task,
    TaskGroup,
    TaskLifecycle,
    canonicalize,
)
from cluster.structs.base import SECOND_NS

START_NS = 1_700_000_000 * SECOND_NS


class FakeClock:
    """Time that moves only when someone sleeps; every sleep is recorded."""

    def __init__(self) -> None:
        self.now = START_NS
        self.sleeps: list[float] = []

    def now_ns(self) -> int:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += int(seconds * SECOND_NS)
        await asyncio.sleep(0)


@dataclass
class Behaviour:
    """What one start of a task does: fail to start, exit at once with ``exit``, or run until stopped
    (``exit`` None); ``ignores_signal`` makes a stop wait the whole kill timeout before SIGKILL."""

    exit: ExitResult | None = None
    start_error: str = ""
    ignores_signal: bool = False


@dataclass
class FakeProcess:
    task_id: str
    config: TaskConfig
    behaviour: Behaviour
    result: asyncio.Future[ExitResult]
    pid: int


@dataclass
class FakeMachine:
    """The processes running on the fake host, shared by every driver instance on it."""

    processes: dict[int, FakeProcess] = field(default_factory=dict)
    pids: itertools.count[int] = field(default_factory=lambda: itertools.count(100))


class FakeDriver(Driver):
    name = "fake"
    capabilities = Capabilities(send_signals=True, exec=True, fs_isolation="none")

    def __init__(self, clock: FakeClock, machine: FakeMachine | None = None) -> None:
        self.clock = clock
        self.machine = machine or FakeMachine()
        self.script: dict[str, list[Behaviour]] = {}
        self.starts: list[TaskConfig] = []
        self.stops: list[tuple[str, float | None, str | None]] = []
        self.signals: list[tuple[str, str]] = []
        self.recovered: list[str] = []
        self.execs: list[list[str]] = []
        self.log: list[str] = []  # "start web", "stop web": the order things happened in

    def plan(self, task_name: str, *behaviours: Behaviour) -> None:
        self.script.setdefault(task_name, []).extend(behaviours)

    def running(self, task_name: str) -> FakeProcess | None:
        return next((p for p in self.machine.processes.values()
                     if p.config.task_name == task_name and not p.result.done()), None)

    def exit(self, task_name: str, result: ExitResult) -> None:
        """The task's process ends by itself."""
        process = self.running(task_name)
        assert process is not None, f"{task_name} is not running"
        process.result.set_result(result)

    async def fingerprint(self) -> DriverInfo:
        return DriverInfo(Detected=True, Healthy=True)

    def validate_config(self, config: Mapping[str, Any]) -> list[ConfigProblem]:
        return []

    async def start(self, task: TaskConfig) -> TaskHandle:
        self.starts.append(task)
        self.log.append(f"start {task.task_name}")
        queue = self.script.get(task.task_name) or []
        behaviour = queue.pop(0) if queue else Behaviour()
        if behaviour.start_error:
            raise TaskStartError(behaviour.start_error)
        pid = next(self.machine.pids)
        process = FakeProcess(task.task_id, task, behaviour, asyncio.get_running_loop().create_future(), pid)
        self.machine.processes[pid] = process
        if behaviour.exit is not None:
            process.result.set_result(behaviour.exit)
        return TaskHandle(self.name, task.task_id, {"pid": pid})

    def _process(self, handle: TaskHandle) -> FakeProcess:
        process = self.machine.processes.get(handle.state["pid"])
        if process is None:
            raise TaskNotFound(f"no task {handle.task_id}")
        return process

    async def wait(self, handle: TaskHandle) -> ExitResult:
        return await asyncio.shield(self._process(handle).result)

    async def stop(self, handle: TaskHandle, timeout_s: float | None = None, signal: str | None = None) -> None:
        process = self._process(handle)
        self.stops.append((process.config.task_name, timeout_s, signal))
        self.log.append(f"stop {process.config.task_name}")
        if process.result.done():
            return
        sig = parse_signal(signal or "SIGTERM")
        if process.behaviour.ignores_signal:
            await self.clock.sleep(timeout_s or 0)
            if not process.result.done():
                process.result.set_result(ExitResult(137, 9))
            return
        process.result.set_result(ExitResult(128 + int(sig), int(sig)))

    async def signal(self, handle: TaskHandle, signal: str) -> None:
        self.signals.append((self._process(handle).config.task_name, signal))

    async def destroy(self, handle: TaskHandle, force: bool = False) -> None:
        process = self._process(handle)
        if not process.result.done():
            assert force
            process.result.set_result(ExitResult(137, 9))
        del self.machine.processes[handle.state["pid"]]

    async def inspect(self, handle: TaskHandle) -> TaskStatus:
        process = self._process(handle)
        done = process.result.done()
        return TaskStatus(handle.task_id, "exited" if done else "running", 0.0,
                          exit_result=process.result.result() if done else None)

    async def recover(self, handle_state: Mapping[str, Any]) -> TaskHandle:
        process = self.machine.processes.get(handle_state["pid"])
        if process is None:
            raise TaskNotFound(f"no process {handle_state['pid']}")
        self.recovered.append(process.config.task_name)
        return TaskHandle(self.name, process.task_id, dict(handle_state))

    async def stats(self, handle: TaskHandle) -> ResourceUsage:
        self._process(handle)
        return ResourceUsage(0.0, 0.0, 0.0, 0, 0, 1, self.clock.now)

    async def shutdown(self) -> None:
        pass

    async def exec(self, handle: TaskHandle, cmd: Sequence[str], tty: bool = False,
                   timeout_s: float = 60.0) -> ExecResult:
        self._process(handle)
        self.execs.append(list(cmd))
        return ExecResult(0 if cmd[0] != "false" else 1, b"ok\n")


def make_task(name: str, *, driver: str = "fake", hook: str = "", sidecar: bool = False, leader: bool = False,
              **fields: Any) -> Task:
    lifecycle = TaskLifecycle(Hook=hook, Sidecar=sidecar) if hook else None
    return Task(Name=name, Driver=driver, Lifecycle=lifecycle, Leader=leader, **fields)


def make_alloc(*tasks: Task, job_type: str = "service", restart: RestartPolicy | None = None,
               alloc_id: str = "a1b2c3d4-0000-4000-8000-000000000001", **job_fields: Any) -> Allocation:
    """A canonical job with one group "cache" of ``tasks``, placed as allocation index 2."""
    group = TaskGroup(Name="cache", Tasks=list(tasks), RestartPolicy=restart)
    job = canonicalize(Job(ID="example", Name="example", Type=job_type, Datacenters=["dc1"],
                           TaskGroups=[group], **job_fields))
    return Allocation(ID=alloc_id, Namespace="default", Name="example.cache[2]", NodeID="node-1", JobID="example",
                      Job=job, TaskGroup="cache", DesiredStatus="run", ClientStatus="pending")


def make_node() -> Node:
    return Node(ID="node-1", Name="worker-1", Datacenter="dc1", NodeClass="gpu",
                Attributes={"kernel.name": "linux", "cpu.numcores": "4"}, Meta={"rack": "r1"})


def policy(attempts: int, *, interval_s: int = 600, delay_s: int = 10, mode: str = "fail") -> RestartPolicy:
    return RestartPolicy(Attempts=attempts, Interval=interval_s * SECOND_NS, Delay=delay_s * SECOND_NS, Mode=mode,
                         RenderTemplates=False)
