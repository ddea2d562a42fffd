"""The dashboard's writes: each a checked call of one server RPC. Callers (views) have already checked
the viewer's ACL; the servers trust the web role for that, so nothing here may be reached unchecked.
"""

from __future__ import annotations

from agents.server.endpoints import JobRegisterRequest, JobRegisterResponse
from agents.server.endpoints_deployments import DeploymentPromoteRequest, DeploymentUpdateResponse
from agents.server.endpoints_jobs import JobDeregisterRequest, JobDeregisterResponse, JobRevertRequest
from agents.server.endpoints_nodes import (
    NodeUpdateDrainRequest,
    NodeUpdateEligibilityRequest,
    NodeWriteResponse,
)
from agents.server.job_plan import JobPlanRequest, JobPlanResponse
from cluster.structs.job import Job
from cluster.structs.node import DrainStrategy
from webui.gateway import gateway

__all__ = [
    "deployment_promote",
    "job_plan",
    "job_register",
    "job_revert",
    "job_stop",
    "node_drain",
    "node_eligibility",
]

SECOND_NS = 1_000_000_000


def job_register(*, job: Job, region: str) -> JobRegisterResponse:
    return gateway().call_sync(
        "Job.Register", JobRegisterRequest(Job=job, Region=region), JobRegisterResponse
    )


def job_plan(*, job: Job, region: str) -> JobPlanResponse:
    """What registering ``job`` would do: the diff, the placements per group and why any would fail."""
    return gateway().call_sync("Job.Plan", JobPlanRequest(Job=job, Diff=True, Region=region), JobPlanResponse)


def job_stop(*, namespace: str, job_id: str, region: str) -> JobDeregisterResponse:
    """Nomad's ``job stop`` without purge: the job stays, marked stopped, its allocations stop."""
    args = JobDeregisterRequest(JobID=job_id, Namespace=namespace, Purge=False, Region=region)
    return gateway().call_sync("Job.Deregister", args, JobDeregisterResponse)


def job_revert(
    *, namespace: str, job_id: str, version: int, prior_version: int, region: str
) -> JobRegisterResponse:
    """Registers ``version`` again as the newest, if the job is still at ``prior_version`` (the one the
    user saw when choosing), so two people reverting at once do not undo each other unseen."""
    args = JobRevertRequest(
        JobID=job_id,
        JobVersion=version,
        EnforcePriorVersion=prior_version,
        Namespace=namespace,
        Region=region,
    )
    return gateway().call_sync("Job.Revert", args, JobRegisterResponse)


def deployment_promote(*, deployment_id: str, region: str) -> DeploymentUpdateResponse:
    """Promotes every task group's canaries, as the UI's Promote button does."""
    args = DeploymentPromoteRequest(DeploymentID=deployment_id, All=True, Region=region)
    return gateway().call_sync("Deployment.Promote", args, DeploymentUpdateResponse)


def node_drain(
    *, node_id: str, enable: bool, deadline_s: int, ignore_system_jobs: bool, region: str,
    mark_eligible: bool = False,
) -> NodeWriteResponse:
    """Starts a drain (``deadline_s`` 0: no deadline; -1: force now) or, with ``enable`` off, cancels it
    (and with ``mark_eligible`` makes the node eligible again in the same write)."""
    strategy = (
        DrainStrategy(
            Deadline=deadline_s * SECOND_NS if deadline_s > 0 else deadline_s,
            IgnoreSystemJobs=ignore_system_jobs,
        )
        if enable
        else None
    )
    args = NodeUpdateDrainRequest(
        NodeID=node_id, DrainStrategy=strategy, MarkEligible=mark_eligible and not enable, Region=region
    )
    return gateway().call_sync("Node.UpdateDrain", args, NodeWriteResponse)


def node_eligibility(*, node_id: str, eligible: bool, region: str) -> NodeWriteResponse:
    args = NodeUpdateEligibilityRequest(
        NodeID=node_id, Eligibility="eligible" if eligible else "ineligible", Region=region
    )
    return gateway().call_sync("Node.UpdateEligibility", args, NodeWriteResponse)
