"""Change events in the vocabulary of Nomad's event stream (``/v1/event/stream``).

Every write to the state store yields one ``Event`` per changed object: ``Topic`` names the kind of
object, ``Type`` why it changed (the FSM command that changed it), ``Key`` its ID, ``Index`` the Raft
index of the write. ``Payload`` maps the object's kind to the object itself, as Nomad's JSON does
(``{"Allocation": {...}}``); the object is the stored one, shared and never mutated, so an event
costs one small struct. ``event_json`` renders an event the way Nomad streams it: allocations go
out without their embedded job.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, overload

import msgspec

from cluster.structs.alloc import Allocation

__all__ = ["Event", "EventBatch", "EventType", "Topic", "event_json"]


class Topic:
    DEPLOYMENT = "Deployment"
    EVALUATION = "Evaluation"
    ALLOCATION = "Allocation"
    JOB = "Job"
    JOB_SUMMARY = "JobSummary"
    NODE = "Node"
    SERVICE = "Service"
    OPERATOR = "Operator"  # Caravan's addition: scheduler configuration changes


class EventType:
    NODE_REGISTRATION = "NodeRegistration"
    NODE_DEREGISTRATION = "NodeDeregistration"
    NODE_ELIGIBILITY = "NodeEligibility"
    NODE_DRAIN = "NodeDrain"
    NODE_EVENT = "NodeStreamEvent"
    DEPLOYMENT_UPDATE = "DeploymentStatusUpdate"
    DEPLOYMENT_PROMOTION = "DeploymentPromotion"
    DEPLOYMENT_ALLOC_HEALTH = "DeploymentAllocHealth"
    ALLOCATION_CREATED = "AllocationCreated"
    ALLOCATION_UPDATED = "AllocationUpdated"
    ALLOCATION_UPDATE_DESIRED_STATUS = "AllocationUpdateDesiredStatus"
    EVAL_UPDATED = "EvaluationUpdated"
    JOB_REGISTERED = "JobRegistered"
    JOB_DEREGISTERED = "JobDeregistered"
    JOB_BATCH_DEREGISTERED = "JobBatchDeregistered"
    PLAN_RESULT = "PlanResult"
    SERVICE_REGISTRATION = "ServiceRegistration"
    SERVICE_DEREGISTRATION = "ServiceDeregistration"
    SCHEDULER_CONFIG = "SchedulerConfigUpdated"  # Caravan's addition


class Event(msgspec.Struct, kw_only=True, gc=False):
    """One changed object at one Raft index. ``FilterKeys`` lists related IDs (job, deployment) that
    subscribers may filter on, as Nomad does."""

    Topic: str
    Type: str
    Key: str
    Namespace: str = ""
    FilterKeys: list[str] | None = None
    Index: int = 0
    Payload: dict[str, Any]


_JSON = msgspec.json.Encoder()


def event_json(event: Event) -> bytes:
    """The event as Nomad's stream sends it; an allocation's embedded ``Job`` is left out."""
    payload = event.Payload
    alloc = payload.get("Allocation")
    if isinstance(alloc, Allocation) and alloc.Job is not None:
        payload = {"Allocation": msgspec.structs.replace(alloc, Job=None)}
    return _JSON.encode(msgspec.structs.replace(event, Payload=payload))


class EventBatch(Sequence[Event]):
    """The events of one write, in write order, at one Raft index.

    A plan result writes thousands of allocations; their events are kept as the allocations
    themselves (one list per bulk write) and become ``Event`` structs only when read, so a write
    nobody subscribes to does not pay for them.
    """

    __slots__ = ("_flat", "_items", "raft_index")

    def __init__(self, raft_index: int) -> None:
        self.raft_index = raft_index
        self._items: list[Any] = []  # Event, (allocation, type) or (allocations, type)
        self._flat: list[Event | tuple[Allocation, str]] | None = None

    def add(self, event: Event) -> None:
        self._items.append(event)
        self._flat = None

    def add_allocs(self, allocs: list[Allocation], event_type: str) -> None:
        """One event per allocation, recorded in O(1)."""
        self._items.append((allocs, event_type))
        self._flat = None

    def _entries(self) -> list[Event | tuple[Allocation, str]]:
        if self._flat is None:
            flat: list[Event | tuple[Allocation, str]] = []
            for item in self._items:
                if isinstance(item, tuple) and isinstance(item[0], list):
                    flat.extend((alloc, item[1]) for alloc in item[0])
                else:
                    flat.append(item)
            self._items = list(flat)
            self._flat = flat
        return self._flat

    def objects(self) -> Iterator[tuple[str, str, Any]]:
        """(topic, type, changed object) per event, without building the events (cheap on large
        plan results)."""
        for item in self._entries():
            if isinstance(item, tuple):
                yield Topic.ALLOCATION, item[1], item[0]
            else:
                yield item.Topic, item.Type, next(iter(item.Payload.values()), None)

    def _event(self, i: int) -> Event:
        entries = self._entries()
        item = entries[i]
        if isinstance(item, tuple):
            alloc, event_type = item
            item = entries[i] = Event(
                Topic=Topic.ALLOCATION, Type=event_type, Key=alloc.ID, Namespace=alloc.Namespace,
                FilterKeys=[alloc.JobID, alloc.DeploymentID], Index=self.raft_index, Payload={"Allocation": alloc})
        return item

    @overload
    def __getitem__(self, i: int) -> Event: ...

    @overload
    def __getitem__(self, i: slice) -> list[Event]: ...

    def __getitem__(self, i: int | slice) -> Event | list[Event]:
        n = len(self._entries())
        if isinstance(i, slice):
            return [self._event(j) for j in range(n)[i]]
        return self._event(range(n)[i])

    def __len__(self) -> int:
        return len(self._entries())
