"""The leader's core garbage collector: every ``job_gc_interval`` removes what ``cluster.gc`` selects.

Removals go through Raft, with the commands the FSM has: ``EvalDelete`` (evaluations with their
allocations, in batches), then ``JobBatchDeregister`` with ``Purge`` for the dead jobs, in batches (their
evaluations and allocations went in the batches before), ``DeploymentDelete`` and ``NodeDeregister``. ``force_gc`` is
``PUT /v1/system/gc``: the same collection at once, with every threshold zero.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agents.server.fsm_adapter import StateFSM
from agents.server.scheduling import Propose
from cluster import fsm
from cluster.errors import CaravanError
from cluster.gc import GCSelection, GCThresholds, select_garbage

if TYPE_CHECKING:
    from agents.config.model import ServerConfig
    from agents.server.agent import ServerAgent

__all__ = ["CoreGC", "GCSettings", "collect", "force_gc", "gc_commands"]

log = logging.getLogger(__name__)

SECOND_NS = 1_000_000_000
# Most objects one Raft entry deletes: keeps entries, and the time the FSM holds the store, small.
MAX_BATCH = 1000
NOMAD_THRESHOLDS = GCThresholds(eval_ns=3600 * SECOND_NS, job_ns=4 * 3600 * SECOND_NS,
                                deployment_ns=3600 * SECOND_NS, node_ns=24 * 3600 * SECOND_NS)


@dataclass(frozen=True, slots=True)
class GCSettings:
    """The ``server`` block's GC settings (Nomad's defaults)."""

    interval_ns: int = 300 * SECOND_NS
    thresholds: GCThresholds = NOMAD_THRESHOLDS

    @staticmethod
    def from_server(server: ServerConfig) -> GCSettings:
        def ns(seconds: float) -> int:
            return int(seconds * SECOND_NS)

        return GCSettings(interval_ns=ns(server.job_gc_interval_s), thresholds=GCThresholds(
            eval_ns=ns(server.eval_gc_threshold_s), job_ns=ns(server.job_gc_threshold_s),
            deployment_ns=ns(server.deployment_gc_threshold_s), node_ns=ns(server.node_gc_threshold_s)))


def _batches(ids: list[str]) -> list[list[str]]:
    return [ids[i:i + MAX_BATCH] for i in range(0, len(ids), MAX_BATCH)]


def gc_commands(selection: GCSelection) -> list[fsm.Command]:
    """The proposals that carry out ``selection``, in an order that never leaves a dangling reference."""
    commands: list[fsm.Command] = []
    evals, allocs = selection.evals, selection.allocs
    for i in range(0, max(len(evals), len(allocs)), MAX_BATCH):
        commands.append(fsm.EvalDelete(Evals=evals[i:i + MAX_BATCH], Allocs=allocs[i:i + MAX_BATCH] or None))
    jobs = selection.jobs
    commands += [fsm.JobBatchDeregister(Jobs=jobs[i:i + MAX_BATCH], Purge=True) for i in range(0, len(jobs), MAX_BATCH)]
    commands += [fsm.DeploymentDelete(Deployments=batch) for batch in _batches(selection.deployments)]
    commands += [fsm.NodeDeregister(NodeIDs=batch) for batch in _batches(selection.nodes)]
    return commands


async def collect(fsm_: StateFSM, propose: Propose, now_ns: int, thresholds: GCThresholds) -> GCSelection:
    """One collection; what it removed. A refused proposal raises (the next collection tries again)."""
    selection = select_garbage(fsm_.store.snapshot(), now_ns, thresholds)
    for command in gc_commands(selection):
        await propose(command)
    if not selection.empty():
        log.info("gc: removed %d evaluations, %d allocations, %d jobs, %d deployments, %d nodes",
                 len(selection.evals), len(selection.allocs), len(selection.jobs), len(selection.deployments),
                 len(selection.nodes))
    return selection


async def force_gc(agent: ServerAgent) -> GCSelection:
    """``PUT /v1/system/gc``: collects everything terminal now, whatever its age. Call it on the leader."""
    return await collect(agent.fsm, agent.propose, agent.now_ns(), GCThresholds.forced())


class CoreGC:
    def __init__(self, fsm_: StateFSM, propose: Propose, now_ns: Callable[[], int], settings: GCSettings) -> None:
        self._fsm = fsm_
        self._propose = propose
        self._now_ns = now_ns
        self.settings = settings

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.settings.interval_ns / SECOND_NS)
            try:
                await collect(self._fsm, self._propose, self._now_ns(), self.settings.thresholds)
            except CaravanError as error:
                log.warning("gc: collection stopped: %s", error)
