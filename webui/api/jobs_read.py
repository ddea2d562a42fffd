"""/v1 reads of jobs and evaluations over RPC, with Nomad's query options and index headers.

Every read takes ``?namespace=`` (default ``default``; ``*`` for all, filtered to what the token may
list), ``?region=``, ``?stale`` and a blocking query ``?index=N&wait=D`` (Go duration, default 5 min,
at most 10 min): the answer waits until the data's index passes N. Every answer carries
``X-Nomad-Index``, ``X-Nomad-KnownLeader`` and ``X-Nomad-LastContact``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse

from agents.server.endpoints import (
    EvalListRequest,
    EvalListResponse,
    EvalSpecificRequest,
    JobSpecificRequest,
    SingleEvalResponse,
    SingleJobResponse,
)
from cluster.acl import NamespaceCapability
from cluster.errors import InvalidInput, NotFound
from webui.api.auth import require_namespace_op
from webui.api.http import api_view, json_response
from webui.gateway import gateway

__all__ = ["QueryOptions", "evaluation_get", "job_evaluations", "job_get", "parse_wait_ns",
           "query_options", "with_index"]

SECOND_NS = 1_000_000_000
DEFAULT_WAIT_NS = 300 * SECOND_NS
MAX_WAIT_NS = 600 * SECOND_NS
# The RPC waits the blocking query out on the server; give it this much more before calling it lost.
RPC_SLACK_S = 5.0
_UNIT_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": SECOND_NS, "m": 60 * SECOND_NS,
            "h": 3600 * SECOND_NS}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_wait_ns(text: str) -> int:
    """A Go duration (``500ms``, ``1m30s``) in ns; InvalidInput when it is not one, as Nomad's 400."""
    pos, total = 0, 0.0
    while pos < len(text):
        match = _DURATION_PART.match(text, pos)
        if match is None:
            raise InvalidInput(f"Invalid wait time: {text!r}")
        total += float(match.group(1)) * _UNIT_NS[match.group(2)]
        pos = match.end()
    if not text:
        raise InvalidInput("Invalid wait time: empty")
    return int(total)


@dataclass(frozen=True, slots=True)
class QueryOptions:
    """Nomad's query parameters of a read."""

    namespace: str
    region: str
    allow_stale: bool
    min_index: int
    max_wait_ns: int

    def rpc_fields(self) -> dict[str, Any]:
        return {"Region": self.region, "AllowStale": self.allow_stale, "MinQueryIndex": self.min_index,
                "MaxQueryTime": self.max_wait_ns}

    def timeout_s(self) -> float:
        """How long the RPC may take: the blocking wait, plus slack for the answer to travel."""
        return (self.max_wait_ns / SECOND_NS if self.min_index > 0 else 0.0) + RPC_SLACK_S


def query_options(request: HttpRequest) -> QueryOptions:
    raw_index = request.GET.get("index", "")
    try:
        min_index = int(raw_index) if raw_index else 0
    except ValueError:
        raise InvalidInput(f"Invalid index: {raw_index!r}") from None
    if min_index < 0:
        raise InvalidInput(f"Invalid index: {raw_index!r}")
    raw_wait = request.GET.get("wait")
    wait_ns = min(parse_wait_ns(raw_wait), MAX_WAIT_NS) if raw_wait else DEFAULT_WAIT_NS
    return QueryOptions(
        namespace=request.GET.get("namespace") or "default",
        region=request.GET.get("region", ""),
        allow_stale="stale" in request.GET,
        min_index=min_index,
        max_wait_ns=wait_ns,
    )


def with_index(response: HttpResponse, index: int) -> HttpResponse:
    """Nomad's query meta headers; clients feed ``X-Nomad-Index`` back as ``?index=``."""
    response["X-Nomad-Index"] = str(index)
    response["X-Nomad-KnownLeader"] = "true"
    response["X-Nomad-LastContact"] = "0"
    return response


@api_view("GET")
def job_get(request: HttpRequest, job_id: str) -> HttpResponse:
    """GET /v1/job/:id: the job, 404 "job not found" when there is none."""
    opts = query_options(request)
    require_namespace_op(request, opts.namespace, NamespaceCapability.READ_JOB)
    args = JobSpecificRequest(JobID=job_id, Namespace=opts.namespace, **opts.rpc_fields())
    reply = gateway().call_sync("Job.Get", args, SingleJobResponse, timeout_s=opts.timeout_s())
    if reply.Job is None:
        raise NotFound("job not found")
    return with_index(json_response(reply.Job), reply.Index)


@api_view("GET")
def job_evaluations(request: HttpRequest, job_id: str) -> HttpResponse:
    """GET /v1/job/:id/evaluations: the job's evaluations, oldest first (an empty list for no job)."""
    opts = query_options(request)
    require_namespace_op(request, opts.namespace, NamespaceCapability.READ_JOB)
    args = EvalListRequest(FilterJobID=job_id, Namespace=opts.namespace, **opts.rpc_fields())
    reply = gateway().call_sync("Eval.List", args, EvalListResponse, timeout_s=opts.timeout_s())
    return with_index(json_response(reply.Evaluations), reply.Index)


@api_view("GET")
def evaluation_get(request: HttpRequest, eval_id: str) -> HttpResponse:
    """GET /v1/evaluation/:id: the evaluation, if the token may read jobs in its namespace."""
    opts = query_options(request)
    args = EvalSpecificRequest(EvalID=eval_id, **opts.rpc_fields())
    reply = gateway().call_sync("Eval.Get", args, SingleEvalResponse, timeout_s=opts.timeout_s())
    if reply.Eval is None:
        # Checked before answering 404, so a token without rights learns nothing about which IDs exist.
        require_namespace_op(request, opts.namespace, NamespaceCapability.READ_JOB)
        raise NotFound("eval not found")
    require_namespace_op(request, reply.Eval.Namespace, NamespaceCapability.READ_JOB)
    return with_index(json_response(reply.Eval), reply.Index)
