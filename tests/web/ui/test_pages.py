"""The dashboard's pages through Django's test client, against one real server process with two nodes
heartbeating over RPC (the fixtures of the /v1 tests).

What a user notices: every page lists what the cluster holds (jobs with status bars, a job's groups,
allocations and evaluations with placement failures, clients with their resources, servers, topology);
search and paging; stop/start and run (plan with errors at their line, diff, then run); live regions
render alone as fragments; names and meta with HTML show as text; actions need the CSRF token.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from agents.server.endpoints import AllocUpdateRequest, GenericResponse
from cluster.state.write_allocs import AllocClientUpdate
from cluster.structs.alloc import TaskEvent, TaskState
from tests.agents.server.support import call_any
from tests.web.test_api_v1 import acl_off, get, put, register, server
from tests.web.test_api_v1_allocs_nodes import Nodes, _registered, eventually, placed

pytestmark = [pytest.mark.slow, pytest.mark.django_db]
__all__ = ["acl_off", "server"]

XSS = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def nodes(server: str) -> Iterator[Nodes]:
    fleet = Nodes(server)
    fleet.fakes[0].node.Meta = {"rack": "<b>r1</b>"}
    try:
        for fake in fleet.fakes:
            eventually(lambda f=fake: _registered(fleet, f), f"{fake.node.Name} registered")
        yield fleet
    finally:
        fleet.close()


def job_body(
    job_id: str,
    *,
    name: str | None = None,
    memory_mb: int = 64,
    count: int = 1,
    meta: dict[str, str] | None = None,
) -> dict[str, Any]:
    job: dict[str, Any] = {
        "ID": job_id,
        "Name": name or job_id,
        "Type": "service",
        "Datacenters": ["dc1"],
        "TaskGroups": [
            {
                "Name": "web",
                "Count": count,
                "Tasks": [
                    {
                        "Name": "server",
                        "Driver": "raw_exec",
                        "Config": {"command": "/bin/sleep", "args": ["60"]},
                        "Resources": {"CPU": 100, "MemoryMB": memory_mb},
                    }
                ],
            }
        ],
    }
    if meta:
        job["Meta"] = meta
    return job


def submit(job: dict[str, Any]) -> None:
    response = put("/v1/jobs", {"Job": job})
    assert response.status_code == 200, response.content


def html(response: Any) -> str:
    text: str = response.content.decode()
    return text


def test_root_goes_to_the_jobs_page(server: str) -> None:
    response = get("/")
    assert response.status_code == 302 and response["Location"] == "/ui/jobs"
    assert get("/ui/")["Location"].startswith("/ui/jobs")


def test_jobs_list_shows_status_type_priority_and_allocation_bar(nodes: Nodes) -> None:
    submit(job_body("ui-list-web", count=2))
    placed("ui-list-web", 2)
    page = html(get("/ui/jobs?search=ui-list-"))
    row = page[page.index('data-job-id="ui-list-web"') :]
    row = row[: row.index("</tr>")]
    assert "service" in row and ">50<" in row
    assert 'title="2 pending"' in row or 'title="2 running"' in row
    assert 'class="badge badge-running">running' in row or "badge-pending" in row
    assert 'data-live-topics="Job:* Allocation:*"' in page and 'src="/static/ui/live.js"' in page


def test_jobs_search_by_name_and_paging(server: str) -> None:
    for i in range(30):
        submit(job_body(f"ui-page-{i:02d}", name=f"pager {i:02d}", memory_mb=64))
    first = html(get("/ui/jobs?search=ui-page-"))
    assert first.count('class="job-row"') == 25 and "ui-page-00" in first and 'id="page-first"' not in first
    link = re.search(r'id="page-next" href="\?([^"]+)"', first)
    assert link is not None
    second = html(get("/ui/jobs?" + link.group(1).replace("&amp;", "&")))
    assert second.count('class="job-row"') == 5 and "ui-page-29" in second and "ui-page-00" not in second
    assert 'id="page-first"' in second and 'id="page-next"' not in second
    by_name = html(get("/ui/jobs?search=pager 07"))
    assert by_name.count('class="job-row"') == 1 and "ui-page-07" in by_name


def test_jobs_fragment_renders_the_region_alone(server: str) -> None:
    submit(job_body("ui-frag"))
    fragment = html(get("/ui/jobs?search=ui-frag&fragment=jobs"))
    assert 'data-job-id="ui-frag"' in fragment and "<html" not in fragment and "sidebar" not in fragment
    assert get("/ui/jobs?fragment=nope").status_code == 404


def test_namespace_filter(server: str) -> None:
    register("ui-ns-job", "team-a")
    assert "ui-ns-job" not in html(get("/ui/jobs?search=ui-ns"))
    assert "ui-ns-job" in html(get("/ui/jobs?search=ui-ns&namespace=team-a"))
    all_ns = html(get("/ui/jobs?search=ui-ns&namespace=*"))
    assert "ui-ns-job" in all_ns and "<th>Namespace</th>" in all_ns


def test_job_detail_shows_groups_allocations_and_evaluations(nodes: Nodes) -> None:
    submit(job_body("ui-detail", count=2))
    allocs = placed("ui-detail", 2)
    for ref in ("/ui/jobs/ui-detail", "/ui/jobs/ui-detail@default", "/ui/jobs/ui-detail?namespace=default"):
        page = html(get(ref))
        assert 'id="job-title">ui-detail<' in page
        assert 'data-group="web"' in page and "server" in page and "raw_exec" in page
        for alloc in allocs:
            assert f'title="{alloc["ID"]}">{alloc["ID"][:8]}</code>' in page
        assert "job-register" in page
    live = html(get("/ui/jobs/ui-detail?fragment=live"))
    assert 'id="job-allocations"' in live and "<html" not in live
    assert 'data-live-topics="Job:default/ui-detail Allocation:* Evaluation:* Deployment:*"' in html(
        get("/ui/jobs/ui-detail")
    )
    assert 'data-version="0"' in html(get("/ui/jobs/ui-detail")) and 'id="job-deployments"' in live
    assert get("/ui/jobs/ui-missing").status_code == 404
    assert get("/ui/jobs/ui-detail@other-ns").status_code == 404


def test_placement_failure_is_explained(nodes: Nodes) -> None:
    submit(job_body("ui-too-big", memory_mb=900_000))

    def failed() -> str | None:
        page = html(get("/ui/jobs/ui-too-big"))
        return page if "could not be placed" in page else None

    page = eventually(failed, "a placement failure on the job page")
    assert "nodes evaluated" in page and "exhausted" in page
    evals = html(get("/ui/evaluations?failures=1"))
    assert "ui-too-big" in evals and "could not be placed" in evals
    assert "ui-detail" not in evals
    blocked = html(get("/ui/evaluations?status=blocked"))
    assert "ui-too-big" in blocked


def test_user_data_with_html_is_shown_as_text(nodes: Nodes) -> None:
    submit(job_body("ui-xss", name=XSS, meta={"owner": '<img src=x onerror="alert(2)">'}))
    for page in (html(get("/ui/jobs?search=ui-xss")), html(get("/ui/jobs/ui-xss"))):
        assert XSS not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in html(get("/ui/jobs/ui-xss")) and "&lt;img src=x" in html(
        get("/ui/jobs/ui-xss")
    )
    client_page = html(get(f"/ui/clients/{nodes.ids[0]}"))
    assert "<b>r1</b>" not in client_page and "&lt;b&gt;r1&lt;/b&gt;" in client_page


def _csrf_client() -> tuple[Client, str]:
    client = Client(enforce_csrf_checks=True)
    page = html(client.get("/ui/jobs/run"))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token is not None
    return client, token.group(1)


def test_stop_and_start_need_csrf_and_change_the_job(nodes: Nodes) -> None:
    submit(job_body("ui-stop"))
    placed("ui-stop", 1)
    client, token = _csrf_client()
    assert client.post("/ui/jobs/ui-stop/stop?namespace=default").status_code == 403
    assert get("/v1/job/ui-stop").json()["Stop"] is False
    response = client.post("/ui/jobs/ui-stop/stop?namespace=default", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302 and response["Location"] == "/ui/jobs/ui-stop?namespace=default"
    assert get("/v1/job/ui-stop").json()["Stop"] is True
    assert 'id="job-start"' in html(get("/ui/jobs/ui-stop"))
    client.post("/ui/jobs/ui-stop/start?namespace=default", {"csrfmiddlewaretoken": token})
    assert get("/v1/job/ui-stop").json()["Stop"] is False
    assert client.get("/ui/jobs/ui-stop/stop").status_code == 405


HCL = """job "ui-run" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "raw_exec"
      config { command = "/bin/true" }
      resources {
        cpu    = 100
        memory = MEMORY
      }
    }
  }
}
"""


def test_run_plans_with_errors_at_their_line_then_runs(nodes: Nodes) -> None:
    client, token = _csrf_client()
    bad = client.post(
        "/ui/jobs/run",
        {"csrfmiddlewaretoken": token, "action": "plan", "source": HCL.replace("MEMORY", '"lots"')},
    )
    assert bad.status_code == 400
    assert 'data-line="9"' in html(bad) and "memory" in html(bad) and 'id="run-button"' not in html(bad)
    assert '<span class="bad">9\n</span>' in html(bad) and "<span>8\n</span>" in html(
        bad
    )  # the gutter marks it

    source = HCL.replace("MEMORY", "64")
    planned = html(
        client.post("/ui/jobs/run", {"csrfmiddlewaretoken": token, "action": "plan", "source": source})
    )
    assert 'id="plan-diff"' in planned and "+ Job: &quot;ui-run&quot;" in planned and "a new job" in planned
    placements = planned[planned.index('id="plan-updates"') :]
    assert '<tr data-group="g"><td>g</td><td class="num">1</td>' in placements
    too_big = html(
        client.post(
            "/ui/jobs/run",
            {"csrfmiddlewaretoken": token, "action": "plan", "source": HCL.replace("MEMORY", "900000")},
        )
    )
    assert 'id="plan-failures"' in too_big and "exhausted" in too_big
    index = re.search(r'name="job_modify_index" value="(\d+)"', planned)
    assert index is not None and index.group(1) == "0"
    ran = client.post(
        "/ui/jobs/run",
        {"csrfmiddlewaretoken": token, "action": "run", "source": source, "job_modify_index": "0"},
    )
    assert ran.status_code == 302 and ran["Location"] == "/ui/jobs/ui-run?namespace=default"
    assert get("/v1/job/ui-run").status_code == 200

    # Planned against "no job": running that again is refused, the job changed since.
    stale = client.post(
        "/ui/jobs/run",
        {
            "csrfmiddlewaretoken": token,
            "action": "run",
            "source": source.replace("64", "96"),
            "job_modify_index": "0",
        },
    )
    assert stale.status_code == 400 and "changed since it was planned" in html(stale)
    edited = html(
        client.post(
            "/ui/jobs/run",
            {"csrfmiddlewaretoken": token, "action": "plan", "source": source.replace("64", "96")},
        )
    )
    assert "+/- MemoryMB: &quot;64&quot; =&gt; &quot;96&quot;" in edited


def test_allocation_detail_has_tasks_and_live_panes(nodes: Nodes) -> None:
    submit(job_body("ui-alloc"))
    alloc = placed("ui-alloc", 1)[0]
    page = html(get(f"/ui/allocations/{alloc['ID']}"))
    assert f'<div id="alloc-stats" class="chart-pane" data-alloc-id="{alloc["ID"]}"' in page
    assert f'<div id="alloc-logs" class="log-pane" data-alloc-id="{alloc["ID"]}" data-tasks="server"' in page
    assert 'data-task="server"' in page and "100 MHz" in page and "64 MiB" in page
    assert f'data-live-topics="Allocation:{alloc["ID"]}"' in page
    assert 'id="alloc-status"' in html(get(f"/ui/allocations/{alloc['ID']}?fragment=tasks"))
    assert get("/ui/allocations/00000000-0000-0000-0000-000000000000").status_code == 404


def test_task_events_show_as_text_and_update_the_tasks_fragment(nodes: Nodes) -> None:
    submit(job_body("ui-events"))
    alloc = placed("ui-events", 1)[0]
    fake = next(f for f in nodes.fakes if alloc["NodeID"] == f.node.ID)
    event = TaskEvent(
        Type="Driver Failure", Time=time.time_ns(), DisplayMessage='<img src=x onerror="alert(3)">'
    )
    update = AllocClientUpdate(
        ID=alloc["ID"],
        ClientStatus="running",
        TaskStates={"server": TaskState(State="running", Restarts=1, Events=[event])},
    )
    nodes.run(
        call_any(
            fake.pool,
            fake.servers,
            "Alloc.UpdateFromClient",
            AllocUpdateRequest(Alloc=[update]),
            GenericResponse,
        )
    )
    fragment = html(get(f"/ui/allocations/{alloc['ID']}?fragment=tasks"))
    assert "Driver Failure" in fragment and "1 restart<" in fragment and "badge-running" in fragment
    assert "<img src=x" not in fragment and "&lt;img src=x onerror=&quot;alert(3)&quot;&gt;" in fragment


def test_clients_servers_and_topology(nodes: Nodes, server: str) -> None:
    submit(job_body("ui-topo"))
    alloc = placed("ui-topo", 1)[0]
    clients = html(get("/ui/clients"))
    for node_id in nodes.ids:
        assert f'data-node-id="{node_id}"' in clients
    assert "web-node-1" in clients and "eligible" in clients
    detail = html(get(f"/ui/clients/{alloc['NodeID']}"))
    assert "kernel.name" in detail and "MHz" in detail and alloc["ID"][:8] in detail
    assert "/ 4000 MHz" in detail and "/ 8192 MiB" in detail
    servers = html(get("/ui/servers"))
    assert server in servers and "badge-leader" in servers and "badge-alive" in servers
    assert '<option value="global" selected>global</option>' in servers  # the header's region selector
    topology = html(get("/ui/topology"))
    assert 'data-datacenter="dc1"' in topology and f'href="/ui/allocations/{alloc["ID"]}"' in topology
    assert get("/ui/clients/no-such-node").status_code == 404


def test_keyboard_shortcuts_and_sidebar_are_on_every_page(server: str) -> None:
    page = html(get("/ui/servers"))
    for anchor in (
        'id="nav-jobs"',
        'id="nav-clients"',
        'id="nav-servers"',
        'id="nav-topology"',
        'id="nav-evaluations"',
        'href="/admin/"',
        'id="shortcuts"',
        'src="/static/ui/ui.js"',
    ):
        assert anchor in page


def test_versions_show_their_diff_and_revert(nodes: Nodes) -> None:
    submit(job_body("ui-versions", memory_mb=64))
    submit(job_body("ui-versions", memory_mb=128))
    page = html(get("/ui/jobs/ui-versions"))
    assert 'data-version="1"' in page and 'data-version="0"' in page
    assert "+/- MemoryMB: &quot;64&quot; =&gt; &quot;128&quot;" in page
    client, token = _csrf_client()
    response = client.post(
        "/ui/jobs/ui-versions/revert?namespace=default",
        {"csrfmiddlewaretoken": token, "version": "0", "prior_version": "1"},
    )
    assert response.status_code == 302
    job = get("/v1/job/ui-versions").json()
    assert job["Version"] == 2 and job["TaskGroups"][0]["Tasks"][0]["Resources"]["MemoryMB"] == 64
    foreign = client.post(
        "/ui/jobs/ui-versions/promote?namespace=default",
        {"csrfmiddlewaretoken": token, "deployment_id": "not-a-deployment-of-this-job"},
    )
    assert foreign.status_code == 404
    # Chosen while the job was at version 1: refused now that it is at 2, nothing changes.
    stale = client.post(
        "/ui/jobs/ui-versions/revert?namespace=default",
        {"csrfmiddlewaretoken": token, "version": "1", "prior_version": "1"},
    )
    assert stale.status_code == 409 and get("/v1/job/ui-versions").json()["Version"] == 2


def test_drain_dialog_and_eligibility_toggle(nodes: Nodes) -> None:
    """Last in the module: it drains the second node, then puts it back."""
    node_id = nodes.ids[1]
    client, token = _csrf_client()
    page = html(client.get(f"/ui/clients/{node_id}"))
    assert 'id="drain-dialog"' in page and 'id="toggle-eligibility"' in page
    assert client.post(f"/ui/clients/{node_id}/drain", {"enable": "1"}).status_code == 403  # no CSRF token

    drained = client.post(
        f"/ui/clients/{node_id}/drain",
        {"csrfmiddlewaretoken": token, "enable": "1", "deadline": "1h30m", "ignore_system_jobs": "1"},
    )
    assert drained.status_code == 302
    node = get(f"/v1/node/{node_id}").json()
    assert node["Drain"] is True and node["SchedulingEligibility"] == "ineligible"
    assert (
        node["DrainStrategy"]["Deadline"] == 5400 * 10**9
        and node["DrainStrategy"]["IgnoreSystemJobs"] is True
    )
    page = html(client.get(f"/ui/clients/{node_id}"))
    assert "deadline 1h30m" in page and 'id="cancel-drain"' in page

    bad = client.post(
        f"/ui/clients/{node_id}/drain", {"csrfmiddlewaretoken": token, "enable": "1", "deadline": "soon"}
    )
    assert bad.status_code == 400

    client.post(f"/ui/clients/{node_id}/drain", {"csrfmiddlewaretoken": token, "enable": "0"})
    assert get(f"/v1/node/{node_id}").json()["Drain"] is False
    client.post(f"/ui/clients/{node_id}/eligibility", {"csrfmiddlewaretoken": token, "eligible": "1"})
    assert get(f"/v1/node/{node_id}").json()["SchedulingEligibility"] == "eligible"
    client.post(f"/ui/clients/{node_id}/eligibility", {"csrfmiddlewaretoken": token, "eligible": "0"})
    assert get(f"/v1/node/{node_id}").json()["SchedulingEligibility"] == "ineligible"
    client.post(f"/ui/clients/{node_id}/eligibility", {"csrfmiddlewaretoken": token, "eligible": "1"})
    assert get(f"/v1/node/{node_id}").json()["SchedulingEligibility"] == "eligible"
