"""The node drainer's decisions (Nomad's ``drainer``), as pure steps over the state.

For each draining node, ``step`` marks allocations to migrate (``DesiredTransition.Migrate``) and
asks for an evaluation of their jobs, which then stops them and places replacements elsewhere:

- service allocations go at most ``migrate.max_parallel`` at a time per group: only as many as
  the group has healthy allocations above ``count - max_parallel``;
- batch allocations are left to finish until the deadline;
- system allocations go last, once nothing else is left on the node, unless the drain ignores
  system jobs;
- at the deadline (or at once with ``-force``, a negative deadline) everything left is marked.

A node with nothing left to drain has its drain completed (it stays ineligible). The shell calls
``step`` when allocations or nodes change, and at ``next_deadline_ns``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from cluster import fsm
from cluster.scheduler.allocs import lookup_group, terminal, to_ns
from cluster.state.snapshot import StateSnapshot
from cluster.structs.alloc import Allocation, DesiredTransition
from cluster.structs.constants import EvalStatus, EvalTrigger, JobType
from cluster.structs.evaluation import Evaluation
from cluster.structs.node import Node, NodeEvent

__all__ = ["NodeDrainer", "drain_deadline_ns"]

DRAIN_COMPLETE = "Node drain complete"
SUBSYSTEM_DRAIN = "Drain"


def drain_deadline_ns(node: Node, now_ns: int) -> int | None:
    """When the drain forces everything off (None: no deadline)."""
    strategy = node.DrainStrategy
    if strategy is None:
        return None
    if strategy.Deadline < 0:
        return now_ns
    if strategy.ForceDeadline.year > 1:
        return to_ns(strategy.ForceDeadline)
    if strategy.Deadline > 0 and strategy.StartedAt.year > 1:
        return to_ns(strategy.StartedAt) + strategy.Deadline
    return None


def _healthy_staying(siblings: list[Allocation]) -> int:
    """Live allocations the group can count on: reported healthy (``Healthy is True``; unhealthy or
    undecided ones are no margin) and not already marked to migrate (those are on their way out)."""
    return sum(1 for a in siblings if a.DeploymentStatus is not None and a.DeploymentStatus.Healthy is True
               and a.DesiredTransition.Migrate is not True)


def _job_type(alloc: Allocation) -> str:
    return (alloc.Job.Type or "") if alloc.Job is not None else ""


class NodeDrainer:
    def __init__(self, new_id: Callable[[], str]) -> None:
        self.new_id = new_id

    def step(self, snap: StateSnapshot, now_ns: int) -> list[fsm.Command]:
        marks: dict[str, DesiredTransition] = {}
        jobs: dict[tuple[str, str], Allocation] = {}
        commands: list[fsm.Command] = []
        draining = [n for n in snap.nodes() if n.DrainStrategy is not None]
        for node in draining:
            chosen, done = self._node(snap, node, now_ns)
            for alloc in chosen:
                marks[alloc.ID] = DesiredTransition(Migrate=True)
                jobs.setdefault((alloc.Namespace, alloc.JobID), alloc)
            if done:
                event = NodeEvent(Message=DRAIN_COMPLETE, Subsystem=SUBSYSTEM_DRAIN,
                                  Timestamp=datetime.fromtimestamp(now_ns / 1e9, tz=UTC))
                commands.append(fsm.NodeUpdateDrain(NodeID=node.ID, DrainStrategy=None, Complete=True,
                                                    UpdatedAt=event.Timestamp, NodeEvent=event))
        if marks:
            evals = [self._eval(alloc, now_ns) for alloc in jobs.values()]
            commands.insert(0, fsm.AllocUpdateDesiredTransition(Allocs=marks, Evals=evals, UpdatedAt=now_ns))
        return commands

    def _eval(self, alloc: Allocation, now_ns: int) -> Evaluation:
        job = alloc.Job
        return Evaluation(ID=self.new_id(), Namespace=alloc.Namespace, Priority=(job.Priority or 50) if job else 50,
                          Type=_job_type(alloc) or JobType.SERVICE, TriggeredBy=EvalTrigger.NODE_DRAIN,
                          JobID=alloc.JobID, Status=EvalStatus.PENDING, CreateTime=now_ns, ModifyTime=now_ns)

    def _node(self, snap: StateSnapshot, node: Node, now_ns: int) -> tuple[list[Allocation], bool]:
        """(allocations to mark now, whether the node has nothing left to drain)."""
        strategy = node.DrainStrategy
        assert strategy is not None
        live = [a for a in snap.allocs_by_node(node.ID) if not terminal(a)]
        deadline = drain_deadline_ns(node, now_ns)
        forced = deadline is not None and now_ns >= deadline
        system = [a for a in live if _job_type(a) in (JobType.SYSTEM, JobType.SYSBATCH)]
        others = [a for a in live if a not in system]
        if strategy.IgnoreSystemJobs:
            system = []
        if not others and not system:
            return [], True
        unmarked = [a for a in others if a.DesiredTransition.Migrate is not True]
        if forced:
            chosen = unmarked
        else:
            chosen = [a for a in unmarked if _job_type(a) == JobType.SERVICE and self._may_drain(snap, a)]
            chosen = self._limit_per_group(snap, chosen)
        if not others or forced:
            chosen += [a for a in system if a.DesiredTransition.Migrate is not True]
        return chosen, False

    @staticmethod
    def _may_drain(snap: StateSnapshot, alloc: Allocation) -> bool:
        return alloc.Job is not None and lookup_group(alloc.Job, alloc.TaskGroup) is not None

    @staticmethod
    def _limit_per_group(snap: StateSnapshot, drainable: list[Allocation]) -> list[Allocation]:
        """Nomad's handleTaskGroup: drain while the group keeps ``count - max_parallel`` healthy."""
        out: list[Allocation] = []
        groups: dict[tuple[str, str, str], list[Allocation]] = {}
        for alloc in drainable:
            groups.setdefault((alloc.Namespace, alloc.JobID, alloc.TaskGroup), []).append(alloc)
        for (ns, job_id, group), candidates in groups.items():
            job = snap.job_by_id(ns, job_id)
            tg = lookup_group(job, group)
            if tg is None:
                out.extend(candidates)
                continue
            max_parallel = (tg.Migrate.MaxParallel or 1) if tg.Migrate is not None else 1
            siblings = [a for a in snap.allocs_by_job(ns, job_id) if a.TaskGroup == group and not terminal(a)]
            budget = min(len(candidates), _healthy_staying(siblings) - ((tg.Count or 0) - max_parallel))
            out.extend(sorted(candidates, key=lambda a: a.Name)[:max(budget, 0)])
        return out

    @staticmethod
    def next_deadline_ns(snap: StateSnapshot, now_ns: int) -> int | None:
        times = [d for n in snap.nodes() if (d := drain_deadline_ns(n, now_ns)) is not None and d > now_ns]
        return min(times, default=None)
