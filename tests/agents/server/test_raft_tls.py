"""Raft over mutual TLS (``tls { rpc = true }``), with a throw-away PKI, in one event loop on loopback.

What an operator notices: three servers with server certificates elect a leader and commit; each
follower knows how long ago its leader spoke to it (0 on the leader); a peer presenting a client
certificate, a server certificate of another region, or no certificate delivers nothing, and a server
that presents a certificate without the server role receives nothing from an honest peer; server agents
whose ``tls`` block turns on RPC TLS run Raft under it too, and still elect and commit.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from agents.rpc import ClientAuth, ConnectionPool, Role
from agents.rpc.tls import client_context, server_context
from agents.server.endpoints import (
    JobRegisterRequest,
    JobRegisterResponse,
    JobSpecificRequest,
    SingleJobResponse,
)
from agents.server.raft_runtime import RaftRuntime
from agents.server.raft_transport import RaftTLS, RaftTransport, TransportConfig
from cluster.raft import Message, MessageType
from tests.agents.rpc.certs import PKI, CertFiles, make_pki
from tests.agents.server.support import KEY as SERVER_KEY
from tests.agents.server.support import ServerCluster, leader_of
from tests.agents.test_raft_runtime_cluster import FAST, KEY, Journal, free_ports
from tests.unit.scheduler import factories


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


def raft_tls(pki: PKI, files: CertFiles, region: str = "global", verify_hostname: bool = True) -> RaftTLS:
    """The contexts a server agent builds from its ``tls`` block, for the certificate ``files``."""
    return RaftTLS(
        server=server_context(ca_file=pki.ca_file, cert_file=files.cert_file, key_file=files.key_file),
        client=client_context(ca_file=pki.ca_file, cert_file=files.cert_file, key_file=files.key_file,
                              verify_server_hostname=verify_hostname),
        region=region)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), 30))


class FakeClock:
    """The monotonic clock a runtime reads for leader contact, moved by the test."""

    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


def test_three_tls_servers_elect_commit_and_know_when_the_leader_last_spoke(tmp_path: Path, pki: PKI) -> None:
    clock = FakeClock()
    config = dataclasses.replace(FAST, tls=raft_tls(pki, pki.server))
    peers = {i: ("127.0.0.1", p) for i, p in zip("abc", free_ports(3), strict=True)}

    async def scenario() -> None:
        fsms = {i: Journal() for i in peers}
        nodes = {i: RaftRuntime(i, peers, tmp_path / i, fsms[i], config, clock=clock) for i in peers}
        try:
            for node in nodes.values():
                await node.start()
            leader = nodes[await nodes["a"].wait_for_leader(5)]
            assert await leader.propose(b"over tls") == 1
            async with asyncio.timeout(5):
                while any(f.commands != [b"over tls"] for f in fsms.values()):
                    await asyncio.sleep(0.01)
            await leader.read_index(5)  # a round of heartbeats: every follower heard the leader at now_s
            clock.now_s += 2.5
            followers = [n for n in nodes.values() if n is not leader]
            assert [f.last_contact_ms() for f in followers] == [2500, 2500]
            assert leader.last_contact_ms() == 0
            async with asyncio.timeout(5):  # the next heartbeat is contact again
                while any(f.last_contact_ms() for f in followers):
                    await asyncio.sleep(0.01)
        finally:
            for node in nodes.values():
                await node.stop()

    run(scenario)


def no_cert_tls(pki: PKI) -> RaftTLS:
    """A peer that trusts the cluster CA but has no certificate of its own to show."""
    client = ssl.create_default_context(cafile=pki.ca_file)
    client.check_hostname = False
    return RaftTLS(server=server_context(ca_file=pki.ca_file, cert_file=pki.client.cert_file,
                                         key_file=pki.client.key_file),
                   client=client, region="global")


async def delivered(sender_tls: RaftTLS, receiver_tls: RaftTLS) -> bool:
    """Whether a heartbeat from a sender with ``sender_tls`` reaches a receiver with ``receiver_tls``."""
    received: list[Message] = []
    settled = asyncio.Event()  # the heartbeat arrived, or the sender gave it up
    receiver_port, sender_port = free_ports(2)
    peers = {"receiver": ("127.0.0.1", receiver_port), "sender": ("127.0.0.1", sender_port)}

    def on_message(msg: Message) -> None:
        received.append(msg)
        settled.set()

    receiver = RaftTransport("receiver", peers["receiver"], peers,
                             TransportConfig(cluster_key=KEY, tls=receiver_tls), on_message,
                             lambda _: None, random.Random(1))
    sender = RaftTransport("sender", peers["sender"], peers, TransportConfig(cluster_key=KEY, tls=sender_tls),
                           lambda _: None, lambda _: settled.set(), random.Random(2))
    await receiver.start()
    await sender.start()
    try:
        sender.send(Message(type=MessageType.HEARTBEAT, to="receiver", sender="sender", term=1))
        async with asyncio.timeout(5):
            await settled.wait()
        return bool(received)
    finally:
        await sender.stop()
        await receiver.stop()


def test_a_peer_with_a_server_certificate_of_the_region_is_heard(pki: PKI) -> None:
    async def scenario() -> None:
        assert await delivered(raft_tls(pki, pki.server), raft_tls(pki, pki.server))

    run(scenario)


@pytest.mark.parametrize("kind", ["client certificate", "other region's server", "no certificate",
                                  "rogue CA"])
def test_a_peer_without_a_server_certificate_of_the_region_is_refused(pki: PKI, kind: str) -> None:
    def sender_tls() -> RaftTLS:
        if kind == "client certificate":
            return raft_tls(pki, pki.client, verify_hostname=False)
        if kind == "other region's server":
            return raft_tls(pki, pki.eu_server, verify_hostname=False)
        if kind == "no certificate":
            return no_cert_tls(pki)
        rogue = raft_tls(pki, pki.server)
        rogue.client.load_cert_chain(pki.rogue_client.cert_file, pki.rogue_client.key_file)
        return rogue

    async def scenario() -> None:
        assert not await delivered(sender_tls(), raft_tls(pki, pki.server))

    run(scenario)


def test_an_honest_peer_sends_nothing_to_a_server_without_the_server_role(pki: PKI) -> None:
    async def scenario() -> None:
        impostor = raft_tls(pki, pki.client)  # it listens with a client certificate
        assert not await delivered(raft_tls(pki, pki.server, verify_hostname=False), impostor)

    run(scenario)


def tls_block(files: CertFiles, pki: PKI) -> str:
    return f'''
tls {{
  rpc                    = true
  ca_file                = "{pki.ca_file}"
  cert_file              = "{files.cert_file}"
  key_file               = "{files.key_file}"
  verify_server_hostname = true
}}
'''


@pytest.mark.slow
def test_three_server_agents_with_tls_rpc_elect_and_commit(tmp_path: Path, pki: PKI) -> None:
    """The agents' ``tls`` block puts Raft under TLS too: the cluster still elects and commits."""
    cluster = ServerCluster(tmp_path)
    for server in cluster.servers:
        server.config.write_text(server.config.read_text() + tls_block(pki.server, pki))
    web = ConnectionPool(ClientAuth(
        role=Role.WEB, name="tls-test", region="global", cluster_key=SERVER_KEY, verify_server_hostname=True,
        tls=client_context(ca_file=pki.ca_file, cert_file=pki.web.cert_file, key_file=pki.web.key_file,
                           verify_server_hostname=True)))
    addresses = [s.address for s in cluster.servers]

    async def scenario() -> None:
        try:
            leader = await leader_of(web, addresses)
            follower = next(a for a in addresses if a != leader)
            job = factories.job("over-tls")
            reply = await web.call(follower, "Job.Register", JobRegisterRequest(Job=job), JobRegisterResponse,
                                   timeout_s=10)
            assert reply.JobModifyIndex > 0
            for address in addresses:
                stale = JobSpecificRequest(JobID="over-tls", AllowStale=True, MinQueryIndex=reply.JobModifyIndex - 1,
                                           MaxQueryTime=5_000_000_000)
                found = await web.call(address, "Job.Get", stale, SingleJobResponse, timeout_s=10)
                assert found.Job is not None  # replicated to every server over TLS
        finally:
            await web.close()

    cluster.start()
    try:
        asyncio.run(asyncio.wait_for(scenario(), 60))
    except BaseException:
        print(cluster.logs())
        raise
    finally:
        cluster.stop()
