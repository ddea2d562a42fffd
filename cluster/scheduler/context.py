"""The evaluation context: the state snapshot, the plan being built, and what the plan has done
to the cluster so far, as arrays over node slots.

Nomad recomputes a node's "proposed allocations" (existing, minus the plan's stops, plus the
plan's placements) every time it looks at the node. Here every change to the plan goes through
the context, which keeps that answer current for all nodes at once: cpu, memory and disk in use,
ports in use, and per (job, task group) how many of its allocations each node holds (for job
anti-affinity and ``distinct_hosts``).
"""

from __future__ import annotations

from collections.abc import Callable
from random import Random

import numpy as np
import numpy.typing as npt

from cluster.scheduler.plan import Plan
from cluster.scheduler.ports import State
from cluster.state.nodetable import alloc_ports, alloc_usage, alloc_uses_resources
from cluster.state.records import SchedulerConfiguration
from cluster.structs.alloc import AllocatedResources, Allocation
from cluster.structs.job import Job
from cluster.structs.node import Node

__all__ = ["EvalContext", "new_uuid", "new_uuids", "reserved_ports"]

IntArray = npt.NDArray[np.int64]


def new_uuid(rng: Random) -> str:
    """A random (version 4) UUID drawn from the injected random source."""
    bits = rng.getrandbits(128) & ~(0xF << 76) & ~(0x3 << 62) | (0x4 << 76) | (0x2 << 62)
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}
_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", np.uint8)
_VARIANT_DIGITS = np.frombuffer(b"89ab89ab89ab89ab", np.uint8)
_BULK_UUIDS = 32  # from this many on, formatting them with numpy is cheaper
_UUID_FIELDS = ((0, 0, 8), (8, 9, 4), (12, 14, 4), (16, 19, 4), (20, 24, 12))  # (hex digit, char, width)


def new_uuids(rng: Random, n: int) -> list[str]:
    """``n`` random (version 4) UUIDs from one draw of the injected random source."""
    if n <= 0:
        return []
    if n >= _BULK_UUIDS:
        return _format_uuids(rng.getrandbits(128 * n).to_bytes(16 * n, "big"), n)
    h = f"{rng.getrandbits(128 * n):0{32 * n}x}"
    variant = _VARIANT
    return [f"{h[i:i + 8]}-{h[i + 8:i + 12]}-4{h[i + 13:i + 16]}-{variant[h[i + 16]]}{h[i + 17:i + 20]}-{h[i + 20:i + 32]}"
            for i in range(0, 32 * n, 32)]


def _format_uuids(raw: bytes, n: int) -> list[str]:
    """The UUID strings of ``n`` 16-byte random values (version and variant set), formatted as
    arrays: a placement pass makes a thousand of them, and per-string slicing cost a microsecond
    each. Same strings as ``new_uuids``' loop for the same bytes."""
    value = np.frombuffer(raw, np.uint8).reshape(n, 16)
    nibbles = np.empty((n, 32), np.uint8)
    nibbles[:, 0::2] = value >> 4
    nibbles[:, 1::2] = value & 15
    digits = _HEX_DIGITS[nibbles]
    digits[:, 12] = ord("4")
    digits[:, 16] = _VARIANT_DIGITS[nibbles[:, 16]]
    out = np.full((n, 37), ord("-"), np.uint8)
    for src, dst, width in _UUID_FIELDS:
        out[:, dst:dst + width] = digits[:, src:src + width]
    out[:, 36] = ord("\n")
    return out.tobytes().decode("ascii").split()


def reserved_ports(node: Node) -> int:
    """Ports the operator reserved on the node (``reserved { reserved_ports = "22,8000-8100" }``)."""
    spec = node.ReservedResources.Networks.ReservedHostPorts if node.ReservedResources else ""
    bits = 0
    for part in filter(None, (p.strip() for p in spec.split(","))):
        low, _, high = part.partition("-")
        if low.isdigit() and (not high or high.isdigit()):
            for port in range(int(low), int(high or low) + 1):
                bits |= 1 << port
    return bits


