"""Reads of the jobs pages over the job RPCs of ``agents.server.endpoints_jobs``: a page of the jobs list
(server-side paging and filtering, summaries included), a job's summary, versions with diffs, and
deployments.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.server.endpoints import JobListRequest, JobListResponse, JobSpecificRequest
from agents.server.endpoints_jobs import (
    DeploymentListResponse,
    JobListStub,
    JobSummaryResponse,
    JobVersionsRequest,
    JobVersionsResponse,
)
from cluster.jobspec.diff import JobDiff
from cluster.state.summaries import JobSummary
from cluster.structs.deployment import Deployment
from cluster.structs.job import Job
from webui.gateway import gateway

__all__ = ["JobsPage", "job_deployments", "job_summary", "job_versions", "jobs_page", "search_filter"]

MAX_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class JobsPage:
    """One page of the jobs list and the cursor of the next one ("" on the last page)."""

    jobs: list[JobListStub]
    next_token: str
    index: int


def search_filter(search: str) -> str:
    """A filter expression matching jobs whose ID or name contains ``search`` (case as typed)."""
    text = search.strip().replace("\\", "\\\\").replace('"', '\\"')
    return f'ID contains "{text}" or Name contains "{text}"' if text else ""


def jobs_page(*, region: str, namespace: str, search: str, next_token: str, page_size: int) -> JobsPage:
    """A page of job stubs (with their summaries), cut and filtered on the server, so the cost of a page
    does not grow with the number of jobs shown, only (lightly) with the number stored."""
    assert 0 < page_size <= MAX_PAGE_SIZE, page_size
    args = JobListRequest(
        Namespace=namespace,
        Region=region,
        Filter=search_filter(search),
        PerPage=page_size,
        NextToken=next_token,
    )
    reply = gateway().call_sync("Job.List", args, JobListResponse)
    return JobsPage(jobs=reply.Jobs, next_token=reply.NextToken, index=reply.Index)


def job_summary(*, region: str, namespace: str, job_id: str) -> JobSummary | None:
    args = JobSpecificRequest(JobID=job_id, Namespace=namespace, Region=region)
    return gateway().call_sync("Job.Summary", args, JobSummaryResponse).JobSummary


def job_versions(*, region: str, namespace: str, job_id: str) -> list[tuple[Job, JobDiff | None]]:
    """Every stored version, newest first, each with its diff against the version before it."""
    args = JobVersionsRequest(JobID=job_id, Namespace=namespace, Region=region, Diffs=True)
    reply = gateway().call_sync("Job.GetJobVersions", args, JobVersionsResponse)
    diffs = reply.Diffs or []
    return [(v, diffs[i] if i < len(diffs) else None) for i, v in enumerate(reply.Versions)]


def job_deployments(*, region: str, namespace: str, job_id: str) -> list[Deployment]:
    """The job's deployments, newest first."""
    args = JobSpecificRequest(JobID=job_id, Namespace=namespace, Region=region)
    return gateway().call_sync("Job.Deployments", args, DeploymentListResponse).Deployments
