"""Operator, agent and region endpoints: Raft membership and leadership, state snapshots, the scheduler
configuration, and what ``/v1/agent/*`` and ``/v1/regions`` show.

Writes (remove a peer, transfer leadership, set the scheduler configuration) and snapshots run on the
leader; the web application checks the operator ACL before it calls (``roles`` admit only web and
forwarding servers). ``Membership.Join`` is for servers only: a new server asks to be added.

Snapshots are read in chunks (the RPC frame limit is 16 MiB): the first ``Operator.SnapshotSave`` call
takes the state on the leader after a read barrier (so it holds every write acknowledged before the
call) and answers its first chunk with a ``SnapshotID``; the caller asks for the next offsets under that
ID. The leader keeps the last few snapshots for ``SNAPSHOT_KEEP_S`` seconds.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
from collections import OrderedDict
from typing import TYPE_CHECKING

import msgspec

from agents.rpc import CallContext, Registry, Role
from agents.server.endpoints import Member, Query, forwarded_read, read
from agents.server.membership import (
    JoinRequest,
    JoinResponse,
    RaftConfigurationRequest,
    RaftConfigurationResponse,
    add_server,
    raft_configuration,
    remove_server,
)
from cluster import fsm
from cluster.errors import CaravanError, InvalidInput, NotFound
from cluster.state import SchedulerConfiguration

if TYPE_CHECKING:
    from agents.server.agent import ServerAgent

__all__ = [
    "AgentHealthResponse", "AgentMember", "AgentMembersResponse", "AgentRequest", "AgentSelfResponse",
    "RaftPeerRequest", "RegionsResponse", "SchedulerConfigurationResponse", "SchedulerGetRequest",
    "SchedulerSetConfigRequest",
    "SchedulerSetConfigResponse", "SnapshotSaveRequest", "SnapshotSaveResponse", "TransferLeadershipRequest",
    "WriteResponse", "register",
]

SNAPSHOT_CHUNK_BYTES = 4 << 20
SNAPSHOT_KEEP_S = 120.0
SNAPSHOT_KEEP_COUNT = 2
BARRIER_TIMEOUT_S = 10.0
MEMBER_CALL_TIMEOUT_S = 1.0
VERSION = importlib.metadata.version("caravan")


# ---- messages -----------------------------------------------------------------------------------


class RaftPeerRequest(msgspec.Struct, kw_only=True):
    ID: str
    Region: str = ""


class TransferLeadershipRequest(msgspec.Struct, kw_only=True):
    ID: str = ""  # "": the most up-to-date other voter
    Region: str = ""


class WriteResponse(msgspec.Struct, kw_only=True):
    Index: int = 0


class SnapshotSaveRequest(msgspec.Struct, kw_only=True):
    SnapshotID: str = ""  # "": take a new snapshot
    Offset: int = 0
    Region: str = ""


class SnapshotSaveResponse(msgspec.Struct, kw_only=True):
    SnapshotID: str
    Index: int  # the Raft index the state was taken at
    Term: int  # the leader's term when it was taken
    Size: int
    Offset: int
    Data: bytes


class SchedulerConfigurationResponse(msgspec.Struct, kw_only=True):
    SchedulerConfig: SchedulerConfiguration
    Index: int = 0
    KnownLeader: bool = False
    LastContact: int = 0


class SchedulerSetConfigRequest(msgspec.Struct, kw_only=True):
    Config: SchedulerConfiguration
    CAS: bool = False
    CASIndex: int = 0  # with CAS: the ModifyIndex the stored configuration must still have
    Region: str = ""


class SchedulerSetConfigResponse(msgspec.Struct, kw_only=True):
    Updated: bool
    Index: int = 0


class SchedulerGetRequest(Query, kw_only=True):
    pass


class AgentRequest(msgspec.Struct, kw_only=True):
    Region: str = ""


class RegionsResponse(msgspec.Struct, kw_only=True):
    Regions: list[str]


class AgentMember(msgspec.Struct, kw_only=True):
    """A server as Nomad's ``/v1/agent/members`` shows it (Caravan has no gossip: Addr/Port are Raft's)."""

    Name: str
    Addr: str
    Port: int
    Tags: dict[str, str]
    Status: str  # "alive" (it answered just now) or "failed"
    ProtocolMin: int = 1
    ProtocolMax: int = 5
    ProtocolCur: int = 2
    DelegateMin: int = 2
    DelegateMax: int = 5
    DelegateCur: int = 4


class AgentMembersResponse(msgspec.Struct, kw_only=True):
    ServerName: str
    ServerRegion: str
    ServerDC: str
    Members: list[AgentMember]


class AgentSelfResponse(msgspec.Struct, kw_only=True):
    config: dict[str, object]
    member: AgentMember
    stats: dict[str, dict[str, str]]


class AgentHealth(msgspec.Struct, kw_only=True):
    ok: bool
    message: str


class AgentHealthResponse(msgspec.Struct, kw_only=True):
    server: AgentHealth


# ---- handlers ------------------------------------------------------------------------------------


def register(registry: Registry, agent: ServerAgent) -> None:
    """Adds the operator, agent and region endpoints to ``registry``."""
    _raft(registry, agent)
    _snapshots(registry, agent)
    _scheduler(registry, agent)
    _agent(registry, agent)


def _raft(registry: Registry, agent: ServerAgent) -> None:
    @registry.endpoint("Operator.RaftGetConfiguration", roles={Role.SERVER, Role.WEB})
    async def raft_get_configuration(ctx: CallContext, args: RaftConfigurationRequest) -> RaftConfigurationResponse:
        forwarded = await agent.forwarder.forward(ctx, args, RaftConfigurationResponse,
                                                  region=args.Region or None, to_leader=not args.AllowStale)
        if forwarded is not None:
            return forwarded
        return raft_configuration(agent)

    @registry.endpoint("Operator.RaftRemovePeerByID", roles={Role.SERVER, Role.WEB})
    async def raft_remove_peer(ctx: CallContext, args: RaftPeerRequest) -> WriteResponse:
        forwarded = await agent.forwarder.forward(ctx, args, WriteResponse, region=args.Region or None,
                                                  to_leader=True)
        if forwarded is not None:
            return forwarded
        await remove_server(agent, args.ID)
        return WriteResponse(Index=_applied(agent))

    @registry.endpoint("Operator.TransferLeadershipToPeer", roles={Role.SERVER, Role.WEB})
    async def transfer_leadership(ctx: CallContext, args: TransferLeadershipRequest) -> WriteResponse:
        forwarded = await agent.forwarder.forward(ctx, args, WriteResponse, region=args.Region or None,
                                                  to_leader=True)
        if forwarded is not None:
            return forwarded
        runtime = agent.runtime
        assert runtime is not None
        target = args.ID or _best_transferee(agent)
        status = runtime.status().raft
        if target not in status.conf.voters:
            raise NotFound(f"no Raft voter with ID {target!r}")
        if target != agent.member.Name:
            await runtime.transfer_leadership(target, timeout_s=min(ctx.remaining_s(), 10.0))
        return WriteResponse(Index=_applied(agent))

    @registry.endpoint("Membership.Join", roles={Role.SERVER})
    async def membership_join(ctx: CallContext, args: JoinRequest) -> JoinResponse:
        forwarded = await agent.forwarder.forward(ctx, args, JoinResponse, region=args.Region or None,
                                                  to_leader=True)
        if forwarded is not None:
            return forwarded
        added = await add_server(agent, args.Member)
        return JoinResponse(Added=added, Index=_applied(agent))

    @registry.endpoint("Status.Regions", roles=set(Role))
    async def status_regions(ctx: CallContext, args: AgentRequest) -> RegionsResponse:
        return RegionsResponse(Regions=agent.federation.regions())


def _best_transferee(agent: ServerAgent) -> str:
    """The other voter with the longest log: it can take over soonest."""
    assert agent.runtime is not None
    status = agent.runtime.status().raft
    others = [v for v in status.conf.voters if v != agent.member.Name]
    if not others:
        raise InvalidInput("there is no other voter to transfer leadership to")
    return max(others, key=lambda v: (status.progress[v].match if v in status.progress else 0, v))


def _applied(agent: ServerAgent) -> int:
    return agent.fsm.store.snapshot().latest_index()


class _SavedSnapshots:
    """The leader's recent snapshots, kept while their chunks are read."""

    def __init__(self) -> None:
        self._saved: OrderedDict[str, tuple[float, SnapshotSaveResponse]] = OrderedDict()

    def add(self, snapshot: SnapshotSaveResponse) -> None:
        self._expire()
        self._saved[snapshot.SnapshotID] = (asyncio.get_running_loop().time(), snapshot)
        while len(self._saved) > SNAPSHOT_KEEP_COUNT:
            self._saved.popitem(last=False)

    def get(self, snapshot_id: str) -> SnapshotSaveResponse:
        self._expire()
        found = self._saved.get(snapshot_id)
        if found is None:
            raise NotFound(f"snapshot {snapshot_id} is gone (older than {SNAPSHOT_KEEP_S:.0f} s, or the leader "
                           "changed); save it again")
        return found[1]

    def _expire(self) -> None:
        now = asyncio.get_running_loop().time()
        for key in [k for k, (t, _) in self._saved.items() if now - t > SNAPSHOT_KEEP_S]:
            del self._saved[key]


