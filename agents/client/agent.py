"""The client agent: fingerprints the machine, registers its node, heartbeats, and runs what it is given.

    agent = ClientAgent(load(["-client", "-servers", "10.0.0.1", "-data-dir", "/var/lib/caravan"]).config)
    await agent.start()           # fingerprinted, registered, earlier allocations reattached
    await agent.wait_stopped()    # until request_stop()
    await agent.stop()            # lets go of the tasks; they keep running for the next start

Loops, as a Nomad client's:

* **heartbeat**: ``Node.UpdateStatus`` when the TTL the servers gave runs out (they add a grace before
  declaring the node down); a failed heartbeat is retried after a random stagger of what is left of the
  TTL, on the next server, so a restarting cluster is not hit by every client at once.
* **watch**: a blocking ``Node.GetAllocs`` (stale reads, as Nomad's clients make them): an allocation
  the client does not run yet and the servers want running gets an ``AllocRunner``; a newer version of one
  it runs is handed to its runner, which stops on a desired stop or evict.
* **sync**: alloc runners' updates are kept by allocation (the newest wins) and sent together with
  ``Alloc.UpdateFromClient`` at most every ``sync_interval_s``; a failed send keeps them for the next.

On start, allocations kept in ``ClientState`` whose tasks are not all dead get an ``AllocRunner`` again,
which reattaches to the running tasks through their driver handles instead of starting them anew.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import random
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import msgspec

from agents.client.allocdir import AllocDir
from agents.client.allocrunner import AllocRunner
from agents.client.drivers import new_driver
from agents.client.drivers.base import Driver
from agents.client.exec_sessions import ExecSessions
from agents.client.fingerprint import collect_facts
from agents.client.gc import DiskUsage, GCCandidate, GCLimits, collect, disk_usage, pressure_threshold_bytes
from agents.client.node import build_node, node_identity
from agents.client.rpc_endpoints import register as register_client_endpoints
from agents.client.state import ClientState
from agents.client.taskrunner import Clock, SystemClock
from agents.config import AgentConfig
from agents.config.addresses import normalize_address
from agents.rpc import ClientAuth, ConnectionPool, Registry, Role, RPCServer, ServerAuth
from agents.rpc.tls import client_context, server_context
from agents.server.agent import ServerAgent
from agents.server.endpoints import (
    AllocUpdateRequest,
    GenericResponse,
    NodeAllocsResponse,
    NodeRegisterRequest,
    NodeSpecificRequest,
    NodeUpdateResponse,
    NodeUpdateStatusRequest,
)
from agents.server.endpoints_client import NodeDiskPressureRequest
from agents.server.endpoints_nodes import NodeWriteResponse
from cluster.errors import CaravanError, InvalidInput, NotFound, Unavailable
from cluster.state.write_allocs import AllocClientUpdate
from cluster.structs import Allocation, Node, Task
from cluster.structs.constants import AllocClientStatus, AllocDesiredStatus, NodeStatus, TaskStateName
from cluster.structs.node import DriverInfo

__all__ = ["ClientAgent", "ClientTimings", "serve"]

log = logging.getLogger(__name__)

R = TypeVar("R", bound=msgspec.Struct)
SECOND_NS = 1_000_000_000
DEFAULT_RPC_PORT = 4647
_TERMINAL = (AllocClientStatus.COMPLETE, AllocClientStatus.FAILED, AllocClientStatus.LOST)


class ClientTimings(msgspec.Struct, frozen=True, kw_only=True):
    """The client's intervals, in seconds; Nomad's values by default."""

    call_timeout_s: float = 10.0
    register_retry_s: float = 1.0  # between attempts while no server accepts the registration
    heartbeat_retry_min_s: float = 0.25
    watch_wait_s: float = 300.0  # a blocking query's MaxQueryTime
    watch_retry_s: float = 1.0
    sync_interval_s: float = 0.2  # Nomad's allocSyncIntv
    update_batch_s: float = 0.2
    disk_check_interval_s: float = 10.0  # how often the data dir's free space is checked for pressure


class ClientAgent:
    """One client node; see the module docstring."""

    def __init__(self, config: AgentConfig, *, clock: Clock | None = None, rng: random.Random | None = None,
                 timings: ClientTimings | None = None, rpc_registry: Registry | None = None,
                 rpc_addr: str = "", disk: Callable[[Path], DiskUsage] | None = None) -> None:
        assert config.client.enabled, "a client agent needs client { enabled = true } or -client"
        assert config.data_dir, "load() fills the data dir"
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.rng = rng or random.Random(int.from_bytes(os.urandom(16), "big"))
        self.timings = timings or ClientTimings()
        self.data_dir = Path(config.data_dir)
        self.state = ClientState(self.data_dir)
        self.servers = [normalize_address(s, DEFAULT_RPC_PORT) for s in config.client.servers]
        self._next_server = 0
        self.pool = ConnectionPool(self._auth())
        self.drivers: dict[str, Driver] = {}
        self.node: Node | None = None
        self.runners: dict[str, AllocRunner] = {}
        self._runs: dict[str, asyncio.Task[None]] = {}
        self._pending: dict[str, Allocation] = {}
        self._pending_changed = asyncio.Event()
        self._loops: list[asyncio.Task[None]] = []
        self.exec_sessions = ExecSessions()  # ``alloc exec`` commands: killed when the agent stops
        self._stopped = asyncio.Event()
        self.heartbeat_ttl_ns = 0
        # The client's endpoints: on its own RPC listener, or (``-dev``) in its server's registry.
        self._shared_registry, self._http_addr = rpc_registry, rpc_addr
        self.rpc: RPCServer | None = None
        self._rpc_port = config.ports.http
        self._disk = disk or disk_usage
        self.disk_pressure: bool | None = None  # as last reported to the servers (None: not yet)
        self._collected: set[str] = set()  # garbage-collected allocations: never run again
        self._sending: set[str] = set()  # allocations whose update is on its way to the servers

    # ---- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Fingerprints, reattaches to kept allocations, registers (retrying until a server accepts) and
        starts the heartbeat, watch and sync loops."""
        await self._serve_rpc()
        self.node = await self._fingerprint()
        self._loops.append(asyncio.create_task(self._sync_loop(), name="client-sync"))
        self._restore()
        await self._register()
        self._loops.append(asyncio.create_task(self._heartbeat_loop(), name="client-heartbeat"))
        self._loops.append(asyncio.create_task(self._watch_loop(), name="client-watch"))
        self._loops.append(asyncio.create_task(self._disk_loop(), name="client-disk"))
        self._loops.append(asyncio.create_task(self._gc_loop(), name="client-gc"))
        log.info("client %s (node %s) registered; drivers %s", self.node.Name, self.node.ID,
                 sorted(n for n, d in (self.node.Drivers or {}).items() if d.Healthy))

    def request_stop(self) -> None:
        self._stopped.set()

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    async def stop(self) -> None:
        """Leaves every task running (a later start reattaches to them) and closes the connections."""
        self._stopped.set()
        for loop_task in self._loops:
            loop_task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        await self.exec_sessions.close_all()
        await asyncio.gather(*(r.detach() for r in self.runners.values()), return_exceptions=True)
        await asyncio.gather(*self._runs.values(), return_exceptions=True)
        if self.rpc is not None:
            await self.rpc.close()
        for driver in self.drivers.values():
            with contextlib.suppress(CaravanError, OSError):
                await driver.shutdown()
        await self.pool.close()

    # ---- the client's RPC listener -----------------------------------------------------------------

    async def _serve_rpc(self) -> None:
        """Serves the client endpoints (stats, logs, files, restart, signal) where the web application
        finds them: the node's ``HTTPAddr``. A client alone listens on ``ports.http`` of its http address
        (Nomad's client serves its HTTP API there); in ``-dev`` they join the server's registry."""
        if self._shared_registry is not None:
            register_client_endpoints(self._shared_registry, self)
            return
        registry = Registry()
        register_client_endpoints(registry, self)
        t = self.config.tls
        tls = server_context(ca_file=t.ca_file, cert_file=t.cert_file, key_file=t.key_file,
                             min_version=t.tls_min_version) if t.rpc else None
        self.rpc = RPCServer(registry, ServerAuth(name=self.config.name, region=self.config.region,
                                                  cluster_key=self.config.server.cluster_key(), tls=tls))
        _, port = await self.rpc.start(self.config.addresses.http, self.config.ports.http)
        self._rpc_port = port

    # ---- fingerprint and registration -------------------------------------------------------------

    async def _fingerprint(self) -> Node:
        facts = await asyncio.to_thread(collect_facts, self.data_dir, bind=self._bind())
        plugins = self.config.plugins
        configs: dict[str, dict[str, object]] = {
            "raw_exec": {"enabled": plugins.raw_exec.enabled},
            "docker": {"endpoint": plugins.docker.endpoint, "allow_privileged": plugins.docker.allow_privileged},
        }
        infos: dict[str, DriverInfo] = {}
        for name, plugin_config in configs.items():
            driver = new_driver(name, plugin_config)
            info = await driver.fingerprint()
            infos[name] = info
            if info.Detected and info.Healthy:
                self.drivers[name] = driver
            else:
                await driver.shutdown()
        node_id, secret_id = node_identity(Path(self.config.client.state_dir or self.data_dir / "client"))
        http_addr = self._http_addr or f"{facts.ip_address}:{self._rpc_port}"
        return build_node(config=self.config, facts=facts, drivers=infos, node_id=node_id, secret_id=secret_id,
                          http_addr=http_addr)

    def _bind(self) -> str | None:
        bind = self.config.bind_addr
        return None if bind in ("", "0.0.0.0", "::") else bind

    async def _register(self) -> None:
        assert self.node is not None
        while True:
            try:
                reply = await self._call("Node.Register", NodeRegisterRequest(Node=self.node, Region=self.config.region),
                                         NodeUpdateResponse)
            except Unavailable as e:
                log.info("registration failed (%s); retrying", e)
                await self.clock.sleep(self.timings.register_retry_s)
                continue
            self._heard(reply)
            return

    def _heard(self, reply: NodeUpdateResponse) -> None:
        self.heartbeat_ttl_ns = reply.HeartbeatTTL
        known = [s for s in reply.Servers if s]
        if known:
            self.servers = sorted(set(self.servers) | set(known))

    async def _heartbeat_loop(self) -> None:
        assert self.node is not None
        last_ok_ns = self.clock.now_ns()
        wait_s = self.heartbeat_ttl_ns / SECOND_NS
        while True:
            await self.clock.sleep(wait_s)
            args = NodeUpdateStatusRequest(NodeID=self.node.ID, Status=NodeStatus.READY, Region=self.config.region)
            try:
                reply = await self._call("Node.UpdateStatus", args, NodeUpdateResponse)
            except NotFound:  # the servers lost the node (a restored snapshot): register again
                await self._register()
                last_ok_ns, wait_s = self.clock.now_ns(), self.heartbeat_ttl_ns / SECOND_NS
                continue
            except CaravanError as e:
                wait_s = self._retry_wait_s(last_ok_ns)
                log.info("heartbeat failed (%s); retrying in %.2f s", e, wait_s)
                continue
            self._heard(reply)
            last_ok_ns, wait_s = self.clock.now_ns(), self.heartbeat_ttl_ns / SECOND_NS

    def _retry_wait_s(self, last_ok_ns: int) -> float:
        """A random stagger of the TTL still left (Nomad's ``RandomStagger``), never below the minimum."""
        left_s = (last_ok_ns + self.heartbeat_ttl_ns - self.clock.now_ns()) / SECOND_NS
        return max(self.timings.heartbeat_retry_min_s, self.rng.uniform(0, max(0.0, left_s)))

    # ---- allocations ------------------------------------------------------------------------------

    def _restore(self) -> None:
        """Runs again every kept allocation with a task not known dead: its runner reattaches."""
        for alloc in self.state.allocs():
            records = [self.state.get_task(alloc.ID, t.Name) for t in self._tasks_of(alloc)]
            if all(r is not None and r.state.State == TaskStateName.DEAD for r in records):
                continue
            log.info("reattaching to allocation %s", alloc.ID)
            self._run(alloc)

    @staticmethod
    def _tasks_of(alloc: Allocation) -> list[Task]:
        job = alloc.Job
        group = next((g for g in (job.TaskGroups or []) if g.Name == alloc.TaskGroup), None) if job else None
        return list(group.Tasks or []) if group is not None else []

    async def _watch_loop(self) -> None:
        assert self.node is not None
        index = 0
        while True:
            wait_ns = int(self.timings.watch_wait_s * SECOND_NS)
            args = NodeSpecificRequest(NodeID=self.node.ID, AllowStale=True, MinQueryIndex=index,
                                       MaxQueryTime=wait_ns, Region=self.config.region)
            try:
                reply = await self._call("Node.GetAllocs", args, NodeAllocsResponse,
                                         timeout_s=self.timings.watch_wait_s + self.timings.call_timeout_s)
            except CaravanError as e:
                log.info("watching allocations failed (%s); retrying", e)
                await self.clock.sleep(self.timings.watch_retry_s)
                continue
            # A server that restarted from older state answers with a lower index: start over, as Nomad does.
            fresh = reply.Index >= index
            index = reply.Index if fresh else 0
            self._reconcile(reply.Allocs)
            if fresh:
                self.forget_removed(reply.Allocs)

    def _reconcile(self, allocs: list[Allocation]) -> None:
        for alloc in allocs:
            runner = self.runners.get(alloc.ID)
            if runner is not None:
                if (alloc.AllocModifyIndex or 0) > (runner.alloc.AllocModifyIndex or 0):
                    runner.update(alloc)
                continue
            wanted = alloc.DesiredStatus == AllocDesiredStatus.RUN and alloc.ClientStatus not in _TERMINAL
            if wanted and alloc.ID not in self._runs and alloc.ID not in self._collected:
                self._run(alloc)

    def _run(self, alloc: Allocation) -> None:
        assert self.node is not None
        try:
            runner = AllocRunner(alloc=alloc, node=self.node, drivers=self.drivers, data_dir=self.data_dir,
                                 client_state=self.state, on_update=self._queue_update, clock=self.clock,
                                 rng=self.rng, host_env=dict(os.environ),
                                 update_batch_s=self.timings.update_batch_s)
        except InvalidInput as e:
            log.warning("allocation %s cannot run here: %s", alloc.ID, e)
            self._queue_update(Allocation(ID=alloc.ID, ClientStatus=AllocClientStatus.FAILED,
                                          ClientDescription=str(e)))
            return
        self.runners[alloc.ID] = runner
        self._runs[alloc.ID] = asyncio.create_task(self._supervise(runner), name=f"alloc-{alloc.ID}")

    async def _supervise(self, runner: AllocRunner) -> None:
        try:
            await runner.run()
        except Exception:
            log.exception("allocation %s: its runner failed", runner.alloc.ID)

    def _queue_update(self, alloc: Allocation) -> None:
        self._pending[alloc.ID] = alloc
        self._pending_changed.set()

    async def _sync_loop(self) -> None:
        while True:
            await self._pending_changed.wait()
            await self.clock.sleep(self.timings.sync_interval_s)
            self._pending_changed.clear()
            batch, self._pending = self._pending, {}
            self._sending = set(batch)
            updates = [AllocClientUpdate(ID=a.ID, ClientStatus=a.ClientStatus or "",
                                         ClientDescription=a.ClientDescription or "", TaskStates=a.TaskStates,
                                         DeploymentStatus=a.DeploymentStatus)
                       for a in batch.values()]
            try:
                await self._call("Alloc.UpdateFromClient", AllocUpdateRequest(Alloc=updates,
                                 Region=self.config.region), GenericResponse)
            except CaravanError as e:
                log.info("sending %d allocation updates failed (%s); retrying", len(updates), e)
                for alloc_id, alloc in batch.items():
                    self._pending.setdefault(alloc_id, alloc)  # a newer update, if any, wins
                self._pending_changed.set()
            finally:
                self._sending = set()

    # ---- the disk: pressure and garbage collection -------------------------------------------------

    async def _disk_loop(self) -> None:
        while True:
            await self.check_disk()
            await self.clock.sleep(self.timings.disk_check_interval_s)

    async def check_disk(self) -> None:
        """Reports a change of disk pressure to the servers (they make the node ineligible, or eligible
        again); a failed report is repeated at the next check."""
        assert self.node is not None
        usage = await asyncio.to_thread(self._disk, self.data_dir)
        threshold = pressure_threshold_bytes(usage, self.config.client.disk_free_threshold)
        pressured = usage.free_bytes < threshold
        if pressured == self.disk_pressure:
            return
        args = NodeDiskPressureRequest(NodeID=self.node.ID, SecretID=self.node.SecretID, UnderPressure=pressured,
                                       FreeBytes=usage.free_bytes, ThresholdBytes=threshold,
                                       Region=self.config.region)
        try:
            await self._call("Node.UpdateDiskPressure", args, NodeWriteResponse)
        except CaravanError as e:
            log.info("reporting disk pressure failed (%s); retrying at the next check", e)
            return
        if pressured or self.disk_pressure:
            log.warning("disk pressure %s: %d MB free in %s (threshold %d MB)", "on" if pressured else "over",
                        usage.free_bytes >> 20, self.data_dir, threshold >> 20)
        self.disk_pressure = pressured

    async def _gc_loop(self) -> None:
        while True:
            await self.clock.sleep(self.config.client.gc_interval_s)
            self.collect_garbage()  # on the loop: it reads the runners and pending updates the loop changes

    def collect_garbage(self) -> list[str]:
        """Destroys the oldest finished allocations while over ``gc_max_allocs`` or the disk usage
        threshold (``gc.collect``); returns their IDs."""
        c = self.config.client
        limits = GCLimits(max_allocs=c.gc_max_allocs, disk_usage_threshold_percent=c.gc_disk_usage_threshold)
        destroyed = collect(self._gc_candidates(), alloc_count=len(self.state.allocs()), limits=limits,
                            usage=lambda: self._disk(self.data_dir), destroy=self._destroy)
        if destroyed:
            log.info("garbage collected %d finished allocations: %s", len(destroyed), ", ".join(destroyed))
        return destroyed

    def forget_removed(self, listed: list[Allocation]) -> list[str]:
        """Destroys the finished allocations the servers no longer list (their GC removed them), as a
        Nomad client does; a live one is left alone. Returns their IDs."""
        known = {a.ID for a in listed}
        removed = [c.alloc_id for c in self._gc_candidates() if c.alloc_id not in known]
        for alloc_id in removed:
            self._destroy(alloc_id)
        if removed:
            log.info("destroyed %d allocations the servers removed: %s", len(removed), ", ".join(removed))
        return removed

    def _gc_candidates(self) -> list[GCCandidate]:
        """Terminal allocations whose final state the servers have (nothing pending or on its way)."""
        found = []
        for alloc in self.state.allocs():
            run = self._runs.get(alloc.ID)
            if alloc.ID in self._pending or alloc.ID in self._sending or (run is not None and not run.done()):
                continue
            records = [self.state.get_task(alloc.ID, t.Name) for t in self._tasks_of(alloc)]
            states = [r.state for r in records if r is not None]
            if not states or len(states) != len(records) or any(s.State != TaskStateName.DEAD for s in states):
                continue
            finished_ns = max(int(s.FinishedAt.timestamp() * SECOND_NS) for s in states)
            found.append(GCCandidate(alloc_id=alloc.ID, finished_ns=finished_ns))
        return found

    def _destroy(self, alloc_id: str) -> None:
        self._collected.add(alloc_id)
        runner = self.runners.pop(alloc_id, None)
        self._runs.pop(alloc_id, None)
        if runner is not None:
            runner.destroy()
        else:
            AllocDir(self.data_dir, alloc_id).destroy()
            self.state.delete_alloc(alloc_id)

    # ---- RPC --------------------------------------------------------------------------------------

    async def _call(self, method: str, args: msgspec.Struct, result_type: type[R],
                    timeout_s: float | None = None) -> R:
        """Calls the servers in turn, starting with the last one that answered, until one does."""
        last: CaravanError = Unavailable("no server to call: set client { servers = [...] }")
        for attempt in range(len(self.servers)):
            address = self.servers[(self._next_server + attempt) % len(self.servers)]
            try:
                result = await self.pool.call(address, method, args, result_type,
                                              timeout_s=timeout_s or self.timings.call_timeout_s)
            except Unavailable as e:
                last = e
                continue
            self._next_server = (self._next_server + attempt) % len(self.servers)
            return result
        raise last

    def _auth(self) -> ClientAuth:
        t = self.config.tls
        tls = client_context(ca_file=t.ca_file, cert_file=t.cert_file, key_file=t.key_file,
                             verify_server_hostname=t.verify_server_hostname,
                             min_version=t.tls_min_version) if t.rpc else None
        return ClientAuth(role=Role.CLIENT, name=self.config.name, region=self.config.region,
                          cluster_key=self.config.server.cluster_key(), tls=tls,
                          verify_server_hostname=t.verify_server_hostname)


