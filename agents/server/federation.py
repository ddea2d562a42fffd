"""Federation: the servers of the other regions, learnt and watched without gossip.

Nomad federates regions over a WAN gossip pool: every server knows every server of every region, and a
request for another region goes to one of that region's live servers. Caravan has no gossip, so servers
exchange what they know over RPC instead. Every ``interval_s`` a server calls ``Status.Member`` on

- its ``server_join.retry_join`` addresses (how a region first hears of another: list a server of the
  other region there),
- the other servers of its own region (so what one of them learnt reaches the rest), and
- every server of the other regions it knows (which is also the liveness probe).

Each answer carries the answering server and every server it knows, of any region. A server of another
region that answers is *alive*; one that does not is *failed*, and requests are no longer sent to it.
Only a server's own answer (or silence) changes its status: hearing of it from a third server adds it
(alive, as that server vouches for it) but never revives it, so a dead server does not flap back to
alive each time a peer that has not probed it yet mentions it. Servers are never forgotten, so a region
that went down comes back as soon as one of its servers answers again.

A region none of whose servers is alive has no path: the ``Forwarder`` fails requests for it at once
(Nomad's "No path to region"), while the other regions carry on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from agents.rpc import ConnectionPool
from agents.server.endpoints import Member, MemberRequest, MemberResponse
from cluster.errors import CaravanError

__all__ = ["ALIVE", "FAILED", "Federation", "RemoteServer"]

log = logging.getLogger(__name__)

ALIVE = "alive"
FAILED = "failed"
DEFAULT_INTERVAL_S = 1.0
CALL_TIMEOUT_S = 1.0


@dataclass(slots=True)
class RemoteServer:
    """A server of another region and what the last probe found."""

    member: Member
    status: str = ALIVE


class Federation:
    """The servers of the other regions; see the module docstring.

    ``learn`` gets the servers of our own region that answers mention (the agent keeps those);
    ``local_addrs`` says where the other servers of our region are.
    """

    def __init__(
        self,
        me: Member,
        pool: ConnectionPool,
        *,
        seeds: Sequence[str],
        learn: Callable[[Sequence[Member]], None],
        local_addrs: Callable[[], Sequence[str]],
        interval_s: float = DEFAULT_INTERVAL_S,
    ) -> None:
        assert interval_s > 0
        self.me = me
        self._pool = pool
        self._seeds = [s for s in seeds if s != me.RPCAddr]
        self._learn = learn
        self._local_addrs = local_addrs
        self.interval_s = interval_s
        self._servers: dict[tuple[str, str], RemoteServer] = {}  # (region, name)

    # ---- what the agent and the endpoints read -----------------------------------------------------

    def add(self, members: Iterable[Member]) -> None:
        """Records servers of other regions heard of; a known one keeps its status (see the docstring)."""
        for m in members:
            if m.Region == self.me.Region:
                continue
            known = self._servers.get((m.Region, m.Name))
            if known is None:
                log.info("federation: learnt server %s of region %s at %s", m.Name, m.Region, m.RPCAddr)
                self._servers[(m.Region, m.Name)] = RemoteServer(m)
            else:
                known.member = m  # a restarted server may come back at another address

    def remote(self) -> list[RemoteServer]:
        """Every known server of the other regions, by region and name."""
        return [self._servers[k] for k in sorted(self._servers)]

    def members(self) -> list[Member]:
        return [r.member for r in self.remote()]

    def regions(self) -> list[str]:
        """Every region known, ours included, whether its servers answer or not."""
        return sorted({self.me.Region} | {region for region, _ in self._servers})

    def servers(self, region: str) -> list[str]:
        """RPC addresses of the live servers of another ``region`` (empty: no path to it now)."""
        return sorted(r.member.RPCAddr for (reg, _), r in self._servers.items() if reg == region and
                      r.status == ALIVE)

    # ---- the exchange --------------------------------------------------------------------------------

    async def run(self) -> None:
        """Exchanges member lists every ``interval_s`` until cancelled."""
        while True:
            await self.exchange_once()
            await asyncio.sleep(self.interval_s)

    async def exchange_once(self) -> None:
        """One round: ask every seed, local peer and remote server; mark remote ones alive or failed."""
        remote = {r.member.RPCAddr: (r.member.Region, r.member.Name) for r in self._servers.values()}
        targets = dict.fromkeys([*self._seeds, *self._local_addrs(), *remote])
        targets.pop(self.me.RPCAddr, None)
        replies = await asyncio.gather(*(self._ask(a) for a in targets))
        for address, reply in zip(targets, replies, strict=True):
            if reply is not None:
                heard = [reply.Self, *reply.Known]
                self.add(heard)
                self._learn([m for m in heard if m.Region == self.me.Region])
                self._mark(reply.Self.Region, reply.Self.Name, ALIVE)
            elif address in remote:
                self._mark(*remote[address], FAILED)

    def _mark(self, region: str, name: str, status: str) -> None:
        known = self._servers.get((region, name))
        if known is None or known.status == status:
            return
        log.info("federation: server %s of region %s is %s", name, region, status)
        known.status = status

    async def _ask(self, address: str) -> MemberResponse | None:
        try:
            return await self._pool.call(address, "Status.Member", MemberRequest(From=self.me), MemberResponse,
                                         timeout_s=CALL_TIMEOUT_S)
        except CaravanError as e:
            log.debug("federation: %s did not answer: %s", address, e)
            return None
