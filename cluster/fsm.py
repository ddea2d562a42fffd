"""The finite state machine behind Raft: committed commands in, state changes and events out.

A command is a msgspec struct tagged with its type (``{"Type": "JobRegister", ...}`` on the wire).
``REGISTRY`` maps each command type to a small pure apply function that makes its change through
the state store's write functions and returns its result. ``apply`` decodes one Raft entry,
applies it in one transaction at the entry's index and returns ``(result, events)``.

A command that is wrong for the current state (promoting a deployment without healthy canaries,
say) raises a typed ``CaravanError`` before anything is written: the state stays as it was (its
applied index moves on) and the error goes back to whoever proposed the command. Times come inside
commands (the leader stamps them when it proposes), so every server applies the same bytes to the
same result. ``StateMachine`` wraps all this for the Raft runtime.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar, Union

import immutables
import msgspec

from cluster.errors import CaravanError, InvalidInput
from cluster.state import (
    AllocPreemptDiff,
    AllocStopDiff,
    DeploymentStatusUpdate,
    EventType,
    SchedulerConfiguration,
    ServiceRegistration,
    StateSnapshot,
    StateStore,
    WriteTxn,
    state_from_bytes,
    state_to_bytes,
)
from cluster.state.events import EventBatch
from cluster.state.records import JobScalingEvents, ScalingEvent
from cluster.state.write_allocs import (
    AllocClientUpdate,
    update_alloc_desired_transitions,
    update_allocs_from_client,
)
from cluster.state.write_deployments import (
    delete_deployments,
    update_deployment_alloc_health,
    update_deployment_promotion,
    update_deployment_status,
)
from cluster.state.write_evals import delete_evals, upsert_evals
from cluster.state.write_jobs import add_scaling_event, set_job_stability, upsert_job
from cluster.state.write_nodes import (
    delete_node,
    update_node_drain,
    update_node_eligibility,
    update_node_status,
    upsert_node,
)
from cluster.state.write_plan import apply_plan_results
from cluster.state.write_services import (
    delete_services,
    delete_services_by_alloc,
    set_scheduler_config,
    upsert_services,
)
from cluster.structs.alloc import Allocation, DesiredTransition
from cluster.structs.base import GO_ZERO_TIME
from cluster.structs.deployment import Deployment
from cluster.structs.evaluation import Evaluation
from cluster.structs.job import Job
from cluster.structs.node import DrainStrategy, Node, NodeEvent

__all__ = [
    "REGISTRY",
    "Command",
    "StateMachine",
    "StateRestore",
    "apply",
    "apply_command",
    "decode_command",
    "encode_command",
    "restore",
    "snapshot",
]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Command(msgspec.Struct, tag_field="Type", tag=True, kw_only=True):
    """Base of every FSM command; the class name is the ``Type`` tag."""


# -- jobs ------------------------------------------------------------------------------------------


class JobRegister(Command):
    Job: Job
    Eval: Evaluation | None = None
    SubmitTime: int = 0  # Unix ns


class JobDeregister(Command):
    Namespace: str
    JobID: str
    Purge: bool = False
    Eval: Evaluation | None = None
    SubmitTime: int = 0


class JobBatchDeregister(Command):
    """Stops (or with ``Purge`` removes) many jobs in one entry, as Nomad's garbage collector purges
    dead jobs. ``Jobs`` are (namespace, job ID) pairs; unknown ones are skipped."""

    Jobs: list[tuple[str, str]]
    Purge: bool = False
    Evals: list[Evaluation] | None = None
    SubmitTime: int = 0


class JobScalingEvent(Command):
    """Records a scaling action or report on a task group (Nomad's ``ScalingEventRequest``): ``nomad job
    scale`` proposes it after the job registration that changed the count, with that evaluation's ID."""

    Namespace: str
    JobID: str
    TaskGroup: str
    ScalingEvent: ScalingEvent


class JobStability(Command):
    Namespace: str
    JobID: str
    JobVersion: int
    Stable: bool


# -- nodes -----------------------------------------------------------------------------------------


class NodeRegister(Command):
    Node: Node
    Evals: list[Evaluation] | None = None


class NodeDeregister(Command):
    NodeIDs: list[str]
    Evals: list[Evaluation] | None = None


class NodeUpdateStatus(Command):
    NodeID: str
    Status: str
    UpdatedAt: int  # Unix seconds, as Node.StatusUpdatedAt
    NodeEvent: NodeEvent | None = None
    Evals: list[Evaluation] | None = None


class NodeUpdateDrain(Command):
    NodeID: str
    DrainStrategy: DrainStrategy | None = None
    MarkEligible: bool = False
    Complete: bool = False  # the drainer finished the drain (as opposed to a cancel)
    UpdatedAt: datetime = GO_ZERO_TIME
    NodeEvent: NodeEvent | None = None
    Evals: list[Evaluation] | None = None
    Meta: dict[str, str] | None = None  # the operator's reason, kept in Node.LastDrain.Meta
    AccessorID: str = ""  # the accessor of the token that asked, kept in Node.LastDrain.AccessorID


class NodeUpdateEligibility(Command):
    NodeID: str
    Eligibility: str
    NodeEvent: NodeEvent | None = None
    Evals: list[Evaluation] | None = None


# -- allocations and evaluations -------------------------------------------------------------------


class AllocClientUpdateRequest(Command):
    Allocs: list[AllocClientUpdate]
    Evals: list[Evaluation] | None = None
    UpdatedAt: int = 0  # Unix ns


class AllocUpdateDesiredTransition(Command):
    Allocs: dict[str, DesiredTransition]
    Evals: list[Evaluation] | None = None
    UpdatedAt: int = 0


class ApplyPlanResults(Command):
    EvalID: str = ""
    Job: Job | None = None
    AllocsUpdated: list[Allocation] | None = None
    AllocsStopped: list[AllocStopDiff] | None = None
    AllocsPreempted: list[AllocPreemptDiff] | None = None
    Deployment: Deployment | None = None
    DeploymentUpdates: list[DeploymentStatusUpdate] | None = None
    PreemptionEvals: list[Evaluation] | None = None
    UpdatedAt: int = 0


class EvalUpdate(Command):
    Evals: list[Evaluation]


class EvalDelete(Command):
    Evals: list[str]
    Allocs: list[str] | None = None


# -- deployments -----------------------------------------------------------------------------------


class DeploymentStatusUpdateRequest(Command):
    DeploymentUpdate: DeploymentStatusUpdate
    Job: Job | None = None  # a job to register with the update: the auto-revert target
    Eval: Evaluation | None = None
    SubmitTime: int = 0


class DeploymentPromote(Command):
    DeploymentID: str
    All: bool = False
    Groups: list[str] | None = None
    Eval: Evaluation | None = None
    UpdatedAt: int = 0  # Unix ns, the deployment's new ModifyTime (0: the evaluation's time)


class DeploymentDelete(Command):
    Deployments: list[str]


class DeploymentAllocHealth(Command):
    DeploymentID: str
    HealthyAllocationIDs: list[str] | None = None
    UnhealthyAllocationIDs: list[str] | None = None
    Timestamp: datetime = GO_ZERO_TIME
    DeploymentUpdate: DeploymentStatusUpdate | None = None
    Job: Job | None = None
    Eval: Evaluation | None = None
    SubmitTime: int = 0


# -- services and configuration --------------------------------------------------------------------


class ServiceRegistrationUpsert(Command):
    Services: list[ServiceRegistration]


class ServiceRegistrationDelete(Command):
    IDs: list[str] | None = None
    AllocIDs: list[str] | None = None


class SchedulerConfigUpdate(Command):
    Config: SchedulerConfiguration
    CAS: bool = False
    CASIndex: int = 0


# -- the registry ----------------------------------------------------------------------------------

C = TypeVar("C", bound=Command)
Handler = Callable[[WriteTxn, Any], Any]
REGISTRY: dict[type[Command], Handler] = {}


def handles(kind: type[C]) -> Callable[[Callable[[WriteTxn, C], Any]], Callable[[WriteTxn, C], Any]]:
    def register(fn: Callable[[WriteTxn, C], Any]) -> Callable[[WriteTxn, C], Any]:
        REGISTRY[kind] = fn
        return fn

    return register


def _evals(txn: WriteTxn, evals: list[Evaluation] | None, event_type: str) -> None:
    if evals:
        upsert_evals(txn, evals, event_type)


@handles(JobRegister)
def _job_register(txn: WriteTxn, cmd: JobRegister) -> Job:
    job = upsert_job(txn, cmd.Job, cmd.SubmitTime, EventType.JOB_REGISTERED)
    if cmd.Eval is not None:
        cmd.Eval.JobModifyIndex = job.JobModifyIndex or 0
        _evals(txn, [cmd.Eval], EventType.JOB_REGISTERED)
    return job


def _deregister(txn: WriteTxn, namespace: str, job_id: str, purge: bool, submit_ns: int,
                event_type: str) -> Job | None:
    """Stops the job (a new version with ``Stop``) or purges it; the stopped job, None if purged or unknown."""
    job = txn.job(namespace, job_id)
    if job is None:
        return None
    if purge:
        txn.delete_job(namespace, job_id, event_type)
        return None
    return upsert_job(txn, msgspec.structs.replace(job, Stop=True), submit_ns, event_type)


@handles(JobDeregister)
def _job_deregister(txn: WriteTxn, cmd: JobDeregister) -> Job | None:
    result = _deregister(txn, cmd.Namespace, cmd.JobID, cmd.Purge, cmd.SubmitTime, EventType.JOB_DEREGISTERED)
    _evals(txn, [cmd.Eval] if cmd.Eval else None, EventType.JOB_DEREGISTERED)
    return result


@handles(JobBatchDeregister)
def _job_batch_deregister(txn: WriteTxn, cmd: JobBatchDeregister) -> list[Job]:
    event_type = EventType.JOB_BATCH_DEREGISTERED
    stopped = [_deregister(txn, ns, job_id, cmd.Purge, cmd.SubmitTime, event_type) for ns, job_id in cmd.Jobs]
    _evals(txn, cmd.Evals, event_type)
    return [job for job in stopped if job is not None]


@handles(JobScalingEvent)
def _job_scaling_event(txn: WriteTxn, cmd: JobScalingEvent) -> JobScalingEvents:
    return add_scaling_event(txn, cmd.Namespace, cmd.JobID, cmd.TaskGroup, cmd.ScalingEvent)


@handles(JobStability)
def _job_stability(txn: WriteTxn, cmd: JobStability) -> None:
    set_job_stability(txn, cmd.Namespace, cmd.JobID, cmd.JobVersion, cmd.Stable, EventType.JOB_REGISTERED)


@handles(NodeRegister)
def _node_register(txn: WriteTxn, cmd: NodeRegister) -> Node:
    node = upsert_node(txn, cmd.Node, EventType.NODE_REGISTRATION)
    _evals(txn, cmd.Evals, EventType.NODE_REGISTRATION)
    return node


@handles(NodeDeregister)
def _node_deregister(txn: WriteTxn, cmd: NodeDeregister) -> None:
    for node_id in cmd.NodeIDs:
        delete_node(txn, node_id, EventType.NODE_DEREGISTRATION)
    _evals(txn, cmd.Evals, EventType.NODE_DEREGISTRATION)


@handles(NodeUpdateStatus)
def _node_status(txn: WriteTxn, cmd: NodeUpdateStatus) -> Node:
    node = update_node_status(txn, cmd.NodeID, cmd.Status, cmd.UpdatedAt, cmd.NodeEvent, EventType.NODE_EVENT)
    _evals(txn, cmd.Evals, EventType.NODE_EVENT)
    return node


@handles(NodeUpdateDrain)
def _node_drain(txn: WriteTxn, cmd: NodeUpdateDrain) -> Node:
    node = update_node_drain(txn, cmd.NodeID, cmd.DrainStrategy, cmd.MarkEligible, cmd.Complete, cmd.UpdatedAt,
                             cmd.NodeEvent, EventType.NODE_DRAIN, cmd.Meta, cmd.AccessorID)
    _evals(txn, cmd.Evals, EventType.NODE_DRAIN)
    return node


@handles(NodeUpdateEligibility)
def _node_eligibility(txn: WriteTxn, cmd: NodeUpdateEligibility) -> Node:
    node = update_node_eligibility(txn, cmd.NodeID, cmd.Eligibility, cmd.NodeEvent, EventType.NODE_ELIGIBILITY)
    _evals(txn, cmd.Evals, EventType.NODE_ELIGIBILITY)
    return node


@handles(AllocClientUpdateRequest)
def _alloc_client_update(txn: WriteTxn, cmd: AllocClientUpdateRequest) -> list[Allocation]:
    stored = update_allocs_from_client(txn, cmd.Allocs, cmd.UpdatedAt, EventType.ALLOCATION_UPDATED)
    _evals(txn, cmd.Evals, EventType.ALLOCATION_UPDATED)
    return stored


@handles(AllocUpdateDesiredTransition)
def _alloc_transition(txn: WriteTxn, cmd: AllocUpdateDesiredTransition) -> None:
    update_alloc_desired_transitions(txn, cmd.Allocs, cmd.UpdatedAt, EventType.ALLOCATION_UPDATE_DESIRED_STATUS)
    _evals(txn, cmd.Evals, EventType.ALLOCATION_UPDATE_DESIRED_STATUS)


@handles(ApplyPlanResults)
def _plan_results(txn: WriteTxn, cmd: ApplyPlanResults) -> int:
    apply_plan_results(
        txn, job=cmd.Job, allocs_updated=cmd.AllocsUpdated or [], allocs_stopped=cmd.AllocsStopped or [],
        allocs_preempted=cmd.AllocsPreempted or [], deployment=cmd.Deployment,
        deployment_updates=cmd.DeploymentUpdates or [], evals=cmd.PreemptionEvals or [], now_ns=cmd.UpdatedAt,
        event_type=EventType.PLAN_RESULT,
    )
    return txn.index


@handles(EvalUpdate)
def _eval_update(txn: WriteTxn, cmd: EvalUpdate) -> None:
    upsert_evals(txn, cmd.Evals, EventType.EVAL_UPDATED)


@handles(EvalDelete)
def _eval_delete(txn: WriteTxn, cmd: EvalDelete) -> None:
    delete_evals(txn, cmd.Evals, cmd.Allocs or [])


def _deployment_extras(txn: WriteTxn, job: Job | None, ev: Evaluation | None, submit: int, event_type: str) -> None:
    if job is not None:
        upsert_job(txn, job, submit, event_type)
    if ev is not None:
        if job is not None:
            ev.JobModifyIndex = txn.job(job.Namespace or "", job.ID or "").JobModifyIndex or 0  # type: ignore[union-attr]
        upsert_evals(txn, [ev], event_type)


def _unix_ns(ts: datetime) -> int:
    """Unix nanoseconds of a command's timestamp (0 for Go's zero time: none given)."""
    if ts == GO_ZERO_TIME:
        return 0
    delta = ts - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def _command_time_ns(submit_ns: int, ev: Evaluation | None) -> int:
    """The time a deployment command happened when its update names none: the submit time, else the
    time stamped on its evaluation (0: unknown, the deployment's ``ModifyTime`` stays)."""
    return submit_ns or (ev.ModifyTime or ev.CreateTime if ev is not None else 0)


@handles(DeploymentStatusUpdateRequest)
def _deployment_status(txn: WriteTxn, cmd: DeploymentStatusUpdateRequest) -> Deployment:
    d = update_deployment_status(txn, cmd.DeploymentUpdate, EventType.DEPLOYMENT_UPDATE,
                                 _command_time_ns(cmd.SubmitTime, cmd.Eval))
    _deployment_extras(txn, cmd.Job, cmd.Eval, cmd.SubmitTime, EventType.DEPLOYMENT_UPDATE)
    return d


@handles(DeploymentPromote)
def _deployment_promote(txn: WriteTxn, cmd: DeploymentPromote) -> Deployment:
    d = update_deployment_promotion(txn, cmd.DeploymentID, cmd.All, cmd.Groups or [], EventType.DEPLOYMENT_PROMOTION,
                                    cmd.UpdatedAt or _command_time_ns(0, cmd.Eval))
    _deployment_extras(txn, None, cmd.Eval, 0, EventType.DEPLOYMENT_PROMOTION)
    return d


@handles(DeploymentDelete)
def _deployment_delete(txn: WriteTxn, cmd: DeploymentDelete) -> None:
    delete_deployments(txn, cmd.Deployments)


@handles(DeploymentAllocHealth)
def _deployment_alloc_health(txn: WriteTxn, cmd: DeploymentAllocHealth) -> None:
    update_deployment_alloc_health(txn, cmd.DeploymentID, cmd.HealthyAllocationIDs or [],
                                   cmd.UnhealthyAllocationIDs or [], cmd.Timestamp, EventType.DEPLOYMENT_ALLOC_HEALTH)
    if cmd.DeploymentUpdate is not None:
        stamped_ns = _unix_ns(cmd.Timestamp)
        update_deployment_status(txn, cmd.DeploymentUpdate, EventType.DEPLOYMENT_ALLOC_HEALTH,
                                 stamped_ns or _command_time_ns(cmd.SubmitTime, cmd.Eval))
    _deployment_extras(txn, cmd.Job, cmd.Eval, cmd.SubmitTime, EventType.DEPLOYMENT_ALLOC_HEALTH)


@handles(ServiceRegistrationUpsert)
def _service_upsert(txn: WriteTxn, cmd: ServiceRegistrationUpsert) -> None:
    upsert_services(txn, cmd.Services)


@handles(ServiceRegistrationDelete)
def _service_delete(txn: WriteTxn, cmd: ServiceRegistrationDelete) -> None:
    delete_services(txn, cmd.IDs or [])
    delete_services_by_alloc(txn, cmd.AllocIDs or [])


@handles(SchedulerConfigUpdate)
def _scheduler_config(txn: WriteTxn, cmd: SchedulerConfigUpdate) -> bool:
    return set_scheduler_config(txn, cmd.Config, cmd.CASIndex if cmd.CAS else None)


# -- encoding and applying -------------------------------------------------------------------------

class StateRestore(Command):
    """Replaces the whole state with a saved one (``operator snapshot restore``): ``State`` is what
    ``snapshot`` produced. Applied at its own Raft index like any entry, so every server restores the same
    bytes at the same point of the log; the restored state's indexes move up to that entry's, so blocking
    queries wake and nothing goes back in time. Not in ``REGISTRY``: it replaces the tables rather than
    writing through a transaction."""

    State: bytes


_ENCODER = msgspec.msgpack.Encoder()
_DECODER: msgspec.msgpack.Decoder[Any] = msgspec.msgpack.Decoder(
    Union[(*REGISTRY, StateRestore)]
)


def encode_command(command: Command) -> bytes:
    return _ENCODER.encode(command)


def decode_command(data: bytes) -> Command:
    try:
        command: Command = _DECODER.decode(data)
    except msgspec.DecodeError as err:
        raise InvalidInput(f"not a valid FSM command: {err}") from err
    return command


def apply_command(store: StateStore, index: int, command: Command) -> tuple[Any, EventBatch]:
    """Applies one decoded command at Raft ``index``; see the module docstring for errors."""
    if isinstance(command, StateRestore):
        return _restore_at(store, index, command.State), EventBatch(index)
    handler = REGISTRY.get(type(command))
    assert handler is not None, f"no FSM handler for {type(command).__name__}"
    txn = store.write(index)
    try:
        result = handler(txn, command)
    except BaseException:
        store.skip(index)
        raise
    return result, store.commit(txn)


def apply(store: StateStore, index: int, data: bytes) -> tuple[Any, EventBatch]:
    """Decodes and applies one committed Raft entry (bytes that are no command are an error like
    any other: nothing written, the index moves on)."""
    try:
        command = decode_command(data)
    except InvalidInput:
        store.skip(index)
        raise
    return apply_command(store, index, command)


def _restore_at(store: StateStore, index: int, data: bytes) -> int:
    """Installs ``data`` as the state at Raft ``index``; InvalidInput (nothing changed) if it is no state."""
    try:
        restored = state_from_bytes(data).tables
    except InvalidInput:
        store.skip(index)
        raise
    names = set(restored.table_index.keys()) | set(store.snapshot().tables.table_index.keys())
    bumped = immutables.Map({name: index for name in names})
    store.restore(StateSnapshot(restored._replace(applied_index=index, table_index=bumped)))
    return index


def snapshot(store: StateStore) -> bytes:
    """The whole state as bytes, for a Raft snapshot."""
    return state_to_bytes(store.snapshot())


def restore(store: StateStore, data: bytes) -> None:
    """Replaces the state with a Raft snapshot's bytes."""
    store.restore(state_from_bytes(data))


class StateMachine:
    """The FSM as the Raft runtime drives it (``apply``/``snapshot``/``restore`` over bytes).

    ``apply`` never raises for a refused command: a ``CaravanError`` is returned as the result, so
    that the runtime's apply loop goes on and the proposer gets the error. The events of each
    change go to ``on_events`` (the event stream, blocked evaluations, the broker), synchronously,
    before ``apply`` returns. ``restore(b"")`` empties the state, in place: holders of ``store``
    see the restored state.
    """

    def __init__(self, store: StateStore | None = None,
                 on_events: Callable[[EventBatch], None] | None = None) -> None:
        self.store = store if store is not None else StateStore()
        self.on_events = on_events

    def apply(self, index: int, data: bytes) -> object:
        try:
            result, events = apply(self.store, index, data)
        except CaravanError as err:
            return err
        if self.on_events is not None:
            self.on_events(events)
        return result

    def snapshot(self) -> bytes:
        return snapshot(self.store)

    def restore(self, data: bytes) -> None:
        if data:
            restore(self.store, data)
        else:
            self.store.restore(StateStore().snapshot())
