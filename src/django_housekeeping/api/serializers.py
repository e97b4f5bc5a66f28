"""The API's response shapes.

Each declares, for the OpenAPI schema and for writing the response, the payload a presenter of
:mod:`django_housekeeping.presenters` builds: the one definition of that shape, which the staff
dashboard serves too (``tests/test_one_representation.py`` holds them together). What the API
accepts is in :mod:`django_housekeeping.api.requests`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

from django_housekeeping.api.representation import CompiledListSerializer
from django_housekeeping.models import ErasureRecord, TaskRun
from django_housekeeping.presenters.results import RESULT_KINDS
from django_housekeeping.presenters.runs import run_payload


@extend_schema_field(OpenApiTypes.NUMBER)
class NumberField(serializers.Field):  # type: ignore[type-arg]
    """A JSON number, shown as it is (an integer stays an integer)."""

    def to_representation(self, value: Any) -> Any:
        return value


@extend_schema_field({"type": "object", "additionalProperties": {}})
class ObjectField(serializers.JSONField):
    """A JSON object with any keys and values."""


class ErrorSerializer(serializers.Serializer):  # type: ignore[type-arg]
    detail = serializers.CharField(help_text="What went wrong, for a person to read.")
    # A field, not the Serializer.errors property: DRF takes declared fields off the class.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="For a request that failed validation: the messages per field.",
    )


class ProgressSerializer(serializers.Serializer):  # type: ignore[type-arg]
    done = serializers.IntegerField(allow_null=True, help_text="Items done so far.")
    total = serializers.IntegerField(allow_null=True, help_text="Items in all, when known.")
    percent = serializers.FloatField(allow_null=True, help_text="done / total, in percent.")
    note = serializers.CharField(
        allow_null=True,
        help_text='What a running run does while it does not progress ("paused: replica lag '
        '7 s (replica)"), if anything.',
    )


class ModelCountsSerializer(serializers.Serializer):  # type: ignore[type-arg]
    model = serializers.CharField(help_text='"app_label.Model"')
    deleted = serializers.IntegerField(help_text="Rows deleted (in a dry run: to be deleted).")
    protected = serializers.IntegerField(
        help_text="Rows kept because a PROTECT or RESTRICT relation forbids deleting them."
    )
    held = serializers.IntegerField(help_text="Rows kept because of a legal hold.")


class ResultNumberSerializer(serializers.Serializer):  # type: ignore[type-arg]
    key = serializers.CharField()
    value = NumberField()


class MemberSummarySerializer(serializers.Serializer):  # type: ignore[type-arg]
    task = serializers.CharField()
    status = serializers.CharField(allow_blank=True)
    summary = serializers.CharField(allow_blank=True, help_text="The member's one line.")


class CutoffSerializer(serializers.Serializer):  # type: ignore[type-arg]
    rows = serializers.CharField(help_text='Which rows: "plan=\'pro\'", or "every other row".')
    default = serializers.BooleanField(help_text="The window of the rows no keep_for key names.")
    keep = serializers.CharField(help_text='The window, e.g. "30 days".')
    cutoff = serializers.CharField(help_text="Rows older than this were due (local time).")
    # A field, not the Field.source attribute: DRF takes declared fields off the class.
    source = serializers.CharField(  # type: ignore[assignment]
        allow_blank=True, help_text='code, or settings (HOUSEKEEPING["TASKS"]).'
    )


class DroppedPartitionSerializer(serializers.Serializer):  # type: ignore[type-arg]
    name = serializers.CharField(help_text="The partition (table) dropped.")
    rows = serializers.IntegerField(help_text="The rows it held.")
    line = serializers.CharField(
        help_text='"dropped partition chat_event_2025_01 (≈812,345 rows)", or "would drop …".'
    )


class ResultDetailsSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """A run's result laid out for a person, read once by the presenter every face uses."""

    kind = serializers.ChoiceField(
        choices=[(kind, kind) for kind in RESULT_KINDS],
        help_text="purge; group; numbers (a flat object of numbers: statistics); unrun (slots "
        "skipped or missed, a run skipped while another ran); error (a failed or interrupted "
        "run); other (any other JSON); none (no result yet).",
    )
    summary = serializers.CharField(allow_blank=True, help_text="The run's summary.")
    verb = serializers.CharField(
        allow_null=True,
        help_text='A purge\'s "deleted", or "would delete" in a dry run; null for other results.',
    )
    models = ModelCountsSerializer(many=True, help_text="A purge's rows per model, by model.")
    total = serializers.IntegerField(allow_null=True, help_text="A purge's rows deleted in all.")
    # A field, not the Serializer.partial attribute: DRF takes declared fields off the class.
    partial = serializers.BooleanField(  # type: ignore[assignment]
        help_text="A purge stopped at max_seconds; the next run continues."
    )
    archive = serializers.CharField(
        allow_null=True, help_text="The file a purge archived the deleted rows to."
    )
    numbers = ResultNumberSerializer(many=True, help_text="A statistics result's numbers, by key.")
    members = MemberSummarySerializer(many=True, help_text="A group's members, in its order.")
    cutoffs = CutoffSerializer(
        many=True, help_text="A retention policy's cutoffs, one per window (empty otherwise)."
    )
    partitions = DroppedPartitionSerializer(
        many=True, help_text="The partitions a purge dropped whole (would drop, in a dry run)."
    )
    partitions_note = serializers.CharField(
        allow_null=True,
        help_text="Why rows of a partitioned table were purged by batches instead (or null).",
    )


class RunSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """One execution of a task."""

    id = serializers.IntegerField()
    url = serializers.CharField(allow_null=True, help_text="This run in the API.")
    task = serializers.CharField()
    status = serializers.ChoiceField(choices=TaskRun.Status.choices)
    trigger = serializers.ChoiceField(choices=TaskRun.Trigger.choices)
    triggered_by = serializers.CharField(allow_null=True, help_text="The user's username.")
    dry_run = serializers.BooleanField()
    slot = serializers.DateTimeField(
        allow_null=True, help_text="The scheduled time of a scheduled run."
    )
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    duration_seconds = serializers.FloatField(allow_null=True)
    heartbeat_at = serializers.DateTimeField(
        allow_null=True, help_text="When the run last reported progress."
    )
    progress = ProgressSerializer()
    summary = serializers.CharField(
        allow_blank=True, help_text="One line: per-model counts, the error, or the result."
    )
    details = ResultDetailsSerializer(help_text="The result laid out: per-model counts, numbers.")
    result = serializers.JSONField(allow_null=True, help_text="What the task returned.")
    error = serializers.CharField(allow_blank=True, help_text="The traceback of a failed run.")
    host = serializers.CharField(allow_blank=True)
    pid = serializers.IntegerField(allow_null=True)
    parent_id = serializers.IntegerField(allow_null=True, help_text="The group run, if any.")
    attempt = serializers.IntegerField(
        help_text="1 for a slot's first run; 2, 3, … for the retries of an interrupted run."
    )
    retry_of_id = serializers.IntegerField(
        allow_null=True, help_text="The interrupted run this run retries, if any."
    )
    cancel_requested_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When someone asked to cancel the run (it stops at its next progress step).",
    )
    cancelled_by = serializers.CharField(
        allow_null=True, help_text="The username of who cancelled it (null: the command line)."
    )

    class Meta:
        list_serializer_class = CompiledListSerializer

    def payload(self, instance: Any) -> Any:
        """What the fields read: a run's presenter payload (other items as they are)."""
        if isinstance(instance, TaskRun):
            return run_payload(instance, self.context.get("run_url"))
        return instance

    def to_representation(self, instance: Any) -> Any:
        return super().to_representation(self.payload(instance))


class RunDetailSerializer(RunSerializer):
    children = RunSerializer(many=True, help_text="The runs of a group's members.")


