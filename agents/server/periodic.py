"""The leader's periodic dispatcher: launches a child of every periodic job at each cron time.

The times and the child jobs come from ``cluster.periodic``. A launch registers the child
``<parent>/periodic-<unix seconds>`` and its evaluation in one Raft entry; with ``prohibit_overlap``
a launch is skipped while an earlier child still runs. A job registered or changed while this server
leads is scheduled from the moment it is seen; a stopped or purged one is dropped.

On leadership start, as Nomad does, a job whose next launch after its latest one (its newest child,
or its registration if it has none) has already passed is launched once at once: the one most recent
missed launch, never every launch missed while no leader was running it.

``force_launch`` is ``nomad job periodic force``: a launch now, whatever the schedule or the overlap.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from agents.server.deploy_watch import Wakeup
from agents.server.fsm_adapter import StateFSM
from agents.server.scheduling import Propose
from cluster import fsm
from cluster.errors import CaravanError, InvalidInput, NotFound
from cluster.periodic import (
    child_job,
    child_launch_s,
    is_periodic,
    launch_eval,
    next_launch_ns,
    overlap_blocks,
)
from cluster.state.snapshot import StateSnapshot
from cluster.structs.job import Job

if TYPE_CHECKING:
    from agents.server.agent import ServerAgent

__all__ = ["PeriodicDispatcher", "force_launch", "launch"]

log = logging.getLogger(__name__)

SECOND_NS = 1_000_000_000
JobKey = tuple[str, str]


def _key(job: Job) -> JobKey:
    return job.Namespace or "default", job.ID or ""


def _schedule_of(job: Job) -> tuple[object, ...]:
    p = job.Periodic
    assert p is not None
    return p.Spec, tuple(p.Specs or ()), p.TimeZone


def _children(snap: StateSnapshot, parent: Job) -> list[Job]:
    return [j for j in snap.jobs(parent.Namespace or "default") if j.ParentID == parent.ID]


def _next_or_none(job: Job, after_ns: int) -> int | None:
    assert job.Periodic is not None
    try:
        return next_launch_ns(job.Periodic, after_ns)
    except InvalidInput as error:
        log.warning("periodic job %s: %s; not launching it", job.ID, error)
        return None


async def launch(propose: Propose, parent: Job, launch_ns: int, now_ns: int, eval_id: str) -> tuple[str, str]:
    """Registers the child of ``parent`` for ``launch_ns`` with its evaluation; (child id, eval id)."""
    child = child_job(parent, launch_ns, now_ns)
    ev = launch_eval(child, eval_id, now_ns)
    await propose(fsm.JobRegister(Job=child, Eval=ev, SubmitTime=now_ns))
    return child.ID or "", ev.ID


async def force_launch(agent: ServerAgent, namespace: str, job_id: str) -> tuple[str, str]:
    """Launches a periodic job now (the ``Periodic.Force`` endpoint); (child id, eval id). Call it on
    the leader: elsewhere the proposal raises ``NotLeader``."""
    job = agent.fsm.store.snapshot().job_by_id(namespace, job_id)
    if job is None:
        raise NotFound(f'job "{job_id}" not found in namespace "{namespace}"')
    if not is_periodic(job):
        raise InvalidInput(f'job "{job_id}" is not a running periodic job: it cannot be force launched')
    now_ns = agent.now_ns()
    return await launch(agent.propose, job, now_ns, now_ns, agent.new_id())


class PeriodicDispatcher:
    """See the module docstring. ``tracked`` maps each periodic job to its schedule and next launch."""

    def __init__(self, fsm_: StateFSM, propose: Propose, now_ns: Callable[[], int],
                 new_id: Callable[[], str]) -> None:
        self._fsm = fsm_
        self._propose = propose
        self._now_ns = now_ns
        self._new_id = new_id
        self.wakeup = Wakeup(now_ns)
        self.tracked: dict[JobKey, tuple[tuple[object, ...], int | None]] = {}

    async def run(self) -> None:
        await self._catch_up()
        while True:
            self.wakeup.clear()
            snap = self._fsm.store.snapshot()
            now_ns = self._now_ns()
            for job, launch_ns in self._due(snap, now_ns):
                await self._launch(snap, job, launch_ns, now_ns)
            nexts = [n for _, n in self.tracked.values() if n is not None]
            await self.wakeup.wait(min(nexts, default=None))

    async def _catch_up(self) -> None:
        snap = self._fsm.store.snapshot()
        now_ns = self._now_ns()
        for job in [j for j in snap.jobs() if is_periodic(j)]:
            launches = [s * SECOND_NS for c in _children(snap, job) if (s := child_launch_s(job.ID or "", c.ID or ""))]
            latest_ns = max([job.SubmitTime or 0, *launches])
            missed = _next_or_none(job, latest_ns)
            if missed is not None and missed <= now_ns:
                log.info("periodic job %s missed its launch at %d: launching it now", job.ID, missed // SECOND_NS)
                await self._launch(snap, job, now_ns, now_ns)
            else:
                self.tracked[_key(job)] = (_schedule_of(job), _next_or_none(job, now_ns))

    def _due(self, snap: StateSnapshot, now_ns: int) -> list[tuple[Job, int]]:
        """Follows job changes in the state; the jobs whose launch time has come, with that time."""
        seen: set[JobKey] = set()
        due: list[tuple[Job, int]] = []
        for job in snap.jobs():
            if not is_periodic(job):
                continue
            key, schedule = _key(job), _schedule_of(job)
            seen.add(key)
            known = self.tracked.get(key)
            if known is None or known[0] != schedule:
                self.tracked[key] = known = (schedule, _next_or_none(job, now_ns))
            if known[1] is not None and known[1] <= now_ns:
                due.append((job, known[1]))
        for key in set(self.tracked) - seen:
            del self.tracked[key]
        return due

    async def _launch(self, snap: StateSnapshot, job: Job, launch_ns: int, now_ns: int) -> None:
        self.tracked[_key(job)] = (_schedule_of(job), _next_or_none(job, launch_ns))
        if overlap_blocks(job, _children(snap, job)):
            log.info("periodic job %s: skipping the launch at %d: a previous child still runs (prohibit_overlap)",
                     job.ID, launch_ns // SECOND_NS)
            return
        try:
            child_id, _ = await launch(self._propose, job, launch_ns, now_ns, self._new_id())
        except CaravanError as error:
            log.warning("periodic job %s: launch at %d failed: %s", job.ID, launch_ns // SECOND_NS, error)
            return
        log.info("periodic job %s launched %s", job.ID, child_id)
