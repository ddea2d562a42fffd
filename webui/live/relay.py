"""One relay per web process: follows the servers' event stream and fans events out to channel groups.

    relay = process_relay()
    await relay.join("Allocation", "3f1c...", channel_name)      # starts the follow on first use
    ...  # the consumer's ``live_event`` handler gets {"type": "live.event", "group": ..., "event": {...}}
    await relay.leave_all(channel_name)                          # the last one out stops it

**Started lazily, not as an ASGI lifespan task**: daphne (``caravan web``) does not run the ASGI lifespan
protocol, and a process with no live page open should not hold a long poll on the servers. The first
subscriber starts the follow; when the last one leaves, it stops (a page reload re-subscribes within
``STOP_GRACE_S``, so the follow survives it).

The follow is one ``Event.Stream`` long poll at a time through ``webui.gateway`` (every topic, every
namespace); each event goes to the group of its topic (subscribers of ``Topic:*``) and to the group of
each of its keys (its ``Key`` and ``FilterKeys``: ``Allocation:<job>`` reaches a job's allocations),
and to the same groups of the ``*`` topic, but only to groups someone in this process joined. Group names carry a per-process token: with the Redis
layer shared by several web processes, each process's relay feeds only its own subscribers, so no event
arrives twice. A server that does not answer is retried with backoff; the follow resumes from the last
index it saw, so nothing is lost in between (within the servers' buffer). A relay started again after
it stopped follows from the newest write: its subscribers have just rendered their pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable

import msgspec
from channels.layers import BaseChannelLayer, get_channel_layer

from agents.server.endpoints_events import EventStreamReply, EventStreamRequest
from cluster.errors import CaravanError
from cluster.state.events import Event
from webui.gateway import gateway

__all__ = ["ALL_KEYS", "Follow", "Relay", "process_relay", "reset_process_relay"]

log = logging.getLogger(__name__)

ALL_KEYS = "*"
ALL_TOPICS = "*"
SECOND_NS = 1_000_000_000
POLL_WAIT_S = 30.0
RPC_SLACK_S = 5.0
MIN_BACKOFF_S = 0.2
MAX_BACKOFF_S = 5.0
STOP_GRACE_S = 5.0

Follow = Callable[[EventStreamRequest], Awaitable[EventStreamReply]]


async def _gateway_follow(args: EventStreamRequest) -> EventStreamReply:
    return await gateway().call("Event.Stream", args, EventStreamReply,
                                timeout_s=args.MaxQueryTime / SECOND_NS + RPC_SLACK_S)


class Relay:
    """See the module docstring. All methods run on the one event loop of the web process."""

    def __init__(self, *, layer: BaseChannelLayer | None = None, follow: Follow | None = None,
                 stop_grace_s: float = STOP_GRACE_S) -> None:
        self._layer = layer
        self._follow = follow or _gateway_follow
        self._stop_grace_s = stop_grace_s
        self.token = uuid.uuid4().hex[:12]
        self._members: dict[str, set[str]] = defaultdict(set)  # group -> channels in this process
        self._task: asyncio.Task[None] | None = None
        self._stopper: asyncio.TimerHandle | None = None
        self.index = 0  # the last write followed

    @property
    def layer(self) -> BaseChannelLayer:
        if self._layer is None:
            self._layer = get_channel_layer()
        assert self._layer is not None, "CHANNEL_LAYERS is not configured"
        return self._layer

    def group(self, topic: str, key: str) -> str:
        """The channel group of ``topic`` events with ``key`` (``*``: every such event)."""
        name = "any" if topic == ALL_TOPICS else topic
        if key == ALL_KEYS:
            return f"live.{self.token}.{name}.all"
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        return f"live.{self.token}.{name}.{digest}"

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    # ---- membership ---------------------------------------------------------------------------

    async def join(self, topic: str, key: str, channel: str) -> str:
        group = self.group(topic, key)
        await self.layer.group_add(group, channel)
        self._members[group].add(channel)
        self._ensure_running()
        return group

    async def leave(self, group: str, channel: str) -> None:
        await self.layer.group_discard(group, channel)
        members = self._members.get(group)
        if members is not None:
            members.discard(channel)
            if not members:
                del self._members[group]
        self._maybe_stop()

    async def leave_all(self, channel: str) -> None:
        for group in [g for g, members in self._members.items() if channel in members]:
            await self.leave(group, channel)

    def _ensure_running(self) -> None:
        if self._stopper is not None:
            self._stopper.cancel()
            self._stopper = None
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="caravan-event-relay")

    def _maybe_stop(self) -> None:
        if self._members or self._stopper is not None or not self.running:
            return
        self._stopper = asyncio.get_running_loop().call_later(self._stop_grace_s, self._stop_if_idle)

    def _stop_if_idle(self) -> None:
        self._stopper = None
        if not self._members and self._task is not None:
            self._task.cancel()

    async def stop(self) -> None:
        """Stops the follow now (tests, shutdown)."""
        if self._stopper is not None:
            self._stopper.cancel()
            self._stopper = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # ---- the follow ---------------------------------------------------------------------------

    async def _run(self) -> None:
        backoff_s = MIN_BACKOFF_S
        after = 0  # a (re)started relay follows from now on: its new subscribers just loaded their pages
        while True:
            args = EventStreamRequest(Index=after + 1 if after else 0, Topics={}, Namespace="*",
                                      MaxQueryTime=int(POLL_WAIT_S * SECOND_NS))
            try:
                reply = await self._follow(args)
            except CaravanError as e:
                log.info("event relay: %s; retrying in %.1f s", e, backoff_s)
                await asyncio.sleep(backoff_s)
                backoff_s = min(backoff_s * 2, MAX_BACKOFF_S)
                continue
            backoff_s = MIN_BACKOFF_S
            for event in reply.Events:
                await self._fan_out(event)
            after = self.index = max(after, reply.Index)

    async def _fan_out(self, event: Event) -> None:
        keys = sorted({event.Key, *(k for k in event.FilterKeys or () if k)})
        groups = [self.group(topic, key) for topic in (event.Topic, ALL_TOPICS) for key in (ALL_KEYS, *keys)]
        wanted = [g for g in groups if g in self._members]
        if not wanted:
            return
        data = msgspec.to_builtins(event)
        for group in wanted:
            await self.layer.group_send(group, {"type": "live.event", "group": group, "event": data})


_relay: Relay | None = None


def process_relay() -> Relay:
    """This process's relay (made on first use)."""
    global _relay
    if _relay is None:
        _relay = Relay()
    return _relay


def reset_process_relay() -> None:
    """Forgets the relay (tests: each test's event loop gets a fresh one; the old one must be stopped)."""
    global _relay
    _relay = None
