"""The jobs list with 10,000 jobs: the first page, a page deep in the list, a search across every job and
one that matches nothing all show the right rows.

10,000 periodic jobs (they create no evaluation, so the scheduler stays idle) are registered through the
gateway, 250 at a time. How long the pages take is measured in ``benchmarks/jobs_list_bench.py --dashboard``
(BENCHMARKS.md), not asserted here.
"""

from __future__ import annotations

import asyncio

import msgspec
import pytest
from django.test import Client

from agents.server.endpoints import JobRegisterRequest, JobRegisterResponse
from cluster import jobspec
from cluster.structs.job import Job
from tests.web.test_api_v1 import acl_off, server
from webui.gateway import gateway

pytestmark = [pytest.mark.slow, pytest.mark.django_db]
__all__ = ["acl_off", "server"]

JOBS = 10_000
BATCH = 250


def periodic_job(i: int) -> Job:
    raw = {
        "ID": f"scale-{i:05d}",
        "Name": f"scale job {i:05d}",
        "Type": "batch",
        "Datacenters": ["dc1"],
        "Periodic": {"Spec": "0 0 1 1 *", "SpecType": "cron", "Enabled": True},
        "TaskGroups": [
            {"Name": "g", "Tasks": [{"Name": "t", "Driver": "raw_exec", "Config": {"command": "/bin/true"}}]}
        ],
    }
    return jobspec.parse_json(msgspec.json.encode({"Job": raw})).job


async def register_all() -> None:
    gw = gateway()
    for start in range(0, JOBS, BATCH):
        await asyncio.gather(
            *(
                gw.call(
                    "Job.Register", JobRegisterRequest(Job=periodic_job(i)), JobRegisterResponse, timeout_s=60
                )
                for i in range(start, min(JOBS, start + BATCH))
            )
        )


def test_pages_of_10000_jobs_show_the_right_rows(server: str) -> None:
    asyncio.run(register_all())
    client = Client()

    def rows(url: str) -> int:
        response = client.get(url)
        assert response.status_code == 200
        return int(response.content.count(b'class="job-row"'))

    assert rows("/ui/jobs?search=scale-") == 25
    assert rows("/ui/jobs?next=scale-09990") == 10
    assert rows("/ui/jobs?search=no-such-job") == 0
    assert rows("/ui/jobs") == 25
