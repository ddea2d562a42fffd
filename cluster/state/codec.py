"""The whole state to bytes and back (msgpack), for Raft snapshots.

Only the tables are written; secondary indexes and node arrays are rebuilt on load. Jobs are written
once each: the current jobs, the tracked versions and the job every allocation embeds refer to one
list of distinct job objects, so a million allocations of a hundred jobs carry a hundred jobs, and
after loading they share those objects again, as they did before.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import immutables
import msgspec

from cluster.errors import InvalidInput
from cluster.state.nodetable import NodeTable, NodeTableWriter
from cluster.state.records import JobScalingEvents, SchedulerConfiguration, ServiceRegistration
from cluster.state.snapshot import Group, StateSnapshot, Tables
from cluster.state.summaries import JobSummary
from cluster.structs.alloc import Allocation
from cluster.structs.deployment import Deployment
from cluster.structs.evaluation import Evaluation
from cluster.structs.job import Job
from cluster.structs.node import Node

__all__ = ["FORMAT_VERSION", "state_from_bytes", "state_to_bytes"]

FORMAT_VERSION = 1


class _Image(msgspec.Struct, kw_only=True):
    format: int
    index: int
    table_index: dict[str, int]
    jobs: list[Job]  # distinct job objects, referred to by position
    current: list[int]  # positions of the current version of each job
    versions: list[list[int]]  # tracked versions of each job, newest first
    nodes: list[Node]
    allocs: list[Allocation]  # with Job left out
    alloc_job: list[int]  # position of each allocation's job, -1 for none
    evals: list[Evaluation]
    deployments: list[Deployment]
    services: list[ServiceRegistration]
    scheduler_config: SchedulerConfiguration
    job_summaries: list[JobSummary] = msgspec.field(default_factory=list)
    scaling_events: list[JobScalingEvents] = msgspec.field(default_factory=list)


def state_to_bytes(snapshot: StateSnapshot) -> bytes:
    t = snapshot.tables
    jobs: list[Job] = []
    position: dict[int, int] = {}

    def ref(job: Job | None) -> int:
        if job is None:
            return -1
        pos = position.get(id(job))
        if pos is None:
            pos = position[id(job)] = len(jobs)
            jobs.append(job)
        return pos

    current = [ref(j) for j in t.jobs.values()]
    versions = [[ref(j) for j in vs] for vs in t.job_versions.values()]
    allocs = list(t.allocs.values())
    alloc_job = [ref(a.Job) for a in allocs]
    image = _Image(
        format=FORMAT_VERSION, index=t.applied_index, table_index=dict(t.table_index.items()), jobs=jobs, current=current,
        versions=versions, nodes=list(t.nodes.values()),
        allocs=[msgspec.structs.replace(a, Job=None) for a in allocs], alloc_job=alloc_job,
        evals=list(t.evals.values()), deployments=list(t.deployments.values()),
        services=list(t.services.values()), scheduler_config=t.scheduler_config,
        job_summaries=list(t.job_summaries.values()),
        scaling_events=list(t.scaling_events.values()),
    )
    return msgspec.msgpack.encode(image)


def state_from_bytes(data: bytes) -> StateSnapshot:
    try:
        image = msgspec.msgpack.decode(data, type=_Image)
    except msgspec.DecodeError as err:
        raise InvalidInput(f"not a Caravan state snapshot: {err}") from err
    if image.format != FORMAT_VERSION:
        raise InvalidInput(f"state snapshot format {image.format} is not supported (expected {FORMAT_VERSION})")
    jobs = image.jobs
    for alloc, pos in zip(image.allocs, image.alloc_job, strict=True):
        alloc.Job = jobs[pos] if pos >= 0 else None

    def key(job: Job) -> tuple[str, str]:
        return (job.Namespace or "", job.ID or "")

    current = {key(jobs[p]): jobs[p] for p in image.current}
    versions = {key(jobs[vs[0]]): tuple(jobs[p] for p in vs) for vs in image.versions if vs}
    index = image.index
    node_ids = {n.ID for n in image.nodes}
    tables = Tables.empty()._replace(
        applied_index=index,
        jobs=immutables.Map(current),
        job_versions=immutables.Map(versions),
        nodes=immutables.Map({n.ID: n for n in image.nodes}),
        allocs=immutables.Map({a.ID: a for a in image.allocs}),
        evals=immutables.Map({e.ID: e for e in image.evals}),
        deployments=immutables.Map({d.ID: d for d in image.deployments}),
        services=immutables.Map({s.ID: s for s in image.services}),
        scheduler_config=image.scheduler_config,
        table_index=immutables.Map(image.table_index),
        allocs_by_node=_groups([a for a in image.allocs if a.NodeID not in node_ids], lambda a: a.NodeID, index),
        allocs_by_job=_id_groups(image.allocs, lambda a: (a.Namespace, a.JobID), index),
        allocs_by_eval=_id_groups([a for a in image.allocs if a.EvalID], lambda a: a.EvalID, index),
        allocs_by_deployment=_id_groups([a for a in image.allocs if a.DeploymentID], lambda a: a.DeploymentID,
                                        index),
        evals_by_job=_groups(image.evals, lambda e: (e.Namespace, e.JobID), index),
        deployments_by_job=_groups(image.deployments, lambda d: (d.Namespace, d.JobID), index),
        services_by_name=_groups(image.services, lambda s: (s.Namespace, s.ServiceName), index),
        services_by_alloc=_groups(image.services, lambda s: s.AllocID, index),
        node_table=_node_table(image.nodes, image.allocs, index),
        job_summaries=immutables.Map({(s.Namespace, s.JobID): s for s in image.job_summaries}),
        scaling_events=immutables.Map({(e.Namespace, e.JobID): e for e in image.scaling_events}),
    )
    return StateSnapshot(tables)


def _groups(objects: list[Any], key_of: Any, index: int) -> immutables.Map[Any, Group[Any]]:
    grouped: dict[Any, dict[str, Any]] = defaultdict(dict)
    for obj in objects:
        grouped[key_of(obj)][obj.ID] = obj
    return immutables.Map({k: (index, immutables.Map(v)) for k, v in grouped.items()})


def _id_groups(allocs: list[Allocation], key_of: Any, index: int) -> immutables.Map[Any, tuple[int, frozenset[str]]]:
    grouped: dict[Any, list[str]] = defaultdict(list)
    for alloc in allocs:
        grouped[key_of(alloc)].append(alloc.ID)
    return immutables.Map({k: (index, frozenset(v)) for k, v in grouped.items()})


def _node_table(nodes: list[Node], allocs: list[Allocation], index: int) -> NodeTable:
    writer = NodeTableWriter(NodeTable())
    for node in nodes:
        writer.upsert_node(node)
    by_node: dict[str, dict[str, Allocation]] = defaultdict(dict)
    for alloc in allocs:
        writer.change_alloc(None, alloc)
        by_node[alloc.NodeID][alloc.ID] = alloc
    for node_id, members in by_node.items():
        slot = writer.slot_of(node_id)
        if slot is not None:
            writer.set_group(slot, (index, immutables.Map(members)))
    return writer.finish()
