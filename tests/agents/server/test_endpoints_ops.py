"""Deployment, node, allocation-stop and evaluation endpoints of one real server process, called over RPC
in the web role, with fake client nodes heartbeating to it.

What an operator notices: canaries cannot be promoted until healthy, and then are; failing a deployment
whose job asks for auto_revert brings back the last stable version; pausing stops a rollout and resuming
carries it on; a drained node becomes ineligible and its allocations move; a purged node's allocations are
lost; a stopped allocation is replaced; evaluations are found by job, status and prefix, page by page.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import pytest

from agents.rpc import Role
from agents.server.endpoints import (
    AllocListResponse,
    AllocSpecificRequest,
    EvalListRequest,
    EvalListResponse,
    EvalSpecificRequest,
    JobAllocationsResponse,
    JobRegisterRequest,
    JobRegisterResponse,
    JobSpecificRequest,
    NodeSpecificRequest,
    SingleAllocResponse,
    SingleEvalResponse,
    SingleJobResponse,
    SingleNodeResponse,
    StatusLeaderResponse,
    StatusRequest,
)
from agents.server.endpoints_deployments import (
    DeploymentAllocHealthRequest,
    DeploymentFailRequest,
    DeploymentListRequest,
    DeploymentListResponse,
    DeploymentPauseRequest,
    DeploymentPromoteRequest,
    DeploymentSpecificRequest,
    DeploymentUnblockRequest,
    DeploymentUpdateResponse,
    SingleDeploymentResponse,
)
from agents.server.endpoints_nodes import (
    AllocStopRequest,
    AllocStopResponse,
    EvalCountRequest,
    EvalCountResponse,
    NodeBatchDeregisterRequest,
    NodeEvaluateRequest,
    NodeUpdateDrainRequest,
    NodeUpdateEligibilityRequest,
    NodeWriteResponse,
)
from agents.server.listing import page
from cluster.errors import CaravanError, Conflict, InvalidInput, NotFound, Unavailable
from cluster.structs.deployment import Deployment
from cluster.structs.group import UpdateStrategy
from cluster.structs.job import Job
from cluster.structs.node import DrainStrategy
from cluster.structs.placement import Constraint
from tests.agents.server.support import FakeNode, ServerCluster, pool
from tests.unit.scheduler import factories

pytestmark = pytest.mark.slow

T = TypeVar("T")
R = TypeVar("R", bound=msgspec.Struct)
SECOND_NS = 1_000_000_000


class Harness:
    """One server process, an event loop thread for RPC and heartbeats, and fake nodes."""

    def __init__(self, root: Path) -> None:
        self.cluster = ServerCluster(root, count=1)
        self.address = self.cluster.servers[0].address
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.web = self.run(self._pool())
        self.fakes: list[FakeNode] = []

    @staticmethod
    async def _pool() -> Any:
        return pool(Role.WEB, "ops-test")

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(20)

    def call(self, method: str, args: msgspec.Struct, result_type: type[R]) -> R:
        return self.run(self.web.call(self.address, method, args, result_type, timeout_s=10))

    def add_node(self, name: str) -> str:
        fake = FakeNode(factories.node(name=name, drivers=("raw_exec",)), [self.address])
        eventually(lambda: self._registered(fake), f"{name} registered")
        self.fakes.append(fake)
        return fake.node.ID

    def _registered(self, fake: FakeNode) -> bool:
        try:
            self.run(fake.register())
        except Unavailable:
            return False
        return True

    def fake(self, node_id: str) -> FakeNode:
        return next(f for f in self.fakes if node_id == f.node.ID)

    def close(self) -> None:
        for fake in self.fakes:
            self.run(fake.close())
        self.run(self.web.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()
        self.cluster.stop()

    # ---- reads ------------------------------------------------------------------------------------

    def register(self, job: Job) -> JobRegisterResponse:
        return self.call("Job.Register", JobRegisterRequest(Job=job), JobRegisterResponse)

    def job(self, job_id: str) -> Job:
        found = self.call("Job.Get", JobSpecificRequest(JobID=job_id), SingleJobResponse).Job
        assert found is not None
        return found

    def allocs(self, job_id: str) -> list[Any]:
        return self.call("Job.Allocations", JobSpecificRequest(JobID=job_id), JobAllocationsResponse).Allocations

    def alloc(self, alloc_id: str) -> Any:
        return self.call("Alloc.Get", AllocSpecificRequest(AllocID=alloc_id), SingleAllocResponse).Alloc

    def deployment(self, deployment_id: str) -> Deployment:
        found = self.call("Deployment.GetDeployment", DeploymentSpecificRequest(DeploymentID=deployment_id),
                          SingleDeploymentResponse).Deployment
        assert found is not None
        return found

    def deployment_of(self, job_id: str, version: int) -> Deployment | None:
        listed = self.call("Deployment.List", DeploymentListRequest(), DeploymentListResponse).Deployments
        return next((d for d in listed if d.JobID == job_id and d.JobVersion == version), None)

    def live_allocs(self, job_id: str, version: int, count: int) -> list[Any] | None:
        live = [a for a in self.allocs(job_id) if a.DesiredStatus == "run" and a.JobVersion == version]
        return live if len(live) >= count else None

    def update(self, method: str, args: msgspec.Struct) -> DeploymentUpdateResponse:
        return self.call(method, args, DeploymentUpdateResponse)


def eventually(check: Callable[[], T | None], what: str, timeout_s: float = 15) -> T:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            result = check()
        except CaravanError:
            result = None
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


@pytest.fixture(scope="module")
def ops(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    harness = Harness(tmp_path_factory.mktemp("ops"))
    harness.cluster.start()
    try:
        eventually(lambda: harness.call("Status.Leader", StatusRequest(), StatusLeaderResponse).Leader,
                   "a leader", 30)
        harness.add_node("ops-node-1")
        harness.add_node("ops-node-2")
        yield harness
    except BaseException:
        print(harness.cluster.logs())
        raise
    finally:
        harness.close()


def canary_job(job_id: str, *, version_tag: str = "0", count: int = 2, auto_revert: bool = True,
               on_node: str | None = None) -> Job:
    """A service job whose updates go through one canary with manually set health."""
    update = UpdateStrategy(MaxParallel=1, Canary=1, HealthCheck="manual", MinHealthyTime=0,
                            HealthyDeadline=60 * SECOND_NS, ProgressDeadline=120 * SECOND_NS, AutoRevert=auto_revert)
    constraints = [Constraint(LTarget="${node.unique.name}", RTarget=on_node, Operand="=")] if on_node else None
    job = factories.job(job_id, count=count, cpu=50, memory_mb=32, driver="raw_exec", update=update,
                        constraints=constraints)
    assert job.TaskGroups is not None
    for task in job.TaskGroups[0].Tasks or []:
        task.Env = {"VERSION": version_tag}
    return job


def stable_first_version(ops: Harness, job_id: str, **kwargs: Any) -> Deployment:
    """Registers ``job_id``, marks its first allocations healthy and waits for that version to be stable."""
    ops.register(canary_job(job_id, **kwargs))
    first = eventually(lambda: ops.deployment_of(job_id, 0), f"{job_id}'s first deployment")
    allocs = eventually(lambda: ops.live_allocs(job_id, 0, 2), f"{job_id}'s allocations")
    reply = ops.update("Deployment.SetAllocHealth", DeploymentAllocHealthRequest(
        DeploymentID=first.ID, HealthyAllocationIDs=[a.ID for a in allocs]))
    assert reply.EvalID and reply.EvalCreateIndex > 0 and reply.DeploymentModifyIndex > first.ModifyIndex
    eventually(lambda: ops.deployment(first.ID).Status == "successful", f"{job_id}'s first deployment done")
    assert ops.job(job_id).Stable is True
    return first


def canary_deployment(ops: Harness, job_id: str) -> tuple[Deployment, str]:
    """Registers a changed version of ``job_id``; its deployment and the canary it placed."""
    ops.register(canary_job(job_id, version_tag="1"))
    d = eventually(lambda: ops.deployment_of(job_id, 1), f"{job_id}'s canary deployment")
    canaries = eventually(lambda: ops.deployment(d.ID).TaskGroups["web"].PlacedCanaries,  # type: ignore[index]
                          f"{job_id}'s canary")
    return ops.deployment(d.ID), canaries[0]


# ---- deployments ------------------------------------------------------------------------------------


def test_canaries_are_promoted_only_once_healthy(ops: Harness) -> None:
    stable_first_version(ops, "promote-me")
    d, canary = canary_deployment(ops, "promote-me")
    assert d.StatusDescription == "Deployment is running but requires manual promotion"

    with pytest.raises(Conflict, match=r'task group "web" has 0/1 healthy'):
        ops.update("Deployment.Promote", DeploymentPromoteRequest(DeploymentID=d.ID, All=True))
    with pytest.raises(InvalidInput, match="no task group 'nope'"):
        ops.update("Deployment.Promote", DeploymentPromoteRequest(DeploymentID=d.ID, Groups=["nope"]))
    assert ops.deployment(d.ID).TaskGroups["web"].Promoted is False  # type: ignore[index]

    ops.update("Deployment.SetAllocHealth", DeploymentAllocHealthRequest(DeploymentID=d.ID,
                                                                           HealthyAllocationIDs=[canary]))
    reply = ops.update("Deployment.Promote", DeploymentPromoteRequest(DeploymentID=d.ID, Groups=["web"]))
    promoted = ops.deployment(d.ID)
    assert promoted.TaskGroups["web"].Promoted is True  # type: ignore[index]
    assert promoted.StatusDescription == "Deployment is running"
    assert reply.DeploymentModifyIndex >= promoted.CreateIndex and reply.Index >= reply.DeploymentModifyIndex
    ev = ops.call("Eval.Get", EvalSpecificRequest(EvalID=reply.EvalID), SingleEvalResponse).Eval
    assert ev is not None and ev.DeploymentID == d.ID and ev.TriggeredBy == "deployment-watcher"
    assert ev.CreateIndex == reply.EvalCreateIndex
    # The promoted rollout goes on: the scheduler replaces the old version's allocations.
    eventually(lambda: ops.live_allocs("promote-me", 1, 2), "the rollout after promotion")


def test_failing_a_deployment_reverts_to_the_stable_version(ops: Harness) -> None:
    stable_first_version(ops, "fail-me")
    d, _ = canary_deployment(ops, "fail-me")
    reply = ops.update("Deployment.Fail", DeploymentFailRequest(DeploymentID=d.ID))
    assert reply.RevertedJobVersion == 0 and reply.EvalID
    failed = ops.deployment(d.ID)
    assert failed.Status == "failed"
    assert failed.StatusDescription == "Deployment marked as failed - rolling back to job version 0"
    job = ops.job("fail-me")
    assert job.Version == 2 and job.TaskGroups[0].Tasks[0].Env == {"VERSION": "0"}  # type: ignore[index]

    with pytest.raises(Conflict, match="can't fail terminal deployment"):
        ops.update("Deployment.Fail", DeploymentFailRequest(DeploymentID=d.ID))
    with pytest.raises(NotFound, match="not found"):
        ops.update("Deployment.Fail", DeploymentFailRequest(DeploymentID="00000000-0000-4000-8000-000000000000"))


def test_an_unhealthy_allocation_fails_the_deployment(ops: Harness) -> None:
    ops.register(canary_job("sick", auto_revert=False))
    d = eventually(lambda: ops.deployment_of("sick", 0), "sick's deployment")
    (first, *_) = eventually(lambda: ops.live_allocs("sick", 0, 2), "sick's allocations")
    with pytest.raises(InvalidInput, match="both healthy and unhealthy"):
        ops.update("Deployment.SetAllocHealth", DeploymentAllocHealthRequest(
            DeploymentID=d.ID, HealthyAllocationIDs=[first.ID], UnhealthyAllocationIDs=[first.ID]))
    reply = ops.update("Deployment.SetAllocHealth", DeploymentAllocHealthRequest(
        DeploymentID=d.ID, UnhealthyAllocationIDs=[first.ID]))
    failed = ops.deployment(d.ID)
    assert (failed.Status, failed.StatusDescription) == ("failed", "Failed due to unhealthy allocations")
    assert reply.RevertedJobVersion is None
    assert ops.alloc(first.ID).DeploymentStatus.Healthy is False


def test_pause_stops_and_resume_continues_a_rollout(ops: Harness) -> None:
    ops.register(canary_job("pausable"))
    d = eventually(lambda: ops.deployment_of("pausable", 0), "pausable's deployment")
    paused = ops.update("Deployment.Pause", DeploymentPauseRequest(DeploymentID=d.ID, Pause=True))
    assert paused.EvalID == "" and paused.DeploymentModifyIndex > d.ModifyIndex
    assert (ops.deployment(d.ID).Status, ops.deployment(d.ID).StatusDescription) == ("paused", "Deployment is paused")

    resumed = ops.update("Deployment.Pause", DeploymentPauseRequest(DeploymentID=d.ID, Pause=False))
    assert resumed.EvalID and resumed.EvalCreateIndex > 0
    assert (ops.deployment(d.ID).Status, ops.deployment(d.ID).StatusDescription) == ("running", "Deployment is running")
    with pytest.raises(InvalidInput, match="not multiregion"):
        ops.update("Deployment.Unblock", DeploymentUnblockRequest(DeploymentID=d.ID))


def test_deployments_are_listed_by_prefix_and_page(ops: Harness) -> None:
    ops.register(canary_job("listed-a"))
    ops.register(canary_job("listed-b"))
    a = eventually(lambda: ops.deployment_of("listed-a", 0), "a deployment")
    eventually(lambda: ops.deployment_of("listed-b", 0), "b deployment")
    everything = ops.call("Deployment.List", DeploymentListRequest(), DeploymentListResponse).Deployments
    assert [d.CreateIndex for d in everything] == sorted(d.CreateIndex for d in everything)
    first = ops.call("Deployment.List", DeploymentListRequest(PerPage=1), DeploymentListResponse)
    assert len(first.Deployments) == 1 and first.NextToken
    rest = ops.call("Deployment.List", DeploymentListRequest(PerPage=1000, NextToken=first.NextToken),
                    DeploymentListResponse)
    assert [d.ID for d in first.Deployments + rest.Deployments] == [d.ID for d in everything]
    by_prefix = ops.call("Deployment.List", DeploymentListRequest(Prefix=a.ID[:12]), DeploymentListResponse)
    assert [d.ID for d in by_prefix.Deployments] == [a.ID]
    by_filter = ops.call("Deployment.List", DeploymentListRequest(Filter='JobID == "listed-b"'),
                         DeploymentListResponse)
    assert [d.JobID for d in by_filter.Deployments] == ["listed-b"]
    elsewhere = ops.call("Deployment.List", DeploymentListRequest(Namespace="other"), DeploymentListResponse)
    assert elsewhere.Deployments == []
    allocs = ops.call("Deployment.Allocations", DeploymentSpecificRequest(DeploymentID=a.ID), AllocListResponse)
    assert {x.JobID for x in allocs.Allocations} == {"listed-a"} and len(allocs.Allocations) == 2


def test_page_tokens_resume_where_the_last_page_ended() -> None:
    items = [(i, f"id-{i}") for i in (5, 1, 3, 2, 4)]
    first, token = page(items, lambda x: x, 2, "")
    assert first == [(1, "id-1"), (2, "id-2")] and token == "3.id-3"
    second, token = page(items, lambda x: x, 2, token)
    assert second == [(3, "id-3"), (4, "id-4")]
    assert page(items, lambda x: x, 2, token) == ([(5, "id-5")], "")
    with pytest.raises(InvalidInput, match="not a token"):
        page(items, lambda x: x, 2, "garbage")


# ---- nodes --------------------------------------------------------------------------------------------


def _node(ops: Harness, node_id: str) -> Any:
    return ops.call("Node.Get", NodeSpecificRequest(NodeID=node_id), SingleNodeResponse).Node


def test_eligibility_toggles_and_is_refused_while_draining(ops: Harness) -> None:
    node_id = ops.add_node("elig-node")
    reply = ops.call("Node.UpdateEligibility", NodeUpdateEligibilityRequest(NodeID=node_id, Eligibility="ineligible"),
                     NodeWriteResponse)
    node = _node(ops, node_id)
    assert node.SchedulingEligibility == "ineligible" and reply.NodeModifyIndex == node.ModifyIndex
    with pytest.raises(InvalidInput, match="invalid scheduling eligibility"):
        ops.call("Node.UpdateEligibility", NodeUpdateEligibilityRequest(NodeID=node_id, Eligibility="maybe"),
                 NodeWriteResponse)
    ops.call("Node.UpdateEligibility", NodeUpdateEligibilityRequest(NodeID=node_id, Eligibility="eligible"),
             NodeWriteResponse)
    assert _node(ops, node_id).SchedulingEligibility == "eligible"

    ops.register(canary_job("elig-pinned", count=1, on_node="elig-node"))  # work, so the drain lasts
    eventually(lambda: ops.live_allocs("elig-pinned", 0, 1), "elig-pinned's allocation")
    ops.call("Node.UpdateDrain", NodeUpdateDrainRequest(NodeID=node_id, DrainStrategy=DrainStrategy(
        Deadline=3600 * SECOND_NS)), NodeWriteResponse)
    with pytest.raises(Conflict, match="draining"):
        ops.call("Node.UpdateEligibility", NodeUpdateEligibilityRequest(NodeID=node_id, Eligibility="eligible"),
                 NodeWriteResponse)


def test_forced_drain_moves_the_allocations_off_the_node(ops: Harness) -> None:
    node_id = ops.add_node("drain-node")
    ops.register(canary_job("pinned", count=1, on_node="drain-node"))
    (alloc,) = eventually(lambda: ops.live_allocs("pinned", 0, 1), "pinned's allocation")
    assert alloc.NodeID == node_id

    reply = ops.call("Node.UpdateDrain", NodeUpdateDrainRequest(
        NodeID=node_id, DrainStrategy=DrainStrategy(Deadline=-1, IgnoreSystemJobs=True), Meta={"reason": "kernel"}),
        NodeWriteResponse)
    node = _node(ops, node_id)
    assert node.Drain is True and node.SchedulingEligibility == "ineligible"
    assert node.DrainStrategy.IgnoreSystemJobs is True and node.LastDrain.Status == "draining"
    assert node.Events[-1].Message == "Node drain strategy set" and node.Events[-1].Details == {"reason": "kernel"}
    assert len(reply.EvalIDs) == 1 and reply.EvalCreateIndex > 0
    ev = ops.call("Eval.Get", EvalSpecificRequest(EvalID=reply.EvalIDs[0]), SingleEvalResponse).Eval
    assert ev is not None and (ev.JobID, ev.TriggeredBy) == ("pinned", "node-drain")
    assert ops.alloc(alloc.ID).DesiredTransition.Migrate is True
    eventually(lambda: ops.alloc(alloc.ID).DesiredStatus == "stop", "the drained allocation stopped")

    ops.call("Node.UpdateDrain", NodeUpdateDrainRequest(NodeID=node_id, MarkEligible=True), NodeWriteResponse)
    node = _node(ops, node_id)
    assert node.Drain is False and node.SchedulingEligibility == "eligible"
    assert node.LastDrain.Status in ("canceled", "complete")


def test_draining_an_empty_node_completes_at_once(ops: Harness) -> None:
    node_id = ops.add_node("empty-node")
    reply = ops.call("Node.UpdateDrain", NodeUpdateDrainRequest(NodeID=node_id, DrainStrategy=DrainStrategy(
        Deadline=60 * SECOND_NS)), NodeWriteResponse)
    node = _node(ops, node_id)
    assert reply.EvalIDs == [] and node.Drain is False and node.LastDrain.Status == "complete"
    assert node.SchedulingEligibility == "ineligible"


def test_purged_node_is_gone_and_its_allocations_lost(ops: Harness) -> None:
    node_id = ops.add_node("purge-node")
    ops.register(canary_job("doomed", count=1, on_node="purge-node"))
    (alloc,) = eventually(lambda: ops.live_allocs("doomed", 0, 1), "doomed's allocation")
    ops.run(ops.fake(node_id).stop_heartbeats())
    reply = ops.call("Node.Deregister", NodeBatchDeregisterRequest(NodeIDs=[node_id]), NodeWriteResponse)
    assert len(reply.EvalIDs) == 1 and reply.EvalCreateIndex > 0 and reply.Index >= reply.EvalCreateIndex
    assert _node(ops, node_id) is None
    eventually(lambda: ops.alloc(alloc.ID).ClientStatus == "lost", "the purged node's allocation lost")
    with pytest.raises(NotFound):
        ops.call("Node.Deregister", NodeBatchDeregisterRequest(NodeIDs=[node_id]), NodeWriteResponse)


def test_node_evaluate_creates_an_evaluation_per_job_on_it(ops: Harness) -> None:
    node_id = ops.add_node("eval-node")
    ops.register(canary_job("evaluated", count=1, on_node="eval-node"))
    eventually(lambda: ops.live_allocs("evaluated", 0, 1), "evaluated's allocation")
    reply = ops.call("Node.Evaluate", NodeEvaluateRequest(NodeID=node_id), NodeWriteResponse)
    (eval_id,) = reply.EvalIDs
    ev = ops.call("Eval.Get", EvalSpecificRequest(EvalID=eval_id), SingleEvalResponse).Eval
    assert ev is not None and (ev.JobID, ev.NodeID, ev.TriggeredBy) == ("evaluated", node_id, "node-update")
    assert reply.NodeModifyIndex == _node(ops, node_id).ModifyIndex


# ---- allocation stop and evaluations --------------------------------------------------------------------


def test_stopped_allocation_is_replaced(ops: Harness) -> None:
    ops.register(canary_job("stoppable", count=1))
    (alloc,) = eventually(lambda: ops.live_allocs("stoppable", 0, 1), "stoppable's allocation")
    reply = ops.call("Alloc.Stop", AllocStopRequest(AllocID=alloc.ID, NoShutdownDelay=True), AllocStopResponse)
    assert reply.EvalID and reply.Index > 0
    stopped = ops.alloc(alloc.ID)
    assert stopped.DesiredTransition.Migrate is True and stopped.DesiredTransition.NoShutdownDelay is True
    ev = ops.call("Eval.Get", EvalSpecificRequest(EvalID=reply.EvalID), SingleEvalResponse).Eval
    assert ev is not None and ev.TriggeredBy == "alloc-stop"
    replacement = eventually(lambda: [a for a in ops.live_allocs("stoppable", 0, 1) or [] if a.ID != alloc.ID],
                             "a replacement allocation")
    assert replacement and ops.alloc(alloc.ID).DesiredStatus == "stop"
    with pytest.raises(NotFound):
        ops.call("Alloc.Stop", AllocStopRequest(AllocID="00000000-0000-4000-8000-000000000000"), AllocStopResponse)


def test_evaluations_are_filtered_counted_and_paged(ops: Harness) -> None:
    first = ops.register(canary_job("evals-a", count=1))
    ops.register(canary_job("evals-a", count=1, version_tag="1"))
    eventually(lambda: ops.live_allocs("evals-a", 0, 1), "evals-a's allocation")
    complete = eventually(lambda: ops.call("Eval.List", EvalListRequest(
        FilterJobID="evals-a", FilterEvalStatus="complete"), EvalListResponse).Evaluations, "a complete eval")
    assert {e.JobID for e in complete} == {"evals-a"} and {e.Status for e in complete} == {"complete"}
    by_job = ops.call("Eval.List", EvalListRequest(FilterJobID="evals-a"), EvalListResponse)
    assert first.EvalID in [e.ID for e in by_job.Evaluations]
    count = ops.call("Eval.Count", EvalCountRequest(FilterJobID="evals-a"), EvalCountResponse)
    assert count.Count == len(by_job.Evaluations) and count.Index > 0

    pages: list[str] = []
    token = ""
    while True:
        reply = ops.call("Eval.List", EvalListRequest(PerPage=2, NextToken=token), EvalListResponse)
        assert len(reply.Evaluations) <= 2
        pages += [e.ID for e in reply.Evaluations]
        token = reply.NextToken
        if not token:
            break
    everything = ops.call("Eval.List", EvalListRequest(), EvalListResponse).Evaluations
    assert pages == [e.ID for e in everything] and len(pages) > 2
    prefixed = ops.call("Eval.List", EvalListRequest(Prefix=first.EvalID[:10]), EvalListResponse)
    assert [e.ID for e in prefixed.Evaluations] == [first.EvalID]
    expression = 'JobID == "evals-a" and TriggeredBy == "job-register"'
    by_filter = ops.call("Eval.List", EvalListRequest(Filter=expression), EvalListResponse)
    assert [e.JobID for e in by_filter.Evaluations] == ["evals-a", "evals-a"]
    assert ops.call("Eval.Count", EvalCountRequest(Filter=expression), EvalCountResponse).Count == 2
    with pytest.raises(InvalidInput, match="column"):
        ops.call("Eval.List", EvalListRequest(Filter="JobID =="), EvalListResponse)
    with pytest.raises(InvalidInput, match="unknown evaluation status"):
        ops.call("Eval.Count", EvalCountRequest(FilterEvalStatus="done"), EvalCountResponse)

    placed = ops.call("Eval.Allocations", EvalSpecificRequest(EvalID=first.EvalID), AllocListResponse).Allocations
    assert [a.JobID for a in placed] == ["evals-a"] and placed[0].EvalID == first.EvalID


def test_writes_are_refused_to_clients(ops: Harness) -> None:
    client = pool(Role.CLIENT, "not-an-operator")
    try:
        with pytest.raises(CaravanError):
            ops.run(client.call(ops.address, "Node.UpdateEligibility",
                                NodeUpdateEligibilityRequest(NodeID=ops.fakes[0].node.ID, Eligibility="ineligible"),
                                NodeWriteResponse, timeout_s=5))
    finally:
        ops.run(client.close())
    assert _node(ops, ops.fakes[0].node.ID).SchedulingEligibility == "eligible"
