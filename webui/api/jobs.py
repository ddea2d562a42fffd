"""/v1 job endpoints. Thin: decode the request, call the jobspec service, answer as Nomad does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, re_path

from agents.server.endpoints import JobRegisterRequest, JobRegisterResponse
from cluster import jobspec
from cluster.acl import NamespaceCapability
from cluster.errors import InvalidInput, JobSpecError
from webui.api import allocs_nodes, jobs_list, jobs_read, jobs_write
from webui.api.auth import require_namespace_op
from webui.api.http import api_view, body_field, json_response, read_json
from webui.gateway import gateway


@api_view("POST", "PUT")
def jobs_parse(request: HttpRequest) -> HttpResponse:
    """POST /v1/jobs/parse: {"JobHCL": "...", "Variables": "k = v\\n..."} -> the job's API JSON.

    Caravan always answers with the canonical job (``Canonicalize`` true), defaults filled in.
    """
    body = read_json(request)
    source = body.get("JobHCL")
    if not isinstance(source, str) or not source.strip():
        raise InvalidInput("JobHCL: expected the job file's text as a string")
    var_text = body.get("Variables") or ""
    if not isinstance(var_text, str):
        raise InvalidInput('Variables: expected HCL text such as "image = \\"redis:7\\""')
    var_files = jobspec.parse_var_file(var_text, "Variables") if var_text.strip() else {}
    parsed = jobspec.parse_hcl(source, filename="JobHCL", var_files=var_files)
    return json_response(parsed.job)


@api_view("POST", "PUT")
def validate_job(request: HttpRequest) -> HttpResponse:
    """POST /v1/validate/job: {"Job": {...}} -> {"ValidationErrors": [...], "Error": ..., "Warnings": ...}.

    As Nomad, problems with the job are a 200 answer listing them; only a malformed request is a 400.
    """
    body = read_json(request)
    if not isinstance(body.get("Job"), dict):
        raise InvalidInput('expected {"Job": {...}}')
    errors: list[str] = []
    try:
        jobspec.parse_json(msgspec.json.encode({"Job": body["Job"]}), filename="Job")
    except JobSpecError as e:
        errors = [str(d) for d in e.diagnostics]
    return json_response(
        {"DriverConfigValidated": True, "ValidationErrors": errors, "Error": "\n".join(errors), "Warnings": ""}
    )


@api_view("GET", "POST", "PUT")
def jobs_root(request: HttpRequest) -> HttpResponse:
    """/v1/jobs: GET lists (``jobs_list.jobs_list``), PUT and POST register, as Nomad's one path."""
    if request.method == "GET":
        return jobs_list.jobs_list(request)
    return jobs_register(request)


@api_view("GET", "POST", "PUT", "DELETE")
def job_root(request: HttpRequest, job_id: str) -> HttpResponse:
    """/v1/job/:id: GET reads, DELETE deregisters (``?purge=``), PUT and POST register the body's job,
    whose ID must be the path's (Nomad: "Job ID does not match name")."""
    if request.method == "GET":
        return jobs_read.job_get(request, job_id)
    if request.method == "DELETE":
        return jobs_write.job_deregister(request, job_id)
    body = read_json(request)
    job = body.get("Job")
    if isinstance(job, dict) and job.get("ID") not in (None, job_id):
        raise InvalidInput("Job ID does not match name")
    if isinstance(job, dict) and job.get("ID") is None:
        job["ID"] = job_id
    return jobs_register(request, body)


# A job ID in a path: one segment, or a dispatched or periodic child ("<parent>/dispatch-...").
JOB_ID = r"(?P<job_id>[^/]+(?:/(?:dispatch|periodic)-[^/]+)?)"
_JOB_SUFFIXES: list[tuple[str, Callable[..., HttpResponse], str]] = [
    ("versions", jobs_write.job_versions, "job-versions"),
    ("revert", jobs_write.job_revert, "job-revert"),
    ("stable", jobs_write.job_stable, "job-stable"),
    ("scale", jobs_write.job_scale, "job-scale"),
    ("dispatch", jobs_write.job_dispatch, "job-dispatch"),
    ("plan", jobs_write.job_plan, "job-plan"),
    ("summary", jobs_write.job_summary, "job-summary"),
    ("deployments", jobs_write.job_deployments, "job-deployments"),
    ("deployment", jobs_write.job_deployment, "job-deployment"),
    ("periodic/force", jobs_write.job_periodic_force, "job-periodic-force"),
    # A dispatched child's ID has a slash, so these take the job ID pattern too.
    ("evaluations", jobs_read.job_evaluations, "job-evaluations"),
    ("allocations", allocs_nodes.job_allocations, "job-allocations"),
]


def job_patterns() -> list[URLPattern]:
    """The /v1/job/:id routes of this module (``urls.py`` splices them in where ``job/<id>`` was)."""
    routes = [re_path(rf"^job/{JOB_ID}/{suffix}$", view, name=name) for suffix, view, name in _JOB_SUFFIXES]
    return [*routes, re_path(rf"^job/{JOB_ID}$", job_root, name="job")]


def jobs_register(request: HttpRequest, body: dict[str, Any] | None = None) -> HttpResponse:
    """PUT/POST /v1/jobs {"Job": {...}}: validate, check submit-job, send Job.Register to a server.

    The job's namespace (else ``?namespace=``, else ``default``) is the one checked and written; the
    answer is Nomad's JobRegisterResponse with its index in ``X-Nomad-Index``. ``"EnforceIndex": true``
    with ``"JobModifyIndex": N`` is Nomad's check-index (``job run -check-index``): 409 when the job's
    modify index is not N (0: when the job exists).
    """
    body = read_json(request) if body is None else body
    if not isinstance(body.get("Job"), dict):
        raise InvalidInput('expected {"Job": {...}}')
    raw_job = dict(body["Job"])
    if not raw_job.get("Namespace"):
        # Parsing fills "default"; a job that names no namespace goes to the one the query names.
        raw_job["Namespace"] = request.GET.get("namespace") or "default"
    if not isinstance(raw_job["Namespace"], str):
        raise InvalidInput("Job.Namespace: expected a string")
    # Authorized before validation, so a token that may not submit learns nothing from the job's errors.
    require_namespace_op(request, raw_job["Namespace"], NamespaceCapability.SUBMIT_JOB)
    job = jobspec.parse_json(msgspec.json.encode({"Job": raw_job}), filename="Job").job
    region = request.GET.get("region", "")
    if region and not job.Region:
        job = msgspec.structs.replace(job, Region=region)
    enforce = bool(body_field(body, "EnforceIndex", bool, False))
    modify_index = int(body_field(body, "JobModifyIndex", int, 0))
    args = JobRegisterRequest(Job=job, EnforceIndex=enforce, JobModifyIndex=modify_index, Region=region)
    reply = gateway().call_sync("Job.Register", args, JobRegisterResponse)
    answer = {"EvalID": reply.EvalID, "EvalCreateIndex": reply.EvalCreateIndex,
              "JobModifyIndex": reply.JobModifyIndex, "Warnings": reply.Warnings, "Index": reply.Index,
              "LastContact": 0, "KnownLeader": False}
    return jobs_read.with_index(json_response(answer), reply.Index)
