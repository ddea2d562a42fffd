"""The /v1 node operations (drain, eligibility, purge, evaluate) and allocation stop, through Django's test
client, and the python-nomad contract for them, against one real server process with fake nodes.

What a Nomad user notices: a drained node turns ineligible and its allocations move; eligibility toggles,
but not to eligible while draining; a purged node disappears and its allocations are lost; a stopped
allocation is replaced; each write answers Nomad's indexes; with ACL on, node writes need ``node:write``
and stopping an allocation ``alloc-lifecycle``. python-nomad 2.1.0 drives the same through ``caravan web``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import nomad
import pytest
from django.test import Client

from cluster.errors import Unavailable
from tests.agents.server.support import FakeNode
from tests.unit.scheduler import factories
from tests.web.test_api_v1 import acl_off, acl_on, get, secret, server
from tests.web.test_api_v1_allocs_nodes import Nodes, eventually, nodes
from tests.web.test_api_v1_deployments import MISSING, canary_job_json, deployment_of, post, submit
from tests.web.test_api_v1_nomad import start_web
from webui.acl import policy_upsert

pytestmark = pytest.mark.slow
__all__ = ["acl_off", "acl_on", "nodes", "server"]  # fixtures this module uses, imported from the read tests

SECOND_NS = 1_000_000_000


def add_node(fleet: Nodes, name: str) -> str:
    """Registers one more heartbeating node (closed with the fleet); its ID."""
    fake = FakeNode(factories.node(name=name, drivers=("raw_exec",)), fleet.fakes[0].servers)

    def registered() -> bool:
        try:
            fleet.run(fake.register())
        except Unavailable:
            return False
        return True

    eventually(registered, f"{name} registered")
    fleet.fakes.append(fake)
    return fake.node.ID


def pinned_alloc(job_id: str, node_name: str) -> dict[str, Any]:
    submit(canary_job_json(job_id, count=1, pin_to=node_name))

    def check() -> dict[str, Any] | None:
        allocs = [a for a in get(f"/v1/job/{job_id}/allocations").json() if a["DesiredStatus"] == "run"]
        return allocs[0] if allocs else None

    return eventually(check, f"{job_id}'s allocation")


def node(node_id: str) -> dict[str, Any]:
    found: dict[str, Any] = get(f"/v1/node/{node_id}").json()
    return found


def test_drain_moves_allocations_and_cancel_marks_eligible(nodes: Nodes) -> None:
    node_id = add_node(nodes, "http-drain")
    alloc = pinned_alloc("http-drained", "http-drain")
    response = post(f"/v1/node/{node_id}/drain", {
        "NodeID": node_id, "DrainSpec": {"Deadline": -1, "IgnoreSystemJobs": False}, "Meta": {"ticket": "42"}})
    assert response.status_code == 200, response.content
    reply = response.json()
    assert set(reply) >= {"NodeModifyIndex", "EvalIDs", "EvalCreateIndex", "Index"}
    assert len(reply["EvalIDs"]) == 1 and int(response["X-Nomad-Index"]) == reply["Index"]
    drained = node(node_id)
    assert drained["SchedulingEligibility"] == "ineligible" and drained["DrainStrategy"]["Deadline"] == -1
    assert drained["Events"][-1]["Details"] == {"ticket": "42"}
    eventually(lambda: get(f"/v1/allocation/{alloc['ID']}").json()["DesiredStatus"] == "stop",
               "the drained allocation to stop")

    cancel = post(f"/v1/node/{node_id}/drain", {"DrainSpec": None, "MarkEligible": True})
    assert cancel.status_code == 200
    assert node(node_id)["SchedulingEligibility"] == "eligible" and node(node_id)["Drain"] is False


def test_eligibility_and_its_refusal_while_draining(nodes: Nodes) -> None:
    node_id = add_node(nodes, "http-elig")
    pinned_alloc("http-elig-work", "http-elig")
    off = post(f"/v1/node/{node_id}/eligibility", {"Eligibility": "ineligible"})
    assert off.status_code == 200 and off.json()["NodeModifyIndex"] == node(node_id)["ModifyIndex"]
    assert node(node_id)["SchedulingEligibility"] == "ineligible"
    assert post(f"/v1/node/{node_id}/eligibility", {"Eligibility": "sometimes"}).status_code == 400
    assert post(f"/v1/node/{node_id}/eligibility", {}).status_code == 400
    on = post(f"/v1/node/{node_id}/eligibility", {"Eligibility": "eligible"})
    assert on.status_code == 200 and node(node_id)["SchedulingEligibility"] == "eligible"

    post(f"/v1/node/{node_id}/drain", {"DrainSpec": {"Deadline": 3600 * SECOND_NS}})
    refused = post(f"/v1/node/{node_id}/eligibility", {"Eligibility": "eligible"})
    assert refused.status_code == 409 and b"draining" in refused.content
    assert post(f"/v1/node/{MISSING}/eligibility", {"Eligibility": "eligible"}).status_code == 404


def test_purge_forgets_the_node_and_loses_its_allocations(nodes: Nodes) -> None:
    node_id = add_node(nodes, "http-purge")
    alloc = pinned_alloc("http-purged", "http-purge")
    nodes.run(nodes.fakes[-1].stop_heartbeats())
    response = Client().delete(f"/v1/node/{node_id}")
    assert response.status_code == 200, response.content
    assert len(response.json()["EvalIDs"]) == 1
    assert get(f"/v1/node/{node_id}").status_code == 404
    eventually(lambda: get(f"/v1/allocation/{alloc['ID']}").json()["ClientStatus"] == "lost", "a lost allocation")
    assert post(f"/v1/node/{node_id}/purge").status_code == 404


def test_node_evaluate(nodes: Nodes) -> None:
    node_id = add_node(nodes, "http-eval")
    pinned_alloc("http-evaluated", "http-eval")
    response = post(f"/v1/node/{node_id}/evaluate")
    assert response.status_code == 200
    (eval_id,) = response.json()["EvalIDs"]
    ev = get(f"/v1/evaluation/{eval_id}").json()
    assert (ev["JobID"], ev["NodeID"], ev["TriggeredBy"]) == ("http-evaluated", node_id, "node-update")


def test_allocation_stop_replaces_it(nodes: Nodes) -> None:
    submit(canary_job_json("http-stop", count=1))
    first = eventually(lambda: get("/v1/job/http-stop/allocations").json(), "http-stop's allocation")[0]
    response = post(f"/v1/allocation/{first['ID']}/stop?no_shutdown_delay=true")
    assert response.status_code == 200, response.content
    assert set(response.json()) >= {"EvalID", "Index"} and int(response["X-Nomad-Index"]) == response.json()["Index"]
    stopped = get(f"/v1/allocation/{first['ID']}").json()
    assert stopped["DesiredTransition"]["Migrate"] is True and stopped["DesiredTransition"]["NoShutdownDelay"] is True
    eventually(lambda: [a for a in get("/v1/job/http-stop/allocations").json()
                        if a["ID"] != first["ID"] and a["DesiredStatus"] == "run"], "a replacement")
    missing = post(f"/v1/allocation/{MISSING}/stop")
    assert (missing.status_code, missing.content) == (404, b"alloc not found")


def test_acl_node_writes_need_node_write(nodes: Nodes, acl_on: None) -> None:
    policy_upsert(name="node-read", rules='node { policy = "read" }')
    policy_upsert(name="node-write", rules='node { policy = "write" }')
    policy_upsert(name="lifecycle", rules='namespace "default" { capabilities = ["alloc-lifecycle"] }')
    target = nodes.ids[1]
    reader, writer = secret("node-read"), secret("node-write")
    for path, body in ((f"/v1/node/{target}/eligibility", {"Eligibility": "ineligible"}),
                       (f"/v1/node/{target}/drain", {"DrainSpec": {"Deadline": -1}}),
                       (f"/v1/node/{target}/evaluate", None), (f"/v1/node/{target}/purge", None)):
        denied = post(path, body, **{"X-Nomad-Token": reader})
        assert (denied.status_code, denied.content) == (403, b"Permission denied"), path
    assert get(f"/v1/node/{target}", **{"X-Nomad-Token": reader}).json()["SchedulingEligibility"] == "eligible"
    assert post(f"/v1/node/{target}/evaluate", **{"X-Nomad-Token": writer}).status_code == 200

    alloc = get(f"/v1/node/{nodes.ids[0]}/allocations", **{"X-Nomad-Token": secret("read-default", "node-read")})
    some = alloc.json()[0]["ID"] if alloc.json() else MISSING
    assert post(f"/v1/allocation/{some}/stop", **{"X-Nomad-Token": reader}).status_code == 403
    assert post(f"/v1/allocation/{MISSING}/stop", **{"X-Nomad-Token": secret("lifecycle")}).status_code == 404


# ---- python-nomad contract -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nomad_client(nodes: Nodes, server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[nomad.Nomad]:
    proc: subprocess.Popen[bytes]
    proc, port, token = start_web(tmp_path_factory.mktemp("ops-web"), server, "0")
    try:
        yield nomad.Nomad(host="127.0.0.1", port=port, timeout=10, token=token)
    finally:
        proc.terminate()
        proc.wait(10)


def test_python_nomad_drains_toggles_and_purges_nodes(nodes: Nodes, nomad_client: nomad.Nomad) -> None:
    n = nomad_client
    node_id = add_node(nodes, "contract-node")
    n.node.eligible_node(node_id, ineligible=True)
    assert n.node.get_node(node_id)["SchedulingEligibility"] == "ineligible"
    n.node.eligible_node(node_id, eligible=True)
    assert n.node.get_node(node_id)["SchedulingEligibility"] == "eligible"
    pinned_alloc("contract-pinned", "contract-node")
    reply = n.node.drain_node_with_spec(node_id, {"Deadline": 3600 * SECOND_NS, "IgnoreSystemJobs": True})
    assert reply["NodeModifyIndex"] > 0
    assert n.node.get_node(node_id)["DrainStrategy"]["IgnoreSystemJobs"] is True
    n.node.drain_node_with_spec(node_id, None, mark_eligible=True)
    assert n.node.get_node(node_id)["SchedulingEligibility"] == "eligible"
    nodes.run(nodes.fakes[-1].stop_heartbeats())
    assert len(n.node.purge_node(node_id)["EvalIDs"]) == 1
    with pytest.raises(nomad.api.exceptions.URLNotFoundNomadException):
        n.node.get_node(node_id)


def test_python_nomad_deployments_and_allocation_stop(nodes: Nodes, nomad_client: nomad.Nomad) -> None:
    n = nomad_client
    reply = n.jobs.register_job({"Job": canary_job_json("contract-dep")})
    d = deployment_of("contract-dep", 0)
    assert d["ID"] in [x["ID"] for x in n.deployments.get_deployments()]
    assert n.deployment.get_deployment(d["ID"])["JobID"] == "contract-dep"
    assert n.deployment.pause_deployment(d["ID"], True)["DeploymentModifyIndex"] > 0
    assert n.deployment.get_deployment(d["ID"])["Status"] == "paused"
    n.deployment.pause_deployment(d["ID"], False)
    with pytest.raises(nomad.api.exceptions.BaseNomadException):
        n.deployment.promote_deployment_all(d["ID"])  # no canaries in a first version
    allocs = eventually(lambda: n.deployment.get_deployment_allocations(d["ID"]), "the deployment's allocations")
    stop = n.allocation.stop_allocation(allocs[0]["ID"])
    assert stop["EvalID"] and n.evaluation.get_evaluation(stop["EvalID"])["TriggeredBy"] == "alloc-stop"
    assert n.deployment.fail_deployment(d["ID"])["EvalID"]
    assert n.deployment.get_deployment(d["ID"])["Status"] == "failed"
    evals = n.evaluations.get_evaluations(prefix=reply["EvalID"][:8])
    assert [e["ID"] for e in evals] == [reply["EvalID"]]
