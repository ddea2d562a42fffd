"""/v1 endpoints of one job: deregister, versions, revert, stable, scale, dispatch, plan, summary,
deployments and periodic force, as Nomad's paths, bodies and status codes.

Each view checks the token's capability in the job's namespace (``?namespace=``, default ``default``)
before anything else, then calls one server RPC; errors become HTTP answers once, in ``api_view``.
"""

from __future__ import annotations

from typing import Any

import msgspec
from django.http import HttpRequest, HttpResponse

from agents.server.endpoints import JobRegisterResponse, JobSpecificRequest
from agents.server.endpoints_jobs import (
    DeploymentListResponse,
    JobDeregisterRequest,
    JobDeregisterResponse,
    JobDispatchRequest,
    JobDispatchResponse,
    JobRevertRequest,
    JobScaleRequest,
    JobScaleStatusResponse,
    JobStabilityRequest,
    JobStabilityResponse,
    JobSummaryResponse,
    JobVersionsRequest,
    JobVersionsResponse,
    PeriodicForceRequest,
    PeriodicForceResponse,
    SingleDeploymentResponse,
    decode_payload,
)
from agents.server.job_plan import JobPlanRequest, JobPlanResponse
from cluster import jobspec
from cluster.acl import NamespaceCapability
from cluster.errors import InvalidInput, NotFound
from webui.api.auth import request_acl, require_namespace_op
from webui.api.http import api_view, json_response, read_json
from webui.api.jobs_read import QueryOptions, query_options, with_index
from webui.gateway import gateway

__all__ = ["job_deployment", "job_deployments", "job_deregister", "job_dispatch", "job_periodic_force",
           "job_plan", "job_revert", "job_scale", "job_stable", "job_summary", "job_versions"]

_TRUE = frozenset({"true", "1", "yes"})


def _flag(request: HttpRequest, name: str) -> bool:
    return request.GET.get(name, "").strip().lower() in _TRUE


def _namespace(request: HttpRequest) -> str:
    return request.GET.get("namespace") or "default"


def _write_meta(answer: dict[str, Any], index: int) -> HttpResponse:
    return with_index(json_response({**answer, "LastContact": 0, "KnownLeader": False}), index)


def _register_answer(reply: JobRegisterResponse) -> HttpResponse:
    return _write_meta({"EvalID": reply.EvalID, "EvalCreateIndex": reply.EvalCreateIndex,
                        "JobModifyIndex": reply.JobModifyIndex, "Warnings": reply.Warnings,
                        "Index": reply.Index}, reply.Index)


def _int_field(body: dict[str, Any], name: str, *, required: bool) -> int | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput(f"{name}: expected an integer")
    return value


def job_deregister(request: HttpRequest, job_id: str) -> HttpResponse:
    """DELETE /v1/job/:id?purge=: stop the job (an evaluation stops its allocations); purge removes it."""
    namespace = _namespace(request)
    require_namespace_op(request, namespace, NamespaceCapability.SUBMIT_JOB)
    args = JobDeregisterRequest(JobID=job_id, Namespace=namespace, Purge=_flag(request, "purge"),
                                Region=request.GET.get("region", ""))
    reply = gateway().call_sync("Job.Deregister", args, JobDeregisterResponse)
    return _write_meta({"EvalID": reply.EvalID, "EvalCreateIndex": reply.EvalCreateIndex,
                        "JobModifyIndex": reply.JobModifyIndex, "Index": reply.Index}, reply.Index)


@api_view("GET")
def job_versions(request: HttpRequest, job_id: str) -> HttpResponse:
    """GET /v1/job/:id/versions?diffs=: every tracked version, newest first; 404 for no job."""
    opts = query_options(request)
    require_namespace_op(request, opts.namespace, NamespaceCapability.READ_JOB)
    args = JobVersionsRequest(JobID=job_id, Namespace=opts.namespace, Diffs=_flag(request, "diffs"),
                              **opts.rpc_fields())
    reply = gateway().call_sync("Job.GetJobVersions", args, JobVersionsResponse, timeout_s=opts.timeout_s())
    if not reply.Versions:
        raise NotFound("job versions not found")
    return with_index(json_response({"Versions": reply.Versions, "Diffs": reply.Diffs, "Index": reply.Index,
                                     "LastContact": 0, "KnownLeader": True}), reply.Index)


