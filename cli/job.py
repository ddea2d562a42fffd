"""``caravan job ...``: job files (validate, run, plan) and the job verbs over the HTTP API.

``run`` and ``plan`` parse the file here (errors with file, line and field before anything is sent),
then call the API; the other verbs live in ``cli.job_status`` and ``cli.job_ops``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path

import msgspec

from cli import job_ops, job_status
from cli.api import Api, add_api_flags
from cli.monitor import format_failed_allocs, monitor_eval
from cluster import jobspec
from cluster.errors import CaravanError, Diagnostic, JobSpecError
from cluster.jobspec.diff import JobDiff, format_diff

__all__ = ["load_job_file", "register"]


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="job_command", metavar="<subcommand>", parser_class=type(parser))
    sub.required = True

    validate = sub.add_parser("validate", help="Check a job file for errors without submitting it")
    _job_file_flags(validate)
    validate.set_defaults(func=cmd_validate)

    run = sub.add_parser("run", help="Submit a job (with -output: print its JSON instead)")
    _job_file_flags(run)
    run.add_argument("-output", action="store_true", help="print the job's API JSON instead of submitting it")
    run.add_argument("-detach", action="store_true", help="return at once, without monitoring the evaluation")
    run.add_argument("-check-index", dest="check_index", type=int, default=None,
                     help="register only if the job's modify index is this (0: only if the job is new)")
    run.add_argument("-verbose", action="store_true", help="full ids")
    add_api_flags(run)
    run.set_defaults(func=cmd_run)

    plan = sub.add_parser("plan", help="Dry-run a job: the diff and what the scheduler would do")
    _job_file_flags(plan)
    plan.add_argument("-diff", action=argparse.BooleanOptionalAction, default=True, help="show the diff")
    plan.add_argument("-verbose", action="store_true", help="full ids and every field of the diff")
    add_api_flags(plan)
    plan.set_defaults(func=cmd_plan)

    job_status.register(sub)
    job_ops.register(sub)


def _job_file_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE", help='job file (HCL or JSON); "-" reads standard input')
    p.add_argument("-var", action="append", default=[], metavar="KEY=VALUE", help="set an HCL2 input variable")
    p.add_argument("-var-file", action="append", default=[], dest="var_file", metavar="FILE", help="HCL2 var file")
    p.add_argument("-json", action="store_true", help="the job file is JSON ({\"Job\": ...})")


def _env_vars(environ: Mapping[str, str]) -> dict[str, str]:
    return {k.removeprefix("NOMAD_VAR_"): v for k, v in environ.items() if k.startswith("NOMAD_VAR_")}


def _parse_vars(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise JobSpecError([Diagnostic(f"-var {pair!r}: expected KEY=VALUE", "-var")])
        out[name] = value
    return out


def load_job_file(args: argparse.Namespace) -> jobspec.Parsed:
    """Reads and parses the job file named on the command line, with its -var and -var-file values."""
    if args.file == "-":
        source, filename, base = sys.stdin.read(), "<stdin>", Path.cwd()
    else:
        path = Path(args.file)
        try:
            source = path.read_text(encoding="utf-8")
        except OSError as e:
            raise JobSpecError([Diagnostic(f"cannot read job file: {e.strerror}", "", args.file)]) from None
        except UnicodeDecodeError:
            raise JobSpecError([Diagnostic("job file is not UTF-8 text", "", args.file)]) from None
        filename, base = args.file, path.parent
    if args.json or filename.endswith(".json"):
        return jobspec.parse_json(source, filename=filename)
    file_values = jobspec.VarValues()
    for vf in args.var_file:
        try:
            text = Path(vf).read_text(encoding="utf-8")
        except OSError as e:
            raise JobSpecError([Diagnostic(f"cannot read var file: {e.strerror}", "", vf)]) from None
        file_values.merge(jobspec.parse_var_file(text, vf))

    def read_file(name: str) -> str:
        return (base / name).read_text(encoding="utf-8")

    return jobspec.parse_hcl(
        source,
        filename=filename,
        variables=_parse_vars(args.var),
        var_files=file_values,
        env_variables=_env_vars(os.environ),
        read_file=read_file,
    )


def _print_warnings(parsed: jobspec.Parsed) -> None:
    for w in parsed.warnings:
        sys.stderr.write(f"Warning: {w}\n")


def cmd_validate(args: argparse.Namespace) -> int:
    parsed = load_job_file(args)
    _print_warnings(parsed)
    print("Job validation successful")
    return 0


def _job_body(parsed: jobspec.Parsed) -> dict[str, object]:
    body: dict[str, object] = msgspec.json.decode(jobspec.job_to_api_json(parsed.job, indent=0))
    return body


def cmd_run(args: argparse.Namespace) -> int:
    parsed = load_job_file(args)
    _print_warnings(parsed)
    if args.output:
        sys.stdout.write(jobspec.job_to_api_json(parsed.job).decode() + "\n")
        return 0
    api = Api.from_args(args)
    body = _job_body(parsed)
    if args.check_index is not None:
        body["EnforceIndex"] = True
        body["JobModifyIndex"] = args.check_index
    try:
        reply = api.put("/v1/jobs", body)
    except CaravanError as e:
        sys.stderr.write(f"Error submitting job: {e}\n")
        return 1
    for warning in (reply.get("Warnings") or "").splitlines():
        sys.stderr.write(f"Job Warnings:\n{warning}\n")
    eval_id = reply.get("EvalID") or ""
    job = parsed.job
    if not eval_id:
        sys.stdout.write("Job registration successful\n")
        if job.Periodic is not None and job.Periodic.Enabled:
            sys.stdout.write("Approximate next launch time: see `caravan job status`\n")
        return 0
    if args.detach:
        sys.stdout.write(f"Job registration successful\nEvaluation ID: {eval_id}\n")
        return 0
    return monitor_eval(api, eval_id, full_ids=args.verbose)


def cmd_plan(args: argparse.Namespace) -> int:
    """Nomad's exit codes: 0 nothing would be created or destroyed, 1 something would, 255 an error."""
    try:
        parsed = load_job_file(args)
        _print_warnings(parsed)
        api = Api.from_args(args)
        body = _job_body(parsed)
        body["Diff"] = True
        job_id = parsed.job.ID
        reply = api.post(f"/v1/job/{job_id}/plan", body)
    except CaravanError as e:
        sys.stderr.write(f"Error during plan: {e}\n")
        return 255
    out: list[str] = []
    if args.diff and reply.get("Diff"):
        diff = msgspec.convert(reply["Diff"], JobDiff)
        out.append(format_diff(diff, verbose=args.verbose).rstrip("\n"))
        out.append("")
    out.append("Scheduler dry-run:")
    failed = reply.get("FailedTGAllocs") or {}
    if failed:
        out.append("- WARNING: Failed to place all allocations.")
        out.extend(format_failed_allocs(failed, indent="  "))
    else:
        out.append("- All tasks successfully allocated.")
    if reply.get("NextPeriodicLaunch"):
        out.append(f"- If submitted now, next periodic launch would be at {reply['NextPeriodicLaunch']}.")
    index = reply.get("JobModifyIndex", 0)
    out += ["", f"Job Modify Index: {index}",
            "To submit the job with version verification run:", "",
            f"caravan job run -check-index {index} {args.file}", "",
            "When running the job with the check-index flag, the job will only be run if the",
            "job modify index given matches the server-side version. If the index has",
            "changed, another user has modified the job and the plan's results are",
            "potentially invalid."]
    sys.stdout.write("\n".join(out) + "\n")
    for warning in (reply.get("Warnings") or "").splitlines():
        sys.stderr.write(f"Job Warnings:\n{warning}\n")
    updates = ((reply.get("Annotations") or {}).get("DesiredTGUpdates") or {}).values()
    changes = any(sum(int(u.get(k) or 0) for k in ("Place", "Stop", "Migrate", "DestructiveUpdate", "Canary"))
                  for u in updates)
    return 1 if changes else 0
