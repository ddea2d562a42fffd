"""The answers of list endpoints: stubs, filters and pages, computed from one state snapshot.

Pure functions (no agent, no I/O), so every list behaves alike and is tested without a server:
- ``alloc_stubs``, ``node_stub``, ``job_stub``: what Nomad's lists show of an object;
- ``page``: lists ordered by (CreateIndex, ID) (allocations, evaluations, deployments), tokens
  ``<CreateIndex>.<ID>`` of a page's first item, so a page stays put while newer items are added;
- ``page_by_id``: lists ordered by ID (nodes), tokens the first item's ID;
- ``job_list_page``: the jobs list, ordered by (namespace, ID), whose stubs (with their summary) are
  only built for the jobs a page looks at, so a page of 10,000 jobs costs the page.
A filter (``cluster.filter``, Nomad's filter language) applies to the stubs before paging, so a page is
full whenever enough items match; a bad expression fails before any work.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from agents.server.messages import AllocListStub, JobListRequest, JobListStub, NodeListStub
from cluster.errors import InvalidInput
from cluster.filter import compile_filter, filter_items
from cluster.state import StateSnapshot
from cluster.state.summaries import JobSummary
from cluster.structs.alloc import Allocation
from cluster.structs.constants import EVAL_STATUSES
from cluster.structs.evaluation import Evaluation
from cluster.structs.job import Job
from cluster.structs.node import Node

__all__ = ["MAX_PER_PAGE", "alloc_stub", "alloc_stubs", "job_list_page", "job_stub", "matching_evals",
           "node_stub", "page", "page_by_id"]

T = TypeVar("T")
MAX_PER_PAGE = 10_000


def _page_size(per_page: int) -> int:
    """The size of a page: ``per_page`` capped at ``MAX_PER_PAGE``, 0 for everything."""
    if per_page < 0:
        raise InvalidInput(f"per_page must not be negative, got {per_page}")
    return min(per_page, MAX_PER_PAGE)


def page(items: Iterable[T], key: Callable[[T], tuple[int, str]], per_page: int,
         next_token: str) -> tuple[list[T], str]:
    """One page of ``items`` (ordered by ``key``: create index, ID) from ``next_token`` on, and the
    token of the next page ("" at the end)."""
    per_page = _page_size(per_page)
    ordered = sorted(items, key=key)
    if next_token:
        start_index, dot, start_id = next_token.partition(".")
        if not dot or not start_index.isdigit():
            raise InvalidInput(f'next_token "{next_token}" is not a token this list gave out')
        start = (int(start_index), start_id)
        ordered = ordered[bisect.bisect_left(ordered, start, key=key):]
    if per_page == 0 or len(ordered) <= per_page:
        return ordered, ""
    index, item_id = key(ordered[per_page])
    return ordered[:per_page], f"{index}.{item_id}"


def page_by_id(items: Iterable[T], key: Callable[[T], str], per_page: int,
               next_token: str) -> tuple[list[T], str]:
    """One page of ``items`` ordered by ID from the ID ``next_token`` on, and the next page's first ID."""
    per_page = _page_size(per_page)
    ordered = sorted(items, key=key)
    if next_token:
        ordered = ordered[bisect.bisect_left(ordered, next_token, key=key):]
    if per_page == 0 or len(ordered) <= per_page:
        return ordered, ""
    return ordered[:per_page], key(ordered[per_page])


def alloc_stubs(allocs: Sequence[Allocation], expression: str = "") -> list[AllocListStub]:
    """Stubs in creation order, as Nomad lists them (its ID index order differs; creation reads
    better), keeping those that pass ``expression``."""
    ordered = sorted(allocs, key=lambda a: (a.CreateIndex, a.ID))
    return filter_items((alloc_stub(a) for a in ordered), expression)


def alloc_stub(alloc: Allocation) -> AllocListStub:
    job = alloc.Job
    return AllocListStub(
        ID=alloc.ID, EvalID=alloc.EvalID, Name=alloc.Name, Namespace=alloc.Namespace, NodeID=alloc.NodeID,
        NodeName=alloc.NodeName, JobID=alloc.JobID, JobType=(job.Type or "") if job else "",
        JobVersion=(job.Version or 0) if job else 0, TaskGroup=alloc.TaskGroup,
        DesiredStatus=alloc.DesiredStatus, DesiredDescription=alloc.DesiredDescription,
        ClientStatus=alloc.ClientStatus, ClientDescription=alloc.ClientDescription, TaskStates=alloc.TaskStates,
        DeploymentStatus=alloc.DeploymentStatus, FollowupEvalID=alloc.FollowupEvalID,
        RescheduleTracker=alloc.RescheduleTracker, PreemptedAllocations=alloc.PreemptedAllocations,
        PreemptedByAllocation=alloc.PreemptedByAllocation, CreateIndex=alloc.CreateIndex,
        ModifyIndex=alloc.ModifyIndex, CreateTime=alloc.CreateTime, ModifyTime=alloc.ModifyTime)


