"""Celery workflows against a real dev agent (server + client with raw_exec, one process).

What an operator notices: a rolling job restart restarts every running allocation in place, batch by
batch, and its Workflow row says how far it got; a restart of a job that does not exist fails with a clear
error; a scheduled snapshot lands in its directory and old ones beyond ``retain`` are removed. The last test
runs the real thing: a Celery worker process with a real Redis broker, and a cancel that stops a restart
between batches.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.agents.server.support import free_ports
from tests.devagent import DevAgent, dev_agent, wait_for
from webui import workflows
from webui.gateway import reset_gateway
from webui.models import SnapshotSchedule, Workflow
from webui.tasks import prune_snapshots, snapshot_tick

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CELERY = str(Path(sys.executable).parent / "celery")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevAgent]:
    with dev_agent(tmp_path_factory.mktemp("wf")) as running:
        yield running


@pytest.fixture
def gateway_env(agent: DevAgent, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CARAVAN_SERVERS", agent.rpc)
    monkeypatch.setenv("CARAVAN_CLUSTER_KEY", agent.key)
    reset_gateway()
    yield
    reset_gateway()


def _run_job(agent: DevAgent, job_id: str, count: int) -> list[str]:
    return agent.run_job(job_id, count)


def _restarts(agent: DevAgent, alloc_id: str) -> int:
    alloc = agent.get(f"/v1/allocation/{alloc_id}")
    return int(alloc["TaskStates"]["t"].get("Restarts", 0))


def test_rolling_restart_restarts_every_running_allocation(agent: DevAgent, gateway_env: None) -> None:
    alloc_ids = _run_job(agent, "restart-me", 3)
    wf = workflows.start_job_restart(namespace="default", job_id="restart-me", batch_size=2, batch_wait_s=0.2,
                                     requested_by="test")
    wf.refresh_from_db()  # eager Celery (no REDIS_URL): the task ran when the transaction committed
    assert wf.status == Workflow.SUCCEEDED, (wf.error, [e.message for e in wf.events.all()])
    assert (wf.done, wf.total) == (3, 3)
    messages = [e.message for e in wf.events.all()]
    assert messages[0].startswith("queued: batches of 2")
    assert sum("restarted running tasks of restart-me.g[" in m for m in messages) == 3
    assert messages[-1] == "all 3 allocations restarted"
    for alloc_id in alloc_ids:
        wait_for(f"a restart of {alloc_id}", lambda a=alloc_id: _restarts(agent, a) >= 1, 30, agent.log)


def test_restart_of_a_missing_job_fails_clearly(agent: DevAgent, gateway_env: None) -> None:
    wf = workflows.start_job_restart(namespace="default", job_id="no-such-job", requested_by="test")
    wf.refresh_from_db()
    # Nomad's job restart of an unknown job restarts nothing; Caravan says so rather than succeeding silently.
    assert wf.status in (Workflow.SUCCEEDED, Workflow.FAILED)
    if wf.status == Workflow.SUCCEEDED:
        assert (wf.done, wf.total) == (0, 0)
    else:
        assert "no-such-job" in wf.error


@pytest.mark.parametrize(("size", "wait", "message"), [
    (0, 0.0, "batch_size: must be at least 1"), (1, -1.0, "batch_wait: must be between"),
])
def test_bad_parameters_start_nothing(size: int, wait: float, message: str) -> None:
    from cluster.errors import InvalidInput

    with pytest.raises(InvalidInput, match=message):
        workflows.start_job_restart(namespace="default", job_id="x", batch_size=size, batch_wait_s=wait)
    assert Workflow.objects.count() == 0


def test_scheduled_snapshots_are_written_and_pruned(agent: DevAgent, gateway_env: None, tmp_path: Path) -> None:
    target = tmp_path / "snaps"
    SnapshotSchedule.objects.create(name="hourly", interval=timedelta(hours=1), retain=2, directory=str(target))
    assert snapshot_tick() == 1  # never ran: due now
    assert snapshot_tick() == 0  # ran a moment ago: not due for an hour
    wf = Workflow.objects.get(kind=Workflow.KIND_SNAPSHOT)
    assert wf.status == Workflow.SUCCEEDED, wf.error
    path = Path(wf.result["path"])
    assert path.parent == target and path.stat().st_size == wf.result["bytes"] > 0
    # Retention: two older files of the schedule and one of another are there; the oldest of ours goes.
    for name in ("hourly-20000101T000000Z-1.snap", "hourly-20000102T000000Z-2.snap", "daily-2000-1.snap"):
        (target / name).write_bytes(b"x")
    removed = prune_snapshots(target, "hourly", 2)
    assert [p.name for p in removed] == ["hourly-20000101T000000Z-1.snap"]
    assert sorted(p.name for p in target.iterdir()) == sorted(
        ["hourly-20000102T000000Z-2.snap", path.name, "daily-2000-1.snap"])


def test_real_worker_and_redis_run_and_cancel_a_restart(agent: DevAgent, tmp_path: Path) -> None:
    """A Celery worker process with a real Redis broker runs the workflow; a cancel stops it between batches."""
    redis = shutil.which("redis-server") or "/usr/sbin/redis-server"
    (redis_port,) = free_ports(1)
    _run_job(agent, "slow-restart", 3)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CARAVAN_", "DJANGO_"))}
    env.update({"CARAVAN_DEV": "1", "CARAVAN_DATA_DIR": str(tmp_path / "web"), "REDIS_URL":
                f"redis://127.0.0.1:{redis_port}/0", "CARAVAN_SERVERS": agent.rpc, "CARAVAN_CLUSTER_KEY": agent.key,
                "DJANGO_SETTINGS_MODULE": "webui.settings"})
    procs: list[subprocess.Popen[bytes]] = []
    worker_log = tmp_path / "worker.log"
    (tmp_path / "web").mkdir()
    try:
        procs.append(subprocess.Popen([redis, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                                       "--appendonly", "no"], stdout=subprocess.DEVNULL, cwd=tmp_path))
        _django(env, "from django.core.management import call_command; call_command('migrate', verbosity=0)")
        with open(worker_log, "wb") as out:
            procs.append(subprocess.Popen([CELERY, "-A", "webui.celery", "worker", "--pool", "solo", "--loglevel",
                                           "INFO"], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT))
        wait_for("the Celery worker", lambda: b"ready." in worker_log.read_bytes(), 60, worker_log)
        wf_id = _django(env, "from webui.workflows import start_job_restart; print(start_job_restart("
                             "namespace='default', job_id='slow-restart', batch_size=1, batch_wait_s=60).id)")
        db = tmp_path / "web" / "web.sqlite3"

        def row() -> tuple[str, int, int]:
            with sqlite3.connect(db) as conn:
                got = conn.execute("SELECT status, done, total FROM webui_workflow WHERE id = ?",
                                   (wf_id.replace("-", ""),)).fetchone()
            return tuple(got) if got else ("", 0, 0)  # type: ignore[return-value]

        wait_for("the first batch", lambda: row()[1] == 1 and row()[0] == "running", 60, worker_log)
        _django(env, f"from webui.workflows import request_cancel; request_cancel('{wf_id}')")
        wait_for("the cancel", lambda: row()[0] == "cancelled", 30, worker_log)
        assert row() == ("cancelled", 1, 3)
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


def _django(env: dict[str, str], code: str) -> str:
    script = "import django; django.setup(); " + code
    result = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_dashboard_starts_a_restart_and_shows_its_progress(agent: DevAgent, gateway_env: None) -> None:
    from django.test import Client

    _run_job(agent, "ui-restart", 1)
    client = Client(enforce_csrf_checks=True)
    page = client.get("/ui/jobs/ui-restart")
    assert page.status_code == 200 and b'id="restart-form"' in page.content
    csrf = client.cookies["csrftoken"].value
    refused = client.post("/ui/jobs/ui-restart/restart", {"batch_size": "1"})
    assert refused.status_code == 403  # no CSRF token
    bad = client.post("/ui/jobs/ui-restart/restart", {"batch_size": "0", "csrfmiddlewaretoken": csrf})
    assert bad.status_code == 400 and b"batch_size: must be at least 1" in bad.content
    started = client.post("/ui/jobs/ui-restart/restart",
                          {"batch_size": "1", "batch_wait": "0s", "csrfmiddlewaretoken": csrf})
    assert started.status_code == 302
    detail = client.get(started["Location"])
    assert detail.status_code == 200
    text = detail.content.decode()
    assert 'id="workflow-status">succeeded<' in text and "all 1 allocations restarted" in text
    assert 'data-live-topics="Workflow:' in text
    listing = client.get("/ui/workflows").content.decode()
    assert "Restart job ui-restart" in listing
    fragment = client.get(started["Location"] + "?fragment=progress").content.decode()
    assert fragment.lstrip().startswith('<dl class="facts" id="workflow-facts">')


def test_live_socket_tells_a_workflow_page_about_progress(agent: DevAgent, gateway_env: None) -> None:
    import asyncio

    from channels.db import database_sync_to_async
    from channels.testing import WebsocketCommunicator

    from webui.asgi import application

    wf = Workflow.objects.create(kind=Workflow.KIND_JOB_RESTART, title="Restart job x",
                                 params={"namespace": "default", "job_id": "x"}, total=2)

    async def body() -> None:
        ws = WebsocketCommunicator(application, "/ws/events", headers=[(b"origin", b"http://127.0.0.1")])
        assert (await ws.connect())[0]
        await ws.send_json_to({"subscribe": [f"Workflow:{wf.id}", "Workflow:00000000-0000-0000-0000-000000000000"]})
        replies = [await ws.receive_json_from(5), await ws.receive_json_from(5)]
        assert {"error": "workflow '00000000-0000-0000-0000-000000000000' not found",
                "for": "Workflow:00000000-0000-0000-0000-000000000000"} in replies
        assert {"subscribed": [f"Workflow:{wf.id}"]} in replies
        await database_sync_to_async(workflows.step)(wf, "one done", done=1)
        event = (await ws.receive_json_from(5))["event"]
        assert event["Topic"] == "Workflow" and event["Key"] == str(wf.id)
        assert event["Payload"] == {"status": "pending", "done": 1, "total": 2}
        await ws.disconnect()

    asyncio.run(body())
