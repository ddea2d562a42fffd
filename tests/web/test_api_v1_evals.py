"""The /v1 evaluation list, count and allocations, through Django's test client, against one real server
process with two heartbeating fake nodes.

What a Nomad user notices: evaluations are found by job, status, ID prefix and filter expression, oldest first, page by page
with ``X-Nomad-NextToken``; the count matches the list; an evaluation shows the allocations it placed;
namespaces separate them; with ACL on, reading them needs ``read-job``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from tests.web.test_api_v1 import acl_off, acl_on, get, register, secret, server
from tests.web.test_api_v1_allocs_nodes import Nodes, eventually, nodes, placed
from webui.acl import token_create

pytestmark = pytest.mark.slow
__all__ = ["acl_off", "acl_on", "nodes", "server"]  # fixtures this module uses, imported from the read tests


def evaluations(query: str = "", **headers: str) -> list[dict[str, Any]]:
    response = get(f"/v1/evaluations{query}", **headers)
    assert response.status_code == 200, response.content
    assert int(response["X-Nomad-Index"]) > 0
    found: list[dict[str, Any]] = response.json()
    return found


def test_evaluations_are_filtered_by_job_status_and_prefix(nodes: Nodes) -> None:
    first = register("evals-web")
    second = register("evals-web-other")
    placed("evals-web")
    by_job = evaluations("?job=evals-web")
    assert {e["JobID"] for e in by_job} == {"evals-web"} and first["EvalID"] in [e["ID"] for e in by_job]
    assert [e["CreateIndex"] for e in by_job] == sorted(e["CreateIndex"] for e in by_job)
    complete = eventually(lambda: evaluations("?job=evals-web&status=complete"), "a complete evaluation")
    assert {e["Status"] for e in complete} == {"complete"}
    assert [e["ID"] for e in evaluations(f"?prefix={second['EvalID'][:10]}")] == [second["EvalID"]]
    assert get("/v1/evaluations?status=finished").status_code == 400
    expression = quote('JobID == "evals-web" and TriggeredBy == "job-register"')
    assert [e["ID"] for e in evaluations(f"?filter={expression}")] == [first["EvalID"]]
    assert get(f"/v1/evaluations/count?filter={expression}").json() == {"Count": 1}
    bad = get("/v1/evaluations?filter=" + quote("JobID =="))
    assert bad.status_code == 400 and b"column" in bad.content


def test_evaluations_page_with_next_token(nodes: Nodes) -> None:
    for i in range(3):
        register(f"evals-page-{i}")
    everything = [e["ID"] for e in evaluations()]
    seen: list[str] = []
    query = "?per_page=2"
    while True:
        response = get(f"/v1/evaluations{query}")
        assert len(response.json()) <= 2
        seen += [e["ID"] for e in response.json()]
        if "X-Nomad-NextToken" not in response:
            break
        query = f"?per_page=2&next_token={response['X-Nomad-NextToken']}"
    assert seen == everything and len(seen) >= 3
    assert get("/v1/evaluations?per_page=two").status_code == 400


def test_count_matches_the_list(nodes: Nodes) -> None:
    register("evals-count")
    response = get("/v1/evaluations/count?job=evals-count")
    assert response.status_code == 200 and int(response["X-Nomad-Index"]) > 0
    assert response.json() == {"Count": len(evaluations("?job=evals-count"))} and response.json()["Count"] >= 1
    assert get("/v1/evaluations/count").json()["Count"] == len(evaluations())


def test_evaluation_shows_the_allocations_it_placed(nodes: Nodes) -> None:
    reply = register("evals-allocs")
    (stub,) = placed("evals-allocs")
    response = get(f"/v1/evaluation/{stub['EvalID']}/allocations")
    assert response.status_code == 200
    assert [a["ID"] for a in response.json()] == [stub["ID"]] and "Job" not in response.json()[0]
    assert stub["EvalID"] == reply["EvalID"]
    assert get("/v1/evaluation/00000000-0000-4000-8000-000000000000/allocations").json() == []


def test_namespaces_separate_evaluations(nodes: Nodes) -> None:
    reply = register("evals-ns", namespace="team-e")
    assert reply["EvalID"] not in [e["ID"] for e in evaluations()]
    assert reply["EvalID"] in [e["ID"] for e in evaluations("?namespace=team-e")]
    assert reply["EvalID"] in [e["ID"] for e in evaluations("?namespace=*")]
    assert get("/v1/evaluations/count?namespace=team-e").json()["Count"] >= 1


def test_acl_reading_evaluations_needs_read_job(nodes: Nodes, acl_on: None) -> None:
    reader = secret("read-default")
    mine = register("evals-acl", **{"X-Nomad-Token": secret("write-default")})
    assert get("/v1/evaluations").status_code == 403
    assert get("/v1/evaluations/count").status_code == 403
    assert mine["EvalID"] in [e["ID"] for e in evaluations("?job=evals-acl", **{"X-Nomad-Token": reader})]
    theirs = register("evals-acl-theirs", namespace="hidden", **{"X-Nomad-Token": secret_management()})
    everywhere = evaluations("?namespace=*", **{"X-Nomad-Token": reader})
    assert theirs["EvalID"] not in [e["ID"] for e in everywhere]
    counted = get("/v1/evaluations/count?namespace=*", **{"X-Nomad-Token": reader}).json()["Count"]
    assert counted == len(everywhere)
    assert get("/v1/evaluations?namespace=hidden", **{"X-Nomad-Token": reader}).status_code == 403


def secret_management() -> str:
    return token_create(name="m", type="management").secret_id
