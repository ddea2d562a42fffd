"""The RPC messages of the core server endpoints (jobs, nodes, allocations, evaluations, status).

Field names are Nomad's, so a request or answer reads like Nomad's own structs. Reads derive from
``Query``: ``AllowStale`` answers from any server, ``MinQueryIndex`` and ``MaxQueryTime`` (ns) make a
blocking query. Lists answer stubs (an object without its heavy parts), as Nomad lists them; the paged
ones take ``Filter`` (Nomad's filter language on the stubs), ``PerPage`` (0: everything) and
``NextToken`` and answer the next page's token.

The client agent, the web application and the other endpoint modules import these types from here (or
from ``agents.server.endpoints``, which re-exports them).
"""

from __future__ import annotations

import msgspec

from cluster.state.summaries import JobSummary
from cluster.state.write_allocs import AllocClientUpdate
from cluster.structs.alloc import Allocation, AllocDeploymentStatus, RescheduleTracker, TaskState
from cluster.structs.evaluation import Evaluation
from cluster.structs.job import Job, Multiregion
from cluster.structs.node import DrainMetadata, DriverInfo, Node

__all__ = [
    "AllocListRequest", "AllocListResponse", "AllocListStub", "AllocSpecificRequest", "AllocUpdateRequest",
    "EvalListRequest", "EvalListResponse", "EvalSpecificRequest", "GenericResponse", "JobAllocationsResponse",
    "JobListRequest", "JobListResponse", "JobListStub", "JobRegisterRequest", "JobRegisterResponse",
    "JobSpecificRequest", "Member", "MemberRequest", "MemberResponse", "NodeAllocsResponse", "NodeListRequest",
    "NodeListResponse", "NodeListStub", "NodeRegisterRequest", "NodeSpecificRequest", "NodeUpdateResponse",
    "NodeUpdateStatusRequest", "Query", "SingleAllocResponse", "SingleEvalResponse", "SingleJobResponse",
    "SingleNodeResponse", "StatusLeaderResponse", "StatusPeersResponse", "StatusRequest",
]


class Query(msgspec.Struct, kw_only=True):
    """What every read carries: its region, whether a follower may answer, and its blocking query."""

    Region: str = ""
    AllowStale: bool = False
    MinQueryIndex: int = 0
    MaxQueryTime: int = 0  # ns; 0: the default


class GenericResponse(msgspec.Struct, kw_only=True):
    Index: int = 0


# ---- jobs -----------------------------------------------------------------------------------------


class JobRegisterRequest(msgspec.Struct, kw_only=True):
    """``EnforceIndex`` is Nomad's check-index: the job must not exist (``JobModifyIndex`` 0) or its
    ``JobModifyIndex`` must be the one given, else the register is refused with ``Conflict``."""

    Job: Job
    EnforceIndex: bool = False
    JobModifyIndex: int = 0
    Region: str = ""


class JobRegisterResponse(msgspec.Struct, kw_only=True):
    EvalID: str = ""
    EvalCreateIndex: int = 0
    JobModifyIndex: int = 0
    Index: int = 0
    Warnings: str = ""


class JobSpecificRequest(Query, kw_only=True):
    JobID: str
    Namespace: str = "default"


class SingleJobResponse(msgspec.Struct, kw_only=True):
    Job: Job | None = None
    Index: int = 0


class JobListRequest(Query, kw_only=True):
    Namespace: str = "default"  # "*": every namespace (the web app keeps the listable ones)
    Prefix: str = ""
    Filter: str = ""
    PerPage: int = 0  # 0: everything
    NextToken: str = ""


class JobListStub(msgspec.Struct, kw_only=True):
    """A job as Nomad lists it (``/v1/jobs``)."""

    ID: str
    ParentID: str
    Name: str
    Namespace: str
    Datacenters: list[str] | None
    NodePool: str
    Multiregion: Multiregion | None
    Type: str
    Priority: int
    Periodic: bool
    ParameterizedJob: bool
    Stop: bool
    Status: str
    StatusDescription: str
    JobSummary: JobSummary | None
    CreateIndex: int
    ModifyIndex: int
    JobModifyIndex: int
    SubmitTime: int
    Meta: dict[str, str] | None


class JobListResponse(msgspec.Struct, kw_only=True):
    Jobs: list[JobListStub]
    NextToken: str = ""
    Index: int = 0


class JobAllocationsResponse(msgspec.Struct, kw_only=True):
    Allocations: list[AllocListStub]
    Index: int = 0


# ---- nodes ----------------------------------------------------------------------------------------


class NodeRegisterRequest(msgspec.Struct, kw_only=True):
    Node: Node
    Region: str = ""


class NodeUpdateStatusRequest(msgspec.Struct, kw_only=True):
    NodeID: str
    Status: str
    Region: str = ""


