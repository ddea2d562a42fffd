"""The reconciler of the service and batch schedulers: from the job as written and the
allocations that exist, what to place, stop, update in place or destructively, migrate, and how
the deployment moves (Nomad's ``AllocReconciler``).

Per task group: allocations of a removed group, or beyond the count, stop (the highest indexes
first); allocations on lost nodes stop as lost and are replaced; allocations marked to migrate
(by a drain) are stopped and placed elsewhere; failed ones are rescheduled now or get a delayed
follow-up evaluation; changed job versions update in place when only what an allocation can
take in place changed, else destructively, and then at most ``max_parallel`` at a time behind a
deployment, after ``canary`` canaries have been placed and promoted. A group with a disconnect
window (``disconnect { lost_after }`` or ``max_client_disconnect``) keeps the allocations of a
disconnected client as ``unknown`` and replaces them meanwhile; when the window runs out they are
lost, and when the client comes back first the original stays and its replacement stops.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import msgspec

from cluster.deployments.descriptions import DeploymentDescription
from cluster.scheduler.allocs import (
    alloc_index,
    disconnect_window_ns,
    is_canary,
    is_healthy,
    is_unhealthy,
    lookup_group,
    replaces_when_disconnected,
)
from cluster.scheduler.plan import DesiredUpdates
from cluster.scheduler.reconcile_sets import (
    AllocNameIndex,
    AllocSet,
    DelayedReschedule,
    by_reschedulable,
    by_tainted,
    difference,
    name_order,
    non_terminal,
    old_terminal,
    server_live_or_batch,
    union,
)
from cluster.state.requests import DeploymentStatusUpdate
from cluster.state.snapshot import ACTIVE_DEPLOYMENT_STATUSES
from cluster.structs.alloc import Allocation, AllocState
from cluster.structs.constants import AllocClientStatus, DeploymentStatus, EvalStatus, EvalTrigger
from cluster.structs.deployment import Deployment, DeploymentState
from cluster.structs.evaluation import Evaluation
from cluster.structs.group import TaskGroup, UpdateStrategy
from cluster.structs.job import Job
from cluster.structs.node import Node

__all__ = ["AllocReconciler", "PlaceResult", "ReconcileResults", "StopReason", "StopResult"]

BATCHED_FAILED_ALLOC_WINDOW_NS = 5_000_000_000


class StopReason:
    NOT_NEEDED = "alloc not needed due to job update"
    MIGRATING = "alloc is being migrated"
    UPDATING = "alloc is being updated due to job update"
    LOST = "alloc is lost since its node is down"
    RESCHEDULED = "alloc was rescheduled because it failed"
    IN_PLACE = "alloc updating in-place"
    NODE_TAINTED = "alloc not needed as node is tainted"
    RECONNECTED = "alloc not needed due to disconnected client reconnect"


UNKNOWN_DESCRIPTION = "alloc is unknown since its node is disconnected"


RESCHEDULING_FOLLOWUP = "created for delayed rescheduling"
DISCONNECT_FOLLOWUP = "created for delayed disconnect timeout"

# (ignore, destructive, updated allocation): the scheduler's answer for one existing allocation.
UpdateFn = Callable[[Allocation, Job, TaskGroup], tuple[bool, bool, Allocation | None]]


@dataclass(slots=True)
class PlaceResult:
    name: str
    group: TaskGroup
    canary: bool = False
    previous: Allocation | None = None
    reschedule: bool = False
    lost: bool = False
    downgrade_non_canary: bool = False
    min_job_version: int = 0
    stop_previous: str = ""  # destructive update: stop ``previous`` with this description


@dataclass(slots=True)
class StopResult:
    alloc: Allocation
    description: str
    client_status: str = ""
    followup_eval_id: str = ""


@dataclass
class ReconcileResults:
    deployment: Deployment | None = None
    deployment_updates: list[DeploymentStatusUpdate] = field(default_factory=list)
    place: list[PlaceResult] = field(default_factory=list)
    destructive: list[PlaceResult] = field(default_factory=list)
    inplace: list[Allocation] = field(default_factory=list)
    stop: list[StopResult] = field(default_factory=list)
    attribute_updates: dict[str, Allocation] = field(default_factory=dict)
    desired: dict[str, DesiredUpdates] = field(default_factory=dict)
    followup_evals: list[Evaluation] = field(default_factory=list)
    name_indexes: dict[str, AllocNameIndex] = field(default_factory=dict)


def update_empty(u: UpdateStrategy | None) -> bool:
    """Nomad's ``UpdateStrategy.IsEmpty``: no rolling updates (no block, or max_parallel 0)."""
    return u is None or not u.MaxParallel


