"""/v1 job endpoints. Thin: decode the request, call the jobspec service, answer as Nomad does."""

from __future__ import annotations

import msgspec
from django.http import HttpRequest, HttpResponse

from cluster import jobspec
from cluster.errors import InvalidInput, JobSpecError
from webui.api.http import api_view, json_response, read_json


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
