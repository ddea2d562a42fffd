"""The status descriptions Nomad gives deployments, word for word (``nomad deployment status``
prints them, and tools match on them)."""

from __future__ import annotations

__all__ = ["DeploymentDescription"]


class DeploymentDescription:
    RUNNING = "Deployment is running"
    RUNNING_NEEDS_PROMOTION = "Deployment is running but requires manual promotion"
    RUNNING_AUTO_PROMOTION = "Deployment is running pending automatic promotion"
    PAUSED = "Deployment is paused"
    SUCCESSFUL = "Deployment completed successfully"
    STOPPED_JOB = "Cancelled because job is stopped"
    NEWER_JOB = "Cancelled due to newer version of job"
    FAILED_ALLOCATIONS = "Failed due to unhealthy allocations"
    PROGRESS_DEADLINE = "Failed due to progress deadline"
    FAILED_BY_USER = "Deployment marked as failed"
    BLOCKED = "Deployment is complete but waiting for peer region"
    PENDING_FOR_PEER = "Deployment is pending, waiting for peer region"

    @staticmethod
    def rollback(base: str, version: int) -> str:
        """``Failed due to unhealthy allocations - rolling back to job version 2``."""
        return f"{base} - rolling back to job version {version}"

    @staticmethod
    def no_rollback_target(base: str, version: int) -> str:
        return f"{base} - not rolling back to stable job version {version} as current job has same specification"
