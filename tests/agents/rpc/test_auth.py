"""Authentication with the cluster key (no TLS), and the role check of every endpoint."""

from __future__ import annotations

import asyncio
import logging

import pytest

from agents.rpc import (
    AuthenticationFailed,
    CallContext,
    Registry,
    Role,
    ServerAuth,
)
from agents.rpc.errors import ErrorBody
from agents.rpc.frames import (
    HANDSHAKE_MAX_FRAME_BYTES,
    PROTOCOL,
    Challenge,
    Hello,
    Proof,
    Refused,
    Request,
    encode_frame,
    encode_value,
    read_frame,
)
from cluster.errors import PermissionDenied
from tests.agents.rpc.support import (
    KEY,
    OTHER_KEY,
    Echo,
    EchoReply,
    address,
    caller,
    key_auth,
    pool_of,
    raises,
    run,
    serving,
)


def _recording_registry(calls: list[str]) -> Registry:
    registry = Registry()

    async def echo(ctx: CallContext, args: Echo) -> EchoReply:
        calls.append(args.text)
        return EchoReply(args.text, "s1", str(ctx.role), ctx.hops)

    async def raft_only(ctx: CallContext, args: Echo) -> EchoReply:
        calls.append("raft:" + args.text)
        return EchoReply(args.text, "s1", str(ctx.role), ctx.hops)

    registry.add("Test.Echo", echo, roles=Role)
    registry.add("Raft.Peers", raft_only, roles={Role.SERVER})
    return registry


def test_a_caller_with_the_wrong_key_never_reaches_an_endpoint(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[str] = []
    caplog.set_level(logging.DEBUG)

    async def scenario() -> None:
        async with serving(_recording_registry(calls)) as server, pool_of(caller(key=OTHER_KEY)) as pool:
            error = await raises(
                pool.call(address(server), "Test.Echo", Echo("x"), EchoReply), AuthenticationFailed
            )
            assert "does not hold the cluster key" in str(error)
            assert isinstance(error, PermissionDenied)

    run(scenario())
    assert calls == []
    for secret in (KEY, OTHER_KEY):
        assert secret.decode() not in caplog.text


async def _raw_handshake(where: str, hello: Hello, proof: bytes | None) -> Refused | Challenge | None:
    """Speaks the handshake by hand (as an attacker would), returning the server's last answer."""
    host, port = where.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(encode_frame(hello, HANDSHAKE_MAX_FRAME_BYTES))
        answer = await read_frame(reader, HANDSHAKE_MAX_FRAME_BYTES)
        if proof is None or not isinstance(answer, Challenge):
            return answer  # type: ignore[return-value]
        writer.write(encode_frame(Proof(proof), HANDSHAKE_MAX_FRAME_BYTES))
        # a request right behind the bad proof must never run
        writer.write(encode_frame(Request(1, "Test.Echo", encode_value(Echo("sneaky")), 1000), 1 << 20))
        last = await read_frame(reader, HANDSHAKE_MAX_FRAME_BYTES)
        assert isinstance(last, Refused | None)
        return last
    finally:
        writer.close()
        await writer.wait_closed()


def test_a_caller_that_ignores_the_servers_proof_and_guesses_is_refused_and_its_requests_never_run() -> None:
    calls: list[str] = []

    async def scenario() -> Refused | Challenge | None:
        async with serving(_recording_registry(calls)) as server:
            hello = Hello(PROTOCOL, "server", "intruder", "global", b"n" * 32)
            return await _raw_handshake(address(server), hello, proof=b"\0" * 32)

    answer = run(scenario())
    assert isinstance(answer, Refused)
    assert answer.error == ErrorBody("AuthenticationFailed", "the caller does not hold the cluster key")
    assert calls == []


@pytest.mark.parametrize(
    ("hello", "kind", "text"),
    [
        (Hello("caravan-rpc/0", "client", "old", "global", b"n" * 32), "ProtocolError", "this server speaks"),
        (Hello(PROTOCOL, "admin", "n", "global", b"n" * 32), "AuthenticationFailed", "unknown role 'admin'"),
    ],
)
def test_a_bad_hello_is_refused(hello: Hello, kind: str, text: str) -> None:
    async def scenario() -> Refused | Challenge | None:
        async with serving(_recording_registry([])) as server:
            return await _raw_handshake(address(server), hello, proof=None)

    answer = run(scenario())
    assert isinstance(answer, Refused)
    assert answer.error.kind == kind and text in answer.error.message


def test_a_request_before_the_handshake_is_refused() -> None:
    calls: list[str] = []

    async def scenario() -> Refused | None:
        async with serving(_recording_registry(calls)) as server:
            host, port = address(server).rsplit(":", 1)
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(encode_frame(Request(1, "Test.Echo", encode_value(Echo("early")), 1000), 1 << 20))
            answer = await read_frame(reader, HANDSHAKE_MAX_FRAME_BYTES)
            writer.close()
            await writer.wait_closed()
            assert isinstance(answer, Refused | None)
            return answer

    answer = run(scenario())
    assert answer is not None and answer.error.kind == "ProtocolError"
    assert "expected Hello in the handshake, got Request" in answer.error.message
    assert calls == []


def test_the_caller_refuses_a_server_without_the_key() -> None:
    """Mutual: a process that merely listens on the RPC port cannot pose as a server."""

    async def scenario() -> None:
        impostor = key_auth(name="impostor", key=OTHER_KEY)
        async with serving(_recording_registry([]), auth=impostor) as server, pool_of() as pool:
            error = await raises(
                pool.call(address(server), "Test.Echo", Echo("x"), EchoReply), AuthenticationFailed
            )
            assert "the server does not hold the cluster key" in str(error)

    run(scenario())


def test_an_endpoint_for_servers_refuses_a_client_and_accepts_a_server() -> None:
    calls: list[str] = []

    async def scenario() -> None:
        async with serving(_recording_registry(calls)) as server:
            async with pool_of(caller(Role.CLIENT)) as pool:
                error = await raises(
                    pool.call(address(server), "Raft.Peers", Echo("c"), EchoReply), PermissionDenied
                )
                assert "Raft.Peers may not be called by role client (allowed: server)" in str(error)
                assert (
                    await pool.call(address(server), "Test.Echo", Echo("fine"), EchoReply)
                ).role == "client"
            async with pool_of(caller(Role.SERVER, name="s2")) as pool:
                assert (await pool.call(address(server), "Raft.Peers", Echo("s"), EchoReply)).role == "server"

    run(scenario())
    assert calls == ["fine", "raft:s"]


def test_the_key_is_kept_out_of_reprs() -> None:
    assert KEY.decode() not in repr(key_auth())
    assert KEY.decode() not in repr(caller())


def test_a_server_needs_a_key_or_tls() -> None:
    with pytest.raises(AssertionError, match="needs a cluster key or TLS"):
        ServerAuth(name="s1", region="global")
