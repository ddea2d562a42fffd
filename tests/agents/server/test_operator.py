"""Operator endpoints against three server agents as real processes (one cluster for the module).

What an operator notices: the Raft configuration lists the three servers and the leader; leadership moves
to the server named, or to another one; a fourth server pointed at the cluster joins as a voter and serves
the state; a removed server is gone from the configuration and its restart does not disturb the leader;
a saved snapshot holds the state at its index; the scheduler configuration is a check-and-set write;
each server says how long ago its leader last spoke to it (0 on the leader);
agent members show every server alive, and a killed one failed.

The tests run in file order and build on each other's cluster (as a session of an operator would).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from agents.rpc import ConnectionPool, Role
from agents.server.endpoints import (
    JobRegisterRequest,
    JobRegisterResponse,
    JobSpecificRequest,
    SingleJobResponse,
)
from agents.server.endpoints_operator import (
    AgentMembersResponse,
    AgentRequest,
    AgentSelfResponse,
    RaftPeerRequest,
    SchedulerConfigurationResponse,
    SchedulerGetRequest,
    SchedulerSetConfigRequest,
    SchedulerSetConfigResponse,
    SnapshotSaveRequest,
    SnapshotSaveResponse,
    TransferLeadershipRequest,
    WriteResponse,
)
from agents.server.membership import RaftConfigurationRequest, RaftConfigurationResponse
from cluster import fsm
from cluster.errors import NotFound
from cluster.state import StateStore
from tests.agents.server.support import ServerCluster, ServerProcess, eventually, free_ports, leader_of, pool
from tests.unit.scheduler import factories

pytestmark = pytest.mark.slow
T = TypeVar("T")


class Operated:
    """The cluster, plus a fourth server that joins it later."""

    def __init__(self, root: Path) -> None:
        self.cluster = ServerCluster(root)
        rpc, serf, http, rpc5, serf5, http5 = free_ports(6)
        founders = [s.address for s in self.cluster.servers]
        self.fourth = ServerProcess(root, "s4", rpc, serf, http, founders, 3)
        self.fifth = ServerProcess(root, "s5", rpc5, serf5, http5, founders[:1], 1)  # discovery asks nobody

    @property
    def addresses(self) -> list[str]:
        return [s.address for s in self.cluster.servers]

    def logs(self) -> str:
        extra = "".join(f"\n---- {s.name} ----\n{s.output()[-6000:]}" for s in (self.fourth, self.fifth))
        return self.cluster.logs() + extra


@pytest.fixture(scope="module")
def operated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operated]:
    op = Operated(tmp_path_factory.mktemp("operator"))
    op.cluster.start()
    try:
        yield op
    finally:
        op.cluster.stop()
        op.fourth.stop()
        op.fifth.stop()


def run(op: Operated, scenario: Callable[[ConnectionPool], Awaitable[T]], timeout_s: float = 60) -> T:
    async def main() -> T:
        web = pool(Role.WEB, "operator-test")
        try:
            return await asyncio.wait_for(scenario(web), timeout_s)
        finally:
            await web.close()

    try:
        return asyncio.run(main())
    except BaseException:
        print(op.logs())
        raise


async def configuration(web: ConnectionPool, address: str, stale: bool = False) -> RaftConfigurationResponse:
    return await web.call(address, "Operator.RaftGetConfiguration", RaftConfigurationRequest(AllowStale=stale),
                          RaftConfigurationResponse, timeout_s=5)


async def raft_term(web: ConnectionPool, address: str) -> int:
    reply = await web.call(address, "Agent.Self", AgentRequest(), AgentSelfResponse, timeout_s=5)
    return int(reply.stats["raft"]["term"])


def name_of(op: Operated, address: str) -> str:
    return next(s.name for s in [*op.cluster.servers, op.fourth] if s.address == address)


def test_configuration_lists_the_voters_and_the_leader(operated: Operated) -> None:
    async def scenario(web: ConnectionPool) -> None:
        leader = await leader_of(web, operated.addresses)
        for address in operated.addresses:  # a follower forwards to the leader
            config = await configuration(web, address)
            assert [s.ID for s in config.Servers] == ["s1", "s2", "s3"]
            assert all(s.Voter and s.RaftProtocol == "3" for s in config.Servers)
            assert [s.ID for s in config.Servers if s.Leader] == [name_of(operated, leader)]
            assert config.KnownLeader
        raft_addresses = {s.Address for s in config.Servers}
        assert len(raft_addresses) == 3 and all(a.startswith("127.0.0.1:") for a in raft_addresses)

    run(operated, scenario)


def test_each_server_says_how_long_ago_its_leader_spoke(operated: Operated) -> None:
    """Nomad's LastContact: 0 on the leader; on a follower, milliseconds since the leader's last message
    (heartbeats come every 100 ms, so well under the 800 ms election timeout while the leader lives)."""

    async def scenario(web: ConnectionPool) -> None:
        leader = await leader_of(web, operated.addresses)
        for address in operated.addresses:
            own_view = await configuration(web, address, stale=True)
            assert own_view.KnownLeader
            if address == leader:
                assert own_view.LastContact == 0
            else:
                assert 0 <= own_view.LastContact < 800, own_view.LastContact
            assert (await configuration(web, address)).LastContact == 0  # forwarded: the leader answers

    run(operated, scenario)


def test_leadership_moves_to_the_named_server_or_any_other(operated: Operated) -> None:
    async def scenario(web: ConnectionPool) -> None:
        leader = await leader_of(web, operated.addresses)
        target = next(a for a in operated.addresses if a != leader)
        via = next(a for a in operated.addresses if a not in (leader, target))
        await web.call(via, "Operator.TransferLeadershipToPeer",
                       TransferLeadershipRequest(ID=name_of(operated, target)), WriteResponse, timeout_s=15)
        assert await leader_of(web, operated.addresses) == target

        await web.call(target, "Operator.TransferLeadershipToPeer", TransferLeadershipRequest(), WriteResponse,
                       timeout_s=15)
        assert await leader_of(web, operated.addresses) != target

        with pytest.raises(NotFound):
            await web.call(via, "Operator.TransferLeadershipToPeer", TransferLeadershipRequest(ID="nobody"),
                           WriteResponse, timeout_s=15)

    run(operated, scenario)


async def register_job(web: ConnectionPool, address: str, job_id: str) -> JobRegisterResponse:
    return await web.call(address, "Job.Register", JobRegisterRequest(Job=factories.job(job_id)),
                          JobRegisterResponse, timeout_s=10)


def test_a_fourth_server_joins_as_a_voter_and_serves_the_state(operated: Operated) -> None:
    async def scenario(web: ConnectionPool) -> None:
        leader = await leader_of(web, operated.addresses)
        await register_job(web, leader, "before-join")
        operated.fourth.start()
        everyone = [*operated.addresses, operated.fourth.address]

        async def four_voters() -> RaftConfigurationResponse | None:
            config = await configuration(web, leader)
            return config if sorted(s.ID for s in config.Servers if s.Voter) == ["s1", "s2", "s3", "s4"] else None

        await eventually(four_voters, 30, "s4 to become a voter")
        await register_job(web, leader, "after-join")
        for job_id in ("before-join", "after-join"):
            async def on_fourth(job_id: str = job_id) -> SingleJobResponse | None:
                reply = await web.call(operated.fourth.address, "Job.Get",
                                       JobSpecificRequest(JobID=job_id, AllowStale=True), SingleJobResponse,
                                       timeout_s=5)
                return reply if reply.Job is not None else None

            await eventually(on_fourth, 20, f"s4 to hold job {job_id}")
        assert (await configuration(web, operated.fourth.address, stale=True)).KnownLeader
        assert await leader_of(web, everyone) == leader

    run(operated, scenario)


def test_a_removed_server_is_gone_and_its_restart_does_not_disturb(operated: Operated) -> None:
    async def scenario(web: ConnectionPool) -> None:
        leader = await leader_of(web, operated.addresses)
        term = await raft_term(web, leader)
        follower = next(a for a in operated.addresses if a != leader)
        await web.call(follower, "Operator.RaftRemovePeerByID", RaftPeerRequest(ID="s4"), WriteResponse,
                       timeout_s=10)
        config = await configuration(web, leader)
        assert [s.ID for s in config.Servers] == ["s1", "s2", "s3"]
        with pytest.raises(NotFound):
            await web.call(leader, "Operator.RaftRemovePeerByID", RaftPeerRequest(ID="s4"), WriteResponse,
                           timeout_s=10)

        operated.fourth.stop()
        operated.fourth.start()  # from its old data: it still believes it is a member
        await asyncio.sleep(4)  # several election timeouts of the removed server
        assert await leader_of(web, operated.addresses) == leader
        assert await raft_term(web, leader) == term
        await register_job(web, leader, "after-removal")
        assert [s.ID for s in (await configuration(web, leader)).Servers] == ["s1", "s2", "s3"]
        operated.fourth.stop()

    run(operated, scenario)


def test_a_saved_snapshot_holds_the_state_at_its_index(operated: Operated) -> None:
    async def scenario(web: ConnectionPool) -> None:
        leader = await leader_of(web, operated.addresses)
        registered = await register_job(web, leader, "in-the-snapshot")
        follower = next(a for a in operated.addresses if a != leader)
        first = await web.call(follower, "Operator.SnapshotSave", SnapshotSaveRequest(), SnapshotSaveResponse,
                               timeout_s=10)
        data = bytearray(first.Data)
        while len(data) < first.Size:
            more = await web.call(follower, "Operator.SnapshotSave",
                                  SnapshotSaveRequest(SnapshotID=first.SnapshotID, Offset=len(data)),
                                  SnapshotSaveResponse, timeout_s=10)
            assert more.Index == first.Index and more.Data
            data += more.Data
        assert first.Index >= registered.Index and first.Term >= 1
        store = StateStore()
        fsm.restore(store, bytes(data))
        snap = store.snapshot()
        assert snap.job_by_id("default", "in-the-snapshot") is not None
        assert snap.latest_index() == first.Index

        with pytest.raises(NotFound):
            await web.call(leader, "Operator.SnapshotSave", SnapshotSaveRequest(SnapshotID="gone"),
                           SnapshotSaveResponse, timeout_s=10)

    run(operated, scenario)


def test_scheduler_configuration_is_a_check_and_set_write(operated: Operated) -> None:
    async def scenario(web: ConnectionPool) -> None:
        address = operated.addresses[0]
        current = await web.call(address, "Operator.SchedulerGetConfiguration", SchedulerGetRequest(),
                                 SchedulerConfigurationResponse, timeout_s=5)
        config = current.SchedulerConfig
        config.SchedulerAlgorithm = "spread"
        stale = SchedulerSetConfigRequest(Config=config, CAS=True, CASIndex=config.ModifyIndex + 1000)
        refused = await web.call(address, "Operator.SchedulerSetConfiguration", stale,
                                 SchedulerSetConfigResponse, timeout_s=10)
        assert not refused.Updated
        fresh = SchedulerSetConfigRequest(Config=config, CAS=True, CASIndex=config.ModifyIndex)
        done = await web.call(address, "Operator.SchedulerSetConfiguration", fresh, SchedulerSetConfigResponse,
                              timeout_s=10)
        assert done.Updated
        after = await web.call(operated.addresses[1], "Operator.SchedulerGetConfiguration",
                               SchedulerGetRequest(), SchedulerConfigurationResponse, timeout_s=5)
        assert after.SchedulerConfig.SchedulerAlgorithm == "spread"
        assert after.SchedulerConfig.ModifyIndex == after.Index >= done.Index > current.Index

    run(operated, scenario)


def test_agent_members_show_live_servers_alive_and_a_killed_one_failed(operated: Operated) -> None:
    async def scenario(web: ConnectionPool) -> None:
        first = operated.addresses[0]
        members = await web.call(first, "Agent.Members", AgentRequest(), AgentMembersResponse, timeout_s=10)
        assert members.ServerName == "s1.global" and members.ServerRegion == "global"
        assert [(m.Name, m.Status) for m in members.Members] == [
            ("s1.global", "alive"), ("s2.global", "alive"), ("s3.global", "alive")]
        assert all(m.Tags["region"] == "global" and m.Tags["dc"] == "dc1" and m.Tags["role"] == "nomad"
                   for m in members.Members)
        operated.cluster.servers[2].kill9()
        try:
            members = await web.call(first, "Agent.Members", AgentRequest(), AgentMembersResponse, timeout_s=10)
            assert [(m.Name, m.Status) for m in members.Members][2] == ("s3.global", "failed")
            assert members.Members[2].Tags["dc"] == "dc1"  # as last seen
        finally:
            operated.cluster.servers[2].start()

        async def alive_again() -> bool | None:
            reply = await web.call(first, "Agent.Members", AgentRequest(), AgentMembersResponse, timeout_s=10)
            return True if all(m.Status == "alive" for m in reply.Members) else None

        await eventually(alive_again, 20, "s3 to be alive again")

    run(operated, scenario)


def test_a_server_with_bootstrap_expect_one_joins_rather_than_founding(operated: Operated) -> None:
    """With ``bootstrap_expect = 1`` a server would found a cluster of its own; one that finds a running
    cluster at its ``retry_join`` address joins it instead."""
    async def scenario(web: ConnectionPool) -> None:
        leader = await leader_of(web, operated.addresses)
        operated.fifth.start()

        async def five_is_voter() -> bool | None:
            config = await configuration(web, leader)
            return True if "s5" in [s.ID for s in config.Servers if s.Voter] else None

        await eventually(five_is_voter, 30, "s5 to become a voter")
        assert await leader_of(web, [*operated.addresses, operated.fifth.address]) == leader
        await register_job(web, operated.fifth.address, "through-s5")  # s5 knows where to forward

    run(operated, scenario)
