"""Feasibility: which nodes can run a task group at all, decided once per computed node class.

The checks and their order are Nomad's: the job's constraints, then the group's drivers, the
group's and its tasks' constraints, devices, the network mode and host volumes. A check answers
for the node's computed class, so it runs once per class and the answer is broadcast to every node
of the class; constraints on ``unique.`` targets escape the class and run per node.
``distinct_hosts`` and ``distinct_property`` depend on the plan and are handled by the selector.

Metrics name the reason a node was filtered as Nomad does: the first node of a class to fail gets
the failing check's name (``${attr.kernel.name} = linux``, ``missing drivers``), later nodes of the
same class ``computed class ineligible``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from cluster.scheduler.constraints import constraint_text, meets
from cluster.scheduler.context import EvalContext
from cluster.scheduler.devices import device_fits
from cluster.scheduler.spec import GroupSpec
from cluster.state.node_class import target_escapes_class
from cluster.structs.node import Node
from cluster.structs.placement import Constraint

__all__ = ["CLASS_INELIGIBLE", "GroupFeasibility", "JobFeasibility"]

CLASS_INELIGIBLE = "computed class ineligible"
MISSING_DRIVERS = "missing drivers"
MISSING_DEVICES = "missing devices"
MISSING_NETWORK = "missing network"
MISSING_VOLUMES = "missing compatible host volumes"

BoolArray = npt.NDArray[np.bool_]
Check = Callable[[Node], "str | None"]  # None: feasible; else the reason


def _escapes(constraints: list[Constraint]) -> bool:
    return any(target_escapes_class(c.LTarget) or target_escapes_class(c.RTarget) for c in constraints)


def _constraint_check(constraints: list[Constraint]) -> Check:
    def check(node: Node) -> str | None:
        for c in constraints:
            if not meets(c, node):
                return constraint_text(c)
        return None

    return check


def _has_driver(node: Node, driver: str) -> bool:
    info = (node.Drivers or {}).get(driver)
    if info is not None:
        return info.Detected and info.Healthy
    value = (node.Attributes or {}).get(f"driver.{driver}", "")
    return value.lower() in ("1", "t", "true")


def _group_checks(spec: GroupSpec) -> list[Check]:
    def drivers(node: Node) -> str | None:
        return None if all(_has_driver(node, d) for d in spec.drivers) else MISSING_DRIVERS

    def devices(node: Node) -> str | None:
        return None if device_fits(node, spec.devices) else MISSING_DEVICES

    def network(node: Node) -> str | None:
        mode = (spec.network.Mode or "host") if spec.network is not None else "host"
        if mode == "none" or spec.network is None:
            return None
        nets = (node.NodeResources.Networks if node.NodeResources else None) or ()
        return None if any((n.Mode or "host") == mode for n in nets) else MISSING_NETWORK

    def volumes(node: Node) -> str | None:
        for req in spec.volumes:
            vol = (node.HostVolumes or {}).get(req.Source)
            if vol is None or (vol.ReadOnly and not req.ReadOnly):
                return MISSING_VOLUMES
        return None

    checks: list[Check] = [drivers, _constraint_check(spec.constraints)]
    if spec.devices:
        checks.append(devices)
    checks.append(network)
    if spec.volumes:
        checks.append(volumes)
    return checks


def _first_failure(checks: list[Check], node: Node) -> str | None:
    for check in checks:
        reason = check(node)
        if reason is not None:
            return reason
    return None


class JobFeasibility:
    """The job-level checks (its constraints), cached per computed class for one evaluation."""

    def __init__(self, ctx: EvalContext, constraints: list[Constraint]) -> None:
        self.ctx = ctx
        self.escaped = _escapes(constraints)
        self._check = _constraint_check(constraints)
        self.class_reason: dict[int, str | None] = {}

    def reason(self, slot: int) -> str | None:
        """Why the node at ``slot`` fails the job's checks (None if it passes)."""
        node = self.ctx.table.nodes[slot]
        assert node is not None
        if self.escaped:
            return self._check(node)
        code = int(self.ctx.table.class_code[slot])
        if code not in self.class_reason:
            self.class_reason[code] = self._check(node)
        return self.class_reason[code]


class GroupFeasibility:
    """Feasibility of one task group over all candidate nodes, as a boolean mask over slots."""

    def __init__(self, ctx: EvalContext, job_checks: JobFeasibility, spec: GroupSpec) -> None:
        self.ctx = ctx
        self.job = job_checks
        self.spec = spec
        self.escaped = _escapes(spec.constraints)
        self._checks = _group_checks(spec)
        self.class_reason: dict[int, str | None] = {}
        self._mask: BoolArray | None = None
        ctx.escaped = ctx.escaped or self.escaped or job_checks.escaped

    def node_reason(self, slot: int) -> str | None:
        """The first failing check for the node (job checks first), None if feasible."""
        reason = self.job.reason(slot)
        if reason is not None:
            return reason
        node = self.ctx.table.nodes[slot]
        assert node is not None
        if self.escaped:
            return _first_failure(self._checks, node)
        code = int(self.ctx.table.class_code[slot])
        if code not in self.class_reason:
            self.class_reason[code] = _first_failure(self._checks, node)
        return self.class_reason[code]

    def mask(self, candidates: npt.NDArray[np.int64]) -> BoolArray:
        """Feasible nodes among ``candidates`` (slots), as a mask over all slots."""
        if self._mask is not None:
            return self._mask
        table = self.ctx.table
        mask = np.zeros(len(table), np.bool_)
        if self.escaped or self.job.escaped:
            for slot in candidates.tolist():
                mask[slot] = self.node_reason(slot) is None
        else:
            codes = table.class_code[candidates]
            unique, first = np.unique(codes, return_index=True)
            ok = np.zeros(len(table.classes) + 1, np.bool_)
            for code, at in zip(unique.tolist(), first.tolist(), strict=True):
                ok[code] = self.node_reason(int(candidates[at])) is None
            mask[candidates] = ok[codes]
        self._record_eligibility(candidates, mask)
        self._mask = mask
        return mask

    def _record_eligibility(self, candidates: npt.NDArray[np.int64], mask: BoolArray) -> None:
        """Class eligibility for blocked evaluations: a class is eligible if any group fits it."""
        table = self.ctx.table
        seen = self.ctx.class_eligibility
        for code in np.unique(table.class_code[candidates]).tolist():
            name = table.classes[code]
            members = candidates[table.class_code[candidates] == code]
            eligible = bool(mask[members].any())
            seen[name] = seen.get(name, False) or eligible

    def label(self, slot: int) -> str:
        """The reason to show for filtering ``slot``: the check's name the first time a class
        fails, ``computed class ineligible`` after that."""
        table = self.ctx.table
        code = int(table.class_code[slot])
        job_reason = self.job.reason(slot)
        if job_reason is not None:
            if self.job.escaped:
                return job_reason
            if code in self.ctx.reported_job:
                return CLASS_INELIGIBLE
            self.ctx.reported_job.add(code)
            return job_reason
        reason = self.node_reason(slot)
        assert reason is not None, "only infeasible nodes are labelled"
        if self.escaped:
            return reason
        reported = self.ctx.reported_group.setdefault(self.spec.name, set())
        if code in reported:
            return CLASS_INELIGIBLE
        reported.add(code)
        return reason
