"""``GET /v1/event/stream``: Nomad's event stream, as newline-delimited JSON over a streaming response.

    curl -N 'http://127.0.0.1:4646/v1/event/stream?topic=Job:web&topic=Allocation:*&index=120'
    {"Index":121,"Events":[{"Topic":"Job","Type":"JobRegistered","Key":"web",...}]}
    {}                                            <- a heartbeat after 10 s without events

One line per write (its Raft index and the events of that write the caller may see), ``{}`` after every
10 s without a line, as Nomad sends them. The view is async: the stream is a long poll on
``Event.Stream`` through the gateway, so an idle stream holds no thread, and Django cancels the
iterator when the client goes away (ASGI ``http.disconnect``), which ends the RPC follow. The token is
checked when the stream opens (403 before any line) and again at every heartbeat, so a revoked or
expired token stops its streams within one heartbeat.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

import msgspec
from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from agents.server.endpoints_events import EventStreamReply, EventStreamRequest
from cluster.acl import ACL
from cluster.errors import CaravanError, InvalidInput
from cluster.state.events import Event
from webui.api.auth import request_acl
from webui.api.http import async_api_view
from webui.gateway import gateway
from webui.live.access import check_subscription, event_allowed, parse_topics

__all__ = ["HEARTBEAT_S", "event_stream", "follow_events"]

log = logging.getLogger(__name__)

HEARTBEAT_S = 10.0
SECOND_NS = 1_000_000_000
RPC_SLACK_S = 5.0
RETRY_S = 1.0
GIVE_UP_S = 30.0  # servers unreachable this long: the stream ends and the client reconnects
_JSON = msgspec.json.Encoder()

RecheckACL = Callable[[], Awaitable[ACL | None]]


@async_api_view("GET")
async def event_stream(request: HttpRequest) -> HttpResponse:
    """The view; errors found before the first line are Nomad's plain-text status answers."""
    raw_index = request.GET.get("index", "") or "0"
    if not raw_index.isdigit():
        raise InvalidInput(f"Invalid index: {raw_index!r}")
    topics = parse_topics(request.GET.getlist("topic"))
    namespace = request.GET.get("namespace") or "default"
    region = request.GET.get("region", "")
    acl = await sync_to_async(request_acl)(request)
    check_subscription(acl, topics, namespace)
    first = await _call(EventStreamRequest(Index=int(raw_index), Topics=topics, Namespace=namespace,
                                           Region=region, MaxQueryTime=1))

    async def recheck() -> ACL | None:
        fresh = await sync_to_async(request_acl)(request)
        check_subscription(fresh, topics, namespace)
        return fresh

    follow = EventStreamRequest(Index=first.Index + 1, Topics=topics, Namespace=namespace, Region=region,
                                MaxQueryTime=int(HEARTBEAT_S * SECOND_NS))
    lines = _ndjson(follow_events(follow, acl, recheck, first=first))
    response = StreamingHttpResponse(lines, content_type="application/json")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # a proxy in front must not hold lines back
    return response


async def _call(args: EventStreamRequest) -> EventStreamReply:
    wait_s = args.MaxQueryTime / SECOND_NS
    return await gateway().call("Event.Stream", args, EventStreamReply, timeout_s=wait_s + RPC_SLACK_S)


async def follow_events(args: EventStreamRequest, acl: ACL | None, recheck: RecheckACL, *,
                        first: EventStreamReply | None = None) -> AsyncIterator[list[Event]]:
    """The visible events of each write from ``args.Index`` on, one list per write (starting with
    ``first``, an answer already fetched); an empty list when a heartbeat is due. Ends when the token
    stops being valid or the servers stay unreachable for ``GIVE_UP_S``."""
    loop = asyncio.get_running_loop()
    quiet_since = failing_since = loop.time()
    failing = False
    while True:
        try:
            reply = first if first is not None else await _call(args)
            first = None
        except CaravanError as e:  # unreachable servers mostly; anything else is retried the same way
            now = loop.time()
            failing_since = failing_since if failing else now
            failing = True
            if now - failing_since > GIVE_UP_S:
                log.info("event stream: servers unreachable for %.0f s (%s); closing", now - failing_since, e)
                return
            await asyncio.sleep(RETRY_S)
            reply = EventStreamReply(Events=[], Index=args.Index - 1)
        else:
            failing = False
        args = msgspec.structs.replace(args, Index=max(args.Index, reply.Index + 1))
        writes = _by_write(e for e in reply.Events if event_allowed(acl, e.Topic, e.Namespace))
        for write in writes:
            yield write
            quiet_since = loop.time()
        if loop.time() - quiet_since >= HEARTBEAT_S:
            try:
                acl = await recheck()
            except CaravanError as e:
                log.info("event stream: token no longer allowed (%s); closing", e)
                return
            yield []
            quiet_since = loop.time()


def _by_write(events: Iterable[Event]) -> list[list[Event]]:
    """Consecutive events grouped by their Raft index (one stream line per write)."""
    writes: list[list[Event]] = []
    for event in events:
        if writes and writes[-1][0].Index == event.Index:
            writes[-1].append(event)
        else:
            writes.append([event])
    return writes


async def _ndjson(writes: AsyncIterator[list[Event]]) -> AsyncIterator[bytes]:
    """Nomad's lines: ``{"Index": N, "Events": [...]}`` per write, ``{}`` for a heartbeat."""
    async for write in writes:
        if write:
            yield _JSON.encode({"Index": write[0].Index, "Events": write}) + b"\n"
        else:
            yield b"{}\n"
