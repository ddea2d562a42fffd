"""``caravan deployment list|status|promote|fail|pause|resume|unblock`` over the HTTP API."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cli.api import Api, add_api_flags
from cli.format import columns, kv, limit_id, ns_time, rfc3339_ns
from cli.monitor import monitor_eval

__all__ = ["register"]


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="deployment_command", metavar="<subcommand>", parser_class=type(parser))
    sub.required = True

    listing = sub.add_parser("list", help="List deployments")
    listing.add_argument("-verbose", action="store_true")
    listing.add_argument("-json", action="store_true")
    add_api_flags(listing)
    listing.set_defaults(func=cmd_list)

    status = sub.add_parser("status", help="Show a deployment")
    status.add_argument("deployment", metavar="DEPLOYMENT")
    status.add_argument("-verbose", action="store_true")
    status.add_argument("-json", action="store_true")
    add_api_flags(status)
    status.set_defaults(func=cmd_status)

    for name, text in [("promote", "Promote a deployment's canaries"), ("fail", "Fail a deployment"),
                       ("pause", "Pause a deployment"), ("resume", "Resume a paused deployment"),
                       ("unblock", "Unblock a multiregion deployment")]:
        p = sub.add_parser(name, help=text)
        p.add_argument("deployment", metavar="DEPLOYMENT")
        if name == "promote":
            p.add_argument("-group", action="append", default=[], help="promote only these groups")
        p.add_argument("-detach", action="store_true")
        p.add_argument("-verbose", action="store_true")
        add_api_flags(p)
        p.set_defaults(func=cmd_write, action=name)


def resolve_deployment(api: Api, prefix: str) -> dict[str, Any]:
    stub = api.resolve_id("deployment", "/v1/deployments", prefix)
    return dict(api.get(f"/v1/deployment/{stub['ID']}"))


def cmd_list(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    deployments = api.get("/v1/deployments") or []
    if args.json:
        print(json.dumps(deployments, indent=4))
        return 0
    if not deployments:
        print("No deployments found")
        return 0
    rows = [[limit_id(d["ID"], args.verbose), d.get("JobID"), d.get("JobVersion"), d.get("Status"),
             d.get("StatusDescription")] for d in deployments]
    print(columns(["ID", "Job ID", "Job Version", "Status", "Description"], rows))
    return 0


def format_deployment(d: dict[str, Any], verbose: bool) -> str:
    text = kv([("ID", limit_id(d["ID"], verbose)), ("Job ID", d.get("JobID")), ("Job Version", d.get("JobVersion")),
               ("Status", d.get("Status")), ("Description", d.get("StatusDescription"))])
    groups = d.get("TaskGroups") or {}
    canaries = any(g.get("DesiredCanaries") for g in groups.values())
    header = ["Task Group"] + (["Promoted"] if canaries else []) + ["Desired"] + (["Canaries"] if canaries else []) \
        + ["Placed", "Healthy", "Unhealthy", "Progress Deadline"]
    rows = []
    for name, g in sorted(groups.items()):
        row: list[Any] = [name]
        if canaries:
            row.append(str(bool(g.get("Promoted"))).lower())
        row.append(g.get("DesiredTotal", 0))
        if canaries:
            row.append(g.get("DesiredCanaries", 0))
        row += [g.get("PlacedAllocs", 0), g.get("HealthyAllocs", 0), g.get("UnhealthyAllocs", 0),
                rfc3339_ns(ns_time(g.get("RequireProgressBy")))]
        rows.append(row)
    if rows:
        text += "\n\nDeployed\n" + columns(header, rows)
    return text


def cmd_status(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    d = resolve_deployment(api, args.deployment)
    print(json.dumps(d, indent=4) if args.json else format_deployment(d, args.verbose))
    return 0


def cmd_write(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    d = resolve_deployment(api, args.deployment)
    dep_id = d["ID"]
    if args.action == "promote":
        body: dict[str, Any] = {"DeploymentID": dep_id, "All": not args.group, "Groups": args.group or None}
        reply = api.post(f"/v1/deployment/promote/{dep_id}", body)
    elif args.action in ("pause", "resume"):
        reply = api.post(f"/v1/deployment/pause/{dep_id}", {"DeploymentID": dep_id, "Pause": args.action == "pause"})
    else:
        reply = api.post(f"/v1/deployment/{args.action}/{dep_id}", {"DeploymentID": dep_id})
    eval_id = (reply or {}).get("EvalID") or ""
    if args.action == "fail":
        print(f'Deployment "{dep_id}" failed')
    elif args.action in ("pause", "resume"):
        print(f'Deployment "{dep_id}" {"paused" if args.action == "pause" else "resumed"}')
    if not eval_id or args.detach:
        if eval_id:
            print(eval_id)
        return 0
    return monitor_eval(api, eval_id, full_ids=args.verbose)
