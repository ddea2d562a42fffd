"""A consistent, immutable view of the whole state at one Raft index, and its read API.

Every table is an ``immutables.Map`` (a hash array mapped trie): taking a snapshot is copying a
handful of references, O(1), and a snapshot never changes while writes go on. Secondary indexes
map a key (a node ID, a (namespace, job ID) pair, ...) to a ``Group``: the Raft index of the last
change to that group, for blocking queries, and the map of member objects by ID.

Reads return the stored objects themselves. They are shared with later snapshots, so callers must
treat them as read-only: to change one, copy it (``msgspec.structs.replace``) and write the copy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, TypeVar

import immutables

from cluster.state.nodetable import NodeTable, alloc_uses_resources
from cluster.state.records import JobScalingEvents, SchedulerConfiguration, ServiceRegistration
from cluster.state.summaries import JobSummary
from cluster.structs.alloc import Allocation
from cluster.structs.constants import DeploymentStatus
from cluster.structs.deployment import Deployment
from cluster.structs.evaluation import Evaluation
from cluster.structs.job import Job
from cluster.structs.node import Node

__all__ = ["ID_INDEXES", "Group", "IdGroup", "JobKey", "StateSnapshot", "Tables", "node_group"]

T = TypeVar("T")
JobKey = tuple[str, str]  # (namespace, job ID)

# Deployment statuses that still make progress (Nomad's ``Deployment.Active``).
ACTIVE_DEPLOYMENT_STATUSES = frozenset(
    (DeploymentStatus.RUNNING, DeploymentStatus.PAUSED, DeploymentStatus.PENDING,
     DeploymentStatus.BLOCKED, DeploymentStatus.UNBLOCKING, "initializing")
)


# The table behind each secondary index.
INDEX_TABLES = {
    "allocs_by_node": "allocs",
    "allocs_by_job": "allocs",
    "allocs_by_eval": "allocs",
    "allocs_by_deployment": "allocs",
    "evals_by_job": "evals",
    "deployments_by_job": "deployments",
    "services_by_name": "services",
    "services_by_alloc": "services",
}


# Members of one secondary-index key and the Raft index of the group's last change: a plain
# (last_index, members) pair, the cheapest thing to build once per changed group per write.
Group = tuple[int, immutables.Map[str, T]]

# The allocation indexes by job, evaluation and deployment hold only IDs: a plan adds thousands of
# members to one key, which a frozenset absorbs in one C-speed union; the allocations themselves
# are looked up in the allocs table when read.
IdGroup = tuple[int, frozenset[str]]
ID_INDEXES = frozenset(("allocs_by_job", "allocs_by_eval", "allocs_by_deployment"))


def node_group(t: Tables, node_id: str) -> Group[Allocation] | None:
    """The allocations on a node: registered nodes keep them in the node table (by slot), others
    (deregistered nodes whose allocations remain) in ``allocs_by_node``."""
    slot = t.node_table.slot_of.get(node_id)
    if slot is not None:
        return t.node_table.alloc_groups[slot]
    return t.allocs_by_node.get(node_id)


class Tables(NamedTuple):
    """The root of the state: one persistent map per table and per secondary index."""

    applied_index: int
    jobs: immutables.Map[JobKey, Job]
    job_versions: immutables.Map[JobKey, tuple[Job, ...]]  # newest first
    nodes: immutables.Map[str, Node]
    allocs: immutables.Map[str, Allocation]
    evals: immutables.Map[str, Evaluation]
    deployments: immutables.Map[str, Deployment]
    services: immutables.Map[str, ServiceRegistration]
    scheduler_config: SchedulerConfiguration
    table_index: immutables.Map[str, int]
    allocs_by_node: immutables.Map[str, Group[Allocation]]  # only nodes no longer registered
    allocs_by_job: immutables.Map[JobKey, IdGroup]
    allocs_by_eval: immutables.Map[str, IdGroup]
    allocs_by_deployment: immutables.Map[str, IdGroup]
    evals_by_job: immutables.Map[JobKey, Group[Evaluation]]
    deployments_by_job: immutables.Map[JobKey, Group[Deployment]]
    services_by_name: immutables.Map[JobKey, Group[ServiceRegistration]]
    services_by_alloc: immutables.Map[str, Group[ServiceRegistration]]
    node_table: NodeTable
    # Last so that positional construction keeps working; watch index "job_summary".
    job_summaries: immutables.Map[JobKey, JobSummary] = immutables.Map()
    # Watch index "scaling_events".
    scaling_events: immutables.Map[JobKey, JobScalingEvents] = immutables.Map()

    @staticmethod
    def empty() -> Tables:
        m: immutables.Map[Any, Any] = immutables.Map()
        return Tables(0, m, m, m, m, m, m, m, SchedulerConfiguration(), m, m, m, m, m, m, m, m, m, NodeTable())


def _members(group: Group[T] | None) -> list[T]:
    return list(group[1].values()) if group is not None else []


class StateSnapshot:
    """Read-only view of ``Tables``. Also the scheduler's ``State`` port."""

    __slots__ = ("_t",)

    def __init__(self, tables: Tables) -> None:
        self._t = tables

    @property
    def tables(self) -> Tables:
        return self._t

    @property
    def node_table(self) -> NodeTable:
        return self._t.node_table

    def latest_index(self) -> int:
        return self._t.applied_index

    def table_index(self, table: str) -> int:
        """Raft index of the last write to ``table`` ("jobs", "nodes", "allocs", ...), 0 if never."""
        return self._t.table_index.get(table, 0)

    def group_index(self, index_name: str, key: str | JobKey) -> int:
        """Raft index of the last change to one secondary-index group, e.g.
        ``group_index("allocs_by_node", node_id)``: what a blocking query on it waits for. An empty
        group is not kept, so for one the index of its whole table answers (a blocking query may
        wake early, never late)."""
        if index_name == "allocs_by_node":
            group: Group[object] | None = node_group(self._t, key)  # type: ignore[arg-type]
        else:
            groups: immutables.Map[object, Group[object]] = getattr(self._t, index_name)
            group = groups.get(key)
        if group is not None:
            return group[0]
        return self.table_index(INDEX_TABLES[index_name])

    # -- jobs ----------------------------------------------------------------------------------

    def job_by_id(self, namespace: str, job_id: str) -> Job | None:
        return self._t.jobs.get((namespace, job_id))

    def job_versions(self, namespace: str, job_id: str) -> list[Job]:
        """Tracked versions of a job, newest first."""
        return list(self._t.job_versions.get((namespace, job_id), ()))

    def job_by_id_and_version(self, namespace: str, job_id: str, version: int) -> Job | None:
        for job in self._t.job_versions.get((namespace, job_id), ()):
            if job.Version == version:
                return job
        return None

    def job_summary(self, namespace: str, job_id: str) -> JobSummary | None:
        """Nomad's job summary: allocations per task group by status, and child jobs by status.
        Its ``ModifyIndex`` (or ``table_index("job_summary")``) is what a blocking query waits on.
        Shared state: read-only."""
        return self._t.job_summaries.get((namespace, job_id))

    def job_summaries(self, namespace: str | None = None) -> Iterator[JobSummary]:
        for (ns, _), summary in self._t.job_summaries.items():
            if namespace is None or ns == namespace:
                yield summary

    def scaling_events(self, namespace: str, job_id: str) -> JobScalingEvents | None:
        """The job's scaling events by task group, newest first (``ScaleStatus.TaskGroups[g].Events``).
        Shared state: read-only."""
        return self._t.scaling_events.get((namespace, job_id))

    def jobs(self, namespace: str | None = None) -> Iterator[Job]:
        for (ns, _), job in self._t.jobs.items():
            if namespace is None or ns == namespace:
                yield job

    # -- nodes ---------------------------------------------------------------------------------

    def node_by_id(self, node_id: str) -> Node | None:
        return self._t.nodes.get(node_id)

    def nodes(self) -> Iterator[Node]:
        return iter(self._t.nodes.values())

    # -- allocations ---------------------------------------------------------------------------

    def alloc_by_id(self, alloc_id: str) -> Allocation | None:
        return self._t.allocs.get(alloc_id)

    def alloc_getter(self) -> Callable[[str], Allocation | None]:
        """A fast lookup of allocations by ID, for loops over many."""
        return self._t.allocs.get

    def allocs(self) -> Iterator[Allocation]:
        return iter(self._t.allocs.values())

    def _by_ids(self, group: IdGroup | None) -> list[Allocation]:
        if group is None:
            return []
        get = self._t.allocs.get
        return [a for i in group[1] if (a := get(i)) is not None]

    def allocs_by_job(self, namespace: str, job_id: str, any_create_index: bool = True) -> list[Allocation]:
        """Allocations of a job. With ``any_create_index=False`` only those of the job as now
        registered (not of an earlier job of the same ID that was purged and re-created)."""
        allocs = self._by_ids(self._t.allocs_by_job.get((namespace, job_id)))
        if any_create_index:
            return allocs
        job = self.job_by_id(namespace, job_id)
        if job is None:
            return allocs
        return [a for a in allocs if a.Job is None or a.Job.CreateIndex == job.CreateIndex]

    def allocs_by_node(self, node_id: str) -> list[Allocation]:
        return _members(node_group(self._t, node_id))

    def allocs_by_node_terminal(self, node_id: str, terminal: bool) -> list[Allocation]:
        return [a for a in self.allocs_by_node(node_id) if alloc_uses_resources(a) != terminal]

    def allocs_by_eval(self, eval_id: str) -> list[Allocation]:
        return self._by_ids(self._t.allocs_by_eval.get(eval_id))

    def allocs_by_deployment(self, deployment_id: str) -> list[Allocation]:
        return self._by_ids(self._t.allocs_by_deployment.get(deployment_id))

    # -- evaluations ---------------------------------------------------------------------------

    def eval_by_id(self, eval_id: str) -> Evaluation | None:
        return self._t.evals.get(eval_id)

    def evals(self) -> Iterator[Evaluation]:
        return iter(self._t.evals.values())

    def evals_by_job(self, namespace: str, job_id: str) -> list[Evaluation]:
        return _members(self._t.evals_by_job.get((namespace, job_id)))

    # -- deployments ---------------------------------------------------------------------------

    def deployment_by_id(self, deployment_id: str) -> Deployment | None:
        return self._t.deployments.get(deployment_id)

    def deployments(self) -> Iterator[Deployment]:
        return iter(self._t.deployments.values())

    def deployments_by_job(self, namespace: str, job_id: str) -> list[Deployment]:
        return _members(self._t.deployments_by_job.get((namespace, job_id)))

    def latest_deployment_by_job(self, namespace: str, job_id: str) -> Deployment | None:
        """The job's most recently created deployment (highest CreateIndex), or None."""
        deployments = self.deployments_by_job(namespace, job_id)
        return max(deployments, key=lambda d: d.CreateIndex, default=None)

    # -- services and configuration ------------------------------------------------------------

    def service_by_id(self, service_id: str) -> ServiceRegistration | None:
        return self._t.services.get(service_id)

    def services_by_name(self, namespace: str, name: str) -> list[ServiceRegistration]:
        return _members(self._t.services_by_name.get((namespace, name)))

    def services_by_alloc(self, alloc_id: str) -> list[ServiceRegistration]:
        return _members(self._t.services_by_alloc.get(alloc_id))

    def services(self) -> Iterator[ServiceRegistration]:
        return iter(self._t.services.values())

    def scheduler_config(self) -> SchedulerConfiguration:
        return self._t.scheduler_config
