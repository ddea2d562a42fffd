"""Nomad's enumerated strings, spelled exactly as Nomad's API sends them.

Plain ``str`` constants (not enums) because they travel inside structs whose fields are ``str``
and are compared against client input as written; grouping tuples list the valid values.
"""

from __future__ import annotations

__all__ = [
    "ADDRESS_MODES",
    "ALLOC_CLIENT_STATUSES",
    "ALLOC_DESIRED_STATUSES",
    "ARTIFACT_MODES",
    "CHECK_ADDRESS_MODES",
    "CHECK_INITIAL_STATUSES",
    "CHECK_TYPES",
    "CONSTRAINT_OPERATORS",
    "DEFAULT_NAMESPACE",
    "DEFAULT_NODE_POOL",
    "DEFAULT_REGION",
    "DELAY_FUNCTIONS",
    "DEPLOYMENT_STATUSES",
    "DISCONNECT_RECONCILE_OPTIONS",
    "EVAL_STATUSES",
    "EVAL_TRIGGERS",
    "JOB_STATUSES",
    "JOB_TYPES",
    "LIFECYCLE_HOOKS",
    "MIGRATE_HEALTH_CHECKS",
    "MULTIREGION_ON_FAILURE",
    "NODE_STATUSES",
    "ON_UPDATE_VALUES",
    "PAYLOAD_REQUIREMENTS",
    "RESTART_MODES",
    "SERVICE_PROVIDERS",
    "TASK_EVENT_TYPES",
    "TASK_STATES",
    "TEMPLATE_CHANGE_MODES",
    "UPDATE_HEALTH_CHECKS",
    "VOLUME_MOUNT_PROPAGATION_MODES",
    "VOLUME_TYPES",
    "AllocClientStatus",
    "AllocDesiredStatus",
    "DeploymentStatus",
    "EvalStatus",
    "EvalTrigger",
    "JobStatus",
    "JobType",
    "NodeEligibility",
    "NodeStatus",
    "TaskEventType",
    "TaskStateName",
]

DEFAULT_REGION = "global"
DEFAULT_NAMESPACE = "default"
DEFAULT_NODE_POOL = "default"


class JobType:
    SERVICE = "service"
    BATCH = "batch"
    SYSTEM = "system"
    SYSBATCH = "sysbatch"


JOB_TYPES = (JobType.SERVICE, JobType.BATCH, JobType.SYSTEM, JobType.SYSBATCH)


class JobStatus:
    PENDING = "pending"
    RUNNING = "running"
    DEAD = "dead"


JOB_STATUSES = (JobStatus.PENDING, JobStatus.RUNNING, JobStatus.DEAD)


class AllocDesiredStatus:
    RUN = "run"
    STOP = "stop"
    EVICT = "evict"


ALLOC_DESIRED_STATUSES = (AllocDesiredStatus.RUN, AllocDesiredStatus.STOP, AllocDesiredStatus.EVICT)


class AllocClientStatus:
    PENDING = "pending"
    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"
    LOST = "lost"
    UNKNOWN = "unknown"


ALLOC_CLIENT_STATUSES = (
    AllocClientStatus.PENDING,
    AllocClientStatus.RUNNING,
    AllocClientStatus.COMPLETE,
    AllocClientStatus.FAILED,
    AllocClientStatus.LOST,
    AllocClientStatus.UNKNOWN,
)


class EvalStatus:
    BLOCKED = "blocked"
    PENDING = "pending"
    COMPLETE = "complete"
    FAILED = "failed"
    CANCELED = "canceled"  # Nomad spells the eval status with one "l"


EVAL_STATUSES = (EvalStatus.BLOCKED, EvalStatus.PENDING, EvalStatus.COMPLETE, EvalStatus.FAILED, EvalStatus.CANCELED)


class EvalTrigger:
    """Why an evaluation was created (``Evaluation.TriggeredBy``)."""

    JOB_REGISTER = "job-register"
    JOB_DEREGISTER = "job-deregister"
    PERIODIC_JOB = "periodic-job"
    NODE_DRAIN = "node-drain"
    NODE_UPDATE = "node-update"
    ALLOC_STOP = "alloc-stop"
    SCHEDULED = "scheduled"
    ROLLING_UPDATE = "rolling-update"
    DEPLOYMENT_WATCHER = "deployment-watcher"
    FAILED_FOLLOW_UP = "failed-follow-up"
    MAX_PLANS = "max-plan-attempts"
    RETRY_FAILED_ALLOC = "alloc-failure"
    QUEUED_ALLOCS = "queued-allocs"
    PREEMPTION = "preemption"
    SCALING = "job-scaling"
    MAX_DISCONNECT_TIMEOUT = "max-disconnect-timeout"
    RECONNECT = "reconnect"


