"""The client agent's own RPC endpoints, which the web application (and servers) call on the node's
``HTTPAddr``: allocation stats, restart and signal, logs and files of the allocation directory, and the
host's stats. Names and fields are Nomad's (``ClientAllocations.Stats``, ``FileSystem.Logs`` ...).

Only the ``web`` and ``server`` roles may call them: the web application has checked the user's token
(read-logs, read-fs, alloc-lifecycle, node:read) before it calls.

``ClientAllocations.ExecStart``, ``ExecIO`` and ``ExecClose`` run ``alloc exec`` sessions (``exec_sessions``): the web
application has checked alloc-exec (and alloc-node-exec for raw_exec) before it starts one.

``FileSystem.Logs`` answers one chunk and the position after it (``File``, ``Offset``); a caller that
follows asks again from there, and the endpoint waits up to ``WaitMs`` (bounded) for new bytes, so a
follow is a chain of short blocking calls, never an open-ended stream on the RPC connection.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import msgspec

from agents.client import allocfs
from agents.client.allocdir import AllocDir
from agents.client.allocrunner import AllocRunner
from agents.client.drivers.base import ResourceUsage as DriverUsage
from agents.client.exec_sessions import ExecSessions
from agents.client.hoststats import HostStats, host_stats
from agents.client.taskrunner import TaskRunner
from agents.rpc import CallContext, Registry, Role
from cluster.errors import CaravanError, InvalidInput, NotFound

if TYPE_CHECKING:
    from agents.client.agent import ClientAgent

__all__ = [
    "AllocFileInfo", "AllocResourceUsage", "AllocRestartRequest", "AllocSignalRequest", "AllocStatsRequest",
    "ClientStatsRequest", "ClientStatsResponse", "CpuStatsData", "Empty", "ExecCloseRequest", "ExecIORequest", "ExecIOResponse",
    "ExecStartRequest", "ExecStartResponse", "FsCatRequest", "FsCatResponse", "FsListRequest",
    "FsListResponse", "FsLogsRequest", "FsLogsResponse", "FsStatRequest", "FsStatResponse", "MemoryStatsData",
    "TaskResourceUsage", "UsageData", "register",
]

MAX_LOG_WAIT_MS = 5_000
LOG_POLL_S = 0.1
_ROLES = {Role.WEB, Role.SERVER}


# ---- messages -----------------------------------------------------------------------------------


class AllocStatsRequest(msgspec.Struct, kw_only=True):
    AllocID: str
    Task: str = ""


class MemoryStatsData(msgspec.Struct, kw_only=True):
    RSS: int = 0
    Cache: int = 0
    Swap: int = 0
    Usage: int = 0
    MaxUsage: int = 0
    KernelUsage: int = 0
    KernelMaxUsage: int = 0
    Measured: list[str] | None = None


class CpuStatsData(msgspec.Struct, kw_only=True):
    SystemMode: float = 0.0
    UserMode: float = 0.0
    TotalTicks: float = 0.0
    ThrottledPeriods: int = 0
    ThrottledTime: int = 0
    Percent: float = 0.0
    Measured: list[str] | None = None


class UsageData(msgspec.Struct, kw_only=True):
    MemoryStats: MemoryStatsData
    CpuStats: CpuStatsData


class TaskResourceUsage(msgspec.Struct, kw_only=True):
    ResourceUsage: UsageData
    Timestamp: int = 0
    Pids: dict[str, UsageData] | None = None


class AllocResourceUsage(msgspec.Struct, kw_only=True):
    ResourceUsage: UsageData
    Tasks: dict[str, TaskResourceUsage]
    Timestamp: int = 0


class AllocRestartRequest(msgspec.Struct, kw_only=True):
    AllocID: str
    TaskName: str = ""
    AllTasks: bool = False


class AllocSignalRequest(msgspec.Struct, kw_only=True):
    AllocID: str
    Task: str = ""
    Signal: str = ""


class Empty(msgspec.Struct, kw_only=True):
    pass


class FsLogsRequest(msgspec.Struct, kw_only=True):
    AllocID: str
    Task: str
    LogType: str = "stdout"
    Origin: str = "start"
    Offset: int = 0
    File: str = ""  # continue at Offset in this file (from an earlier answer)
    Limit: int = allocfs.MAX_READ_BYTES
    WaitMs: int = 0  # wait up to this long for bytes when there are none yet


class FsLogsResponse(msgspec.Struct, kw_only=True):
    Data: bytes
    File: str
    Offset: int
    TaskDead: bool  # the task is dead: what is in its files now is all there will be


class AllocFileInfo(msgspec.Struct, kw_only=True):
    Name: str
    IsDir: bool
    Size: int
    FileMode: str
    ModTime: str
    ContentType: str = ""


class FsListRequest(msgspec.Struct, kw_only=True):
    AllocID: str
    Path: str = "/"


class FsListResponse(msgspec.Struct, kw_only=True):
    Files: list[AllocFileInfo]


class FsStatRequest(msgspec.Struct, kw_only=True):
    AllocID: str
    Path: str = "/"


class FsStatResponse(msgspec.Struct, kw_only=True):
    Info: AllocFileInfo


class FsCatRequest(msgspec.Struct, kw_only=True):
    AllocID: str
    Path: str
    Offset: int = 0
    Limit: int = allocfs.MAX_READ_BYTES


class FsCatResponse(msgspec.Struct, kw_only=True):
    Data: bytes


class ExecStartRequest(msgspec.Struct, kw_only=True):
    AllocID: str
    Task: str
    Cmd: list[str]
    Tty: bool = False
    Height: int = 0
    Width: int = 0


class ExecStartResponse(msgspec.Struct, kw_only=True):
    SessionID: str


class ExecIORequest(msgspec.Struct, kw_only=True):
    SessionID: str
    Stdin: bytes = b""
    CloseStdin: bool = False
    Height: int = 0  # with Width: the terminal's new size (0: unchanged)
    Width: int = 0
    WaitMs: int = 0  # wait up to this long for output when there is none yet


class ExecIOResponse(msgspec.Struct, kw_only=True):
    Stdout: bytes
    Stderr: bytes
    Exited: bool
    ExitCode: int
    Seq: int  # 1, 2, ... per session: answers of overlapping calls put back in order


class ExecCloseRequest(msgspec.Struct, kw_only=True):
    SessionID: str


class ClientStatsRequest(msgspec.Struct, kw_only=True):
    NodeID: str = ""


class ClientStatsResponse(msgspec.Struct, kw_only=True):
    HostStats: HostStats


# ---- handlers -----------------------------------------------------------------------------------


def register(registry: Registry, agent: ClientAgent) -> None:
    """Adds the client endpoints to ``registry`` (the client's own, or the dev agent's server's)."""
    _alloc_endpoints(registry, agent)
    _fs_endpoints(registry, agent)
    _exec_endpoints(registry, agent, agent.exec_sessions)

    @registry.endpoint("ClientStats.Stats", roles=_ROLES)
    async def client_stats(ctx: CallContext, args: ClientStatsRequest) -> ClientStatsResponse:
        _check_node(agent, args.NodeID)
        total_mhz = agent.node.NodeResources.Cpu.CpuShares if agent.node and agent.node.NodeResources else 0
        stats = await asyncio.to_thread(host_stats, agent.data_dir, total_mhz)
        return ClientStatsResponse(HostStats=stats)


def _check_node(agent: ClientAgent, node_id: str) -> None:
    if node_id and agent.node is not None and node_id != agent.node.ID:
        raise NotFound(f"node {node_id} is not served here (this is node {agent.node.ID})")


def _runner(agent: ClientAgent, alloc_id: str) -> AllocRunner:
    runner = agent.runners.get(alloc_id)
    if runner is None:
        raise NotFound(f"allocation {alloc_id} is not running on this client")
    return runner


def _task(runner: AllocRunner, name: str) -> TaskRunner:
    task = runner.runners.get(name)
    if task is None:
        raise NotFound(f'allocation {runner.alloc.ID} has no task "{name}"')
    return task


def _alloc_endpoints(registry: Registry, agent: ClientAgent) -> None:
    @registry.endpoint("ClientAllocations.Stats", roles=_ROLES)
    async def alloc_stats(ctx: CallContext, args: AllocStatsRequest) -> AllocResourceUsage:
        runner = _runner(agent, args.AllocID)
        names = [args.Task] if args.Task else list(runner.runners)
        tasks: dict[str, TaskResourceUsage] = {}
        for name in names:
            task = _task(runner, name)
            if task.handle is None or task.dead:
                continue
            try:
                usage = await task.driver.stats(task.handle)
            except CaravanError:
                continue  # the task exited between the check and the sample
            tasks[name] = TaskResourceUsage(ResourceUsage=_usage(agent, usage), Timestamp=usage.timestamp_ns)
        return AllocResourceUsage(ResourceUsage=_sum([t.ResourceUsage for t in tasks.values()]), Tasks=tasks,
                                  Timestamp=max((t.Timestamp for t in tasks.values()), default=time.time_ns()))

    @registry.endpoint("ClientAllocations.Restart", roles=_ROLES)
    async def alloc_restart(ctx: CallContext, args: AllocRestartRequest) -> Empty:
        runner = _runner(agent, args.AllocID)
        if args.TaskName and not args.AllTasks:
            tasks = [_task(runner, args.TaskName)]
            if tasks[0].dead:
                raise InvalidInput(f'task "{args.TaskName}" is not running')
        else:
            tasks = [t for t in runner.runners.values() if not t.dead]
        for task in tasks:
            task.restart()
        return Empty()

    @registry.endpoint("ClientAllocations.Signal", roles=_ROLES)
    async def alloc_signal(ctx: CallContext, args: AllocSignalRequest) -> Empty:
        runner = _runner(agent, args.AllocID)
        tasks = [_task(runner, args.Task)] if args.Task else list(runner.runners.values())
        running = [t for t in tasks if not t.dead and t.handle is not None]
        if not running:
            raise InvalidInput(f"allocation {args.AllocID}: no running task to signal")
        for task in running:
            await task.signal(args.Signal or "SIGKILL")
        return Empty()


def _usage(agent: ClientAgent, usage: DriverUsage) -> UsageData:
    res = agent.node.NodeResources if agent.node is not None else None
    cores = max(1, res.Cpu.TotalCpuCores if res is not None else 1)
    mhz_per_core = (res.Cpu.CpuShares / cores) if res is not None else 0.0
    return UsageData(
        MemoryStats=MemoryStatsData(RSS=usage.memory_rss_bytes, Usage=usage.memory_usage_bytes,
                                Cache=max(0, usage.memory_usage_bytes - usage.memory_rss_bytes),
                                Measured=["RSS", "Cache", "Usage"]),
        CpuStats=CpuStatsData(Percent=usage.cpu_percent, TotalTicks=usage.cpu_percent / 100.0 * mhz_per_core,
                          UserMode=usage.cpu_user_s, SystemMode=usage.cpu_system_s,
                          Measured=["System Mode", "User Mode", "Percent"]))


def _sum(usages: list[UsageData]) -> UsageData:
    """The allocation's usage: the sum over its tasks, as Nomad adds them up."""
    return UsageData(
        MemoryStats=MemoryStatsData(RSS=sum(u.MemoryStats.RSS for u in usages),
                                Cache=sum(u.MemoryStats.Cache for u in usages),
                                Usage=sum(u.MemoryStats.Usage for u in usages), Measured=["RSS", "Cache", "Usage"]),
        CpuStats=CpuStatsData(Percent=sum(u.CpuStats.Percent for u in usages),
                          TotalTicks=sum(u.CpuStats.TotalTicks for u in usages),
                          UserMode=sum(u.CpuStats.UserMode for u in usages),
                          SystemMode=sum(u.CpuStats.SystemMode for u in usages),
                          Measured=["System Mode", "User Mode", "Percent"]))


def _alloc_root(agent: ClientAgent, alloc_id: str) -> AllocDir:
    alloc_dir = AllocDir(agent.data_dir, alloc_id)
    if not alloc_dir.exists():
        raise NotFound(f"allocation {alloc_id} has no directory on this client")
    return alloc_dir


def _file_info(info: allocfs.FileInfo) -> AllocFileInfo:
    return AllocFileInfo(Name=info.name, IsDir=info.is_dir, Size=info.size, FileMode=info.file_mode,
                         ModTime=info.mod_time, ContentType=info.content_type)


def _task_dead(agent: ClientAgent, alloc_id: str, task: str) -> bool:
    runner = agent.runners.get(alloc_id)
    if runner is None:
        return True  # not run by this client now (finished before a restart): nothing more will come
    return _task(runner, task).dead


def _fs_endpoints(registry: Registry, agent: ClientAgent) -> None:
    @registry.endpoint("FileSystem.Logs", roles=_ROLES)
    async def fs_logs(ctx: CallContext, args: FsLogsRequest) -> FsLogsResponse:
        logs_dir = _alloc_root(agent, args.AllocID).logs_dir
        loop = asyncio.get_running_loop()
        wait_s = min(max(0, args.WaitMs), MAX_LOG_WAIT_MS) / 1000
        deadline = loop.time() + min(wait_s, max(0.0, ctx.remaining_s() - 0.5))
        while True:
            dead = _task_dead(agent, args.AllocID, args.Task)  # before reading: a dead task wrote it all
            chunk = allocfs.read_log(logs_dir, args.Task, args.LogType, file=args.File, offset=args.Offset,
                                     origin=args.Origin, limit=args.Limit)
            if chunk.data or dead or loop.time() >= deadline:
                return FsLogsResponse(Data=chunk.data, File=chunk.file, Offset=chunk.offset, TaskDead=dead)
            if chunk.file:  # go on from where this read ended, not from the origin again
                args = msgspec.structs.replace(args, File=chunk.file, Offset=chunk.offset)
            await asyncio.sleep(LOG_POLL_S)

    @registry.endpoint("FileSystem.List", roles=_ROLES)
    async def fs_list(ctx: CallContext, args: FsListRequest) -> FsListResponse:
        root = _alloc_root(agent, args.AllocID).path
        return FsListResponse(Files=[_file_info(i) for i in allocfs.list_dir(root, args.Path)])

    @registry.endpoint("FileSystem.Stat", roles=_ROLES)
    async def fs_stat(ctx: CallContext, args: FsStatRequest) -> FsStatResponse:
        root = _alloc_root(agent, args.AllocID).path
        return FsStatResponse(Info=_file_info(allocfs.stat_path(root, args.Path)))

    @registry.endpoint("FileSystem.Cat", roles=_ROLES)
    async def fs_cat(ctx: CallContext, args: FsCatRequest) -> FsCatResponse:
        root = _alloc_root(agent, args.AllocID).path
        return FsCatResponse(Data=allocfs.read_file(root, args.Path, args.Offset, args.Limit))


def _exec_endpoints(registry: Registry, agent: ClientAgent, sessions: ExecSessions) -> None:
    @registry.endpoint("ClientAllocations.ExecStart", roles=_ROLES)
    async def exec_start(ctx: CallContext, args: ExecStartRequest) -> ExecStartResponse:
        task = _task(_runner(agent, args.AllocID), args.Task)
        if task.dead or task.handle is None:
            raise InvalidInput(f'task "{args.Task}" of allocation {args.AllocID} is not running')
        session_id = await sessions.start(task.driver, task.handle, args.Cmd, tty=args.Tty, height=args.Height,
                                          width=args.Width)
        return ExecStartResponse(SessionID=session_id)

    @registry.endpoint("ClientAllocations.ExecIO", roles=_ROLES)
    async def exec_io(ctx: CallContext, args: ExecIORequest) -> ExecIOResponse:
        wait_s = min(max(0, args.WaitMs) / 1000, max(0.0, ctx.remaining_s() - 0.5))
        out = await sessions.io(args.SessionID, stdin=args.Stdin, close_stdin=args.CloseStdin, height=args.Height,
                                width=args.Width, wait_s=wait_s)
        return ExecIOResponse(Stdout=out.stdout, Stderr=out.stderr, Exited=out.exited, ExitCode=out.exit_code,
                              Seq=out.seq)

    @registry.endpoint("ClientAllocations.ExecClose", roles=_ROLES)
    async def exec_close(ctx: CallContext, args: ExecCloseRequest) -> Empty:
        """The user went away: the command is killed now rather than at the idle timeout."""
        await sessions.close(args.SessionID)
        return Empty()
