"""Routes of the dashboard, with Nomad's UI paths (included at ``/ui/``)."""

from __future__ import annotations

from django.urls import path
from django.views.generic import RedirectView

from webui.ui import (
    views_allocs,
    views_auth,
    views_cluster,
    views_job_actions,
    views_jobs,
    views_nodes,
    views_run,
    views_workflows,
)

app_name = "ui"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="ui:jobs", query_string=True), name="home"),
    path("settings/tokens", views_auth.tokens, name="tokens"),
    path("jobs", views_jobs.jobs_list, name="jobs"),
    path("jobs/run", views_run.job_run, name="job-run"),
    path("jobs/<str:job_ref>", views_jobs.job_detail, name="job"),
    path("jobs/<str:job_ref>/stop", views_job_actions.job_stop, name="job-stop"),
    path("jobs/<str:job_ref>/start", views_job_actions.job_start, name="job-start"),
    path("jobs/<str:job_ref>/revert", views_job_actions.job_revert, name="job-revert"),
    path("jobs/<str:job_ref>/promote", views_job_actions.deployment_promote, name="job-promote"),
    path("jobs/<str:job_ref>/restart", views_workflows.job_restart, name="job-restart"),
    path("workflows", views_workflows.workflows_list, name="workflows"),
    path("workflows/<str:workflow_id>", views_workflows.workflow_detail, name="workflow"),
    path("workflows/<str:workflow_id>/cancel", views_workflows.workflow_cancel, name="workflow-cancel"),
    path("allocations/<str:alloc_id>", views_allocs.alloc_detail, name="alloc"),
    path("clients", views_nodes.clients_list, name="clients"),
    path("clients/<str:node_id>", views_nodes.client_detail, name="client"),
    path("clients/<str:node_id>/drain", views_nodes.client_drain, name="client-drain"),
    path("clients/<str:node_id>/eligibility", views_nodes.client_eligibility, name="client-eligibility"),
    path("servers", views_cluster.servers, name="servers"),
    path("topology", views_cluster.topology, name="topology"),
    path("evaluations", views_cluster.evaluations, name="evaluations"),
]
