"""The docker driver: runs each task as a container of a local Docker engine, through the ``docker`` SDK.

Start pulls the image when absent (always with ``force_pull``, or a ``latest``/missing tag, as
Nomad does; or loads it from ``load``, a tarball in the task dir), creates the container named
``<task>-<alloc id>`` with Caravan's labels (``com.caravan.alloc_id``, ``com.caravan.task_name``...)
and starts it; a shipper copies its output into the task's rotating log files. A restarted client
recovers its containers by id, or by those labels when the id it kept is stale, and resumes the log
stream from the last entry it wrote. Stop sends the task's kill signal, waits the kill timeout, then
kills. See ``docker_config`` for networking (host mode and port variables) and mounts.

Every SDK call blocks, so each runs in a thread: short ones on asyncio's executor, waits and log
streams on threads of their own (``in_thread``).
"""

from __future__ import annotations

import asyncio
import signal as signal_module
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agents.client.drivers.base import (
    Capabilities,
    ConfigProblem,
    Driver,
    DriverError,
    DriverInfo,
    ExecResult,
    ExecStream,
    ExitResult,
    InvalidTaskConfig,
    ResourceUsage,
    TaskConfig,
    TaskHandle,
    TaskNotFound,
    TaskStatus,
    in_thread,
    parse_signal,
    signal_then_kill,
)
from agents.client.drivers.docker_config import (
    LABEL_ALLOC_ID,
    LABEL_TASK_NAME,
    DockerPluginConfig,
    container_settings,
    port_problems,
    validate_task_config,
)
from agents.client.drivers.docker_engine import Engine
from agents.client.drivers.docker_exec import start_docker_exec_stream
from agents.client.drivers.docker_logs import ContainerLogShipper, parse_timestamp_ns
from agents.client.drivers.logs import LogRotation
from agents.client.drivers.procstat import CpuMeter
from cluster.errors import InvalidInput

__all__ = ["DockerDriver"]

STATE_VERSION = 1
KILL_WAIT_S = 30.0
LOG_DRAIN_TIMEOUT_S = 5.0
POSITIONS_FILE = "docker_logs.json"


@dataclass(slots=True)
class _Container:
    """What this driver instance knows of one task's container."""

    handle: TaskHandle
    container_id: str
    started_at_s: float
    tty: bool
    cpu: CpuMeter
    logs: ContainerLogShipper
    result: ExitResult | None = None
    completed_at_s: float = 0.0
    exited: asyncio.Task[ExitResult] | None = None


