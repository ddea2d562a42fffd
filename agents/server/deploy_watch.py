"""The leader's deployment watcher: runs ``cluster.deployments.watcher`` over every active deployment.

Clients report each allocation's health (``DeploymentStatus.Healthy``) with their allocation updates;
the state store counts them into the deployment. This loop turns those counts into decisions
(promote canaries with ``auto_promote``, fail on an unhealthy allocation or a missed progress deadline,
revert to the last stable version with ``auto_revert``, an evaluation to continue the rolling update)
and proposes them through Raft. The scheduler marks the deployment successful once every group is
healthy, and the state store then marks that job version stable.

``StepLoop`` is the shape the drainer shares: run a pure ``step`` on a fresh snapshot whenever a
committed write may have changed the answer, and at the step's next deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from agents.server.fsm_adapter import StateFSM
from agents.server.scheduling import Propose
from cluster import fsm
from cluster.deployments.watcher import DeploymentWatcher
from cluster.errors import CaravanError
from cluster.state.snapshot import StateSnapshot

__all__ = ["DeploymentWatchLoop", "StepLoop", "Wakeup"]

log = logging.getLogger(__name__)

SECOND_NS = 1_000_000_000
# Longest sleep between two steps: a deadline the state gained meanwhile is noticed within this.
MAX_SLEEP_S = 1.0
# Shortest time between two steps: a burst of commits costs one step, not one per commit.
MIN_STEP_INTERVAL_S = 0.05
# After a refused proposal, wait this long before trying again (the state may need to move first).
RETRY_AFTER_ERROR_S = 1.0

Step = Callable[[StateSnapshot, int], list[fsm.Command]]
Deadline = Callable[[StateSnapshot, int], int | None]


class Wakeup:
    """What a leader loop sleeps on: ``set`` (from ``on_apply``) or its next deadline, whichever is first."""

    def __init__(self, now_ns: Callable[[], int]) -> None:
        self._now_ns = now_ns
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    def clear(self) -> None:
        """Called before reading the state: a write committed after this wakes the next ``wait``."""
        self._event.clear()

    async def wait(self, deadline_ns: int | None, max_s: float = MAX_SLEEP_S) -> None:
        delay_s = max_s
        if deadline_ns is not None:
            delay_s = min(delay_s, max(0.0, (deadline_ns - self._now_ns()) / SECOND_NS))
        # ``asyncio.timeout``, not ``wait_for``: in Python 3.11 ``wait_for`` can swallow the cancellation
        # that stops the leader loops when the event fires at the same moment, and the loop runs on.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay_s):
                await self._event.wait()


class StepLoop:
    """Runs ``step`` and proposes what it returns, one command at a time, in order."""

    def __init__(self, name: str, fsm_: StateFSM, propose: Propose, now_ns: Callable[[], int], step: Step,
                 deadline: Deadline) -> None:
        self.name = name
        self._fsm = fsm_
        self._propose = propose
        self._now_ns = now_ns
        self._step = step
        self._deadline = deadline
        self.wakeup = Wakeup(now_ns)

    async def run(self) -> None:
        while True:
            self.wakeup.clear()
            snap = self._fsm.store.snapshot()
            now_ns = self._now_ns()
            failed = False
            for command in self._step(snap, now_ns):
                try:
                    await self._propose(command)
                except CaravanError as error:
                    log.warning("%s: %s refused: %s", self.name, type(command).__name__, error)
                    failed = True
                    break
            if failed:
                await asyncio.sleep(RETRY_AFTER_ERROR_S)
                continue
            now_ns = self._now_ns()
            deadline_ns = self._deadline(self._fsm.store.snapshot(), now_ns)
            # A deadline already past that the step did not act on (a deployment the scheduler has yet to
            # mark successful) is not a reason to spin: wait for a write, or the longest sleep.
            await self.wakeup.wait(deadline_ns if deadline_ns is not None and deadline_ns > now_ns else None)
            await asyncio.sleep(MIN_STEP_INTERVAL_S)


class DeploymentWatchLoop(StepLoop):
    def __init__(self, fsm_: StateFSM, propose: Propose, now_ns: Callable[[], int],
                 new_id: Callable[[], str]) -> None:
        self.watcher = DeploymentWatcher(new_id)
        super().__init__("deployment watcher", fsm_, propose, now_ns, self.watcher.step,
                         lambda snap, _now: DeploymentWatcher.next_deadline_ns(snap))
