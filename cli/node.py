"""``caravan node status|drain|eligibility`` over the HTTP API, as Nomad's CLI."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from cli.api import Api, add_api_flags
from cli.format import columns, kv, limit_id, relative_ns
from cluster.errors import InvalidInput
from cluster.jobspec.values import KindError, parse_duration_ns

__all__ = ["register"]

POLL_S = 1.0


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="node_command", metavar="<subcommand>", parser_class=type(parser))
    sub.required = True

    status = sub.add_parser("status", help="List client nodes, or show one")
    status.add_argument("node", nargs="?", metavar="NODE")
    status.add_argument("-verbose", action="store_true")
    status.add_argument("-json", action="store_true")
    add_api_flags(status)
    status.set_defaults(func=cmd_status)

    drain = sub.add_parser("drain", help="Start or stop draining a node")
    drain.add_argument("node", metavar="NODE")
    on_off = drain.add_mutually_exclusive_group(required=True)
    on_off.add_argument("-enable", action="store_true")
    on_off.add_argument("-disable", action="store_true")
    drain.add_argument("-deadline", default="1h", help="force-stop what is left after this (default 1h)")
    drain.add_argument("-force", action="store_true", help="stop everything now (no deadline)")
    drain.add_argument("-no-deadline", dest="no_deadline", action="store_true", help="wait for migrations forever")
    drain.add_argument("-ignore-system", dest="ignore_system", action="store_true", help="leave system jobs")
    drain.add_argument("-keep-ineligible", dest="keep_ineligible", action="store_true")
    drain.add_argument("-detach", action="store_true", help="do not wait for the drain to finish")
    drain.add_argument("-m", dest="message", default="", help="a message kept with the drain")
    drain.add_argument("-yes", action="store_true")
    add_api_flags(drain)
    drain.set_defaults(func=cmd_drain)

    elig = sub.add_parser("eligibility", help="Toggle whether new work may be placed on a node")
    elig.add_argument("node", metavar="NODE")
    which = elig.add_mutually_exclusive_group(required=True)
    which.add_argument("-enable", action="store_true")
    which.add_argument("-disable", action="store_true")
    add_api_flags(elig)
    elig.set_defaults(func=cmd_eligibility)


def resolve_node(api: Api, prefix: str) -> dict[str, Any]:
    stub = api.resolve_id("node", "/v1/nodes", prefix)
    return dict(api.get(f"/v1/node/{stub['ID']}"))


def cmd_status(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    if not args.node:
        nodes = api.get("/v1/nodes") or []
        if not nodes:
            print("No nodes registered")
            return 0
        rows = [[limit_id(n["ID"], args.verbose), n.get("NodePool", "default"), n.get("Datacenter"), n.get("Name"),
                 n.get("NodeClass") or "<none>", str(bool(n.get("Drain"))).lower(),
                 n.get("SchedulingEligibility"), n.get("Status")] for n in nodes]
        print(columns(["ID", "Node Pool", "DC", "Name", "Class", "Drain", "Eligibility", "Status"], rows))
        return 0
    node = resolve_node(api, args.node)
    if args.json:
        print(json.dumps(node, indent=4))
        return 0
    drivers = sorted(d for d, info in (node.get("Drivers") or {}).items() if info.get("Detected"))
    print(kv([
        ("ID", node["ID"]), ("Name", node.get("Name")), ("Node Pool", node.get("NodePool")),
        ("Class", node.get("NodeClass")), ("DC", node.get("Datacenter")),
        ("Drain", str(bool(node.get("DrainStrategy"))).lower()), ("Eligibility", node.get("SchedulingEligibility")),
        ("Status", node.get("Status")), ("Drivers", ",".join(drivers)),
    ]))
    allocs = api.get(f"/v1/node/{node['ID']}/allocations") or []
    print("\nAllocations")
    if not allocs:
        print("No allocations placed")
        return 0
    now = time.time_ns()
    rows = [[limit_id(a["ID"], args.verbose), a.get("JobID"), a.get("TaskGroup"), a.get("JobVersion", 0),
             a.get("DesiredStatus"), a.get("ClientStatus"), relative_ns(a.get("CreateTime"), now)] for a in allocs]
    print(columns(["ID", "Job ID", "Task Group", "Version", "Desired", "Status", "Created"], rows))
    return 0


def cmd_drain(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    node = resolve_node(api, args.node)
    if args.disable:
        body: dict[str, Any] = {"NodeID": node["ID"], "DrainSpec": None, "MarkEligible": not args.keep_ineligible}
        api.post(f"/v1/node/{node['ID']}/drain", body)
        print(f'Node "{node["ID"]}" drain strategy unset')
        return 0
    if args.force:
        deadline_ns = -1
    elif args.no_deadline:
        deadline_ns = 0
    else:
        try:
            deadline_ns = parse_duration_ns(args.deadline)
        except KindError as e:
            raise InvalidInput(f"-deadline: {e}") from None
    body = {"NodeID": node["ID"], "DrainSpec": {"Deadline": deadline_ns, "IgnoreSystemJobs": args.ignore_system},
            "Meta": {"message": args.message} if args.message else None}
    api.post(f"/v1/node/{node['ID']}/drain", body)
    print(f'Node "{node["ID"]}" drain strategy set')
    if args.detach:
        return 0
    stamp = lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())  # noqa: E731
    print(f'==> {stamp()}: Monitoring node "{limit_id(node["ID"])}": Ctrl-C to detach monitoring')
    while True:
        current = api.get(f"/v1/node/{node['ID']}")
        if not current.get("DrainStrategy"):
            print(f'==> {stamp()}: Node "{limit_id(node["ID"])}" drain complete')
            return 0
        time.sleep(POLL_S)


def cmd_eligibility(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    node = resolve_node(api, args.node)
    value = "eligible" if args.enable else "ineligible"
    api.post(f"/v1/node/{node['ID']}/eligibility", {"NodeID": node["ID"], "Eligibility": value})
    print(f'Node "{node["ID"]}" scheduling eligibility set: {value} for scheduling')
    return 0