@api_view("POST", "PUT")
def job_revert(request: HttpRequest, job_id: str) -> HttpResponse:
    """POST /v1/job/:id/revert {"JobVersion": n, "EnforcePriorVersion": m}: the old version runs again."""
    namespace = _namespace(request)
    require_namespace_op(request, namespace, NamespaceCapability.SUBMIT_JOB)
    body = read_json(request)
    version = _int_field(body, "JobVersion", required=True)
    assert version is not None
    args = JobRevertRequest(JobID=job_id, JobVersion=version, Namespace=namespace,
                            EnforcePriorVersion=_int_field(body, "EnforcePriorVersion", required=False),
                            Region=request.GET.get("region", ""))
    return _register_answer(gateway().call_sync("Job.Revert", args, JobRegisterResponse))


@api_view("POST", "PUT")
def job_stable(request: HttpRequest, job_id: str) -> HttpResponse:
    """POST /v1/job/:id/stable {"JobVersion": n, "Stable": true}: mark a version (un)stable."""
    namespace = _namespace(request)
    require_namespace_op(request, namespace, NamespaceCapability.SUBMIT_JOB)
    body = read_json(request)
    version = _int_field(body, "JobVersion", required=True)
    assert version is not None
    stable = body.get("Stable")
    if not isinstance(stable, bool):
        raise InvalidInput("Stable: expected true or false")
    args = JobStabilityRequest(JobID=job_id, JobVersion=version, Stable=stable, Namespace=namespace,
                               Region=request.GET.get("region", ""))
    reply = gateway().call_sync("Job.Stable", args, JobStabilityResponse)
    return _write_meta({"Index": reply.Index}, reply.Index)


@api_view("GET", "POST", "PUT")
def job_scale(request: HttpRequest, job_id: str) -> HttpResponse:
    """GET /v1/job/:id/scale: counts per group; POST {"Count", "Target": {"Group"}, "Message", "Error",
    "Meta"}: a new version with that count (``scale-job``, which ``submit-job`` also grants)."""
    if request.method == "GET":
        return _scale_status(request, job_id, query_options(request))
    namespace = _namespace(request)
    acl = request_acl(request)
    if acl is not None and not acl.allow_namespace_op(namespace, NamespaceCapability.SCALE_JOB):
        require_namespace_op(request, namespace, NamespaceCapability.SUBMIT_JOB)
    body = read_json(request)
    target = body.get("Target")
    if not isinstance(target, dict) or not all(isinstance(v, str) for v in target.values()):
        raise InvalidInput('Target: expected {"Group": "<task group>"}')
    meta = body.get("Meta")
    if meta is not None and not isinstance(meta, dict):
        raise InvalidInput("Meta: expected an object")
    args = JobScaleRequest(JobID=job_id, Target=target, Count=_int_field(body, "Count", required=False),
                           Message=str(body.get("Message") or ""), Error=bool(body.get("Error")), Meta=meta,
                           Namespace=namespace, Region=request.GET.get("region", ""))
    return _register_answer(gateway().call_sync("Job.Scale", args, JobRegisterResponse))


def _scale_status(request: HttpRequest, job_id: str, opts: QueryOptions) -> HttpResponse:
    acl = request_acl(request)
    if acl is not None and not acl.allow_namespace_op(opts.namespace, NamespaceCapability.READ_JOB_SCALING):
        require_namespace_op(request, opts.namespace, NamespaceCapability.READ_JOB)
    args = JobSpecificRequest(JobID=job_id, Namespace=opts.namespace, **opts.rpc_fields())
    reply = gateway().call_sync("Job.ScaleStatus", args, JobScaleStatusResponse, timeout_s=opts.timeout_s())
    if reply.JobScaleStatus is None:
        raise NotFound("job not found")
    return with_index(json_response(reply.JobScaleStatus), reply.Index)


@api_view("POST", "PUT")
def job_dispatch(request: HttpRequest, job_id: str) -> HttpResponse:
    """POST /v1/job/:id/dispatch {"Payload": base64, "Meta": {...}, "IdempotencyToken"}: a child job."""
    namespace = _namespace(request)
    require_namespace_op(request, namespace, NamespaceCapability.DISPATCH_JOB)
    body = read_json(request)
    payload = body.get("Payload")
    if payload is not None and not isinstance(payload, str):
        raise InvalidInput("Payload: expected a base64 string")
    meta = body.get("Meta") or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise InvalidInput("Meta: expected an object of strings")
    # The Go client sends the token as ``?idempotency_token=``; python-nomad in the body.
    token = (request.GET.get("idempotency_token") or body.get("IdempotencyToken")
             or body.get("idempotency_token") or "")
    if not isinstance(token, str):
        raise InvalidInput("IdempotencyToken: expected a string")
    args = JobDispatchRequest(JobID=job_id, Payload=decode_payload(payload), Meta=meta or None,
                              IdempotencyToken=token, Namespace=namespace, Region=request.GET.get("region", ""))
    reply = gateway().call_sync("Job.Dispatch", args, JobDispatchResponse)
    return _write_meta({"DispatchedJobID": reply.DispatchedJobID, "EvalID": reply.EvalID,
                        "EvalCreateIndex": reply.EvalCreateIndex, "JobCreateIndex": reply.JobCreateIndex,
                        "Index": reply.Index}, reply.Index)