def _active(d: Deployment | None) -> bool:
    return d is not None and d.Status in ACTIVE_DEPLOYMENT_STATUSES


def _requires_promotion(d: Deployment) -> bool:
    return any(s.DesiredCanaries > 0 and not s.Promoted for s in (d.TaskGroups or {}).values())


def _auto_promotes(d: Deployment) -> bool:
    groups = [s for s in (d.TaskGroups or {}).values() if s.DesiredCanaries > 0]
    return bool(groups) and all(s.AutoPromote for s in groups)


def _ns_to_time(ns: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1000)


def _stops(allocs: AllocSet, description: str, client_status: str = "") -> list[StopResult]:
    return [StopResult(a, description, client_status) for a in allocs.values()]


class AllocReconciler:
    def __init__(self, *, job: Job | None, job_id: str, batch: bool, deployment: Deployment | None,
                 existing: list[Allocation], tainted: dict[str, Node | None], eval_id: str, eval_priority: int,
                 now_ns: int, update_fn: UpdateFn, new_id: Callable[[], str]) -> None:
        self.job = job
        self.job_id = job_id
        self.batch = batch
        # A private copy: the reconciler fills in group states, the snapshot's must not change.
        self.deployment = msgspec.structs.replace(deployment, TaskGroups={
            k: msgspec.structs.replace(v) for k, v in (deployment.TaskGroups or {}).items()}) if deployment else None
        self.old_deployment: Deployment | None = None
        self.existing = existing
        self.tainted = tainted
        self.eval_id = eval_id
        self.eval_priority = eval_priority
        self.now_ns = now_ns
        self.update_fn = update_fn
        self.new_id = new_id
        self.paused = False
        self.failed = False

    # -- the whole job -----------------------------------------------------------------------------

    def compute(self) -> ReconcileResults:
        result = ReconcileResults()
        matrix: dict[str, AllocSet] = {}
        for alloc in self.existing:
            matrix.setdefault(alloc.TaskGroup, {})[alloc.ID] = alloc
        for tg in (self.job.TaskGroups if self.job is not None else None) or ():
            matrix.setdefault(tg.Name or "", {})
        self._cancel_unneeded_deployments(result)
        if self.job is None or self.job.Stop:
            for group, allocs in matrix.items():
                live = non_terminal(allocs)
                result.desired[group] = DesiredUpdates(Stop=len(live))
                result.stop.extend(self._stop_all(live))
            return result
        if self.deployment is not None:
            self.paused = self.deployment.Status in (DeploymentStatus.PAUSED, DeploymentStatus.PENDING, "initializing")
            self.failed = self.deployment.Status == DeploymentStatus.FAILED
        complete = True
        for group, allocs in matrix.items():
            complete = self._compute_group(group, allocs, result) and complete
        self._deployment_status(result, complete)
        return result

    def _stop_all(self, allocs: AllocSet) -> list[StopResult]:
        tainted = by_tainted(allocs, self.tainted)
        return [*_stops(tainted.untainted, StopReason.NOT_NEEDED), *_stops(tainted.migrate, StopReason.NOT_NEEDED),
                *_stops(tainted.lost, StopReason.LOST, AllocClientStatus.LOST)]

    def _cancel_unneeded_deployments(self, result: ReconcileResults) -> None:
        d, job = self.deployment, self.job
        if job is None or job.Stop:
            if _active(d):
                assert d is not None
                result.deployment_updates.append(DeploymentStatusUpdate(
                    DeploymentID=d.ID, Status=DeploymentStatus.CANCELLED,
                    StatusDescription=DeploymentDescription.STOPPED_JOB))
            self.old_deployment, self.deployment = d, None
            return
        if d is None:
            return
        if d.JobCreateIndex != job.CreateIndex or d.JobVersion != job.Version:
            if _active(d):
                result.deployment_updates.append(DeploymentStatusUpdate(
                    DeploymentID=d.ID, Status=DeploymentStatus.CANCELLED,
                    StatusDescription=DeploymentDescription.NEWER_JOB))
            self.old_deployment, self.deployment = d, None
        elif d.Status == DeploymentStatus.SUCCESSFUL:
            self.old_deployment, self.deployment = d, None

    def _deployment_status(self, result: ReconcileResults, complete: bool) -> None:
        d = self.deployment
        if d is not None and complete and d.Status != DeploymentStatus.SUCCESSFUL and result.deployment is None:
            result.deployment_updates.append(DeploymentStatusUpdate(
                DeploymentID=d.ID, Status=DeploymentStatus.SUCCESSFUL,
                StatusDescription=DeploymentDescription.SUCCESSFUL))
        created = result.deployment
        if created is not None and _requires_promotion(created):
            created.StatusDescription = (DeploymentDescription.RUNNING_AUTO_PROMOTION if _auto_promotes(created)
                                         else DeploymentDescription.RUNNING_NEEDS_PROMOTION)

    # -- one task group --------------------------------------------------------------------------

    def _compute_group(self, group: str, allocs: AllocSet, result: ReconcileResults) -> bool:
        job = self.job
        assert job is not None
        desired = result.desired.setdefault(group, DesiredUpdates())
        tg = lookup_group(job, group)
        if tg is None or not tg.Count:
            live = server_live_or_batch(allocs)
            desired.Stop += len(non_terminal(live))
            result.stop.extend(self._stop_all(non_terminal(live)))
            return True
        every = server_live_or_batch(allocs)
        dstate, existing_deployment = self._deployment_state(group, tg)
        every, ignored = old_terminal(every, self.batch, job.Version or 0, job.CreateIndex or 0)
        desired.Ignore += len(ignored)
        canaries, every = self._cancel_unneeded_canaries(every, desired, result)
        tainted = by_tainted(every, self.tainted, self.now_ns)
        untainted, migrate, lost = tainted.untainted, tainted.migrate, tainted.lost
        desired.Ignore += len(tainted.ignore)
        untainted = self._reconnect(tainted.reconnecting, untainted, desired, result)
        untainted, replaced = self._disconnect(tainted.disconnecting, untainted, result)
        untainted, reschedule_now, reschedule_later = by_reschedulable(
            untainted, self.batch, self.now_ns, self.eval_id, self.deployment)
        if reschedule_later:
            evals, updates = self._reschedule_later_evals(reschedule_later)
            result.followup_evals.extend(evals)
            result.attribute_updates.update(updates)
            desired.RescheduleLater += len(reschedule_later)
        name_index = AllocNameIndex(self.job_id, group, tg.Count,
                                    union(untainted, migrate, reschedule_now, lost, replaced))
        result.name_indexes[group] = name_index
        canarying = dstate.DesiredCanaries != 0 and not dstate.Promoted
        stop = self._compute_stop(tg, name_index, untainted, migrate, lost, canaries, canarying, result)
        desired.Stop += len(stop)
        untainted = difference(untainted, stop)

        ignore_updates, inplace, destructive = self._compute_updates(tg, untainted, result)
        desired.Ignore += len(ignore_updates)
        desired.InPlaceUpdate += len(inplace)
        if not existing_deployment:
            dstate.DesiredTotal += len(destructive) + len(inplace)
        if canarying:
            untainted = difference(untainted, canaries)
        needs_canaries = (tg.Update is not None and bool(destructive) and len(canaries) < (tg.Update.Canary or 0)
                          and not dstate.Promoted)
        if needs_canaries:
            result.place.extend(self._canaries(tg, dstate, destructive, canaries, desired, name_index))
        canarying = dstate.DesiredCanaries != 0 and not dstate.Promoted
        under = self._under_provisioned_by(tg, untainted, destructive, migrate, canarying)

        lost_or_away = union(lost, replaced)  # both get replacements; only the lost stop
        place = self._placements(tg, name_index, untainted, migrate, reschedule_now, lost_or_away, canarying)
        if not existing_deployment:
            dstate.DesiredTotal += len(place)
        ready = not self.paused and not self.failed and not canarying
        under = self._place(ready, desired, place, reschedule_now, lost_or_away, under, result)
        if ready:
            result.destructive.extend(self._destructive(destructive, under, desired, tg))
        else:
            desired.Ignore += len(destructive)
        self._migrations(desired, migrate, tg, canarying, result)
        created = self._create_deployment(tg, existing_deployment, dstate, every, destructive, len(inplace))
        if created is not None:
            result.deployment = created
        group_places = [p for p in result.place if p.group.Name == group]
        if len(group_places) > tg.Count:
            keep = {id(p) for p in group_places[: tg.Count]}
            result.place = [p for p in result.place if p.group.Name != group or id(p) in keep]
            desired.Place = tg.Count
        return self._group_complete(group, destructive, inplace, migrate, reschedule_now, group_places,
                                    reschedule_later, needs_canaries)

    def _deployment_state(self, group: str, tg: TaskGroup) -> tuple[DeploymentState, bool]:
        if self.deployment is not None and group in (self.deployment.TaskGroups or {}):
            return self.deployment.TaskGroups[group], True  # type: ignore[index]
        state = DeploymentState()
        if not update_empty(tg.Update):
            assert tg.Update is not None
            state.AutoRevert = bool(tg.Update.AutoRevert)
            state.AutoPromote = bool(tg.Update.AutoPromote)
            state.ProgressDeadline = tg.Update.ProgressDeadline or 0
        return state, False

    def _cancel_unneeded_canaries(self, every: AllocSet, desired: DesiredUpdates,
                                  result: ReconcileResults) -> tuple[AllocSet, AllocSet]:
        """Stops canaries of an older or failed deployment; returns (current canaries, the rest)."""
        stop_ids: list[str] = []
        if self.old_deployment is not None:
            for state in (self.old_deployment.TaskGroups or {}).values():
                if not state.Promoted:
                    stop_ids.extend(state.PlacedCanaries or [])
        d = self.deployment
        if d is not None and d.Status == DeploymentStatus.FAILED:
            for state in (d.TaskGroups or {}).values():
                if not state.Promoted:
                    stop_ids.extend(state.PlacedCanaries or [])
        stopping = {i: every[i] for i in stop_ids if i in every}
        result.stop.extend(_stops(stopping, StopReason.NOT_NEEDED))
        desired.Stop += len(stopping)
        every = difference(every, stopping)
        canaries: AllocSet = {}
        if d is not None:
            ids = [i for state in (d.TaskGroups or {}).values() for i in state.PlacedCanaries or []]
            placed = {i: every[i] for i in ids if i in every}
            tainted = by_tainted(placed, self.tainted)
            result.stop.extend(_stops(tainted.migrate, StopReason.MIGRATING))
            result.stop.extend(_stops(tainted.lost, StopReason.LOST, AllocClientStatus.LOST))
            canaries = tainted.untainted
            every = difference(every, tainted.migrate, tainted.lost)
        return canaries, every

    def _disconnect(self, disconnecting: AllocSet, untainted: AllocSet,
                    result: ReconcileResults) -> tuple[AllocSet, AllocSet]:
        """Marks allocations of a just-disconnected client unknown (recording when) and asks for an
        evaluation at the end of their window, which finds them lost if the client is still away.
        Returns (untainted, allocations to replace meanwhile): those whose group replaces
        (``disconnect { replace }``); the others keep holding their place."""
        if not disconnecting:
            return untainted, {}
        job = self.job
        assert job is not None
        now = _ns_to_time(self.now_ns)
        followups: dict[int, Evaluation] = {}
        untainted = dict(untainted)
        replaced: AllocSet = {}
        for alloc in name_order(disconnecting):
            window = disconnect_window_ns(alloc)
            assert window is not None
            at_ns = self.now_ns + window
            ev = followups.get(at_ns)
            if ev is None:
                ev = followups[at_ns] = Evaluation(
                    ID=self.new_id(), Namespace=job.Namespace or "", Priority=self.eval_priority,
                    Type=job.Type or "", TriggeredBy=EvalTrigger.MAX_DISCONNECT_TIMEOUT, JobID=job.ID or "",
                    JobModifyIndex=job.ModifyIndex or 0, Status=EvalStatus.PENDING,
                    StatusDescription=DISCONNECT_FOLLOWUP, WaitUntil=_ns_to_time(at_ns))
            states = [*(alloc.AllocStates or ()), AllocState(Field="ClientStatus", Value=AllocClientStatus.UNKNOWN,
                                                             Time=now)]
            unknown = msgspec.structs.replace(alloc, ClientStatus=AllocClientStatus.UNKNOWN,
                                              ClientDescription=UNKNOWN_DESCRIPTION, AllocStates=states,
                                              FollowupEvalID=ev.ID)
            result.attribute_updates[alloc.ID] = unknown
            if replaces_when_disconnected(alloc):
                replaced[alloc.ID] = alloc
            else:
                untainted[alloc.ID] = alloc
        result.followup_evals.extend(followups.values())
        return untainted, replaced

    def _reconnect(self, reconnecting: AllocSet, untainted: AllocSet, desired: DesiredUpdates,
                   result: ReconcileResults) -> AllocSet:
        """Allocations whose client came back (Nomad's ``keep_original``): once the client has
        reported one as running, it stays and its replacements stop; one that failed or finished
        meanwhile keeps its replacement. Either way the reconnection is recorded. Returns the
        untainted allocations."""
        if not reconnecting:
            return untainted
        now = _ns_to_time(self.now_ns)
        untainted = dict(untainted)
        for alloc in name_order(reconnecting):
            if alloc.ClientStatus == AllocClientStatus.UNKNOWN:
                desired.Ignore += 1  # the client is back but has not reported this allocation yet
                continue
            states = [*(alloc.AllocStates or ()), AllocState(Field="ClientStatus", Value=alloc.ClientStatus,
                                                             Time=now)]
            result.attribute_updates[alloc.ID] = msgspec.structs.replace(alloc, AllocStates=states)
            if alloc.ClientStatus in (AllocClientStatus.RUNNING, AllocClientStatus.PENDING):
                replacements = {i: a for i, a in untainted.items() if a.Name == alloc.Name and i != alloc.ID}
                result.stop.extend(_stops(replacements, StopReason.RECONNECTED))
                desired.Stop += len(replacements)
                for alloc_id in replacements:
                    del untainted[alloc_id]
            untainted[alloc.ID] = alloc
        return untainted

    def _reschedule_later_evals(self, later: list[DelayedReschedule]) -> tuple[list[Evaluation], dict[str, Allocation]]:
        """Follow-up evaluations that wake at the reschedule time, batching failures within 5 s."""
        job = self.job
        assert job is not None
        evals: list[Evaluation] = []
        updates: dict[str, Allocation] = {}
        batch_start = -1
        current: Evaluation | None = None
        for item in sorted(later, key=lambda d: d.at_ns):
            if current is None or item.at_ns - batch_start >= BATCHED_FAILED_ALLOC_WINDOW_NS:
                batch_start = item.at_ns
                current = Evaluation(
                    ID=self.new_id(), Namespace=job.Namespace or "", Priority=self.eval_priority, Type=job.Type or "",
                    TriggeredBy=EvalTrigger.RETRY_FAILED_ALLOC, JobID=job.ID or "",
                    JobModifyIndex=job.ModifyIndex or 0, Status=EvalStatus.PENDING,
                    StatusDescription=RESCHEDULING_FOLLOWUP, WaitUntil=_ns_to_time(item.at_ns))
                evals.append(current)
            updates[item.alloc.ID] = msgspec.structs.replace(item.alloc, FollowupEvalID=current.ID)
        return evals, updates

    def _compute_stop(self, tg: TaskGroup, names: AllocNameIndex, untainted: AllocSet, migrate: AllocSet,
                      lost: AllocSet, canaries: AllocSet, canarying: bool, result: ReconcileResults) -> AllocSet:
        stop: AllocSet = dict(lost)
        result.stop.extend(_stops(lost, StopReason.LOST, AllocClientStatus.LOST))
        if canarying:
            untainted = difference(untainted, canaries)
        remove = len(untainted) + len(migrate) - (tg.Count or 0)
        if remove <= 0:
            return stop
        untainted = non_terminal(untainted)

        def take(alloc: Allocation) -> bool:
            nonlocal remove
            stop[alloc.ID] = alloc
            result.stop.append(StopResult(alloc, StopReason.NOT_NEEDED))
            untainted.pop(alloc.ID, None)
            remove -= 1
            return remove == 0

        if not canarying and canaries:
            canary_names = {a.Name for a in canaries.values()}
            for alloc in list(difference(untainted, canaries).values()):
                if alloc.Name in canary_names and take(alloc):
                    return stop
        if migrate:
            migrating = AllocNameIndex(self.job_id, tg.Name or "", tg.Count or 0, migrate)
            doomed = migrating.highest(remove)
            for alloc in list(migrate.values()):
                if alloc.Name in doomed:
                    del migrate[alloc.ID]
                    names.unset(alloc_index(alloc))
                    if take(alloc):
                        return stop
        doomed = names.highest(remove)
        for alloc in sorted(untainted.values(), key=alloc_index, reverse=True):
            if alloc.Name in doomed and take(alloc):
                return stop
        for alloc in sorted(untainted.values(), key=alloc_index, reverse=True):
            if take(alloc):
                return stop
        return stop

    def _compute_updates(self, tg: TaskGroup, untainted: AllocSet,
                         result: ReconcileResults) -> tuple[AllocSet, AllocSet, AllocSet]:
        job = self.job
        assert job is not None
        ignore: AllocSet = {}
        inplace: AllocSet = {}
        destructive: AllocSet = {}
        for alloc in name_order(untainted):
            skip, destroy, updated = self.update_fn(alloc, job, tg)
            if skip:
                ignore[alloc.ID] = alloc
            elif destroy:
                destructive[alloc.ID] = alloc
            else:
                assert updated is not None
                inplace[alloc.ID] = alloc
                result.inplace.append(updated)
        return ignore, inplace, destructive

    def _canaries(self, tg: TaskGroup, dstate: DeploymentState, destructive: AllocSet, canaries: AllocSet,
                  desired: DesiredUpdates, names: AllocNameIndex) -> list[PlaceResult]:
        assert tg.Update is not None
        dstate.DesiredCanaries = tg.Update.Canary or 0
        if self.paused or self.failed:
            return []
        wanted = (tg.Update.Canary or 0) - len(canaries)
        desired.Canary += wanted
        return [PlaceResult(name=n, group=tg, canary=True) for n in names.next_canaries(wanted, canaries, destructive)]

    def _under_provisioned_by(self, tg: TaskGroup, untainted: AllocSet, destructive: AllocSet, migrate: AllocSet,
                              canarying: bool) -> int:
        """How many more allocations the rolling update may replace now (max_parallel minus those
        of this deployment not yet healthy; zero once one is unhealthy)."""
        if update_empty(tg.Update) or not (destructive or migrate):
            return tg.Count or 0
        assert tg.Update is not None
        if self.deployment is None:
            return tg.Update.MaxParallel or 0
        if self.paused or self.failed or canarying:
            return 0
        under = tg.Update.MaxParallel or 0
        for alloc in untainted.values():
            if alloc.DeploymentID != self.deployment.ID:
                continue
            if is_unhealthy(alloc):
                return 0
            if not is_healthy(alloc):
                under -= 1
        return max(under, 0)

    def _placements(self, tg: TaskGroup, names: AllocNameIndex, untainted: AllocSet, migrate: AllocSet,
                    reschedule: AllocSet, lost: AllocSet, canarying: bool) -> list[PlaceResult]:
        place = [PlaceResult(name=a.Name, group=tg, previous=a, reschedule=True, canary=is_canary(a),
                             downgrade_non_canary=canarying and not is_canary(a),
                             min_job_version=(a.Job.Version or 0) if a.Job else 0)
                 for a in name_order(reschedule)]
        existing = len(untainted) + len(migrate) + len(reschedule)
        for alloc in name_order(lost):
            if existing >= (tg.Count or 0):
                break
            existing += 1
            place.append(PlaceResult(name=alloc.Name, group=tg, previous=alloc, lost=True, canary=is_canary(alloc),
                                     downgrade_non_canary=canarying and not is_canary(alloc),
                                     min_job_version=(alloc.Job.Version or 0) if alloc.Job else 0))
        if existing < (tg.Count or 0):
            place.extend([PlaceResult(name=name, group=tg, downgrade_non_canary=canarying)
                          for name in names.next((tg.Count or 0) - existing)])
        return place

    def _place(self, ready: bool, desired: DesiredUpdates, place: list[PlaceResult], reschedule_now: AllocSet,
               lost: AllocSet, under: int, result: ReconcileResults) -> int:
        if ready:
            desired.Place += len(place)
            result.place.extend(place)
            result.stop.extend(_stops(reschedule_now, StopReason.RESCHEDULED))
            desired.Stop += len(reschedule_now)
            return under - min(len(place), under)
        if lost:
            allowed = min(len(lost), len(place))
            desired.Place += allowed
            result.place.extend(place[:allowed])
        if not reschedule_now or not place:
            return under
        d = self.deployment
        for p in place:
            prev = p.previous
            part_of_failed = self.failed and prev is not None and d is not None and prev.DeploymentID == d.ID
            if p.reschedule and not part_of_failed and prev is not None:
                result.place.append(p)
                desired.Place += 1
                result.stop.append(StopResult(prev, StopReason.RESCHEDULED))
                desired.Stop += 1
        return under

    def _destructive(self, destructive: AllocSet, under: int, desired: DesiredUpdates,
                     tg: TaskGroup) -> list[PlaceResult]:
        n = min(len(destructive), under)
        desired.DestructiveUpdate += n
        desired.Ignore += len(destructive) - n
        return [PlaceResult(name=a.Name, group=tg, previous=a, stop_previous=StopReason.UPDATING)
                for a in name_order(destructive)[:n]]

    def _migrations(self, desired: DesiredUpdates, migrate: AllocSet, tg: TaskGroup, canarying: bool,
                    result: ReconcileResults) -> None:
        desired.Migrate += len(migrate)
        for alloc in name_order(migrate):
            result.stop.append(StopResult(alloc, StopReason.MIGRATING))
            result.place.append(PlaceResult(name=alloc.Name, group=tg, previous=alloc, canary=is_canary(alloc),
                                            downgrade_non_canary=canarying and not is_canary(alloc),
                                            min_job_version=(alloc.Job.Version or 0) if alloc.Job else 0))

    def _create_deployment(self, tg: TaskGroup, existing: bool, dstate: DeploymentState, every: AllocSet,
                           destructive: AllocSet, inplace: int) -> Deployment | None:
        job = self.job
        assert job is not None
        if existing or update_empty(tg.Update) or dstate.DesiredTotal == 0:
            return None
        updating = bool(destructive) or inplace != 0
        had_running = any(a.Job is not None and a.Job.Version == job.Version and a.Job.CreateIndex == job.CreateIndex
                          for a in every.values())
        if had_running and not updating:
            return None
        created = None
        if self.deployment is None:
            created = self.deployment = Deployment(
                ID=self.new_id(), Namespace=job.Namespace or "", JobID=job.ID or "", JobVersion=job.Version or 0,
                JobModifyIndex=job.JobModifyIndex or 0, JobSpecModifyIndex=job.JobModifyIndex or 0,
                JobCreateIndex=job.CreateIndex or 0, IsMultiregion=job.Multiregion is not None,
                Status=DeploymentStatus.RUNNING, StatusDescription=DeploymentDescription.RUNNING, TaskGroups={},
                EvalPriority=self.eval_priority, CreateTime=self.now_ns, ModifyTime=self.now_ns)
        assert self.deployment.TaskGroups is not None
        self.deployment.TaskGroups[tg.Name or ""] = dstate
        return created

    def _group_complete(self, group: str, destructive: AllocSet, inplace: AllocSet, migrate: AllocSet,
                        reschedule_now: AllocSet, place: list[PlaceResult], later: list[DelayedReschedule],
                        needs_canaries: bool) -> bool:
        busy = len(destructive) + len(inplace) + len(place) + len(migrate) + len(reschedule_now) + len(later)
        if busy or needs_canaries or self.deployment is None:
            return False
        state = (self.deployment.TaskGroups or {}).get(group)
        if state is not None:
            if state.HealthyAllocs < max(state.DesiredTotal, state.DesiredCanaries):
                return False
            if state.DesiredCanaries > 0 and not state.Promoted:
                return False
        return True