def node_stub(node: Node) -> NodeListStub:
    attributes = node.Attributes or {}
    return NodeListStub(
        Address=attributes.get("unique.network.ip-address", ""), ID=node.ID, Datacenter=node.Datacenter,
        Name=node.Name, NodeClass=node.NodeClass, NodePool=node.NodePool,
        Version=attributes.get("nomad.version", ""), Drain=node.Drain,
        SchedulingEligibility=node.SchedulingEligibility, Status=node.Status,
        StatusDescription=node.StatusDescription, Drivers=node.Drivers, LastDrain=node.LastDrain,
        CreateIndex=node.CreateIndex, ModifyIndex=node.ModifyIndex)


def job_stub(job: Job, summary: JobSummary | None = None) -> JobListStub:
    return JobListStub(
        ID=job.ID or "", ParentID=job.ParentID or "", Name=job.Name or "", Namespace=job.Namespace or "",
        Datacenters=job.Datacenters, NodePool=job.NodePool or "", Multiregion=job.Multiregion,
        Type=job.Type or "", Priority=job.Priority or 0, Periodic=job.Periodic is not None,
        ParameterizedJob=job.ParameterizedJob is not None, Stop=bool(job.Stop), Status=job.Status or "",
        StatusDescription=job.StatusDescription or "", JobSummary=summary, CreateIndex=job.CreateIndex or 0,
        ModifyIndex=job.ModifyIndex or 0, JobModifyIndex=job.JobModifyIndex or 0,
        SubmitTime=job.SubmitTime or 0, Meta=job.Meta)


def _job_token(job: Job, all_namespaces: bool) -> str:
    return f"{job.Namespace}.{job.ID}" if all_namespaces else job.ID or ""


def _job_start(token: str, namespace: str | None) -> tuple[str, str]:
    """The (namespace, ID) a page starts at; ``<namespace>.<ID>`` when listing every namespace."""
    if namespace is not None:
        return namespace, token
    namespace, _, job_id = token.partition(".")
    return namespace, job_id


def job_list_page(snap: StateSnapshot, args: JobListRequest) -> tuple[list[JobListStub], str]:
    """One page of job stubs in (namespace, ID) order and the token of the next page ("" at the end).

    The prefix and the page start cut the sorted jobs first; stubs are built only for the jobs the
    filter looks at, and the filter stops as soon as the page is full."""
    if args.PerPage < 0 or args.PerPage > MAX_PER_PAGE:
        raise InvalidInput(f"per_page must be between 0 and {MAX_PER_PAGE}")
    all_namespaces = args.Namespace == "*"
    namespace = None if all_namespaces else args.Namespace
    flt = compile_filter(args.Filter) if args.Filter.strip() else None
    keyed = sorted(((j.Namespace or "", j.ID or ""), j) for j in snap.jobs(namespace)
                   if (j.ID or "").startswith(args.Prefix))
    first = 0
    if args.NextToken:
        first = bisect.bisect_left(keyed, _job_start(args.NextToken, namespace), key=lambda pair: pair[0])
    limit = args.PerPage or len(keyed)
    listed: list[JobListStub] = []
    for _, job in itertools.islice(keyed, first, None):
        stub = job_stub(job, snap.job_summary(job.Namespace or "default", job.ID or ""))
        if flt is not None and not flt.matches(stub):
            continue
        if len(listed) == limit:
            return listed, _job_token(job, all_namespaces)
        listed.append(stub)
    return listed, ""


def matching_evals(snap: StateSnapshot, namespace: str, job_id: str, status: str, prefix: str,
                   expression: str) -> list[Evaluation]:
    """The evaluations of a namespace ("*": all) that match a job, a status, an ID prefix and a filter."""
    if status and status not in EVAL_STATUSES:
        raise InvalidInput(f'unknown evaluation status "{status}"; use one of {", ".join(EVAL_STATUSES)}')
    flt = compile_filter(expression) if expression.strip() else None  # a bad expression fails before any work
    evals = snap.evals_by_job(namespace, job_id) if job_id and namespace != "*" else list(snap.evals())
    return [e for e in evals
            if namespace in ("*", e.Namespace) and (not job_id or e.JobID == job_id)
            and (not status or e.Status == status) and e.ID.startswith(prefix) and (flt is None or flt.matches(e))]
