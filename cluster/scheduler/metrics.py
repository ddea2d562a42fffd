"""Placement metrics (Nomad's ``AllocMetric``): for each placement, how many nodes its walk
visited, which it filtered and why, which were exhausted and on which dimension, and how the
chosen node scored. ``nomad alloc status -verbose`` and the failed-placement report of ``nomad job
status`` print these.

Counts come from prefix sums over the pass, so a placement that met no filtered or exhausted node
costs two subtractions; the per-reason breakdown is built only where there is something to say.
"""

from __future__ import annotations

import msgspec
import numpy as np
import numpy.typing as npt

from cluster.scheduler.context import EvalContext
from cluster.scheduler.feasible import GroupFeasibility
from cluster.scheduler.network import ports_reason
from cluster.scheduler.scoring import GroupScoring
from cluster.scheduler.spec import GroupSpec
from cluster.structs.alloc import AllocMetric, NodeScoreMeta
from cluster.structs.group import TaskGroup
from cluster.structs.resources import Resources

__all__ = ["MetricBuilder", "exhaust_resources"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def _bump(counts: dict[str, int] | None, key: str) -> dict[str, int]:
    out = counts if counts is not None else {}
    out[key] = out.get(key, 0) + 1
    return out


def exhaust_resources(metric: AllocMetric, tg: TaskGroup) -> None:
    """Nomad's ``ExhaustResources``: when a dimension ran out, record what each task asked for."""
    if not metric.DimensionExhausted:
        return
    asked = dict(metric.ResourcesExhausted or {})
    for task in tg.Tasks or ():
        if task.Resources is not None:
            asked[task.Name] = Resources(CPU=task.Resources.CPU, MemoryMB=task.Resources.MemoryMB,
                                         Cores=task.Resources.Cores)
    metric.ResourcesExhausted = asked


def _window_counts(mask: BoolArray, starts: IntArray, ends: IntArray) -> list[int]:
    """How many positions of ``mask`` are set in each window ``starts[i]..ends[i]``."""
    prefix = np.concatenate(([0], np.cumsum(mask)))
    counts: list[int] = (prefix[ends + 1] - prefix[starts]).tolist()
    return counts


class MetricBuilder:
    """Builds metrics for one evaluation; the per-datacenter node counts are shared by all."""

    def __init__(self, ctx: EvalContext, nodes_available: dict[str, int], nodes_in_pool: int, pool: str) -> None:
        self.ctx = ctx
        self.nodes_available = nodes_available
        self.nodes_in_pool = nodes_in_pool
        self.pool = pool
        self._proto = AllocMetric(NodesInPool=nodes_in_pool, NodePool=pool, NodesAvailable=nodes_available)

    def _exhausted_reason(self, slot: int, spec: GroupSpec) -> str:
        ctx = self.ctx
        t = ctx.table
        node = t.nodes[slot]
        assert node is not None
        if spec.asks_ports:
            reason = ports_reason(ctx, spec, node)
            if reason is not None:
                return reason
        if ctx.cpu_used[slot] + spec.cpu > t.cpu_total[slot]:
            return "cpu"
        if ctx.mem_used[slot] + spec.memory_mb > t.mem_total[slot]:
            return "memory"
        return "disk"

    def _detail(self, metric: AllocMetric, seq: IntArray, lo: int, hi: int, infeasible: BoolArray,
                hosts_bad: BoolArray, exhausted: BoolArray, feas: GroupFeasibility, spec: GroupSpec,
                extra_filtered: set[int], scoring: GroupScoring | None) -> None:
        t = self.ctx.table
        for pos in range(lo, hi + 1):
            slot = int(seq[pos])
            node = t.nodes[slot]
            assert node is not None
            if infeasible[pos]:
                reason = feas.label(slot)
            elif hosts_bad[pos]:
                reason = "distinct_hosts"
            elif pos in extra_filtered and scoring is not None:
                reason = scoring.property_reason(slot) or "distinct_property"
            elif exhausted[pos]:
                dimension = self._exhausted_reason(slot, spec)
                metric.NodesExhausted += 1
                metric.DimensionExhausted = _bump(metric.DimensionExhausted, dimension)
                if node.NodeClass:
                    metric.ClassExhausted = _bump(metric.ClassExhausted, node.NodeClass)
                continue
            else:
                continue
            metric.NodesFiltered += 1
            metric.ConstraintFiltered = _bump(metric.ConstraintFiltered, reason)
            if node.NodeClass:
                metric.ClassFiltered = _bump(metric.ClassFiltered, node.NodeClass)

    def windows(self, seq: IntArray, starts: IntArray, ends: IntArray, feasible: BoolArray, hosts_ok: BoolArray,
                fits: BoolArray, feas: GroupFeasibility, spec: GroupSpec, chosen: IntArray, finals: FloatArray,
                scoring: GroupScoring, extra_filtered: list[int] | None = None) -> list[AllocMetric]:
        """One metric per placement whose walk covered positions ``starts[i]..ends[i]`` of ``seq``."""
        infeasible = ~feasible
        hosts_bad = feasible & ~hosts_ok
        exhausted = feasible & hosts_ok & ~fits
        troubled = _window_counts(infeasible | hosts_bad | exhausted, starts, ends)
        extra = set(extra_filtered or ())
        nodes = self.ctx.table.nodes
        components = scoring.components(chosen, finals)
        proto = self._proto
        replace = msgspec.structs.replace
        # Every placement's metric starts as its node count and the chosen node's scores; only the
        # windows that met filtered or exhausted nodes (or extra filters) say more.
        out = [replace(proto, NodesEvaluated=evaluated,
                       ScoreMetaData=[NodeScoreMeta(NodeID=nodes[slot].ID, Scores=scores, NormScore=final)])
               for evaluated, slot, final, scores in zip((ends - starts + 1).tolist(), chosen.tolist(),
                                                         finals.tolist(), components, strict=True)]
        if not extra and not any(troubled):
            return out
        dims = self._dimensions(seq, exhausted, spec, infeasible | hosts_bad, starts, ends)
        lows, highs = starts.tolist(), ends.tolist()
        # Windows meeting the same exhausted counts share one (never mutated) dict.
        shared_dims: dict[tuple[int, int, int], dict[str, int]] = {}
        for w, metric in enumerate(out):
            if not (troubled[w] or extra):
                continue
            if dims is not None and not extra and not dims[0][w]:
                key = (dims[1][w], dims[2][w], dims[3][w])
                found = shared_dims.get(key)
                if found is None:
                    found = shared_dims[key] = {k: v for k, v in zip(("cpu", "memory", "disk"), key, strict=True)
                                                if v}
                metric.NodesExhausted = key[0] + key[1] + key[2]
                metric.DimensionExhausted = found
            else:
                self._detail(metric, seq, lows[w], highs[w], infeasible, hosts_bad, exhausted, feas, spec, extra,
                             scoring)
        return out

    def _dimensions(self, seq: IntArray, exhausted: BoolArray, spec: GroupSpec, filtered: BoolArray,
                    starts: IntArray, ends: IntArray) -> tuple[list[int], list[int], list[int], list[int]] | None:
        """Per window, the counts of (filtered, cpu-, memory-, disk-exhausted) nodes, so that windows
        meeting only exhausted nodes get their metrics without a loop over nodes. None where such a
        loop is needed anyway (port asks, or nodes with a node class to count)."""
        ctx, t = self.ctx, self.ctx.table
        if spec.asks_ports or not exhausted.any() or t.has_class[seq].any():
            return None
        cpu = exhausted & (ctx.cpu_used[seq] + spec.cpu > t.cpu_total[seq])
        mem = exhausted & ~cpu & (ctx.mem_used[seq] + spec.memory_mb > t.mem_total[seq])
        disk = exhausted & ~cpu & ~mem
        return tuple(_window_counts(m, starts, ends) for m in (filtered, cpu, mem, disk))  # type: ignore[return-value]

    def failure(self, seq: IntArray, feasible: BoolArray, hosts_ok: BoolArray, fits: BoolArray,
                feas: GroupFeasibility, spec: GroupSpec, extra_filtered: list[int] | None = None,
                scoring: GroupScoring | None = None) -> AllocMetric:
        """The metric of a placement that found no node: every node was visited. ``extra_filtered``
        are the positions of ``seq`` that ``scoring`` filtered by distinct_property."""
        metric = AllocMetric(NodesEvaluated=len(seq), NodesInPool=self.nodes_in_pool, NodePool=self.pool,
                             NodesAvailable=self.nodes_available)
        if len(seq):
            self._detail(metric, seq, 0, len(seq) - 1, ~feasible, feasible & ~hosts_ok, feasible & hosts_ok & ~fits,
                         feas, spec, set(extra_filtered or ()), scoring)
        return metric
