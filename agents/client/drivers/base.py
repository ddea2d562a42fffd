"""The one interface every task driver implements, and the types that cross it.

The task runner (later) drives a task only through ``Driver``: it builds a ``TaskConfig`` (the task's
driver config, its environment with the NOMAD_* variables already computed, resources, directories,
ports, log rotation, kill signal and timeout), calls ``start`` and keeps the returned
``TaskHandle.state``: a JSON-serializable dict it persists in the client's data dir, so that after a
client restart ``recover(state)`` on a new driver instance reattaches to the still running task.

Exceptions (all ``CaravanError``s, mapped once at the task runner's edge)::

    DriverError                 a driver could not do what was asked
    ├── DriverDisabled          the driver is off on this client (raw_exec without enabled = true)
    ├── InvalidTaskConfig       the task's driver config is wrong (also an InvalidInput): ``problems``
    ├── TaskNotFound            the handle names no task this driver has or can reattach to
    ├── TaskStartError          the task could not be started (command not found, engine refused...)
    └── ImagePullError          (docker) the image is absent and can be neither pulled nor loaded
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import signal as signal_module
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, NamedTuple, TypeVar

from agents.client.drivers.exec_stream import ExecStream
from agents.client.drivers.logs import LogRotation
from cluster.errors import CaravanError, InvalidInput
from cluster.structs.node import DriverInfo

__all__ = [
    "Capabilities",
    "ConfigProblem",
    "Driver",
    "DriverDisabled",
    "DriverError",
    "DriverInfo",
    "ExecResult",
    "ExecStream",
    "ExitResult",
    "ImagePullError",
    "InvalidTaskConfig",
    "LogRotation",
    "PortMapping",
    "ResourceUsage",
    "TaskConfig",
    "TaskHandle",
    "TaskNotFound",
    "TaskResources",
    "TaskStartError",
    "TaskStatus",
    "host_network_port_env",
    "in_thread",
    "parse_signal",
    "signal_then_kill",
]

T = TypeVar("T")


class DriverError(CaravanError):
    """A driver could not do what was asked."""


class DriverDisabled(DriverError):
    """The driver is off on this client; the message says how to turn it on."""


class ConfigProblem(NamedTuple):
    """One problem in a task's driver config: the option (``""`` for the config as a whole) and what."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"config.{self.key}: {self.message}" if self.key else self.message


class InvalidTaskConfig(DriverError, InvalidInput):
    """The task's driver config is wrong; ``problems`` lists every problem found."""

    def __init__(self, driver: str, problems: Sequence[ConfigProblem]) -> None:
        assert problems, "an InvalidTaskConfig needs at least one problem"
        self.problems = list(problems)
        super().__init__(f"invalid {driver} config: " + "; ".join(str(p) for p in self.problems))


class TaskNotFound(DriverError):
    """The handle names no task this driver runs or can reattach to."""


class TaskStartError(DriverError):
    """The task could not be started; nothing is left running."""


