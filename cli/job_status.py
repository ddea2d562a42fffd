"""``caravan job status|history|inspect``: reading jobs over the HTTP API, printed as Nomad's CLI does."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import msgspec

from cli.api import Api, ApiError, add_api_flags
from cli.format import columns, kv, limit_id, ns_time, relative_ns, rfc3339_ns
from cli.monitor import format_failed_allocs
from cluster.jobspec.diff import JobDiff, format_diff

__all__ = ["register"]

SUMMARY_COLUMNS = ("Queued", "Starting", "Running", "Failed", "Complete", "Lost", "Unknown")


def register(sub: Any) -> None:
    status = sub.add_parser("status", help="List jobs, or show one job's status")
    status.add_argument("job", nargs="?", metavar="JOB", help="job id or prefix")
    status.add_argument("-verbose", action="store_true", help="full ids")
    status.add_argument("-all-allocs", dest="all_allocs", action="store_true", help="allocations of every version")
    status.add_argument("-evals", action="store_true", help="show the job's evaluations")
    add_api_flags(status)
    status.set_defaults(func=cmd_status)

    history = sub.add_parser("history", help="Show a job's versions")
    history.add_argument("job", metavar="JOB")
    history.add_argument("-p", dest="diff", action="store_true", help="show the diff between versions")
    history.add_argument("-version", type=int, default=None, help="only this version")
    history.add_argument("-json", action="store_true", help="print the versions as JSON")
    add_api_flags(history)
    history.set_defaults(func=cmd_history)

    inspect = sub.add_parser("inspect", help="Print a job as the API stores it (JSON)")
    inspect.add_argument("job", metavar="JOB")
    inspect.add_argument("-version", type=int, default=None, help="a past version")
    add_api_flags(inspect)
    inspect.set_defaults(func=cmd_inspect)


def resolve_job(api: Api, prefix: str) -> dict[str, Any]:
    return api.resolve_id("job", "/v1/jobs", prefix)


def cmd_status(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    if not args.job:
        jobs = api.get("/v1/jobs") or []
        if not jobs:
            print("No running jobs")
            return 0
        rows = [[j["ID"], j.get("Type", ""), j.get("Priority", ""), j.get("Status", ""),
                 rfc3339_ns(j.get("SubmitTime"))] for j in jobs]
        print(columns(["ID", "Type", "Priority", "Status", "Submit Date"], rows))
        return 0
    stub = resolve_job(api, args.job)
    job = api.get(f"/v1/job/{stub['ID']}", {"namespace": stub.get("Namespace")})
    print(_job_header(job))
    ns = {"namespace": job.get("Namespace")}
    if job.get("Periodic") or job.get("ParameterizedJob"):
        _print_children(api, job, ns)
    else:
        _print_summary(api, job, ns)
        _print_latest_deployment(api, job, ns, args.verbose)
    if args.evals:
        _print_evals(api, job, ns, args.verbose)
    _print_placement_failures(api, job, ns)
    _print_allocs(api, job, ns, args.verbose, args.all_allocs)
    return 0


def _job_header(job: dict[str, Any]) -> str:
    return kv([
        ("ID", job["ID"]), ("Name", job.get("Name")), ("Submit Date", rfc3339_ns(job.get("SubmitTime"))),
        ("Type", job.get("Type")), ("Priority", job.get("Priority")),
        ("Datacenters", ",".join(job.get("Datacenters") or [])), ("Namespace", job.get("Namespace")),
        ("Node Pool", job.get("NodePool")), ("Status", _status(job)),
        ("Periodic", str(bool(job.get("Periodic"))).lower()),
        ("Parameterized", str(bool(job.get("ParameterizedJob"))).lower()),
    ])


def _status(job: dict[str, Any]) -> str:
    return "dead (stopped)" if job.get("Stop") else str(job.get("Status", ""))


def _print_summary(api: Api, job: dict[str, Any], ns: dict[str, Any]) -> None:
    summary = api.get(f"/v1/job/{job['ID']}/summary", ns) or {}
    groups = summary.get("Summary") or {}
    print("\nSummary")
    rows = [[name] + [g.get(c, 0) for c in SUMMARY_COLUMNS] for name, g in sorted(groups.items())]
    print(columns(["Task Group", *SUMMARY_COLUMNS], rows))


def _print_children(api: Api, job: dict[str, Any], ns: dict[str, Any]) -> None:
    summary = api.get(f"/v1/job/{job['ID']}/summary", ns) or {}
    children = summary.get("Children") or {}
    print("\nChildren Job Summary")
    print(columns(["Pending", "Running", "Dead"],
                  [[children.get("Pending", 0), children.get("Running", 0), children.get("Dead", 0)]]))
    kids = [j for j in api.get("/v1/jobs", {"prefix": job["ID"] + "/", **ns}) or []
            if j.get("ParentID") == job["ID"]]
    print("\nPrevious Launches" if job.get("Periodic") else "\nDispatched Jobs")
    if kids:
        print(columns(["ID", "Status"], [[k["ID"], k.get("Status", "")] for k in kids]))
    else:
        print("No instances of this job found")


def _print_latest_deployment(api: Api, job: dict[str, Any], ns: dict[str, Any], verbose: bool) -> None:
    try:
        dep = api.get(f"/v1/job/{job['ID']}/deployment", ns)
    except ApiError as e:
        if e.status == 404:
            return
        raise
    if not dep:
        return
    print("\nLatest Deployment")
    print(kv([("ID", limit_id(dep["ID"], verbose)), ("Status", dep.get("Status")),
              ("Description", dep.get("StatusDescription"))]))
    groups = dep.get("TaskGroups") or {}
    if groups:
        print("\nDeployed")
        rows = [[name, g.get("DesiredTotal", 0), g.get("PlacedAllocs", 0), g.get("HealthyAllocs", 0),
                 g.get("UnhealthyAllocs", 0), rfc3339_ns(ns_time(g.get("RequireProgressBy")))]
                for name, g in sorted(groups.items())]
        print(columns(["Task Group", "Desired", "Placed", "Healthy", "Unhealthy", "Progress Deadline"], rows))


def _print_evals(api: Api, job: dict[str, Any], ns: dict[str, Any], verbose: bool) -> None:
    evals = api.get(f"/v1/job/{job['ID']}/evaluations", ns) or []
    print("\nEvaluations")
    rows = [[limit_id(e["ID"], verbose), e.get("Priority"), e.get("TriggeredBy"), e.get("Status"),
             "true" if e.get("FailedTGAllocs") else "false"] for e in evals]
    print(columns(["ID", "Priority", "Triggered By", "Status", "Placement Failures"], rows))


def _print_placement_failures(api: Api, job: dict[str, Any], ns: dict[str, Any]) -> None:
    evals = api.get(f"/v1/job/{job['ID']}/evaluations", ns) or []
    blocked = [e for e in evals if e.get("Status") == "blocked" and e.get("FailedTGAllocs")]
    if blocked:
        print("\nPlacement Failure")
        print("\n".join(format_failed_allocs(blocked[-1]["FailedTGAllocs"], indent="")))


def _print_allocs(api: Api, job: dict[str, Any], ns: dict[str, Any], verbose: bool, all_allocs: bool) -> None:
    allocs = api.get(f"/v1/job/{job['ID']}/allocations", {**ns, "all": all_allocs or None}) or []
    print("\nAllocations")
    if not allocs:
        print("No allocations placed")
        return
    now = time.time_ns()
    rows = [[limit_id(a["ID"], verbose), limit_id(a.get("NodeID", ""), verbose), a.get("TaskGroup"),
             a.get("JobVersion", 0), a.get("DesiredStatus"), a.get("ClientStatus"),
             relative_ns(a.get("CreateTime"), now), relative_ns(a.get("ModifyTime"), now)]
            for a in sorted(allocs, key=lambda a: -int(a.get("CreateIndex", 0)))]
    print(columns(["ID", "Node ID", "Task Group", "Version", "Desired", "Status", "Created", "Modified"], rows))


def cmd_history(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    stub = resolve_job(api, args.job)
    reply = api.get(f"/v1/job/{stub['ID']}/versions", {"diffs": args.diff or None,
                                                        "namespace": stub.get("Namespace")}) or {}
    versions = reply.get("Versions") or []
    diffs = reply.get("Diffs") or []
    if args.version is not None:
        versions = [v for v in versions if v.get("Version") == args.version]
        if not versions:
            sys.stderr.write(f"Error: job {stub['ID']!r} has no version {args.version}\n")
            return 1
    if args.json:
        print(json.dumps(versions, indent=4))
        return 0
    blocks = []
    for i, v in enumerate(versions):
        pairs = [("Version", v.get("Version")), ("Stable", str(bool(v.get("Stable"))).lower()),
                 ("Submit Date", rfc3339_ns(v.get("SubmitTime")))]
        block = kv(pairs)
        if args.diff and i < len(diffs) and diffs[i]:
            block += "\nDiff =\n" + format_diff(msgspec.convert(diffs[i], JobDiff)).rstrip("\n")
        blocks.append(block)
    print("\n\n".join(blocks))
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    stub = resolve_job(api, args.job)
    ns = {"namespace": stub.get("Namespace")}
    if args.version is None:
        job = api.get(f"/v1/job/{stub['ID']}", ns)
    else:
        versions = (api.get(f"/v1/job/{stub['ID']}/versions", ns) or {}).get("Versions") or []
        found = [v for v in versions if v.get("Version") == args.version]
        if not found:
            sys.stderr.write(f"Error: job {stub['ID']!r} has no version {args.version}\n")
            return 1
        job = found[0]
    print(json.dumps({"Job": job}, indent=4))
    return 0