class DockerDriver(Driver):
    name = "docker"
    capabilities = Capabilities(send_signals=True, exec=True, fs_isolation="image")

    def __init__(self, plugin_config: Mapping[str, Any] | None = None) -> None:
        self.plugin = DockerPluginConfig.parse(plugin_config)
        self.engine = Engine(self.plugin.endpoint)
        self._tasks: dict[str, _Container] = {}

    # -- fingerprint and validation ---------------------------------------------------------------

    async def fingerprint(self) -> DriverInfo:
        now = datetime.now(UTC)
        try:
            facts = await asyncio.to_thread(self.engine.facts)
        except DriverError as e:
            return DriverInfo(Detected=False, Healthy=False, UpdateTime=now,
                              HealthDescription=f"Failed to connect to docker daemon: {e}")
        attributes = {
            "driver.docker": "1",
            "driver.docker.version": facts["version"],
            "driver.docker.os_type": facts["os_type"],
            "driver.docker.runtimes": facts["runtimes"],
            "driver.docker.privileged.enabled": str(self.plugin.allow_privileged).lower(),
            "driver.docker.volumes.enabled": str(self.plugin.volumes_enabled).lower(),
        }
        return DriverInfo(Detected=True, Healthy=True, HealthDescription="Healthy", UpdateTime=now,
                          Attributes=attributes)

    def validate_config(self, config: Mapping[str, Any]) -> list[ConfigProblem]:
        return validate_task_config(config, self.plugin)

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self, task: TaskConfig) -> TaskHandle:
        problems = self.validate_config(task.config) or port_problems(task)
        if problems:
            raise InvalidTaskConfig(self.name, problems)
        if task.task_id in self._tasks and self._tasks[task.task_id].result is None:
            raise DriverError(f"task {task.task_id} is already running")
        for directory in (task.log_dir, task.local_dir, task.secrets_dir, task.driver_dir):
            directory.mkdir(parents=True, exist_ok=True)
        self._let_go(task.task_id)
        (task.driver_dir / POSITIONS_FILE).unlink(missing_ok=True)  # a new container: all of its output
        await self.engine.ensure_image(task.config, task.task_dir)
        settings = container_settings(task)
        container_id, started_at = await asyncio.to_thread(self.engine.create_and_start, settings)
        state = {
            "version": STATE_VERSION, "task_id": task.task_id, "alloc_id": task.alloc_id,
            "task_name": task.task_name, "container_id": container_id, "started_at_s": started_at,
            "tty": settings["tty"], "log_dir": str(task.log_dir.resolve()),
            "max_files": task.logs.max_files, "max_file_size_mb": task.logs.max_file_size_mb,
            "driver_dir": str(task.driver_dir.resolve()),
            "kill_signal": task.kill_signal, "kill_timeout_s": task.kill_timeout_s,
        }
        return self._adopt(state).handle

    async def wait(self, handle: TaskHandle) -> ExitResult:
        return await asyncio.shield(self._exited(self._get(handle)))

    async def stop(
        self, handle: TaskHandle, timeout_s: float | None = None, signal: str | None = None
    ) -> None:
        rt = self._get(handle)

        async def send(sig: signal_module.Signals) -> None:
            await asyncio.to_thread(self.engine.kill, rt.container_id, sig.name)

        await signal_then_kill(
            rt.handle.state, self._exited(rt), signal=signal, timeout_s=timeout_s, send=send,
            kill=lambda: self._kill(rt),
        )

    async def signal(self, handle: TaskHandle, signal: str) -> None:
        rt = self._get(handle)
        sig = parse_signal(signal)
        if not await asyncio.to_thread(self.engine.kill, rt.container_id, sig.name):
            raise DriverError(f"task {rt.handle.task_id} is not running")

    async def destroy(self, handle: TaskHandle, force: bool = False) -> None:
        rt = self._get(handle)
        if not self._exited(rt).done():
            if not force:
                raise DriverError(f"task {rt.handle.task_id} is still running: stop it first, or force")
            await self._kill(rt)
        await asyncio.to_thread(rt.logs.join, LOG_DRAIN_TIMEOUT_S)
        if self.plugin.gc_container:
            await asyncio.to_thread(self.engine.remove, rt.container_id)
        del self._tasks[rt.handle.task_id]

    async def inspect(self, handle: TaskHandle) -> TaskStatus:
        rt = self._get(handle)
        attributes = {"container_id": rt.container_id}
        if rt.result is None:
            running = await asyncio.to_thread(self.engine.is_running, rt.container_id)
            if not running:
                await self._exited(rt)
        if rt.result is None:
            return TaskStatus(rt.handle.task_id, "running", rt.started_at_s, attributes=attributes)
        return TaskStatus(rt.handle.task_id, "exited", rt.started_at_s, rt.completed_at_s, rt.result,
                          attributes)

    async def recover(self, handle_state: Mapping[str, Any]) -> TaskHandle:
        state = dict(handle_state)
        if state.get("version") != STATE_VERSION:
            raise TaskNotFound(f"unknown docker handle state version {state.get('version')!r}")
        missing = sorted({"task_id", "alloc_id", "task_name", "tty", "log_dir", "driver_dir", "max_files",
                          "max_file_size_mb", "kill_signal", "kill_timeout_s"} - set(state))
        if missing:
            raise TaskNotFound(f"malformed docker handle state: no {', '.join(missing)}")
        found = await asyncio.to_thread(
            self.engine.find, state.get("container_id", ""), state["alloc_id"], state["task_name"])
        if found is None:
            raise TaskNotFound(
                f"task {state['task_id']}: no container with id {state.get('container_id', '')[:12]!r} "
                f"or labels {LABEL_ALLOC_ID}={state['alloc_id']}, {LABEL_TASK_NAME}={state['task_name']}")
        state["container_id"], state["started_at_s"] = found
        return self._adopt(state).handle

    async def shutdown(self) -> None:
        """Stops shipping logs at a point the next client resumes from exactly, forgets the tasks (they
        keep running) and closes the connections to the engine."""
        for rt in self._tasks.values():
            rt.logs.detach()
            if rt.exited is not None:
                rt.exited.cancel()
        self._tasks.clear()
        self.engine.close()

    # -- observation ------------------------------------------------------------------------------

    async def stats(self, handle: TaskHandle) -> ResourceUsage:
        rt = self._get(handle)
        sample = await asyncio.to_thread(self.engine.stats, rt.container_id)
        if sample is None:
            raise DriverError(f"task {rt.handle.task_id} is not running")
        cpu = sample.get("cpu_stats", {}).get("cpu_usage", {})
        memory = sample.get("memory_stats", {})
        memory_detail = memory.get("stats", {})
        rss = int(memory_detail.get("rss", memory_detail.get("anon", 0)))
        total_s = int(cpu.get("total_usage", 0)) / 1e9
        return ResourceUsage(
            cpu_percent=rt.cpu.percent(total_s), cpu_user_s=int(cpu.get("usage_in_usermode", 0)) / 1e9,
            cpu_system_s=int(cpu.get("usage_in_kernelmode", 0)) / 1e9, memory_rss_bytes=rss,
            memory_usage_bytes=int(memory.get("usage", 0)),
            pids=int(sample.get("pids_stats", {}).get("current", 0)),
            timestamp_ns=time.time_ns(),
        )

    async def exec(
        self, handle: TaskHandle, cmd: Sequence[str], tty: bool = False, timeout_s: float = 60.0
    ) -> ExecResult:
        rt = self._get(handle)
        if not cmd:
            raise InvalidInput("exec needs a command")
        run = in_thread(lambda: self.engine.exec(rt.container_id, list(cmd), tty),
                        name=f"exec {rt.handle.task_id}")
        try:
            return await asyncio.wait_for(run, timeout_s)
        except TimeoutError:
            raise DriverError(f"exec of {cmd[0]} timed out after {timeout_s:g}s") from None

    async def exec_streaming(
        self, handle: TaskHandle, cmd: Sequence[str], *, tty: bool = False, height: int = 0, width: int = 0
    ) -> ExecStream:
        rt = self._get(handle)
        if not cmd:
            raise InvalidInput("exec needs a command")
        if rt.result is not None:
            raise DriverError(f"task {rt.handle.task_id} is not running")
        return await start_docker_exec_stream(self.engine, rt.container_id, list(cmd), tty=tty, height=height,
                                              width=width)

    # -- internals --------------------------------------------------------------------------------

    def _get(self, handle: TaskHandle) -> _Container:
        rt = self._tasks.get(handle.task_id)
        if rt is None or handle.driver != self.name:
            raise TaskNotFound(f"no docker task {handle.task_id} in this driver: recover it first")
        return rt

    def _let_go(self, task_id: str) -> None:
        """Stops this instance's shipper of ``task_id``, if any, before a new one reads the positions."""
        previous = self._tasks.pop(task_id, None)
        if previous is not None:
            previous.logs.detach()

    def _adopt(self, state: dict[str, Any]) -> _Container:
        self._let_go(state["task_id"])
        shipper = ContainerLogShipper(
            self.engine.api, state["container_id"], tty=bool(state["tty"]), log_dir=Path(state["log_dir"]),
            task_name=state["task_name"],
            rotation=LogRotation(int(state["max_files"]), int(state["max_file_size_mb"])),
            positions_path=Path(state["driver_dir"]) / POSITIONS_FILE,
        )
        started_at_s = float(state["started_at_s"])
        rt = _Container(TaskHandle(self.name, state["task_id"], state), state["container_id"], started_at_s,
                        bool(state["tty"]), CpuMeter(started_at_s), shipper)
        self._tasks[rt.handle.task_id] = rt
        shipper.start()
        return rt

    def _exited(self, rt: _Container) -> asyncio.Task[ExitResult]:
        """One watcher per container, shared by every waiter; it also lets the log streams drain, so
        the files are complete when a wait returns."""
        if rt.exited is None:
            rt.exited = asyncio.ensure_future(self._watch(rt))
        return rt.exited

    async def _watch(self, rt: _Container) -> ExitResult:
        status = await in_thread(lambda: self.engine.wait(rt.container_id), name=f"wait {rt.handle.task_id}")
        await asyncio.to_thread(rt.logs.join, LOG_DRAIN_TIMEOUT_S)
        finished_ns = parse_timestamp_ns(status["finished_at"]) if status.get("finished_at") else 0
        rt.completed_at_s = finished_ns / 1e9 if finished_ns > 0 else time.time()
        rt.result = ExitResult(int(status["exit_code"]), oom_killed=bool(status.get("oom_killed")),
                               error=str(status.get("error") or ""))
        return rt.result

    async def _kill(self, rt: _Container) -> None:
        exited = self._exited(rt)
        await asyncio.to_thread(self.engine.kill, rt.container_id, "SIGKILL")
        try:
            await asyncio.wait_for(asyncio.shield(exited), KILL_WAIT_S)
        except TimeoutError:
            raise DriverError(f"task {rt.handle.task_id} did not exit {KILL_WAIT_S:g}s after SIGKILL") \
                from None
