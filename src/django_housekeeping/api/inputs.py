"""What the API accepts: request bodies and query strings, validated strictly (a wrong type is an
error, never guessed at; a name the control layer does not know is refused with its message)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from django_housekeeping.models import TaskRun
from django_housekeeping.presenters.statistics import DEFAULT_STATISTICS_DAYS, MAX_STATISTICS_DAYS
from django_housekeeping.running import control

MAX_WAIT_SECONDS = 300


# The earliest and latest instants a ``since`` filter is taken at: wide enough for any history,
# narrow enough for every database and every time zone conversion.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)


LATEST = datetime(9999, 1, 1, tzinfo=UTC)


def choices_message(choices: Any) -> str:
    return (
        f'"{{input}}" is not a valid choice; valid choices: {", ".join(str(c) for c in choices)}.'
    )


class StrictBooleanField(serializers.BooleanField):
    """``true`` or ``false`` in a JSON body: no ``"yes"``, ``1`` or ``"off"``."""

    default_error_messages = {"invalid": "Must be true or false (a JSON boolean)."}

    def to_internal_value(self, data: Any) -> bool:
        if isinstance(data, bool):
            return data
        self.fail("invalid")
        raise AssertionError  # pragma: no cover  (fail() raises)


class SafeDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date and time; out-of-range values are clamped to what a database stores."""

    def to_internal_value(self, value: Any) -> datetime:
        try:
            parsed: datetime = super().to_internal_value(value)
            return min(max(parsed.astimezone(UTC), EARLIEST), LATEST)
        except (OverflowError, ValueError):
            self.fail("invalid", format="YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]")
            raise AssertionError from None  # pragma: no cover  (fail() raises)


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "description": 'A task name, or "all" for every enabled task.'},
            {"type": "array", "items": {"type": "string"}, "minItems": 1},
        ]
    }
)
class TaskNamesField(serializers.Field):  # type: ignore[type-arg]
    """A task name or a non-empty list of them; each must be registered ("all" included)."""

    def to_internal_value(self, data: Any) -> list[str]:
        # The control layer's validation and messages, as on every face.
        try:
            return control.task_names(data)
        except control.ControlError as exc:
            raise serializers.ValidationError(exc.message) from None

    def to_representation(self, value: Any) -> Any:
        return value


class TriggerSerializer(serializers.Serializer):  # type: ignore[type-arg]
    task = TaskNamesField(
        help_text='What to run: a task name, "all" (every enabled task) or a list of names.'
    )
    dry_run = StrictBooleanField(
        required=False,
        default=False,
        help_text="Only count what would be deleted; delete nothing.",
    )


class TriggerQuerySerializer(serializers.Serializer):  # type: ignore[type-arg]
    wait = serializers.FloatField(
        required=False,
        min_value=0,
        max_value=MAX_WAIT_SECONDS,
        help_text=(
            'Wait up to this many seconds (at most HOUSEKEEPING["MAX_WAIT"], 20 by default) for '
            "the runs to finish: 200 with their results if they did, else 202 as without it."
        ),
    )


class StatisticsQuerySerializer(serializers.Serializer):  # type: ignore[type-arg]
    task = serializers.CharField(
        required=False,
        help_text=(
            "The task whose results are the site's statistics; by default "
            '`HOUSEKEEPING["STATISTICS_TASK"]`, if set.'
        ),
    )
    days = serializers.IntegerField(
        required=False,
        default=DEFAULT_STATISTICS_DAYS,
        min_value=1,
        max_value=MAX_STATISTICS_DAYS,
        help_text=(
            "The window: whole days in the site's time zone, from the day `days` days ago to "
            "today; of the library's numbers and of the series."
        ),
    )


class RunFilterSerializer(serializers.Serializer):  # type: ignore[type-arg]
    # No NUL: a database cannot store one in a task name (the pattern says so in the schema).
    task = serializers.RegexField(
        r"^[^\x00]*$",
        required=False,
        error_messages={"invalid": "Null characters are not allowed."},
        help_text="Only runs of this task.",
    )
    status = serializers.ChoiceField(
        required=False,
        choices=TaskRun.Status.choices,
        error_messages={"invalid_choice": choices_message(TaskRun.Status.values)},
        help_text="Only runs with this status.",
    )
    trigger = serializers.ChoiceField(
        required=False,
        choices=TaskRun.Trigger.choices,
        error_messages={"invalid_choice": choices_message(TaskRun.Trigger.values)},
        help_text="Only runs started this way.",
    )
    since = SafeDateTimeField(
        required=False, help_text="Only runs started at or after this time (ISO 8601)."
    )


@extend_schema_field(
    {
        "oneOf": [
            {
                "type": "string",
                "minLength": 1,
                "maxLength": 255,
                "pattern": r"^[^\x00]*[^\x00\s][^\x00]*$",
            },
            {"type": "integer"},
        ]
    }
)
class PrimaryKeyField(serializers.Field):  # type: ignore[type-arg]
    """A row's primary key: a string or an integer (never a boolean or anything else)."""

    default_error_messages = {
        "invalid": "Must be a string (at most 255 characters, no NUL) or an integer."
    }

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, bool) or not isinstance(data, str | int) or str(data).strip() == "":
            self.fail("invalid")
        text = str(data).strip()
        if "\x00" in text or len(text) > 255:
            self.fail("invalid")
        return text

    def to_representation(self, value: Any) -> str:
        return str(value)


class ErasureRequestSerializer(serializers.Serializer):  # type: ignore[type-arg]
    # The patterns mean the same in Python and in the schema's (ECMA) regular expressions.
    model = serializers.RegexField(
        r"^[^.\x00]+\.[^.\x00]+$",
        max_length=200,
        trim_whitespace=False,
        error_messages={"invalid": 'Name the model as "app_label.Model".'},
        help_text='The row\'s model, "app_label.Model" (e.g. "chat.Conversation").',
    )
    pk = PrimaryKeyField(help_text="The row's primary key.")
    reason = serializers.RegexField(
        r"^[^\x00]*[^\x00 \t\n\r\f\v][^\x00]*$",
        max_length=10_000,
        trim_whitespace=False,
        error_messages={"invalid": "Give a reason (no NUL character)."},
        help_text="Why: kept in the erasure record with who and when.",
    )
    dry_run = StrictBooleanField(
        required=False,
        default=False,
        help_text="Only count what would be deleted; delete nothing (a record is kept too).",
    )


class ErasureListQuerySerializer(serializers.Serializer):  # type: ignore[type-arg]
    limit = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=1000,
        help_text="How many records, newest first (default 50).",
    )
