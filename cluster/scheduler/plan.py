"""A plan (what one evaluation wants changed) and its result (what the plan applier committed).

As in Nomad, a plan is keyed by node: ``NodeAllocation`` holds new and in-place-updated
allocations per node, ``NodeUpdate`` the stops, ``NodePreemptions`` the evictions. Stops and
evictions travel as small diffs (``AllocStopDiff``, ``AllocPreemptDiff``); the applier looks the
allocations up in its own, newer snapshot. Placed allocations carry no ``Job``: the plan's job is
attached when the result is applied.
"""

from __future__ import annotations

import msgspec

from cluster.state.requests import AllocPreemptDiff, AllocStopDiff, DeploymentStatusUpdate
from cluster.structs.alloc import Allocation
from cluster.structs.deployment import Deployment
from cluster.structs.job import Job

__all__ = ["DesiredUpdates", "Plan", "PlanResult"]


class DesiredUpdates(msgspec.Struct, kw_only=True, gc=False):
    """Per task group counts of what the reconciler decided (``nomad job plan`` prints them)."""

    Ignore: int = 0
    Place: int = 0
    Migrate: int = 0
    Stop: int = 0
    InPlaceUpdate: int = 0
    DestructiveUpdate: int = 0
    Canary: int = 0
    Preemptions: int = 0
    RescheduleNow: int = 0
    RescheduleLater: int = 0


class Plan(msgspec.Struct, kw_only=True):
    EvalID: str
    Priority: int = 50
    AllAtOnce: bool = False
    Job: Job | None = None
    NodeUpdate: dict[str, list[AllocStopDiff]] = msgspec.field(default_factory=dict)
    NodeAllocation: dict[str, list[Allocation]] = msgspec.field(default_factory=dict)
    NodePreemptions: dict[str, list[AllocPreemptDiff]] = msgspec.field(default_factory=dict)
    Deployment: Deployment | None = None
    DeploymentUpdates: list[DeploymentStatusUpdate] = msgspec.field(default_factory=list)
    DesiredTGUpdates: dict[str, DesiredUpdates] | None = None  # annotations, when asked for
    SnapshotIndex: int = 0

    # -- building ------------------------------------------------------------------------------

    def append_alloc(self, alloc: Allocation) -> None:
        node_allocs = self.NodeAllocation.get(alloc.NodeID)
        if node_allocs is None:
            self.NodeAllocation[alloc.NodeID] = [alloc]
        else:
            node_allocs.append(alloc)

    def append_stopped(self, alloc: Allocation, description: str, client_status: str = "",
                       followup_eval_id: str = "") -> None:
        diff = AllocStopDiff(ID=alloc.ID, DesiredDescription=description, ClientStatus=client_status,
                             FollowupEvalID=followup_eval_id)
        self.NodeUpdate.setdefault(alloc.NodeID, []).append(diff)

    def pop_stopped(self, alloc: Allocation) -> None:
        """Takes back the last stop of ``alloc`` (its replacement could not be placed)."""
        stops = self.NodeUpdate.get(alloc.NodeID, [])
        if stops and stops[-1].ID == alloc.ID:
            stops.pop()
            if not stops:
                del self.NodeUpdate[alloc.NodeID]

    def append_preempted(self, alloc: Allocation, preempted_by: str) -> None:
        self.NodePreemptions.setdefault(alloc.NodeID, []).append(
            AllocPreemptDiff(ID=alloc.ID, PreemptedByAllocation=preempted_by))

    # -- reading -------------------------------------------------------------------------------

    def is_noop(self) -> bool:
        return (not self.NodeUpdate and not self.NodeAllocation and self.Deployment is None
                and not self.DeploymentUpdates)

    def placements(self) -> int:
        return sum(len(v) for v in self.NodeAllocation.values())


class PlanResult(msgspec.Struct, kw_only=True):
    """What was committed. ``RefreshIndex`` is set when part of the plan was refused: the
    scheduler must re-read a state at least that new before trying again."""

    NodeUpdate: dict[str, list[AllocStopDiff]] = msgspec.field(default_factory=dict)
    NodeAllocation: dict[str, list[Allocation]] = msgspec.field(default_factory=dict)
    NodePreemptions: dict[str, list[AllocPreemptDiff]] = msgspec.field(default_factory=dict)
    Deployment: Deployment | None = None
    DeploymentUpdates: list[DeploymentStatusUpdate] = msgspec.field(default_factory=list)
    RejectedNodes: list[str] = msgspec.field(default_factory=list)
    RefreshIndex: int = 0
    AllocIndex: int = 0

    def full_commit(self, plan: Plan) -> tuple[bool, int, int]:
        """(everything committed, placements asked, placements committed)."""
        expected = plan.placements()
        actual = sum(len(v) for v in self.NodeAllocation.values())
        return expected == actual, expected, actual

    def is_noop(self) -> bool:
        return not self.NodeUpdate and not self.NodeAllocation and self.Deployment is None \
            and not self.DeploymentUpdates
