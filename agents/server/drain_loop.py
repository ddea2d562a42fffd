"""The leader's node drainer: runs ``cluster.scheduler.drainer`` over every node with a drain strategy.

Each step marks the allocations that may move now for migration (``DesiredTransition.Migrate``, with
an evaluation per job, so the scheduler stops them and places replacements elsewhere): per group at
most ``migrate.max_parallel`` at a time, counted against the group's healthy allocations; batch jobs
are left to finish; system jobs go last unless the drain ignores them; at the deadline everything left
goes. A node with nothing left has its drain completed: it stays ineligible, its ``DrainStrategy`` is
cleared and ``LastDrain`` says complete. The loop steps again when allocations change (a replacement
became healthy, a migrated allocation stopped) and at the next drain deadline.
"""

from __future__ import annotations

from collections.abc import Callable

from agents.server.deploy_watch import StepLoop
from agents.server.fsm_adapter import StateFSM
from agents.server.scheduling import Propose
from cluster.scheduler.drainer import NodeDrainer

__all__ = ["DrainLoop"]


class DrainLoop(StepLoop):
    def __init__(self, fsm_: StateFSM, propose: Propose, now_ns: Callable[[], int],
                 new_id: Callable[[], str]) -> None:
        self.drainer = NodeDrainer(new_id)
        super().__init__("node drainer", fsm_, propose, now_ns, self.drainer.step, NodeDrainer.next_deadline_ns)
