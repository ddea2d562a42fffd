"""The task runner: runs one task of an allocation through its driver, from setup to death.

Its life, as Nomad's task runner lives it::

    Received -> Task Setup (task dir, templates) -> Started -> Terminated -> Restarting -> Started ...
                                                                         -> Not Restarting (dead, failed)
             -> (kill) Killing -> Killed (dead)

Every change of ``TaskState`` is persisted (``ClientState``) together with the driver's handle of
the running process, then reported through ``on_change``; a restarted client builds the runner
again from that record and ``run`` reattaches (``Driver.recover``) instead of starting again.

Time comes from an injected ``Clock`` (Unix ns and an awaitable sleep), randomness from an injected
``random.Random``: tests drive restarts with a fake clock and a seeded source.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import msgspec

from agents.client.allocdir import AllocDir
from agents.client.checks import CheckResult, CheckRunner
from agents.client.drivers.base import (
    Driver,
    DriverDisabled,
    DriverError,
    ExitResult,
    LogRotation,
    TaskConfig,
    TaskHandle,
    TaskNotFound,
)
from agents.client.restarts import RestartDecision, RestartTracker, Verdict
from agents.client.state import ClientState, TaskRecord
from agents.client.taskenv import TaskEnv, alloc_ports, task_resources
from agents.client.templates import RenderedTemplate, TemplateError, TemplateRenderer
from cluster.errors import CaravanError, InvalidInput
from cluster.structs import Allocation, Task, TaskEvent, TaskState
from cluster.structs.base import GO_ZERO_TIME, SECOND_NS
from cluster.structs.constants import TaskEventType, TaskStateName
from cluster.structs.defaults import DEFAULT_KILL_TIMEOUT_NS, default_restart_policy

__all__ = ["MAX_EVENTS", "Clock", "SystemClock", "TaskRunner", "display_message"]

MAX_EVENTS = 10  # Nomad keeps a task's last 10 events
TEMPLATE_RENDERED = "Template Rendered"  # not one of Nomad's constants; shown after the first render


class Clock(Protocol):
    """Where the runners get time: ``now_ns`` (Unix ns) and ``sleep``. Tests inject a fake one."""

    def now_ns(self) -> int: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now_ns(self) -> int:
        return time.time_ns()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def _duration(ns: int) -> str:
    seconds = ns / SECOND_NS
    return f"{seconds:g}s" if seconds < 60 else f"{int(seconds // 60)}m{seconds % 60:g}s"


def display_message(event: TaskEvent) -> str:
    """The one-line message ``nomad alloc status`` shows for an event, as Nomad words it."""
    t = event.Type
    if t == TaskEventType.RECEIVED:
        return "Task received by client"
    if t == TaskEventType.SETUP:
        return event.Message
    if t == TaskEventType.STARTED:
        return "Task started by client"
    if t == TaskEventType.TERMINATED:
        text = f"Exit Code: {event.ExitCode}"
        if event.Signal:
            text += f", Signal: {event.Signal}"
        return text + (f", Exit Message: {event.Message!r}" if event.Message else "")
    if t == TaskEventType.RESTARTING:
        return f"Task restarting in {_duration(event.StartDelay)}"
    if t == TaskEventType.NOT_RESTARTING:
        return event.RestartReason
    if t == TaskEventType.KILLING:
        return f"Sent interrupt. Waiting {_duration(event.KillTimeout)} before force killing"
    if t == TaskEventType.KILLED:
        return f"Task killed with error: {event.KillError}" if event.KillError else "Task successfully killed"
    if t == TaskEventType.DRIVER_FAILURE:
        return event.DriverError
    if t == TaskEventType.SETUP_FAILURE:
        return event.SetupError
    if t == TaskEventType.SIBLING_FAILED:
        return f"Task's sibling {event.FailedSibling!r} failed"
    if t == TaskEventType.LEADER_DEAD:
        return "Leader Task in Group dead"
    if t == TaskEventType.ARTIFACT_DOWNLOAD_FAILED:
        return event.DownloadError
    return event.Message


@dataclass(slots=True)
class _Interrupt:
    """Why the runner stopped waiting on the task: killed (with the event that says why) or restarted."""

    kill: bool
    event: TaskEvent | None = None


class TaskRunner:
    """Runs one task. ``run`` returns when the task is dead (or ``detach`` let go of it)."""

    def __init__(
        self,
        *,
        alloc: Allocation,
        task: Task,
        driver: Driver,
        alloc_dir: AllocDir,
        task_env: TaskEnv,
        client_state: ClientState,
        on_change: Callable[[TaskRunner], None],
        clock: Clock,
        rng: random.Random,
        record: TaskRecord | None = None,
        on_check: Callable[[CheckResult], None] | None = None,
    ) -> None:
        assert alloc.Job is not None, "the task runner needs the allocation's job"
        self.alloc, self.task, self.driver, self.alloc_dir = alloc, task, driver, alloc_dir
        self.env, self.client_state, self.on_change, self.clock = task_env, client_state, on_change, clock
        policy = task.RestartPolicy or default_restart_policy(alloc.Job.Type or "service")
        self.restarts = RestartTracker(policy, alloc.Job.Type or "service", task.Lifecycle, rng)
        self.templates = TemplateRenderer(list(task.Templates or []), alloc_dir, task.Name)
        self.handle: TaskHandle | None = None
        self._saved_handle = record.handle if record else None
        self._interrupts: asyncio.Queue[_Interrupt] = asyncio.Queue()
        self.on_check = on_check
        self._checks: list[asyncio.Task[None]] = []
        self.started = False  # run() was called
        self.done = asyncio.Event()
        if record is not None:
            self.state = record.state
            if self.state.State == TaskStateName.DEAD:
                self.done.set()
        else:
            self.state = TaskState(State=TaskStateName.PENDING, StartedAt=GO_ZERO_TIME, FinishedAt=GO_ZERO_TIME)
            self._emit(TaskEvent(Type=TaskEventType.RECEIVED))

    # -- what the alloc runner uses -------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.task.Name

    @property
    def dead(self) -> bool:
        return self.state.State == TaskStateName.DEAD

    @property
    def failed(self) -> bool:
        return self.dead and self.state.Failed

    async def run(self) -> None:
        """Runs the task until it is dead for good. Safe to call on a restored, already dead task."""
        assert not self.started, "run() is called once"
        self.started = True
        if self.dead:
            return
        try:
            await self._run()
        finally:
            self._stop_checks()
            if self.dead:
                self.done.set()

    async def kill(self, reason: TaskEvent | None = None) -> None:
        """Kills the task (with its kill signal, then SIGKILL after kill_timeout) and waits until it
        is dead. ``reason`` (Sibling Task Failed, Leader Task Dead ...) is recorded first."""
        if self.dead:
            return
        if not self.started:
            self._finish_unstarted(reason)
            return
        self._interrupts.put_nowait(_Interrupt(kill=True, event=reason))
        await self.done.wait()

    def restart(self, reason: str = "User requested restart") -> None:
        """Restarts the running task now, without counting against its restart policy."""
        if not self.dead:
            self._interrupts.put_nowait(_Interrupt(kill=False, event=TaskEvent(
                Type=TaskEventType.RESTART_SIGNAL, RestartReason=reason, DisplayMessage=reason)))

    async def signal(self, signal_name: str, reason: str = "User requested signal") -> None:
        """Sends ``signal_name`` to the running task (``nomad alloc signal``) and records it as an event."""
        if self.dead or self.handle is None:
            raise InvalidInput(f'task "{self.name}" is not running')
        self._emit(TaskEvent(Type=TaskEventType.SIGNALING, TaskSignal=signal_name, TaskSignalReason=reason,
                             DisplayMessage=reason))
        await self.driver.signal(self.handle, signal_name)

    async def rerender_templates(self) -> None:
        """Renders the templates again (e.g. after the environment changed) and applies the
        ``change_mode`` of every one whose output changed: restart, signal, script or nothing."""
        for rendered in self._render_templates():
            if not rendered.changed or self.handle is None:
                continue
            mode = rendered.template.ChangeMode or "restart"
            if mode == "restart":
                self.restart("Template with change_mode restart re-rendered")
            elif mode == "signal":
                signal_name = rendered.template.ChangeSignal or "SIGHUP"
                self._emit(TaskEvent(Type=TaskEventType.SIGNALING, TaskSignal=signal_name,
                                     TaskSignalReason="Template re-rendered",
                                     DisplayMessage="Template re-rendered"))
                await self.driver.signal(self.handle, signal_name)
            elif mode == "script" and rendered.template.ChangeScript is not None:
                script = rendered.template.ChangeScript
                timeout_s = (script.Timeout or 5 * SECOND_NS) / SECOND_NS
                await self.driver.exec(self.handle, [script.Command or "", *(script.Args or [])], timeout_s=timeout_s)

    # -- the loop -------------------------------------------------------------------------------------

    async def _run(self) -> None:
        await self._reattach()
        if self.handle is None and not await self._prestart():
            return
        while True:
            if self.handle is None:
                if not await self._start():
                    return
                if self.handle is None:  # the start failed and the policy allows another try
                    continue
            outcome = await self._wait_or_interrupt(self.handle)
            if isinstance(outcome, _Interrupt) and outcome.kill:
                await self._kill(outcome.event)
                return
            if isinstance(outcome, _Interrupt):
                assert outcome.event is not None
                self._emit(outcome.event)
                await self._stop_for_restart()
                decision = self.restarts.on_restart_request()
            else:
                decision = self._terminated(outcome)
            if not await self._apply(decision):
                return

    async def _reattach(self) -> None:
        """After a client restart: reattach to the task the saved handle names, if it still exists."""
        if self._saved_handle is None:
            return
        try:
            self.handle = await self.driver.recover(self._saved_handle)
            with contextlib.suppress(TemplateError, OSError):  # rendered before; the env of later restarts
                self._render_templates()
            self._start_checks()
        except (TaskNotFound, DriverError) as e:
            self._emit(TaskEvent(Type=TaskEventType.DRIVER_MESSAGE, DriverMessage=str(e),
                                 Message=f"could not reattach to the task, starting it again: {e}"))
            self.handle = None
        self._saved_handle = None

    async def _prestart(self) -> bool:
        """Builds the task dir and renders templates; a failure here fails the task for good."""
        self._emit(TaskEvent(Type=TaskEventType.SETUP, Message="Building Task Directory"))
        self.alloc_dir.build([self.task.Name])
        if self.task.Artifacts:
            error = "artifacts are not supported by Caravan yet: remove the artifact block or fetch in the task"
            self._emit(TaskEvent(Type=TaskEventType.ARTIFACT_DOWNLOAD_FAILED, DownloadError=error, FailsTask=True),
                       TaskStateName.DEAD)
            return False
        try:
            rendered = self._render_templates()
        except (TemplateError, OSError) as e:
            self._emit(TaskEvent(Type=TaskEventType.SETUP_FAILURE, SetupError=str(e), FailsTask=True),
                       TaskStateName.DEAD)
            return False
        if rendered:
            self._emit(TaskEvent(Type=TEMPLATE_RENDERED, Message=f"{len(rendered)} template(s) rendered"))
        return True

    def _render_templates(self) -> list[RenderedTemplate]:
        """Renders the templates; those with ``env = true`` add their variables to the task's env."""
        rendered = self.templates.render_all(self.env)
        extra_env = {k: v for item in rendered for k, v in item.env.items()}
        if extra_env:
            self.env = TaskEnv({**self.env.env, **extra_env}, self.env.node)
        return rendered

    async def _start(self) -> bool:
        """Starts the task; on failure applies the restart policy. False: the task is dead; True with
        no handle: the start failed and the delay before the next try has passed."""
        try:
            self.handle = await self.driver.start(self._task_config())
        except CaravanError as e:
            recoverable = not isinstance(e, InvalidInput | DriverDisabled)
            self._emit(TaskEvent(Type=TaskEventType.DRIVER_FAILURE, DriverError=str(e)))
            return await self._apply(self.restarts.on_start_error(recoverable, self.clock.now_ns()))
        self._emit(TaskEvent(Type=TaskEventType.STARTED), TaskStateName.RUNNING)
        self._start_checks()
        return True

    async def _wait_or_interrupt(self, handle: TaskHandle) -> ExitResult | _Interrupt:
        waiter = asyncio.ensure_future(self.driver.wait(handle))
        interrupt = asyncio.ensure_future(self._interrupts.get())
        try:
            await asyncio.wait({waiter, interrupt}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for future in (waiter, interrupt):
                if not future.done():
                    future.cancel()
        if interrupt.done() and not interrupt.cancelled():
            return interrupt.result()
        return waiter.result()

    def _terminated(self, result: ExitResult) -> RestartDecision:
        self._emit(TaskEvent(Type=TaskEventType.TERMINATED, ExitCode=result.exit_code, Signal=result.signal,
                             Message=result.error or ("OOM Killed" if result.oom_killed else "")))
        return self.restarts.on_exit(result.successful, self.clock.now_ns())

    async def _apply(self, decision: RestartDecision) -> bool:
        """Acts on a restart decision. True: start the task again."""
        await self._release_handle()
        if decision.verdict is Verdict.EXITED:
            self._set_state(TaskStateName.DEAD)
            return False
        if decision.verdict is Verdict.NOT_RESTARTING:
            self._emit(TaskEvent(Type=TaskEventType.NOT_RESTARTING, RestartReason=decision.reason, FailsTask=True),
                       TaskStateName.DEAD)
            return False
        self._emit(TaskEvent(Type=TaskEventType.RESTARTING, StartDelay=decision.delay_ns,
                             RestartReason=decision.reason), TaskStateName.PENDING)
        interrupt = await self._sleep_or_interrupt(decision.delay_ns / SECOND_NS)
        if interrupt is not None and interrupt.kill:
            self._finish_unstarted(interrupt.event)
            return False
        if self.restarts.policy.RenderTemplates:  # restart { render_templates = true }
            try:
                self._render_templates()
            except (TemplateError, OSError) as e:
                self._emit(TaskEvent(Type=TaskEventType.SETUP_FAILURE, SetupError=str(e), FailsTask=True),
                           TaskStateName.DEAD)
                return False
        return True

    async def _sleep_or_interrupt(self, seconds: float) -> _Interrupt | None:
        if not self._interrupts.empty():
            return self._interrupts.get_nowait()
        sleeper = asyncio.ensure_future(self.clock.sleep(seconds))
        interrupt = asyncio.ensure_future(self._interrupts.get())
        try:
            await asyncio.wait({sleeper, interrupt}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for future in (sleeper, interrupt):
                if not future.done():
                    future.cancel()
        return interrupt.result() if interrupt.done() and not interrupt.cancelled() else None

    # -- checks ---------------------------------------------------------------------------------------

    def _start_checks(self) -> None:
        """Runs the checks of the task's services while the task runs (http, tcp and script)."""
        if self.on_check is None:
            return
        ports = alloc_ports(self.alloc)
        for service in self.task.Services or []:
            for check in service.Checks or []:
                if check.Type not in ("http", "tcp", "script"):
                    continue
                runner = CheckRunner(check=check, service=service, ports=ports, env=self.env, clock=self.clock,
                                     on_result=self.on_check, driver=self.driver, handle=lambda: self.handle)
                self._checks.append(asyncio.ensure_future(runner.run()))

    def _stop_checks(self) -> None:
        for check in self._checks:
            check.cancel()
        self._checks.clear()

    # -- killing --------------------------------------------------------------------------------------

    def _kill_timeout_ns(self) -> int:
        return self.task.KillTimeout if self.task.KillTimeout is not None else DEFAULT_KILL_TIMEOUT_NS

    async def _kill(self, reason: TaskEvent | None) -> None:
        assert self.handle is not None
        if reason is not None:
            self._emit(reason)
        timeout_ns = self._kill_timeout_ns()
        self._emit(TaskEvent(Type=TaskEventType.KILLING, KillTimeout=timeout_ns))
        error = ""
        try:
            await self.driver.stop(self.handle, timeout_ns / SECOND_NS, self.task.KillSignal or "SIGTERM")
            await self.driver.wait(self.handle)
        except CaravanError as e:
            error = str(e)
        await self._release_handle()
        self._emit(TaskEvent(Type=TaskEventType.KILLED, KillError=error), TaskStateName.DEAD)

    async def _stop_for_restart(self) -> None:
        assert self.handle is not None
        timeout_ns = self._kill_timeout_ns()
        self._emit(TaskEvent(Type=TaskEventType.KILLING, KillTimeout=timeout_ns))
        try:
            await self.driver.stop(self.handle, timeout_ns / SECOND_NS, self.task.KillSignal or "SIGTERM")
            result = await self.driver.wait(self.handle)
        except CaravanError as e:
            self._emit(TaskEvent(Type=TaskEventType.KILLED, KillError=str(e)))
            return
        self._emit(TaskEvent(Type=TaskEventType.TERMINATED, ExitCode=result.exit_code, Signal=result.signal))

    def _finish_unstarted(self, reason: TaskEvent | None) -> None:
        """A task killed before it (re)started: nothing to stop, it is simply dead."""
        if reason is not None:
            self._emit(reason)
        self._set_state(TaskStateName.DEAD)
        self.done.set()

    async def _release_handle(self) -> None:
        """Frees what the driver holds for the exited task and forgets its handle."""
        self._stop_checks()
        if self.handle is None:
            return
        handle, self.handle = self.handle, None
        with contextlib.suppress(CaravanError):  # the task is gone either way; nothing to act on
            await self.driver.destroy(handle, force=True)
        self._persist()

    # -- state ----------------------------------------------------------------------------------------

    def _task_config(self) -> TaskConfig:
        task, task_dir = self.task, self.alloc_dir.task_dir(self.task.Name)
        job = self.alloc.Job
        assert job is not None
        logs = task.LogConfig
        rotation = LogRotation(max_files=(logs.MaxFiles or 10) if logs else 10,
                               max_file_size_mb=(logs.MaxFileSizeMB or 10) if logs else 10)
        return TaskConfig(
            alloc_id=self.alloc.ID, task_name=task.Name, config=self.env.interpolate_config(task.Config or {}),
            alloc_dir=self.alloc_dir.shared_dir, task_dir=task_dir.path, driver_dir=task_dir.private_dir,
            env=dict(self.env.env), resources=task_resources(self.alloc, task), user=task.User,
            ports=alloc_ports(self.alloc), logs=rotation, kill_signal=task.KillSignal or "SIGTERM",
            kill_timeout_s=self._kill_timeout_ns() / SECOND_NS, job_name=job.Name or job.ID or "",
            group_name=self.alloc.TaskGroup, namespace=self.alloc.Namespace or "default",
        )

    def _emit(self, event: TaskEvent, state: str | None = None) -> None:
        """Records ``event`` (and the new ``state``), persists, and tells the alloc runner."""
        now_ns = self.clock.now_ns()
        event.Time = now_ns
        if not event.DisplayMessage:
            event.DisplayMessage = display_message(event)
        events = [*(self.state.Events or []), event][-MAX_EVENTS:]
        self.state = msgspec.structs.replace(self.state, Events=events)
        if event.Type == TaskEventType.RESTARTING:
            self.state.Restarts += 1
            self.state.LastRestart = _utc(now_ns)
        if event.FailsTask:
            self.state.Failed = True
        self._set_state(state or self.state.State)

    def _set_state(self, state: str) -> None:
        now = _utc(self.clock.now_ns())
        if state == TaskStateName.RUNNING and self.state.State != TaskStateName.RUNNING:
            self.state.StartedAt = now
        if state == TaskStateName.DEAD and self.state.State != TaskStateName.DEAD:
            self.state.FinishedAt = now
        self.state.State = state
        self._persist()
        self.on_change(self)

    def _persist(self) -> None:
        record = TaskRecord(state=self.state, handle=self.handle.state if self.handle else None,
                            driver=self.driver.name)
        self.client_state.put_task(self.alloc.ID, self.task.Name, record)


def _utc(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / SECOND_NS, tz=UTC)
