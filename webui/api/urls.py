"""Routes of the Nomad-compatible /v1 API."""

from __future__ import annotations

from django.urls import path

from webui.api import jobs, jobs_read, status

urlpatterns = [
    path("jobs/parse", jobs.jobs_parse, name="jobs-parse"),
    path("validate/job", jobs.validate_job, name="validate-job"),
    path("jobs", jobs.jobs_root, name="jobs"),
    path("job/<str:job_id>", jobs_read.job_get, name="job"),
    path("job/<str:job_id>/evaluations", jobs_read.job_evaluations, name="job-evaluations"),
    path("evaluation/<str:eval_id>", jobs_read.evaluation_get, name="evaluation"),
    path("status/leader", status.status_leader, name="status-leader"),
    path("status/peers", status.status_peers, name="status-peers"),
]
