"""``caravan job stop|scale|revert|dispatch|restart``: job writes over the HTTP API, as Nomad's CLI."""

from __future__ import annotations

import argparse
import base64
import sys
import time
from pathlib import Path
from typing import Any

from cli.api import Api, add_api_flags
from cli.format import limit_id
from cli.monitor import monitor_eval
from cluster.errors import InvalidInput
from cluster.jobspec.values import KindError, parse_duration_ns

__all__ = ["register"]


def register(sub: Any) -> None:
    stop = sub.add_parser("stop", help="Stop a job (and with -purge, remove it)")
    stop.add_argument("job", metavar="JOB")
    stop.add_argument("-purge", action="store_true", help="remove the job and its history at once")
    stop.add_argument("-detach", action="store_true", help="do not monitor the evaluation")
    stop.add_argument("-yes", action="store_true", help="no confirmation (accepted for Nomad compatibility)")
    stop.add_argument("-verbose", action="store_true", help="full ids")
    add_api_flags(stop)
    stop.set_defaults(func=cmd_stop)

    scale = sub.add_parser("scale", help="Change a task group's count")
    scale.add_argument("job", metavar="JOB")
    scale.add_argument("rest", nargs="+", metavar="[GROUP] COUNT")
    scale.add_argument("-detach", action="store_true")
    scale.add_argument("-verbose", action="store_true")
    add_api_flags(scale)
    scale.set_defaults(func=cmd_scale)

    revert = sub.add_parser("revert", help="Revert a job to an older version")
    revert.add_argument("job", metavar="JOB")
    revert.add_argument("version", type=int, metavar="VERSION")
    revert.add_argument("-detach", action="store_true")
    revert.add_argument("-verbose", action="store_true")
    add_api_flags(revert)
    revert.set_defaults(func=cmd_revert)

    dispatch = sub.add_parser("dispatch", help="Dispatch an instance of a parameterized job")
    dispatch.add_argument("job", metavar="JOB")
    dispatch.add_argument("input", nargs="?", metavar="INPUT", help='payload file ("-": standard input)')
    dispatch.add_argument("-meta", action="append", default=[], metavar="KEY=VALUE")
    dispatch.add_argument("-id-prefix-template", dest="id_prefix", default="")
    dispatch.add_argument("-detach", action="store_true")
    dispatch.add_argument("-verbose", action="store_true")
    add_api_flags(dispatch)
    dispatch.set_defaults(func=cmd_dispatch)

    restart = sub.add_parser("restart", help="Restart a job's allocations in batches")
    restart.add_argument("job", metavar="JOB")
    restart.add_argument("-batch-size", dest="batch_size", default="1", help="allocations per batch (N or N%%)")
    restart.add_argument("-batch-wait", dest="batch_wait", default="0s", help="wait between batches")
    restart.add_argument("-group", action="append", default=[], help="only these task groups")
    restart.add_argument("-task", action="append", default=[], help="only these tasks")
    restart.add_argument("-all-tasks", dest="all_tasks", action="store_true", help="also dead/lifecycle tasks")
    restart.add_argument("-yes", action="store_true")
    restart.add_argument("-verbose", action="store_true")
    add_api_flags(restart)
    restart.set_defaults(func=cmd_restart)


def _job(api: Api, prefix: str) -> dict[str, Any]:
    return api.resolve_id("job", "/v1/jobs", prefix)


def _follow(api: Api, args: argparse.Namespace, reply: dict[str, Any] | None) -> int:
    eval_id = (reply or {}).get("EvalID") or ""
    if not eval_id:
        return 0
    if args.detach:
        print(eval_id)
        return 0
    return monitor_eval(api, eval_id, full_ids=args.verbose)