def _snapshots(registry: Registry, agent: ServerAgent) -> None:
    saved = _SavedSnapshots()

    @registry.endpoint("Operator.SnapshotSave", roles={Role.SERVER, Role.WEB})
    async def snapshot_save(ctx: CallContext, args: SnapshotSaveRequest) -> SnapshotSaveResponse:
        forwarded = await agent.forwarder.forward(ctx, args, SnapshotSaveResponse, region=args.Region or None,
                                                  to_leader=True)
        if forwarded is not None:
            return forwarded
        if args.SnapshotID:
            whole = saved.get(args.SnapshotID)
        else:
            whole = await _take_snapshot(agent)
            saved.add(whole)
        if not 0 <= args.Offset <= whole.Size:
            raise InvalidInput(f"offset {args.Offset} is outside the snapshot's {whole.Size} bytes")
        chunk = whole.Data[args.Offset:args.Offset + SNAPSHOT_CHUNK_BYTES]
        return msgspec.structs.replace(whole, Offset=args.Offset, Data=chunk)


async def _take_snapshot(agent: ServerAgent) -> SnapshotSaveResponse:
    runtime = agent.runtime
    assert runtime is not None
    await runtime.read_index(BARRIER_TIMEOUT_S)
    snap = agent.fsm.store.snapshot()
    data = agent.fsm.snapshot()
    return SnapshotSaveResponse(SnapshotID=os.urandom(16).hex(), Index=snap.latest_index(),
                                Term=runtime.status().raft.hard_state.term, Size=len(data), Offset=0, Data=data)


