"""The job RPCs behind /v1 on a three-server cluster: a follower forwards writes and non-stale reads to
the leader, so the web application may call any server; a client agent may not call them at all.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agents.rpc import Role
from agents.server.endpoints import JobRegisterRequest, JobRegisterResponse
from agents.server.endpoints_jobs import (
    JobDeregisterRequest,
    JobDeregisterResponse,
    JobScaleRequest,
    JobVersionsRequest,
    JobVersionsResponse,
)
from agents.server.job_plan import JobPlanRequest, JobPlanResponse
from cluster.errors import PermissionDenied
from tests.agents.server.support import ServerCluster, eventually, leader_of, pool
from tests.unit.scheduler import factories

pytestmark = pytest.mark.slow


async def scenario(servers: list[str]) -> None:
    web = pool(Role.WEB, "web-jobs")
    client = pool(Role.CLIENT, "client-jobs")
    try:
        leader = await leader_of(web, servers)
        follower = next(a for a in servers if a != leader)
        job = factories.job("fwd", count=1)

        async def registered() -> JobRegisterResponse:
            return await web.call(follower, "Job.Register", JobRegisterRequest(Job=job), JobRegisterResponse,
                                  timeout_s=5)

        await eventually(registered, 20, "a register through a follower")
        plan = await web.call(follower, "Job.Plan", JobPlanRequest(Job=factories.job("fwd", count=3), Diff=True),
                              JobPlanResponse, timeout_s=5)
        assert plan.Diff is not None and plan.Diff.Type == "Edited"
        scaled = await web.call(follower, "Job.Scale", JobScaleRequest(JobID="fwd", Target={"Group": "web"},
                                                                       Count=2), JobRegisterResponse, timeout_s=5)
        assert scaled.EvalID
        versions = await web.call(follower, "Job.GetJobVersions", JobVersionsRequest(JobID="fwd", Diffs=True),
                                  JobVersionsResponse, timeout_s=5)
        assert [v.Version for v in versions.Versions] == [1, 0] and versions.Diffs is not None

        with pytest.raises(PermissionDenied):
            await client.call(follower, "Job.Deregister", JobDeregisterRequest(JobID="fwd"), JobDeregisterResponse,
                              timeout_s=5)
        gone = await web.call(follower, "Job.Deregister", JobDeregisterRequest(JobID="fwd", Purge=True),
                              JobDeregisterResponse, timeout_s=5)
        assert gone.EvalID
        after = await web.call(leader, "Job.GetJobVersions", JobVersionsRequest(JobID="fwd"), JobVersionsResponse,
                               timeout_s=5)
        assert after.Versions == []
    finally:
        await web.close()
        await client.close()


def test_followers_forward_job_rpcs_to_the_leader(tmp_path: Path) -> None:
    cluster = ServerCluster(tmp_path, count=3)
    cluster.start()
    try:
        asyncio.run(scenario([s.address for s in cluster.servers]))
    except BaseException:
        print(cluster.logs())
        raise
    finally:
        cluster.stop()
