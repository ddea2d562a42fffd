"""The deployment watcher's decisions (Nomad's ``deploymentwatcher``), as pure steps.

For every active deployment, ``step`` looks at the state and returns the FSM commands to propose:

- an allocation of the deployment turned unhealthy: fail the deployment ("Failed due to unhealthy
  allocations") and, if its groups ask for ``auto_revert``, register again the job's latest
  stable version (a new version with that specification);
- a group missed its progress deadline (no new healthy allocation by ``RequireProgressBy``): fail
  it the same way ("Failed due to progress deadline");
- every group with canaries has ``auto_promote`` and all their canaries are healthy: promote;
- more allocations became healthy since the last step: an evaluation so the scheduler continues
  the rolling update.

The scheduler itself marks a deployment successful once every group is healthy and promoted.
The shell runs ``step`` when allocation health changes and at ``next_deadline_ns``.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from cluster import fsm
from cluster.deployments.descriptions import DeploymentDescription
from cluster.scheduler.allocs import is_canary, is_healthy, is_unhealthy, server_terminal, to_ns
from cluster.state.requests import DeploymentStatusUpdate
from cluster.state.snapshot import StateSnapshot
from cluster.state.write_jobs import spec_changed
from cluster.structs.base import GO_ZERO_TIME
from cluster.structs.constants import DeploymentStatus, EvalStatus, EvalTrigger
from cluster.structs.deployment import Deployment
from cluster.structs.evaluation import Evaluation
from cluster.structs.job import Job

__all__ = ["DeploymentWatcher", "latest_stable_job"]


def latest_stable_job(snap: StateSnapshot, job: Job) -> Job | None:
    """The newest stable version other than the current one (the auto-revert target)."""
    for version in snap.job_versions(job.Namespace or "", job.ID or ""):
        if version.Version != job.Version and version.Stable:
            return version
    return None


class DeploymentWatcher:
    def __init__(self, new_id: Callable[[], str]) -> None:
        self.new_id = new_id
        self._healthy_seen: dict[str, int] = {}

    def _eval(self, d: Deployment, job: Job, now_ns: int) -> Evaluation:
        return Evaluation(ID=self.new_id(), Namespace=d.Namespace, Priority=d.EvalPriority or job.Priority or 50,
                          Type=job.Type or "service", TriggeredBy=EvalTrigger.DEPLOYMENT_WATCHER, JobID=d.JobID,
                          DeploymentID=d.ID, Status=EvalStatus.PENDING, CreateTime=now_ns, ModifyTime=now_ns)

    def _fail(self, snap: StateSnapshot, d: Deployment, job: Job, description: str,
              now_ns: int) -> fsm.DeploymentStatusUpdateRequest:
        revert: Job | None = None
        if any(state.AutoRevert for state in (d.TaskGroups or {}).values()):
            stable = latest_stable_job(snap, job)
            if stable is not None and spec_changed(stable, job):
                revert = msgspec.structs.replace(stable, Stable=None)
                description = DeploymentDescription.rollback(description, stable.Version or 0)
            elif stable is not None:
                description = DeploymentDescription.no_rollback_target(description, stable.Version or 0)
        update = DeploymentStatusUpdate(DeploymentID=d.ID, Status=DeploymentStatus.FAILED,
                                        StatusDescription=description)
        return fsm.DeploymentStatusUpdateRequest(DeploymentUpdate=update, Job=revert, Eval=self._eval(d, job, now_ns),
                                                 SubmitTime=now_ns)

    def step(self, snap: StateSnapshot, now_ns: int) -> list[fsm.Command]:
        commands: list[fsm.Command] = []
        for d in list(snap.deployments()):
            if d.Status != DeploymentStatus.RUNNING:
                self._healthy_seen.pop(d.ID, None)
                continue
            job = snap.job_by_id(d.Namespace, d.JobID)
            if job is None or job.Version != d.JobVersion:
                continue  # the scheduler cancels deployments of stopped or replaced jobs
            command = self._step_one(snap, d, job, now_ns)
            if command is not None:
                commands.append(command)
        return commands

    def _step_one(self, snap: StateSnapshot, d: Deployment, job: Job, now_ns: int) -> fsm.Command | None:
        allocs = [a for a in snap.allocs_by_deployment(d.ID) if not server_terminal(a)]
        if any(is_unhealthy(a) for a in allocs):
            return self._fail(snap, d, job, DeploymentDescription.FAILED_ALLOCATIONS, now_ns)
        states = d.TaskGroups or {}
        for state in states.values():
            by = state.RequireProgressBy
            done = state.HealthyAllocs >= state.DesiredTotal and (not state.DesiredCanaries or state.Promoted)
            if state.ProgressDeadline and by != GO_ZERO_TIME and now_ns > to_ns(by) and not done:
                return self._fail(snap, d, job, DeploymentDescription.PROGRESS_DEADLINE, now_ns)
        canary_groups = {name: s for name, s in states.items() if s.DesiredCanaries > 0 and not s.Promoted}
        if canary_groups and all(s.AutoPromote for s in canary_groups.values()):
            healthy = {name: 0 for name in canary_groups}
            for a in allocs:
                if a.TaskGroup in healthy and is_canary(a) and is_healthy(a):
                    healthy[a.TaskGroup] += 1
            if all(healthy[n] >= s.DesiredCanaries for n, s in canary_groups.items()):
                return fsm.DeploymentPromote(DeploymentID=d.ID, All=True, Eval=self._eval(d, job, now_ns))
        healthy_now = sum(s.HealthyAllocs for s in states.values())
        if healthy_now > self._healthy_seen.get(d.ID, 0):
            self._healthy_seen[d.ID] = healthy_now
            return fsm.EvalUpdate(Evals=[self._eval(d, job, now_ns)])
        return None

    @staticmethod
    def next_deadline_ns(snap: StateSnapshot) -> int | None:
        """The earliest progress deadline of an active deployment (when to call ``step`` again)."""
        times = [to_ns(s.RequireProgressBy) for d in snap.deployments() if d.Status == DeploymentStatus.RUNNING
                 for s in (d.TaskGroups or {}).values() if s.ProgressDeadline and s.RequireProgressBy != GO_ZERO_TIME]
        return min(times, default=None)