async def serve(config: AgentConfig) -> int:
    """Runs the agents ``config`` enables (a server, a client, or both for ``-dev``) until SIGTERM or
    SIGINT; a client without ``servers`` in the same process registers with its own server."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server: ServerAgent | None = None
    client: ClientAgent | None = None
    start_failed = False
    try:
        if config.dev_mode and not config.server.encrypt:
            config = with_dev_key(config)
        if config.server.enabled:
            server = ServerAgent(config)
            await server.start()
            print(json.dumps({"event": "started", "name": server.member.Name, "rpc": server.member.RPCAddr,
                              "raft": server.member.RaftAddr, "region": server.region}), flush=True)
            if not config.client.servers:
                config = msgspec.structs.replace(
                    config, client=msgspec.structs.replace(config.client, servers=(server.member.RPCAddr,)))
        if config.client.enabled:
            # -dev: the client's endpoints join the server's registry, so the node's HTTPAddr is the one port.
            client = ClientAgent(config, rpc_registry=server.rpc.registry if server is not None else None,
                                 rpc_addr=server.member.RPCAddr if server is not None else "")
            await client.start()
            assert client.node is not None
            print(json.dumps({"event": "client-started", "node": client.node.ID, "name": client.node.Name}),
                  flush=True)
    except CaravanError as e:
        sys.stderr.write(f"==> Error starting the agent: {e}\n")
        start_failed = True
        stop.set()
    waits: list[asyncio.Future[object]] = [asyncio.ensure_future(_wait(stop))]
    if server is not None:
        waits.append(asyncio.ensure_future(_wait_server(server)))
    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for waiting in waits:
        waiting.cancel()
    if client is not None:
        await client.stop()
    failed = False
    if server is not None:
        failed = server.runtime is not None and server.runtime.done is not None and server.runtime.done.done() \
            and not server.runtime.done.cancelled() and server.runtime.done.exception() is not None
        await server.stop()
    return 1 if failed or start_failed else 0


async def _wait(event: asyncio.Event) -> object:
    return await event.wait()


async def _wait_server(server: ServerAgent) -> object:
    return await server.wait_stopped()


def with_dev_key(config: AgentConfig) -> AgentConfig:
    """``-dev`` without ``-encrypt``: a cluster key made once and kept in ``<data_dir>/dev-cluster-key``,
    so other commands (and a restarted dev agent) can use it."""
    path = Path(config.data_dir) / "dev-cluster-key"
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        key = base64.b64encode(os.urandom(32)).decode()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(key + "\n")
        path.chmod(0o600)
    log.info("dev mode: the cluster key is in %s", path)
    return msgspec.structs.replace(config, server=msgspec.structs.replace(config.server, encrypt=key))
