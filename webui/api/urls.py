"""Routes of the Nomad-compatible /v1 API, grouped by domain as Nomad's API documentation is."""

from __future__ import annotations

from django.urls import path

from webui.api import (
    acl,
    agent,
    allocs_nodes,
    client_allocs,
    deployments,
    evals,
    events,
    jobs,
    jobs_read,
    nodes_write,
    operator,
    snapshot_restore,
    status,
)

_jobs = [
    path("jobs", jobs.jobs_root, name="jobs"),
    path("jobs/parse", jobs.jobs_parse, name="jobs-parse"),
    path("validate/job", jobs.validate_job, name="validate-job"),
    # /v1/job/:id (read, register, deregister) and its allocations, evaluations, versions, plan, scale...
    *jobs.job_patterns(),
]

_evaluations = [
    path("evaluations", evals.evaluations_list, name="evaluations"),
    path("evaluations/count", evals.evaluations_count, name="evaluations-count"),
    path("evaluation/<str:eval_id>", jobs_read.evaluation_get, name="evaluation"),
    path("evaluation/<str:eval_id>/allocations", evals.evaluation_allocations, name="evaluation-allocations"),
]

_allocations = [
    path("allocations", allocs_nodes.allocations_list, name="allocations"),
    path("allocation/<str:alloc_id>", allocs_nodes.allocation_get, name="allocation"),
    path("allocation/<str:alloc_id>/stop", nodes_write.allocation_stop, name="allocation-stop"),
]

_nodes = [
    path("nodes", allocs_nodes.nodes_list, name="nodes"),
    path("node/<str:node_id>", allocs_nodes.node_get, name="node"),
    path("node/<str:node_id>/allocations", allocs_nodes.node_allocations, name="node-allocations"),
    path("node/<str:node_id>/drain", nodes_write.node_drain, name="node-drain"),
    path("node/<str:node_id>/eligibility", nodes_write.node_eligibility, name="node-eligibility"),
    path("node/<str:node_id>/purge", nodes_write.node_purge, name="node-purge"),
    path("node/<str:node_id>/evaluate", nodes_write.node_evaluate, name="node-evaluate"),
]

_deployments = [
    path("deployments", deployments.deployments_list, name="deployments"),
    path("deployment/<str:deployment_id>", deployments.deployment_get, name="deployment"),
    path("deployment/allocations/<str:deployment_id>", deployments.deployment_allocations,
         name="deployment-allocations"),
    path("deployment/promote/<str:deployment_id>", deployments.deployment_promote, name="deployment-promote"),
    path("deployment/fail/<str:deployment_id>", deployments.deployment_fail, name="deployment-fail"),
    path("deployment/pause/<str:deployment_id>", deployments.deployment_pause, name="deployment-pause"),
    path("deployment/unblock/<str:deployment_id>", deployments.deployment_unblock, name="deployment-unblock"),
    path("deployment/allocation-health/<str:deployment_id>", deployments.deployment_allocation_health,
         name="deployment-allocation-health"),
]

_client = [
    path("client/allocation/<str:alloc_id>/stats", client_allocs.alloc_stats, name="client-alloc-stats"),
    path("client/allocation/<str:alloc_id>/restart", client_allocs.alloc_restart, name="client-alloc-restart"),
    path("client/allocation/<str:alloc_id>/signal", client_allocs.alloc_signal, name="client-alloc-signal"),
    path("client/fs/logs/<str:alloc_id>", client_allocs.fs_logs, name="client-fs-logs"),
    path("client/fs/ls/<str:alloc_id>", client_allocs.fs_ls, name="client-fs-ls"),
    path("client/fs/stat/<str:alloc_id>", client_allocs.fs_stat, name="client-fs-stat"),
    path("client/fs/cat/<str:alloc_id>", client_allocs.fs_cat, name="client-fs-cat"),
    path("client/fs/readat/<str:alloc_id>", client_allocs.fs_readat, name="client-fs-readat"),
    path("client/stats", client_allocs.client_stats, name="client-stats"),
]

_acl = [
    path("acl/bootstrap", acl.acl_bootstrap_view, name="acl-bootstrap"),
    path("acl/tokens", acl.acl_tokens, name="acl-tokens"),
    path("acl/token", acl.acl_token_create, name="acl-token-create"),
    path("acl/token/self", acl.acl_token_self, name="acl-token-self"),
    path("acl/token/<str:accessor_id>", acl.acl_token, name="acl-token"),
    path("acl/policies", acl.acl_policies, name="acl-policies"),
    path("acl/policy/<str:name>", acl.acl_policy, name="acl-policy"),
]

_cluster = [
    path("status/leader", status.status_leader, name="status-leader"),
    path("status/peers", status.status_peers, name="status-peers"),
    path("regions", status.regions, name="regions"),
    path("agent/members", agent.agent_members, name="agent-members"),
    path("agent/self", agent.agent_self, name="agent-self"),
    path("agent/health", agent.agent_health, name="agent-health"),
    path("operator/raft/configuration", operator.operator_raft_configuration, name="operator-raft-configuration"),
    path("operator/raft/peer", operator.operator_raft_peer, name="operator-raft-peer"),
    path("operator/raft/transfer-leadership", operator.operator_transfer_leadership,
         name="operator-transfer-leadership"),
    path("operator/snapshot", snapshot_restore.operator_snapshot_root, name="operator-snapshot"),
    path("operator/scheduler/configuration", operator.operator_scheduler_configuration,
         name="operator-scheduler-configuration"),
    path("event/stream", events.event_stream, name="event-stream"),
]

urlpatterns = [*_jobs, *_evaluations, *_allocations, *_nodes, *_deployments, *_client, *_acl, *_cluster]