def _scheduler(registry: Registry, agent: ServerAgent) -> None:
    @registry.endpoint("Operator.SchedulerGetConfiguration", roles={Role.SERVER, Role.WEB})
    async def scheduler_get(ctx: CallContext, args: SchedulerGetRequest) -> SchedulerConfigurationResponse:
        forwarded = await forwarded_read(agent, ctx, args, SchedulerConfigurationResponse)
        if forwarded is not None:
            return forwarded
        snap, index = await read(agent, ctx, args, lambda s: s.scheduler_config().ModifyIndex)
        known_leader, last_contact_ms = agent.leader_contact()
        return SchedulerConfigurationResponse(SchedulerConfig=snap.scheduler_config(), Index=index,
                                              KnownLeader=known_leader, LastContact=last_contact_ms)

    @registry.endpoint("Operator.SchedulerSetConfiguration", roles={Role.SERVER, Role.WEB})
    async def scheduler_set(ctx: CallContext, args: SchedulerSetConfigRequest) -> SchedulerSetConfigResponse:
        forwarded = await agent.forwarder.forward(ctx, args, SchedulerSetConfigResponse,
                                                  region=args.Region or None, to_leader=True)
        if forwarded is not None:
            return forwarded
        updated = await agent.propose(fsm.SchedulerConfigUpdate(Config=args.Config, CAS=args.CAS,
                                                                CASIndex=args.CASIndex))
        assert isinstance(updated, bool)
        return SchedulerSetConfigResponse(Updated=updated, Index=_applied(agent))


