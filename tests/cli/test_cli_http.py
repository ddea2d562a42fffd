"""The `caravan` CLI over the HTTP API, against a real dev agent (server, client with raw_exec, web, ACL off)
and, for the acl verbs, a real `caravan web` with ACL on in front of it.

Each test runs the console script as a user would (NOMAD_ADDR / NOMAD_TOKEN in the environment) and checks
what they would read: Nomad's tables and `Key = Value` blocks, exit codes, clear errors.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agents.server.support import free_ports
from tests.devagent import CARAVAN, DevAgent, clean_env, dev_agent, wait_for

pytestmark = pytest.mark.slow

JOB = """
job "cli-web" {
  datacenters = ["dc1"]
  group "g" {
    count = COUNT
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo hello-from-cli; sleep 600"]
      }
      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}
"""


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevAgent]:
    with dev_agent(tmp_path_factory.mktemp("cli")) as running:
        yield running


def caravan(agent_or_url: DevAgent | str, *args: str, token: str = "", stdin: str = "",
            timeout_s: float = 90) -> subprocess.CompletedProcess[str]:
    url = agent_or_url if isinstance(agent_or_url, str) else agent_or_url.http
    env = {**clean_env(), "NOMAD_ADDR": url}
    if token:
        env["NOMAD_TOKEN"] = token
    return subprocess.run([CARAVAN, *args], input=stdin, capture_output=True, text=True, env=env,
                          timeout=timeout_s)


def job_file(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "web.nomad.hcl"
    path.write_text(JOB.replace("COUNT", str(count)))
    return path


def test_job_lifecycle(agent: DevAgent, tmp_path: Path) -> None:
    run = caravan(agent, "job", "run", str(job_file(tmp_path, 1)))
    assert run.returncode == 0, run.stderr
    assert re.search(r'Allocation "[0-9a-f]{8}" created: node "[0-9a-f]{8}", group "g"', run.stdout)
    assert 'finished with status "complete"' in run.stdout

    listing = caravan(agent, "job", "status")
    assert re.search(r"^cli-web\s+service\s+50\s+running", listing.stdout, re.M), listing.stdout

    plan = caravan(agent, "job", "plan", str(job_file(tmp_path, 2)))
    assert plan.returncode == 1, plan.stderr  # Nomad: 1 when allocations would be created
    assert '+/- Count: "1" => "2"' in plan.stdout and "All tasks successfully allocated." in plan.stdout
    index = re.search(r"Job Modify Index: (\d+)", plan.stdout)
    assert index is not None
    same = caravan(agent, "job", "plan", str(job_file(tmp_path, 1)))
    assert same.returncode == 0, same.stdout

    scaled = caravan(agent, "job", "scale", "cli-web", "g", "2")
    assert scaled.returncode == 0, scaled.stderr
    wait_for("two running allocations", lambda: len([a for a in agent.get("/v1/job/cli-web/allocations")
                                                      if a["ClientStatus"] == "running"]) == 2, 60, agent.log)
    status = caravan(agent, "job", "status", "cli-web")
    assert status.returncode == 0, status.stderr
    assert re.search(r"^ID\s+= cli-web$", status.stdout, re.M)
    assert re.search(r"^g\s+0\s+0\s+2\s+0\s+0\s+0\s+0$", status.stdout, re.M), status.stdout

    history = caravan(agent, "job", "history", "-p", "cli-web")
    assert "Version     = 1" in history.stdout and '+/- Count: "1" => "2"' in history.stdout

    reverted = caravan(agent, "job", "revert", "-detach", "cli-web", "0")
    assert reverted.returncode == 0, reverted.stderr
    inspect = caravan(agent, "job", "inspect", "cli-web")
    assert '"Count": 1' in inspect.stdout and '"Version": 2' in inspect.stdout

    stopped = caravan(agent, "job", "stop", "-purge", "cli-web")
    assert stopped.returncode == 0, stopped.stderr
    gone = caravan(agent, "job", "status", "cli-web")
    assert gone.returncode == 1 and 'No job with prefix or ID "cli-web" found' in gone.stderr


def test_allocs_nodes_and_logs(agent: DevAgent) -> None:
    alloc_id = agent.run_job("cli-logs", 1, "/bin/sh", ["-c", "echo line-one; echo oops >&2; sleep 600"])[0]
    status = caravan(agent, "alloc", "status", alloc_id[:8])
    assert status.returncode == 0, status.stderr
    assert f"ID                  = {alloc_id}" in status.stdout and 'Task "t" is "running"' in status.stdout
    logs = wait_for("the task's output", lambda: (r := caravan(agent, "alloc", "logs", alloc_id[:8])).stdout
                    and r, 30)
    assert logs.stdout == "line-one\n"
    assert caravan(agent, "alloc", "logs", "-stderr", alloc_id).stdout == "oops\n"

    nodes = caravan(agent, "node", "status")
    assert re.search(r"^[0-9a-f]{8}\s+default\s+dc1\s+\S+\s+<none>\s+false\s+eligible\s+ready$", nodes.stdout, re.M)
    node_id = agent.get("/v1/nodes")[0]["ID"]
    node = caravan(agent, "node", "status", node_id[:8])
    assert f"ID          = {node_id}" in node.stdout and "raw_exec" in node.stdout

    off = caravan(agent, "node", "eligibility", "-disable", node_id[:8])
    assert off.returncode == 0 and "ineligible" in off.stdout
    assert agent.get(f"/v1/node/{node_id}")["SchedulingEligibility"] == "ineligible"
    assert caravan(agent, "node", "eligibility", "-enable", node_id).returncode == 0
    assert agent.get(f"/v1/node/{node_id}")["SchedulingEligibility"] == "eligible"

    restarted = caravan(agent, "alloc", "restart", alloc_id)
    assert restarted.returncode == 0, restarted.stderr
    wait_for("the restart", lambda: agent.get(f"/v1/allocation/{alloc_id}")["TaskStates"]["t"]["Restarts"] >= 1,
             30, agent.log)
    missing = caravan(agent, "alloc", "status", "ffffffff")
    assert missing.returncode == 1 and 'No allocation with prefix or ID "ffffffff" found' in missing.stderr


def test_servers_raft_and_snapshots(agent: DevAgent, tmp_path: Path) -> None:
    members = caravan(agent, "server", "members")
    assert members.returncode == 0, members.stderr
    assert re.search(r"\salive\s+true\s", members.stdout), members.stdout
    peers = caravan(agent, "operator", "raft", "list-peers")
    assert re.search(r"\sleader\s+true\s+3$", peers.stdout, re.M), peers.stdout

    agent.run_job("snap-keep", 1)
    snap = tmp_path / "state.snap"
    saved = caravan(agent, "operator", "snapshot", "save", str(snap))
    assert saved.returncode == 0 and snap.stat().st_size > 0, saved.stderr
    agent.request("PUT", "/v1/jobs", {"Job": {"ID": "snap-drop", "Type": "batch", "Datacenters": ["dc1"],
                                              "TaskGroups": [{"Name": "g", "Tasks": [{
                                                  "Name": "t", "Driver": "raw_exec",
                                                  "Config": {"command": "/bin/true"}}]}]}})
    restored = caravan(agent, "operator", "snapshot", "restore", str(snap))
    assert restored.returncode == 0 and "Snapshot Restored" in restored.stdout, restored.stderr
    ids = {j["ID"] for j in agent.get("/v1/jobs")}
    assert "snap-keep" in ids and "snap-drop" not in ids
    broken = tmp_path / "broken.snap"
    broken.write_bytes(b"garbage")
    refused = caravan(agent, "operator", "snapshot", "restore", str(broken))
    assert refused.returncode == 1 and "not a Caravan snapshot file" in refused.stderr


def test_acl_verbs_against_a_web_app_with_acl_on(agent: DevAgent, tmp_path: Path) -> None:
    (port,) = free_ports(1)
    env = {**clean_env(), "CARAVAN_ACL": "1", "CARAVAN_CLUSTER_KEY": agent.key, "CARAVAN_DEV": "1"}
    log = tmp_path / "web.log"
    with open(log, "wb") as out:
        web = subprocess.Popen([CARAVAN, "web", "-http-port", str(port), "-data-dir", str(tmp_path / "web"),
                                "-servers", agent.rpc], stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        # Anonymous: no policies of its own to list, and nothing refused.
        wait_for("the web application", lambda: caravan(url, "acl", "policy", "list").returncode == 0, 60, log)
        boot = caravan(url, "acl", "bootstrap")
        assert boot.returncode == 0, boot.stderr
        root = re.search(r"^Secret ID\s+= (\S+)$", boot.stdout, re.M)
        assert root is not None and "Bootstrap Token" in boot.stdout
        again = caravan(url, "acl", "bootstrap")
        assert again.returncode == 1 and "ACL bootstrap already done" in again.stderr

        rules = tmp_path / "read.hcl"
        rules.write_text('namespace "default" {\n  policy = "read"\n}\n')
        applied = caravan(url, "acl", "policy", "apply", "-description", "readers", "readers", str(rules),
                          token=root.group(1))
        assert applied.returncode == 0 and 'Successfully wrote "readers" ACL policy!' in applied.stdout
        created = caravan(url, "acl", "token", "create", "-name", "ci", "-policy", "readers", token=root.group(1))
        assert created.returncode == 0, created.stderr
        reader = re.search(r"^Secret ID\s+= (\S+)$", created.stdout, re.M)
        accessor = re.search(r"^Accessor ID\s+= (\S+)$", created.stdout, re.M)
        assert reader is not None and accessor is not None
        assert caravan(url, "job", "status", token=reader.group(1)).returncode == 0
        denied = caravan(url, "node", "drain", "-enable", "-yes", "x", token=reader.group(1))
        assert denied.returncode == 1 and "403" in denied.stderr
        listed = caravan(url, "acl", "token", "list", token=root.group(1))
        assert accessor.group(1) in listed.stdout and reader.group(1) not in listed.stdout
        revoked = caravan(url, "acl", "token", "revoke", accessor.group(1), token=root.group(1))
        assert revoked.returncode == 0, revoked.stderr
        after = caravan(url, "job", "status", token=reader.group(1))
        assert after.returncode == 1 and "403" in after.stderr
    finally:
        web.terminate()
        web.wait(20)


CANARY_JOB = """
job "canary-web" {
  datacenters = ["dc1"]
  update {
    canary           = 1
    max_parallel     = 1
    min_healthy_time = "1s"
    healthy_deadline = "1m"
  }
  group "g" {
    count = 1
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo VERSION; sleep 600"]
      }
      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}
