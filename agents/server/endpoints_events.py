"""``Event.Stream``: Nomad's event stream as a long poll over RPC.

    reply = await pool.call(server, "Event.Stream",
                            EventStreamRequest(Index=41, Topics={"Job": ["web"], "Allocation": ["*"]}),
                            EventStreamReply)
    reply.Events      # the matching events of the writes at index 41 and later, in index order
    reply.Index       # the last write this answer covers: ask again from reply.Index + 1

``Index`` is where the stream starts, as Nomad's ``?index=`` (inclusive); 0 means "from now on". An
answer comes as soon as some matching event exists there, or after ``MaxQueryTime`` (ns; default 30 s,
at most 10 min) with no events: a heartbeat, whose ``Index`` still moves past writes nobody asked for.
An ``Index`` older than the server's buffer answers from the oldest write it keeps, as Nomad's does. Any server answers from its own buffer (every
server applies every write); only a request for another region is forwarded. The web application checks
ACL before it calls, so only the web and server roles may.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from agents.rpc import CallContext, Registry, Role
from agents.server.events import EventBuffer, EventFilter
from cluster.errors import InvalidInput
from cluster.state.events import Event

if TYPE_CHECKING:
    from agents.server.agent import ServerAgent

__all__ = ["EventStreamReply", "EventStreamRequest", "EventStreamResponse", "register"]

SECOND_NS = 1_000_000_000
DEFAULT_STREAM_WAIT_NS = 30 * SECOND_NS
MAX_STREAM_WAIT_NS = 600 * SECOND_NS
MAX_TOPICS = 64
# Answer this long before the caller gives up, so it gets a heartbeat rather than a timeout.
ANSWER_MARGIN_S = 0.5


class EventStreamRequest(msgspec.Struct, kw_only=True):
    Index: int = 0
    Topics: dict[str, list[str]] = msgspec.field(default_factory=dict)  # {} = every topic
    Namespace: str = "default"  # "*": every namespace
    MaxQueryTime: int = 0  # ns; 0: the default
    Region: str = ""


class EventStreamResponse(msgspec.Struct, kw_only=True):
    """What the server sends: the stored msgpack of each event, not decoded and encoded again."""

    Events: list[msgspec.Raw]
    Index: int = 0


class EventStreamReply(msgspec.Struct, kw_only=True):
    """The same answer as callers decode it (``Payload`` as plain data)."""

    Events: list[Event]
    Index: int = 0


def register(registry: Registry, agent: ServerAgent) -> None:
    """Adds ``Event.Stream`` and hooks a fresh event buffer to the agent's FSM (before Raft starts
    applying, since endpoints are registered when the agent is built)."""
    buffer = EventBuffer()
    agent.fsm.listeners.append(buffer.on_apply)

    @registry.endpoint("Event.Stream", roles={Role.SERVER, Role.WEB})
    async def event_stream(ctx: CallContext, args: EventStreamRequest) -> EventStreamResponse:
        forwarded = await agent.forwarder.forward(ctx, args, EventStreamResponse, region=args.Region or None)
        if forwarded is not None:
            return forwarded
        wanted = _checked_filter(args)
        wait_ns = min(args.MaxQueryTime or DEFAULT_STREAM_WAIT_NS, MAX_STREAM_WAIT_NS)
        wait_s = min(wait_ns / SECOND_NS, max(0.0, ctx.remaining_s() - ANSWER_MARGIN_S))
        after_index = args.Index - 1 if args.Index > 0 else agent.fsm.store.latest_index()
        answer = await buffer.read(wanted, after_index, wait_s)
        return EventStreamResponse(Events=[msgspec.Raw(e) for e in answer.events], Index=answer.index)


def _checked_filter(args: EventStreamRequest) -> EventFilter:
    if args.Index < 0:
        raise InvalidInput(f"Event.Stream: Index must not be negative (got {args.Index})")
    if len(args.Topics) > MAX_TOPICS:
        raise InvalidInput(f"Event.Stream: at most {MAX_TOPICS} topics per subscription")
    for topic, keys in args.Topics.items():
        if not topic:
            raise InvalidInput("Event.Stream: a topic must not be empty")
        if any(not key for key in keys):
            raise InvalidInput(f'Event.Stream: topic "{topic}" has an empty key; use "*" for every key')
    return EventFilter.of(args.Topics, args.Namespace)