class NodeUpdateResponse(msgspec.Struct, kw_only=True):
    HeartbeatTTL: int = 0  # ns: heartbeat again before it runs out
    EvalIDs: list[str] = msgspec.field(default_factory=list)
    NodeModifyIndex: int = 0
    Index: int = 0
    LeaderRPCAddr: str = ""
    Servers: list[str] = msgspec.field(default_factory=list)


class NodeSpecificRequest(Query, kw_only=True):
    NodeID: str


class NodeAllocsResponse(msgspec.Struct, kw_only=True):
    Allocs: list[Allocation]
    Index: int = 0


class NodeListRequest(Query, kw_only=True):
    Prefix: str = ""
    Filter: str = ""
    PerPage: int = 0  # 0: everything
    NextToken: str = ""  # the ID of the page's first node


class NodeListStub(msgspec.Struct, kw_only=True):
    """A node without its resources and secret, as Nomad lists them."""

    Address: str
    ID: str
    Datacenter: str
    Name: str
    NodeClass: str
    NodePool: str
    Version: str
    Drain: bool
    SchedulingEligibility: str
    Status: str
    StatusDescription: str
    Drivers: dict[str, DriverInfo] | None
    LastDrain: DrainMetadata | None
    CreateIndex: int
    ModifyIndex: int


class NodeListResponse(msgspec.Struct, kw_only=True):
    Nodes: list[NodeListStub]
    NextToken: str = ""
    Index: int = 0


class SingleNodeResponse(msgspec.Struct, kw_only=True):
    Node: Node | None = None  # SecretID is blanked: a reader must not learn the node's credential
    Index: int = 0


# ---- allocations ----------------------------------------------------------------------------------


class AllocUpdateRequest(msgspec.Struct, kw_only=True):
    Alloc: list[AllocClientUpdate]
    Region: str = ""


class AllocListRequest(Query, kw_only=True):
    Namespace: str = "default"  # "*": every namespace
    Prefix: str = ""
    Filter: str = ""
    PerPage: int = 0  # 0: everything
    NextToken: str = ""  # "<CreateIndex>.<ID>" of the page's first allocation


class AllocListStub(msgspec.Struct, kw_only=True):
    """An allocation without its job and resources, as Nomad lists them."""

    ID: str
    EvalID: str
    Name: str
    Namespace: str
    NodeID: str
    NodeName: str
    JobID: str
    JobType: str
    JobVersion: int
    TaskGroup: str
    DesiredStatus: str
    DesiredDescription: str
    ClientStatus: str
    ClientDescription: str
    TaskStates: dict[str, TaskState] | None
    DeploymentStatus: AllocDeploymentStatus | None
    FollowupEvalID: str
    RescheduleTracker: RescheduleTracker | None
    PreemptedAllocations: list[str] | None
    PreemptedByAllocation: str
    CreateIndex: int
    ModifyIndex: int
    CreateTime: int
    ModifyTime: int


class AllocListResponse(msgspec.Struct, kw_only=True):
    Allocations: list[AllocListStub]
    NextToken: str = ""
    Index: int = 0


class AllocSpecificRequest(Query, kw_only=True):
    AllocID: str


class SingleAllocResponse(msgspec.Struct, kw_only=True):
    Alloc: Allocation | None = None
    Index: int = 0


# ---- evaluations ----------------------------------------------------------------------------------


class EvalSpecificRequest(Query, kw_only=True):
    EvalID: str


class SingleEvalResponse(msgspec.Struct, kw_only=True):
    Eval: Evaluation | None = None
    Index: int = 0


class EvalListRequest(Query, kw_only=True):
    """Nomad's EvalListRequest."""

    Namespace: str = "default"  # "*": every namespace
    Prefix: str = ""
    FilterJobID: str = ""
    FilterEvalStatus: str = ""
    Filter: str = ""  # a filter expression (go-bexpr, as Nomad's ?filter=)
    PerPage: int = 0  # 0: everything
    NextToken: str = ""  # "<CreateIndex>.<ID>" of the page's first evaluation


class EvalListResponse(msgspec.Struct, kw_only=True):
    Evaluations: list[Evaluation]
    NextToken: str = ""
    Index: int = 0


# ---- status and membership ------------------------------------------------------------------------


class StatusRequest(msgspec.Struct, kw_only=True):
    Region: str = ""


class StatusLeaderResponse(msgspec.Struct, kw_only=True):
    Leader: str  # the leader's RPC address, "" while there is none


class StatusPeersResponse(msgspec.Struct, kw_only=True):
    Peers: list[str]  # RPC addresses of the Raft voters


class Member(msgspec.Struct, frozen=True, kw_only=True):
    """A server as the others know it: its name (its Raft id), region and addresses."""

    Name: str
    Region: str
    RPCAddr: str
    RaftAddr: str


class MemberRequest(msgspec.Struct, kw_only=True):
    From: Member


class MemberResponse(msgspec.Struct, kw_only=True):
    Self: Member
    Known: list[Member]
