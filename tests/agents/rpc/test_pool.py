"""The connection pool: one connection per server, shared connects, reconnects, safe resends."""

from __future__ import annotations

import asyncio

from agents.rpc import ConnectionFailed, ConnectionLost, ServerAuth
from agents.rpc.errors import error_to_wire
from agents.rpc.frames import Goodbye, Request, Response, encode_frame, encode_value, read_frame
from agents.rpc.handshake import server_handshake
from tests.agents.rpc.support import (
    KEY,
    Echo,
    EchoReply,
    address,
    echo_registry,
    eventually,
    pool_of,
    raises,
    run,
    serving,
)


def test_concurrent_first_calls_to_a_server_share_one_connection() -> None:
    async def scenario() -> None:
        async with serving(echo_registry()) as server, pool_of() as pool:
            replies = await asyncio.gather(
                *(pool.call(address(server), "Test.Echo", Echo(str(i)), EchoReply) for i in range(20))
            )
            assert sorted(int(r.text) for r in replies) == list(range(20))
            assert server.connection_count == 1

    run(scenario())


def test_the_pool_reconnects_after_the_server_restarts_on_the_same_address() -> None:
    async def scenario() -> None:
        async with pool_of() as pool:
            async with serving(echo_registry("first")) as server:
                where = address(server)
                port = server.address[1] if server.address else 0
                assert (await pool.call(where, "Test.Echo", Echo("a"), EchoReply)).served_by == "first"
            error = await raises(pool.call(where, "Test.Echo", Echo("down"), EchoReply), ConnectionFailed)
            assert f"cannot connect to {where}" in str(error)
            async with serving(echo_registry("second"), port=port):
                assert (await pool.call(where, "Test.Echo", Echo("b"), EchoReply)).served_by == "second"

    run(scenario())


def test_a_server_killed_mid_call_fails_the_call_with_connection_lost_and_the_next_call_reconnects() -> None:
    """A crash (no Goodbye) leaves the caller unsure whether the handler ran: the pool does not resend."""
    served: list[str] = []

    async def scenario() -> None:
        async def crash_on_first(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await server_handshake(
                reader, writer, ServerAuth(name="fake", region="global", cluster_key=KEY), None
            )
            frame = await read_frame(reader, 1 << 20)
            assert isinstance(frame, Request)
            served.append("crash")
            writer.transport.abort()

        fake = await asyncio.start_server(crash_on_first, "127.0.0.1", 0)
        where = f"127.0.0.1:{fake.sockets[0].getsockname()[1]}"
        try:
            async with pool_of() as pool:
                error = await raises(pool.call(where, "Test.Echo", Echo("x"), EchoReply), ConnectionLost)
                assert where in str(error)
                assert served == ["crash"]  # sent once, never resent
        finally:
            fake.close()
            await fake.wait_closed()

    run(scenario())


def test_a_request_the_server_said_it_never_read_is_sent_again_on_a_new_connection() -> None:
    """A fake server: its first connection answers the request with Goodbye(last read = 0, retry);
    its second connection answers normally. The caller sees only the answer."""
    connections: list[int] = []

    async def scenario() -> None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            connections.append(len(connections) + 1)
            await server_handshake(
                reader, writer, ServerAuth(name="fake", region="global", cluster_key=KEY), None
            )
            frame = await read_frame(reader, 1 << 20)
            assert isinstance(frame, Request)
            if len(connections) == 1:
                bye = Goodbye(error_to_wire(ConnectionFailed("fake is shutting down")), 0, True)
                writer.write(encode_frame(bye, 1 << 20))
            else:
                reply = EchoReply("answered", "fake", "client", frame.hops)
                writer.write(encode_frame(Response(frame.id, encode_value(reply)), 1 << 20))
            await reader.read()  # until the caller closes
            writer.close()
            await writer.wait_closed()

        fake = await asyncio.start_server(handle, "127.0.0.1", 0)
        where = f"127.0.0.1:{fake.sockets[0].getsockname()[1]}"
        try:
            async with pool_of() as pool:
                reply = await pool.call(where, "Test.Echo", Echo("x"), EchoReply)
                assert reply.text == "answered"
                assert connections == [1, 2]
        finally:
            fake.close()
            await fake.wait_closed()

    run(scenario())


def test_a_pool_forgets_connections_that_closed_on_their_own() -> None:
    async def scenario() -> None:
        async with pool_of() as pool:
            async with serving(echo_registry("a")) as a, serving(echo_registry("b")) as b:
                first = await pool.connection(address(a))
                await pool.connection(address(b))
            await eventually(lambda: not first.usable)
            async with serving(echo_registry("c")) as c:
                await pool.call(address(c), "Test.Echo", Echo("x"), EchoReply)
                assert pool.addresses() == [address(c)]

    run(scenario())
