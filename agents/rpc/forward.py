"""Forwarding: a follower sends writes to its leader, and any server sends a request for another region
to a server of that region, as Nomad's servers do.

    forwarder = Forwarder(pool, routes)

    @registry.endpoint("Job.Register", roles={Role.SERVER, Role.WEB})
    async def job_register(ctx: CallContext, args: JobRegisterRequest) -> JobRegisterResponse:
        forwarded = await forwarder.forward(ctx, args, JobRegisterResponse, region=args.region,
                                            to_leader=True)
        if forwarded is not None:
            return forwarded
        ...  # we are the leader of the right region: do the work

A forwarded request arrives with role ``server``, so an endpoint that may be forwarded must allow that
role; authorization by ACL token travels in the arguments and is checked where the work is done. Each
forwarding adds one hop and the request keeps the caller's remaining time; past ``max_hops`` (leadership
moving while requests chase it, or routes that disagree) it fails with ``Unavailable`` instead of
circling.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Protocol, TypeVar

import msgspec

from agents.rpc.endpoints import CallContext
from agents.rpc.errors import ConnectionFailed, NotLeader, RPCTimeout
from agents.rpc.pool import ConnectionPool
from cluster.errors import Unavailable

__all__ = ["Forwarder", "Routes"]

R = TypeVar("R", bound=msgspec.Struct)

DEFAULT_MAX_HOPS = 3
# Servers of another region tried when the first cannot be reached (each refusal is safe to retry).
_REGION_ATTEMPTS = 3


class Routes(Protocol):
    """What the server agent knows about where requests should go (from Raft and the server list)."""

    @property
    def region(self) -> str:
        """This server's region."""
        ...

    def is_leader(self) -> bool:
        """True if this server is the leader of its region now."""
        ...

    def leader(self) -> str | None:
        """The RPC address of this region's leader, or None while there is none."""
        ...

    def servers(self, region: str) -> Sequence[str]:
        """RPC addresses of known servers of ``region`` (empty if none are known)."""
        ...


class Forwarder:
    """Decides whether a request runs here, and if not, sends it on; see the module docstring."""

    def __init__(
        self,
        pool: ConnectionPool,
        routes: Routes,
        *,
        max_hops: int = DEFAULT_MAX_HOPS,
        rng: random.Random | None = None,
    ) -> None:
        assert max_hops >= 1
        self._pool = pool
        self._routes = routes
        self._max_hops = max_hops
        self._rng = rng or random.Random()

    async def forward(
        self,
        ctx: CallContext,
        args: msgspec.Struct,
        result_type: type[R],
        *,
        region: str | None = None,
        to_leader: bool = False,
    ) -> R | None:
        """The result from the server that must handle the request, or None if that is this one.

        ``region`` (default ours) is where the request belongs; ``to_leader`` says it must run on that
        region's leader (writes, and reads that must be linearizable).
        """
        region = region or self._routes.region
        if region != self._routes.region:
            return await self._to_region(ctx, region, args, result_type)
        if to_leader and not self._routes.is_leader():
            return await self._to_leader(ctx, args, result_type)
        return None

    async def _to_leader(self, ctx: CallContext, args: msgspec.Struct, result_type: type[R]) -> R:
        leader = self._routes.leader()
        if leader is None:
            raise NotLeader(f"{ctx.method}: no cluster leader in region {self._routes.region}")
        self._check_hops(ctx, f"the leader at {leader}")
        return await self._send(ctx, leader, None, args, result_type)

    async def _to_region(
        self, ctx: CallContext, region: str, args: msgspec.Struct, result_type: type[R]
    ) -> R:
        servers = list(self._routes.servers(region))
        if not servers:
            raise Unavailable(f"{ctx.method}: no path to region {region!r} (no known server there)")
        self._check_hops(ctx, f"region {region}")
        self._rng.shuffle(servers)
        last: ConnectionFailed | None = None
        for address in servers[:_REGION_ATTEMPTS]:
            try:
                return await self._send(ctx, address, region, args, result_type)
            except ConnectionFailed as e:
                last = e  # never reached a handler: the next server may take it
        assert last is not None
        raise last

    def _check_hops(self, ctx: CallContext, target: str) -> None:
        if ctx.hops >= self._max_hops:
            raise Unavailable(
                f"{ctx.method}: not forwarded to {target}: already forwarded {ctx.hops} times "
                f"(limit {self._max_hops}); the cluster's routes are changing, try again"
            )

    async def _send(
        self, ctx: CallContext, address: str, region: str | None, args: msgspec.Struct, result_type: type[R]
    ) -> R:
        remaining_s = ctx.remaining_s()
        if remaining_s <= 0:
            raise RPCTimeout(f"{ctx.method}: the caller's time ran out before forwarding to {address}")
        return await self._pool.call(
            address, ctx.method, args, result_type, timeout_s=remaining_s, hops=ctx.hops + 1, region=region
        )
