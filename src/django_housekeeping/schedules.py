"""Schedules: ``cron(...)`` and ``every(...)``, and their APScheduler triggers.

A schedule is a small frozen value. It knows how to describe itself, how to validate itself and
how to become an APScheduler 3 trigger. Nothing here touches the database.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import timedelta, tzinfo
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from apscheduler.triggers.base import BaseTrigger


class InvalidSchedule(ValueError):
    """A schedule that cannot be turned into a trigger."""


@dataclass(frozen=True)
class Cron:
    """A five-field cron expression (``minute hour day month day_of_week``)."""

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
            except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
                raise InvalidSchedule(f"unknown time zone {self.tz!r}") from exc
        try:
            self.to_trigger(default_tz=zoneinfo.ZoneInfo("UTC"))
        except ValueError as exc:
            raise InvalidSchedule(f"invalid cron expression {self.expr!r}: {exc}") from exc

    def to_trigger(self, default_tz: tzinfo) -> BaseTrigger:
        from apscheduler.triggers.cron import CronTrigger

        minute, hour, day, month, day_of_week = self.expr.split()
        return CronTrigger(
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=_weekdays_for_apscheduler(day_of_week),
            timezone=zoneinfo.ZoneInfo(self.tz) if self.tz else default_tz,
        )

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
        from apscheduler.triggers.interval import IntervalTrigger

        return IntervalTrigger(seconds=self.interval.total_seconds(), timezone=default_tz)

    def __str__(self) -> str:
        return f"every({self.interval})"


_WEEKDAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _weekdays_for_apscheduler(field: str) -> str:
    """Translate a crontab day-of-week field into APScheduler 3's dialect.

    In crontab ``0`` and ``7`` are Sunday; APScheduler 3 counts from Monday = 0. Names mean the same
    in both, so every numeric part of the field is expanded into names.
    """
    if not any(char.isdigit() for char in field):
        return field
    days: list[str] = []
    for part in field.split(","):
        spec, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if spec == "*":
            first, last = 0, 6
        elif "-" in spec:
            first_text, _, last_text = spec.partition("-")
            first, last = _weekday_number(first_text), _weekday_number(last_text)
        else:
            first = _weekday_number(spec)
            last = first if not step_text else 6
        if step < 1 or first > last:
            raise ValueError(f"invalid day-of-week range {part!r}")
        for number in range(first, last + 1, step):
            if _WEEKDAY_NAMES[number] not in days:
                days.append(_WEEKDAY_NAMES[number])
    return ",".join(days)


def _weekday_number(text: str) -> int:
    if text.isdigit():
        number = int(text)
        if number > 7:
            raise ValueError(f"day of week {number} is out of range 0-7")
        return number
    try:
        return _WEEKDAY_NAMES.index(text.lower())
    except ValueError:
        raise ValueError(f'invalid weekday name "{text}"') from None


Schedule: TypeAlias = Cron | Every


def cron(expr: str, tz: str | None = None) -> Cron:
    """Run on a cron expression, e.g. ``cron("0 3 * * sun")``; ``tz`` defaults to TIME_ZONE."""
    if not isinstance(expr, str):
        raise InvalidSchedule(f"a cron expression must be a string, got {type(expr).__name__}")
    return Cron(" ".join(expr.split()), tz)


def every(*, days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0) -> Every:
    """Run at a fixed interval, e.g. ``every(hours=6)``."""
    return Every(timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds))


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
