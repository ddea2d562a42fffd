"""Which nodes a job may use at all (ready, eligible, not draining, in one of its datacenters and
in its node pool), and which of the nodes its allocations run on are tainted (down, gone or
draining)."""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from cluster.scheduler.ports import State
from cluster.state.nodetable import NodeTable
from cluster.structs.alloc import Allocation
from cluster.structs.constants import NodeStatus
from cluster.structs.job import Job
from cluster.structs.node import Node

__all__ = ["ALL_POOLS", "dc_matches", "job_node_mask", "ready_nodes", "tainted_nodes"]

ALL_POOLS = "all"
IntArray = npt.NDArray[np.int64]


@lru_cache(maxsize=256)
def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$")


def dc_matches(patterns: list[str], dc: str) -> bool:
    """Datacenters may be globs with ``*`` (Nomad 1.5+): ``["*"]`` matches every datacenter."""
    return any(_glob(p).match(dc) for p in patterns)


def job_node_mask(table: NodeTable, job: Job) -> npt.NDArray[np.bool_]:
    """Slots in the job's datacenters and node pool (whatever their status)."""
    dcs = job.Datacenters or ["*"]
    dc_ok = np.array([dc_matches(dcs, dc) for dc in table.dcs] + [False], np.bool_)
    pool = job.NodePool or "default"
    pool_ok = np.array([pool in (ALL_POOLS, p) for p in table.pools] + [False], np.bool_)
    return table.live & dc_ok[table.dc_code] & pool_ok[table.pool_code]


def ready_nodes(state: State, job: Job) -> tuple[IntArray, dict[str, int]]:
    """(slots of nodes that take the job's placements, count of them per datacenter)."""
    table = state.node_table
    mask = table.schedulable & job_node_mask(table, job)
    slots = np.flatnonzero(mask).astype(np.int64)
    codes, counts = np.unique(table.dc_code[slots], return_counts=True)
    by_dc = {table.dcs[c]: int(n) for c, n in zip(codes.tolist(), counts.tolist(), strict=True)}
    return slots, by_dc


def tainted_nodes(state: State, allocs: list[Allocation]) -> dict[str, Node | None]:
    """Nodes of ``allocs`` that are gone (None), down, disconnected or draining."""
    out: dict[str, Node | None] = {}
    for alloc in allocs:
        if alloc.NodeID in out:
            continue
        node = state.node_by_id(alloc.NodeID)
        if node is None or node.Status in (NodeStatus.DOWN, NodeStatus.DISCONNECTED) \
                or node.DrainStrategy is not None or node.Drain:
            out[alloc.NodeID] = node
    return out
