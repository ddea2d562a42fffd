"""The raw_exec driver: runs a command directly on the client, without isolation, as Nomad's does.

Off unless the client's ``plugin "raw_exec" { config { enabled = true } }`` turns it on. Each task
runs under its own executor process (``executor.py``), which owns the task's pipes and exit status,
so the task, its log rotation and its exit code all survive a client restart; ``recover`` finds the
executor and the task again by pid *and* start time, so a recycled pid is never adopted.

The task runs in a process group of its own: signals go to the whole group, and when the main
process exits whatever it left behind in the group is killed. The environment is exactly
``TaskConfig.env`` (the caller decides what of the client's environment to pass), minus
``denied_envvars``, with the port variables of host networking (``host_network_port_env``).
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import os
import signal as signal_module
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from agents.client.drivers.base import (
    Capabilities,
    ConfigProblem,
    Driver,
    DriverDisabled,
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
    TaskStartError,
    TaskStatus,
    host_network_port_env,
    in_thread,
    parse_signal,
    signal_then_kill,
)
from agents.client.drivers.executor import popen_user_kwargs, read_exit_file
from agents.client.drivers.processes import process_exit, run_to_completion
from agents.client.drivers.procstat import CpuMeter, ProcessIdentity, tree_usage
from agents.client.drivers.raw_exec_stream import start_raw_exec_stream
from cluster.errors import InvalidInput
from cluster.jobspec.drivers import check_driver_config

__all__ = ["RawExecDriver"]

ROOT = Path(__file__).resolve().parents[3]
EXECUTOR_MODULE = "agents.client.drivers.executor"
START_TIMEOUT_S = 30.0
# After SIGKILL the executor still drains the pipes (bounded by executor.DRAIN_TIMEOUT_S).
KILL_WAIT_S = 15.0
STATE_VERSION = 1
DISABLED = "disabled: the client's raw_exec plugin config needs enabled = true"
PLUGIN_OPTIONS = {"enabled", "no_cgroups"}  # no_cgroups: accepted for Nomad configs; Caravan uses none


@dataclass(slots=True)
class _Task:
    """What this driver instance knows of one task it started or recovered."""

    handle: TaskHandle
    executor: ProcessIdentity
    task: ProcessIdentity
    started_at_s: float
    exit_file: Path
    cpu: CpuMeter
    result: ExitResult | None = None
    completed_at_s: float = 0.0
    exited: asyncio.Task[ExitResult] | None = field(default=None)


class RawExecDriver(Driver):
    name = "raw_exec"
    capabilities = Capabilities(send_signals=True, exec=True, fs_isolation="none")

    def __init__(self, plugin_config: Mapping[str, Any] | None = None) -> None:
        config = dict(plugin_config or {})
        unknown = sorted(set(config) - PLUGIN_OPTIONS)
        if unknown:
            raise InvalidInput(f'unknown raw_exec plugin option "{unknown[0]}"')
        enabled = config.get("enabled", False)
        if not isinstance(enabled, bool):
            raise InvalidInput('raw_exec plugin option "enabled" must be a bool')
        self.enabled = enabled
        self._tasks: dict[str, _Task] = {}

    # -- fingerprint and validation ---------------------------------------------------------------

    async def fingerprint(self) -> DriverInfo:
        now = datetime.now(UTC)
        if not self.enabled:
            return DriverInfo(Detected=False, Healthy=False, UpdateTime=now, HealthDescription=DISABLED)
        return DriverInfo(Detected=True, Healthy=True, HealthDescription="Healthy", UpdateTime=now,
                          Attributes={"driver.raw_exec": "1"})

    def validate_config(self, config: Mapping[str, Any]) -> list[ConfigProblem]:
        problems = [ConfigProblem(k, m) for k, m in check_driver_config(self.name, dict(config))]
        command = config.get("command")
        if isinstance(command, str) and not command.strip():
            problems.append(ConfigProblem("command", "must not be empty"))
        return problems

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self, task: TaskConfig) -> TaskHandle:
        if not self.enabled:
            raise DriverDisabled(f"the raw_exec driver is {DISABLED}")
        problems = self.validate_config(task.config)
        if problems:
            raise InvalidTaskConfig(self.name, problems)
        if task.task_id in self._tasks and self._tasks[task.task_id].result is None:
            raise DriverError(f"task {task.task_id} is already running")
        parse_signal(task.kill_signal)
        spec = self._executor_spec(task)
        task.driver_dir.mkdir(parents=True, exist_ok=True)
        Path(spec["exit_file"]).unlink(missing_ok=True)
        answer = await self._launch_executor(task.driver_dir, spec)
        if "error" in answer:
            raise TaskStartError(f"task {task.task_id}: {answer['error']}")
        state = {
            "version": STATE_VERSION, "task_id": task.task_id,
            "executor": answer["executor"], "task": answer["task"], "started_at_s": answer["started_at_s"],
            "exit_file": spec["exit_file"],
            "cwd": spec["cwd"], "env": spec["env"], "user": task.user,
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
            rt.task.signal_group(sig)

        await signal_then_kill(
            rt.handle.state, self._exited(rt), signal=signal, timeout_s=timeout_s, send=send,
            kill=lambda: self._kill(rt),
        )

    async def signal(self, handle: TaskHandle, signal: str) -> None:
        rt = self._get(handle)
        sig = parse_signal(signal)
        if rt.result is not None or not rt.task.signal_group(sig):
            raise DriverError(f"task {rt.handle.task_id} is not running")

    async def destroy(self, handle: TaskHandle, force: bool = False) -> None:
        rt = self._get(handle)
        if not self._exited(rt).done():
            if not force:
                raise DriverError(f"task {rt.handle.task_id} is still running: stop it first, or force")
            await self._kill(rt)
        rt.exit_file.unlink(missing_ok=True)
        del self._tasks[rt.handle.task_id]

    async def inspect(self, handle: TaskHandle) -> TaskStatus:
        rt = self._get(handle)
        attributes = {"pid": str(rt.task.pid), "executor_pid": str(rt.executor.pid)}
        if rt.result is None and not rt.executor.alive():
            await self._exited(rt)
        if rt.result is None:
            return TaskStatus(rt.handle.task_id, "running", rt.started_at_s, attributes=attributes)
        return TaskStatus(rt.handle.task_id, "exited", rt.started_at_s, rt.completed_at_s, rt.result,
                          attributes)

    async def recover(self, handle_state: Mapping[str, Any]) -> TaskHandle:
        state = json.loads(json.dumps(dict(handle_state)))  # a private, plain copy
        if state.get("version") != STATE_VERSION:
            raise TaskNotFound(f"unknown raw_exec handle state version {state.get('version')!r}")
        try:
            rt = self._adopt(state)
        except (KeyError, TypeError, ValueError) as e:
            raise TaskNotFound(f"malformed raw_exec handle state: {e!r}") from None
        if rt.executor.alive() or read_exit_file(rt.exit_file) is not None:
            return rt.handle
        # The executor died without recording an exit: nothing ships the task's output or will see it
        # end, so a task still running is killed rather than left unmanaged.
        del self._tasks[rt.handle.task_id]
        killed = rt.task.signal_group(signal_module.SIGKILL)
        detail = "; its task was killed" if killed else ""
        raise TaskNotFound(f"task {rt.handle.task_id}: its executor is gone{detail}")

    async def shutdown(self) -> None:
        """Nothing to let go of but the bookkeeping: the executors carry on by themselves."""
        for rt in self._tasks.values():
            if rt.exited is not None:
                rt.exited.cancel()
        self._tasks.clear()

    # -- observation ------------------------------------------------------------------------------

    async def stats(self, handle: TaskHandle) -> ResourceUsage:
        rt = self._get(handle)
        process = rt.task.process()
        if rt.result is not None or process is None:
            raise DriverError(f"task {rt.handle.task_id} is not running")
        usage = await asyncio.to_thread(tree_usage, process)
        cpu_total_s = usage.cpu_user_s + usage.cpu_system_s
        return ResourceUsage(
            cpu_percent=rt.cpu.percent(cpu_total_s), cpu_user_s=usage.cpu_user_s,
            cpu_system_s=usage.cpu_system_s, memory_rss_bytes=usage.memory_rss_bytes,
            memory_usage_bytes=usage.memory_rss_bytes, pids=usage.pids, timestamp_ns=time.time_ns(),
        )

    async def exec(
        self, handle: TaskHandle, cmd: Sequence[str], tty: bool = False, timeout_s: float = 60.0
    ) -> ExecResult:
        rt = self._get(handle)
        if not cmd:
            raise InvalidInput("exec needs a command")
        state = rt.handle.state
        try:
            user_kwargs = popen_user_kwargs(state["user"])
        except ValueError as e:
            raise DriverError(str(e)) from None

        def run() -> ExecResult:
            return run_to_completion(list(cmd), env=state["env"], cwd=state["cwd"], tty=tty,
                                     timeout_s=timeout_s, popen_kwargs=user_kwargs)

        try:
            return await in_thread(run, name=f"exec {rt.handle.task_id}")
        except OSError as e:
            raise DriverError(f"exec of {cmd[0]} failed: {e.strerror or e}") from None

    async def exec_streaming(
        self, handle: TaskHandle, cmd: Sequence[str], *, tty: bool = False, height: int = 0, width: int = 0
    ) -> ExecStream:
        rt = self._get(handle)
        if not cmd:
            raise InvalidInput("exec needs a command")
        if rt.result is not None or not rt.executor.alive():
            raise DriverError(f"task {rt.handle.task_id} is not running")
        state = rt.handle.state
        try:
            user_kwargs = popen_user_kwargs(state["user"])
        except ValueError as e:
            raise DriverError(str(e)) from None
        return await start_raw_exec_stream(list(cmd), env=state["env"], cwd=state["cwd"], tty=tty, height=height,
                                           width=width, popen_kwargs=user_kwargs)

    # -- internals --------------------------------------------------------------------------------

    def _get(self, handle: TaskHandle) -> _Task:
        rt = self._tasks.get(handle.task_id)
        if rt is None or handle.driver != self.name:
            raise TaskNotFound(f"no raw_exec task {handle.task_id} in this driver: recover it first")
        return rt

    def _adopt(self, state: dict[str, Any]) -> _Task:
        started_at_s = float(state["started_at_s"])
        rt = _Task(
            handle=TaskHandle(self.name, state["task_id"], state),
            executor=ProcessIdentity.from_json(state["executor"]),
            task=ProcessIdentity.from_json(state["task"]),
            started_at_s=started_at_s, exit_file=Path(state["exit_file"]),
            cpu=CpuMeter(started_at_s),
        )
        self._tasks[rt.handle.task_id] = rt
        return rt

    def _exited(self, rt: _Task) -> asyncio.Task[ExitResult]:
        """One watcher per task, shared by every waiter: the executor's exit is the task's end."""
        if rt.exited is None:
            rt.exited = asyncio.ensure_future(self._watch(rt))
        return rt.exited

    async def _watch(self, rt: _Task) -> ExitResult:
        await process_exit(rt.executor)
        recorded = read_exit_file(rt.exit_file)
        if recorded is None:
            rt.task.signal_group(signal_module.SIGKILL)
            result = ExitResult(-1, error="the task's executor died without recording the exit; task killed")
            rt.completed_at_s = time.time()
        else:
            result = ExitResult(int(recorded["exit_code"]), int(recorded["signal"]))
            rt.completed_at_s = float(recorded["finished_at_s"])
        rt.result = result
        return result

    async def _kill(self, rt: _Task) -> None:
        exited = self._exited(rt)
        rt.task.signal_group(signal_module.SIGKILL)
        try:
            await asyncio.wait_for(asyncio.shield(exited), KILL_WAIT_S)
        except TimeoutError:
            raise DriverError(f"task {rt.handle.task_id} did not exit {KILL_WAIT_S:g}s after SIGKILL") \
                from None

    def _executor_spec(self, task: TaskConfig) -> dict[str, Any]:
        config = task.config
        work_dir = config.get("work_dir") or ""
        cwd = (task.task_dir / work_dir).resolve()
        command = str(config["command"])
        if "/" in command and not os.path.isabs(command):
            command = str((task.task_dir / command).resolve())
        denied = list(config.get("denied_envvars") or [])
        env = {k: v for k, v in {**task.env, **host_network_port_env(task.ports)}.items()
               if not any(fnmatch.fnmatchcase(k, pattern) for pattern in denied)}
        return {
            "argv": [command, *[str(a) for a in config.get("args") or []]],
            "env": env, "cwd": str(cwd), "user": task.user,
            "log_dir": str(task.log_dir.resolve()), "task_name": task.task_name,
            "max_files": task.logs.max_files, "max_file_size_mb": task.logs.max_file_size_mb,
            "exit_file": str((task.driver_dir / "exit.json").resolve()),
            "oom_score_adj": config.get("oom_score_adj"),
        }

    async def _launch_executor(self, driver_dir: Path, spec: dict[str, Any]) -> dict[str, Any]:
        """Starts the executor in a session of its own (so it outlives the client and never gets the
        client's terminal signals) and waits, bounded, for its one-line answer. The process started
        here only forks the executor and exits; it is reaped at once."""
        with open(driver_dir / "executor.log", "ab") as log:
            child = subprocess.Popen(
                [sys.executable, "-m", EXECUTOR_MODULE],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, cwd="/",
                env={"PYTHONPATH": str(ROOT), "PATH": os.environ.get("PATH", os.defpath)},
                start_new_session=True,
            )
        assert child.stdin is not None and child.stdout is not None
        await asyncio.to_thread(child.wait)
        try:
            line = await asyncio.wait_for(
                in_thread(lambda: _handshake(child.stdin, child.stdout, spec), name="executor handshake"),
                START_TIMEOUT_S,
            )
        except TimeoutError:
            raise TaskStartError(f"the executor did not answer within {START_TIMEOUT_S:g}s") from None
        if not line:
            tail = (driver_dir / "executor.log").read_text(errors="replace")[-2000:]
            raise TaskStartError(f"the executor failed to start the task: {tail.strip()}")
        answer: dict[str, Any] = json.loads(line)
        return answer


def _handshake(stdin: IO[bytes] | None, stdout: IO[bytes] | None, spec: dict[str, Any]) -> bytes:
    assert stdin is not None and stdout is not None
    try:
        stdin.write(json.dumps(spec).encode())
        stdin.close()
    except BrokenPipeError:
        pass
    line = stdout.readline()
    stdout.close()
    return line
