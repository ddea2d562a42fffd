"""The server's event buffer: the change events of recent writes, for ``Event.Stream`` subscribers.

    buffer = EventBuffer(max_events=10_000, max_bytes=32 << 20)
    agent.fsm.listeners.append(buffer.on_apply)        # every committed write's EventBatch lands here
    answer = await buffer.read(EventFilter.of(topics, namespace), after_index=41, wait_s=30)

Every server keeps its own buffer (each applies every committed entry), so a subscriber may follow any
server; a server that restarts starts an empty buffer, as Nomad's does. The ring is bounded by event
count and by encoded bytes; the oldest writes go first, always a whole write at a time. A reader whose
index is older than the oldest kept write gets the events from the oldest kept one on (Nomad's
"closest available index"), never an error.

A write is kept as its ``EventBatch`` (O(1) per write: a plan of a thousand allocations is not turned
into a thousand events unless someone reads them). The first reader encodes the write's events to
msgpack once (an allocation without its embedded job, as Nomad streams it); later readers, however many,
get the stored bytes as they are (``msgspec.Raw`` in the RPC answer). Until then a write's size is
estimated from the average size of the events encoded so far, so the byte bound is exact for what was
read and close for the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import msgspec

from cluster import fsm
from cluster.state.events import Event, EventBatch
from cluster.structs.alloc import Allocation

__all__ = ["ALL", "BufferedEvent", "EventBuffer", "EventFilter", "StreamAnswer"]

ALL = "*"
DEFAULT_MAX_EVENTS = 10_000
DEFAULT_MAX_BYTES = 32 << 20
# One answer carries whole writes up to about this many bytes (the RPC frame limit is 16 MiB).
DEFAULT_MAX_ANSWER_BYTES = 4 << 20
INITIAL_EVENT_BYTES = 1024  # the size a write's events are assumed to have before any was encoded

_ENCODER = msgspec.msgpack.Encoder()


@dataclass(frozen=True, slots=True)
class BufferedEvent:
    """What a filter looks at, and the event's encoded form."""

    topic: str
    key: str
    namespace: str
    filter_keys: tuple[str, ...]
    data: bytes  # msgpack of the ``Event``


class _Write:
    """One write's events: the batch until someone reads them, then their encoded form."""

    __slots__ = ("_batch", "_encoded", "count", "index", "size_bytes")

    def __init__(self, index: int, batch: EventBatch, estimate_bytes: int) -> None:
        self.index = index
        self.count = len(batch)
        self.size_bytes = estimate_bytes * self.count
        self._batch: EventBatch | None = batch
        self._encoded: tuple[BufferedEvent, ...] = ()

    @property
    def encoded(self) -> bool:
        return self._batch is None

    def events(self) -> tuple[BufferedEvent, ...]:
        if self._batch is not None:
            self._encoded = tuple(_encoded(e) for e in self._batch)
            self._batch = None
            self.size_bytes = sum(len(e.data) for e in self._encoded)
        return self._encoded


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events a subscriber wants: topics to keys (``*`` for every topic or key), and a namespace
    (``*`` for all). As in Nomad, a key matches an event's ``Key`` or one of its ``FilterKeys``, and an
    event without a namespace (a node) passes every namespace filter."""

    topics: Mapping[str, frozenset[str]]
    namespace: str

    @classmethod
    def of(cls, topics: Mapping[str, Iterable[str]] | None, namespace: str) -> EventFilter:
        """No topics means every event, as Nomad's stream without ``?topic=``."""
        given = {topic: frozenset(keys) or frozenset({ALL}) for topic, keys in (topics or {}).items()}
        return cls(topics=given or {ALL: frozenset({ALL})}, namespace=namespace or "default")

    def matches(self, event: BufferedEvent) -> bool:
        if self.namespace != ALL and event.namespace and event.namespace != self.namespace:
            return False
        for topic in (event.topic, ALL):
            keys = self.topics.get(topic)
            if keys is not None and (ALL in keys or event.key in keys or not keys.isdisjoint(event.filter_keys)):
                return True
        return False


@dataclass(frozen=True, slots=True)
class StreamAnswer:
    """The matching events after the reader's index, and the index to ask from next (the last write
    this answer covers, whether or not it matched)."""

    events: list[bytes]
    index: int


