"""``caravan alloc status|logs|stop|restart|signal`` over the HTTP API, as Nomad's CLI."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from cli.api import Api, add_api_flags
from cli.format import columns, kv, limit_id, relative_ns, rfc3339_ns
from cli.monitor import monitor_eval
from cluster.errors import InvalidInput

__all__ = ["register"]


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="alloc_command", metavar="<subcommand>", parser_class=type(parser))
    sub.required = True

    status = sub.add_parser("status", help="Show an allocation (or list them without an id)")
    status.add_argument("alloc", nargs="?", metavar="ALLOC")
    status.add_argument("-verbose", action="store_true")
    status.add_argument("-json", action="store_true")
    add_api_flags(status)
    status.set_defaults(func=cmd_status)

    logs = sub.add_parser("logs", help="Print a task's stdout (or -stderr)")
    logs.add_argument("alloc", metavar="ALLOC")
    logs.add_argument("task", nargs="?", metavar="TASK")
    logs.add_argument("-stderr", action="store_true")
    logs.add_argument("-f", dest="follow", action="store_true", help="follow")
    logs.add_argument("-tail", action="store_true", help="from the end (see -n, -c)")
    logs.add_argument("-n", dest="lines", type=int, default=-1, help="last N lines with -tail")
    logs.add_argument("-c", dest="bytes", type=int, default=-1, help="last N bytes with -tail")
    add_api_flags(logs)
    logs.set_defaults(func=cmd_logs)

    stop = sub.add_parser("stop", help="Stop an allocation (the scheduler replaces it)")
    stop.add_argument("alloc", metavar="ALLOC")
    stop.add_argument("-detach", action="store_true")
    stop.add_argument("-verbose", action="store_true")
    add_api_flags(stop)
    stop.set_defaults(func=cmd_stop)

    restart = sub.add_parser("restart", help="Restart an allocation's tasks in place")
    restart.add_argument("alloc", metavar="ALLOC")
    restart.add_argument("task", nargs="?", metavar="TASK")
    restart.add_argument("-all-tasks", dest="all_tasks", action="store_true")
    add_api_flags(restart)
    restart.set_defaults(func=cmd_restart)

    signal = sub.add_parser("signal", help="Send a signal to an allocation's tasks")
    signal.add_argument("alloc", metavar="ALLOC")
    signal.add_argument("task", nargs="?", metavar="TASK")
    signal.add_argument("-s", dest="signal", default="SIGKILL", help="signal name (default SIGKILL)")
    add_api_flags(signal)
    signal.set_defaults(func=cmd_signal)


def resolve_alloc(api: Api, prefix: str) -> dict[str, Any]:
    stub = api.resolve_id("allocation", "/v1/allocations", prefix)
    return dict(api.get(f"/v1/allocation/{stub['ID']}"))


def cmd_status(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    if not args.alloc:
        allocs = api.get("/v1/allocations") or []
        rows = [[limit_id(a["ID"], args.verbose), limit_id(a.get("NodeID", ""), args.verbose), a.get("JobID"),
                 a.get("TaskGroup"), a.get("DesiredStatus"), a.get("ClientStatus")] for a in allocs]
        print(columns(["ID", "Node ID", "Job ID", "Task Group", "Desired", "Status"], rows))
        return 0
    alloc = resolve_alloc(api, args.alloc)
    if args.json:
        print(json.dumps(alloc, indent=4))
        return 0
    now = time.time_ns()
    print(kv([
        ("ID", alloc["ID"]), ("Eval ID", limit_id(alloc.get("EvalID", ""), args.verbose)),
        ("Name", alloc.get("Name")), ("Node ID", limit_id(alloc.get("NodeID", ""), args.verbose)),
        ("Node Name", alloc.get("NodeName")), ("Job ID", alloc.get("JobID")),
        ("Job Version", (alloc.get("Job") or {}).get("Version", alloc.get("JobVersion", 0))),
        ("Client Status", alloc.get("ClientStatus")), ("Client Description", alloc.get("ClientDescription")),
        ("Desired Status", alloc.get("DesiredStatus")), ("Desired Description", alloc.get("DesiredDescription")),
        ("Created", relative_ns(alloc.get("CreateTime"), now)),
        ("Modified", relative_ns(alloc.get("ModifyTime"), now)),
    ]))
    for task, state in sorted((alloc.get("TaskStates") or {}).items()):
        print(f'\nTask "{task}" is "{state.get("State", "")}"')
        events = state.get("Events") or []
        rows = [[rfc3339_ns(e.get("Time")), e.get("Type"), e.get("DisplayMessage") or e.get("Message", "")]
                for e in reversed(events)]
        print("Recent Events:")
        print(columns(["Time", "Type", "Description"], rows))
    return 0


def _task(alloc: dict[str, Any], task: str | None) -> str:
    tasks = sorted((alloc.get("TaskStates") or {}).keys())
    if task:
        if tasks and task not in tasks:
            raise InvalidInput(f'allocation {alloc["ID"][:8]} has no task "{task}" (tasks: {", ".join(tasks)})')
        return task
    if len(tasks) == 1:
        return tasks[0]
    raise InvalidInput(f"allocation {alloc['ID'][:8]} has {len(tasks)} tasks: name one ({', '.join(tasks)})")


def cmd_logs(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    alloc = resolve_alloc(api, args.alloc)
    task = _task(alloc, args.task)
    params: dict[str, Any] = {"task": task, "type": "stderr" if args.stderr else "stdout", "plain": True,
                              "follow": args.follow or None}
    if args.tail:
        params["origin"] = "end"
        params["offset"] = args.bytes if args.bytes >= 0 else (args.lines * 120 if args.lines >= 0 else 10240)
    out = sys.stdout.buffer
    if args.follow:
        for chunk in api.stream(f"/v1/client/fs/logs/{alloc['ID']}", params):
            out.write(chunk)
            out.flush()
        return 0
    data = api.request("GET", f"/v1/client/fs/logs/{alloc['ID']}", params=params)
    if args.tail and args.lines >= 0 and args.bytes < 0:
        data = b"".join(data.splitlines(keepends=True)[-args.lines:]) if args.lines else b""
    out.write(data)
    out.flush()
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    alloc = resolve_alloc(api, args.alloc)
    reply = api.post(f"/v1/allocation/{alloc['ID']}/stop") or {}
    if args.detach or not reply.get("EvalID"):
        print(reply.get("EvalID", ""))
        return 0
    return monitor_eval(api, reply["EvalID"], full_ids=args.verbose)


def cmd_restart(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    alloc = resolve_alloc(api, args.alloc)
    body = {"TaskName": _task(alloc, args.task) if args.task else "", "AllTasks": args.all_tasks}
    api.post(f"/v1/client/allocation/{alloc['ID']}/restart", body)
    return 0


def cmd_signal(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    alloc = resolve_alloc(api, args.alloc)
    body = {"Task": _task(alloc, args.task) if args.task else "", "Signal": args.signal}
    api.post(f"/v1/client/allocation/{alloc['ID']}/signal", body)
    return 0

