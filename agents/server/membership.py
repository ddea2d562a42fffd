"""Raft membership through the agent: a server joining a running cluster, and operators removing one.

Founding or joining. A server with no saved member list discovers its peers (``ServerAgent._discover``)
and then asks them for their Raft configuration. If one of them runs Raft with a configuration that does
not name this server, the cluster exists and this server *joins*: it starts Raft empty (no bootstrap
snapshot) and asks the leader (``Membership.Join``, forwarded there) to add it. The leader adds it as a
learner first, lets it catch up (the first entries come as a snapshot), then promotes it to voter
(dissertation §4.2.1: a new server that counted toward the quorum before it had the log would stall
commits). Otherwise the server is a founder and bootstraps with the others, as before.

Until the join succeeded, ``<data_dir>/server/join.pending`` stays on disk: a server that crashes
meanwhile joins again at restart rather than bootstrapping a conflicting cluster of its own.

Removal is the operator's decision only (``operator raft remove-peer``): the leader never adds a server
on its own, so a removed server that restarts from its old data stays outside. It still believes in its
old configuration and asks for (pre-)votes, but pre-vote and the leader lease (check quorum) make the
members ignore it while they hear from their leader: it cannot disrupt them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import msgspec

from agents.server.endpoints import Member
from cluster.errors import CaravanError, InvalidInput, NotFound, Unavailable
from cluster.raft import ProgressState

if TYPE_CHECKING:
    from agents.server.agent import ServerAgent

__all__ = [
    "JoinRequest",
    "JoinResponse",
    "RaftConfigurationRequest",
    "RaftConfigurationResponse",
    "RaftServer",
    "add_server",
    "cluster_to_join",
    "raft_configuration",
    "remove_server",
]

log = logging.getLogger(__name__)

RAFT_PROTOCOL = "3"
CONFIG_CALL_TIMEOUT_S = 2.0
CATCH_UP_TIMEOUT_S = 30.0
CATCH_UP_POLL_S = 0.05


class RaftServer(msgspec.Struct, kw_only=True):
    """One member of the Raft configuration, as Nomad's ``/v1/operator/raft/configuration`` lists it."""

    ID: str
    Node: str
    Address: str
    Leader: bool
    Voter: bool
    RaftProtocol: str = RAFT_PROTOCOL


class RaftConfigurationRequest(msgspec.Struct, kw_only=True):
    Region: str = ""
    AllowStale: bool = False  # True: this server's own view, not forwarded (what a joining server asks)


class RaftConfigurationResponse(msgspec.Struct, kw_only=True):
    Servers: list[RaftServer]
    Index: int = 0  # the Raft index the configuration was read at
    KnownLeader: bool = False
    LastContact: int = 0  # ms since the answering server heard from the leader (0 on the leader)
    Region: str = ""  # the answering server's: a retry_join address may be a server of another region


class JoinRequest(msgspec.Struct, kw_only=True):
    Member: Member
    Region: str = ""


class JoinResponse(msgspec.Struct, kw_only=True):
    Added: bool  # False: it was a voter already (a join asked again after a restart)
    Index: int = 0


def raft_configuration(agent: ServerAgent) -> RaftConfigurationResponse:
    """This server's view of the configuration: voters and learners, with their Raft addresses."""
    runtime = agent.runtime
    if runtime is None:
        return RaftConfigurationResponse(Servers=[], Region=agent.region)
    status = runtime.status().raft
    members = {m.Name: m for m in agent.region_members()}
    leader = runtime.leader_id

    def server(name: str, voter: bool) -> RaftServer:
        member = members.get(name)
        return RaftServer(ID=name, Node=name, Address=member.RaftAddr if member else "", Leader=name == leader,
                          Voter=voter)

    servers = [server(n, True) for n in status.conf.voters] + [server(n, False) for n in status.conf.learners]
    known_leader, last_contact_ms = agent.leader_contact()
    return RaftConfigurationResponse(Servers=sorted(servers, key=lambda s: s.ID), Index=status.applied,
                                     KnownLeader=known_leader, LastContact=last_contact_ms, Region=agent.region)


async def cluster_to_join(agent: ServerAgent, targets: list[str]) -> bool:
    """True when a server among ``targets`` runs Raft in a configuration without this server."""
    for address in targets:
        try:
            reply = await agent.pool.call(address, "Operator.RaftGetConfiguration",
                                          RaftConfigurationRequest(AllowStale=True), RaftConfigurationResponse,
                                          timeout_s=CONFIG_CALL_TIMEOUT_S)
        except CaravanError as e:
            log.debug("join: %s did not say its Raft configuration: %s", address, e)
            continue
        if not reply.Servers or reply.Region not in ("", agent.region):
            continue  # a founder whose Raft is not up yet, or another region's cluster (federation)
        return agent.member.Name not in {s.ID for s in reply.Servers}
    return False


async def add_server(agent: ServerAgent, member: Member) -> bool:
    """On the leader: ``member`` becomes a voter (a learner until it caught up). False if it was one."""
    runtime = agent.runtime
    assert runtime is not None and runtime.is_leader
    if member.Region != agent.region:
        raise InvalidInput(f"server {member.Name} is of region {member.Region}, not {agent.region}")
    agent.learn_members([member])
    conf = runtime.status().raft.conf
    if member.Name in conf.voters:
        return False
    host, _, port = member.RaftAddr.rpartition(":")
    address = (host.strip("[]"), int(port))
    if member.Name not in conf.learners:
        log.info("membership: adding %s (%s) as a learner", member.Name, member.RaftAddr)
        await runtime.add_learner(member.Name, address)
    await _caught_up(agent, member.Name)
    log.info("membership: promoting %s to voter", member.Name)
    await runtime.promote_learner(member.Name)
    return True


async def _caught_up(agent: ServerAgent, name: str) -> None:
    """Waits until the learner replicates the leader's log in the normal way (its snapshot installed)."""
    runtime = agent.runtime
    assert runtime is not None
    target = runtime.status().raft.applied
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CATCH_UP_TIMEOUT_S
    while True:
        status = runtime.status().raft
        progress = status.progress.get(name)
        if progress is not None and progress.match >= target and progress.state == ProgressState.REPLICATE:
            return
        if not runtime.is_leader:
            raise Unavailable(f"leadership was lost while {name} caught up; it joins again when it retries")
        if loop.time() > deadline:
            raise Unavailable(f"server {name} did not catch up within {CATCH_UP_TIMEOUT_S:.0f} s")
        await asyncio.sleep(CATCH_UP_POLL_S)


async def remove_server(agent: ServerAgent, server_id: str) -> None:
    """On the leader: removes voter or learner ``server_id`` (NotFound when it is no member)."""
    runtime = agent.runtime
    assert runtime is not None and runtime.is_leader
    conf = runtime.status().raft.conf
    if server_id not in conf.voters and server_id not in conf.learners:
        raise NotFound(f"no Raft peer with ID {server_id!r}")
    log.info("membership: removing %s", server_id)
    await runtime.remove_node(server_id)
