"""``caravan job ...``: job files on the command line (validate, run -output; more with the API)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from cluster import jobspec
from cluster.errors import Diagnostic, JobSpecError

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
    run.set_defaults(func=cmd_run)


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


def cmd_run(args: argparse.Namespace) -> int:
    parsed = load_job_file(args)
    if not args.output:
        sys.stderr.write("Error: submitting jobs needs a running Caravan agent (use -output to print the JSON)\n")
        return 1
    _print_warnings(parsed)
    sys.stdout.write(jobspec.job_to_api_json(parsed.job).decode() + "\n")
    return 0
