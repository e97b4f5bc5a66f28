"""Schedules: ``cron(...)`` and ``every(...)``, and their APScheduler triggers.

A schedule is a small frozen value. It knows how to describe itself, how to validate itself and
how to become an APScheduler 3 trigger. Nothing here touches the database.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TypeAlias

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.interval import IntervalTrigger

from django_housekeeping.triggers import WallClockCronTrigger


class InvalidSchedule(ValueError):
    """A schedule that cannot be turned into a trigger."""


@dataclass(frozen=True)
class Cron:
    """A five-field cron expression (``minute hour day month day_of_week``), read like crontab(5).

    The day of week counts from Sunday (``0`` and ``7`` are Sunday, ``1`` is Monday) and, as in
    crontab, when both the day of month and the day of week are restricted (neither starts with
    ``*``) the schedule fires on a day matching *either* field.
    """

    expr: str
    tz: str | None = None

    def __post_init__(self) -> None:
        fields = self.expr.split()
        if len(fields) != 5:
            raise InvalidSchedule(
                f"cron expression {self.expr!r} must have 5 fields "
                f"(minute hour day month day_of_week), got {len(fields)}"
            )
        if self.tz is not None:
            try:
                zoneinfo.ZoneInfo(self.tz)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError) as exc:
                raise InvalidSchedule(f"unknown time zone {self.tz!r}") from exc
        try:
            self.to_trigger(default_tz=zoneinfo.ZoneInfo("UTC"))
        except ValueError as exc:
            raise InvalidSchedule(f"invalid cron expression {self.expr!r}: {exc}") from exc

    def to_trigger(self, default_tz: tzinfo) -> BaseTrigger:
        minute, hour, day, month, day_of_week = self.expr.split()
        weekdays = _weekdays_for_apscheduler(day_of_week)
        timezone = zoneinfo.ZoneInfo(self.tz) if self.tz else default_tz

        def trigger(day: str, day_of_week: str) -> BaseTrigger:
            return WallClockCronTrigger(
                minute=minute,
                hour=hour,
                day=day,
                month=month,
                day_of_week=day_of_week,
                timezone=timezone,
            )

        if day.startswith("*") or day_of_week.startswith("*"):
            return trigger(day, weekdays)
        # crontab(5): "If both fields are restricted (i.e., don't start with *), the command will
        # be run when either field matches the current time." APScheduler's fields all must match.
        return OrTrigger([trigger(day, "*"), trigger("*", weekdays)])

    def longest_interval(self, *, fires: int = 32) -> timedelta:
        """The longest gap between two of the next ``fires`` fire times from now (a monthly
        schedule: up to 31 days; ``"0 3 * * sun"``: a week)."""
        trigger = self.to_trigger(default_tz=UTC)
        previous = None
        moment = datetime.now(UTC)
        longest = timedelta(0)
        for _ in range(fires):
            moment = trigger.get_next_fire_time(previous, moment)
            if moment is None:
                break
            if previous is not None:
                longest = max(longest, moment - previous)
            previous = moment
            moment = moment + timedelta(microseconds=1)
        return longest or timedelta(days=366)

    def __str__(self) -> str:
        return f"cron({self.expr!r}{f', tz={self.tz!r}' if self.tz else ''})"


@dataclass(frozen=True)
class Every:
    """A fixed interval between runs."""

    interval: timedelta

    def __post_init__(self) -> None:
        if self.interval <= timedelta(0):
            raise InvalidSchedule(f"an interval must be positive, got {self.interval}")

    def to_trigger(self, default_tz: tzinfo) -> BaseTrigger:
        """An interval trigger whose fire times are whole intervals after the Unix epoch.

        Anchoring the intervals (rather than starting them when the trigger is built) makes every
        process compute the same fire times, so the slots two schedulers claim coincide. So
        ``every(hours=6)`` fires at 00:00, 06:00, 12:00 and 18:00 UTC, ``every(days=1)`` at
        midnight UTC; use ``cron(...)`` for a time of day in a time zone.
        """
        return IntervalTrigger(
            seconds=self.interval.total_seconds(), start_date=_EPOCH, timezone=default_tz
        )

    def longest_interval(self) -> timedelta:
        return self.interval

    def __str__(self) -> str:
        return f"every({self.interval})"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# crontab numbers the days from Sunday = 0 (and 7); APScheduler 3 from Monday = 0. Names mean the
# same day in both, so the field is handed to APScheduler as a list of names.
_WEEKDAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _weekdays_for_apscheduler(field: str) -> str:
    """Translate a crontab day-of-week field into APScheduler 3's dialect.

    Every part (``N``, ``N-M``, ``*/S``, ``N/S``, ``N-M/S``, with numbers 0-7 or names) is expanded
    into the day names it covers. A range may end on Sunday (``fri-sun``, ``5-7``).
    """
    if field == "*":
        return field
    days: set[int] = set()
    for part in field.split(","):
        spec, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not (step_text.isascii() and step_text.isdigit()) or int(step_text) < 1:
                raise ValueError(f"invalid step in day-of-week {part!r}")
            step = int(step_text)
        if spec == "*":
            first, last = 0, 7
        elif "-" in spec:
            first_text, _, last_text = spec.partition("-")
            first, last = _weekday_number(first_text), _weekday_number(last_text)
            if last == 0 and first > 0:
                last = 7  # "fri-sun": Sunday closes the week
        else:
            first = _weekday_number(spec)
            last = 7 if slash else first
        if first > last:
            raise ValueError(f"invalid day-of-week range {part!r}")
        days.update(number % 7 for number in range(first, last + 1, step))
    return ",".join(_WEEKDAY_NAMES[number] for number in sorted(days))


def _weekday_number(text: str) -> int:
    if text.isascii() and text.isdigit():
        number = int(text)
        if number > 7:
            raise ValueError(f"day of week {number} is out of range 0-7")
        return number
    try:
        return _WEEKDAY_NAMES.index(text.lower())
    except ValueError:
        raise ValueError(f"invalid weekday name {text!r}") from None


Schedule: TypeAlias = Cron | Every


def cron(expr: str, tz: str | zoneinfo.ZoneInfo | None = None) -> Cron:
    """Run on a cron expression, e.g. ``cron("0 3 * * sun")``; ``tz`` defaults to TIME_ZONE.

    ``tz`` is a time zone name (``"Europe/Berlin"``) or a :class:`zoneinfo.ZoneInfo`.
    """
    if not isinstance(expr, str):
        raise InvalidSchedule(f"a cron expression must be a string, got {type(expr).__name__}")
    if isinstance(tz, zoneinfo.ZoneInfo) and tz.key is not None:
        tz = tz.key
    if tz is not None and not isinstance(tz, str):
        raise InvalidSchedule(f"tz must be a time zone name or a ZoneInfo, got {tz!r}")
    return Cron(" ".join(expr.split()), tz)


def every(*, days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0) -> Every:
    """Run at a fixed interval, e.g. ``every(hours=6)``."""
    return Every(timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds))


def describe_trigger(trigger: BaseTrigger, default_tz: tzinfo) -> str:
    """A trigger made by :meth:`Cron.to_trigger` or :meth:`Every.to_trigger`, in the words of its
    schedule (``cron('0 3 * * sun')``, ``every(6:00:00)``); APScheduler's own words otherwise."""
    if isinstance(trigger, IntervalTrigger):
        return str(Every(timedelta(seconds=trigger.interval_length)))
    crons = trigger.triggers if isinstance(trigger, OrTrigger) else [trigger]
    if not crons or not all(isinstance(each, WallClockCronTrigger) for each in crons):
        return str(trigger)
    fields = [{field.name: str(field) for field in each.fields} for each in crons]
    # An OrTrigger is crontab's "day of month or day of week": one restricts each (see Cron).
    day = next((f["day"] for f in fields if f["day"] != "*"), "*")
    day_of_week = next((f["day_of_week"] for f in fields if f["day_of_week"] != "*"), "*")
    first = fields[0]
    expr = f"{first['minute']} {first['hour']} {day} {first['month']} {day_of_week}"
    zone = crons[0].timezone
    same_zone = str(zone) == str(default_tz)
    return f"cron({expr!r}{'' if same_zone else f', tz={str(zone)!r}'})"


def parse_schedule(value: object) -> Schedule | None:
    """Turn what a user may write (a schedule, a cron string or ``None``) into a schedule."""
    if value is None or isinstance(value, Cron | Every):
        return value
    if isinstance(value, str):
        return cron(value)
    if isinstance(value, timedelta):
        return Every(value)
    raise InvalidSchedule(
        f"a schedule must be cron(...), every(...), a 5-field cron string or None, got {value!r}"
    )
