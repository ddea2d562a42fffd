"""/ui/jobs/run: edit a job file (HCL or JSON), plan it (errors with line and field, or the diff against
the running version), then run it.

Run carries the plan's ``JobModifyIndex`` and refuses when the job changed since the plan, so what was
reviewed is what is submitted (Nomad's ``job run -check-index``); it carries the digest of the planned job
file too, and refuses a file edited after its plan (the page also disables Run as soon as it is edited). The check is done here, before the
register RPC: ``Job.Register`` has no EnforceIndex yet, which leaves a short window (see the report).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from cluster import jobspec
from cluster.acl import NamespaceCapability
from cluster.errors import Diagnostic, InvalidInput, JobSpecError
from cluster.jobspec.diff import format_diff
from cluster.scheduler.plan import DesiredUpdates
from cluster.structs.job import Job
from webui.ui import present, selectors, services
from webui.ui.access import require_namespace, viewer
from webui.ui.render import page, region_of, ui_view
from webui.ui.views_jobs import job_url

__all__ = ["job_run"]

MAX_SOURCE_CHARS = 1 << 20


@dataclass(frozen=True, slots=True)
class Planned:
    """A parsed job and what running it would change, as the servers' scheduler sees it now."""

    job: Job
    namespace: str
    diff_text: str
    job_modify_index: int  # of the version the plan compared against; 0: a new job
    updates: list[tuple[str, DesiredUpdates]]  # per task group: place, stop, update... counts
    failures: dict[str, list[str]]  # per task group that could not be placed: why
    warnings: str


def source_digest(source: str) -> str:
    """What Run compares with the planned file: a SHA-256 of its text."""
    return hashlib.sha256(source.encode()).hexdigest()


def parse_source(source: str) -> Job:
    """The job in ``source``: JSON when it starts with ``{``, else HCL. JobSpecError lists the problems."""
    if len(source) > MAX_SOURCE_CHARS:
        raise JobSpecError([Diagnostic(f"the job file is larger than {MAX_SOURCE_CHARS} characters")])
    if not source.strip():
        raise JobSpecError([Diagnostic("the job file is empty", "", "job")])
    if source.lstrip().startswith("{"):
        return jobspec.parse_json(source, filename="job.json").job
    return jobspec.parse_hcl(source, filename="job.nomad.hcl").job


def plan(request: HttpRequest, source: str) -> Planned:
    """Parses ``source`` and asks the servers for the plan (``Job.Plan``: a dry run of the scheduler)."""
    job = parse_source(source)
    namespace = job.Namespace or "default"
    require_namespace(request, namespace, NamespaceCapability.SUBMIT_JOB)
    answer = services.job_plan(job=job, region=region_of(request))
    updates = (answer.Annotations.DesiredTGUpdates or {}) if answer.Annotations else {}
    return Planned(
        job=job,
        namespace=namespace,
        diff_text=format_diff(answer.Diff) if answer.Diff else "",
        job_modify_index=answer.JobModifyIndex,
        updates=sorted(updates.items()),
        failures={g: present.failure_lines(m) for g, m in sorted((answer.FailedTGAllocs or {}).items())},
        warnings=answer.Warnings,
    )


def _current_index(request: HttpRequest, job: Job) -> int:
    current = selectors.job_get(
        region=region_of(request), namespace=job.Namespace or "default", job_id=job.ID or ""
    )
    return (current.JobModifyIndex or 0) if current is not None else 0


def _run(request: HttpRequest, source: str, planned_index: int) -> HttpResponse:
    planned_digest = request.POST.get("planned_digest", "")
    if planned_digest and planned_digest != source_digest(source):
        raise InvalidInput("the job file was edited after its plan: plan again to review it before running")
    job = parse_source(source)
    namespace = job.Namespace or "default"
    require_namespace(request, namespace, NamespaceCapability.SUBMIT_JOB)
    now_index = _current_index(request, job)
    if now_index != planned_index:
        raise InvalidInput(
            f"the job changed since it was planned (JobModifyIndex {planned_index}, now "
            f"{now_index}): plan again before running it"
        )
    services.job_register(job=job, region=region_of(request))
    return HttpResponseRedirect(job_url(job.ID or "", namespace))


def _planned_index(request: HttpRequest) -> int:
    raw = request.POST.get("job_modify_index", "")
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput("run: plan the job first (no JobModifyIndex from a plan)") from None


@ui_view("GET", "POST")
def job_run(request: HttpRequest) -> HttpResponse:
    """GET: the editor. POST action=plan: errors or diff. POST action=run: submit, go to the job."""
    who = viewer(request)
    source = request.POST.get("source", "")
    context: dict[str, Any] = {"viewer": who, "source": source, "diagnostics": [], "planned": None}
    if request.method == "POST":
        try:
            if request.POST.get("action") == "run":
                return _run(request, source, _planned_index(request))
            context["planned"] = plan(request, source)
            context["planned_digest"] = source_digest(source)
        except JobSpecError as e:
            context["diagnostics"] = e.diagnostics
        except InvalidInput as e:  # the job changed since the plan
            context["diagnostics"] = [Diagnostic(str(e))]
    bad_lines = {d.line for d in context["diagnostics"]}
    # Numbered here as well as by ui.js, so the gutter is right before (or without) JavaScript.
    context["gutter"] = [(n, n in bad_lines) for n in range(1, max(1, source.count("\n") + 1) + 1)]
    status = 400 if context["diagnostics"] else 200
    return page(request, "ui/run.html", context, status=status)
