"""Shared pieces of the RPC tests: message types, a small set of endpoints, and a server fixture.

Tests are plain functions that run one scenario with ``run``; each scenario starts real servers on
loopback port 0 and closes everything it opened (pytest turns unclosed-transport warnings into errors).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import msgspec

from agents.rpc import (
    CallContext,
    ClientAuth,
    ClientOptions,
    ConnectionPool,
    Registry,
    Role,
    RPCServer,
    ServerAuth,
    ServerOptions,
)

KEY = b"k" * 32
OTHER_KEY = b"x" * 32
T = TypeVar("T")


class Echo(msgspec.Struct, frozen=True):
    text: str
    delay_ms: int = 0


class EchoReply(msgspec.Struct, frozen=True):
    text: str
    served_by: str
    role: str
    hops: int


class Blob(msgspec.Struct, frozen=True):
    size: int


class BlobReply(msgspec.Struct, frozen=True):
    data: bytes


def run(scenario: Coroutine[Any, Any, T], timeout_s: float = 15.0) -> T:
    """Runs one async scenario with an overall bound, so a hang fails the test instead of the suite."""

    async def bounded() -> T:
        async with asyncio.timeout(timeout_s):
            return await scenario

    return asyncio.run(bounded())


def echo_registry(name: str = "s1", roles: frozenset[Role] = frozenset(Role)) -> Registry:
    """``Test.Echo`` (any role by default), ``Test.Blob`` (a result of the asked size)."""
    registry = Registry()

    async def echo(ctx: CallContext, args: Echo) -> EchoReply:
        if args.delay_ms:
            await asyncio.sleep(args.delay_ms / 1000)
        return EchoReply(args.text, name, str(ctx.role), ctx.hops)

    async def blob(ctx: CallContext, args: Blob) -> BlobReply:
        return BlobReply(b"x" * args.size)

    registry.add("Test.Echo", echo, roles=roles)
    registry.add("Test.Blob", blob, roles=Role)
    return registry


def key_auth(name: str = "s1", region: str = "global", key: bytes = KEY) -> ServerAuth:
    return ServerAuth(name=name, region=region, cluster_key=key)


def caller(
    role: Role = Role.CLIENT, key: bytes = KEY, name: str = "node-1", region: str = "global"
) -> ClientAuth:
    return ClientAuth(role=role, name=name, region=region, cluster_key=key)


@contextlib.asynccontextmanager
async def serving(
    registry: Registry, auth: ServerAuth | None = None, options: ServerOptions | None = None, port: int = 0
) -> AsyncIterator[RPCServer]:
    server = RPCServer(registry, auth or key_auth(), options)
    await server.start("127.0.0.1", port)
    try:
        yield server
    finally:
        await server.close()


@contextlib.asynccontextmanager
async def pool_of(
    auth: ClientAuth | None = None, options: ClientOptions | None = None
) -> AsyncIterator[ConnectionPool]:
    pool = ConnectionPool(auth or caller(), options)
    try:
        yield pool
    finally:
        await pool.close()


def address(server: RPCServer) -> str:
    assert server.address is not None
    return f"{server.address[0]}:{server.address[1]}"


async def eventually(check: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Waits (yielding to the loop) until ``check()`` holds; for states reached by background tasks."""
    async with asyncio.timeout(timeout_s):
        while not check():
            await asyncio.sleep(0.005)


async def raises(awaitable: Awaitable[Any], cls: type[BaseException]) -> BaseException:
    try:
        await awaitable
    except cls as e:
        return e
    raise AssertionError(f"expected {cls.__name__}")
