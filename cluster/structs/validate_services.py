"""Checks of ``service`` blocks and their health checks, in groups and in tasks.

Group services and task services differ: only a task service may use address_mode "driver", only
a group service "alloc" or a check naming a ``task``; every port a service or check uses must be
a label of the group's (or the task's legacy) network, or a number under address_mode "driver".
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from cluster.structs.base import SECOND_NS
from cluster.structs.constants import (
    ADDRESS_MODES,
    CHECK_ADDRESS_MODES,
    CHECK_INITIAL_STATUSES,
    CHECK_TYPES,
    ON_UPDATE_VALUES,
    SERVICE_PROVIDERS,
)
from cluster.structs.report import Problem, dur, one_of, quote
from cluster.structs.services import Service, ServiceCheck

__all__ = ["ServiceScope", "service_problems"]

MIN_CHECK_INTERVAL_NS = SECOND_NS
MIN_CHECK_TIMEOUT_NS = SECOND_NS
_INTERPOLATION = re.compile(r"\$\{[^}]*\}")
_DNS_LABEL = re.compile(r"^(?i:[a-z0-9]|[a-z0-9][a-z0-9\-]{0,61}[a-z0-9])$")
_PORT_CHECKS = ("http", "tcp", "grpc")
_GROUP_ONLY_MODES = ("alloc", "alloc_ipv6")  # the allocation's network namespace: a group's


@dataclass(frozen=True, slots=True)
class ServiceScope:
    """Where a service is declared: in a task (``task`` set) or in a group (``task`` None)."""

    task: str | None
    port_labels: Collection[str]  # labels of the networks the service can use
    group_tasks: Collection[str]  # every task of the group, for checks that name one


def service_problems(s: Service, scope: ServiceScope) -> list[Problem]:
    out = _service_field_problems(s, scope)
    if s.PortLabel:
        out += _port_problems("port", s.PortLabel, s.AddressMode, scope)
    names: set[str] = set()
    for j, check in enumerate(s.Checks or ()):
        prefix = f"check[{j}]"
        if scope.task is not None and check.Name in names:
            out.append((f"{prefix}.name", f"duplicate check name {quote(check.Name)} in this service"))
        names.add(check.Name)
        out += [(f"{prefix}.{f}" if f else prefix, m) for f, m in _check_problems(check, s, scope)]
    return out


def _service_field_problems(s: Service, scope: ServiceScope) -> list[Problem]:
    out: list[Problem] = []
    if not _DNS_LABEL.match(_INTERPOLATION.sub("ENV-VAR", s.Name)):
        out.append((
            "name",
            "must be a valid DNS label: letters, digits and dashes, at most 63 characters, "
            f"no dash at either end; got {quote(s.Name)}",
        ))
    if s.AddressMode not in ADDRESS_MODES:
        out.append(("address_mode", one_of(ADDRESS_MODES, s.AddressMode)))
    elif scope.task is None and s.AddressMode == "driver":
        out.append(("address_mode", 'cannot be "driver" in a group service; only task services can use it'))
    elif scope.task is not None and s.AddressMode in _GROUP_ONLY_MODES:
        out.append(("address_mode", f"cannot be {quote(s.AddressMode)} in a task service; only group services can use it"))
    if s.OnUpdate not in ON_UPDATE_VALUES:
        out.append(("on_update", one_of(ON_UPDATE_VALUES, s.OnUpdate)))
    if s.Provider not in SERVICE_PROVIDERS:
        out.append(("provider", one_of(SERVICE_PROVIDERS, s.Provider)))
    elif s.Provider == "nomad" and s.Connect:
        out.append(("connect", 'needs provider "consul"; Nomad\'s service catalog has no service mesh'))
    if scope.task is not None and s.Connect:
        out.append(("connect", "is only allowed in a group service"))
    return out


def _port_problems(field: str, port: str, address_mode: str, scope: ServiceScope) -> list[Problem]:
    if port.isdigit():
        if address_mode == "driver":
            return [] if int(port) > 0 else [(field, f"must be a port label or a number above 0, got {quote(port)}")]
        if scope.task is None:
            return []  # a group service may advertise a fixed port (e.g. a Connect sidecar's)
        return [(field, f'{quote(port)} is a number: use a port label of the network, or address_mode "driver"')]
    if port not in scope.port_labels:
        where = "the group's network" if scope.task is None else "the group's or the task's network"
        return [(field, f"port label {quote(port)} is not defined in {where}")]
    return []


def _check_problems(c: ServiceCheck, s: Service, scope: ServiceScope) -> list[Problem]:
    out: list[Problem] = []
    kind = c.Type.lower()
    if kind not in CHECK_TYPES:
        return [("type", one_of(CHECK_TYPES, c.Type))]
    if s.Provider == "nomad" and kind not in ("http", "tcp"):
        out.append(("type", f'must be "http" or "tcp" with provider "nomad", got {quote(c.Type)}'))
    if kind == "http":
        out += _http_problems(c)
    elif kind == "script":
        out += _script_problems(c, s, scope)
    out += _timing_problems(c)
    if c.InitialStatus and c.InitialStatus not in CHECK_INITIAL_STATUSES:
        out.append(("initial_status", one_of(CHECK_INITIAL_STATUSES, c.InitialStatus)))
    if c.AddressMode and c.AddressMode not in CHECK_ADDRESS_MODES:
        out.append(("address_mode", one_of(CHECK_ADDRESS_MODES, c.AddressMode)))
    elif scope.task is None and c.AddressMode == "driver":
        out.append(("address_mode", 'cannot be "driver" in a check of a group service'))
    elif scope.task is not None and c.AddressMode in _GROUP_ONLY_MODES:
        out.append(("address_mode", f"cannot be {quote(c.AddressMode)} in a check of a task service"))
    if c.OnUpdate not in ON_UPDATE_VALUES:
        out.append(("on_update", one_of(ON_UPDATE_VALUES, c.OnUpdate)))
    if kind in _PORT_CHECKS:
        port = c.PortLabel or s.PortLabel
        if not port:
            out.append(("port", f"is required for a {kind} check: set it on the check or on its service"))
        elif c.PortLabel:
            out += _port_problems("port", c.PortLabel, c.AddressMode, scope)
    out += _task_reference_problems(c, scope)
    return out


def _http_problems(c: ServiceCheck) -> list[Problem]:
    out: list[Problem] = []
    if not c.Path:
        out.append(("path", "is required for an http check"))
    elif "://" in c.Path:
        out.append(("path", f"must be a path such as /health, not a URL; got {quote(c.Path)}"))
    if c.Protocol not in ("", "http", "https"):
        out.append(("protocol", one_of(("http", "https"), c.Protocol)))
    return out


def _script_problems(c: ServiceCheck, s: Service, scope: ServiceScope) -> list[Problem]:
    out: list[Problem] = []
    if not c.Command:
        out.append(("command", "is required for a script check"))
    if scope.task is None and not (c.TaskName or s.TaskName):
        out.append(("task", "is required for a script check of a group service: name the task to run it in"))
    return out


def _timing_problems(c: ServiceCheck) -> list[Problem]:
    out: list[Problem] = []
    for field, value, least in (
        ("interval", c.Interval, MIN_CHECK_INTERVAL_NS),
        ("timeout", c.Timeout, MIN_CHECK_TIMEOUT_NS),
    ):
        if value == 0:
            out.append((field, "is required"))
        elif value < least:
            out.append((field, f"must be at least {dur(least)}, got {dur(value)}"))
    return out


def _task_reference_problems(c: ServiceCheck, scope: ServiceScope) -> list[Problem]:
    if not c.TaskName:
        return []
    if scope.task is not None:
        if c.TaskName != scope.task:
            return [("task", "only checks of group services can name a task")]
        return []
    if c.TaskName not in scope.group_tasks:
        return [("task", f"refers to task {quote(c.TaskName)}, which is not in this group")]
    return []
