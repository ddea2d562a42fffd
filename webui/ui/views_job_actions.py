"""A job's actions from its page: stop, start, revert to a version, promote a deployment's canaries.

Each is a POST (CSRF-checked by Django) that needs ``submit-job`` in the job's namespace, then goes
back to the job's page, where the result shows.
"""

from __future__ import annotations

import msgspec
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from cluster.acl import NamespaceCapability
from cluster.errors import InvalidInput, NotFound
from webui.ui import selectors, selectors_jobs, services
from webui.ui.access import require_namespace
from webui.ui.render import region_of, ui_view
from webui.ui.views_jobs import job_url, split_job_ref

__all__ = ["deployment_promote", "job_revert", "job_start", "job_stop"]


def _int_field(request: HttpRequest, name: str) -> int:
    try:
        return int(request.POST.get(name, ""))
    except ValueError:
        raise InvalidInput(f"{name}: expected a number") from None


def _writable(request: HttpRequest, job_ref: str) -> tuple[str, str]:
    job_id, namespace = split_job_ref(request, job_ref)
    require_namespace(request, namespace, NamespaceCapability.SUBMIT_JOB)
    return job_id, namespace


@ui_view("POST")
def job_stop(request: HttpRequest, job_ref: str) -> HttpResponse:
    job_id, namespace = _writable(request, job_ref)
    services.job_stop(namespace=namespace, job_id=job_id, region=region_of(request))
    return HttpResponseRedirect(job_url(job_id, namespace))


@ui_view("POST")
def job_start(request: HttpRequest, job_ref: str) -> HttpResponse:
    """Starts a stopped job again: its specification submitted with ``Stop`` cleared, as Nomad's UI does."""
    job_id, namespace = _writable(request, job_ref)
    job = selectors.job_get(region=region_of(request), namespace=namespace, job_id=job_id)
    if job is None:
        raise NotFound(f'job "{job_id}" not found in namespace "{namespace}"')
    if job.Stop:
        services.job_register(job=msgspec.structs.replace(job, Stop=False), region=region_of(request))
    return HttpResponseRedirect(job_url(job_id, namespace))


@ui_view("POST")
def job_revert(request: HttpRequest, job_ref: str) -> HttpResponse:
    job_id, namespace = _writable(request, job_ref)
    services.job_revert(
        namespace=namespace,
        job_id=job_id,
        version=_int_field(request, "version"),
        prior_version=_int_field(request, "prior_version"),
        region=region_of(request),
    )
    return HttpResponseRedirect(job_url(job_id, namespace))


@ui_view("POST")
def deployment_promote(request: HttpRequest, job_ref: str) -> HttpResponse:
    """Promotes a deployment of this job (checked to be this job's, so the ACL check above covers it)."""
    job_id, namespace = _writable(request, job_ref)
    deployment_id = request.POST.get("deployment_id", "")
    deployments = selectors_jobs.job_deployments(
        region=region_of(request), namespace=namespace, job_id=job_id
    )
    if deployment_id not in {d.ID for d in deployments}:
        raise NotFound(f'deployment "{deployment_id}" is not one of job "{job_id}"')
    services.deployment_promote(deployment_id=deployment_id, region=region_of(request))
    return HttpResponseRedirect(job_url(job_id, namespace))
