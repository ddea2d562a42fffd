"""Federated regions of three servers each (real processes): east's servers list west's first server in
``retry_join``; west's know only each other.

What an operator notices: every server of both regions knows both regions and lists all six servers
alive; a write for west sent to any east server reaches west's leader and every west server applies it;
when west's leader dies, requests for west through east still succeed once west elected another leader
(east sends them to a west server that answers, which forwards writes to its new leader).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agents.rpc import ConnectionPool
from agents.server.endpoints import (
    JobRegisterResponse,
    JobSpecificRequest,
    SingleJobResponse,
    StatusLeaderResponse,
    StatusRequest,
)
from tests.agents.server.support import eventually, leader_of
from tests.agents.server.test_federation import Regions, member_status, regions_known, run, west_job

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def regions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Regions]:
    federated = Regions(tmp_path_factory.mktemp("federation-3"), size=3)
    federated.start()
    try:
        yield federated
    finally:
        federated.stop()


def test_all_six_servers_know_both_regions_and_each_other(regions: Regions) -> None:
    everyone = {f"{s.name}.{s.name.split('-')[0]}" for s in regions.servers}

    async def scenario(web: ConnectionPool) -> None:
        for server in regions.servers:
            async def federated(address: str = server.address) -> bool | None:
                statuses = await member_status(web, address)
                known = await regions_known(web, address)
                return True if known == ["east", "west"] and statuses == dict.fromkeys(everyone, "alive") else None

            await eventually(federated, 20, f"{server.name} to know both regions and all six servers")

    run(regions, scenario)


async def west_job_everywhere(web: ConnectionPool, regions: Regions, job_id: str, index: int) -> None:
    """Every live west server applies the job (a stale read waits for the write's index)."""
    for server in regions.west:
        if server.process is None or server.process.poll() is not None:
            continue
        stale = JobSpecificRequest(JobID=job_id, AllowStale=True, MinQueryIndex=index - 1, MaxQueryTime=5_000_000_000)
        reply = await web.call(server.address, "Job.Get", stale, SingleJobResponse, timeout_s=10)
        assert reply.Job is not None and reply.Job.Region == "west", server.name


def test_a_write_for_west_through_any_east_server_reaches_every_west_server(regions: Regions) -> None:
    async def scenario(web: ConnectionPool) -> None:
        await leader_of(web, [s.address for s in regions.west])
        for i, server in enumerate(regions.east):
            reply = await web.call(server.address, "Job.Register", west_job(f"from-east-{i}"), JobRegisterResponse,
                                   timeout_s=10)
            await west_job_everywhere(web, regions, f"from-east-{i}", reply.JobModifyIndex)

    run(regions, scenario)


def test_when_wests_leader_dies_requests_for_west_through_east_carry_on(regions: Regions) -> None:
    west = [s.address for s in regions.west]

    async def scenario(web: ConnectionPool) -> None:
        old = await leader_of(web, west)
        next(s for s in regions.west if s.address == old).kill9()
        survivors = [a for a in west if a != old]
        new = await leader_of(web, survivors)
        assert new != old
        via = regions.east[0].address

        async def registered() -> JobRegisterResponse | None:
            return await web.call(via, "Job.Register", west_job("after-failover"), JobRegisterResponse, timeout_s=10)

        reply = await eventually(registered, 20, "a write for west through east after west's failover")
        await west_job_everywhere(web, regions, "after-failover", reply.JobModifyIndex)
        leader = await web.call(via, "Status.Leader", StatusRequest(Region="west"), StatusLeaderResponse, timeout_s=5)
        assert leader.Leader == new

    run(regions, scenario, timeout_s=90)
