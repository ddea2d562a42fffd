"""Following an evaluation after a write (``job run``, ``job stop``, ``node drain``...), as Nomad's CLI
monitor does, and explaining placement failures from an evaluation's ``FailedTGAllocs``.

Exit codes as Nomad's: 0 when the evaluation completed and placed everything, 2 when it failed or left
allocations unplaced (a blocked evaluation), 1 for errors.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from cli.api import Api
from cli.format import limit_id

__all__ = ["format_failed_allocs", "format_metric", "monitor_eval"]

POLL_S = 0.5
_TERMINAL = {"complete", "failed", "canceled", "cancelled"}


def _stamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def format_metric(metric: dict[str, Any], indent: str = "  ") -> list[str]:
    """The lines Nomad prints for one task group's AllocMetric, most telling first."""
    lines: list[str] = []
    if not metric.get("NodesEvaluated"):
        lines.append("No nodes were eligible for evaluation")
    for dc, available in sorted((metric.get("NodesAvailable") or {}).items()):
        if available == 0:
            lines.append(f'No nodes are available in datacenter "{dc}"')
    for name, num in sorted((metric.get("ClassFiltered") or {}).items()):
        lines.append(f'Class "{name}": {num} nodes excluded by filter')
    for name, num in sorted((metric.get("ConstraintFiltered") or {}).items()):
        lines.append(f'Constraint "{name}": {num} nodes excluded by filter')
    if metric.get("NodesExhausted"):
        lines.append(f"Resources exhausted on {metric['NodesExhausted']} nodes")
    for name, num in sorted((metric.get("ClassExhausted") or {}).items()):
        lines.append(f'Class "{name}" exhausted on {num} nodes')
    for name, num in sorted((metric.get("DimensionExhausted") or {}).items()):
        lines.append(f'Dimension "{name}" exhausted on {num} nodes')
    for name in metric.get("QuotaExhausted") or []:
        lines.append(f'Quota limit hit "{name}"')
    return [f"{indent}* {line}" for line in lines]


def format_failed_allocs(failed: dict[str, Any], indent: str = "    ") -> list[str]:
    out: list[str] = []
    for group, metric in sorted((failed or {}).items()):
        count = 1 + int(metric.get("CoalescedFailures") or 0)
        noun = "allocation" if count == 1 else "allocations"
        out.append(f'{indent}Task Group "{group}" (failed to place {count} {noun}):')
        out.extend(format_metric(metric, indent + "  "))
    return out


def monitor_eval(api: Api, eval_id: str, *, out: TextIO | None = None, full_ids: bool = False,
                 sleep: Callable[[float], None] = time.sleep, timeout_s: float = 600.0) -> int:
    """Prints the evaluation's progress until it is terminal; Nomad's exit code (0 or 2)."""
    w = out or sys.stdout
    short = limit_id(eval_id, full_ids)
    w.write(f'==> {_stamp()}: Monitoring evaluation "{short}"\n')
    seen_status = ""
    seen_allocs: set[str] = set()
    deadline = time.monotonic() + timeout_s
    ev: dict[str, Any] = {}
    while time.monotonic() < deadline:
        ev = api.get(f"/v1/evaluation/{eval_id}")
        if not seen_status:
            w.write(f'    {_stamp()}: Evaluation triggered by job "{ev.get("JobID", "")}"\n')
            if ev.get("DeploymentID"):
                w.write(f'    {_stamp()}: Evaluation within deployment: "{limit_id(ev["DeploymentID"], full_ids)}"\n')
        for alloc in api.get(f"/v1/evaluation/{eval_id}/allocations") or []:
            if alloc["ID"] not in seen_allocs:
                seen_allocs.add(alloc["ID"])
                w.write(f'    {_stamp()}: Allocation "{limit_id(alloc["ID"], full_ids)}" created: node '
                        f'"{limit_id(alloc.get("NodeID", ""), full_ids)}", group "{alloc.get("TaskGroup", "")}"\n')
        status = ev.get("Status", "")
        if status != seen_status:
            if seen_status:
                w.write(f'    {_stamp()}: Evaluation status changed: "{seen_status}" -> "{status}"\n')
            seen_status = status
        if status in _TERMINAL:
            break
        sleep(POLL_S)
    status = ev.get("Status", "")
    w.write(f'==> {_stamp()}: Evaluation "{short}" finished with status "{status}"')
    failed = ev.get("FailedTGAllocs") or {}
    if failed:
        w.write(" but failed to place all allocations:\n")
        w.write("\n".join(format_failed_allocs(failed)) + "\n")
        if ev.get("BlockedEval"):
            w.write(f'    Evaluation "{limit_id(ev["BlockedEval"], full_ids)}" waiting for additional capacity '
                    "to place remainder\n")
    else:
        w.write("\n")
    w.flush()
    if status not in _TERMINAL:
        w.write(f"Error: evaluation {short} did not finish in {timeout_s:.0f} s\n")
        return 1
    return 2 if failed or status != "complete" else 0
