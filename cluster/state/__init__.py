"""Caravan's replicated state: tables of jobs (with versions), nodes, allocations, evaluations,
deployments, services and the scheduler configuration.

    store = StateStore()
    txn = store.write(index)               # a write transaction at one Raft index
    upsert_node(txn, node, EventType.NODE_REGISTRATION)
    events = store.commit(txn)             # Nomad-style change events, one per changed object
    snap = store.snapshot()                # O(1), immutable: schedulers read while writes go on
    snap.allocs_by_node(node.ID)
    snap.job_summary(namespace, job_id)    # allocations per task group by status (Nomad's JobSummary)
    state_to_bytes(snap) / state_from_bytes(data)   # for Raft snapshots

The write functions (``write_*`` modules) hold Nomad's rules for each kind of change; the FSM
(``cluster.fsm``) calls them for committed Raft commands.
"""

from cluster.state.codec import state_from_bytes, state_to_bytes
from cluster.state.events import Event, EventType, Topic, event_json
from cluster.state.nodetable import NodeTable, alloc_uses_resources
from cluster.state.records import PreemptionConfig, SchedulerConfiguration, ServiceRegistration
from cluster.state.requests import AllocPreemptDiff, AllocStopDiff, DeploymentStatusUpdate
from cluster.state.snapshot import StateSnapshot
from cluster.state.store import StateStore
from cluster.state.summaries import JobChildrenSummary, JobSummary, TaskGroupSummary
from cluster.state.txn import WriteTxn

__all__ = [
    "AllocPreemptDiff",
    "AllocStopDiff",
    "DeploymentStatusUpdate",
    "Event",
    "EventType",
    "JobChildrenSummary",
    "JobSummary",
    "NodeTable",
    "PreemptionConfig",
    "SchedulerConfiguration",
    "ServiceRegistration",
    "StateSnapshot",
    "StateStore",
    "TaskGroupSummary",
    "Topic",
    "WriteTxn",
    "alloc_uses_resources",
    "event_json",
    "state_from_bytes",
    "state_to_bytes",
]
