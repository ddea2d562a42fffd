"""The scheduler's two ports, as in Nomad: a ``State`` to read (an immutable snapshot) and a
``Planner`` to submit plans and evaluation updates to.

``cluster.state.StateSnapshot`` is a ``State``. The leader's planner applies plans through Raft;
tests use a recording planner; ``cluster.scheduler.local_planner`` applies plans straight into a
``StateStore`` through the FSM.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from cluster.scheduler.plan import Plan, PlanResult
from cluster.state.nodetable import NodeTable
from cluster.state.records import SchedulerConfiguration
from cluster.structs.alloc import Allocation
from cluster.structs.deployment import Deployment
from cluster.structs.evaluation import Evaluation
from cluster.structs.job import Job
from cluster.structs.node import Node

__all__ = ["Planner", "State"]


class State(Protocol):
    """What a scheduler reads. Objects returned are shared: never change them."""

    @property
    def node_table(self) -> NodeTable: ...

    def latest_index(self) -> int: ...

    def job_by_id(self, namespace: str, job_id: str) -> Job | None: ...

    def job_by_id_and_version(self, namespace: str, job_id: str, version: int) -> Job | None: ...

    def node_by_id(self, node_id: str) -> Node | None: ...

    def alloc_by_id(self, alloc_id: str) -> Allocation | None: ...

    def alloc_getter(self) -> Callable[[str], Allocation | None]:
        """A fast lookup of allocations by ID, for loops over many."""
        ...

    def allocs_by_job(self, namespace: str, job_id: str, any_create_index: bool = True) -> list[Allocation]: ...

    def allocs_by_node(self, node_id: str) -> list[Allocation]: ...

    def deployment_by_id(self, deployment_id: str) -> Deployment | None: ...

    def deployments_by_job(self, namespace: str, job_id: str) -> list[Deployment]: ...

    def latest_deployment_by_job(self, namespace: str, job_id: str) -> Deployment | None: ...

    def eval_by_id(self, eval_id: str) -> Evaluation | None: ...

    def scheduler_config(self) -> SchedulerConfiguration: ...


class Planner(Protocol):
    """Where a scheduler sends its decisions."""

    def submit_plan(self, plan: Plan) -> tuple[PlanResult, State | None]:
        """Commits what fits of ``plan``. Returns the result and, when part of the plan was
        refused, a newer state to retry against (None otherwise)."""
        ...

    def update_eval(self, ev: Evaluation) -> None:
        """Records the evaluation's outcome (status, failed placements, blocked eval...)."""
        ...

    def create_eval(self, ev: Evaluation) -> None:
        """Creates a follow-up or blocked evaluation."""
        ...

    def reblock_eval(self, ev: Evaluation) -> None:
        """Puts a blocked evaluation that still cannot place everything back to wait."""
        ...
