"""The jobs list at 10,000 jobs: the server's listing (paging and filtering on a state snapshot) and,
with ``--dashboard``, the dashboard's jobs page end to end (browser-less HTTP against a real dev agent).

    python -m benchmarks.jobs_list_bench [--jobs 10000] [--runs 5] [--dashboard] [--json]

Each figure is the median of ``--runs`` requests. The listing part is pure (no process, no network); the
dashboard part starts ``caravan agent -dev`` on free ports, registers the jobs over RPC (periodic jobs, so
the scheduler stays idle) and times ``GET /ui/jobs`` pages, a deep page and searches.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import msgspec

from agents.server.listing import job_list_page
from agents.server.messages import JobListRequest, JobRegisterRequest, JobRegisterResponse
from cluster import fsm, jobspec
from cluster.state import StateSnapshot, StateStore
from cluster.structs.job import Job

CARAVAN = str(Path(sys.executable).parent / "caravan")


def periodic_job(i: int) -> Job:
    raw = {"ID": f"bench-{i:05d}", "Name": f"bench job {i:05d}", "Type": "batch", "Datacenters": ["dc1"],
           "Meta": {"env": "prod" if i % 10 == 0 else "dev"},
           "Periodic": {"Spec": "0 0 1 1 *", "SpecType": "cron", "Enabled": True},
           "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "raw_exec",
                                                   "Config": {"command": "/bin/true"}}]}]}
    return jobspec.parse_json(msgspec.json.encode({"Job": raw})).job


def median_ms(runs: int, call: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1)


def listing(jobs: int, runs: int) -> dict[str, float]:
    store = StateStore()
    for i in range(jobs):
        fsm.apply_command(store, i + 1, fsm.JobRegister(Job=periodic_job(i), SubmitTime=1))
    snap: StateSnapshot = store.snapshot()
    deep = f"bench-{jobs - 1000:05d}"
    return {
        "page_of_50_ms": median_ms(runs, lambda: job_list_page(snap, JobListRequest(PerPage=50))),
        "deep_page_of_50_ms": median_ms(runs, lambda: job_list_page(snap, JobListRequest(PerPage=50,
                                                                                           NextToken=deep))),
        "filtered_page_of_50_ms": median_ms(runs, lambda: job_list_page(
            snap, JobListRequest(PerPage=50, Filter='Meta.env == "prod"'))),
        "all_filtered_ms": median_ms(runs, lambda: job_list_page(snap, JobListRequest(Filter='Meta.env == "prod"'))),
        "all_stubs_ms": median_ms(runs, lambda: job_list_page(snap, JobListRequest())),
    }


def _free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def dashboard(jobs: int, runs: int) -> dict[str, float]:
    http, rpc, serf = _free_ports(3)
    root = Path(tempfile.mkdtemp(prefix="jobs-bench-"))
    (root / "ports.hcl").write_text(f"ports {{\n  serf = {serf}\n}}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CARAVAN_", "DJANGO_"))}
    with open(root / "agent.log", "wb") as log:
        agent = subprocess.Popen([CARAVAN, "agent", "-dev", "-data-dir", str(root / "data"), "-http-port", str(http),
                                  "-rpc-port", str(rpc), "-config", str(root / "ports.hcl")], stdout=log,
                                 stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{http}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/v1/status/leader", timeout=2) as r:
                    if r.read().strip(b'"\n'):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the dev agent did not come up")
            time.sleep(0.2)
        os.environ["CARAVAN_SERVERS"] = f"127.0.0.1:{rpc}"
        os.environ["CARAVAN_CLUSTER_KEY"] = (root / "data" / "dev-cluster-key").read_text().strip()
        from webui.gateway import gateway

        async def register_all() -> None:
            gw = gateway()
            for start in range(0, jobs, 250):
                await asyncio.gather(*(gw.call("Job.Register", JobRegisterRequest(Job=periodic_job(i)),
                                               JobRegisterResponse, timeout_s=60)
                                       for i in range(start, min(jobs, start + 250))))

        asyncio.run(register_all())

        def get(path: str) -> None:
            with urllib.request.urlopen(url + path, timeout=30) as response:
                response.read()

        return {
            "ui_first_page_ms": median_ms(runs, lambda: get("/ui/jobs")),
            "ui_deep_page_ms": median_ms(runs, lambda: get(f"/ui/jobs?next=bench-{jobs - 10:05d}")),
            "ui_search_hit_ms": median_ms(runs, lambda: get("/ui/jobs?search=bench-0999")),
            "ui_search_miss_ms": median_ms(runs, lambda: get("/ui/jobs?search=no-such-job")),
            "api_page_of_50_ms": median_ms(runs, lambda: get("/v1/jobs?per_page=50")),
        }
    finally:
        agent.terminate()
        agent.wait(20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dashboard", action="store_true", help="also time the dashboard against a dev agent")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result: dict[str, object] = {"jobs": args.jobs, **listing(args.jobs, args.runs)}
    if args.dashboard:
        result.update(dashboard(args.jobs, args.runs))
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:28} {value}")


if __name__ == "__main__":
    main()
