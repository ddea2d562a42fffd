"""A write transaction: the one way to change the state, at one Raft index.

Writes are staged in ``immutables`` map mutations (one per touched table, and per touched
secondary-index group), so a batch of thousands of allocations costs one mutation per map, not one
copy per object. ``commit`` seals everything into new ``Tables``, stamps the touched tables and
groups with the transaction's Raft index and returns the change events in write order.

The transaction keeps the secondary indexes and the node usage arrays in step with every put and
delete; callers only decide what to store. Objects handed to ``put_*`` become shared state: the
caller must not change them afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import immutables

from cluster.state.events import Event, EventBatch, Topic
from cluster.state.nodetable import NodeTableWriter
from cluster.state.records import JobScalingEvents, SchedulerConfiguration, ServiceRegistration
from cluster.state.snapshot import (
    ID_INDEXES,
    INDEX_TABLES,
    Group,
    IdGroup,
    JobKey,
    StateSnapshot,
    Tables,
    node_group,
)
from cluster.state.summaries import (
    JobSummary,
    SummaryStager,
    Transitions,
    count_changed_alloc,
    count_new_allocs,
)
from cluster.structs.alloc import Allocation
from cluster.structs.deployment import Deployment
from cluster.structs.evaluation import Evaluation
from cluster.structs.job import Job
from cluster.structs.node import Node

__all__ = ["MAX_TRACKED_JOB_VERSIONS", "WriteTxn"]

T = TypeVar("T")

_EMPTY: immutables.Map[str, Any] = immutables.Map()
_NO_IDS: frozenset[str] = frozenset()

# Nomad keeps this many versions of a job (``JobTrackedVersions``).
MAX_TRACKED_JOB_VERSIONS = 6



def job_key(job: Job) -> JobKey:
    return (job.Namespace or "", job.ID or "")


class WriteTxn:
    """Stages writes at Raft ``index`` on top of ``base``; ``commit`` returns the new state."""

    def __init__(self, base: Tables, index: int) -> None:
        assert index >= base.applied_index, f"Raft index went backwards: {index} < {base.applied_index}"
        self.index = index
        self._base = base
        self._maps: dict[str, immutables.MapMutation[Any, Any]] = {}
        self._groups: dict[str, dict[Any, dict[str, Any]]] = {}
        self._node_writer: NodeTableWriter | None = None
        self._touched: set[str] = set()
        self._events = EventBatch(index)
        self._config: SchedulerConfiguration | None = None
        # Groups of allocations of nodes that left or joined in this write (None: removed).
        self._orphans: dict[str, Group[Allocation] | None] = {}
        self._summaries = SummaryStager(base.job_summaries.get, index)

    # -- plumbing ------------------------------------------------------------------------------

    def _map(self, table: str) -> immutables.MapMutation[Any, Any]:
        m = self._maps.get(table)
        if m is None:
            m = getattr(self._base, table).mutate()
            self._maps[table] = m
        self._touched.add(table)
        return m

    def _get(self, table: str, key: Any) -> Any:
        m = self._maps.get(table)
        if m is not None:
            return m.get(key)
        return getattr(self._base, table).get(key)

    def _group_change(self, index_name: str, key: Any, member_id: str, value: Any) -> None:
        groups = self._groups.get(index_name)
        if groups is None:
            groups = self._groups[index_name] = {}
        changes = groups.get(key)
        if changes is None:
            changes = groups[key] = {}
        changes[member_id] = value

    def group_members(self, index_name: str, key: Any) -> list[Any]:
        """Members of one secondary-index group as this transaction sees it (staged writes included)."""
        group: Group[Any] | None
        if index_name in ID_INDEXES:
            ids: IdGroup | None = getattr(self._base, index_name).get(key)
            get = self.alloc_getter()
            members: dict[str, Any] = {i: get(i) for i in (ids[1] if ids is not None else ())}
        elif index_name == "allocs_by_node":
            group = self._node_group(key)
            members = dict(group[1].items()) if group is not None else {}
        else:
            group = getattr(self._base, index_name).get(key)
            members = dict(group[1].items()) if group is not None else {}
        for member_id, value in self._groups.get(index_name, {}).get(key, {}).items():
            if value is None:
                members.pop(member_id, None)
            else:
                members[member_id] = value
        return list(members.values())

    def any_member(self, index_name: str, key: Any, predicate: Callable[[Any], bool]) -> bool:
        """Whether some member of a group satisfies ``predicate``; stops at the first that does."""
        staged = self._groups.get(index_name, {}).get(key, {})
        if index_name in ID_INDEXES:
            ids: IdGroup | None = getattr(self._base, index_name).get(key)
            get = self.alloc_getter()
            candidates = (get(i) for i in (*staged, *(ids[1] if ids is not None else ())) if staged.get(i, True))
            return any(m is not None and predicate(m) for m in candidates)
        return any(predicate(m) for m in self.group_members(index_name, key))

    def _orphan(self, node_id: str) -> Group[Allocation] | None:
        if node_id in self._orphans:
            return self._orphans[node_id]
        return self._base.allocs_by_node.get(node_id)

    def _node_group(self, node_id: str) -> Group[Allocation] | None:
        """The allocations on a node as of the start of this write's commit step."""
        if self._node_writer is not None:
            slot = self._node_writer.slot_of(node_id)
            return self._node_writer.group(slot) if slot is not None else self._orphan(node_id)
        return node_group(self._base, node_id)

    @property
    def nodes_writer(self) -> NodeTableWriter:
        if self._node_writer is None:
            self._node_writer = NodeTableWriter(self._base.node_table)
        return self._node_writer

    def _event(self, topic: str, etype: str, key: str, namespace: str, payload_name: str, obj: Any,
               filter_keys: list[str] | None = None) -> None:
        self._events.add(Event(Topic=topic, Type=etype, Key=key, Namespace=namespace,
                                  FilterKeys=filter_keys, Index=self.index, Payload={payload_name: obj}))

    # -- reads of the staged state --------------------------------------------------------------

    def job(self, namespace: str, job_id: str) -> Job | None:
        job: Job | None = self._get("jobs", (namespace, job_id))
        return job

    def job_summary(self, namespace: str, job_id: str) -> JobSummary | None:
        """The job's summary as this write sees it (read-only)."""
        return self._summaries.get((namespace, job_id))

    def scaling_events(self, namespace: str, job_id: str) -> JobScalingEvents | None:
        events: JobScalingEvents | None = self._get("scaling_events", (namespace, job_id))
        return events

    def job_versions(self, namespace: str, job_id: str) -> tuple[Job, ...]:
        versions: tuple[Job, ...] = self._get("job_versions", (namespace, job_id)) or ()
        return versions

    def node(self, node_id: str) -> Node | None:
        node: Node | None = self._get("nodes", node_id)
        return node

    def alloc(self, alloc_id: str) -> Allocation | None:
        alloc: Allocation | None = self._get("allocs", alloc_id)
        return alloc

    def alloc_getter(self) -> Callable[[str], Allocation | None]:
        """A fast lookup of staged allocations by ID, for loops over many."""
        m = self._maps.get("allocs")
        return m.get if m is not None else self._base.allocs.get

    def eval(self, eval_id: str) -> Evaluation | None:
        ev: Evaluation | None = self._get("evals", eval_id)
        return ev

    def deployment(self, deployment_id: str) -> Deployment | None:
        d: Deployment | None = self._get("deployments", deployment_id)
        return d

    def service(self, service_id: str) -> ServiceRegistration | None:
        s: ServiceRegistration | None = self._get("services", service_id)
        return s

    def scheduler_config(self) -> SchedulerConfiguration:
        return self._config if self._config is not None else self._base.scheduler_config

    # -- jobs ----------------------------------------------------------------------------------

    def put_job(self, job: Job, event_type: str) -> None:
        """Stores ``job`` as the current version and tracks it among the job's versions."""
        key = job_key(job)
        old = self.job(*key)
        self._map("jobs")[key] = job
        self._summaries.job_put(old, job, event_type)
        versions = [v for v in self.job_versions(*key) if v.Version != job.Version]
        versions.insert(0, job)
        versions.sort(key=lambda v: -(v.Version or 0))
        self._map("job_versions")[key] = tuple(versions[:MAX_TRACKED_JOB_VERSIONS])
        self._event(Topic.JOB, event_type, key[1], key[0], "Job", job)

    def put_job_version(self, job: Job) -> None:
        """Replaces one tracked version (for example to mark it stable) without emitting an event."""
        key = job_key(job)
        versions = tuple(job if v.Version == job.Version else v for v in self.job_versions(*key))
        self._map("job_versions")[key] = versions

    def delete_job(self, namespace: str, job_id: str, event_type: str) -> None:
        job = self.job(namespace, job_id)
        if job is None:
            return
        del self._map("jobs")[(namespace, job_id)]
        versions = self._map("job_versions")
        if (namespace, job_id) in versions:
            del versions[(namespace, job_id)]
        self._summaries.job_deleted(job, event_type)
        if self.scaling_events(namespace, job_id) is not None:
            del self._map("scaling_events")[(namespace, job_id)]
        self._event(Topic.JOB, event_type, job_id, namespace, "Job", job)

    def put_scaling_events(self, events: JobScalingEvents) -> None:
        """Stores a job's scaling events (no change event: Nomad's stream has no topic for them)."""
        self._map("scaling_events")[(events.Namespace, events.JobID)] = events

    # -- nodes ---------------------------------------------------------------------------------

    def put_node(self, node: Node, event_type: str) -> None:
        existed = self.node(node.ID) is not None
        self._map("nodes")[node.ID] = node
        writer = self.nodes_writer
        slot = writer.upsert_node(node)
        if not existed:
            # A node that comes back under a known ID still has allocations: take them back and
            # count them again.
            orphan = self._orphan(node.ID)
            if orphan is not None:
                writer.set_group(slot, orphan)
                self._orphans[node.ID] = None
                for alloc in orphan[1].values():
                    writer.change_alloc(None, alloc)
        self._event(Topic.NODE, event_type, node.ID, "", "Node", node)

    def delete_node(self, node_id: str, event_type: str) -> None:
        node = self.node(node_id)
        if node is None:
            return
        del self._map("nodes")[node_id]
        group = self.nodes_writer.delete_node(node_id)
        if group is not None:
            self._orphans[node_id] = group
        self._event(Topic.NODE, event_type, node_id, "", "Node", node)

    # -- allocations ---------------------------------------------------------------------------

    def put_alloc(self, alloc: Allocation, event_type: str) -> Allocation | None:
        """Stores ``alloc`` and returns the version it replaced (None if new)."""
        return self.put_allocs([alloc], event_type)[0]

    def put_allocs(self, allocs: list[Allocation], event_type: str,
                   replaced: list[Allocation | None] | None = None) -> list[Allocation | None]:
        """Stores many allocations; returns the versions they replaced. This is the plan
        applier's hot path: the index upkeep of new allocations is inlined, and a plan's
        allocations mostly share their job, evaluation and deployment. A caller that already
        looked up what each allocation replaces in this transaction passes it as ``replaced``
        (the IDs must then be distinct), saving a second lookup per allocation."""
        if not allocs:
            return []
        assert replaced is None or len(replaced) == len(allocs)
        stored = self._map("allocs")
        groups = self._groups
        by_node = groups.setdefault("allocs_by_node", {})
        by_job = groups.setdefault("allocs_by_job", {})
        by_eval = groups.setdefault("allocs_by_eval", {})
        by_deployment = groups.setdefault("allocs_by_deployment", {})
        job_key: tuple[str, str] | None = None
        eval_id = deployment_id = None
        job_members: dict[str, Any] = {}
        eval_members: dict[str, Any] = {}
        deployment_members: dict[str, Any] = {}
        writer = self.nodes_writer
        self._events.add_allocs(allocs, event_type)
        olds: list[Allocation | None] = [] if replaced is None else replaced
        fresh: list[Allocation] = []
        moved: Transitions = {}
        for n, alloc in enumerate(allocs):
            alloc_id = alloc.ID
            old: Allocation | None
            if replaced is None:
                old = stored.get(alloc_id)
                olds.append(old)
            else:
                old = replaced[n]
            stored[alloc_id] = alloc
            if old is not None:
                self._index_alloc(old, alloc, alloc_id)
                writer.change_alloc(old, alloc)
                count_changed_alloc(moved, old, alloc)
                continue
            fresh.append(alloc)
            members = by_node.get(alloc.NodeID)
            if members is None:
                by_node[alloc.NodeID] = {alloc_id: alloc}
            else:
                members[alloc_id] = alloc
            if job_key is None or alloc.JobID != job_key[1] or alloc.Namespace != job_key[0]:
                job_key = (alloc.Namespace, alloc.JobID)
                job_members = by_job.setdefault(job_key, {})
            job_members[alloc_id] = True
            if alloc.EvalID:
                if alloc.EvalID != eval_id:
                    eval_id = alloc.EvalID
                    eval_members = by_eval.setdefault(eval_id, {})
                eval_members[alloc_id] = True
            if alloc.DeploymentID:
                if alloc.DeploymentID != deployment_id:
                    deployment_id = alloc.DeploymentID
                    deployment_members = by_deployment.setdefault(deployment_id, {})
                deployment_members[alloc_id] = True
        writer.add_allocs(fresh)
        count_new_allocs(moved, fresh)
        if moved:
            self._summaries.allocs_moved(moved, event_type)
        return olds

    def delete_alloc(self, alloc_id: str) -> None:
        old = self.alloc(alloc_id)
        if old is None:
            return
        del self._map("allocs")[alloc_id]
        self._index_alloc(old, None, alloc_id)
        self.nodes_writer.change_alloc(old, None)

    def _index_alloc(self, old: Allocation | None, new: Allocation | None, alloc_id: str) -> None:
        """Index upkeep for a changed or deleted allocation. The per-node groups hold the objects
        and always change; the ID indexes only change when membership does."""
        change = self._group_change
        if old is not None and (new is None or old.NodeID != new.NodeID):
            change("allocs_by_node", old.NodeID, alloc_id, None)
        if new is not None:
            change("allocs_by_node", new.NodeID, alloc_id, new)
        old_keys = (None, None, None) if old is None else (
            (old.Namespace, old.JobID), old.EvalID or None, old.DeploymentID or None)
        new_keys = (None, None, None) if new is None else (
            (new.Namespace, new.JobID), new.EvalID or None, new.DeploymentID or None)
        for name, before, after in zip(("allocs_by_job", "allocs_by_eval", "allocs_by_deployment"), old_keys,
                                       new_keys, strict=True):
            if before == after:
                continue
            if before is not None:
                change(name, before, alloc_id, None)
            if after is not None:
                change(name, after, alloc_id, True)

    # -- evaluations ---------------------------------------------------------------------------

    def put_eval(self, ev: Evaluation, event_type: str) -> None:
        old = self.eval(ev.ID)
        self._map("evals")[ev.ID] = ev
        if old is not None and (old.Namespace, old.JobID) != (ev.Namespace, ev.JobID):
            self._group_change("evals_by_job", (old.Namespace, old.JobID), ev.ID, None)
        self._group_change("evals_by_job", (ev.Namespace, ev.JobID), ev.ID, ev)
        self._summaries.queued(ev.Namespace, ev.JobID, ev.QueuedAllocations, event_type)
        self._event(Topic.EVALUATION, event_type, ev.ID, ev.Namespace, "Evaluation", ev,
                    [ev.JobID, ev.DeploymentID])

    def delete_eval(self, eval_id: str) -> None:
        old = self.eval(eval_id)
        if old is None:
            return
        del self._map("evals")[eval_id]
        self._group_change("evals_by_job", (old.Namespace, old.JobID), eval_id, None)

    # -- deployments ---------------------------------------------------------------------------

    def put_deployment(self, d: Deployment, event_type: str) -> None:
        self._map("deployments")[d.ID] = d
        self._group_change("deployments_by_job", (d.Namespace, d.JobID), d.ID, d)
        self._event(Topic.DEPLOYMENT, event_type, d.ID, d.Namespace, "Deployment", d, [d.JobID])

    def delete_deployment(self, deployment_id: str) -> None:
        old = self.deployment(deployment_id)
        if old is None:
            return
        del self._map("deployments")[deployment_id]
        self._group_change("deployments_by_job", (old.Namespace, old.JobID), deployment_id, None)

    # -- services and configuration ------------------------------------------------------------

    def put_service(self, svc: ServiceRegistration, event_type: str) -> None:
        old = self.service(svc.ID)
        self._map("services")[svc.ID] = svc
        if old is not None:
            self._group_change("services_by_name", (old.Namespace, old.ServiceName), svc.ID, None)
            self._group_change("services_by_alloc", old.AllocID, svc.ID, None)
        self._group_change("services_by_name", (svc.Namespace, svc.ServiceName), svc.ID, svc)
        self._group_change("services_by_alloc", svc.AllocID, svc.ID, svc)
        self._event(Topic.SERVICE, event_type, svc.ID, svc.Namespace, "Service", svc, [svc.JobID, svc.AllocID])

    def delete_service(self, service_id: str, event_type: str) -> None:
        old = self.service(service_id)
        if old is None:
            return
        del self._map("services")[service_id]
        self._group_change("services_by_name", (old.Namespace, old.ServiceName), service_id, None)
        self._group_change("services_by_alloc", old.AllocID, service_id, None)
        self._event(Topic.SERVICE, event_type, service_id, old.Namespace, "Service", old, [old.JobID, old.AllocID])

    def set_scheduler_config(self, config: SchedulerConfiguration, event_type: str) -> None:
        self._config = config
        self._touched.add("scheduler_config")
        self._event(Topic.OPERATOR, event_type, "scheduler", "", "SchedulerConfig", config)

    # -- commit --------------------------------------------------------------------------------

    def commit(self) -> tuple[StateSnapshot, EventBatch]:
        """Seals the staged writes into a new snapshot at this transaction's index."""
        index = self.index
        fields: dict[str, Any] = {"applied_index": index}
        for table, mutation in self._maps.items():
            fields[table] = mutation.finish()
        for index_name, groups in self._groups.items():
            if index_name == "allocs_by_node":
                self._commit_node_groups(groups)
            elif index_name in ID_INDEXES:
                fields[index_name] = self._commit_ids(getattr(self._base, index_name), groups)
            else:
                fields[index_name] = self._commit_groups(getattr(self._base, index_name), groups)
            self._touched.add(INDEX_TABLES[index_name])
        if self._orphans:
            with self._base.allocs_by_node.mutate() as orphans:
                for node_id, group in self._orphans.items():
                    if group is not None:
                        orphans[node_id] = group
                    elif node_id in orphans:
                        del orphans[node_id]
                fields["allocs_by_node"] = orphans.finish()
        if self._config is not None:
            fields["scheduler_config"] = self._config
        self._commit_summaries(fields)
        if self._node_writer is not None:
            fields["node_table"] = self._node_writer.finish()
        if self._touched:
            with self._base.table_index.mutate() as m:
                for table in self._touched:
                    m[table] = index
                fields["table_index"] = m.finish()
        tables = self._base._replace(**fields)
        events, self._events = self._events, EventBatch(index)
        return StateSnapshot(tables), events

    def _commit_summaries(self, fields: dict[str, Any]) -> None:
        changes = list(self._summaries.changes())
        if not changes:
            return
        with self._base.job_summaries.mutate() as m:
            for key, summary, event_type in changes:
                if summary is not None:
                    m[key] = summary
                    self._event(Topic.JOB_SUMMARY, event_type, key[1], key[0], "JobSummary", summary)
                elif key in m:
                    del m[key]
            fields["job_summaries"] = m.finish()
        self._touched.add("job_summary")

    def _commit_ids(self, base: immutables.Map[Any, IdGroup],
                    groups: dict[Any, dict[str, Any]]) -> immutables.Map[Any, IdGroup]:
        index = self.index
        outer = base.mutate()
        for key, changes in groups.items():
            group = outer.get(key)
            ids = group[1] if group is not None else _NO_IDS
            if None not in changes.values():  # only additions: a plan's new allocations
                ids = ids.union(changes)
            else:
                added = [i for i, v in changes.items() if v is not None]
                removed = [i for i, v in changes.items() if v is None]
                if removed:
                    ids = ids.difference(removed)
                if added:
                    ids = ids.union(added)
            if ids:
                outer[key] = (index, ids)
            elif key in outer:
                del outer[key]
        return outer.finish()

    def _commit_node_groups(self, groups: dict[Any, dict[str, Any]]) -> None:
        """Applies changes to the allocations per node, in the node table's slots (or among the
        groups of unregistered nodes)."""
        index = self.index
        writer = self.nodes_writer
        slot_of = writer.slot_map().get
        slots = writer.groups_for_write()
        for node_id, changes in groups.items():
            slot = slot_of(node_id)
            group = slots[slot] if slot is not None else self._orphan(node_id)
            base = group[1] if group is not None else _EMPTY
            if len(changes) == 1:  # the common case: one new allocation on the node
                (member_id, value), = changes.items()
                items = base.set(member_id, value) if value is not None else _apply(base, changes)
            else:
                items = _apply(base, changes)
            new_group = (index, items) if items else None
            if slot is not None:
                slots[slot] = new_group
            else:
                self._orphans[node_id] = new_group

    def _commit_groups(self, base: immutables.Map[Any, Group[Any]],
                       groups: dict[Any, dict[str, Any]]) -> immutables.Map[Any, Group[Any]]:
        index = self.index
        outer = base.mutate()
        get = outer.get
        for key, changes in groups.items():
            group = get(key)
            items = _apply(group[1] if group is not None else _EMPTY, changes)
            if items:
                outer[key] = (index, items)
            elif key in outer:
                del outer[key]
        return outer.finish()


def _apply(items: immutables.Map[str, Any], changes: dict[str, Any]) -> immutables.Map[str, Any]:
    """Members after ``changes`` (ID -> new member, or None to remove)."""
    if len(changes) == 1:
        for member_id, value in changes.items():
            if value is not None:
                return items.set(member_id, value)
            return items.delete(member_id) if member_id in items else items
    if None not in changes.values():
        return items.update(changes)  # only additions or replacements: one call, no loop here
    inner = items.mutate()
    for member_id, value in changes.items():
        if value is not None:
            inner[member_id] = value
        elif member_id in inner:
            del inner[member_id]
    return inner.finish()