def _encoded(event: Event) -> BufferedEvent:
    payload = event.Payload
    alloc = payload.get("Allocation")
    if isinstance(alloc, Allocation) and alloc.Job is not None:
        event = msgspec.structs.replace(event, Payload={"Allocation": msgspec.structs.replace(alloc, Job=None)})
    keys = tuple(k for k in event.FilterKeys or () if k)
    return BufferedEvent(event.Topic, event.Key, event.Namespace, keys, _ENCODER.encode(event))


class EventBuffer:
    """A bounded ring of recent writes' events, with waiting for new ones. Runs on the server's event
    loop (the FSM applies there), so it needs no lock."""

    def __init__(self, *, max_events: int = DEFAULT_MAX_EVENTS, max_bytes: int = DEFAULT_MAX_BYTES,
                 max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES) -> None:
        assert max_events > 0 and max_bytes > 0 and max_answer_bytes > 0
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.max_answer_bytes = max_answer_bytes
        self._writes: deque[_Write] = deque()
        self._events = 0
        self._bytes = 0
        self._latest_index = 0
        self._appended = asyncio.Event()
        self._encoded_events = 0
        self._encoded_bytes = 0

    # ---- writing ------------------------------------------------------------------------------

    def on_apply(self, index: int, command: fsm.Command, events: EventBatch) -> None:
        """The FSM listener: keeps the write's events (a write without events only moves the index)."""
        self.append(index, events)

    def append(self, index: int, events: EventBatch) -> None:
        assert index > self._latest_index, f"writes arrive in index order ({index} after {self._latest_index})"
        self._latest_index = index
        if len(events):
            write = _Write(index, events, self._average_event_bytes())
            self._writes.append(write)
            self._events += write.count
            self._bytes += write.size_bytes
            self._evict()
        self._appended.set()
        self._appended = asyncio.Event()

    def _evict(self) -> None:
        """Drops the oldest writes until both bounds hold; the newest write stays even if it alone is
        over them, so a subscriber still sees it."""
        while len(self._writes) > 1 and (self._events > self.max_events or self._bytes > self.max_bytes):
            old = self._writes.popleft()
            self._events -= old.count
            self._bytes -= old.size_bytes

    def _average_event_bytes(self) -> int:
        return self._encoded_bytes // self._encoded_events if self._encoded_events else INITIAL_EVENT_BYTES

    def _events_of(self, write: _Write) -> tuple[BufferedEvent, ...]:
        """The write's encoded events; encoding them replaces its estimated size with the real one."""
        if not write.encoded:
            estimate = write.size_bytes
            events = write.events()
            self._bytes += write.size_bytes - estimate
            self._encoded_events += write.count
            self._encoded_bytes += write.size_bytes
            return events
        return write.events()

    # ---- reading ------------------------------------------------------------------------------

    @property
    def latest_index(self) -> int:
        return self._latest_index

    @property
    def oldest_index(self) -> int:
        """The index of the oldest kept write, 0 when none is kept."""
        return self._writes[0].index if self._writes else 0

    def __len__(self) -> int:
        return self._events

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def collect(self, wanted: EventFilter, after_index: int) -> StreamAnswer:
        """The matching events of the writes after ``after_index``, at most about
        ``max_answer_bytes`` of them (always whole writes, at least one)."""
        found: list[bytes] = []
        size = 0
        covered = max(after_index, 0)
        for write in self._writes:
            if write.index <= after_index:
                continue
            events = self._events_of(write)
            if found and size + write.size_bytes > self.max_answer_bytes:
                return StreamAnswer(found, covered)
            for event in events:
                if wanted.matches(event):
                    found.append(event.data)
                    size += len(event.data)
            covered = write.index
        return StreamAnswer(found, max(covered, self._latest_index))

    async def read(self, wanted: EventFilter, after_index: int, wait_s: float) -> StreamAnswer:
        """The matching events after ``after_index``, waiting up to ``wait_s`` for some; an empty
        answer when none came (a heartbeat)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, wait_s)
        while True:
            appended = self._appended  # taken before reading: no write can slip between the two
            answer = self.collect(wanted, after_index)
            remaining_s = deadline - loop.time()
            if answer.events or remaining_s <= 0:
                return answer
            after_index = answer.index  # writes nobody here wants need not be scanned again
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(appended.wait(), remaining_s)
