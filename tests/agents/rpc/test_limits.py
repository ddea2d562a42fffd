"""Bounds: frame sizes, timeouts and cancellation, the connection limit, idle connections."""

from __future__ import annotations

import asyncio

import pytest

from agents.rpc import (
    CallContext,
    ClientOptions,
    Connection,
    ConnectionFailed,
    ConnectionLost,
    FrameTooLarge,
    Registry,
    Role,
    RPCTimeout,
    ServerOptions,
)
from cluster.errors import InvalidInput
from tests.agents.rpc.support import (
    Blob,
    BlobReply,
    Echo,
    EchoReply,
    address,
    caller,
    echo_registry,
    eventually,
    pool_of,
    raises,
    run,
    serving,
)

SMALL = ServerOptions(max_frame_bytes=64 << 10)


def test_a_request_over_the_callers_frame_limit_is_refused_before_anything_is_sent() -> None:
    async def scenario() -> None:
        async with (
            serving(echo_registry()) as server,
            pool_of(options=ClientOptions(max_frame_bytes=1024)) as pool,
        ):
            error = await raises(
                pool.call(address(server), "Test.Echo", Echo("x" * 2000), EchoReply), FrameTooLarge
            )
            assert "over the limit of 1024 bytes" in str(error)
            assert isinstance(error, InvalidInput)
            assert (await pool.call(address(server), "Test.Echo", Echo("small"), EchoReply)).text == "small"

    run(scenario())


def test_a_frame_over_the_servers_limit_closes_the_connection_with_a_clear_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> None:
        async with serving(echo_registry(), options=SMALL) as server, pool_of() as pool:
            first = await pool.connection(address(server))
            error = await raises(
                pool.call(address(server), "Test.Echo", Echo("x" * (100 << 10)), EchoReply), FrameTooLarge
            )
            assert "over the limit of 65536 bytes" in str(error)
            await eventually(lambda: not first.usable and server.connection_count == 0)
            # the next call gets a new connection
            assert (await pool.call(address(server), "Test.Echo", Echo("after"), EchoReply)).text == "after"
            assert (await pool.connection(address(server))) is not first

    run(scenario())
    assert "over the limit of 65536 bytes; closing it" in caplog.text


def test_a_result_over_the_frame_limit_fails_that_call_only() -> None:
    async def scenario() -> None:
        async with serving(echo_registry(), options=SMALL) as server, pool_of() as pool:
            error = await raises(
                pool.call(address(server), "Test.Blob", Blob(100 << 10), BlobReply), FrameTooLarge
            )
            assert "the result of Test.Blob is too large to send" in str(error)
            assert len((await pool.call(address(server), "Test.Blob", Blob(1000), BlobReply)).data) == 1000
            assert server.connection_count == 1

    run(scenario())


def test_a_frame_over_the_callers_limit_closes_the_callers_connection() -> None:
    async def scenario() -> None:
        async with (
            serving(echo_registry()) as server,
            pool_of(options=ClientOptions(max_frame_bytes=4096)) as pool,
        ):
            error = await raises(
                pool.call(address(server), "Test.Blob", Blob(10_000), BlobReply), FrameTooLarge
            )
            assert "over the limit of 4096 bytes" in str(error)
            assert (await pool.call(address(server), "Test.Blob", Blob(10), BlobReply)).data == b"x" * 10

    run(scenario())