class ImagePullError(DriverError):
    """The image is not on the engine and could be neither pulled nor loaded."""


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What the task runner may rely on. ``fs_isolation`` "none" means the task sees the host's
    paths (raw_exec); "image" means it sees its image, with the alloc dirs mounted at /alloc,
    /local and /secrets (docker)."""

    send_signals: bool
    exec: bool
    fs_isolation: Literal["none", "image"]


@dataclass(frozen=True, slots=True)
class PortMapping:
    """A port the scheduler granted the task's group: ``value`` is the host port, ``to`` the port the
    task was asked to listen on (0: same as value; ignored in host networking, see
    ``host_network_port_env``)."""

    label: str
    value: int
    to: int = 0
    host_ip: str = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class TaskResources:
    """What the scheduler granted the task: CPU shares in MHz, memory in MB (and the hard limit
    ``memory_max_mb`` when memory oversubscription is on; 0 means none)."""

    cpu_mhz: int = 100
    memory_mb: int = 300
    memory_max_mb: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskConfig:
    """Everything a driver needs to start one task. Directories follow Nomad's alloc dir layout:
    ``alloc_dir`` is the group's shared ``alloc/`` (logs in ``alloc/logs``), ``task_dir`` holds
    ``local/`` and ``secrets/``. ``driver_dir`` is private to the driver (not visible to the task) and
    must survive client restarts: drivers keep the files they need for recovery there."""

    alloc_id: str
    task_name: str
    config: Mapping[str, Any]
    alloc_dir: Path
    task_dir: Path
    driver_dir: Path
    env: Mapping[str, str] = field(default_factory=dict)
    resources: TaskResources = field(default_factory=TaskResources)
    user: str = ""
    ports: tuple[PortMapping, ...] = ()
    logs: LogRotation = field(default_factory=LogRotation)
    kill_signal: str = "SIGTERM"
    kill_timeout_s: float = 5.0
    job_name: str = ""
    group_name: str = ""
    namespace: str = "default"

    @property
    def task_id(self) -> str:
        return f"{self.alloc_id}/{self.task_name}"

    @property
    def local_dir(self) -> Path:
        return self.task_dir / "local"

    @property
    def secrets_dir(self) -> Path:
        return self.task_dir / "secrets"

    @property
    def log_dir(self) -> Path:
        return self.alloc_dir / "logs"


@dataclass(slots=True)
class TaskHandle:
    """A started (or recovered) task. ``state`` is JSON-serializable: the caller persists it and hands
    it to ``recover`` after a client restart. The driver keeps its live objects, keyed by ``task_id``."""

    driver: str
    task_id: str
    state: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ExitResult:
    """How a task ended. A task killed by signal N reports ``signal`` N and ``exit_code`` 128+N, as a
    shell does. ``error`` is set when the driver, not the task, failed."""

    exit_code: int
    signal: int = 0
    oom_killed: bool = False
    error: str = ""

    @property
    def successful(self) -> bool:
        return self.exit_code == 0 and self.signal == 0 and not self.oom_killed and not self.error


@dataclass(frozen=True, slots=True)
class TaskStatus:
    """What ``inspect`` reports. Times are Unix seconds (0: not yet)."""

    task_id: str
    state: Literal["running", "exited"]
    started_at_s: float
    completed_at_s: float = 0.0
    exit_result: ExitResult | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ResourceUsage:
    """One sample of a task's usage. ``cpu_percent`` is over all cores (200 = two cores busy), since
    the previous sample of the same task, or since the task started for the first sample."""

    cpu_percent: float
    cpu_user_s: float
    cpu_system_s: float
    memory_rss_bytes: int
    memory_usage_bytes: int
    pids: int
    timestamp_ns: int


@dataclass(frozen=True, slots=True)
class ExecResult:
    """A command run to completion inside the task's environment (with ``tty`` stderr is in stdout)."""

    exit_code: int
    stdout: bytes
    stderr: bytes = b""


class Driver(abc.ABC):
    """A task driver. Methods that wait are coroutines; blocking work runs in threads."""

    name: ClassVar[str]
    capabilities: ClassVar[Capabilities]

    @abc.abstractmethod
    async def fingerprint(self) -> DriverInfo:
        """Whether the driver works on this client (``Detected``/``Healthy``) and its attributes."""

    @abc.abstractmethod
    def validate_config(self, config: Mapping[str, Any]) -> list[ConfigProblem]:
        """Every problem with one task's driver config; empty when ``start`` may go ahead."""

    @abc.abstractmethod
    async def start(self, task: TaskConfig) -> TaskHandle:
        """Starts the task; raises ``InvalidTaskConfig``, ``DriverDisabled`` or ``TaskStartError``."""

    @abc.abstractmethod
    async def wait(self, handle: TaskHandle) -> ExitResult:
        """Waits until the task has exited (returns at once for a task that already has)."""

    @abc.abstractmethod
    async def stop(
        self, handle: TaskHandle, timeout_s: float | None = None, signal: str | None = None
    ) -> None:
        """Sends ``signal`` (default: the task's kill signal), waits up to ``timeout_s`` (default: its
        kill timeout) for the task to exit, then kills it. Returns once it has exited."""

    @abc.abstractmethod
    async def signal(self, handle: TaskHandle, signal: str) -> None:
        """Sends a signal to the running task (``nomad alloc signal``, template change_signal)."""

    @abc.abstractmethod
    async def destroy(self, handle: TaskHandle, force: bool = False) -> None:
        """Frees what the task holds. A running task is refused unless ``force``, which kills it."""

    @abc.abstractmethod
    async def inspect(self, handle: TaskHandle) -> TaskStatus:
        """The task's state as the driver sees it now."""

    @abc.abstractmethod
    async def recover(self, handle_state: Mapping[str, Any]) -> TaskHandle:
        """Reattaches to a task started by an earlier driver instance (before a client restart)."""

    @abc.abstractmethod
    async def stats(self, handle: TaskHandle) -> ResourceUsage:
        """One usage sample of the running task."""

    @abc.abstractmethod
    async def shutdown(self) -> None:
        """The client is going away and leaves its tasks running: let go of them (a new driver instance
        recovers them) and of what the driver holds. The driver is not used afterwards."""

    @abc.abstractmethod
    async def exec(
        self, handle: TaskHandle, cmd: Sequence[str], tty: bool = False, timeout_s: float = 60.0
    ) -> ExecResult:
        """Runs ``cmd`` to completion in the task's environment and returns its output."""

    async def exec_streaming(
        self, handle: TaskHandle, cmd: Sequence[str], *, tty: bool = False, height: int = 0, width: int = 0
    ) -> ExecStream:
        """Starts ``cmd`` in the task's environment for ``alloc exec``: input, terminal size and output
        stream while it runs (see ``exec_stream``). Drivers that cannot say so with a ``DriverError``."""
        raise DriverError(f"the {self.name} driver does not support interactive exec")


