"""Routes of the Nomad-compatible /v1 API."""

from __future__ import annotations

from django.urls import path

from webui.api import jobs

urlpatterns = [
    path("jobs/parse", jobs.jobs_parse, name="jobs-parse"),
    path("validate/job", jobs.validate_job, name="validate-job"),
]
