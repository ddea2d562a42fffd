"""Per-node scheduling arrays, indexed by a node's slot number, kept current by every write.

The scheduler ranks many nodes at once with numpy, so the state store keeps what ranking needs as
arrays rather than objects: capacity and usage (cpu MHz, memory MiB, disk MiB), the node's
computed class, datacenter and pool as small integer codes, and whether the node takes new
placements. Usage counts every allocation that is not terminal (Nomad's ``TerminalStatus``: the
servers stopped it or the client finished it). Used ports are kept per node, as Python integers
used as bitmaps, only for nodes that have allocations with ports.

A ``NodeTable`` is never changed once a snapshot holds it. A write goes through a
``NodeTableWriter`` that copies an array the first time it changes it (copy-on-write), so a
snapshot stays O(1) and a write costs O(nodes) only for the arrays it touches.
"""

from __future__ import annotations

from itertools import chain

import immutables
import numpy as np
import numpy.typing as npt

from cluster.structs.alloc import AllocatedResources, Allocation
from cluster.structs.constants import AllocClientStatus, AllocDesiredStatus, NodeEligibility, NodeStatus
from cluster.structs.node import Node

__all__ = ["NodeTable", "NodeTableWriter", "alloc_ports", "alloc_usage", "alloc_uses_resources", "node_capacity"]

IntArray = npt.NDArray[np.int64]
CodeArray = npt.NDArray[np.int32]
BoolArray = npt.NDArray[np.bool_]

_TERMINAL_DESIRED = frozenset((AllocDesiredStatus.STOP, AllocDesiredStatus.EVICT))
_TERMINAL_CLIENT = frozenset((AllocClientStatus.COMPLETE, AllocClientStatus.FAILED, AllocClientStatus.LOST))


def alloc_uses_resources(alloc: Allocation) -> bool:
    """Nomad's ``!TerminalStatus()``: neither stopped by the servers nor finished on the client."""
    return alloc.DesiredStatus not in _TERMINAL_DESIRED and alloc.ClientStatus not in _TERMINAL_CLIENT


def alloc_usage(resources: AllocatedResources | None) -> tuple[int, int, int]:
    """(cpu MHz, memory MiB, disk MiB) that an allocation's granted resources take on its node."""
    if resources is None:
        return 0, 0, 0
    cpu = mem = 0
    for task in (resources.Tasks or {}).values():
        cpu += task.Cpu.CpuShares
        mem += task.Memory.MemoryMB
    return cpu, mem, resources.Shared.DiskMB


def alloc_ports(resources: AllocatedResources | None) -> int:
    """The host ports an allocation holds, as a bitmap (bit n set: port n taken)."""
    if resources is None:
        return 0
    bits = 0
    for port in resources.Shared.Ports or ():
        bits |= 1 << port.Value
    for net in resources.Shared.Networks or ():
        for p in (net.ReservedPorts or []) + (net.DynamicPorts or []):
            bits |= 1 << p.Value
    for task in (resources.Tasks or {}).values():
        for net in task.Networks or ():
            for p in (net.ReservedPorts or []) + (net.DynamicPorts or []):
                bits |= 1 << p.Value
    return bits & ~1  # port 0 means "not assigned"


def node_capacity(node: Node) -> tuple[int, int, int]:
    """What the scheduler may hand out on ``node``: its resources minus what the operator reserved."""
    res, reserved = node.NodeResources, node.ReservedResources
    if res is not None:
        cpu, mem, disk = res.Cpu.CpuShares, res.Memory.MemoryMB, res.Disk.DiskMB
    elif node.Resources is not None:
        legacy = node.Resources
        cpu, mem, disk = legacy.CPU or 0, legacy.MemoryMB or 0, legacy.DiskMB or 0
    else:
        cpu = mem = disk = 0
    if reserved is not None:
        cpu -= reserved.Cpu.CpuShares
        mem -= reserved.Memory.MemoryMB
        disk -= reserved.Disk.DiskMB
    return cpu, mem, disk


