"""Jobs pages: the list (search, namespace filter, paging, status bars) and one job's detail (summary,
task groups, allocations, versions, deployments, evaluations); its actions are in ``views_job_actions``.

A job is named in the URL as Nomad's UI names it: ``/ui/jobs/<id>?namespace=<ns>`` or ``<id>@<ns>``.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.http import urlencode

from cluster.acl import ALL_NAMESPACES, NamespaceCapability
from cluster.errors import NotFound
from cluster.jobspec.diff import format_diff
from cluster.structs.deployment import Deployment
from webui.ui import present, selectors, selectors_jobs
from webui.ui.access import namespace_allowed, require_namespace
from webui.ui.render import page, region_of, ui_view

__all__ = ["job_detail", "job_url", "jobs_list", "split_job_ref"]

PAGE_SIZE = 25


def split_job_ref(request: HttpRequest, ref: str) -> tuple[str, str]:
    """(job ID, namespace) from ``<id>@<ns>`` or ``<id>`` with ``?namespace=`` (default "default")."""
    job_id, at, namespace = ref.rpartition("@")
    if at and job_id and namespace:
        return job_id, namespace
    return ref, request.GET.get("namespace") or "default"


def job_url(job_id: str, namespace: str) -> str:
    return reverse("ui:job", args=[job_id]) + "?" + urlencode({"namespace": namespace})


@ui_view("GET")
def jobs_list(request: HttpRequest) -> HttpResponse:
    """/ui/jobs: one page of jobs (cut on the server) with their allocation status bars."""
    namespace = request.GET.get("namespace") or "default"
    who = require_namespace(request, namespace, NamespaceCapability.LIST_JOBS)
    search = request.GET.get("search", "")
    cursor = request.GET.get("next", "")
    result = selectors_jobs.jobs_page(
        region=region_of(request), namespace=namespace, search=search, next_token=cursor, page_size=PAGE_SIZE
    )
    jobs = result.jobs
    if namespace == ALL_NAMESPACES:
        jobs = [j for j in jobs if namespace_allowed(who, j.Namespace, NamespaceCapability.LIST_JOBS)]
    rows = [
        {
            "job": stub,
            "bar": present.summary_bar(stub.JobSummary),
            "groups": len(stub.JobSummary.Summary) if stub.JobSummary else 0,
            "submitted": present.from_ns(stub.SubmitTime),
            "url": job_url(stub.ID, stub.Namespace),
        }
        for stub in jobs
    ]
    query = {k: v for k, v in (("namespace", namespace), ("search", search)) if v}
    context: dict[str, Any] = {
        "viewer": who,
        "rows": rows,
        "search": search,
        "namespace": namespace,
        "is_first": not cursor,
        "first_query": urlencode(query),
        "next_query": urlencode({**query, "next": result.next_token}) if result.next_token else "",
        "live_fragment": request.path + "?" + urlencode({**query, "next": cursor, "fragment": "jobs"}),
    }
    return page(request, "ui/jobs.html", context, {"jobs": "ui/_jobs_table.html"})


def _versions(region: str, namespace: str, job_id: str) -> list[dict[str, Any]]:
    """Every version, newest first, with ``nomad job history -p``'s diff against the one before."""
    return [
        {
            "job": v,
            "diff": format_diff(d) if d is not None else "",
            "submitted": present.from_ns(v.SubmitTime or 0),
        }
        for v, d in selectors_jobs.job_versions(region=region, namespace=namespace, job_id=job_id)
    ]


def _promotable(deployment: Deployment) -> bool:
    """A running deployment with canaries not yet promoted: what the Promote button is for."""
    groups = (deployment.TaskGroups or {}).values()
    return deployment.Status == "running" and any(g.DesiredCanaries > 0 and not g.Promoted for g in groups)


def _job_context(request: HttpRequest, job_id: str, namespace: str) -> dict[str, Any]:
    who = require_namespace(request, namespace, NamespaceCapability.READ_JOB)
    region = region_of(request)
    job = selectors.job_get(region=region, namespace=namespace, job_id=job_id)
    if job is None:
        raise NotFound(f'job "{job_id}" not found in namespace "{namespace}"')
    allocs = selectors.job_allocs(region=region, namespace=namespace, job_id=job_id)
    evals = selectors.evals_list(region=region, namespace=namespace, job_id=job_id)
    summary = selectors_jobs.job_summary(region=region, namespace=namespace, job_id=job_id)
    return {
        "viewer": who,
        "job": job,
        "namespace": namespace,
        "url": job_url(job_id, namespace),
        "groups": [
            {"group": g, "bar": present.counts_bar(counts), "counts": counts}
            for g, counts in present.summary_counts(summary).items()
        ],
        "task_groups": job.TaskGroups or [],
        "bar": present.summary_bar(summary),
        "versions": _versions(region, namespace, job_id),
        "deployments": [
            {"deployment": d, "created": present.from_ns(d.CreateTime), "promotable": _promotable(d)}
            for d in selectors_jobs.job_deployments(region=region, namespace=namespace, job_id=job_id)
        ],
        "allocs": [
            {
                "alloc": a,
                "version": a.JobVersion,
                "created": present.from_ns(a.CreateTime),
                "modified": present.from_ns(a.ModifyTime),
            }
            for a in reversed(allocs)
        ],
        "evals": [
            {
                "eval": e,
                "created": present.from_ns(e.CreateTime),
                "failures": {
                    g: present.failure_lines(m) for g, m in sorted((e.FailedTGAllocs or {}).items())
                },
            }
            for e in evals
        ],
        "submitted": present.from_ns(job.SubmitTime or 0),
        "may_submit": namespace_allowed(who, namespace, NamespaceCapability.SUBMIT_JOB),
        "live_topics": f"Job:{namespace}/{job_id} Allocation:* Evaluation:* Deployment:*",
    }


@ui_view("GET")
def job_detail(request: HttpRequest, job_ref: str) -> HttpResponse:
    """/ui/jobs/<id>: overview, task groups, allocations and evaluations of one job."""
    job_id, namespace = split_job_ref(request, job_ref)
    context = _job_context(request, job_id, namespace)
    context["live_fragment"] = context["url"] + "&fragment=live"
    context["actions_fragment"] = context["url"] + "&fragment=actions"  # Start/Stop follow the job too
    fragments = {"live": "ui/_job_live.html", "actions": "ui/_job_actions.html"}
    return page(request, "ui/job.html", context, fragments)
