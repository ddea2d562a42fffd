"""Runs an AllocRunner on the fake driver and clock, recording the updates a server would receive."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Coroutine
from pathlib import Path

from agents.client.allocrunner import AllocRunner
from agents.client.state import ClientState
from cluster.structs import Allocation, TaskState
from tests.agents.client.support import FakeClock, FakeDriver, FakeMachine, make_node

MAX_YIELDS = 2000
GUARD_S = 20.0  # a scenario that hangs fails instead of holding the suite


def run(scenario: Coroutine[object, object, None]) -> None:
    asyncio.run(asyncio.wait_for(scenario, GUARD_S))


async def until(predicate: Callable[[], bool], what: str = "condition") -> None:
    """Lets the event loop run until ``predicate`` holds; fails (never hangs) when it does not."""
    for _ in range(MAX_YIELDS):
        if predicate():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"{what} never held")


class Harness:
    def __init__(self, data_dir: Path, alloc: Allocation | None = None, *, machine: FakeMachine | None = None,
                 clock: FakeClock | None = None, seed: int = 1) -> None:
        self.clock = clock or FakeClock()
        self.driver = FakeDriver(self.clock, machine)
        self.client_state = ClientState(data_dir)
        self.updates: list[Allocation] = []
        if alloc is None:
            kept = self.client_state.allocs()
            assert len(kept) == 1, kept
            alloc = kept[0]
        self.runner = AllocRunner(alloc=alloc, node=make_node(), drivers={"fake": self.driver}, data_dir=data_dir,
                                  client_state=self.client_state, on_update=self.updates.append, clock=self.clock,
                                  rng=random.Random(seed))
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.ensure_future(self.runner.run())

    async def finished(self) -> None:
        assert self.task is not None
        await until(self.task.done, "the allocation's end")
        self.task.result()

    def state(self, name: str) -> TaskState:
        return self.runner.runners[name].state

    def events(self, name: str) -> list[str]:
        return [e.Type for e in self.state(name).Events or []]

    def status(self) -> str:
        return self.runner.status()[0]

    def last_reported(self) -> Allocation:
        assert self.updates, "no update was reported"
        return self.updates[-1]
