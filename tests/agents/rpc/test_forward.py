"""Forwarding between real servers: followers to the leader, any server to another region, bounded hops."""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import pytest

from agents.rpc import (
    CallContext,
    ConnectionPool,
    Forwarder,
    NotLeader,
    Registry,
    Role,
    RPCServer,
)
from cluster.errors import NotFound, Unavailable
from tests.agents.rpc.support import (
    Echo,
    EchoReply,
    address,
    caller,
    key_auth,
    pool_of,
    raises,
    run,
)


class Write(Echo, frozen=True):
    region: str = ""


@dataclass
class FakeRoutes:
    """What a server agent would learn from Raft and its server list; changed by the tests at will."""

    region: str
    leader_address: str | None = None
    leading: bool = False
    regions: dict[str, list[str]] = field(default_factory=dict)

    def is_leader(self) -> bool:
        return self.leading

    def leader(self) -> str | None:
        return self.leader_address

    def servers(self, region: str) -> Sequence[str]:
        return self.regions.get(region, [])


@dataclass
class Node:
    name: str
    routes: FakeRoutes
    server: RPCServer
    pool: ConnectionPool
    handled: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        return address(self.server)


def _registry(node_name: str, handled: list[str], forwarder: Forwarder) -> Registry:
    registry = Registry()

    async def write(ctx: CallContext, args: Write) -> EchoReply:
        forwarded = await forwarder.forward(ctx, args, EchoReply, region=args.region or None, to_leader=True)
        if forwarded is not None:
            return forwarded
        handled.append(args.text)
        if args.text == "missing":
            raise NotFound("job 'missing' not found")
        return EchoReply(args.text, node_name, str(ctx.role), ctx.hops)

    async def read(ctx: CallContext, args: Write) -> EchoReply:
        forwarded = await forwarder.forward(ctx, args, EchoReply, region=args.region or None)
        if forwarded is not None:
            return forwarded
        handled.append("read:" + args.text)
        return EchoReply(args.text, node_name, str(ctx.role), ctx.hops)

    registry.add("Job.Register", write, roles={Role.SERVER, Role.WEB, Role.CLIENT})
    registry.add("Job.Read", read, roles={Role.SERVER, Role.WEB, Role.CLIENT})
    return registry


@contextlib.asynccontextmanager
async def cluster(layout: dict[str, list[str]], max_hops: int = 3) -> AsyncIterator[dict[str, Node]]:
    """Servers named in ``layout`` (region -> names), every one knowing every region's servers."""
    nodes: dict[str, Node] = {}
    try:
        for region, names in layout.items():
            for name in names:
                routes = FakeRoutes(region)
                pool = ConnectionPool(caller(Role.SERVER, name=name, region=region))
                handled: list[str] = []
                forwarder = Forwarder(pool, routes, max_hops=max_hops, rng=random.Random(7))
                server = RPCServer(_registry(name, handled, forwarder), key_auth(name, region))
                await server.start("127.0.0.1", 0)
                nodes[name] = Node(name, routes, server, pool, handled)
        by_region = {r: [nodes[n].address for n in names] for r, names in layout.items()}
        for node in nodes.values():
            node.routes.regions = by_region
        yield nodes
    finally:
        for node in nodes.values():
            await node.pool.close()
        for node in nodes.values():
            await node.server.close()


def _lead(nodes: dict[str, Node], leader: str) -> None:
    region = nodes[leader].routes.region
    for node in nodes.values():
        if node.routes.region == region:
            node.routes.leading = node.name == leader
            node.routes.leader_address = nodes[leader].address


