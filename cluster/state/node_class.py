"""Computed node class: one ID for all nodes that look the same to the scheduler's checks.

Nomad hashes the node's datacenter, attributes, metadata, node class, node pool and devices,
leaving out every attribute or metadata key under ``unique.`` (``unique.hostname``, ...). The
scheduler then decides a constraint once per class instead of once per node. Caravan also folds in
what its per-class checks read that Nomad leaves out: which drivers are detected and healthy, the
network modes and the host volume names, so a class answer never goes stale when only those
change. Constraints on ``unique.`` targets escape the class and are checked per node.
"""

from __future__ import annotations

import hashlib

import msgspec

from cluster.structs.node import Node

__all__ = ["UNIQUE_PREFIX", "compute_node_class", "target_escapes_class"]

UNIQUE_PREFIX = "unique."
_ESCAPING_PREFIXES = ("${unique.", "${node.unique.", "${attr.unique.", "${meta.unique.")
_ENCODER = msgspec.msgpack.Encoder()


def _visible(items: dict[str, str] | None) -> list[tuple[str, str]]:
    return sorted((k, v) for k, v in (items or {}).items() if not k.startswith(UNIQUE_PREFIX))


def compute_node_class(node: Node) -> str:
    """``"v1:<64-bit hash>"`` over the scheduling-relevant, non-unique parts of ``node``."""
    res = node.NodeResources
    devices = sorted(
        (d.Vendor, d.Type, d.Name, sorted(
            (k, msgspec.to_builtins(a)) for k, a in (d.Attributes or {}).items()
            if not k.startswith(UNIQUE_PREFIX)))
        for d in ((res.Devices if res is not None else None) or ())
    )
    drivers = sorted(name for name, info in (node.Drivers or {}).items() if info.Detected and info.Healthy)
    networks = sorted({n.Mode or "host" for n in ((res.Networks if res is not None else None) or ())})
    volumes = sorted((name, v.ReadOnly) for name, v in (node.HostVolumes or {}).items())
    shape = (node.Datacenter, _visible(node.Attributes), _visible(node.Meta), node.NodeClass, node.NodePool,
             devices, drivers, networks, volumes)
    digest = hashlib.blake2b(_ENCODER.encode(shape), digest_size=8).digest()
    return f"v1:{int.from_bytes(digest, 'big')}"


def target_escapes_class(target: str) -> bool:
    """A constraint target that reads a unique value, so the class cannot answer for it."""
    return target.startswith(_ESCAPING_PREFIXES)