class EvalContext:
    """Mutable per-evaluation view: ``state`` plus ``plan``."""

    def __init__(self, state: State, plan: Plan, rng: Random, now_ns: int,
                 clock_ns: Callable[[], int] | None = None) -> None:
        self.state = state
        self.plan = plan
        self.rng = rng
        self.now_ns = now_ns
        # A monotonic clock the shell may hand in to measure placements (AllocMetric.AllocationTime);
        # the decisions never read it.
        self.clock_ns = clock_ns
        self.config: SchedulerConfiguration = state.scheduler_config()
        self.table = state.node_table
        self.cpu_used: IntArray = self.table.cpu_used.copy()
        self.mem_used: IntArray = self.table.mem_used.copy()
        self.disk_used: IntArray = self.table.disk_used.copy()
        self._ports: dict[str, int] = {}  # node ID -> ports in use, where the plan changed them
        self._counts: dict[tuple[str, str], npt.NDArray[np.int32]] = {}  # (job, group) -> allocs per slot
        self._stopped: set[str] = set()
        self._reserved_ports: dict[str, int] = {}
        self.reported_job: set[int] = set()  # classes already named in a metric (job checks)
        self.reported_group: dict[str, set[int]] = {}  # same, per task group
        self.class_eligibility: dict[str, bool] = {}  # computed class -> eligible, for blocked evals
        self.escaped = False
        self.order: IntArray = np.zeros(0, np.int64)  # candidate slots in this evaluation's visit order
        self.offset = 0  # where the next placement's walk starts in ``order``

    def set_nodes(self, slots: IntArray) -> None:
        """Sets the candidate nodes and shuffles them (seeded from the injected random source)."""
        self.order = np.random.default_rng(self.rng.getrandbits(64)).permutation(slots).astype(np.int64)
        self.offset = 0

    def new_id(self) -> str:
        return new_uuid(self.rng)

    def new_ids(self, n: int) -> list[str]:
        return new_uuids(self.rng, n)

    # -- resources ----------------------------------------------------------------------------

    def _slot(self, node_id: str) -> int | None:
        return self.table.slot_of.get(node_id)

    def _account(self, slot: int, resources: AllocatedResources | None, sign: int) -> None:
        cpu, mem, disk = alloc_usage(resources)
        self.cpu_used[slot] += sign * cpu
        self.mem_used[slot] += sign * mem
        self.disk_used[slot] += sign * disk

    def used_ports(self, node_id: str) -> int:
        bits = self._ports.get(node_id)
        if bits is None:
            bits = self.table.ports_used.get(node_id, 0)
        return bits | self.node_reserved_ports(node_id)

    def node_reserved_ports(self, node_id: str) -> int:
        bits = self._reserved_ports.get(node_id)
        if bits is None:
            node = self.state.node_by_id(node_id)
            bits = self._reserved_ports[node_id] = reserved_ports(node) if node is not None else 0
        return bits

    def has_port_state(self, node_id: str) -> bool:
        return node_id in self._ports or node_id in self.table.ports_used or bool(self.node_reserved_ports(node_id))

    def _change_ports(self, node_id: str, resources: AllocatedResources | None, add: bool) -> None:
        bits = alloc_ports(resources)
        if bits:
            current = self._ports.get(node_id, self.table.ports_used.get(node_id, 0))
            self._ports[node_id] = current | bits if add else current & ~bits

    # -- per (job, group) allocation counts ------------------------------------------------------

    def group_counts(self, job: Job, group: str) -> npt.NDArray[np.int32]:
        """How many live allocations of ``job``'s ``group`` each node slot holds, plan included."""
        key = (job.ID or "", group)
        counts = self._counts.get(key)
        if counts is None:
            counts = np.zeros(len(self.table), np.int32)
            slot_of = self.table.slot_of
            for alloc in self.state.allocs_by_job(job.Namespace or "", job.ID or ""):
                if alloc.TaskGroup == group and alloc.ID not in self._stopped and alloc_uses_resources(alloc):
                    slot = slot_of.get(alloc.NodeID)
                    if slot is not None:
                        counts[slot] += 1
            for allocs in self.plan.NodeAllocation.values():
                for alloc in allocs:
                    if alloc.JobID == key[0] and alloc.TaskGroup == group and self.state.alloc_by_id(alloc.ID) is None:
                        slot = slot_of.get(alloc.NodeID)
                        if slot is not None:
                            counts[slot] += 1
            self._counts[key] = counts
        return counts

    def _count(self, alloc: Allocation, delta: int) -> None:
        counts = self._counts.get((alloc.JobID, alloc.TaskGroup))
        if counts is not None:
            slot = self._slot(alloc.NodeID)
            if slot is not None:
                counts[slot] += delta

    # -- plan changes ----------------------------------------------------------------------------

    def stop(self, alloc: Allocation, description: str, client_status: str = "", followup_eval_id: str = "") -> None:
        """Stops ``alloc`` in the plan; its resources are free for the rest of the evaluation."""
        self.plan.append_stopped(alloc, description, client_status, followup_eval_id)
        self._release(alloc)

    def _release(self, alloc: Allocation) -> None:
        if alloc.ID in self._stopped:
            return
        self._stopped.add(alloc.ID)
        slot = self._slot(alloc.NodeID)
        if slot is not None and alloc_uses_resources(alloc):
            self._account(slot, alloc.AllocatedResources, -1)
            self._change_ports(alloc.NodeID, alloc.AllocatedResources, add=False)
            self._count(alloc, -1)

    def unstop(self, alloc: Allocation) -> None:
        """Takes back the last ``stop`` of ``alloc``."""
        self.plan.pop_stopped(alloc)
        if alloc.ID not in self._stopped:
            return
        self._stopped.discard(alloc.ID)
        slot = self._slot(alloc.NodeID)
        if slot is not None and alloc_uses_resources(alloc):
            self._account(slot, alloc.AllocatedResources, 1)
            self._change_ports(alloc.NodeID, alloc.AllocatedResources, add=True)
            self._count(alloc, 1)

    def preempt(self, alloc: Allocation, preempted_by: str) -> None:
        self.plan.append_preempted(alloc, preempted_by)
        self._release(alloc)

    def is_stopped(self, alloc_id: str) -> bool:
        return alloc_id in self._stopped

    def place(self, alloc: Allocation, slot: int) -> None:
        """Adds a new allocation on node ``slot`` to the plan."""
        self.plan.append_alloc(alloc)
        self._account(slot, alloc.AllocatedResources, 1)
        self._change_ports(alloc.NodeID, alloc.AllocatedResources, add=True)
        self._count(alloc, 1)

    def place_many(self, allocs: list[Allocation], slots: npt.NDArray[np.int64], cpu: int, mem: int, disk: int) -> None:
        """Adds allocations that all take (cpu, mem, disk) and no ports, one per slot, in bulk."""
        node_allocation = self.plan.NodeAllocation
        for alloc in allocs:
            existing = node_allocation.get(alloc.NodeID)
            if existing is None:
                node_allocation[alloc.NodeID] = [alloc]
            else:
                existing.append(alloc)
        np.add.at(self.cpu_used, slots, cpu)
        np.add.at(self.mem_used, slots, mem)
        np.add.at(self.disk_used, slots, disk)
        if allocs:
            counts = self._counts.get((allocs[0].JobID, allocs[0].TaskGroup))
            if counts is not None:
                np.add.at(counts, slots, 1)

    def update_in_place(self, old: Allocation, new: Allocation) -> None:
        """Replaces ``old``'s resources with ``new``'s on the same node (an in-place update)."""
        self.plan.append_alloc(new)
        slot = self._slot(new.NodeID)
        if slot is not None:
            if alloc_uses_resources(old) and old.ID not in self._stopped:
                self._account(slot, old.AllocatedResources, -1)
            self._account(slot, new.AllocatedResources, 1)