def test_a_follower_forwards_a_write_to_the_leader_and_relays_its_answer_and_errors() -> None:
    async def scenario() -> None:
        async with cluster({"global": ["a", "b", "c"]}) as nodes, pool_of(caller(Role.WEB)) as web:
            _lead(nodes, "b")
            reply = await web.call(nodes["a"].address, "Job.Register", Write("job-1"), EchoReply)
            assert (reply.served_by, reply.role, reply.hops) == ("b", "server", 1)
            assert nodes["b"].handled == ["job-1"] and nodes["a"].handled == []
            error = await raises(
                web.call(nodes["c"].address, "Job.Register", Write("missing"), EchoReply), NotFound
            )
            assert "job 'missing' not found" in str(error)
            # a read that any server may answer stays where it arrived
            assert (await web.call(nodes["c"].address, "Job.Read", Write("r"), EchoReply)).served_by == "c"

    run(scenario())


def test_without_a_leader_a_write_fails_with_not_leader() -> None:
    async def scenario() -> None:
        async with cluster({"global": ["a", "b"]}) as nodes, pool_of(caller(Role.WEB)) as web:
            error = await raises(
                web.call(nodes["a"].address, "Job.Register", Write("x"), EchoReply), NotLeader
            )
            assert "no cluster leader in region global" in str(error)

    run(scenario())


def test_a_request_for_another_region_goes_to_a_server_there_which_forwards_to_its_leader() -> None:
    async def scenario() -> None:
        async with (
            cluster({"eu": ["eu-1", "eu-2"], "us": ["us-1", "us-2", "us-3"]}) as nodes,
            pool_of(caller(Role.WEB, region="eu")) as web,
        ):
            _lead(nodes, "eu-1")
            _lead(nodes, "us-3")
            reply = await web.call(nodes["eu-2"].address, "Job.Register", Write("w", region="us"), EchoReply)
            assert reply.served_by == "us-3"
            assert 1 <= reply.hops <= 2  # eu-2 -> (us-1 or us-2 ->) us-3
            read = await web.call(nodes["eu-1"].address, "Job.Read", Write("r", region="us"), EchoReply)
            assert read.served_by.startswith("us-") and read.hops == 1

    run(scenario())


def test_a_region_without_known_servers_has_no_path() -> None:
    async def scenario() -> None:
        async with cluster({"eu": ["eu-1"]}) as nodes, pool_of(caller(Role.WEB, region="eu")) as web:
            _lead(nodes, "eu-1")
            error = await raises(
                web.call(nodes["eu-1"].address, "Job.Read", Write("r", region="ap"), EchoReply), Unavailable
            )
            assert "no path to region 'ap'" in str(error)

    run(scenario())


def test_unreachable_servers_of_another_region_are_skipped() -> None:
    async def scenario() -> None:
        async with (
            cluster({"eu": ["eu-1"], "us": ["us-1"]}) as nodes,
            pool_of(caller(Role.WEB, region="eu")) as web,
        ):
            nodes["eu-1"].routes.regions["us"] = ["127.0.0.1:1", "127.0.0.1:2", nodes["us-1"].address]
            for _ in range(3):
                reply = await web.call(nodes["eu-1"].address, "Job.Read", Write("r", region="us"), EchoReply)
                assert reply.served_by == "us-1"

    run(scenario())


@pytest.mark.parametrize("max_hops", [1, 3])
def test_when_servers_disagree_about_the_leader_forwarding_stops_after_max_hops(max_hops: int) -> None:
    """a thinks b leads and b thinks a leads: the request bounces until the hop limit, then fails."""

    async def scenario() -> None:
        async with (
            cluster({"global": ["a", "b"]}, max_hops=max_hops) as nodes,
            pool_of(caller(Role.WEB)) as web,
        ):
            nodes["a"].routes.leader_address = nodes["b"].address
            nodes["b"].routes.leader_address = nodes["a"].address
            error = await raises(
                web.call(nodes["a"].address, "Job.Register", Write("loop"), EchoReply), Unavailable
            )
            assert f"already forwarded {max_hops} times (limit {max_hops})" in str(error)
            assert nodes["a"].handled == nodes["b"].handled == []

    run(scenario())
