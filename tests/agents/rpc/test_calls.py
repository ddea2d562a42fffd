"""Calls over real loopback sockets: results, concurrency on one connection, and typed errors."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from agents.rpc import (
    CallContext,
    Connection,
    ConnectionFailed,
    NotLeader,
    Registry,
    RemoteError,
    Role,
    UnknownMethod,
)
from cluster.errors import (
    CaravanError,
    Conflict,
    Diagnostic,
    InvalidInput,
    JobSpecError,
    NotFound,
    PermissionDenied,
    Unavailable,
)
from tests.agents.rpc.support import (
    Echo,
    EchoReply,
    address,
    caller,
    echo_registry,
    pool_of,
    raises,
    run,
    serving,
)


class Job(msgspec.Struct, frozen=True):
    id: str
    count: int = 1


class JobReply(msgspec.Struct, frozen=True):
    index: int


class Order(msgspec.Struct, frozen=True):
    n: int


class OrderReply(msgspec.Struct, frozen=True):
    n: int


def test_a_call_returns_the_handlers_typed_result_and_the_handler_sees_who_called() -> None:
    async def scenario() -> None:
        async with serving(echo_registry("s1")) as server, pool_of(caller(Role.WEB, name="web-1")) as pool:
            reply = await pool.call(address(server), "Test.Echo", Echo("hi"), EchoReply)
            assert reply == EchoReply("hi", served_by="s1", role="web", hops=0)

    run(scenario())


def test_many_requests_share_one_connection_and_replies_come_back_as_handlers_finish() -> None:
    """Handler n waits until every handler above n has answered, so replies leave in reverse order."""
    count = 50
    released = [asyncio.Event() for _ in range(count + 1)]
    finished: list[int] = []

    async def order(ctx: CallContext, args: Order) -> OrderReply:
        await released[args.n].wait()
        finished.append(args.n)
        if args.n > 0:
            released[args.n - 1].set()
        return OrderReply(args.n)

    registry = Registry()
    registry.add("Test.Order", order, roles=Role)

    async def scenario() -> None:
        async with serving(registry) as server, pool_of() as pool:
            calls = [
                asyncio.create_task(pool.call(address(server), "Test.Order", Order(n), OrderReply))
                for n in range(count)
            ]
            await asyncio.sleep(0)
            released[count - 1].set()
            replies = await asyncio.gather(*calls)
            assert [r.n for r in replies] == list(range(count))  # each caller got its own answer
            assert finished == list(reversed(range(count)))
            assert server.connection_count == 1

    run(scenario())


def _raising_registry() -> Registry:
    registry = Registry()
    errors: dict[str, CaravanError | Exception] = {
        "not-found": NotFound("job 'web' not found"),
        "conflict": Conflict("job modify index 7 does not match 9"),
        "denied": PermissionDenied("token lacks submit-job"),
        "unavailable": Unavailable("no cluster leader"),
        "not-leader": NotLeader("not the leader", leader="10.0.0.2:4647"),
        "jobspec": JobSpecError(
            [Diagnostic("must be at least 0", "job.group[web].count", "web.nomad.hcl", 7, 13)]
        ),
        "bug": ZeroDivisionError("division by zero"),
    }

    async def register(ctx: CallContext, args: Job) -> JobReply:
        raise errors[args.id]

    registry.add("Job.Register", register, roles=Role)
    return registry


@pytest.mark.parametrize(
    ("case", "cls", "text"),
    [
        ("not-found", NotFound, "job 'web' not found"),
        ("conflict", Conflict, "does not match"),
        ("denied", PermissionDenied, "submit-job"),
        ("unavailable", Unavailable, "no cluster leader"),
        ("not-leader", NotLeader, "not the leader"),
        ("jobspec", JobSpecError, "web.nomad.hcl: line 7, column 13: job.group[web].count"),
        ("bug", RemoteError, "Job.Register failed on server s1 with an internal error"),
    ],
)
def test_a_handlers_error_is_raised_on_the_caller_as_the_same_class(
    case: str, cls: type[CaravanError], text: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> CaravanError:
        async with serving(_raising_registry()) as server, pool_of() as pool:
            error = await raises(
                pool.call(address(server), "Job.Register", Job(case), JobReply), CaravanError
            )
            assert isinstance(error, CaravanError)
            return error

    error = run(scenario())
    assert type(error) is cls
    assert text in str(error)
    if isinstance(error, NotLeader):
        assert error.leader == "10.0.0.2:4647"
    if isinstance(error, JobSpecError):
        assert error.diagnostics == [
            Diagnostic("must be at least 0", "job.group[web].count", "web.nomad.hcl", 7, 13)
        ]
    if case == "bug":
        assert "ZeroDivisionError" in caplog.text  # the traceback stays in the server's log


def test_arguments_that_do_not_match_the_endpoints_type_are_refused_before_the_handler() -> None:
    ran: list[Job] = []

    async def register(ctx: CallContext, args: Job) -> JobReply:
        ran.append(args)
        return JobReply(1)

    registry = Registry()
    registry.add("Job.Register", register, roles=Role)

    class WrongJob(msgspec.Struct):
        id: str
        count: str

    async def scenario() -> None:
        async with serving(registry) as server, pool_of() as pool:
            error = await raises(
                pool.call(address(server), "Job.Register", WrongJob("web", "three"), JobReply), InvalidInput
            )
            assert "Job.Register: invalid arguments" in str(error)
            assert "Expected `int`, got `str` - at `$.count`" in str(error)
            assert (await pool.call(address(server), "Job.Register", Job("web", 3), JobReply)).index == 1

    run(scenario())
    assert ran == [Job("web", 3)]


def test_an_unknown_method_is_a_typed_error_and_the_connection_stays_usable() -> None:
    async def scenario() -> None:
        async with serving(echo_registry("s1")) as server, pool_of() as pool:
            error = await raises(pool.call(address(server), "Job.Nope", Echo("x"), EchoReply), UnknownMethod)
            assert "server s1 has no endpoint 'Job.Nope'" in str(error)
            assert isinstance(error, NotFound)
            assert (await pool.call(address(server), "Test.Echo", Echo("still"), EchoReply)).text == "still"
            assert server.connection_count == 1

    run(scenario())


def test_a_result_of_the_wrong_type_is_an_internal_error_not_a_crash(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def sloppy(ctx: CallContext, args: Job) -> JobReply:
        return Echo("not a JobReply")  # type: ignore[return-value]

    registry = Registry()
    registry.add("Job.Register", sloppy, roles=Role)

    async def scenario() -> None:
        async with serving(registry) as server, pool_of() as pool:
            await raises(pool.call(address(server), "Job.Register", Job("web"), JobReply), RemoteError)

    run(scenario())
    assert "returned Echo, not JobReply" in caplog.text


def test_a_connection_can_be_used_directly_without_a_pool() -> None:
    async def scenario() -> None:
        async with serving(echo_registry("s1")) as server:
            conn = await Connection.open(address(server), caller())
            try:
                assert conn.server == "s1"
                assert (await conn.call("Test.Echo", Echo("direct"), EchoReply)).text == "direct"
            finally:
                await conn.close()
            assert not conn.usable

    run(scenario())


def test_a_handlers_own_connection_failure_is_not_mistaken_for_the_callers() -> None:
    """A handler whose onward call could not connect: the caller must not think its request was unread
    (which would make the pool send it again), so it gets Unavailable."""
    runs: list[str] = []

    async def onward(ctx: CallContext, args: Job) -> JobReply:
        runs.append(args.id)
        raise ConnectionFailed("cannot connect to 10.0.0.9:4647: Connection refused")

    registry = Registry()
    registry.add("Job.Register", onward, roles=Role)

    async def scenario() -> None:
        async with serving(registry) as server, pool_of() as pool:
            error = await raises(
                pool.call(address(server), "Job.Register", Job("web"), JobReply), Unavailable
            )
            assert type(error) is Unavailable and "Connection refused" in str(error)

    run(scenario())
    assert runs == ["web"]  # sent once