class _Slow:
    """An endpoint that waits until released, recording whether it was cancelled."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.cancelled = asyncio.Event()
        self.registry = Registry()
        self.registry.add("Test.Slow", self.slow, roles=Role)

    async def slow(self, ctx: CallContext, args: Echo) -> EchoReply:
        self.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        raise AssertionError("unreachable")


def test_a_call_times_out_and_the_server_cancels_the_handler() -> None:
    slow = _Slow()

    async def scenario() -> None:
        async with serving(slow.registry) as server, pool_of() as pool:
            error = await raises(
                pool.call(address(server), "Test.Slow", Echo("x"), EchoReply, timeout_s=0.1), RPCTimeout
            )
            assert "Test.Slow" in str(error) and "no answer within 0.1 s" in str(error)
            await asyncio.wait_for(slow.cancelled.wait(), 5)
            assert server.connection_count == 1  # the connection stays

    run(scenario())


def test_the_server_bounds_a_handler_by_the_callers_timeout_even_without_a_cancel_frame() -> None:
    """The request carries its timeout; the server answers RPCTimeout itself when it expires."""
    slow = _Slow()

    async def scenario() -> None:
        options = ServerOptions(max_request_timeout_s=0.1)
        async with serving(slow.registry, options=options) as server, pool_of() as pool:
            error = await raises(
                pool.call(address(server), "Test.Slow", Echo("x"), EchoReply, timeout_s=5), RPCTimeout
            )
            assert "Test.Slow did not finish within 0.1 s" in str(error)
            assert slow.cancelled.is_set()

    run(scenario())


def test_cancelling_the_calling_task_cancels_the_handler() -> None:
    slow = _Slow()

    async def scenario() -> None:
        async with serving(slow.registry) as server, pool_of() as pool:
            call = asyncio.create_task(pool.call(address(server), "Test.Slow", Echo("x"), EchoReply))
            await asyncio.wait_for(slow.started.wait(), 5)
            call.cancel()
            await asyncio.wait_for(slow.cancelled.wait(), 5)
            assert call.cancelled()
            assert server.connection_count == 1 and (await pool.connection(address(server))).usable

    run(scenario())


def test_connections_over_the_servers_limit_are_refused() -> None:
    async def scenario() -> None:
        options = ServerOptions(max_connections=2)
        async with serving(echo_registry("s1"), options=options) as server:
            first = await Connection.open(address(server), caller(name="a"))
            second = await Connection.open(address(server), caller(name="b"))
            try:
                error = await raises(Connection.open(address(server), caller(name="c")), ConnectionFailed)
                assert "server s1 is at its limit of 2 connections" in str(error)
                await first.close()
                await eventually(lambda: server.connection_count == 1)
                third = await Connection.open(address(server), caller(name="c"))
                assert (await third.call("Test.Echo", Echo("in"), EchoReply)).text == "in"
                await third.close()
            finally:
                await first.close()
                await second.close()

    run(scenario())


def test_an_idle_connection_is_closed_by_the_server_and_the_pool_reconnects() -> None:
    async def scenario() -> None:
        options = ServerOptions(idle_timeout_s=0.2)
        async with serving(echo_registry(), options=options) as server, pool_of() as pool:
            first = await pool.connection(address(server))
            assert (await pool.call(address(server), "Test.Echo", Echo("a"), EchoReply)).text == "a"
            await eventually(lambda: not first.usable and server.connection_count == 0)
            assert (await pool.call(address(server), "Test.Echo", Echo("b"), EchoReply)).text == "b"
            assert (await pool.connection(address(server))) is not first

    run(scenario())


def test_a_busy_connection_is_not_idle() -> None:
    async def scenario() -> None:
        options = ServerOptions(idle_timeout_s=0.1)
        async with serving(echo_registry(), options=options) as server, pool_of() as pool:
            reply = await pool.call(address(server), "Test.Echo", Echo("slow", delay_ms=400), EchoReply)
            assert reply.text == "slow"

    run(scenario())


def test_the_caller_closes_its_own_idle_connections() -> None:
    async def scenario() -> None:
        async with (
            serving(echo_registry()) as server,
            pool_of(options=ClientOptions(idle_timeout_s=0.1)) as pool,
        ):
            first = await pool.connection(address(server))
            await eventually(lambda: not first.usable and server.connection_count == 0)
            assert (await pool.call(address(server), "Test.Echo", Echo("b"), EchoReply)).text == "b"

    run(scenario())


class _Gate:
    """An endpoint that waits for ``release``; ``started`` counts the handlers that began."""

    def __init__(self) -> None:
        self.started = 0
        self.release = asyncio.Event()
        self.registry = Registry()
        self.registry.add("Test.Gate", self.gate, roles=Role)

    async def gate(self, ctx: CallContext, args: Echo) -> EchoReply:
        self.started += 1
        await self.release.wait()
        return EchoReply(args.text, "s1", str(ctx.role), ctx.hops)


def test_a_server_shutdown_lets_running_calls_finish_and_fails_the_unread_ones_as_safe_to_retry() -> None:
    """With one request allowed in flight, the second is never read: the Goodbye says so."""
    gate = _Gate()

    async def scenario() -> None:
        options = ServerOptions(max_inflight_per_connection=1)
        server_cm = serving(gate.registry, options=options)
        server = await server_cm.__aenter__()
        conn = await Connection.open(address(server), caller())
        try:
            running = asyncio.create_task(conn.call("Test.Gate", Echo("running"), EchoReply))
            await eventually(lambda: gate.started == 1)
            unread = asyncio.create_task(conn.call("Test.Gate", Echo("unread"), EchoReply))
            closing = asyncio.create_task(server_cm.__aexit__(None, None, None))
            error = await raises(unread, ConnectionFailed)
            assert "is shutting down (request not read)" in str(error)
            assert not conn.usable
            gate.release.set()
            assert (await running).text == "running"
            await closing
            assert gate.started == 1
        finally:
            await conn.close()

    run(scenario())


def test_a_call_in_flight_when_the_connection_breaks_fails_with_connection_lost() -> None:
    slow = _Slow()

    async def scenario() -> None:
        options = ServerOptions(shutdown_grace_s=0.05)
        async with pool_of() as pool:
            async with serving(slow.registry, options=options) as server:
                call = asyncio.create_task(pool.call(address(server), "Test.Slow", Echo("x"), EchoReply))
                await asyncio.wait_for(slow.started.wait(), 5)
            error = await raises(call, ConnectionLost)
            assert "closed before the reply" in str(error) and "shutting down" in str(error)

    run(scenario())
