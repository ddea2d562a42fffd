"""Small change records shared by the scheduler's plans, the FSM's commands and the state writes.

Nomad sends a stopped or preempted allocation as a diff, not the whole allocation, to keep plan
results small on the wire and in the Raft log; these are those diffs.
"""

from __future__ import annotations

import msgspec

__all__ = ["AllocPreemptDiff", "AllocStopDiff", "DeploymentStatusUpdate"]


class DeploymentStatusUpdate(msgspec.Struct, kw_only=True, gc=False):
    """Move a deployment to ``Status`` with a human ``StatusDescription``. ``UpdatedAt`` (Unix ns) becomes
    the deployment's ``ModifyTime``, what garbage collection ages it by; 0 lets the command carrying the
    update supply its own time."""

    DeploymentID: str
    Status: str
    StatusDescription: str = ""
    UpdatedAt: int = 0


class AllocStopDiff(msgspec.Struct, kw_only=True, gc=False):
    """Stop allocation ``ID``. ``ClientStatus`` is set only when the servers decide it (lost)."""

    ID: str
    DesiredDescription: str = ""
    ClientStatus: str = ""
    FollowupEvalID: str = ""


class AllocPreemptDiff(msgspec.Struct, kw_only=True, gc=False):
    """Evict allocation ``ID`` to make room for ``PreemptedByAllocation``."""

    ID: str
    PreemptedByAllocation: str
