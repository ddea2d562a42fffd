"""Caravan's schedulers: from an evaluation to a plan of placements, stops and updates.

    broker = EvalBroker(now_ns)                 # pending evaluations, one in flight per job
    broker.set_enabled(True)                    # on the leader only
    ev, token = broker.dequeue(["service", "batch", "system", "sysbatch"])  # None when empty
    process_eval(snapshot, planner, ev, rng, now_ns)   # the matching scheduler submits plans
    broker.ack(ev.ID, token)

``process_eval`` picks ``GenericScheduler`` (service, batch) or ``SystemScheduler`` (system,
sysbatch). Schedulers read a ``State`` (a ``StateSnapshot``) and write through a ``Planner``:
the leader's planner checks each plan against the latest state with ``evaluate_plan`` and
commits the result through Raft; ``LocalPlanner`` does the same in-process. Everything here is
pure: time (a value, or a ``now_ns()`` callable for the long-lived broker and trackers) and
randomness (a ``random.Random``) come in as arguments.

``BlockedEvals`` holds evaluations that could not place everything until capacity changes
(``capacity_changes`` reads where from the FSM's events),
``NodeDrainer`` and ``HeartbeatTracker`` produce the commands for draining and missed
heartbeats, ``cluster.deployments`` watches rolling updates.
"""

from cluster.scheduler.blocked import BlockedEvals, CapacityChanges, capacity_changes
from cluster.scheduler.broker import EvalBroker
from cluster.scheduler.drainer import NodeDrainer, drain_deadline_ns
from cluster.scheduler.generic import GenericScheduler
from cluster.scheduler.heartbeat import (
    HeartbeatTracker,
    heartbeat_ttl_ns,
    node_down_command,
    node_reconnect_evals,
)
from cluster.scheduler.local_planner import LocalPlanner
from cluster.scheduler.plan import DesiredUpdates, Plan, PlanResult
from cluster.scheduler.plan_apply import evaluate_plan
from cluster.scheduler.ports import Planner, State
from cluster.scheduler.system import SystemScheduler
from cluster.scheduler.worker import process_eval

__all__ = [
    "BlockedEvals",
    "CapacityChanges",
    "DesiredUpdates",
    "EvalBroker",
    "GenericScheduler",
    "HeartbeatTracker",
    "LocalPlanner",
    "NodeDrainer",
    "Plan",
    "PlanResult",
    "Planner",
    "State",
    "SystemScheduler",
    "capacity_changes",
    "drain_deadline_ns",
    "evaluate_plan",
    "heartbeat_ttl_ns",
    "node_down_command",
    "node_reconnect_evals",
    "process_eval",
]
