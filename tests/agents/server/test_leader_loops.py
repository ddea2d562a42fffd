"""The leader's deployment watcher, node drainer, periodic dispatcher and garbage collector, on one server
agent in this process (fast Raft timers) with fake clients over real RPC on loopback.

What a user notices: healthy canaries are promoted and the rollout finishes with the version marked
stable; an unhealthy allocation fails the deployment and rolls back; a deployment that makes no progress
fails at its deadline; a drained node's allocations move ``max_parallel`` at a time and the drain
completes, and at the drain deadline whatever is left moves at once; a periodic job launches children on its cron, skips launches while one runs with
``prohibit_overlap``, catches up one missed launch on a new leadership term, launches on demand; old
terminal evaluations disappear at the ``job_gc_interval`` set in the server's HCL, and a forced GC
purges a dead job at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import msgspec
import pytest

from agents.config import load
from agents.rpc import Role
from agents.server.agent import ServerAgent
from agents.server.core_gc import GCSettings, force_gc
from agents.server.endpoints import (
    AllocUpdateRequest,
    GenericResponse,
    JobRegisterRequest,
    JobRegisterResponse,
)
from agents.server.periodic import force_launch
from agents.server.raft_runtime import RuntimeConfig
from cluster import fsm
from cluster.state.snapshot import StateSnapshot
from cluster.state.write_allocs import AllocClientUpdate
from cluster.structs.alloc import Allocation, AllocDeploymentStatus
from cluster.structs.constants import EvalStatus
from cluster.structs.group import MigrateStrategy, UpdateStrategy
from cluster.structs.job import Job, PeriodicConfig
from cluster.structs.node import DrainStrategy
from tests.agents.server.support import KEY, FakeNode, free_ports, pool, server_hcl
from tests.unit.scheduler import factories

pytestmark = pytest.mark.slow

FAST_RAFT = RuntimeConfig(cluster_key=KEY, tick_ms=10, election_ticks=10)
SECOND_NS = 1_000_000_000
GC_HCL = '''  job_gc_interval   = "200ms"
  eval_gc_threshold = "1s"
'''
T = TypeVar("T")


class Cluster:
    """One server agent, a web pool, a client pool and fake nodes."""

    def __init__(self, agent: ServerAgent) -> None:
        self.agent = agent
        self.address = agent.member.RPCAddr
        self.web = pool(Role.WEB, "web-test")
        self.client = pool(Role.CLIENT, "client-test")
        self.nodes: list[FakeNode] = []

    @property
    def snap(self) -> StateSnapshot:
        return self.agent.fsm.store.snapshot()

    async def add_node(self) -> str:
        node = FakeNode(factories.node(), [self.address])
        await node.register()
        self.nodes.append(node)
        return node.node.ID

    async def register(self, job: Job) -> JobRegisterResponse:
        return await self.web.call(self.address, "Job.Register", JobRegisterRequest(Job=job), JobRegisterResponse,
                                   timeout_s=5)

    async def report(self, allocs: list[Allocation], healthy: bool) -> None:
        """What a client sends once it decided the allocations' deployment health."""
        stamp = datetime.now(tz=UTC)
        updates = [AllocClientUpdate(ID=a.ID, ClientStatus="running",
                                     DeploymentStatus=AllocDeploymentStatus(Healthy=healthy, Timestamp=stamp))
                   for a in allocs]
        await self.client.call(self.address, "Alloc.UpdateFromClient", AllocUpdateRequest(Alloc=updates),
                               GenericResponse, timeout_s=5)

    async def finish(self, allocs: list[Allocation]) -> None:
        updates = [AllocClientUpdate(ID=a.ID, ClientStatus="complete") for a in allocs]
        await self.client.call(self.address, "Alloc.UpdateFromClient", AllocUpdateRequest(Alloc=updates),
                               GenericResponse, timeout_s=5)

    def live(self, job_id: str) -> list[Allocation]:
        return [a for a in self.snap.allocs_by_job("default", job_id)
                if a.DesiredStatus == "run" and a.ClientStatus in ("pending", "running")]

    def undecided(self, job_id: str) -> list[Allocation]:
        return [a for a in self.live(job_id) if a.DeploymentStatus is None or a.DeploymentStatus.Healthy is None]

    async def close(self) -> None:
        for node in self.nodes:
            await node.close()
        await self.web.close()
        await self.client.close()