"""

DISPATCH_JOB = """
job "batch-work" {
  datacenters = ["dc1"]
  type        = "batch"
  parameterized {
    payload       = "optional"
    meta_required = ["who"]
  }
  group "g" {
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo hello $NOMAD_META_who"]
      }
      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}
"""


def test_deployments_dispatch_and_restart(agent: DevAgent, tmp_path: Path) -> None:
    path = tmp_path / "canary.nomad.hcl"
    path.write_text(CANARY_JOB.replace("VERSION", "v1"))
    assert caravan(agent, "job", "run", str(path)).returncode == 0
    first = wait_for("the first deployment to succeed",
                     lambda: (d := agent.get("/v1/job/canary-web/deployment")) and d["Status"] == "successful" and d,
                     60, agent.log)
    path.write_text(CANARY_JOB.replace("VERSION", "v2"))
    assert caravan(agent, "job", "run", "-detach", str(path)).returncode == 0
    second = wait_for("the canary deployment", lambda: (d := agent.get("/v1/job/canary-web/deployment"))
                      and d["ID"] != first["ID"] and d, 30, agent.log)
    listing = caravan(agent, "deployment", "list")
    assert second["ID"][:8] in listing.stdout and first["ID"][:8] in listing.stdout
    wait_for("a healthy canary", lambda: agent.get(f"/v1/deployment/{second['ID']}")["TaskGroups"]["g"]
             ["HealthyAllocs"] >= 1, 60, agent.log)
    status = caravan(agent, "deployment", "status", second["ID"][:8])
    assert re.search(r"^g\s+false\s+1\s+1\s+", status.stdout, re.M), status.stdout  # promoted? desired canaries
    promoted = caravan(agent, "deployment", "promote", "-detach", second["ID"][:8])
    assert promoted.returncode == 0, promoted.stderr
    wait_for("the promoted deployment to succeed",
             lambda: agent.get(f"/v1/deployment/{second['ID']}")["Status"] == "successful", 60, agent.log)

    restarted = caravan(agent, "job", "restart", "-batch-size", "1", "canary-web")
    assert restarted.returncode == 0 and "All allocations restarted successfully!" in restarted.stdout

    batch = tmp_path / "batch.nomad.hcl"
    batch.write_text(DISPATCH_JOB)
    assert caravan(agent, "job", "run", str(batch)).returncode == 0
    missing = caravan(agent, "job", "dispatch", "batch-work")
    assert missing.returncode == 1 and "who" in missing.stderr
    dispatched = caravan(agent, "job", "dispatch", "-meta", "who=operator", "batch-work")
    assert dispatched.returncode == 0, dispatched.stderr
    child = re.search(r"^Dispatched Job ID = (\S+)$", dispatched.stdout, re.M)
    assert child is not None and child.group(1).startswith("batch-work/dispatch-")
    wait_for("the dispatched job to finish", lambda: any(
        a["ClientStatus"] == "complete" for a in agent.get(f"/v1/job/{child.group(1)}/allocations")), 30, agent.log)