async def signal_then_kill(
    state: Mapping[str, Any],
    exited: asyncio.Future[Any],
    *,
    signal: str | None,
    timeout_s: float | None,
    send: Callable[[signal_module.Signals], Awaitable[None]],
    kill: Callable[[], Awaitable[None]],
) -> None:
    """Nomad's stop, the same for every driver: the kill signal (the task's ``kill_signal`` unless
    one is given), then up to the kill timeout for the task to exit, then a hard kill."""
    if exited.done():
        return
    sig = parse_signal(signal or state["kill_signal"])
    await send(sig)
    timeout = float(state["kill_timeout_s"]) if timeout_s is None else timeout_s
    try:
        await asyncio.wait_for(asyncio.shield(exited), timeout)
    except TimeoutError:
        await kill()


def parse_signal(name: str) -> signal_module.Signals:
    """``"SIGTERM"``, ``"TERM"`` or ``"sigterm"`` -> the signal; unknown names are an ``InvalidInput``."""
    upper = name.strip().upper()
    if not upper.startswith("SIG"):
        upper = "SIG" + upper
    try:
        return signal_module.Signals[upper]
    except KeyError:
        raise InvalidInput(f'unknown signal "{name}"') from None


def _env_label(label: str) -> str:
    """Nomad's env-var form of a port label: every character that may not appear in a variable name
    becomes an underscore (``my-port`` -> ``my_port``)."""
    return "".join(c if c.isalnum() or c == "_" else "_" for c in label)


def host_network_port_env(ports: Sequence[PortMapping]) -> dict[str, str]:
    """The port variables of tasks in host networking, where nothing translates ports: the task must
    bind the host port itself, so ``NOMAD_PORT_<label>`` is the host port even when the job asked for
    a different ``to`` (which only a bridge network could honour), and the ``NOMAD_HOST_*`` variables
    say the same thing."""
    env: dict[str, str] = {}
    for port in ports:
        label = _env_label(port.label)
        addr = f"[{port.host_ip}]:{port.value}" if ":" in port.host_ip else f"{port.host_ip}:{port.value}"
        env[f"NOMAD_PORT_{label}"] = env[f"NOMAD_HOST_PORT_{label}"] = str(port.value)
        env[f"NOMAD_IP_{label}"] = env[f"NOMAD_HOST_IP_{label}"] = port.host_ip
        env[f"NOMAD_ADDR_{label}"] = env[f"NOMAD_HOST_ADDR_{label}"] = addr
    return env


def in_thread(fn: Callable[[], T], name: str) -> asyncio.Future[T]:
    """Runs a long blocking call (an engine wait, a log stream) on its own daemon thread, so that many
    tasks waiting at once cannot exhaust asyncio's small default executor. The future may be awaited
    by several callers; the thread ends with the call even if the loop has gone."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def target() -> None:
        try:
            result, error = fn(), None
        except BaseException as e:
            result, error = None, e
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=target, name=name, daemon=True).start()
    return future
