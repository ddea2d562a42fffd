"""The Raft state machine of a server: ``cluster.fsm`` over a ``StateStore``, with change notifications.

``RaftRuntime`` calls ``apply`` once per committed entry, on the event loop. A command the FSM refuses
(a ``CaravanError`` raised before anything was written) must not stop the runtime: it comes back as a
``Rejected`` result, which the proposer turns into the error again, and every other server skips the
entry the same way. After each apply the adapter tells two kinds of listeners:

- blocking queries, through ``wait_for``: they sleep until the watch index they care about (for
  example ``group_index("allocs_by_node", node_id)``) moves past the caller's ``min_index``;
- the leader's loops, through ``listeners``: they see each decoded command with its index, so the eval
  broker is fed with the evaluations a write created, whoever proposed it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from cluster import fsm
from cluster.errors import CaravanError
from cluster.state import StateSnapshot, StateStore
from cluster.state.events import EventBatch

__all__ = ["ApplyListener", "Rejected", "StateFSM"]

log = logging.getLogger(__name__)

ApplyListener = Callable[[int, fsm.Command, EventBatch], None]


@dataclass(frozen=True, slots=True)
class Rejected:
    """The FSM refused a command; ``error`` says why (the state did not change)."""

    error: CaravanError


class StateFSM:
    """The replicated state store as a ``raft_runtime.FSM``."""

    def __init__(self, store: StateStore | None = None) -> None:
        self.store = store if store is not None else StateStore()
        self.listeners: list[ApplyListener] = []
        self._changed = asyncio.Event()

    # ---- the FSM protocol ---------------------------------------------------------------------

    def apply(self, index: int, data: bytes) -> object:
        try:
            command = fsm.decode_command(data)
            result, events = fsm.apply_command(self.store, index, command)
        except CaravanError as error:
            self.store.skip(index)  # apply_command skipped already; a decode error did not
            log.info("fsm: entry %d refused: %s", index, error)
            self._notify()
            return Rejected(error)
        self._notify()
        for listener in list(self.listeners):
            listener(index, command, events)
        return result

    def snapshot(self) -> bytes:
        return fsm.snapshot(self.store)

    def restore(self, data: bytes) -> None:
        if data:
            fsm.restore(self.store, data)
        else:
            self.store.restore(StateStore().snapshot())
        self._notify()

    # ---- blocking queries ---------------------------------------------------------------------

    async def wait_for(self, index_of: Callable[[StateSnapshot], int], min_index: int,
                       max_wait_s: float) -> tuple[StateSnapshot, int]:
        """The newest snapshot and its watch index, as soon as ``index_of`` passes ``min_index``, or
        after ``max_wait_s`` (then the index may still be ``min_index``: the caller asks again)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, max_wait_s)
        while True:
            changed = self._changed  # taken before reading, so no change can slip between the two
            snap = self.store.snapshot()
            index = index_of(snap)
            remaining_s = deadline - loop.time()
            if index > min_index or remaining_s <= 0:
                return snap, index
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining_s)

    async def wait_applied(self, index: int, timeout_s: float) -> StateSnapshot:
        """A snapshot at least as new as Raft ``index`` (``TimeoutError`` if none comes in time)."""
        snap, reached = await self.wait_for(lambda s: s.latest_index(), index - 1, timeout_s)
        if reached < index:
            raise TimeoutError(f"state did not reach index {index} within {timeout_s} s (at {reached})")
        return snap

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
