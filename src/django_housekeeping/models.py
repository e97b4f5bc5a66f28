"""Run history: one :class:`TaskRun` row per execution of a task."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# Reading a run's stored result and error lives in run_results; importable from here too.
from django_housekeeping.run_results import PROGRESS_NOTE as PROGRESS_NOTE
from django_housekeeping.run_results import deletion_counts as deletion_counts
from django_housekeeping.run_results import error_summary as error_summary
from django_housekeeping.run_results import is_count as is_count


class TaskRun(models.Model):
    """One execution of a housekeeping task: who started it, what it did, how it ended."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")
        SKIPPED = "skipped", _("skipped")
        MISSED = "missed", _("missed")
        INTERRUPTED = "interrupted", _("interrupted")
        CANCELLED = "cancelled", _("cancelled")

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", _("schedule")
        CLI = "cli", _("command line")
        ADMIN = "admin", _("admin")
        API = "api", _("API")
        DASHBOARD = "dashboard", _("dashboard")
        MANUAL = "manual", _("Python call")

    # No index of its own: the history's indexes below begin with it (a single-column one led
    # MariaDB to intersect it with the status's rather than read an ordered index).
    task_name = models.CharField(_("task"), max_length=200)
    slot = models.DateTimeField(
        _("slot"),
        null=True,
        blank=True,
        help_text=_("The scheduled time this run was for; empty for runs started by hand."),
    )
    trigger = models.CharField(_("trigger"), max_length=20, choices=Trigger.choices)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("triggered by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("group run"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="children",
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.RUNNING
    )
    dry_run = models.BooleanField(_("dry run"), default=False)
    started_at = models.DateTimeField(_("started"), db_index=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    duration = models.DurationField(_("duration"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("last heartbeat"), null=True, blank=True)
    progress_done = models.PositiveBigIntegerField(_("progress done"), null=True, blank=True)
    progress_total = models.PositiveBigIntegerField(_("progress total"), null=True, blank=True)
    result = models.JSONField(_("result"), null=True, blank=True, encoder=DjangoJSONEncoder)
    error = models.TextField(_("error"), blank=True)
    host = models.CharField(_("host"), max_length=255, blank=True)
    pid = models.PositiveIntegerField(_("pid"), null=True, blank=True)
    attempt = models.PositiveSmallIntegerField(
        _("attempt"),
        default=1,
        db_default=1,  # the previous release inserts runs without it (a rolling deploy)
        help_text=_("1 for the first run of a slot; 2, 3, … for its retries."),
    )
    retry_of = models.OneToOneField(
        "self",
        verbose_name=_("retry of"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="retried_by",
        editable=False,
        help_text=_("The interrupted run this run is a new attempt of."),
    )
    state_change = models.ForeignKey(
        "TaskStateChange",
        verbose_name=_("after state change"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_(
            "For a scheduled run: the latest change of its task's pause state or schedule, "
            "which says who started the task's work."
        ),
    )
    enqueued_at = models.DateTimeField(
        _("enqueued"),
        null=True,
        blank=True,
        help_text=_(
            'When the run was handed to Django\'s Tasks framework (the "django_tasks" '
            "executor); empty for a run executed where it was recorded."
        ),
    )
    # The W3C trace context (``{"traceparent": ...}``) of the code that queued the run, which the
    # process executing it continues (django_housekeeping.tracing); NULL without OpenTelemetry.
    trace_context = models.JSONField(_("trace context"), null=True, blank=True, editable=False)
    cancel_requested_at = models.DateTimeField(
        _("cancel requested"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("When someone asked to cancel the run (it stops at its next progress step)."),
    )
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("cancelled by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    cancel_via = models.CharField(
        _("cancelled through"),
        max_length=20,
        choices=Trigger.choices,
        blank=True,
        default="",
        db_default="",  # the previous release inserts runs without it (a rolling deploy)
        editable=False,
    )
    # The claim of "the active run of this task": the task's name while the run is queued or
    # running, NULL once it has ended. Unique (NULLs are distinct on every database), so the
    # database lets one run of a task be active at a time, whichever process inserts it.
    active_task = models.CharField(
        _("active task"), max_length=200, null=True, blank=True, unique=True, editable=False
    )

    class Meta:
        verbose_name = _("task run")
        verbose_name_plural = _("task runs")
        ordering = ["-started_at", "-id"]
        permissions = [("run_task", _("Can run housekeeping tasks"))]
        constraints = [
            # A scheduled slot is claimed by inserting its row: the database lets one insert win,
            # for each attempt (a retry of an interrupted run is the slot's next attempt).
            models.UniqueConstraint(
                fields=["task_name", "slot", "attempt"], name="housekeeping_run_slot_once"
            ),
        ]
        # Every listing of the history (admin, API, dashboard) is newest first, filtered by task
        # and/or status or not at all: each has an index that gives its first page at once,
        # however long the history (docs/history.md#a-long-history). Each ends with the id, the
        # listings' tie-breaker, so that no database sorts the rows it filtered (MariaDB did).
        indexes = [
            models.Index(
                fields=["task_name", "-started_at", "-id"], name="housekeeping_run_task_newest"
            ),
            models.Index(fields=["-started_at", "-id"], name="housekeeping_run_newest"),
            models.Index(
                fields=["task_name", "status", "-started_at", "-id"],
                name="housekeeping_run_task_status",
            ),
            models.Index(
                fields=["status", "-started_at", "-id"], name="housekeeping_run_by_status"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task_name} #{self.pk} ({self.status})"

    ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING)

    @property
    def is_finished(self) -> bool:
        return self.status not in self.ACTIVE_STATUSES

    @property
    def duration_seconds(self) -> float | None:
        return self.duration.total_seconds() if self.duration is not None else None

    def finish(self, status: str, *, result: Any = None, error: str = "") -> None:
        """Record the outcome, release the task's active-run claim, and save it."""
        self.status = status
        self.result = result
        self.error = error
        self.finished_at = timezone.now()
        self.duration = max(self.finished_at - self.started_at, timedelta(0))
        self.heartbeat_at = self.finished_at
        self.active_task = None
        self.save(
            update_fields=[
                "status",
                "result",
                "error",
                "finished_at",
                "duration",
                "heartbeat_at",
                "active_task",
            ]
        )


class SchedulerLease(models.Model):
    """The leader lease: the one scheduler that holds an unexpired lease schedules the tasks."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    owner = models.CharField(_("owner"), max_length=255, blank=True)
    token = models.PositiveBigIntegerField(
        _("fencing token"), default=0, help_text=_("Incremented each time the lease changes hands.")
    )
    host = models.CharField(_("host"), max_length=255, blank=True)
    pid = models.PositiveIntegerField(_("pid"), null=True, blank=True)
    acquired_at = models.DateTimeField(_("acquired"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("last heartbeat"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"))

    class Meta:
        verbose_name = _("scheduler lease")
        verbose_name_plural = _("scheduler lease")

    def __str__(self) -> str:
        return f"{self.name}: {self.owner or 'free'}"


class TaskState(models.Model):
    """Operator overrides of a task's schedule, made in the admin or the API at run time."""

    task_name = models.CharField(_("task"), max_length=200, unique=True)
    paused = models.BooleanField(
        _("paused"),
        default=False,
        help_text=_("A paused task runs none of its slots: each is recorded skipped."),
    )
    schedule = models.CharField(
        _("schedule"),
        max_length=100,
        blank=True,
        help_text=_("A 5-field cron expression replacing the task's schedule; empty keeps it."),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("updated by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta:
        verbose_name = _("task state")
        verbose_name_plural = _("task states")
        ordering = ["task_name"]

    def __str__(self) -> str:
        return self.task_name


class TaskStateChange(models.Model):
    """One change of a task's pause state or schedule override: who, when, through which face,
    before → after (docs/permissions.md#starting-destructive-work). Written by the control layer
    in the transaction of the change; never edited."""

    task_name = models.CharField(_("task"), max_length=200)
    changed_at = models.DateTimeField(_("changed"), default=timezone.now)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("changed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    via = models.CharField(_("through"), max_length=20, choices=TaskRun.Trigger.choices)
    paused_before = models.BooleanField(_("paused before"))
    paused_after = models.BooleanField(_("paused after"))
    schedule_before = models.CharField(_("schedule before"), max_length=100, blank=True)
    schedule_after = models.CharField(_("schedule after"), max_length=100, blank=True)
    confirmed = models.BooleanField(
        _("confirmed"),
        default=False,
        help_text=_("The change starts destructive work and was confirmed after a dry run."),
    )

    class Meta:
        verbose_name = _("task state change")
        verbose_name_plural = _("task state changes")
        ordering = ["-changed_at", "-id"]
        indexes = [
            models.Index(
                fields=["task_name", "-changed_at", "-id"], name="housekeeping_state_change_task"
            )
        ]

    def __str__(self) -> str:
        who = self.changed_by or "the system"
        return f"{self.task_name}: {self.describe()} ({who}, {self.changed_at:%Y-%m-%d %H:%M} UTC)"

    @classmethod
    def latest(cls, task_name: str) -> TaskStateChange | None:
        """The latest change of ``task_name``'s state, if any."""
        return cls.objects.filter(task_name=task_name).order_by("-changed_at", "-id").first()

    def describe(self) -> str:
        """``"paused → resumed; schedule (own) → */5 * * * *"``."""
        parts = []
        if self.paused_before != self.paused_after:
            parts.append("paused → resumed" if self.paused_before else "running → paused")
        if self.schedule_before != self.schedule_after:
            parts.append(
                f"schedule {self.schedule_before or '(own)'} → {self.schedule_after or '(own)'}"
            )
        return "; ".join(parts) or "unchanged"


class TriggerWindow(models.Model):
    """The trigger throttle's counter for one person and one time window, shared by every
    process (see :mod:`django_housekeeping.running.throttle`)."""

    key = models.CharField(_("key"), max_length=150, unique=True)
    window_start = models.DateTimeField(_("window start"))
    count = models.PositiveIntegerField(_("triggers"), default=0)

    class Meta:
        verbose_name = _("trigger window")
        verbose_name_plural = _("trigger windows")

    def __str__(self) -> str:
        return f"{self.key}: {self.count} since {self.window_start}"


class TaskAlert(models.Model):
    """An alert about a task: raised when it fails (or is overdue), resolved when it succeeds
    again. One open alert per task and kind at a time, whichever process raises it, so that a
    failure streak alerts once (see :mod:`django_housekeeping.monitoring.alerts`)."""

    class Kind(models.TextChoices):
        FAILED = "failed", _("failed")
        OVERDUE = "overdue", _("overdue")

    task_name = models.CharField(_("task"), max_length=200, db_index=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    reason = models.TextField(_("reason"), blank=True)
    run = models.ForeignKey(
        TaskRun,
        verbose_name=_("run"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("The run that failed (none for an overdue task)."),
    )
    opened_at = models.DateTimeField(_("raised"), db_index=True)
    closed_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    # "<kind>:<task>" while the alert is open, NULL once resolved: unique, so a task has one open
    # alert of each kind, whichever process raises it.
    open_key = models.CharField(
        _("open key"), max_length=230, null=True, blank=True, unique=True, editable=False
    )

    class Meta:
        verbose_name = _("task alert")
        verbose_name_plural = _("task alerts")
        ordering = ["-opened_at", "-id"]

    def __str__(self) -> str:
        return f"{self.task_name} {self.kind}" + ("" if self.closed_at else " (open)")

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class RunTotal(models.Model):
    """Retired in 0.3 (the metrics' counters are the daily rollup's sums, :class:`RunDay`):
    neither read nor written; 0.2's processes still write it during a rolling deploy. Dropped in
    the next minor release. Was: the finished non-dry runs of a task with one status, their
    seconds, and when the latest of them finished."""

    task_name = models.CharField(_("task"), max_length=200)
    status = models.CharField(_("status"), max_length=20, choices=TaskRun.Status.choices)
    runs = models.PositiveBigIntegerField(_("runs"), default=0)
    seconds = models.FloatField(_("seconds"), default=0.0)
    last_finished_at = models.DateTimeField(_("last finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("run total")
        verbose_name_plural = _("run totals")
        constraints = [
            models.UniqueConstraint(
                fields=["task_name", "status"], name="housekeeping_run_total_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.task_name} {self.status}: {self.runs}"


class DeletionTotal(models.Model):
    """Retired in 0.3 (the metrics' counters are the daily rollup's sums, :class:`DeletionDay`):
    neither read nor written; 0.2's processes still write it during a rolling deploy. Dropped in
    the next minor release. Was: the rows a task's non-dry runs deleted from one model."""

    task_name = models.CharField(_("task"), max_length=200)
    model = models.CharField(_("model"), max_length=200)
    rows = models.PositiveBigIntegerField(_("rows"), default=0)

    class Meta:
        verbose_name = _("deletion total")
        verbose_name_plural = _("deletion totals")
        constraints = [
            models.UniqueConstraint(
                fields=["task_name", "model"], name="housekeeping_deletion_total_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.task_name} {self.model}: {self.rows}"


class RunDay(models.Model):
    """The daily rollup of the history: the finished non-dry runs of a task started on one day
    (in the site's time zone) with one status and a duration in one bucket, and their seconds.

    Written when a run finishes (:mod:`django_housekeeping.monitoring.rollup`), so that the
    statistics read a few rows per task and day instead of the history's rows. ``bucket`` is a
    duration bucket (:func:`~django_housekeeping.monitoring.rollup.duration_bucket`; -1: a run
    without a duration)."""

    task_name = models.CharField(_("task"), max_length=200)
    day = models.DateField(_("day"))
    status = models.CharField(_("status"), max_length=20, choices=TaskRun.Status.choices)
    bucket = models.SmallIntegerField(_("duration bucket"))
    runs = models.PositiveBigIntegerField(_("runs"), default=0)
    seconds = models.FloatField(_("seconds"), default=0.0)
    # The latest finish of these runs (the metrics' last success); null when recorded by 0.2.
    last_finished_at = models.DateTimeField(_("last finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("runs of a day")
        verbose_name_plural = _("runs per day")
        constraints = [
            models.UniqueConstraint(
                fields=["task_name", "day", "status", "bucket"], name="housekeeping_run_day_once"
            )
        ]
        indexes = [models.Index(fields=["day"], name="housekeeping_run_day_day")]

    def __str__(self) -> str:
        return f"{self.task_name} {self.day} {self.status}: {self.runs}"


class DeletionDay(models.Model):
    """The daily rollup of deletions: the rows a task's non-dry runs started on one day (in the
    site's time zone) deleted from one model (a group's run counts only its own ``deleted``)."""

    task_name = models.CharField(_("task"), max_length=200)
    day = models.DateField(_("day"))
    model = models.CharField(_("model"), max_length=200)
    rows = models.PositiveBigIntegerField(_("rows"), default=0)

    class Meta:
        verbose_name = _("deletions of a day")
        verbose_name_plural = _("deletions per day")
        constraints = [
            models.UniqueConstraint(
                fields=["task_name", "day", "model"], name="housekeeping_deletion_day_once"
            )
        ]
        indexes = [models.Index(fields=["day"], name="housekeeping_deletion_day_day")]

    def __str__(self) -> str:
        return f"{self.task_name} {self.day} {self.model}: {self.rows}"


class RollupGeneration(models.Model):
    """How many times the rollup's closed days (the days before today) changed: a run recorded
    on a day before the one it is recorded on (it started before midnight), a rebuild.

    The statistics keep the sums of a window's closed days in memory, per process, and compute
    them again when this moves (:func:`django_housekeeping.monitoring.rollup.closed_window`)."""

    name = models.CharField(_("name"), max_length=50, primary_key=True)
    generation = models.PositiveBigIntegerField(_("generation"), default=0)

    class Meta:
        verbose_name = _("rollup generation")
        verbose_name_plural = _("rollup generations")

    def __str__(self) -> str:
        return f"{self.name}: {self.generation}"


class LegalHold(models.Model):
    """A hold on one row of any model: no purge deletes it, nor any row whose deletion would
    cascade into it, while the hold is active (not released, ``until`` not passed).

    Holds are never deleted, only released: the table is their history. The row is named by its
    content type and its primary key as text, so that any key type works.
    """

    content_type = models.ForeignKey(
        "contenttypes.ContentType",
        verbose_name=_("model"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    object_pk = models.CharField(_("primary key"), max_length=255)
    reason = models.TextField(_("reason"))
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("placed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    placed_at = models.DateTimeField(_("placed"), default=timezone.now)
    until = models.DateTimeField(
        _("until"),
        null=True,
        blank=True,
        help_text=_("The hold ends by itself at this time; empty: until it is released."),
    )
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("released by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    released_at = models.DateTimeField(_("released"), null=True, blank=True)

    class Meta:
        verbose_name = _("legal hold")
        verbose_name_plural = _("legal holds")
        ordering = ["-placed_at", "-id"]
        indexes = [
            # "The active holds of these content types": what every purge batch reads.
            models.Index(
                fields=["content_type", "released_at", "object_pk"],
                name="housekeeping_hold_active",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.content_type_id}:{self.object_pk} ({self.reason[:40]})"

    def is_active(self, now: Any = None) -> bool:
        """Not released, and ``until`` (if any) not passed at ``now`` (default: now)."""
        now = now or timezone.now()
        return self.released_at is None and (self.until is None or self.until > now)


class ErasureRecord(models.Model):
    """The audit trail of one erasure request: what was erased (model and primary key), how many
    rows of each model went with it, who asked, when and why. It keeps no field value of the
    erased rows.

    The record is written (``started``) and committed before anything is deleted, and completed
    afterwards: a deletion that fails leaves a ``failed`` record, a process that dies leaves a
    ``started`` one.
    """

    class Status(models.TextChoices):
        STARTED = "started", _("started")
        ERASED = "erased", _("erased")
        REFUSED = "refused", _("refused: held")
        PROTECTED = "protected", _("kept: protected")
        FAILED = "failed", _("failed")

    model = models.CharField(_("model"), max_length=200)
    object_pk = models.CharField(_("primary key"), max_length=255)
    reason = models.TextField(_("reason"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    requested_at = models.DateTimeField(_("requested"), default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    dry_run = models.BooleanField(_("dry run"), default=False)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.STARTED
    )
    deleted = models.JSONField(
        _("rows deleted"), default=dict, blank=True, encoder=DjangoJSONEncoder
    )
    protected = models.JSONField(_("rows protected"), default=dict, blank=True)
    held = models.JSONField(
        _("held rows"),
        default=list,
        blank=True,
        help_text=_('The held rows that refused the erasure, as "app_label.Model:pk".'),
    )
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("erasure record")
        verbose_name_plural = _("erasure records")
        ordering = ["-requested_at", "-id"]

    def __str__(self) -> str:
        return f"{self.model}:{self.object_pk} ({self.status})"


class HoldLock(models.Model):
    """One row (key 1) that serializes placing a legal hold with deleting a batch.

    Every purge batch and every erasure locks it in share mode at the start of its transaction,
    before it reads the active holds; :func:`django_housekeeping.holds.place` locks it exclusively
    before it checks that the row still exists and writes the hold. So a hold is either committed
    before a batch reads the holds (the batch sees it and keeps the row), or placed after the
    batch committed (a row the batch deleted is gone, and the hold is refused). On SQLite the
    database's single write lock does the same. The row holds nothing else; it is created again
    when missing (a flushed database).
    """

    id = models.PositiveSmallIntegerField(primary_key=True)

    class Meta:
        verbose_name = _("legal hold lock")
        verbose_name_plural = _("legal hold locks")
        default_permissions = ()

    def __str__(self) -> str:
        return f"legal hold lock {self.pk}"


class ErasedKey(models.Model):
    """One row an erasure deleted (cascades included): its model's label and primary key, never
    a field value. ``housekeeping restore`` skips these keys, so a restore never brings an
    erased row back; the erasure replay after a backup is restored reads them too."""

    model = models.CharField(_("model"), max_length=200)
    object_pk = models.CharField(_("primary key"), max_length=255)
    erasure = models.ForeignKey(
        ErasureRecord,
        verbose_name=_("erasure"),
        on_delete=models.PROTECT,
        related_name="erased_keys",
    )
    erased_at = models.DateTimeField(_("erased"), default=timezone.now)

    class Meta:
        verbose_name = _("erased key")
        verbose_name_plural = _("erased keys")
        indexes = [models.Index(fields=["model", "object_pk"], name="housekeeping_erased_key")]

    def __str__(self) -> str:
        return f"{self.model}:{self.object_pk}"