def node_schedulable(node: Node) -> bool:
    """Takes new placements: ready, eligible and not draining (Nomad's ``readyNodesInDCs``)."""
    return (
        node.Status == NodeStatus.READY
        and node.SchedulingEligibility != NodeEligibility.INELIGIBLE
        and node.DrainStrategy is None
        and not node.Drain
    )


class NodeTable:
    """Arrays over node slots. ``nodes[slot]`` is the Node or None for a free slot; ``codes`` name
    the class, datacenter and pool strings behind the integer code arrays."""

    __slots__ = (
        "alloc_groups",
        "class_code",
        "classes",
        "cpu_total",
        "cpu_used",
        "dc_code",
        "dcs",
        "disk_total",
        "disk_used",
        "free_slots",
        "has_class",
        "live",
        "mem_total",
        "mem_used",
        "nodes",
        "pool_code",
        "pools",
        "ports_used",
        "ready",
        "schedulable",
        "slot_of",
    )

    def __init__(self) -> None:
        self.slot_of: immutables.Map[str, int] = immutables.Map()
        self.nodes: list[Node | None] = []
        self.free_slots: list[int] = []  # slots with no node; pop() hands out the lowest first
        self.cpu_total: IntArray = np.zeros(0, np.int64)
        self.mem_total: IntArray = np.zeros(0, np.int64)
        self.disk_total: IntArray = np.zeros(0, np.int64)
        self.cpu_used: IntArray = np.zeros(0, np.int64)
        self.mem_used: IntArray = np.zeros(0, np.int64)
        self.disk_used: IntArray = np.zeros(0, np.int64)
        self.class_code: CodeArray = np.zeros(0, np.int32)
        self.dc_code: CodeArray = np.zeros(0, np.int32)
        self.pool_code: CodeArray = np.zeros(0, np.int32)
        self.live: BoolArray = np.zeros(0, np.bool_)  # a node holds this slot
        self.has_class: BoolArray = np.zeros(0, np.bool_)  # the node has a (user) node_class
        self.ready: BoolArray = np.zeros(0, np.bool_)  # Status == ready (placements may land)
        self.schedulable: BoolArray = np.zeros(0, np.bool_)  # ready, eligible, not draining
        self.classes: tuple[str, ...] = ()
        self.dcs: tuple[str, ...] = ()
        self.pools: tuple[str, ...] = ()
        self.ports_used: immutables.Map[str, int] = immutables.Map()
        # The allocations on each node, by slot: (Raft index of the last change, ID -> allocation).
        # The state store's ``allocs_by_node`` index for registered nodes lives here, so that a
        # write touching a thousand nodes updates a list, not a thousand paths of a tree.
        self.alloc_groups: list[tuple[int, immutables.Map[str, Allocation]] | None] = []

    def __len__(self) -> int:
        return len(self.nodes)

    def slot(self, node_id: str) -> int:
        """The slot of a known node; ``KeyError`` if the node is not registered."""
        return self.slot_of[node_id]

    def usage(self, node_id: str) -> tuple[int, int, int]:
        s = self.slot_of[node_id]
        return int(self.cpu_used[s]), int(self.mem_used[s]), int(self.disk_used[s])


_NODE_ARRAYS = ("cpu_total", "mem_total", "disk_total", "class_code", "dc_code", "pool_code", "live", "has_class",
                "ready", "schedulable")
_USAGE_ARRAYS = ("cpu_used", "mem_used", "disk_used")


