"""Everything that scores one task group's candidate nodes in one evaluation.

``base_scores`` gives, for a set of candidate slots, the sum and the number of the scores that do
not depend on earlier placements in the same pass: binpack, job anti-affinity, the rescheduling
penalty and node affinity. ``dynamic`` adds what does: the spread stanza (Nomad's SpreadIterator,
with targets or even spread) and the ``distinct_property`` filter, from value counts that
``note_placement`` keeps current. Node attribute values are turned into small integer codes once,
so both are array lookups.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cluster.scheduler.constraints import check_constraint, resolve_target
from cluster.scheduler.context import EvalContext
from cluster.scheduler.rank import affinity_score, anti_affinity, fit_scores
from cluster.scheduler.spec import GroupSpec
from cluster.state.node_class import target_escapes_class
from cluster.state.nodetable import alloc_uses_resources
from cluster.structs.job import Job

__all__ = ["GroupScoring", "SelectOptions"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

IMPLICIT_TARGET = "*"


@dataclass(slots=True)
class SelectOptions:
    penalty_nodes: frozenset[str] = frozenset()  # rescheduling: nodes where it failed before
    preferred_slot: int | None = None  # sticky or migrating disk: try the previous node first


class _ValueCodes:
    """A node attribute's value per slot, as codes (-1: the node lacks the attribute). With target
    values, every other value is folded into the implicit target ``*``."""

    def __init__(self, ctx: EvalContext, attribute: str, targets: set[str]) -> None:
        self.values: list[str] = []
        self._index: dict[str, int] = {}
        table = ctx.table
        self.codes = np.full(len(table), -1, np.int64)
        for slot, node in enumerate(table.nodes):
            if node is None:
                continue
            value, found = resolve_target(attribute, node)
            if found:
                if targets and value not in targets:
                    value = IMPLICIT_TARGET
                self.codes[slot] = self.code(value)

    def code(self, value: str) -> int:
        at = self._index.get(value)
        if at is None:
            at = self._index[value] = len(self.values)
            self.values.append(value)
        return at

    def counts(self, slots: list[int]) -> IntArray:
        """How many of ``slots`` hold each value (slots lacking the attribute are not counted)."""
        out = np.zeros(len(self.values) + 1, np.int64)
        for slot in slots:
            c = int(self.codes[slot])
            if c >= 0:
                out[c] += 1
        return out


class GroupScoring:
    def __init__(self, ctx: EvalContext, job: Job, spec: GroupSpec) -> None:
        self.ctx = ctx
        self.job = job
        self.spec = spec
        self.spread_algorithm = ctx.config.SchedulerAlgorithm == "spread"
        self.collisions = ctx.group_counts(job, spec.name)
        self._affinity: FloatArray | None = None
        self._spreads: list[tuple[_ValueCodes, dict[int, float], float]] = []
        self._spread_counts: list[IntArray] = []
        self._lowest_boost = -1.0
        self._properties: list[tuple[_ValueCodes, int, bool, str]] = []
        self._score_dicts: dict[tuple[float, float, float, float], dict[str, float]] = {}
        self._property_counts: list[IntArray] = []
        self._setup_spreads()
        self._setup_properties()

    # -- base scores -------------------------------------------------------------------------------

    def _affinities(self) -> FloatArray:
        if self._affinity is None:
            table = self.ctx.table
            affs = self.spec.affinities
            weights = [a.Weight if a.Weight is not None else 50 for a in affs]
            escapes = any(target_escapes_class(a.LTarget) or target_escapes_class(a.RTarget) for a in affs)
            by_class: dict[int, float] = {}
            out = np.zeros(len(table), np.float64)
            for slot, node in enumerate(table.nodes):
                if node is None:
                    continue
                code = int(table.class_code[slot])
                if escapes or code not in by_class:
                    matches = []
                    for a in affs:
                        left, lf = resolve_target(a.LTarget, node)
                        right, rf = resolve_target(a.RTarget, node)
                        matches.append(check_constraint(a.Operand or "=", left, right, lf, rf))
                    score = affinity_score(matches, weights)
                    if escapes:
                        out[slot] = score
                        continue
                    by_class[code] = score
                out[slot] = by_class[code]
            self._affinity = out
        return self._affinity

    def base_scores(self, slots: IntArray, options: SelectOptions) -> tuple[FloatArray, FloatArray]:
        """(sum of applicable scores, number of applicable scores) per slot."""
        ctx, spec = self.ctx, self.spec
        t = ctx.table
        total = fit_scores(ctx.cpu_used[slots] + spec.cpu, ctx.mem_used[slots] + spec.memory_mb,
                           t.cpu_total[slots], t.mem_total[slots], self.spread_algorithm)
        count = np.ones(len(slots), np.float64)
        collisions = self.collisions[slots]
        if collisions.any():
            total = total + anti_affinity(collisions, spec.count)
            count = count + (collisions > 0)
        if options.penalty_nodes:
            penalty_slots = [t.slot_of[n] for n in options.penalty_nodes if n in t.slot_of]
            penalized = np.isin(slots, penalty_slots)
            total = total - penalized
            count = count + penalized
        if spec.affinities:
            total = total + self._affinities()[slots]
            count = count + 1.0
        return total, count

    def components(self, slots: IntArray, finals: FloatArray) -> list[dict[str, float]]:
        """The per-scorer values of the chosen nodes, for ``ScoreMetaData`` (Nomad's names)."""
        ctx, spec = self.ctx, self.spec
        t = ctx.table
        binpack = fit_scores(ctx.cpu_used[slots] + spec.cpu, ctx.mem_used[slots] + spec.memory_mb,
                             t.cpu_total[slots], t.mem_total[slots], self.spread_algorithm).tolist()
        collisions = self.collisions[slots]
        anti = anti_affinity(collisions, spec.count).tolist() if collisions.any() else [0.0] * len(slots)
        affinity = self._affinities()[slots].tolist() if spec.affinities else [0.0] * len(slots)
        # Placements that scored alike share one (never mutated) dict: on nodes of one shape a
        # group's thousand placements take a few hundred distinct scores, and the dicts were a
        # fifth of an allocation's memory.
        shared = self._score_dicts
        out: list[dict[str, float]] = []
        for key in zip(binpack, anti, affinity, finals.tolist(), strict=True):
            scores = shared.get(key)
            if scores is None:
                b, a, f, n = key
                scores = shared[key] = {"binpack": b, "job-anti-affinity": a, "node-reschedule-penalty": 0.0,
                                        "node-affinity": f, "normalized-score": n}
            out.append(scores)
        return out

    # -- distinct hosts --------------------------------------------------------------------------

    def distinct_hosts_ok(self, seq: IntArray) -> BoolArray:
        """Nodes that hold no allocation of this group (or, job-level, of this job)."""
        if self.spec.distinct_hosts_job:
            total = np.zeros(len(self.ctx.table), np.int64)
            for tg in self.job.TaskGroups or ():
                total = total + self.ctx.group_counts(self.job, tg.Name or "")
            ok: BoolArray = total[seq] == 0
            return ok
        free: BoolArray = self.collisions[seq] == 0
        return free

    # -- spread and distinct_property --------------------------------------------------------------

    def _setup_spreads(self) -> None:
        spreads = self.spec.spreads
        if not spreads:
            return
        weight_sum = float(sum((s.Weight if s.Weight is not None else 50) for s in spreads)) or 1.0
        for s in spreads:
            targets = {t.Value: t.Percent for t in s.SpreadTarget or ()}
            codes = _ValueCodes(self.ctx, s.Attribute, set(targets))
            desired: dict[int, float] = {}
            total = 0.0
            for value, percent in targets.items():
                desired[codes.code(value)] = percent / 100.0 * self.spec.count
                total += desired[codes.code(value)]
            if 0 < total < self.spec.count:
                desired[codes.code(IMPLICIT_TARGET)] = self.spec.count - total
            weight = (s.Weight if s.Weight is not None else 50) / weight_sum
            self._spreads.append((codes, desired, weight))

    def _setup_properties(self) -> None:
        for c, job_level in self.spec.distinct_property:
            allowed = int(c.RTarget) if c.RTarget.strip().isdigit() else 1
            codes = _ValueCodes(self.ctx, c.LTarget, set())
            self._properties.append((codes, allowed, job_level, c.LTarget))

    def _used_slots(self, job_level: bool) -> list[int]:
        """Slots of this job's (or group's) live allocations, the plan's stops and placements applied."""
        ctx = self.ctx
        slot_of = ctx.table.slot_of
        out: list[int] = []
        for alloc in ctx.state.allocs_by_job(self.job.Namespace or "", self.job.ID or ""):
            if (job_level or alloc.TaskGroup == self.spec.name) and alloc_uses_resources(alloc) \
                    and not ctx.is_stopped(alloc.ID):
                slot = slot_of.get(alloc.NodeID)
                if slot is not None:
                    out.append(slot)
        for allocs in ctx.plan.NodeAllocation.values():
            for alloc in allocs:
                if alloc.JobID == self.job.ID and (job_level or alloc.TaskGroup == self.spec.name) \
                        and ctx.state.alloc_by_id(alloc.ID) is None:
                    slot = slot_of.get(alloc.NodeID)
                    if slot is not None:
                        out.append(slot)
        return out

    def refresh(self) -> None:
        """Re-reads the value counts from state and plan (call at the start of a ``select``)."""
        if self._spreads:
            used = self._used_slots(job_level=False)
            self._spread_counts = [codes.counts(used) for codes, _, _ in self._spreads]
        if self._properties:
            self._property_counts = [codes.counts(self._used_slots(job_level)) for codes, _, job_level, _
                                     in self._properties]

    def note_placement(self, slot: int) -> None:
        for (codes, _, _), counts in zip(self._spreads, self._spread_counts, strict=True):
            c = int(codes.codes[slot])
            if c >= 0:
                counts[c] += 1
        for (codes, _, _, _), counts in zip(self._properties, self._property_counts, strict=True):
            c = int(codes.codes[slot])
            if c >= 0:
                counts[c] += 1

    def dynamic(self, slots: IntArray, base: FloatArray, count: FloatArray) -> tuple[BoolArray, FloatArray]:
        """(allowed by distinct_property, final score) per slot."""
        ok = np.ones(len(slots), np.bool_)
        for (codes, allowed, _, _), counts in zip(self._properties, self._property_counts, strict=True):
            c = codes.codes[slots]
            ok &= (c >= 0) & (counts[np.maximum(c, 0)] < allowed)
        if not self._spreads:
            return ok, base / count
        spread = np.zeros(len(slots), np.float64)
        for (codes, desired, weight), counts in zip(self._spreads, self._spread_counts, strict=True):
            c = codes.codes[slots]
            spread += self._spread_boost(c, counts, desired, weight)
        applies = spread != 0.0
        return ok, (base + spread) / (count + applies)

    def _spread_boost(self, c: IntArray, counts: IntArray, desired: dict[int, float], weight: float) -> FloatArray:
        safe = np.maximum(c, 0)
        used = counts[safe] + 1.0
        if not desired:
            return np.where(c >= 0, self._even_boost(safe, counts), -1.0)
        want = np.full(len(counts), np.nan)
        for code, value in desired.items():
            want[code] = value
        w = want[safe]
        with np.errstate(divide="ignore", invalid="ignore"):
            boost = (w - used) / w * weight
        finite = np.isfinite(boost)
        if finite.any():
            self._lowest_boost = min(self._lowest_boost, float(boost[finite].min()))
        out = np.where(np.isnan(w), -1.0, np.where(w == 0, self._lowest_boost, boost))
        return np.where(c >= 0, out, -1.0)

    @staticmethod
    def _even_boost(codes: IntArray, counts: IntArray) -> FloatArray:
        """Nomad's evenSpreadScoreBoost: favour the values with the fewest allocations."""
        positive = counts[counts > 0]
        if len(positive) == 0:
            return np.zeros(len(codes))
        low, high = float(positive.min()), float(positive.max())
        current = counts[codes].astype(np.float64)
        delta = (low - current) / low
        at_min = np.where(low == high, -1.0, (high - low) / low)
        return np.where(current != low, delta, at_min)

    def property_reason(self, slot: int) -> str | None:
        """Why ``slot`` fails a distinct_property constraint (Nomad's wording), None if it does not."""
        for (codes, allowed, _, attribute), counts in zip(self._properties, self._property_counts, strict=True):
            c = int(codes.codes[slot])
            if c < 0:
                return f'missing property "{attribute}"'
            if counts[c] >= allowed:
                return f"distinct_property: {attribute}={codes.values[c]} used by {int(counts[c])} allocs"
        return None
