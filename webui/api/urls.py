"""Routes of the Nomad-compatible /v1 API."""

from __future__ import annotations

from django.urls import path

from webui.api import allocs_nodes, jobs, jobs_read, status

urlpatterns = [
    path("jobs/parse", jobs.jobs_parse, name="jobs-parse"),
    path("validate/job", jobs.validate_job, name="validate-job"),
    path("jobs", jobs.jobs_root, name="jobs"),
    path("job/<str:job_id>", jobs_read.job_get, name="job"),
    path("job/<str:job_id>/evaluations", jobs_read.job_evaluations, name="job-evaluations"),
    path("evaluation/<str:eval_id>", jobs_read.evaluation_get, name="evaluation"),
    path("job/<str:job_id>/allocations", allocs_nodes.job_allocations, name="job-allocations"),
    path("allocations", allocs_nodes.allocations_list, name="allocations"),
    path("allocation/<str:alloc_id>", allocs_nodes.allocation_get, name="allocation"),
    path("nodes", allocs_nodes.nodes_list, name="nodes"),
    path("node/<str:node_id>", allocs_nodes.node_get, name="node"),
    path("node/<str:node_id>/allocations", allocs_nodes.node_allocations, name="node-allocations"),
    path("status/leader", status.status_leader, name="status-leader"),
    path("status/peers", status.status_peers, name="status-peers"),
]
