"""The jobs list at 10,000 jobs: paging and filtering run on the server's snapshot (``job_list_page``, what
``Job.List`` answers with). Walking every page visits every job once, in order, with the filter applied
across pages. How long a page takes is measured in ``benchmarks/jobs_list_bench.py`` (BENCHMARKS.md), not
asserted here.
"""

from __future__ import annotations

import msgspec
import pytest

from agents.server.listing import job_list_page
from agents.server.messages import JobListRequest
from cluster import fsm
from cluster.state import StateSnapshot, StateStore
from tests.unit.scheduler import factories

pytestmark = pytest.mark.slow

JOBS = 10_000


@pytest.fixture(scope="module")
def snap() -> StateSnapshot:
    store = StateStore()
    base = factories.job("template", count=1)
    for i in range(JOBS):
        job = msgspec.structs.replace(base, ID=f"job-{i:05d}", Name=f"job-{i:05d}",
                                      Meta={"env": "prod" if i % 10 == 0 else "dev"})
        fsm.apply_command(store, i + 1, fsm.JobRegister(Job=job, SubmitTime=1))
    return store.snapshot()


def test_walking_the_pages_visits_every_filtered_job_once(snap: StateSnapshot) -> None:
    seen: list[str] = []
    token = ""
    while True:
        page, token = job_list_page(snap, JobListRequest(PerPage=300, NextToken=token, Filter="Meta.env == prod"))
        seen.extend(stub.ID for stub in page)
        if not token:
            break
    assert seen == [f"job-{i:05d}" for i in range(0, JOBS, 10)]
