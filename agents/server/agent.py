"""The server agent: one Raft voter with the replicated state store, its RPC endpoints and the leader loops.

    agent = ServerAgent(load(["-server", "-config", "server.hcl"]).config)
    await agent.start()          # RPC up, servers discovered, Raft running
    await agent.wait_stopped()   # until stop() or a fatal Raft error

Ports: RPC listens on ``ports.rpc`` (4647). Caravan has no gossip layer, so Raft uses the serf port,
``ports.serf`` (4648), on ``addresses.serf``.

Joining (a static peer list, for now): ``server_join.retry_join`` lists other servers' RPC addresses
(``host`` or ``host:port``, port 4647 by default). Before Raft starts, the server asks each of them for
its name and addresses (``Status.Member``; every answer also carries the servers the answering one knows),
again every ``min(retry_interval, 1 s)``, until it knows ``bootstrap_expect`` servers of its region, this
one included; those servers found the Raft cluster together. ``bootstrap_expect = 1`` with no
``retry_join`` starts a single-server cluster. The member list is kept in ``<data_dir>/server/peers.json``
so a restarted server rejoins without discovery. A server that finds a running cluster which does not
count it joins it instead of founding one (``agents.server.membership``): the leader adds it.

Raft ids are the servers' names (``name``, the host name by default), unique in a region.

Regions: a ``retry_join`` address that answers with another region federates the two; from then on the
servers exchange member lists and watch each other (``agents.server.federation``), and a request for
another region goes to a live server of it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import random
import signal
import socket
import ssl
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import msgspec

from agents.config import AgentConfig
from agents.config.addresses import normalize_address
from agents.rpc import ClientAuth, ConnectionPool, Forwarder, Registry, Role, RPCServer, ServerAuth
from agents.rpc import NotLeader as RPCNotLeader
from agents.rpc.tls import client_context, server_context
from agents.server.core_gc import GCSettings
from agents.server.endpoints import Member, MemberRequest, MemberResponse, register_endpoints
from agents.server.federation import Federation
from agents.server.fsm_adapter import Rejected, StateFSM
from agents.server.leader import LeaderConfig, LeaderLoops
from agents.server.membership import JoinRequest, JoinResponse, cluster_to_join
from agents.server.raft_runtime import NotLeader, RaftRuntime, RuntimeConfig
from agents.server.raft_transport import RaftTLS
from cluster import fsm
from cluster.errors import CaravanError, InvalidInput, Unavailable
from cluster.scheduler import gc_tuning
from cluster.scheduler.context import new_uuid

__all__ = ["ServerAgent", "serve", "split_address"]

log = logging.getLogger(__name__)

SECOND_NS = 1_000_000_000
DEFAULT_RPC_PORT = 4647
DISCOVERY_CALL_TIMEOUT_S = 2.0
MAX_DISCOVERY_INTERVAL_S = 1.0
BARRIER_RETRY_S = 0.1
BARRIER_TIMEOUT_S = 10.0
JOIN_RETRY_S = 1.0
JOIN_CALL_TIMEOUT_S = 60.0


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


class ServerAgent:
    """One server; see the module docstring. Implements the ``Routes`` the ``Forwarder`` asks."""

    def __init__(self, config: AgentConfig, *, raft: RuntimeConfig | None = None) -> None:
        assert config.server.enabled, "a server agent needs server { enabled = true } or -server"
        key = config.server.cluster_key()
        if key is None:
            raise InvalidInput("server.encrypt: Raft needs the cluster key, even with TLS")
        self.config = config
        self.region = config.region
        self._key = key
        raft_config = raft or RuntimeConfig(cluster_key=key)
        if config.tls.rpc and raft_config.tls is None:
            raft_config = dataclasses.replace(raft_config, tls=self._raft_tls())  # Raft as RPC: mutual TLS
        self._raft_config = raft_config
        self._rng = random.Random(int.from_bytes(os.urandom(16), "big"))
        self._dir = Path(config.data_dir) / "server"
        self.member = Member(Name=config.name, Region=config.region, RPCAddr=self._advertised("rpc"),
                             RaftAddr=self._advertised("serf"))
        self._members: dict[str, Member] = {self.member.Name: self.member}
        self.fsm = StateFSM()
        self.pool = ConnectionPool(self._client_auth())
        self.forwarder = Forwarder(self.pool, self, rng=self._rng)
        seeds = [normalize_address(a, DEFAULT_RPC_PORT) for a in config.server.server_join.retry_join]
        self.federation = Federation(self.member, self.pool, seeds=seeds, learn=self.learn_members,
                                     local_addrs=lambda: [m.RPCAddr for m in self._members.values()],
                                     interval_s=min(config.server.server_join.retry_interval_s,
                                                    MAX_DISCOVERY_INTERVAL_S))
        self._federating: asyncio.Task[None] | None = None
        registry = Registry()
        register_endpoints(registry, self)
        self.rpc = RPCServer(registry, ServerAuth(name=config.name, region=config.region, cluster_key=key,
                                                  tls=self._server_tls()))
        self.runtime: RaftRuntime | None = None
        self.loops: LeaderLoops | None = None
        self._monitor: asyncio.Task[None] | None = None
        self._joiner: asyncio.Task[None] | None = None
        self._leadership_changed = asyncio.Event()
        self._stopped = asyncio.Event()

    # ---- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Serves RPC, finds the founding servers, and starts Raft and the leadership monitor."""
        c = self.config
        # The state store keeps millions of long-lived objects; the default collector thresholds would
        # rescan them thousands of times a minute under scheduling load (BENCHMARKS.md, scheduler).
        gc_tuning.configure_for_server()
        await self.rpc.start(c.addresses.rpc, c.ports.rpc)
        raft_dir = self._dir.parent / "raft"
        founded = raft_dir.is_dir() and any(raft_dir.iterdir())  # Raft ran here: never found or join again
        members = await self._discover()
        joining = await self._joining(founded)
        if joining:
            members = self._region_members()  # the join may have met servers that discovery did not
        peers = {m.Name: split_address(m.RaftAddr) for m in members}
        raft_config = dataclasses.replace(self._raft_config, bootstrap=False) if joining else self._raft_config
        runtime = RaftRuntime(self.member.Name, peers, self._dir.parent, self.fsm, raft_config)
        runtime.leadership_listeners.append(lambda _: self._leadership_changed.set())
        await runtime.start()
        self.runtime = runtime
        assert runtime.done is not None
        runtime.done.add_done_callback(lambda _: self._stopped.set())
        self.loops = LeaderLoops(self.fsm, self.propose, self._leader_config(), self.now_ns, self._rng)
        self._monitor = asyncio.create_task(self._watch_leadership(), name="leadership-monitor")
        if joining:
            self._joiner = asyncio.create_task(self._join(), name="raft-join")
        self._federating = asyncio.create_task(self.federation.run(), name="federation")
        log.info("server %s: RPC on %s, Raft on %s, peers %s", self.member.Name, self.member.RPCAddr,
                 self.member.RaftAddr, sorted(peers))

    async def wait_stopped(self) -> bool:
        """Waits until ``stop()`` or a fatal Raft error; True if Raft failed."""
        await self._stopped.wait()
        done = self.runtime.done if self.runtime is not None else None
        return bool(done is not None and done.done() and not done.cancelled() and done.exception())

    def request_stop(self) -> None:
        self._stopped.set()

    async def stop(self) -> None:
        self._stopped.set()
        for task in (self._monitor, self._joiner, self._federating):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if self.loops is not None and self.loops.running:
            await self.loops.stop()
        await self.rpc.close()
        await self.pool.close()
        if self.runtime is not None:
            await self.runtime.stop()

    # ---- what endpoints and loops use -------------------------------------------------------------

    def now_ns(self) -> int:
        return time.time_ns()

    def new_id(self) -> str:
        return new_uuid(self._rng)

    async def propose(self, command: fsm.Command) -> object:
        """Commits ``command`` through Raft and returns the FSM's result (its refusal raised again)."""
        if self.runtime is None:
            raise Unavailable("the server is starting: Raft is not running yet")
        try:
            result = await self.runtime.propose(fsm.encode_command(command))
        except NotLeader as e:
            leader = self._members.get(e.leader_id)
            raise RPCNotLeader(f"not the leader (leader: {leader.RPCAddr if leader else 'unknown'})",
                               leader=leader.RPCAddr if leader else "") from None
        if isinstance(result, Rejected):
            raise result.error
        return result

    def check_leading(self) -> None:
        """Raises ``Unavailable`` unless the leader loops run here (a new leader is still catching up)."""
        if self.loops is None or not self.loops.running:
            raise Unavailable("this server is not leading yet; retry")

    def heartbeat(self, node_id: str) -> int:
        """Resets a node's heartbeat timer on the leader; the TTL it must heartbeat within, in ns."""
        self.check_leading()
        assert self.loops is not None
        return self.loops.heartbeat(node_id)

    def leader_rpc(self) -> str | None:
        if self.runtime is None or not self.runtime.leader_id:
            return None
        member = self._members.get(self.runtime.leader_id)
        return member.RPCAddr if member is not None else None

    def server_rpc_addrs(self) -> list[str]:
        """RPC addresses of the region's Raft members (of every known server before Raft runs)."""
        region = [m for m in self._members.values() if m.Region == self.region]
        if self.runtime is not None:
            conf = self.runtime.status().raft.conf
            in_raft = set(conf.voters) | set(conf.learners)
            region = [m for m in region if m.Name in in_raft]
        return sorted(m.RPCAddr for m in region)

    def learn_members(self, members: Sequence[Member]) -> None:
        """Keeps servers of our region (Raft ids are unique only within a region); the federation
        keeps the others."""
        for m in members:
            if m.Region == self.region and m.Name != self.member.Name:
                self._members[m.Name] = m
        self.federation.add(members)

    def known_members(self) -> list[Member]:
        """Every server known, of every region: ours by name, then the other regions'."""
        return sorted(self._members.values(), key=lambda m: m.Name) + self.federation.members()

    def region_members(self) -> list[Member]:
        """The servers of our region known (this one included), by name."""
        return sorted(self._members.values(), key=lambda m: m.Name)

    def leader_contact(self) -> tuple[bool, int]:
        """Nomad's query meta: whether a leader is known, and ms since it last spoke to us (0 here on
        the leader); before Raft runs, no leader and no contact."""
        if self.runtime is None:
            return False, 0
        return bool(self.runtime.leader_id), self.runtime.last_contact_ms()

    # ---- Routes (for the Forwarder) ---------------------------------------------------------------

    def is_leader(self) -> bool:
        return self.runtime is not None and self.runtime.is_leader

    def leader(self) -> str | None:
        return self.leader_rpc()

    def servers(self, region: str) -> Sequence[str]:
        if region == self.region:
            return [m.RPCAddr for m in self._members.values()]
        return self.federation.servers(region)

    # ---- internals -------------------------------------------------------------------------------

    async def _watch_leadership(self) -> None:
        """Starts the leader loops once this server leads and its state holds every committed entry;
        stops them when it no longer leads."""
        assert self.runtime is not None and self.loops is not None
        runtime, loops = self.runtime, self.loops
        changed = self._leadership_changed
        while True:
            changed.clear()  # before looking, so that a change while we act brings us round again
            if runtime.is_leader and not loops.running:
                try:
                    await runtime.read_index(BARRIER_TIMEOUT_S)
                except Unavailable as e:
                    log.info("leadership barrier failed (%s); trying again", e)
                    await asyncio.sleep(BARRIER_RETRY_S)
                    continue
                if runtime.is_leader:
                    log.info("server %s leads: starting the leader loops", self.member.Name)
                    loops.start()
            elif not runtime.is_leader and loops.running:
                log.info("server %s no longer leads: stopping the leader loops", self.member.Name)
                await loops.stop()
            await changed.wait()

    async def _joining(self, founded: bool) -> bool:
        """Whether this server joins a running cluster rather than founding one (see ``membership``)."""
        pending = self._dir / "join.pending"
        if pending.exists():
            return True
        if founded:
            return False
        # The retry_join addresses too: with bootstrap_expect = 1 discovery asks nobody, yet a cluster may run.
        joins = [normalize_address(a, DEFAULT_RPC_PORT) for a in self.config.server.server_join.retry_join]
        known = [m.RPCAddr for m in self._region_members()]
        targets = [t for t in dict.fromkeys(known + joins) if t != self.member.RPCAddr]
        if not await cluster_to_join(self, targets):
            return False
        await asyncio.gather(*(self._ask(t) for t in targets))  # they learn our addresses, we theirs
        self._save_members(self._region_members())
        pending.touch()
        return True

    async def _join(self) -> None:
        """Asks the leader, through any server, to add this one; again until it did."""
        request = JoinRequest(Member=self.member, Region=self.region)
        while True:
            for member in self._region_members():
                if member.Name == self.member.Name:
                    continue
                try:
                    reply = await self.pool.call(member.RPCAddr, "Membership.Join", request, JoinResponse,
                                                 timeout_s=JOIN_CALL_TIMEOUT_S)
                except CaravanError as e:
                    log.info("join through %s failed: %s", member.RPCAddr, e)
                    continue
                log.info("server %s joined the cluster (added: %s)", self.member.Name, reply.Added)
                (self._dir / "join.pending").unlink(missing_ok=True)
                return
            await asyncio.sleep(JOIN_RETRY_S)

    async def _discover(self) -> list[Member]:
        saved = self._dir / "peers.json"
        if saved.exists():
            members = msgspec.json.decode(saved.read_bytes(), type=list[Member])
            self.learn_members(members)
            return [m for m in members if m.Name != self.member.Name] + [self.member]
        join = self.config.server.server_join
        targets = [normalize_address(a, DEFAULT_RPC_PORT) for a in join.retry_join]
        targets = [t for t in targets if t != self.member.RPCAddr]
        expect = max(1, self.config.server.bootstrap_expect)
        attempts = 0
        while len(self._region_members()) < expect:
            await asyncio.gather(*(self._ask(t) for t in targets))
            if len(self._region_members()) >= expect:
                break
            attempts += 1
            if join.retry_max and attempts >= join.retry_max:
                raise Unavailable(f"found {len(self._region_members())} of {expect} servers after "
                                  f"{attempts} attempts at {', '.join(targets) or 'no retry_join address'}")
            await asyncio.sleep(min(join.retry_interval_s, MAX_DISCOVERY_INTERVAL_S))
        members = self._region_members()
        self._save_members(members)
        return members

    def _save_members(self, members: list[Member]) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        saved = self._dir / "peers.json"
        temp = saved.with_suffix(".tmp")
        temp.write_bytes(msgspec.json.encode(members))
        os.replace(temp, saved)

    def _region_members(self) -> list[Member]:
        return self.region_members()

    async def _ask(self, address: str) -> None:
        try:
            reply = await self.pool.call(address, "Status.Member", MemberRequest(From=self.member), MemberResponse,
                                         timeout_s=DISCOVERY_CALL_TIMEOUT_S)
        except CaravanError as e:
            log.debug("discovery: %s did not answer: %s", address, e)
            return
        self.learn_members([reply.Self, *reply.Known])

    def _advertised(self, service: str) -> str:
        c = self.config
        port = c.ports.rpc if service == "rpc" else c.ports.serf
        given = getattr(c.advertise, service)
        if given:
            return normalize_address(given, port)
        host = getattr(c.addresses, service)
        if host in ("0.0.0.0", "::", ""):
            host = socket.gethostbyname(socket.gethostname())  # Nomad picks a private address the same way
        return normalize_address(host, port)

    def _leader_config(self) -> LeaderConfig:
        s = self.config.server
        return LeaderConfig(
            num_schedulers=max(1, s.num_schedulers), schedulers=s.enabled_schedulers,
            min_heartbeat_ttl_ns=int(s.min_heartbeat_ttl_s * SECOND_NS),
            heartbeat_grace_ns=int(s.heartbeat_grace_s * SECOND_NS),
            max_heartbeats_per_second=s.max_heartbeats_per_second, gc=GCSettings.from_server(s))

    def _client_auth(self) -> ClientAuth:
        t = self.config.tls
        tls = client_context(ca_file=t.ca_file, cert_file=t.cert_file, key_file=t.key_file,
                             verify_server_hostname=t.verify_server_hostname,
                             min_version=t.tls_min_version) if t.rpc else None
        return ClientAuth(role=Role.SERVER, name=self.config.name, region=self.region, cluster_key=self._key,
                          tls=tls, verify_server_hostname=t.verify_server_hostname)

    def _raft_tls(self) -> RaftTLS:
        t = self.config.tls
        client = client_context(ca_file=t.ca_file, cert_file=t.cert_file, key_file=t.key_file,
                                verify_server_hostname=t.verify_server_hostname, min_version=t.tls_min_version)
        server = server_context(ca_file=t.ca_file, cert_file=t.cert_file, key_file=t.key_file,
                                min_version=t.tls_min_version)
        return RaftTLS(server=server, client=client, region=self.region)

    def _server_tls(self) -> ssl.SSLContext | None:
        t = self.config.tls
        if not t.rpc:
            return None
        return server_context(ca_file=t.ca_file, cert_file=t.cert_file, key_file=t.key_file,
                              min_version=t.tls_min_version)


async def serve(config: AgentConfig) -> int:
    """Runs a server until SIGTERM or SIGINT (exit 0) or a fatal Raft error (exit 1)."""
    agent = ServerAgent(config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, agent.request_stop)
    try:
        await agent.start()
    except CaravanError as e:
        sys.stderr.write(f"==> Error starting the server: {e}\n")
        await agent.stop()
        return 1
    print(json.dumps({"event": "started", "name": agent.member.Name, "rpc": agent.member.RPCAddr,
                      "raft": agent.member.RaftAddr, "region": agent.region}), flush=True)
    failed = await agent.wait_stopped()
    await agent.stop()
    return 1 if failed else 0
