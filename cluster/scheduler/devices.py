"""Device feasibility (Nomad's ``deviceChecker``): a ``device "vendor/type/name"`` request fits a
node when one of its device groups has the name, enough healthy instances, and meets the
request's constraints.

Device constraints read the group's own values: ``${device.vendor}``, ``${device.type}``,
``${device.model}`` (the name) and ``${device.attr.<name>}``. Attributes may carry units
(``memory = 11 GiB``, ``clock = 1.5 GHz``); a right-hand side with a unit (``"4 GiB"``) is compared
after converting both to the base unit, as Nomad does, so ``11 GiB >= 4096 MiB`` holds.
"""

from __future__ import annotations

import re

from cluster.scheduler.constraints import check_constraint
from cluster.structs.node import DeviceAttribute, Node, NodeDeviceResource
from cluster.structs.placement import Constraint
from cluster.structs.resources import RequestedDevice

__all__ = ["device_fits", "device_group_matches", "device_value"]

# Unit -> (dimension, factor to the base unit).
_UNITS: dict[str, tuple[str, float]] = {
    "B": ("bytes", 1), "KB": ("bytes", 1e3), "MB": ("bytes", 1e6), "GB": ("bytes", 1e9), "TB": ("bytes", 1e12),
    "KiB": ("bytes", 1024), "MiB": ("bytes", 1024**2), "GiB": ("bytes", 1024**3), "TiB": ("bytes", 1024**4),
    "Hz": ("hertz", 1), "KHz": ("hertz", 1e3), "MHz": ("hertz", 1e6), "GHz": ("hertz", 1e9),
    "mW": ("watts", 1e-3), "W": ("watts", 1), "kW": ("watts", 1e3),
}
_QUANTITY = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)\s*([A-Za-z]+)\s*$")
_ORDER_OPS = frozenset(("<", "<=", ">", ">=", "=", "==", "is", "!=", "not"))


def _attribute_text(attr: DeviceAttribute) -> str:
    for value in (attr.Int, attr.Float, attr.String, attr.Bool):
        if value is not None:
            return str(value).lower() if isinstance(value, bool) else str(value)
    return ""


def device_value(target: str, dev: NodeDeviceResource) -> tuple[str, DeviceAttribute | None, bool]:
    """(text, typed attribute or None, found) of a device target; literals are found as is."""
    if not target.startswith("${"):
        return target, None, True
    if target == "${device.vendor}":
        return dev.Vendor, None, True
    if target == "${device.type}":
        return dev.Type, None, True
    if target in ("${device.model}", "${device.name}"):
        return dev.Name, None, True
    if target.startswith("${device.attr.") and target.endswith("}"):
        attr = (dev.Attributes or {}).get(target[len("${device.attr."):-1])
        if attr is None:
            return "", None, False
        return _attribute_text(attr), attr, True
    return "", None, False


def _base_quantity(attr: DeviceAttribute) -> tuple[str, float] | None:
    number = attr.Int if attr.Int is not None else attr.Float
    if number is None or attr.Unit not in _UNITS:
        return None
    dimension, factor = _UNITS[attr.Unit]
    return dimension, number * factor


def _parse_quantity(text: str) -> tuple[str, float] | None:
    match = _QUANTITY.match(text)
    if match is None or match.group(2) not in _UNITS:
        return None
    dimension, factor = _UNITS[match.group(2)]
    return dimension, float(match.group(1)) * factor


def _meets(c: Constraint, dev: NodeDeviceResource) -> bool:
    op = c.Operand or "="
    left, attr, left_found = device_value(c.LTarget, dev)
    right, _, right_found = device_value(c.RTarget, dev)
    wanted = _parse_quantity(right) if right_found else None
    have = _base_quantity(attr) if attr is not None else None
    if op in _ORDER_OPS and wanted is not None and have is not None:
        if wanted[0] != have[0]:
            return False  # bytes against hertz: never comparable
        sign = (have[1] > wanted[1]) - (have[1] < wanted[1])
        return {"<": sign < 0, "<=": sign <= 0, ">": sign > 0, ">=": sign >= 0, "=": sign == 0, "==": sign == 0,
                "is": sign == 0, "!=": sign != 0, "not": sign != 0}[op]
    return check_constraint(op, left, right, left_found, right_found)


def device_group_matches(dev: NodeDeviceResource, request: RequestedDevice) -> bool:
    """The group has the requested name (``type``, ``vendor/type`` or ``vendor/type/name``) and
    meets every constraint of the request (instances are counted by ``device_fits``)."""
    parts = tuple(request.Name.split("/"))
    ident = {1: (dev.Type,), 2: (dev.Vendor, dev.Type), 3: (dev.Vendor, dev.Type, dev.Name)}.get(len(parts))
    return ident == parts and all(_meets(c, dev) for c in request.Constraints or ())


def device_fits(node: Node, requests: list[RequestedDevice]) -> bool:
    """Every request finds a matching device group with enough healthy instances left: requests
    served by the same group take their instances from it in turn, as Nomad's checker counts."""
    groups = list((node.NodeResources.Devices if node.NodeResources else None) or ())
    left = [sum(1 for i in g.Instances or () if i.Healthy) for g in groups]
    for request in requests:
        want = request.Count or 1
        for i, group in enumerate(groups):
            if left[i] >= want and device_group_matches(group, request):
                left[i] -= want
                break
        else:
            return False
    return True
