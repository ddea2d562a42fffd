"""Host ports: does a node have the ports a group asks for, and which ones does it get.

Static ports must be free on the node; dynamic ports are picked at random from the node's dynamic
range (Nomad tries a few random picks, then scans). Ports in use come from the allocations on the
node, the plan's changes and the operator's reserved ports (``EvalContext.used_ports``).
"""

from __future__ import annotations

from random import Random

from cluster.scheduler.context import EvalContext
from cluster.scheduler.spec import GroupSpec
from cluster.structs.alloc import AllocatedResources, AllocatedSharedResources, PortMapping
from cluster.structs.node import Node
from cluster.structs.resources import NetworkResource, Port

__all__ = ["DEFAULT_MAX_DYNAMIC_PORT", "DEFAULT_MIN_DYNAMIC_PORT", "assign_ports", "ports_reason"]

DEFAULT_MIN_DYNAMIC_PORT = 20000
DEFAULT_MAX_DYNAMIC_PORT = 32000
_RANDOM_ATTEMPTS = 20


def _dynamic_range(node: Node) -> tuple[int, int]:
    res = node.NodeResources
    low = res.MinDynamicPort if res is not None and res.MinDynamicPort else DEFAULT_MIN_DYNAMIC_PORT
    high = res.MaxDynamicPort if res is not None and res.MaxDynamicPort else DEFAULT_MAX_DYNAMIC_PORT
    return low, high


def _free_in_range(used: int, low: int, high: int) -> int:
    window = (used >> low) & ((1 << (high - low + 1)) - 1)
    return (high - low + 1) - window.bit_count()


def ports_reason(ctx: EvalContext, spec: GroupSpec, node: Node) -> str | None:
    """Why ``node`` cannot give ``spec`` its ports (Nomad's wording), None if it can."""
    used = ctx.used_ports(node.ID)
    for label, value in spec.static_ports:
        if used >> value & 1:
            return f"network: reserved port collision {label}={value}"
        used |= 1 << value
    if spec.dynamic_ports:
        low, high = _dynamic_range(node)
        if _free_in_range(used, low, high) < len(spec.dynamic_ports):
            return "network: dynamic port selection failed"
    return None


def _pick(rng: Random, used: int, low: int, high: int) -> int:
    for _ in range(_RANDOM_ATTEMPTS):
        port = rng.randint(low, high)
        if not used >> port & 1:
            return port
    for port in range(low, high + 1):
        if not used >> port & 1:
            return port
    raise AssertionError("ports_reason said a dynamic port was free")


def assign_ports(ctx: EvalContext, spec: GroupSpec, node: Node) -> AllocatedResources:
    """The group's resources with ports assigned on ``node`` (checked first with ``ports_reason``)."""
    used = ctx.used_ports(node.ID)
    mappings: list[PortMapping] = []
    network = spec.network or NetworkResource()
    ip = next((n.IP for n in (node.NodeResources.Networks if node.NodeResources else None) or () if n.IP), "")
    reserved: list[Port] = []
    for label, value in spec.static_ports:
        to = next((p.To for p in network.ReservedPorts or () if p.Label == label), 0)
        mappings.append(PortMapping(Label=label, Value=value, To=to, HostIP=ip))
        reserved.append(Port(Label=label, Value=value, To=to))
        used |= 1 << value
    dynamic: list[Port] = []
    low, high = _dynamic_range(node)
    for label in spec.dynamic_ports:
        port = _pick(ctx.rng, used, low, high)
        used |= 1 << port
        to = next((p.To for p in network.DynamicPorts or () if p.Label == label), 0)
        mappings.append(PortMapping(Label=label, Value=port, To=to, HostIP=ip))
        dynamic.append(Port(Label=label, Value=port, To=to))
    net = NetworkResource(Mode=network.Mode or "host", IP=ip, ReservedPorts=reserved or None,
                          DynamicPorts=dynamic or None)
    shared = AllocatedSharedResources(DiskMB=spec.disk_mb, Networks=[net], Ports=mappings)
    return AllocatedResources(Tasks=spec.resources.Tasks, TaskLifecycles=spec.resources.TaskLifecycles, Shared=shared)