class NodeTableWriter:
    """Builds the next ``NodeTable`` from ``base``, copying each part on its first change."""

    def __init__(self, base: NodeTable) -> None:
        self._base = base
        self._out = NodeTable.__new__(NodeTable)
        for name in NodeTable.__slots__:
            setattr(self._out, name, getattr(base, name))
        self._nodes_copied = False
        self._usage_copied = False
        self._groups_copied = False
        self._deltas: list[tuple[int, int, int, int]] = []
        self._ports: dict[str, int] = {}
        self._costs: dict[int, tuple[int, int, int, int]] = {}  # id(resources) -> (cpu, mem, disk, ports)
        # New allocations without ports, as the slots they land on per granted-resources object
        # (a plan's thousand allocations share one): added in bulk by ``finish``.
        self._placed_slots: dict[int, list[int]] = {}

    # -- nodes -------------------------------------------------------------------------------

    def _own_nodes(self) -> None:
        if not self._nodes_copied:
            out = self._out
            out.nodes = list(out.nodes)
            out.free_slots = list(out.free_slots)
            for name in _NODE_ARRAYS:
                setattr(out, name, getattr(out, name).copy())
            self._nodes_copied = True

    def _own_usage(self) -> None:
        if not self._usage_copied:
            for name in _USAGE_ARRAYS:
                setattr(self._out, name, getattr(self._out, name).copy())
            self._usage_copied = True

    def _own_groups(self) -> None:
        if not self._groups_copied:
            self._out.alloc_groups = list(self._out.alloc_groups)
            self._groups_copied = True

    def _grow(self) -> None:
        """Adds free slots, half again as many as there are (amortized O(1) per new node)."""
        out = self._out
        size = len(out.nodes)
        extra = max(8, size // 2)
        out.nodes.extend([None] * extra)
        self._own_groups()
        out.alloc_groups.extend([None] * extra)
        out.free_slots.extend(range(size + extra - 1, size - 1, -1))
        self._own_usage()
        for name in (*_NODE_ARRAYS, *_USAGE_ARRAYS):
            arr = getattr(out, name)
            setattr(out, name, np.concatenate([arr, np.zeros(extra, arr.dtype)]))

    @staticmethod
    def _code(registry: tuple[str, ...], value: str) -> tuple[tuple[str, ...], int]:
        try:
            return registry, registry.index(value)
        except ValueError:
            return (*registry, value), len(registry)

    def upsert_node(self, node: Node) -> int:
        """Stores ``node`` (new or changed) and returns its slot."""
        self._own_nodes()
        out = self._out
        slot = out.slot_of.get(node.ID)
        if slot is None:
            if not out.free_slots:
                self._grow()
            slot = out.free_slots.pop()
            out.slot_of = out.slot_of.set(node.ID, slot)
        out.nodes[slot] = node
        cpu, mem, disk = node_capacity(node)
        out.cpu_total[slot], out.mem_total[slot], out.disk_total[slot] = cpu, mem, disk
        out.classes, out.class_code[slot] = self._code(out.classes, node.ComputedClass)
        out.dcs, out.dc_code[slot] = self._code(out.dcs, node.Datacenter)
        out.pools, out.pool_code[slot] = self._code(out.pools, node.NodePool)
        out.live[slot] = True
        out.has_class[slot] = bool(node.NodeClass)
        out.ready[slot] = node.Status == NodeStatus.READY
        out.schedulable[slot] = node_schedulable(node)
        return slot

    def delete_node(self, node_id: str) -> tuple[int, immutables.Map[str, Allocation]] | None:
        """Frees the node's slot; returns the group of allocations it held (they outlive it)."""
        out = self._out
        slot = out.slot_of.get(node_id)
        if slot is None:
            return None
        self._own_nodes()
        self._own_usage()
        self._own_groups()
        group = out.alloc_groups[slot]
        out.alloc_groups[slot] = None
        out.slot_of = out.slot_of.delete(node_id)
        out.nodes[slot] = None
        out.free_slots.append(slot)
        for name in (*_NODE_ARRAYS, *_USAGE_ARRAYS):
            getattr(out, name)[slot] = 0
        self._ports[node_id] = 0
        return group

    # -- allocations per node ----------------------------------------------------------------

    def slot_of(self, node_id: str) -> int | None:
        return self._out.slot_of.get(node_id)

    def slot_map(self) -> immutables.Map[str, int]:
        return self._out.slot_of

    def group(self, slot: int) -> tuple[int, immutables.Map[str, Allocation]] | None:
        return self._out.alloc_groups[slot]

    def set_group(self, slot: int, group: tuple[int, immutables.Map[str, Allocation]] | None) -> None:
        self._own_groups()
        self._out.alloc_groups[slot] = group

    def groups_for_write(self) -> list[tuple[int, immutables.Map[str, Allocation]] | None]:
        """The per-slot groups list, owned by this writer, for bulk changes."""
        self._own_groups()
        return self._out.alloc_groups

    # -- usage -------------------------------------------------------------------------------

    def change_alloc(self, old: Allocation | None, new: Allocation | None) -> None:
        """Accounts for one allocation write: ``old`` is what was stored (None if new), ``new`` what
        is stored now (None if deleted)."""
        if old is not None and alloc_uses_resources(old):
            self._account(old, -1)
        if new is not None and alloc_uses_resources(new):
            self._account(new, 1)

    def add_allocs(self, allocs: list[Allocation]) -> None:
        """Accounts for new allocations (the bulk form of ``change_alloc(None, alloc)``)."""
        slot_of = self._out.slot_of.get
        costs = self._costs
        placed = self._placed_slots
        for alloc in allocs:
            if alloc.DesiredStatus in _TERMINAL_DESIRED or alloc.ClientStatus in _TERMINAL_CLIENT:
                continue
            slot = slot_of(alloc.NodeID)
            if slot is None:
                continue
            resources = alloc.AllocatedResources
            key = id(resources)
            slots = placed.get(key)
            if slots is not None:
                slots.append(slot)
                continue
            cost = costs.get(key)
            if cost is None:
                cost = costs[key] = (*alloc_usage(resources), alloc_ports(resources))
            if cost[3]:
                self._account(alloc, 1)
            else:
                placed[key] = [slot]

    def _account(self, alloc: Allocation, sign: int) -> None:
        slot = self._out.slot_of.get(alloc.NodeID)
        if slot is None:
            return  # the node is gone; its allocations no longer take room anywhere
        resources = alloc.AllocatedResources
        cost = self._costs.get(id(resources))
        if cost is None:
            # Plans share one resources object among many allocations: sum it once per write.
            cost = self._costs[id(resources)] = (*alloc_usage(resources), alloc_ports(resources))
        cpu, mem, disk, ports = cost
        self._deltas.append((slot, sign * cpu, sign * mem, sign * disk))
        if ports:
            current = self._ports.get(alloc.NodeID)
            if current is None:
                current = self._out.ports_used.get(alloc.NodeID, 0)
            self._ports[alloc.NodeID] = current | ports if sign > 0 else current & ~ports

    def finish(self) -> NodeTable:
        out = self._out
        if self._placed_slots:
            self._own_usage()
            for key, placed in self._placed_slots.items():
                cpu, mem, disk, _ = self._costs[key]
                at = np.array(placed, np.int64)
                np.add.at(out.cpu_used, at, cpu)
                np.add.at(out.mem_used, at, mem)
                np.add.at(out.disk_used, at, disk)
            self._placed_slots = {}
        if self._deltas:
            self._own_usage()
            count = 4 * len(self._deltas)  # (slot, cpu, mem, disk) rows; fromiter is twice as fast as array
            columns = np.fromiter(chain.from_iterable(self._deltas), np.int64, count=count).reshape(-1, 4)
            slots = columns[:, 0]
            np.add.at(out.cpu_used, slots, columns[:, 1])
            np.add.at(out.mem_used, slots, columns[:, 2])
            np.add.at(out.disk_used, slots, columns[:, 3])
            self._deltas = []
        if self._ports:
            with out.ports_used.mutate() as m:
                for node_id, bits in self._ports.items():
                    if bits:
                        m[node_id] = bits
                    elif node_id in m:
                        del m[node_id]
                out.ports_used = m.finish()
            self._ports = {}
        return out
