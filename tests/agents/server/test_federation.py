"""Federated regions against real server processes: two regions, ``east`` and ``west``, one server each;
east's ``retry_join`` names west's server, and nothing else tells either of the other.

What an operator notices: both servers list both regions; a job registered for west through east lands
in west (east's own state does not hold it) and reads back through east; a region nobody knows has no
path; agent members show the servers of both regions; when west goes down only requests for west fail,
and when it comes back they work again.

The tests run in file order on one pair of regions (the last one stops and restarts west).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import msgspec
import pytest

from agents.rpc import ConnectionPool, Role
from agents.server.endpoints import (
    JobRegisterRequest,
    JobRegisterResponse,
    JobSpecificRequest,
    SingleJobResponse,
)
from agents.server.endpoints_operator import AgentMembersResponse, AgentRequest, RegionsResponse
from cluster.errors import CaravanError, Unavailable
from tests.agents.server.support import ServerProcess, eventually, free_ports, leader_of, pool
from tests.unit.scheduler import factories

pytestmark = pytest.mark.slow
T = TypeVar("T")


def region_server(root: Path, name: str, region: str, join: list[str], expect: int,
                  ports: tuple[int, int, int]) -> ServerProcess:
    """A server process of ``region`` (the shared helper writes the rest of its configuration)."""
    rpc, serf, http = ports
    server = ServerProcess(root, name, rpc, serf, http, join, expect)
    server.config.write_text(f'region = "{region}"\n' + server.config.read_text())
    return server


class Regions:
    """Regions east and west of ``size`` servers each; east's servers also list west's first server."""

    def __init__(self, root: Path, size: int = 1) -> None:
        ports = free_ports(6 * size)
        triples = [(ports[i], ports[i + 1], ports[i + 2]) for i in range(0, 6 * size, 3)]
        west_rpc = [f"127.0.0.1:{t[0]}" for t in triples[size:]]
        east_rpc = [f"127.0.0.1:{t[0]}" for t in triples[:size]]
        self.east = [region_server(root, f"east-{i + 1}", "east", [*east_rpc, west_rpc[0]], size, triples[i])
                     for i in range(size)]
        self.west = [region_server(root, f"west-{i + 1}", "west", west_rpc, size, triples[size + i])
                     for i in range(size)]

    @property
    def servers(self) -> list[ServerProcess]:
        return [*self.east, *self.west]

    def start(self) -> None:
        for server in self.servers:
            server.start()

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def logs(self) -> str:
        return "".join(f"\n---- {s.name} ----\n{s.output()[-6000:]}" for s in self.servers)


def run(regions: Regions, scenario: Callable[[ConnectionPool], Awaitable[T]], timeout_s: float = 60) -> T:
    async def main() -> T:
        web = pool(Role.WEB, "federation-test")
        try:
            return await asyncio.wait_for(scenario(web), timeout_s)
        finally:
            await web.close()

    try:
        return asyncio.run(main())
    except BaseException:
        print(regions.logs())
        raise


def west_job(job_id: str) -> JobRegisterRequest:
    return JobRegisterRequest(Job=msgspec.structs.replace(factories.job(job_id), Region="west"), Region="west")


async def get_job(web: ConnectionPool, address: str, job_id: str, region: str = "") -> SingleJobResponse:
    return await web.call(address, "Job.Get", JobSpecificRequest(JobID=job_id, Region=region), SingleJobResponse,
                          timeout_s=5)


async def regions_known(web: ConnectionPool, address: str) -> list[str]:
    reply = await web.call(address, "Status.Regions", AgentRequest(), RegionsResponse, timeout_s=5)
    return reply.Regions


async def member_status(web: ConnectionPool, address: str) -> dict[str, str]:
    reply = await web.call(address, "Agent.Members", AgentRequest(), AgentMembersResponse, timeout_s=5)
    return {m.Name: m.Status for m in reply.Members}


@pytest.fixture(scope="module")
def regions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Regions]:
    federated = Regions(tmp_path_factory.mktemp("federation"))
    federated.start()
    try:
        yield federated
    finally:
        federated.stop()


def test_both_servers_list_both_regions(regions: Regions) -> None:
    async def scenario(web: ConnectionPool) -> None:
        for server in regions.servers:
            async def both(address: str = server.address) -> list[str] | None:
                known = await regions_known(web, address)
                return known if known == ["east", "west"] else None

            await eventually(both, 20, f"{server.name} to know both regions")

    run(regions, scenario)


def test_a_job_for_west_sent_to_east_lands_in_west_and_reads_back_through_east(regions: Regions) -> None:
    east, west = regions.east[0].address, regions.west[0].address

    async def scenario(web: ConnectionPool) -> None:
        await leader_of(web, [west])
        await leader_of(web, [east])  # east answers the read of its own state below
        reply = await web.call(east, "Job.Register", west_job("web-west"), JobRegisterResponse, timeout_s=10)
        assert reply.JobModifyIndex > 0
        in_west = await get_job(web, west, "web-west")
        assert in_west.Job is not None and in_west.Job.Region == "west"
        assert (await get_job(web, east, "web-west")).Job is None  # east's own state does not hold it
        through_east = await get_job(web, east, "web-west", region="west")
        assert through_east.Job is not None and through_east.Job.ModifyIndex == in_west.Job.ModifyIndex

    run(regions, scenario)


def test_a_region_nobody_knows_has_no_path(regions: Regions) -> None:
    async def scenario(web: ConnectionPool) -> None:
        with pytest.raises(Unavailable, match=r"(?i)no path to region"):
            await get_job(web, regions.east[0].address, "web-west", region="mars")

    run(regions, scenario)


def test_agent_members_show_the_servers_of_both_regions(regions: Regions) -> None:
    async def scenario(web: ConnectionPool) -> None:
        for server in regions.servers:
            statuses = await member_status(web, server.address)
            assert statuses == {"east-1.east": "alive", "west-1.west": "alive"}

    run(regions, scenario)


def test_a_region_down_fails_only_its_requests_until_it_is_back(regions: Regions) -> None:
    east, west = regions.east[0], regions.west[0]

    async def scenario(web: ConnectionPool) -> None:
        west.kill9()

        async def no_path() -> str | None:
            try:
                await get_job(web, east.address, "web-west", region="west")
            except Unavailable as e:
                return str(e) if "no path to region" in str(e).lower() else None
            return None

        await eventually(no_path, 10, "east to mark west unreachable")
        started = time.monotonic()
        with pytest.raises(Unavailable):
            await get_job(web, east.address, "web-west", region="west")
        assert time.monotonic() - started < 1.0  # refused at once, not after a connection timeout
        assert (await member_status(web, east.address))["west-1.west"] == "failed"
        assert await regions_known(web, east.address) == ["east", "west"]
        own = JobRegisterRequest(Job=msgspec.structs.replace(factories.job("web-east"), Region="east"))
        await web.call(east.address, "Job.Register", own, JobRegisterResponse, timeout_s=10)
        assert (await get_job(web, east.address, "web-east")).Job is not None

        west.start()

        async def back() -> SingleJobResponse | None:
            try:
                reply = await get_job(web, east.address, "web-west", region="west")
            except CaravanError:
                return None
            return reply if reply.Job is not None else None

        await eventually(back, 30, "west to answer through east again")
        assert (await member_status(web, east.address))["west-1.west"] == "alive"

    run(regions, scenario, timeout_s=90)