class LeaderSerializer(serializers.Serializer):  # type: ignore[type-arg]
    owner = serializers.CharField()
    host = serializers.CharField(allow_blank=True)
    pid = serializers.IntegerField(allow_null=True)
    token = serializers.IntegerField(help_text="Fencing token: grows with each new leader.")
    acquired_at = serializers.DateTimeField(allow_null=True)
    heartbeat_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField()
    lease_age_seconds = serializers.FloatField(
        allow_null=True, help_text="Seconds since the leader last renewed its lease."
    )
    healthy = serializers.BooleanField(help_text="The lease has not expired.")


class JobSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.CharField(help_text="The task's name.")
    name = serializers.CharField(help_text="The task's description.")
    trigger = serializers.CharField(
        help_text="The effective schedule, as this process's settings and the admin give it."
    )
    leader_trigger = serializers.CharField(
        allow_null=True,
        help_text="The schedule in the job store, which the leading scheduler runs; null when "
        "the job store has no job for the task.",
    )
    schedule_differs = serializers.BooleanField(
        help_text="The job store's schedule is not the one this process's settings give (a "
        "settings change not deployed to the scheduler process yet, say)."
    )
    next_run = serializers.DateTimeField(allow_null=True)
    enabled = serializers.BooleanField()
    paused = serializers.BooleanField()
    last_run = RunSerializer(allow_null=True)


class StatusSerializer(serializers.Serializer):  # type: ignore[type-arg]
    now = serializers.DateTimeField()
    state = serializers.ChoiceField(
        choices=[("running", "running"), ("stale", "stale"), ("stopped", "stopped")],
        help_text="running: a leader holds the lease; stale: its lease expired; stopped: none.",
    )
    running = serializers.BooleanField()
    healthy = serializers.BooleanField()
    leader = LeaderSerializer(allow_null=True)
    jobs = JobSerializer(many=True)


class TaskSerializer(serializers.Serializer):  # type: ignore[type-arg]
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    is_group = serializers.BooleanField()
    members = serializers.ListField(child=serializers.CharField())
    schedule = serializers.CharField(help_text="The effective schedule, or manual.")
    enabled = serializers.BooleanField()
    paused = serializers.BooleanField()
    next_run = serializers.DateTimeField(allow_null=True)
    options = ObjectField()
    tags = serializers.ListField(child=serializers.CharField())
    timeout = serializers.FloatField(allow_null=True)
    destructive = serializers.BooleanField(
        help_text="Whether running it may delete rows (false for read-only tasks)."
    )
    last_run = RunSerializer(allow_null=True)


class TaskStateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    task = serializers.CharField()
    paused = serializers.BooleanField()
    changed = serializers.BooleanField(help_text="False when the task already was so.")
    detail = serializers.CharField()


class PointSerializer(serializers.Serializer):  # type: ignore[type-arg]
    at = serializers.DateTimeField()
    value = NumberField()
    run_id = serializers.IntegerField()


@extend_schema_field(PointSerializer(many=True))
class PointsField(serializers.Field):  # type: ignore[type-arg]
    """A series' points as :class:`PointSerializer` gives them, written directly: a series holds
    up to 400 points, and a serializer per point would cost most of the response's time."""

    def to_representation(self, value: Any) -> Any:
        at = serializers.DateTimeField()
        zone = at.default_timezone()  # looked up once, not once a point

        def written(moment: Any) -> Any:
            # DateTimeField's ISO 8601 (its default format), without its checks per call: the
            # points' times are aware datetimes from the database.
            if not isinstance(moment, datetime) or zone is None or timezone.is_naive(moment):
                return at.to_representation(moment)
            text = moment.astimezone(zone).isoformat()
            return text[:-6] + "Z" if text.endswith("+00:00") else text

        write = written if api_settings.DATETIME_FORMAT == ISO_8601 else at.to_representation
        return [
            {"at": write(point["at"]), "value": point["value"], "run_id": point["run_id"]}
            for point in value
        ]


class SeriesSerializer(serializers.Serializer):  # type: ignore[type-arg]
    key = serializers.CharField()
    points = PointsField()