async def until(check: Callable[[], T | None], what: str, timeout_s: float = 10) -> T:
    """Polls ``check`` until it returns something true (``x and y and value`` reads as "value once x, y")."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        result = check()
        if result:
            return result
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


@asynccontextmanager
async def one_server(tmp_path: Path) -> AsyncIterator[Cluster]:
    rpc, serf, http = free_ports(3)
    hcl = server_hcl("solo", tmp_path / "data", rpc, serf, http, [], 1, "2s", "2s")
    config_file = tmp_path / "server.hcl"
    config_file.write_text(hcl.replace("  num_schedulers    = 2\n", "  num_schedulers    = 2\n" + GC_HCL))
    agent = ServerAgent(load(["-server", "-config", str(config_file)]).config, raft=FAST_RAFT)
    assert agent._leader_config().gc == GCSettings.from_server(agent.config.server)  # the HCL's GC settings
    await agent.start()
    cluster = Cluster(agent)
    try:
        await until(lambda: agent.loops is not None and agent.loops.running, "leadership", 5)
        yield cluster
    finally:
        await cluster.close()
        await agent.stop()


def run(tmp_path: Path, body: Callable[[Cluster], Awaitable[None]], timeout_s: float = 40) -> None:
    async def main() -> None:
        async with one_server(tmp_path) as cluster:
            await body(cluster)

    asyncio.run(asyncio.wait_for(main(), timeout_s))


def web_job(count: int, memory_mb: int = 256, **update: int | bool) -> Job:
    strategy = UpdateStrategy(MaxParallel=1, HealthCheck="task_states", MinHealthyTime=0,
                              HealthyDeadline=5 * 60 * SECOND_NS, ProgressDeadline=10 * 60 * SECOND_NS)
    strategy = msgspec.structs.replace(strategy, **update)
    return factories.job("web", count=count, driver="raw_exec", memory_mb=memory_mb, update=strategy)


async def roll_out(c: Cluster, job_id: str, healthy_each: int | None = None) -> None:
    """Reports health for each new allocation as it appears until the rollout is over; at most
    ``healthy_each`` appear at a time (the update's ``max_parallel``) if given."""
    while True:
        deployment = c.snap.latest_deployment_by_job("default", job_id)
        if deployment is not None and deployment.Status != "running":
            return
        fresh = await until(lambda: c.undecided(job_id) or (
            (d := c.snap.latest_deployment_by_job("default", job_id)) is not None and d.Status != "running"),
            "a new allocation or the end of the deployment")
        if isinstance(fresh, list):
            assert healthy_each is None or len(fresh) <= healthy_each
            await c.report(fresh, healthy=True)


# ---- deployments ----------------------------------------------------------------------------------


def test_canaries_are_auto_promoted_and_the_rollout_ends_stable(tmp_path: Path) -> None:
    async def body(c: Cluster) -> None:
        await c.add_node()
        await c.register(web_job(2))
        await roll_out(c, "web")
        first = c.snap.latest_deployment_by_job("default", "web")
        assert first is not None and first.Status == "successful"
        assert c.snap.job_by_id("default", "web").Stable is True  # type: ignore[union-attr]

        await c.register(web_job(2, memory_mb=300, Canary=1, AutoPromote=True))
        canary = (await until(lambda: c.undecided("web"), "the canary"))
        assert len(canary) == 1 and canary[0].DeploymentStatus is not None and canary[0].DeploymentStatus.Canary
        await c.report(canary, healthy=True)
        second = await until(lambda: (d := c.snap.latest_deployment_by_job("default", "web")) is not None
                             and d.TaskGroups is not None and d.TaskGroups["web"].Promoted and d, "promotion")
        await roll_out(c, "web", 1)
        done = c.snap.deployment_by_id(second.ID)
        assert done is not None and done.Status == "successful"
        assert done.StatusDescription == "Deployment completed successfully"
        job = c.snap.job_by_id("default", "web")
        assert job is not None and job.Version == 1 and job.Stable is True
        assert sorted(a.Job.Version for a in c.live("web") if a.Job is not None) == [1, 1]

    run(tmp_path, body)


def test_an_unhealthy_allocation_fails_the_deployment_and_reverts_to_the_stable_version(tmp_path: Path) -> None:
    async def body(c: Cluster) -> None:
        await c.add_node()
        await c.register(web_job(2, AutoRevert=True))
        await roll_out(c, "web")
        await c.register(web_job(2, memory_mb=300, AutoRevert=True))
        bad = await until(lambda: c.undecided("web"), "the first allocation of version 1")
        await c.report(bad, healthy=False)
        failed = await until(lambda: next((d for d in c.snap.deployments_by_job("default", "web")
                                           if d.Status == "failed"), None), "the failed deployment")
        assert failed.StatusDescription == "Failed due to unhealthy allocations - rolling back to job version 0"
        job = await until(lambda: (j := c.snap.job_by_id("default", "web")) is not None and j.Version == 2 and j,
                          "the reverted job")
        assert job.TaskGroups is not None and job.TaskGroups[0].Tasks[0].Resources.MemoryMB == 256  # type: ignore

    run(tmp_path, body)


def test_a_deployment_without_progress_fails_at_its_deadline(tmp_path: Path) -> None:
    async def body(c: Cluster) -> None:
        await c.add_node()
        await c.register(web_job(1, HealthyDeadline=SECOND_NS // 2, ProgressDeadline=SECOND_NS))
        await until(lambda: c.undecided("web"), "the allocation")
        failed = await until(lambda: (d := c.snap.latest_deployment_by_job("default", "web")) is not None
                             and d.Status == "failed" and d, "the deadline", 5)
        assert failed.StatusDescription == "Failed due to progress deadline"

    run(tmp_path, body)


# ---- drains --------------------------------------------------------------------------------------


def test_a_drain_migrates_max_parallel_at_a_time_and_completes(tmp_path: Path) -> None:
    async def body(c: Cluster) -> None:
        old_node = await c.add_node()
        job = factories.job("web", count=2, driver="raw_exec")
        assert job.TaskGroups is not None
        job.TaskGroups[0].Migrate = MigrateStrategy(MaxParallel=1, HealthCheck="task_states", MinHealthyTime=0,
                                                    HealthyDeadline=60 * SECOND_NS)
        await c.register(job)
        placed = await until(lambda: len(c.live("web")) == 2 and c.live("web"), "two allocations")
        await c.report(placed, healthy=True)
        new_node = await c.add_node()
        now = datetime.now(tz=UTC)
        await c.agent.propose(fsm.NodeUpdateDrain(NodeID=old_node, DrainStrategy=DrainStrategy(
            Deadline=60 * SECOND_NS, StartedAt=now), UpdatedAt=now))
        moved = 0
        while moved < 2:
            fresh = await until(lambda: [a for a in c.undecided("web") if a.NodeID == new_node], "a replacement")
            marked = [a for a in c.snap.allocs_by_node(old_node) if a.DesiredTransition.Migrate]
            assert len(fresh) == 1 and len(marked) == moved + 1  # one at a time: max_parallel = 1
            await c.report(fresh, healthy=True)
            moved += 1
        node = await until(lambda: (n := c.snap.node_by_id(old_node)) is not None and n.DrainStrategy is None and n,
                           "the drain to complete")
        assert node.SchedulingEligibility == "ineligible" and node.LastDrain is not None
        assert node.LastDrain.Status == "complete"
        assert {a.NodeID for a in c.live("web")} == {new_node}

    run(tmp_path, body)


def test_at_the_drain_deadline_everything_left_is_moved(tmp_path: Path) -> None:
    async def body(c: Cluster) -> None:
        old_node = await c.add_node()
        await c.register(factories.job("web", count=2, driver="raw_exec"))
        await until(lambda: len(c.live("web")) == 2, "two allocations")  # never reported healthy
        new_node = await c.add_node()
        now = datetime.now(tz=UTC)
        await c.agent.propose(fsm.NodeUpdateDrain(NodeID=old_node, DrainStrategy=DrainStrategy(
            Deadline=SECOND_NS, StartedAt=now), UpdatedAt=now))
        await asyncio.sleep(0.5)
        assert not any(a.DesiredTransition.Migrate for a in c.snap.allocs_by_node(old_node))  # none healthy
        await until(lambda: {a.NodeID for a in c.live("web")} == {new_node}, "the forced migration", 5)
        await until(lambda: (n := c.snap.node_by_id(old_node)) is not None and n.DrainStrategy is None,
                    "the drain to complete")

    run(tmp_path, body)


# ---- periodic jobs -------------------------------------------------------------------------------


def periodic(job_id: str, spec: str, prohibit_overlap: bool = False) -> Job:
    job = factories.job(job_id, type="batch", count=1, driver="raw_exec")
    job.Periodic = PeriodicConfig(Enabled=True, Spec=spec, SpecType="cron", TimeZone="UTC",
                                  ProhibitOverlap=prohibit_overlap)
    return job


def children(c: Cluster, parent: str) -> list[Job]:
    return sorted((j for j in c.snap.jobs("default") if j.ParentID == parent), key=lambda j: j.ID or "")


def test_a_periodic_job_launches_children_on_its_cron_and_on_demand(tmp_path: Path) -> None:
    async def body(c: Cluster) -> None:
        await c.register(periodic("tick", "* * * * * * *"))
        launched = await until(lambda: len(kids := children(c, "tick")) >= 2 and kids, "two launches", 5)
        for kid in launched:
            assert kid.ID is not None and kid.ID.startswith("tick/periodic-") and kid.Periodic is None
            triggers = [e.TriggeredBy for e in c.snap.evals_by_job("default", kid.ID)]
            assert triggers.count("periodic-job") == 1  # (and, with no node, the blocked one it left)
        seconds = [int((k.ID or "").rsplit("-", 1)[1]) for k in launched]
        assert len(set(seconds)) == len(seconds)
        await c.agent.propose(fsm.JobDeregister(Namespace="default", JobID="tick", SubmitTime=c.agent.now_ns()))
        await asyncio.sleep(0.2)
        after_stop = len(children(c, "tick"))
        await asyncio.sleep(1.5)
        assert len(children(c, "tick")) == after_stop  # a stopped periodic job launches no more

        await c.agent.propose(fsm.JobRegister(Job=periodic("nightly", "0 3 * * *"), SubmitTime=c.agent.now_ns()))
        child_id, eval_id = await force_launch(c.agent, "default", "nightly")
        assert [j.ID for j in children(c, "nightly")] == [child_id]
        assert c.snap.eval_by_id(eval_id) is not None

    run(tmp_path, body)


def test_prohibit_overlap_skips_launches_while_a_child_runs(tmp_path: Path) -> None:
    async def body(c: Cluster) -> None:
        # No node: the first child's evaluation stays blocked, so the child never finishes.
        await c.register(periodic("lonely", "* * * * * * *", prohibit_overlap=True))
        await until(lambda: children(c, "lonely"), "the first launch", 5)
        await asyncio.sleep(2.2)
        assert len(children(c, "lonely")) == 1

    run(tmp_path, body)


def test_a_new_leadership_term_launches_the_one_missed_launch(tmp_path: Path) -> None:
    async def body(c: Cluster) -> None:
        two_days_ago = c.agent.now_ns() - 2 * 86_400 * SECOND_NS
        await c.agent.propose(fsm.JobRegister(Job=periodic("daily", "@daily"), SubmitTime=two_days_ago))
        await asyncio.sleep(0.3)
        assert children(c, "daily") == []  # seen while leading: scheduled from now, nothing missed
        loops = c.agent.loops
        assert loops is not None
        await loops.stop()
        loops.start()
        (child,) = await until(lambda: children(c, "daily"), "the catch-up launch", 5)
        launched_s = int((child.ID or "").rsplit("-", 1)[1])
        assert abs(launched_s - c.agent.now_ns() // SECOND_NS) < 5  # launched now, once, not for each day

    run(tmp_path, body)


# ---- garbage collection --------------------------------------------------------------------------


def test_old_terminal_evaluations_are_collected_at_the_configured_interval(tmp_path: Path) -> None:
    async def body(c: Cluster) -> None:
        await c.add_node()
        registered = await c.register(factories.job("once", type="batch", count=1, driver="raw_exec"))
        (alloc,) = await until(lambda: c.live("once"), "the allocation")
        await c.finish([alloc])
        ev = await until(lambda: c.snap.eval_by_id(registered.EvalID), "the evaluation")
        assert ev.Status == EvalStatus.COMPLETE
        # eval_gc_threshold = "1s", job_gc_interval = "200ms": gone within about 1.2 s.
        await until(lambda: c.snap.eval_by_id(registered.EvalID) is None, "the collection", 5)
        assert c.snap.alloc_by_id(alloc.ID) is None
        assert c.snap.job_by_id("default", "once") is not None  # the job threshold (4 h) has not passed
        removed = await force_gc(c.agent)  # PUT /v1/system/gc: no threshold
        assert removed.jobs == [("default", "once")] and c.snap.job_by_id("default", "once") is None

    run(tmp_path, body)
