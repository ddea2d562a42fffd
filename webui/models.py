"""The web application's tables: ACL policies, ACL tokens and the ACL system's own state.

Only services in ``webui.acl`` write these rows (views, admin pages and commands call them), so
that every write bumps the ACL index, drops cached authentications and validates as Nomad does.
A token's secret is never stored: only a keyed hash of it (``webui.acl.hashing``).
"""

from __future__ import annotations

import uuid

from django.core.validators import RegexValidator
from django.db import models

__all__ = ["ACLPolicy", "ACLState", "ACLToken", "SnapshotSchedule", "Workflow", "WorkflowEvent"]


class ACLState(models.Model):
    """The one row of ACL-wide state: the index that orders ACL writes, and the bootstrap mark.

    ``index`` plays Raft's part for ACL objects: each write takes the next value for its
    ``create_index``/``modify_index``, which the API shows as ``X-Nomad-Index``.
    ``bootstrap_index`` is set, once, by the bootstrap: a conditional update of this row is what
    makes a second bootstrap fail even when two race.
    """

    SINGLETON_ID = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_ID, editable=False)
    index = models.BigIntegerField(default=0)
    bootstrap_index = models.BigIntegerField(null=True, blank=True)
    bootstrapped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "ACL state"
        verbose_name_plural = "ACL state"

    def __str__(self) -> str:
        done = f"bootstrapped at index {self.bootstrap_index}" if self.bootstrap_index else "not bootstrapped"
        return f"ACL state: index {self.index}, {done}"


class ACLPolicy(models.Model):
    """A named set of rules in Nomad's policy language (HCL or JSON)."""

    NAME_PATTERN = r"[a-zA-Z0-9-]{1,128}"  # Nomad's rule for policy names
    NAME_MESSAGE = "use 1 to 128 letters, digits and -"

    name = models.CharField(
        max_length=128, unique=True, validators=[RegexValidator(rf"\A{NAME_PATTERN}\Z", NAME_MESSAGE)]
    )
    description = models.CharField(max_length=256, blank=True, default="")
    rules = models.TextField(help_text="Rules in Nomad's ACL policy language (HCL or JSON).")
    create_index = models.BigIntegerField(default=0, editable=False)
    modify_index = models.BigIntegerField(default=0, editable=False)
    created = models.DateTimeField(editable=False)
    modified = models.DateTimeField(editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = "ACL policy"
        verbose_name_plural = "ACL policies"

    def __str__(self) -> str:
        return self.name


class ACLToken(models.Model):
    """An ACL token. ``accessor_id`` is public; the secret is shown once and kept only as a hash.

    ``policies`` holds policy names, as Nomad does: deleting a policy leaves the name on its
    tokens (granting nothing) and a policy created again under that name applies again.
    """

    TYPE_CLIENT = "client"
    TYPE_MANAGEMENT = "management"
    TYPE_CHOICES = [(TYPE_CLIENT, "client"), (TYPE_MANAGEMENT, "management")]

    accessor_id = models.UUIDField(unique=True, default=uuid.uuid4, editable=False, verbose_name="accessor ID")
    secret_hash = models.CharField(max_length=64, unique=True, editable=False)
    name = models.CharField(max_length=256, blank=True, default="")
    type = models.CharField(max_length=16, choices=TYPE_CHOICES, default=TYPE_CLIENT)
    policies = models.JSONField(default=list, blank=True)
    is_global = models.BooleanField(default=False, verbose_name="global")
    region = models.CharField(max_length=128, default="global")
    create_time = models.DateTimeField(editable=False)
    expiration_time = models.DateTimeField(null=True, blank=True, db_index=True)
    expiration_ttl = models.DurationField(null=True, blank=True, verbose_name="expiration TTL")
    create_index = models.BigIntegerField(default=0, editable=False)
    modify_index = models.BigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["create_index"]
        verbose_name = "ACL token"
        verbose_name_plural = "ACL tokens"

    def __str__(self) -> str:
        return f"{self.name or 'unnamed token'} ({self.accessor_id})"

    @property
    def is_management(self) -> bool:
        return self.type == self.TYPE_MANAGEMENT


class Workflow(models.Model):
    """One run of a long operator workflow (a Celery task): what was asked, how far it got, how it ended.

    ``done``/``total`` is the progress the workflow's page shows live; ``WorkflowEvent`` rows are its log.
    ``cancel_requested`` is how a user stops it: the task checks it between steps.
    """

    KIND_JOB_RESTART = "job-restart"
    KIND_SNAPSHOT = "snapshot"
    KIND_CHOICES = [(KIND_JOB_RESTART, "job restart"), (KIND_SNAPSHOT, "state snapshot")]
    PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED = "pending", "running", "succeeded", "failed", "cancelled"
    STATUS_CHOICES = [(s, s) for s in (PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED)]
    TERMINAL = frozenset({SUCCEEDED, FAILED, CANCELLED})

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=32, choices=KIND_CHOICES)
    title = models.CharField(max_length=256)
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=STATUS_CHOICES, default=PENDING, db_index=True)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")
    cancel_requested = models.BooleanField(default=False)
    requested_by = models.CharField(max_length=256, blank=True, default="", help_text="token accessor or user")
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.title} ({self.status})"

    @property
    def namespace(self) -> str:
        """The namespace a job restart acts in ("" for workflows of the whole cluster, such as snapshots)."""
        return str(self.params.get("namespace", ""))

    @property
    def percent(self) -> int:
        return 100 if self.total == 0 and self.status == self.SUCCEEDED else (100 * self.done // self.total
                                                                             if self.total else 0)


class WorkflowEvent(models.Model):
    """One line of a workflow's log."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="events")
    time = models.DateTimeField(auto_now_add=True)
    message = models.TextField()

    class Meta:
        ordering = ["id"]


class SnapshotSchedule(models.Model):
    """State snapshots saved on a schedule (``caravan operator snapshot save``), keeping the newest ``retain``."""

    name = models.CharField(max_length=128, unique=True, validators=[RegexValidator(r"\A[a-zA-Z0-9_-]{1,128}\Z",
                                                                                    "use letters, digits, _ and -")])
    interval = models.DurationField(help_text="time between two snapshots, e.g. 01:00:00")
    retain = models.PositiveIntegerField(default=24, help_text="how many snapshot files to keep")
    directory = models.CharField(max_length=1024, help_text="where the files go (made if missing)")
    enabled = models.BooleanField(default=True)
    last_run = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