class DurationPercentilesSerializer(serializers.Serializer):  # type: ignore[type-arg]
    p50 = serializers.FloatField(allow_null=True, help_text="The median, in seconds.")
    p95 = serializers.FloatField(allow_null=True, help_text="The 95th percentile, in seconds.")


class TaskStatisticsSerializer(serializers.Serializer):  # type: ignore[type-arg]
    runs = serializers.DictField(
        child=serializers.IntegerField(), help_text="The task's runs by status."
    )
    rows_deleted = serializers.IntegerField(help_text="The rows its own runs deleted.")
    duration_seconds = DurationPercentilesSerializer(
        help_text=(
            "The durations of its succeeded and failed runs, nearest-rank percentiles (null "
            "without any), from the daily rollup's duration buckets (4 per doubling): within "
            "19 % of the exact nearest-rank duration (1 ms below 1 ms), exact when the runs of "
            "that bucket took the same time."
        )
    )


class DayDeletionsSerializer(serializers.Serializer):  # type: ignore[type-arg]
    day = serializers.DateField(help_text="A day in the site's time zone.")
    rows = serializers.IntegerField(help_text="The rows deleted by the runs started that day.")
    models = serializers.DictField(
        child=serializers.IntegerField(), help_text="The rows per model."
    )


class HousekeepingStatisticsSerializer(serializers.Serializer):  # type: ignore[type-arg]
    tasks = serializers.DictField(
        child=TaskStatisticsSerializer(),
        help_text="Per task name (groups included) that has runs in the window.",
    )
    rows_deleted_per_day = DayDeletionsSerializer(
        many=True,
        help_text="Every day of the window, oldest first, days without deletions included.",
    )


class StatisticsSerializer(serializers.Serializer):  # type: ignore[type-arg]
    task = serializers.CharField(
        allow_null=True, help_text="The site's statistics task; null when there is none."
    )
    days = serializers.IntegerField()
    since = serializers.DateTimeField(
        help_text="The window's start: midnight (site's time zone) of the day `days` days ago."
    )
    run_id = serializers.IntegerField(allow_null=True, help_text="The latest statistics' run.")
    generated_at = serializers.DateTimeField(allow_null=True)
    statistics = serializers.DictField(
        child=NumberField(), help_text="The numbers of the latest run's result."
    )
    series = SeriesSerializer(many=True)
    warning = serializers.CharField(
        allow_null=True,
        help_text=(
            'Why the site\'s statistics are missing: `HOUSEKEEPING["STATISTICS_TASK"]` names '
            "no task that has statistics. Null otherwise."
        ),
    )
    housekeeping = HousekeepingStatisticsSerializer(
        help_text="The library's own numbers over the window, from the runs that were no dry runs."
    )


class TriggerResponseSerializer(serializers.Serializer):  # type: ignore[type-arg]
    status = serializers.ChoiceField(
        choices=[
            ("accepted", "accepted"),
            ("succeeded", "succeeded"),
            ("failed", "failed"),
            ("skipped", "skipped"),
        ],
        help_text="accepted (202: still running), or how the runs ended (200).",
    )
    tasks = serializers.ListField(child=serializers.CharField())
    dry_run = serializers.BooleanField()
    runs = RunSerializer(many=True)
    results = serializers.DictField(
        child=serializers.JSONField(allow_null=True),
        help_text="Each finished run's result, by task name.",
    )


class ConflictSerializer(serializers.Serializer):  # type: ignore[type-arg]
    detail = serializers.CharField()
    task = serializers.CharField()
    running_run = RunSerializer()


class CancelSerializer(serializers.Serializer):  # type: ignore[type-arg]
    detail = serializers.CharField(help_text="What happened, for a person to read.")
    ended = serializers.BooleanField(
        help_text="True when a queued run was cancelled before it started; false when a running "
        "run was asked to stop (it ends `cancelled` at its next progress step)."
    )
    run = RunSerializer()


