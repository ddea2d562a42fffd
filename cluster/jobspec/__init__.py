"""Nomad job files (HCL2 and JSON) to Caravan jobs, with positioned validation errors.

    parse_hcl(source, filename=..., variables=..., var_files=..., read_file=...) -> Parsed
    parse_json(source, filename=...) -> Parsed
    job_to_api_json(job) -> bytes          # {"Job": {...}} as `nomad job run -output` prints it

Every path ends in the same three steps: decode into Nomad's API JSON shape, fill Nomad's
defaults (``cluster.structs.canonicalize``), and validate (``cluster.structs.validate_job``). All
problems found are raised together as one ``JobSpecError``, each with its file, line and field;
nothing is returned for a bad file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from cluster import structs
from cluster.errors import Diagnostic, JobSpecError
from cluster.jobspec import hcl
from cluster.jobspec.decode import Decoder, Positions
from cluster.jobspec.drivers import check_driver_config
from cluster.jobspec.schema import ROOT_BLOCKS
from cluster.jobspec.variables import VarValues, resolve_inputs

__all__ = ["Parsed", "VarValues", "job_to_api_json", "parse_hcl", "parse_json", "parse_var_file"]


@dataclass(frozen=True, slots=True)
class Parsed:
    """A valid, canonical job and the warnings (deprecated fields) met on the way."""

    job: structs.Job
    warnings: list[Diagnostic] = field(default_factory=list)


def _context(read_file: Callable[[str], str] | None) -> Callable[[Mapping[str, Any]], hcl.EvalContext]:
    functions = dict(hcl.STANDARD_FUNCTIONS)
    if read_file is not None:
        functions["file"] = read_file

    def factory(variables: Mapping[str, Any]) -> hcl.EvalContext:
        return hcl.EvalContext(variables, functions, passthrough_unknown=True)

    return factory


def parse_var_file(source: str, filename: str) -> VarValues:
    """A var file (``-var-file``): ``name = value`` lines in HCL; values may not refer to anything."""
    try:
        body = hcl.parse(source, filename)
    except hcl.HCLError as e:
        raise JobSpecError(list(e.diagnostics)) from None
    diags = [
        Diagnostic("a var file holds only name = value lines", blk.type, filename, blk.pos.line, blk.pos.column)
        for blk in body.blocks
    ]
    values = VarValues()
    for name, attr in body.attributes.items():
        try:
            values.set(name, hcl.evaluate(attr.expr, hcl.EvalContext()), attr.expr.pos)
        except hcl.HCLError as e:
            diags.extend(Diagnostic(d.message, f"var.{name}", d.filename, d.line, d.column) for d in e.diagnostics)
    if diags:
        raise JobSpecError(diags)
    return values


def parse_hcl(
    source: str,
    *,
    filename: str = "job.nomad.hcl",
    variables: Mapping[str, str] | None = None,
    var_files: Mapping[str, Any] | None = None,
    env_variables: Mapping[str, str] | None = None,
    read_file: Callable[[str], str] | None = None,
) -> Parsed:
    """Parses, canonicalizes and validates an HCL2 job file.

    ``variables`` are ``-var`` strings; ``var_files`` are values from ``parse_var_file``;
    ``env_variables`` are the ``NOMAD_VAR_<name>`` values of the caller's environment (by name,
    prefix removed); ``read_file`` backs HCL's ``file()`` function (none by default: the core does
    no I/O).
    """
    try:
        root = hcl.parse(source, filename)
    except hcl.HCLError as e:
        raise JobSpecError(list(e.diagnostics)) from None
    diags: list[Diagnostic] = []
    job_blocks = _check_root(root, filename, diags)
    factory = _context(read_file)
    inputs = resolve_inputs(
        root,
        source,
        overrides=variables or {},
        file_values=var_files or {},
        env_values=env_variables or {},
        ctx_factory=factory,
    )
    diags.extend(inputs.diagnostics)
    if diags or len(job_blocks) != 1:
        raise JobSpecError(diags)
    decoder = Decoder(filename, factory({"var": inputs.var, "local": inputs.local}))
    data = decoder.decode_job(job_blocks[0])
    if decoder.diagnostics:
        raise JobSpecError(decoder.diagnostics)
    job = _to_struct(data, filename)
    return Parsed(_finish(job, decoder.positions, filename), decoder.warnings)


def _check_root(root: hcl.Body, filename: str, diags: list[Diagnostic]) -> list[hcl.Block]:
    for name, attr in root.attributes.items():
        diags.append(
            Diagnostic(
                f'unexpected attribute "{name}" at the top of a job file; expected a job block',
                name, filename, attr.pos.line, attr.pos.column,
            )
        )
    jobs = []
    for block in root.blocks:
        if block.type == "job":
            jobs.append(block)
        elif block.type not in ROOT_BLOCKS:
            diags.append(
                Diagnostic(
                    f'unknown block "{block.type}" at the top of a job file; expected job, variable or locals',
                    block.type, filename, block.pos.line, block.pos.column,
                )
            )
    if not jobs:
        diags.append(Diagnostic('no job block found: a job file needs job "ID" { ... }', "job", filename, 1, 1))
    for extra in jobs[1:]:
        diags.append(
            Diagnostic(
                f"only one job block is allowed per file; the first is at line {jobs[0].pos.line}",
                "job", filename, extra.pos.line, extra.pos.column,
            )
        )
    return jobs


def _to_struct(data: dict[str, Any], filename: str) -> structs.Job:
    try:
        return structs.decode_job(data)
    except msgspec.ValidationError as e:
        # The decoder type-checks every attribute, so this is a mismatch between schema and structs.
        raise JobSpecError([Diagnostic(f"internal: decoded job does not fit the job structure: {e}", "job", filename)]) from None


def _check_drivers(job: structs.Job, positions: Positions, filename: str) -> list[Diagnostic]:
    diags = []
    for group in job.TaskGroups or []:
        for task in group.Tasks or []:
            base = f"job.group[{group.Name}].task[{task.Name}].config"
            for key, message in check_driver_config(task.Driver or "", task.Config or {}):
                path = f"{base}.{key}" if key else base
                diags.append(_at(positions, path, message, filename))
    return diags


def _finish(job: structs.Job, positions: Positions, filename: str) -> structs.Job:
    """Defaults, then every semantic and driver-config problem at once."""
    job = structs.canonicalize(job)
    diags = _check_drivers(job, positions, filename)
    diags.extend(_at(positions, p.path, p.message, filename) for p in structs.validate_job(job))
    if diags:
        raise JobSpecError(diags)
    return job


_LAST_STEP = re.compile(r"(\.[^.\[\]]+|\[[^\]]*\])$")


def locate(positions: Positions, path: str) -> hcl.Pos | None:
    """The position of ``path`` or of its nearest recorded ancestor (a default has no line of its own)."""
    while path:
        pos = positions.get(path)
        if pos is not None:
            return pos
        shorter = _LAST_STEP.sub("", path)
        if shorter == path:
            return None
        path = shorter
    return None


def _at(positions: Positions, path: str, message: str, filename: str) -> Diagnostic:
    pos = locate(positions, path)
    if pos is None:
        return Diagnostic(message, path, filename)
    return Diagnostic(message, path, pos.filename or filename, pos.line, pos.column)


def parse_json(source: str | bytes, *, filename: str = "job.json") -> Parsed:
    """Parses a job in Nomad's API JSON, ``{"Job": {...}}`` or the bare job object."""
    try:
        data = msgspec.json.decode(source)
    except msgspec.DecodeError as e:
        raise JobSpecError([Diagnostic(f"not valid JSON: {e}", "", filename)]) from None
    if isinstance(data, dict) and set(data) == {"Job"}:
        data = data["Job"]
    if not isinstance(data, dict):
        raise JobSpecError([Diagnostic('expected a JSON object: {"Job": {...}}', "", filename)])
    try:
        job = structs.decode_job(data)
    except msgspec.ValidationError as e:
        text = str(e)
        path = text.rsplit(" - at `", 1)[1].rstrip("`") if " - at `" in text else ""
        message = text.split(" - at `", 1)[0]
        raise JobSpecError([Diagnostic(message, path.replace("$", "Job", 1), filename)]) from None
    return Parsed(_finish(job, {}, filename))


def job_to_api_json(job: structs.Job, *, indent: int = 4) -> bytes:
    """``{"Job": {...}}``, the canonical JSON that ``nomad job run -output`` prints."""
    return msgspec.json.format(structs.encode_json({"Job": job}), indent=indent)
