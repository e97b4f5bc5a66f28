"""Schedules across daylight-saving changes in settings.TIME_ZONE (Europe/Berlin in the tests).

2026-03-29: clocks jump from 02:00 CET (+01:00) to 03:00 CEST (+02:00); 02:00-02:59 does not exist.
2026-10-25: clocks fall back from 03:00 CEST to 02:00 CET; 02:00-02:59 happens twice.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.utils import timezone

from django_housekeeping import cron, every
from django_housekeeping.tasks.schedules import Cron

BERLIN = ZoneInfo("Europe/Berlin")
SPRING_FORWARD = date(2026, 3, 29)
FALL_BACK = date(2026, 10, 25)


def fire_times(schedule: Cron, start: datetime, end: datetime) -> list[datetime]:
    """The instants (in UTC) a trigger fires between ``start`` and ``end``, stepped as APScheduler
    steps it.

    In UTC because two aware datetimes in one zone compare (and hash) by wall time, ignoring
    ``fold``: 02:30 CEST and 02:30 CET on the fall-back day would look equal.
    """
    trigger = schedule.to_trigger(BERLIN)
    times: list[datetime] = []
    previous, now = None, start
    while True:
        fire = trigger.get_next_fire_time(previous, now)
        assert fire is not None
        if fire >= end:
            return times
        times.append(fire.astimezone(UTC))
        previous = now = fire


def days_around(day: date) -> tuple[datetime, datetime]:
    """Noon three days before ``day`` to noon three days after it, in Berlin."""
    start = datetime.combine(day - timedelta(days=3), datetime.min.time(), BERLIN)
    return start.replace(hour=12), start.replace(hour=12) + timedelta(days=6)


def wall(moment: datetime) -> tuple[date, int, int, str | None]:
    """The Berlin wall clock at an instant: date, hour, minute and zone abbreviation."""
    local = moment.astimezone(BERLIN)
    return local.date(), local.hour, local.minute, local.tzname()


def test_the_tests_run_in_berlin() -> None:
    assert settings.TIME_ZONE == "Europe/Berlin"
    assert timezone.get_default_timezone() == BERLIN
    # The two changes this module steps through:
    assert datetime(2026, 3, 29, 1, 59, tzinfo=UTC).astimezone(BERLIN).tzname() == "CEST"
    assert datetime(2026, 3, 29, 0, 59, tzinfo=UTC).astimezone(BERLIN).tzname() == "CET"
    assert datetime(2026, 10, 25, 0, 59, tzinfo=UTC).astimezone(BERLIN).tzname() == "CEST"
    assert datetime(2026, 10, 25, 1, 0, tzinfo=UTC).astimezone(BERLIN).tzname() == "CET"


@pytest.mark.parametrize("day", [SPRING_FORWARD, FALL_BACK])
def test_three_oclock_fires_once_a_day_at_three_local(day: date) -> None:
    times = fire_times(cron("0 3 * * *"), *days_around(day))

    assert len(times) == 6
    assert times == sorted(set(times))
    dates = [wall(moment)[0] for moment in times]
    assert dates == [day + timedelta(days=offset) for offset in range(-2, 4)]
    assert all(wall(moment)[1:3] == (3, 0) for moment in times)
    on_the_day = next(moment for moment in times if wall(moment)[0] == day)
    if day == SPRING_FORWARD:
        assert on_the_day == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 CEST
    else:
        assert on_the_day == datetime(2026, 10, 25, 2, 0, tzinfo=UTC)  # 03:00 CET


def test_half_past_two_around_spring_forward() -> None:
    """02:30 does not exist on 2026-03-29: the run happens once, at 03:30 CEST (01:30 UTC).

    APScheduler keeps the wall time 02:30 with the offset from before the change (+01:00), which
    is the instant the wall clock reads 03:30 CEST: one hour later than the slot's name, and after
    that day's 03:00 run. Every other day fires at 02:30 local.
    """
    times = fire_times(cron("30 2 * * *"), *days_around(SPRING_FORWARD))

    assert len(times) == 6
    assert times == sorted(set(times))
    per_day = Counter(wall(moment)[0] for moment in times)
    assert per_day == Counter(SPRING_FORWARD + timedelta(days=offset) for offset in range(-2, 4))
    for moment in times:
        when, hour, minute, _zone = wall(moment)
        expected = (3, 30) if when == SPRING_FORWARD else (2, 30)
        assert (hour, minute) == expected
    skipped_day = next(moment for moment in times if wall(moment)[0] == SPRING_FORWARD)
    assert skipped_day == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert wall(skipped_day) == (SPRING_FORWARD, 3, 30, "CEST")
    assert skipped_day > fire_times(cron("0 3 * * *"), *days_around(SPRING_FORWARD))[2]


def test_half_past_two_on_the_days_around_fall_back_fires_at_half_past_two() -> None:
    times = fire_times(cron("30 2 * * *"), *days_around(FALL_BACK))

    assert all(wall(moment)[1:3] == (2, 30) for moment in times)
    assert times == sorted(set(times))
    assert datetime(2026, 10, 25, 0, 30, tzinfo=UTC) in times  # 02:30 CEST, the first 02:30


def test_half_past_two_fires_once_on_the_fall_back_day() -> None:
    """02:30 happens twice on 2026-10-25; like crontab the job runs at the first, 02:30 CEST."""
    times = fire_times(cron("30 2 * * *"), *days_around(FALL_BACK))

    per_day = Counter(wall(moment)[0] for moment in times)
    assert per_day[FALL_BACK] == 1
    assert per_day == Counter(FALL_BACK + timedelta(days=offset) for offset in range(-2, 4))
    assert datetime(2026, 10, 25, 1, 30, tzinfo=UTC) not in times  # not again at 02:30 CET


def test_a_task_time_zone_wins_over_the_default() -> None:
    trigger = cron("30 2 * * *", tz="UTC").to_trigger(BERLIN)
    start, end = days_around(SPRING_FORWARD)
    previous, now = None, start
    times = []
    for _ in range(6):
        fire = trigger.get_next_fire_time(previous, now)
        times.append(fire)
        previous = now = fire
    assert all(
        (moment.astimezone(UTC).hour, moment.astimezone(UTC).minute) == (2, 30) for moment in times
    )
    assert [b - a for a, b in pairwise(times)] == [timedelta(days=1)] * 5
    assert start < times[0] < end


@pytest.mark.parametrize("day", [SPRING_FORWARD, FALL_BACK])
def test_every_hour_is_exactly_3600_seconds_across_the_change(day: date) -> None:
    trigger = every(hours=1).to_trigger(BERLIN)
    start = datetime.combine(day, datetime.min.time(), BERLIN) - timedelta(hours=2)
    previous, now = None, start
    times = []
    for _ in range(8):  # 22:00 the evening before until well after the change
        fire = trigger.get_next_fire_time(previous, now)
        assert fire is not None
        times.append(fire)
        previous = now = fire

    instants = [moment.timestamp() for moment in times]
    assert [b - a for a, b in pairwise(instants)] == [3600.0] * 7
    assert all(stamp % 3600 == 0 for stamp in instants)  # whole hours after the epoch
    zones = {wall(moment)[3] for moment in times}
    assert zones == {"CET", "CEST"}  # the run crossed the change
    hours = [wall(moment)[1] for moment in times]
    if day == SPRING_FORWARD:
        assert 2 not in hours  # no 02:xx on this day
    else:
        assert hours.count(2) == 2  # 02:00 CEST and 02:00 CET, an hour apart