class WindowSerializer(serializers.Serializer):  # type: ignore[type-arg]
    rows = serializers.CharField(
        help_text='Which rows: "every row", "every other row" or "plan=\'pro\'".'
    )
    default = serializers.BooleanField(help_text="The window of the rows no keep_for key names.")
    value = serializers.JSONField(allow_null=True, help_text="The keep_by value (null: default).")
    keep = serializers.CharField(help_text='The window, e.g. "30 days".')
    keep_seconds = serializers.FloatField()
    cutoff = serializers.DateTimeField(help_text="Rows older than this are due now.")
    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=[("code", "code"), ("settings", "settings")],
        help_text='Declared in retention(), or overridden in HOUSEKEEPING["TASKS"].',
    )


class CappedCountSerializer(serializers.Serializer):  # type: ignore[type-arg]
    count = serializers.IntegerField(help_text="Rows, counted up to a limit.")
    capped = serializers.BooleanField(help_text="There are more than count rows.")
    text = serializers.CharField(help_text='"1,234", or "more than 10,000".')


class ReceiverSerializer(serializers.Serializer):  # type: ignore[type-arg]
    model = serializers.CharField(help_text='"app_label.Model"')
    signal = serializers.ChoiceField(
        choices=[("pre_delete", "pre_delete"), ("post_delete", "post_delete")]
    )
    receivers = serializers.ListField(
        child=serializers.CharField(), help_text="The receivers' dotted names."
    )


class PreviewSerializer(RunSerializer):
    receivers = ReceiverSerializer(
        many=True, help_text="The delete receivers deleting those rows would call now."
    )


class PolicySerializer(serializers.Serializer):  # type: ignore[type-arg]
    """A retention policy (retention()), with what it would delete now."""

    name = serializers.CharField(help_text="The policy's task name.")
    description = serializers.CharField(allow_blank=True)
    model = serializers.CharField(help_text='"app_label.Model"')
    field = serializers.CharField(help_text="The date or datetime field the rows age by.")
    keep_by = serializers.CharField(allow_null=True, help_text="The value that picks a window.")
    windows = WindowSerializer(many=True, help_text="The windows in effect, the default first.")
    rows_due = CappedCountSerializer(help_text="Rows older than their window now.")
    held_in_scope = serializers.IntegerField(
        help_text="Rows due that a legal hold names (a dry run also counts the rows kept because "
        "deleting them would cascade into a held row)."
    )
    held_text = serializers.CharField()
    schedule = serializers.CharField(help_text="The effective schedule, or manual.")
    enabled = serializers.BooleanField()
    paused = serializers.BooleanField()
    next_run = serializers.DateTimeField(allow_null=True)
    last_run = RunSerializer(allow_null=True, help_text="The latest real run.")
    preview = PreviewSerializer(
        allow_null=True, help_text="The latest dry run: its blast radius and delete receivers."
    )


class ErasureSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField()
    model = serializers.CharField(help_text='"app_label.Model" of the erased row.')
    pk = serializers.CharField(help_text="The erased row's primary key.")
    status = serializers.ChoiceField(
        choices=[(value, value) for value in ErasureRecord.Status.values],
        help_text="erased; protected (a PROTECT/RESTRICT relation kept the row); refused "
        "(legal holds); failed; started (still running, or its process died).",
    )
    dry_run = serializers.BooleanField()
    reason = serializers.CharField()
    requested_by = serializers.CharField(allow_null=True, help_text="The requester's username.")
    requested_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    deleted = serializers.DictField(
        child=serializers.IntegerField(), help_text="Rows deleted (dry run: to delete) per model."
    )
    total = serializers.IntegerField()
    protected = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="Rows kept because a PROTECT or RESTRICT relation forbids deleting them.",
    )
    held = serializers.ListField(
        child=serializers.CharField(), help_text='Held rows that refused it, "app_label.Model:pk".'
    )


class HeldSerializer(serializers.Serializer):  # type: ignore[type-arg]
    detail = serializers.CharField()
    held = serializers.ListField(
        child=serializers.CharField(),
        help_text='The held rows in the way, "app_label.Model:pk"; nothing was deleted.',
    )
    erasure = ErasureSerializer(allow_null=True, help_text="The record of the refused request.")