def cmd_stop(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    job = _job(api, args.job)
    reply = api.delete(f"/v1/job/{job['ID']}", {"purge": args.purge or None, "namespace": job.get("Namespace")})
    return _follow(api, args, reply)


def cmd_scale(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    job_stub = _job(api, args.job)
    if len(args.rest) > 2:
        raise InvalidInput("expected: caravan job scale JOB [GROUP] COUNT")
    count_text = args.rest[-1]
    try:
        count = int(count_text)
    except ValueError:
        raise InvalidInput(f"COUNT: expected a whole number, got {count_text!r}") from None
    job = api.get(f"/v1/job/{job_stub['ID']}", {"namespace": job_stub.get("Namespace")})
    groups = [g["Name"] for g in job.get("TaskGroups") or []]
    if len(args.rest) == 2:
        group = args.rest[0]
    elif len(groups) == 1:
        group = groups[0]
    else:
        raise InvalidInput(f"job {job['ID']!r} has {len(groups)} groups: name one ({', '.join(groups)})")
    body = {"Count": count, "Target": {"Group": group, "Job": job["ID"], "Namespace": job.get("Namespace")},
            "Message": "submitted using the Caravan CLI"}
    reply = api.post(f"/v1/job/{job['ID']}/scale", body, {"namespace": job.get("Namespace")})
    return _follow(api, args, reply)


def cmd_revert(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    job = _job(api, args.job)
    body = {"JobID": job["ID"], "JobVersion": args.version}
    reply = api.post(f"/v1/job/{job['ID']}/revert", body, {"namespace": job.get("Namespace")})
    return _follow(api, args, reply)


def cmd_dispatch(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    meta: dict[str, str] = {}
    for pair in args.meta:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidInput(f"-meta {pair!r}: expected KEY=VALUE")
        meta[key] = value
    payload = b""
    if args.input == "-":
        payload = sys.stdin.buffer.read()
    elif args.input:
        try:
            payload = Path(args.input).read_bytes()
        except OSError as e:
            raise InvalidInput(f"cannot read payload {args.input}: {e.strerror}") from None
    body: dict[str, Any] = {"JobID": args.job, "Meta": meta, "Payload": base64.b64encode(payload).decode()}
    if args.id_prefix:
        body["IdPrefixTemplate"] = args.id_prefix
    reply = api.post(f"/v1/job/{args.job}/dispatch", body)
    print(f"Dispatched Job ID = {reply.get('DispatchedJobID', '')}")
    if reply.get("EvalID"):
        print(f"Evaluation ID     = {limit_id(reply['EvalID'], args.verbose)}")
    if args.detach or not reply.get("EvalID"):
        return 0
    print()
    return monitor_eval(api, reply["EvalID"], full_ids=args.verbose)


def _batch_size(text: str, total: int) -> int:
    try:
        if text.endswith("%"):
            percent = int(text[:-1])
            if not 1 <= percent <= 100:
                raise ValueError
            return max(1, total * percent // 100)
        size = int(text)
        if size < 1:
            raise ValueError
        return size
    except ValueError:
        raise InvalidInput(f"-batch-size: expected a positive number or a percentage, got {text!r}") from None


def cmd_restart(args: argparse.Namespace) -> int:
    """Restarts the job's running allocations in place, batch by batch (Nomad's ``job restart``)."""
    api = Api.from_args(args)
    job = _job(api, args.job)
    try:
        wait_s = parse_duration_ns(args.batch_wait) / 1e9
    except KindError as e:
        raise InvalidInput(f"-batch-wait: {e}") from None
    allocs = [a for a in api.get(f"/v1/job/{job['ID']}/allocations", {"namespace": job.get("Namespace")}) or []
              if a.get("ClientStatus") == "running" and a.get("DesiredStatus") == "run"
              and (not args.group or a.get("TaskGroup") in args.group)]
    stamp = lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())  # noqa: E731
    print(f"==> {stamp()}: Restarting {len(allocs)} allocations")
    size = _batch_size(args.batch_size, len(allocs))
    for start in range(0, len(allocs), size):
        if start:
            print(f"==> {stamp()}: Waiting {args.batch_wait} before restarting the next batch")
            time.sleep(wait_s)
        for alloc in allocs[start:start + size]:
            tasks = args.task or [""]
            for task in tasks:
                what = f'task "{task}"' if task else "running tasks"
                print(f'    {stamp()}: Restarting {what} in allocation "{limit_id(alloc["ID"], args.verbose)}" '
                      f'for group "{alloc.get("TaskGroup", "")}"')
                body = {"TaskName": task, "AllTasks": args.all_tasks and not task}
                api.post(f"/v1/client/allocation/{alloc['ID']}/restart", body)
    print(f"==> {stamp()}: Finished job restart\n\nAll allocations restarted successfully!")
    return 0
