"""Running one evaluation with the scheduler its type asks for (the scheduler worker's core)."""

from __future__ import annotations

from collections.abc import Callable
from random import Random

from cluster.errors import InvalidInput
from cluster.scheduler.generic import GenericScheduler
from cluster.scheduler.ports import Planner, State
from cluster.scheduler.system import SystemScheduler
from cluster.structs.constants import JobType
from cluster.structs.evaluation import Evaluation

__all__ = ["process_eval"]


def process_eval(state: State, planner: Planner, ev: Evaluation, rng: Random, now_ns: int,
                 clock_ns: Callable[[], int] | None = None) -> None:
    """Schedules ``ev`` on ``state`` and reports through ``planner``. With ``clock_ns`` (a
    monotonic clock, e.g. ``time.perf_counter_ns``) placements record how long they took in
    ``AllocMetric.AllocationTime``."""
    if ev.Type in (JobType.SERVICE, JobType.BATCH):
        GenericScheduler(state, planner, rng, now_ns, batch=ev.Type == JobType.BATCH, clock_ns=clock_ns).process(ev)
        return
    if ev.Type in (JobType.SYSTEM, JobType.SYSBATCH):
        SystemScheduler(state, planner, rng, now_ns, sysbatch=ev.Type == JobType.SYSBATCH,
                        clock_ns=clock_ns).process(ev)
        return
    raise InvalidInput(f'no scheduler for evaluations of type "{ev.Type}"')
