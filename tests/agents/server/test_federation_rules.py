"""The federation's bookkeeping, one exchange round at a time, over a scripted network (no processes).

What an operator would see in ``/v1/regions`` and in where requests go: a seed of another region brings
its region and the servers it knows; a server that stops answering gets no more requests, even while
other servers still mention it; its own answer brings it back; servers of our own region go to the
agent (Raft's business), never into the other regions' lists.
"""

from __future__ import annotations

import asyncio

import msgspec

from agents.rpc.errors import ConnectionFailed
from agents.server.endpoints import Member, MemberRequest, MemberResponse
from agents.server.federation import ALIVE, FAILED, Federation


def member(name: str, region: str, port: int) -> Member:
    return Member(Name=name, Region=region, RPCAddr=f"127.0.0.1:{port}", RaftAddr=f"127.0.0.1:{port + 1}")


ME = member("e1", "east", 1000)
E2 = member("e2", "east", 1010)
W1 = member("w1", "west", 2000)
W2 = member("w2", "west", 2010)


class Network:
    """Answers ``Status.Member`` for the servers that are up, as each of them would."""

    def __init__(self) -> None:
        self.up: dict[str, tuple[Member, list[Member]]] = {}
        self.asked: list[str] = []

    async def call(self, address: str, method: str, args: msgspec.Struct, result_type: type[MemberResponse],
                   *, timeout_s: float) -> MemberResponse:
        assert method == "Status.Member" and isinstance(args, MemberRequest) and args.From == ME
        self.asked.append(address)
        if address not in self.up:
            raise ConnectionFailed(f"connection refused by {address}")
        me, known = self.up[address]
        return MemberResponse(Self=me, Known=known)


def federation(network: Network, local: list[Member]) -> tuple[Federation, list[Member]]:
    learnt: list[Member] = []
    fed = Federation(ME, network, seeds=[W1.RPCAddr, ME.RPCAddr], learn=learnt.extend,  # type: ignore[arg-type]
                     local_addrs=lambda: [m.RPCAddr for m in local])
    return fed, learnt


def statuses(fed: Federation) -> dict[str, str]:
    return {r.member.Name: r.status for r in fed.remote()}


def test_a_seed_of_another_region_brings_its_region_and_the_servers_it_knows() -> None:
    network = Network()
    network.up = {W1.RPCAddr: (W1, [W1, W2]), W2.RPCAddr: (W2, [W1, W2])}
    fed, learnt = federation(network, [ME])
    asyncio.run(fed.exchange_once())
    assert fed.regions() == ["east", "west"]
    assert fed.servers("west") == sorted([W1.RPCAddr, W2.RPCAddr])
    assert fed.servers("mars") == []
    assert learnt == []  # nothing of our region was mentioned
    assert ME.RPCAddr not in network.asked  # never itself, even when listed as a seed


def test_a_silent_server_gets_no_requests_while_others_mention_it_until_it_answers_again() -> None:
    network = Network()
    network.up = {W1.RPCAddr: (W1, [W1, W2]), W2.RPCAddr: (W2, [W1, W2])}
    fed, _ = federation(network, [ME])
    asyncio.run(fed.exchange_once())
    del network.up[W2.RPCAddr]
    asyncio.run(fed.exchange_once())  # w1 still mentions w2 in the same round that w2 is silent
    assert statuses(fed) == {"w1": ALIVE, "w2": FAILED}
    assert fed.servers("west") == [W1.RPCAddr]
    asyncio.run(fed.exchange_once())
    assert statuses(fed)["w2"] == FAILED  # a third party's mention does not revive it
    del network.up[W1.RPCAddr]
    asyncio.run(fed.exchange_once())
    assert fed.servers("west") == [] and fed.regions() == ["east", "west"]  # no path, yet still known
    network.up[W2.RPCAddr] = (W2, [W1, W2])
    asyncio.run(fed.exchange_once())
    assert statuses(fed) == {"w1": FAILED, "w2": ALIVE}


def test_servers_of_our_region_go_to_the_agent_and_pass_on_what_they_know() -> None:
    network = Network()
    network.up = {E2.RPCAddr: (E2, [ME, E2, W2]), W2.RPCAddr: (W2, [W2])}
    fed, learnt = federation(network, [ME, E2])
    asyncio.run(fed.exchange_once())  # the seed w1 is down; e2 knows w2
    assert set(learnt) == {ME, E2}
    assert [r.member.Name for r in fed.remote()] == ["w2"]
    asyncio.run(fed.exchange_once())
    assert fed.servers("west") == [W2.RPCAddr]  # probed directly in the second round
    assert W2.RPCAddr in network.asked