def _agent(registry: Registry, agent: ServerAgent) -> None:
    last_seen: dict[str, AgentMember] = {}

    @registry.endpoint("Agent.Self", roles=set(Role))
    async def agent_self(ctx: CallContext, args: AgentRequest) -> AgentSelfResponse:
        return _self(agent)

    @registry.endpoint("Agent.Members", roles={Role.SERVER, Role.WEB})
    async def agent_members(ctx: CallContext, args: AgentRequest) -> AgentMembersResponse:
        """Every server of every region (Nomad's WAN pool), ours first, each asked how it is now."""
        ours = {m.Name: m for m in agent.region_members()}
        servers = [(agent.region, name, ours.get(name)) for name in _region_servers(agent)]
        servers += [(m.Region, m.Name, m) for m in agent.federation.members()]
        members = await asyncio.gather(*(_member(agent, *server, last_seen) for server in servers))
        c = agent.config
        return AgentMembersResponse(ServerName=f"{c.name}.{c.region}", ServerRegion=c.region,
                                    ServerDC=c.datacenter, Members=list(members))

    @registry.endpoint("Agent.Health", roles=set(Role))
    async def agent_health(ctx: CallContext, args: AgentRequest) -> AgentHealthResponse:
        leader = agent.leader_rpc()
        if agent.runtime is None or leader is None:
            return AgentHealthResponse(server=AgentHealth(ok=False, message="No cluster leader"))
        return AgentHealthResponse(server=AgentHealth(ok=True, message="ok"))


def _region_servers(agent: ServerAgent) -> list[str]:
    """The Raft members of this region (every known server while Raft is not running yet)."""
    if agent.runtime is None:
        return [m.Name for m in agent.region_members()]
    conf = agent.runtime.status().raft.conf
    return sorted(set(conf.voters) | set(conf.learners))


async def _member(agent: ServerAgent, region: str, name: str, known: Member | None,
                  last_seen: dict[str, AgentMember]) -> AgentMember:
    """Server ``name`` of ``region`` as it describes itself now (alive), else as last seen or known
    (failed)."""
    if name == agent.member.Name and region == agent.region:
        return _self(agent).member
    if known is not None:
        try:
            reply = await agent.pool.call(known.RPCAddr, "Agent.Self", AgentRequest(), AgentSelfResponse,
                                          timeout_s=MEMBER_CALL_TIMEOUT_S)
        except CaravanError:
            pass
        else:
            last_seen[f"{name}.{region}"] = reply.member
            return reply.member
    seen = last_seen.get(f"{name}.{region}")
    if seen is not None:
        return msgspec.structs.replace(seen, Status="failed")
    host, port = _split(known.RaftAddr if known is not None else "")
    return AgentMember(Name=f"{name}.{region}", Addr=host, Port=port, Status="failed",
                       Tags={"role": "nomad", "region": region, "id": name})


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port) if port.isdigit() else 0


def _self(agent: ServerAgent) -> AgentSelfResponse:
    c = agent.config
    raft_host, raft_port = _split(agent.member.RaftAddr)
    rpc_host, rpc_port = _split(agent.member.RPCAddr)
    tags = {"role": "nomad", "region": c.region, "dc": c.datacenter, "build": VERSION, "vsn": "1",
            "mvn": "1", "raft_vsn": "3", "id": c.name, "rpc_addr": rpc_host, "port": str(rpc_port),
            "expect": str(c.server.bootstrap_expect)}
    member = AgentMember(Name=f"{c.name}.{c.region}", Addr=raft_host, Port=raft_port, Tags=tags, Status="alive")
    config: dict[str, object] = {
        "Region": c.region, "Datacenter": c.datacenter, "NodeName": c.name, "DataDir": c.data_dir,
        "Version": {"Version": VERSION, "VersionPrerelease": "", "Revision": ""},
        "Server": {"Enabled": True, "BootstrapExpect": c.server.bootstrap_expect},
        "ACL": {"Enabled": c.acl.enabled},
    }
    return AgentSelfResponse(config=config, member=member, stats={"raft": _raft_stats(agent),
                                                                  "nomad": _nomad_stats(agent)})


def _raft_stats(agent: ServerAgent) -> dict[str, str]:
    runtime = agent.runtime
    if runtime is None:
        return {"state": "Starting"}
    status = runtime.status()
    raft = status.raft
    return {"state": raft.soft_state.role.name.title(), "term": str(raft.hard_state.term),
            "commit_index": str(raft.hard_state.commit), "applied_index": str(raft.applied),
            "last_log_index": str(raft.last_index), "last_snapshot_index": str(status.snapshot_index),
            "num_peers": str(max(0, len(raft.conf.voters) - 1)), "leader_id": runtime.leader_id}


def _nomad_stats(agent: ServerAgent) -> dict[str, str]:
    return {"server": "true", "leader": str(agent.is_leader()).lower(),
            "leader_addr": agent.leader_rpc() or "", "known_regions": str(len(agent.federation.regions())),
            "bootstrap": str(agent.config.server.bootstrap_expect == 1).lower()}
