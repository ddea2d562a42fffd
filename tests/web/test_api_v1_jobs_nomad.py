"""Contract: the `python-nomad` client package (2.1.0), unchanged, drives the job endpoints of a real
`caravan web` process (ACL on, management token) in front of a real server: deregister and purge,
versions, revert, stable, plan, dispatch, periodic force, summary, deployments and the jobs list.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import nomad
import nomad.api.exceptions
import pytest

from tests.web.test_api_v1_nomad import Web, job, server, start_web

pytestmark = pytest.mark.slow
__all__ = ["server"]


@pytest.fixture(scope="module")
def web(server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    proc, port, token = start_web(tmp_path_factory.mktemp("web-jobs"), server, "1")
    try:
        client = nomad.Nomad(host="127.0.0.1", port=port, timeout=10, token=token)
        deadline = time.monotonic() + 30
        while client.status.leader.get_leader() != server:
            assert time.monotonic() < deadline, "no leader in 30 s"
            time.sleep(0.2)
        yield Web(port, server, token)
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def api(web: Web) -> nomad.Nomad:
    return nomad.Nomad(host="127.0.0.1", port=web.port, timeout=10, token=web.token)


def counted(job_id: str, count: int) -> dict[str, Any]:
    body = job(job_id)
    body["Job"]["TaskGroups"][0]["Count"] = count
    return body


def test_versions_revert_stable_and_deregister(api: nomad.Nomad) -> None:
    api.job.register_job("c-hist", job("c-hist"))
    api.job.register_job("c-hist", counted("c-hist", 3))
    versions = api.job.get_versions("c-hist")
    assert [v["Version"] for v in versions["Versions"]] == [1, 0]
    reverted = api.job.revert_job("c-hist", 0, enforce_prior_version=1)
    assert reverted["EvalID"] and reverted["JobModifyIndex"] > 0
    assert api.job.get_job("c-hist")["TaskGroups"][0]["Count"] == 1
    with pytest.raises(nomad.api.exceptions.BaseNomadException):
        api.job.revert_job("c-hist", 0, enforce_prior_version=1)  # the version moved on: refused
    api.job.stable_job("c-hist", 2, True)
    assert api.job.get_job("c-hist")["Stable"] is True

    stopped = api.job.deregister_job("c-hist")
    assert stopped["EvalID"]
    assert api.job.get_job("c-hist")["Stop"] is True
    api.job.deregister_job("c-hist", purge=True)
    with pytest.raises(nomad.api.exceptions.URLNotFoundNomadException):
        api.job.get_job("c-hist")


def test_plan_shows_the_diff_and_changes_nothing(api: nomad.Nomad) -> None:
    plan = api.job.plan_job("c-plan", job("c-plan"), diff=True)
    assert plan["Diff"]["Type"] == "Added" and plan["Diff"]["ID"] == "c-plan"
    assert "g" in plan["Annotations"]["DesiredTGUpdates"]
    assert plan["FailedTGAllocs"]["g"]["NodesEvaluated"] == 0  # no client nodes in this cluster
    with pytest.raises(nomad.api.exceptions.URLNotFoundNomadException):
        api.job.get_job("c-plan")


def test_dispatch_periodic_force_and_summary(api: nomad.Nomad) -> None:
    template = job("c-param")
    template["Job"] |= {"Type": "batch", "ParameterizedJob": {"MetaRequired": ["who"]}}
    api.job.register_job("c-param", template)
    dispatched = api.job.dispatch_job("c-param", payload=base64.b64encode(b"x").decode(), meta={"who": "me"})
    child = api.job.get_job(dispatched["DispatchedJobID"])
    assert child["ParentID"] == "c-param" and child["Meta"] == {"who": "me"}

    periodic = job("c-cron")
    periodic["Job"] |= {"Type": "batch", "Periodic": {"Spec": "*/5 * * * *"}}
    api.job.register_job("c-cron", periodic)
    forced = api.job.periodic_job("c-cron")
    assert forced["EvalID"]
    children = api.jobs.get_jobs(prefix="c-cron/periodic-")
    assert len(children) == 1 and children[0]["ParentID"] == "c-cron"

    summary = api.job.get_summary("c-cron")
    assert summary["JobID"] == "c-cron" and summary["Children"]["Pending"] + summary["Children"]["Running"] >= 1
    assert api.job.get_deployments("c-cron") == []
    assert api.job.get_deployment("c-cron") is None


def test_jobs_list_prefix_filter_and_meta(api: nomad.Nomad) -> None:
    for name in ("c-list-a", "c-list-b"):
        body = job(name)
        body["Job"]["Meta"] = {"team": name[-1]}
        api.job.register_job(name, body)
    assert [j["ID"] for j in api.jobs.get_jobs(prefix="c-list-")] == ["c-list-a", "c-list-b"]
    assert [j["ID"] for j in api.jobs.get_jobs(filter_='Meta.team == "b"')] == ["c-list-b"]
    assert api.jobs.get_jobs(prefix="c-list-a")[0]["Meta"] is None
    assert api.jobs.get_jobs(prefix="c-list-a", meta=True)[0]["Meta"] == {"team": "a"}
    with pytest.raises(nomad.api.exceptions.BadRequestNomadException):
        api.jobs.get_jobs(filter_="Meta.team ==")
