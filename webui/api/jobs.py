"""/v1 job endpoints. Thin: decode the request, call the jobspec service, answer as Nomad does."""

from __future__ import annotations

import msgspec
from django.http import HttpRequest, HttpResponse

from agents.server.endpoints import JobRegisterRequest, JobRegisterResponse
from cluster import jobspec
from cluster.acl import NamespaceCapability
from cluster.errors import InvalidInput, JobSpecError
from webui.api import jobs_read
from webui.api.auth import require_namespace_op
from webui.api.http import api_view, json_response, read_json
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
    """/v1/jobs: GET lists (``jobs_read.jobs_list``), PUT and POST register, as Nomad's one path."""
    if request.method == "GET":
        return jobs_read.jobs_list(request)
    return jobs_register(request)


def jobs_register(request: HttpRequest) -> HttpResponse:
    """PUT/POST /v1/jobs {"Job": {...}}: validate, check submit-job, send Job.Register to a server.

    The job's namespace (else ``?namespace=``, else ``default``) is the one checked and written; the
    answer is Nomad's JobRegisterResponse with its index in ``X-Nomad-Index``.
    """
    body = read_json(request)
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
    reply = gateway().call_sync("Job.Register", JobRegisterRequest(Job=job, Region=region), JobRegisterResponse)
    answer = {"EvalID": reply.EvalID, "EvalCreateIndex": reply.EvalCreateIndex,
              "JobModifyIndex": reply.JobModifyIndex, "Warnings": reply.Warnings, "Index": reply.Index,
              "LastContact": 0, "KnownLeader": False}
    return jobs_read.with_index(json_response(answer), reply.Index)