@api_view("POST", "PUT")
def job_plan(request: HttpRequest, job_id: str) -> HttpResponse:
    """POST /v1/job/:id/plan {"Job": {...}, "Diff": true}: the diff and placement preview; nothing changes."""
    body = read_json(request)
    if not isinstance(body.get("Job"), dict):
        raise InvalidInput('expected {"Job": {...}}')
    raw_job = dict(body["Job"])
    raw_job["Namespace"] = raw_job.get("Namespace") or _namespace(request)
    if not isinstance(raw_job["Namespace"], str):
        raise InvalidInput("Job.Namespace: expected a string")
    require_namespace_op(request, raw_job["Namespace"], NamespaceCapability.SUBMIT_JOB)
    if raw_job.get("ID") != job_id:
        raise InvalidInput("Job ID does not match")
    job = jobspec.parse_json(msgspec.json.encode({"Job": raw_job}), filename="Job").job
    args = JobPlanRequest(Job=job, Diff=bool(body.get("Diff")), PolicyOverride=bool(body.get("PolicyOverride")),
                          Region=request.GET.get("region", ""))
    reply = gateway().call_sync("Job.Plan", args, JobPlanResponse)
    return with_index(json_response(reply), reply.Index)


@api_view("GET")
def job_summary(request: HttpRequest, job_id: str) -> HttpResponse:
    """GET /v1/job/:id/summary: allocations per group by status, and children by status."""
    opts = query_options(request)
    require_namespace_op(request, opts.namespace, NamespaceCapability.READ_JOB)
    args = JobSpecificRequest(JobID=job_id, Namespace=opts.namespace, **opts.rpc_fields())
    reply = gateway().call_sync("Job.Summary", args, JobSummaryResponse, timeout_s=opts.timeout_s())
    if reply.JobSummary is None:
        raise NotFound("job not found")
    return with_index(json_response(reply.JobSummary), reply.Index)


@api_view("GET")
def job_deployments(request: HttpRequest, job_id: str) -> HttpResponse:
    """GET /v1/job/:id/deployments: the job's deployments, newest first."""
    opts = query_options(request)
    require_namespace_op(request, opts.namespace, NamespaceCapability.READ_JOB)
    args = JobSpecificRequest(JobID=job_id, Namespace=opts.namespace, **opts.rpc_fields())
    reply = gateway().call_sync("Job.Deployments", args, DeploymentListResponse, timeout_s=opts.timeout_s())
    return with_index(json_response(reply.Deployments), reply.Index)


@api_view("GET")
def job_deployment(request: HttpRequest, job_id: str) -> HttpResponse:
    """GET /v1/job/:id/deployment: the latest deployment, ``null`` when the job has none (as Nomad)."""
    opts = query_options(request)
    require_namespace_op(request, opts.namespace, NamespaceCapability.READ_JOB)
    args = JobSpecificRequest(JobID=job_id, Namespace=opts.namespace, **opts.rpc_fields())
    reply = gateway().call_sync("Job.LatestDeployment", args, SingleDeploymentResponse,
                                timeout_s=opts.timeout_s())
    return with_index(json_response(reply.Deployment), reply.Index)


@api_view("POST", "PUT")
def job_periodic_force(request: HttpRequest, job_id: str) -> HttpResponse:
    """POST /v1/job/:id/periodic/force: launch a periodic job now."""
    namespace = _namespace(request)
    require_namespace_op(request, namespace, NamespaceCapability.SUBMIT_JOB)
    args = PeriodicForceRequest(JobID=job_id, Namespace=namespace, Region=request.GET.get("region", ""))
    reply = gateway().call_sync("Periodic.Force", args, PeriodicForceResponse)
    return _write_meta({"EvalID": reply.EvalID, "EvalCreateIndex": reply.EvalCreateIndex,
                        "Index": reply.Index}, reply.Index)
