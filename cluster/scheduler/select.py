"""Choosing nodes for a task group's placements, a whole pass of placements at a time.

Nomad walks the feasible nodes in one shuffled order per evaluation. Each placement continues
where the previous one stopped and ranks the next ``limit`` nodes that pass feasibility and fit
(skipping up to three whose score is not positive), then takes the best. So until the walk wraps
around, placements look at disjoint windows of the order and cannot affect each other: a pass of
them can be ranked at once. ``GroupSelector`` does exactly that with numpy: feasibility and fit as
masks over the rotated node order, the options' scores as one array, the windows as rows of a
matrix, the choice as an argmax per row. Usage is re-read between passes.

Placements whose scores depend on the previous ones in the same pass (spread, distinct_property),
or whose window holds a non-positive score (the skip rule), are walked one at a time over the same
arrays. Placement metrics count, per placement, the nodes its walk visited, filtered (by which
check) and found exhausted (on which dimension), as Nomad's ``AllocMetric`` does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from cluster.scheduler.context import EvalContext
from cluster.scheduler.feasible import GroupFeasibility
from cluster.scheduler.metrics import MetricBuilder
from cluster.scheduler.network import ports_reason
from cluster.scheduler.rank import fit_scores
from cluster.scheduler.scoring import GroupScoring, SelectOptions
from cluster.scheduler.spec import GroupSpec
from cluster.structs.alloc import AllocMetric

__all__ = ["GroupSelector", "Pass", "SelectOptions", "binpack_only", "placement_limit"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

MAX_SKIP = 3
SKIP_SCORE_THRESHOLD = 0.0
AFFINITY_SPREAD_LIMIT = 100  # Nomad's default node limit for feasibility checks


def placement_limit(node_count: int, batch: bool, count: int, affinity_or_spread: bool) -> int:
    """Nomad's limit rule: batch 2, service max(2, ceil(log2 n)); with affinities or spreads
    max(count, 100)."""
    if affinity_or_spread:
        return max(count, AFFINITY_SPREAD_LIMIT)
    if batch or node_count <= 0:
        return 2
    return max(2, math.ceil(math.log2(node_count)))


@dataclass(slots=True)
class Pass:
    """Placements decided together: node slots in placement order and their metrics."""

    slots: IntArray
    metrics: list[AllocMetric]
    scores: FloatArray = field(default_factory=lambda: np.zeros(0))


class GroupSelector:
    """Selects nodes for one task group in one evaluation."""

    def __init__(self, ctx: EvalContext, spec: GroupSpec, feasibility: GroupFeasibility, scoring: GroupScoring,
                 metrics: MetricBuilder, limit: int) -> None:
        self.ctx = ctx
        self.spec = spec
        self.feas = feasibility
        self.scoring = scoring
        self.metrics = metrics
        self.limit = limit

    # -- the pass arrays ---------------------------------------------------------------------------

    def _pass_arrays(self, seq: IntArray) -> tuple[BoolArray, BoolArray, BoolArray]:
        """(feasible, distinct-hosts ok, fits) over the visit order ``seq``."""
        ctx, spec = self.ctx, self.spec
        feasible = self.feas.mask(ctx.order)[seq]
        hosts_ok = np.ones(len(seq), np.bool_)
        if spec.distinct_hosts_group or spec.distinct_hosts_job:
            hosts_ok = self.scoring.distinct_hosts_ok(seq)
        t = ctx.table
        fits = ((ctx.cpu_used[seq] + spec.cpu <= t.cpu_total[seq])
                & (ctx.mem_used[seq] + spec.memory_mb <= t.mem_total[seq])
                & (ctx.disk_used[seq] + spec.disk_mb <= t.disk_total[seq]))
        if spec.asks_ports:
            for i in np.flatnonzero(fits & feasible & hosts_ok).tolist():
                node = t.nodes[int(seq[i])]
                assert node is not None
                if ctx.has_port_state(node.ID) or spec.dynamic_ports:
                    fits[i] = ports_reason(ctx, spec, node) is None
        return feasible, hosts_ok, fits

    # -- selecting ---------------------------------------------------------------------------------

    def select(self, k: int, options: SelectOptions, commit: Callable[[Pass], None]) -> AllocMetric | None:
        """Chooses nodes for ``k`` placements, calling ``commit`` with each pass before the next is
        ranked (the caller adds the allocations to the plan through the context). Returns the
        metric of the placement that failed, if one did (the rest of ``k`` was not attempted)."""
        ctx = self.ctx
        self.scoring.refresh()
        if options.preferred_slot is not None:
            done = self._select_preferred(options, commit)
            ctx.offset = 0  # Nomad resets its node iterator after trying preferred nodes
            if done:
                k -= 1
        placed = 0
        while placed < k:
            n = len(ctx.order)
            if n == 0:
                return self.metrics.failure(np.zeros(0, np.int64), np.zeros(0, np.bool_), np.zeros(0, np.bool_),
                                            np.zeros(0, np.bool_), self.feas, self.spec)
            off = ctx.offset
            seq = np.concatenate((ctx.order[off:], ctx.order[:off]))
            feasible, hosts_ok, fits = self._pass_arrays(seq)
            good = feasible & hosts_ok & fits
            opts = np.flatnonzero(good)
            if len(opts) == 0:
                return self.metrics.failure(seq, feasible, hosts_ok, fits, self.feas, self.spec)
            base, count = self.scoring.base_scores(seq[opts], options)
            walk = self.spec.sequential or bool(options.penalty_nodes)
            if not walk:
                final = base / count
                full = len(opts) // self.limit
                walk = full == 0 or bool((final[: full * self.limit] <= SKIP_SCORE_THRESHOLD).any())
            if walk:
                result = self._walk(seq, opts, base, count, feasible, hosts_ok, fits, k - placed, off)
            else:
                result = self._chunks(seq, opts, final, feasible, hosts_ok, fits, k - placed, off)
            if result is None:
                ok, _ = self.scoring.dynamic(seq[opts], base, count)
                return self.metrics.failure(seq, feasible, hosts_ok, fits, self.feas, self.spec,
                                            extra_filtered=opts[~ok].tolist(), scoring=self.scoring)
            placed += len(result.slots)
            commit(result)
        return None

    def _chunks(self, seq: IntArray, opts: IntArray, final: FloatArray, feasible: BoolArray, hosts_ok: BoolArray,
                fits: BoolArray, want: int, off: int) -> Pass:
        """The fast path: ``rows`` full windows of ``limit`` options, no skipping, argmax per row."""
        limit = self.limit
        rows = min(want, len(opts) // limit)
        block = final[: rows * limit].reshape(rows, limit)
        best = block.argmax(axis=1) + np.arange(rows) * limit
        ends = opts[(np.arange(rows) + 1) * limit - 1]
        starts = np.concatenate(([0], ends[:-1] + 1))
        slots = seq[opts[best]]
        metrics = self.metrics.windows(seq, starts, ends, feasible, hosts_ok, fits, self.feas, self.spec,
                                       slots, final[best], self.scoring)
        self.ctx.offset = int((off + ends[-1] + 1) % len(seq))
        return Pass(slots=slots, metrics=metrics, scores=final[best])

    def _walk(self, seq: IntArray, opts: IntArray, base: FloatArray, count: FloatArray, feasible: BoolArray,
              hosts_ok: BoolArray, fits: BoolArray, want: int, off: int) -> Pass | None:
        """One placement at a time over the pass, with Nomad's skip rule and (for spread and
        distinct_property) scores and filters recomputed after each placement."""
        limit, n = self.limit, len(seq)
        slots: list[int] = []
        metrics: list[AllocMetric] = []
        scores: list[float] = []
        i = 0
        start_pos = 0
        while len(slots) < want and i < len(opts):
            ok, final = self.scoring.dynamic(seq[opts[i:]], base[i:], count[i:])
            considered: list[int] = []
            skipped: list[int] = []
            j = i
            rest = final.tolist()
            allowed = ok.tolist()
            while len(considered) < limit and j < len(opts):
                r = j - i
                if allowed[r]:
                    if rest[r] <= SKIP_SCORE_THRESHOLD and len(skipped) < MAX_SKIP:
                        skipped.append(j)
                    else:
                        considered.append(j)
                j += 1
            exhausted_source = len(considered) < limit
            if exhausted_source and i > 0:
                break  # this walk would wrap into nodes already visited in this pass: new pass
            if exhausted_source:
                considered.extend(skipped[: limit - len(considered)])
            if not considered:
                return None
            best = considered[0]
            for x in considered[1:]:
                if rest[x - i] > rest[best - i]:
                    best = x
            end_pos = n - 1 if exhausted_source else int(opts[j - 1])
            slot = int(seq[opts[best]])
            slots.append(slot)
            scores.append(rest[best - i])
            filtered_dynamic = [int(opts[x]) for x in range(i, j) if not allowed[x - i]]
            metrics.extend(self.metrics.windows(
                seq, np.array([start_pos]), np.array([end_pos]), feasible, hosts_ok, fits, self.feas, self.spec,
                np.array([slot]), np.array([rest[best - i]]), self.scoring, extra_filtered=filtered_dynamic))
            self.scoring.note_placement(slot)
            if exhausted_source:
                self.ctx.offset = off  # the walk visited every node and came back to its start
                break
            self.ctx.offset = int((off + end_pos + 1) % n)
            start_pos = end_pos + 1
            i = j
        if not slots:
            return Pass(slots=np.zeros(0, np.int64), metrics=[])
        return Pass(slots=np.array(slots, np.int64), metrics=metrics, scores=np.array(scores))

    def _select_preferred(self, options: SelectOptions, commit: Callable[[Pass], None]) -> bool:
        """Nomad tries the previous node alone first for sticky or migrating ephemeral disks."""
        slot = options.preferred_slot
        assert slot is not None
        seq = np.array([slot], np.int64)
        if not self.ctx.table.schedulable[slot]:
            return False
        feasible, hosts_ok, fits = self._pass_arrays(seq)
        if not (feasible[0] and hosts_ok[0] and fits[0]):
            return False
        base, count = self.scoring.base_scores(seq, options)
        ok, final = self.scoring.dynamic(seq, base, count)
        if not ok[0]:
            return False
        metrics = self.metrics.windows(seq, np.array([0]), np.array([0]), feasible, hosts_ok, fits, self.feas,
                                       self.spec, seq, final, self.scoring)
        self.scoring.note_placement(slot)
        commit(Pass(slots=seq, metrics=metrics, scores=final))
        return True


def binpack_only(ctx: EvalContext, spec: GroupSpec, slots: IntArray) -> FloatArray:
    """Binpack fitness of placing ``spec`` on each slot (used by the system scheduler)."""
    t = ctx.table
    spread = ctx.config.SchedulerAlgorithm == "spread"
    return fit_scores(ctx.cpu_used[slots] + spec.cpu, ctx.mem_used[slots] + spec.memory_mb,
                      t.cpu_total[slots], t.mem_total[slots], spread)