EVAL_TRIGGERS = tuple(v for k, v in vars(EvalTrigger).items() if k.isupper())


class DeploymentStatus:
    RUNNING = "running"
    PAUSED = "paused"
    FAILED = "failed"
    SUCCESSFUL = "successful"
    CANCELLED = "cancelled"  # and the deployment status with two
    PENDING = "pending"
    BLOCKED = "blocked"
    UNBLOCKING = "unblocking"


DEPLOYMENT_STATUSES = tuple(v for k, v in vars(DeploymentStatus).items() if k.isupper())


class NodeStatus:
    INIT = "initializing"
    READY = "ready"
    DOWN = "down"
    DISCONNECTED = "disconnected"


NODE_STATUSES = (NodeStatus.INIT, NodeStatus.READY, NodeStatus.DOWN, NodeStatus.DISCONNECTED)


class NodeEligibility:
    ELIGIBLE = "eligible"
    INELIGIBLE = "ineligible"


class TaskStateName:
    """``TaskState.State``."""

    PENDING = "pending"
    RUNNING = "running"
    DEAD = "dead"


TASK_STATES = (TaskStateName.PENDING, TaskStateName.RUNNING, TaskStateName.DEAD)


class TaskEventType:
    """``TaskEvent.Type``: the headline a user sees in ``nomad alloc status``."""

    SETUP = "Task Setup"
    SETUP_FAILURE = "Setup Failure"
    DRIVER_FAILURE = "Driver Failure"
    DRIVER_MESSAGE = "Driver"
    RECEIVED = "Received"
    FAILED_VALIDATION = "Failed Validation"
    STARTED = "Started"
    TERMINATED = "Terminated"
    KILLING = "Killing"
    KILLED = "Killed"
    RESTARTING = "Restarting"
    NOT_RESTARTING = "Not Restarting"
    DOWNLOADING_ARTIFACTS = "Downloading Artifacts"
    ARTIFACT_DOWNLOAD_FAILED = "Failed Artifact Download"
    SIBLING_FAILED = "Sibling Task Failed"
    SIGNALING = "Signaling"
    RESTART_SIGNAL = "Restart Signaled"
    LEADER_DEAD = "Leader Task Dead"
    BUILDING_TASK_DIR = "Building Task Directory"
    CLIENT_RECONNECTED = "Reconnected"


TASK_EVENT_TYPES = tuple(v for k, v in vars(TaskEventType).items() if k.isupper())

# -- job specification enums ----------------------------------------------------------------------

RESTART_MODES = ("fail", "delay")
UPDATE_HEALTH_CHECKS = ("checks", "task_states", "manual")
MIGRATE_HEALTH_CHECKS = ("checks", "task_states")
DELAY_FUNCTIONS = ("constant", "exponential", "fibonacci")
PAYLOAD_REQUIREMENTS = ("optional", "required", "forbidden")
LIFECYCLE_HOOKS = ("prestart", "poststart", "poststop")
TEMPLATE_CHANGE_MODES = ("noop", "restart", "signal", "script")
ARTIFACT_MODES = ("any", "file", "dir")
SERVICE_PROVIDERS = ("consul", "nomad")
ADDRESS_MODES = ("auto", "host", "driver", "alloc", "alloc_ipv6")  # a service's address_mode
CHECK_ADDRESS_MODES = ("host", "driver", "alloc", "alloc_ipv6")  # a check's ("" means "host")
ON_UPDATE_VALUES = ("require_healthy", "ignore_warnings", "ignore")
CHECK_TYPES = ("http", "tcp", "grpc", "script")
CHECK_INITIAL_STATUSES = ("passing", "warning", "critical")
MULTIREGION_ON_FAILURE = ("fail_all", "fail_local")
DISCONNECT_RECONCILE_OPTIONS = ("keep_original", "keep_replacement", "best_score", "longest_running")
VOLUME_TYPES = ("host", "csi")
VOLUME_MOUNT_PROPAGATION_MODES = ("private", "host-to-task", "bidirectional")

# Constraint operators Nomad accepts; "==", "is" and "not" are its aliases of "=" and "!=".
CONSTRAINT_OPERATORS = (
    "=", "==", "is", "!=", "not", "<", "<=", ">", ">=",
    "distinct_hosts", "distinct_property", "regexp", "version", "semver",
    "set_contains", "set_contains_any", "set_contains_all", "is_set", "is_not_set",
)
