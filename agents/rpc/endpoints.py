"""Endpoints: named async handlers with typed arguments and results, and the roles that may call them.

    registry = Registry()

    @registry.endpoint("Job.Register", roles={Role.SERVER, Role.WEB})
    async def job_register(ctx: CallContext, args: JobRegisterRequest) -> JobRegisterResponse:
        ...

The argument and result types come from the handler's annotations and must be ``msgspec.Struct``
classes: the server decodes (and so validates) the arguments into the argument type before the handler
runs, and a caller that sends anything else gets ``InvalidInput`` back. Declaring the roles is required,
so no endpoint is open to every role by accident.
"""

from __future__ import annotations

import asyncio
import re
import typing
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec

from agents.rpc.auth import Role

__all__ = ["CallContext", "Endpoint", "Handler", "Registry"]

_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*\.[A-Z][A-Za-z0-9]*$")

A = TypeVar("A", bound=msgspec.Struct)
R = TypeVar("R", bound=msgspec.Struct)
Handler = Callable[["CallContext", Any], Awaitable[msgspec.Struct]]


@dataclass(frozen=True, slots=True)
class CallContext:
    """What a handler knows about the call: who made it, over what, and how long it may take.

    ``role`` was checked against the endpoint before the handler ran. ``peer_region`` comes from the
    caller's certificate under TLS, else from its handshake. ``deadline`` is in the event loop's clock;
    a handler that calls further (a forward) passes ``remaining_s()`` on as its timeout. ``hops`` is how
    many servers forwarded this request before it arrived here.
    """

    method: str
    request_id: int
    role: Role
    peer_name: str
    peer_region: str
    peer_address: str
    hops: int
    deadline: float

    def remaining_s(self) -> float:
        """Seconds left before the caller gives up (never negative)."""
        return max(0.0, self.deadline - asyncio.get_running_loop().time())


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A registered handler with its types and the roles allowed to call it."""

    name: str
    handler: Handler
    args_type: type[msgspec.Struct]
    result_type: type[msgspec.Struct]
    roles: frozenset[Role]


class Registry:
    """The endpoints a server offers, by name."""

    def __init__(self) -> None:
        self._endpoints: dict[str, Endpoint] = {}

    def add(
        self, name: str, handler: Callable[[CallContext, A], Awaitable[R]], *, roles: Iterable[Role]
    ) -> None:
        """Registers ``handler`` as ``name`` (``"Job.Register"``); its types come from its annotations."""
        assert _NAME.match(name), f"endpoint names look like 'Job.Register', not {name!r}"
        assert name not in self._endpoints, f"endpoint {name} registered twice"
        allowed = frozenset(roles)
        assert allowed, f"endpoint {name} must name the roles that may call it"
        args_type, result_type = _handler_types(name, handler)
        self._endpoints[name] = Endpoint(name, handler, args_type, result_type, allowed)

    def endpoint(
        self, name: str, *, roles: Iterable[Role]
    ) -> Callable[[Callable[[CallContext, A], Awaitable[R]]], Callable[[CallContext, A], Awaitable[R]]]:
        """Decorator form of ``add``."""

        def register(
            handler: Callable[[CallContext, A], Awaitable[R]],
        ) -> Callable[[CallContext, A], Awaitable[R]]:
            self.add(name, handler, roles=roles)
            return handler

        return register

    def get(self, name: str) -> Endpoint | None:
        return self._endpoints.get(name)

    def names(self) -> list[str]:
        return sorted(self._endpoints)


def _handler_types(
    name: str, handler: Callable[..., Any]
) -> tuple[type[msgspec.Struct], type[msgspec.Struct]]:
    """The (argument, result) Struct types of ``handler`` from its annotations."""
    hints = typing.get_type_hints(handler)
    params = [p for p in hints if p != "return"]
    assert len(params) == 2, f"{name}: a handler takes (ctx: CallContext, args: <Struct>)"
    args_type, result_type = hints[params[1]], hints.get("return")
    for what, cls in (("argument", args_type), ("result", result_type)):
        assert isinstance(cls, type) and issubclass(cls, msgspec.Struct), (
            f"{name}: the {what} type must be a msgspec.Struct, not {cls!r}"
        )
    return args_type, typing.cast(type[msgspec.Struct], result_type)
