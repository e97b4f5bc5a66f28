"""cron(), every(), parse_schedule() and the APScheduler triggers they become."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from django_housekeeping import InvalidSchedule, cron, every
from django_housekeeping.tasks.schedules import Cron, Every, parse_schedule

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")

# Python's weekday(): Monday = 0 ... Sunday = 6.
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def fire_times(trigger: Any, start: datetime, count: int) -> list[datetime]:
    """The next ``count`` fire times of ``trigger`` strictly after ``start``."""
    times: list[datetime] = []
    now = start
    for _ in range(count):
        fire_time = trigger.get_next_fire_time(None, now)
        assert fire_time is not None
        times.append(fire_time)
        now = fire_time + timedelta(seconds=1)
    return times


def weekdays_of(expr: str) -> set[int]:
    """The Python weekdays a cron expression fires on over three weeks."""
    trigger = cron(expr).to_trigger(UTC)
    start = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday
    return {
        fire_time.weekday()
        for fire_time in fire_times(trigger, start, 21)
        if fire_time < start + timedelta(days=21)
    }


# --- the day of week: crontab counts from Sunday = 0 (and 7), APScheduler 3 from Monday = 0 ---


@pytest.mark.parametrize(
    ("day_of_week", "expected"),
    [
        ("0", {SUN}),
        ("7", {SUN}),
        ("1", {MON}),
        ("6", {SAT}),
        ("sun", {SUN}),
        ("SUN", {SUN}),
        ("mon", {MON}),
        ("1-5", {MON, TUE, WED, THU, FRI}),
        ("mon-fri", {MON, TUE, WED, THU, FRI}),
        ("0,6", {SAT, SUN}),
        ("sat,sun", {SAT, SUN}),
        ("5-7", {FRI, SAT, SUN}),
        ("fri-sun", {FRI, SAT, SUN}),
        ("sun-wed", {SUN, MON, TUE, WED}),
        ("0-3", {SUN, MON, TUE, WED}),
        ("*/2", {SUN, TUE, THU, SAT}),
        ("1-5/2", {MON, WED, FRI}),
        ("1/2", {MON, WED, FRI, SUN}),
        ("1,3-4", {MON, WED, THU}),
        ("*", {MON, TUE, WED, THU, FRI, SAT, SUN}),
    ],
)
def test_day_of_week_is_read_like_crontab(day_of_week: str, expected: set[int]) -> None:
    assert weekdays_of(f"0 3 * * {day_of_week}") == expected


def test_sunday_schedule_fires_on_sundays_at_the_given_time() -> None:
    trigger = cron("30 3 * * 0").to_trigger(UTC)
    times = fire_times(trigger, datetime(2024, 1, 1, tzinfo=UTC), 3)
    assert times == [
        datetime(2024, 1, 7, 3, 30, tzinfo=UTC),
        datetime(2024, 1, 14, 3, 30, tzinfo=UTC),
        datetime(2024, 1, 21, 3, 30, tzinfo=UTC),
    ]


def test_day_of_month_and_day_of_week_both_restricted_fire_on_either() -> None:
    # crontab(5): "0 0 1 * mon" runs on the 1st of the month *and* on every Monday.
    trigger = cron("0 0 1 * mon").to_trigger(UTC)
    times = fire_times(trigger, datetime(2024, 1, 2, tzinfo=UTC), 6)
    assert [time.date().isoformat() for time in times] == [
        "2024-01-08",
        "2024-01-15",
        "2024-01-22",
        "2024-01-29",
        "2024-02-01",  # a Thursday, the 1st
        "2024-02-05",
    ]


def test_day_of_month_starting_with_a_star_narrows_the_weekdays() -> None:
    # crontab(5): a field starting with "*" is not "restricted", so both fields must match.
    trigger = cron("0 0 */2 * mon").to_trigger(UTC)
    times = fire_times(trigger, datetime(2024, 1, 1, tzinfo=UTC), 3)
    assert all(time.weekday() == MON and time.day % 2 == 1 for time in times)
    assert [time.day for time in times] == [1, 15, 29]


# --- time zones ---


def test_cron_fires_in_the_default_time_zone() -> None:
    trigger = cron("0 3 * * *").to_trigger(BERLIN)
    (fire_time,) = fire_times(trigger, datetime(2024, 7, 1, tzinfo=UTC), 1)
    assert fire_time == datetime(2024, 7, 1, 3, 0, tzinfo=BERLIN)
    assert fire_time.utcoffset() == timedelta(hours=2)


def test_cron_tz_wins_over_the_default_time_zone() -> None:
    trigger = cron("0 3 * * *", tz="America/New_York").to_trigger(BERLIN)
    (winter,) = fire_times(trigger, datetime(2024, 1, 10, tzinfo=UTC), 1)
    (summer,) = fire_times(trigger, datetime(2024, 7, 10, tzinfo=UTC), 1)
    assert winter.astimezone(UTC) == datetime(2024, 1, 10, 8, 0, tzinfo=UTC)
    assert summer.astimezone(UTC) == datetime(2024, 7, 10, 7, 0, tzinfo=UTC)


def test_cron_accepts_a_zoneinfo() -> None:
    schedule = cron("0 3 * * *", tz=NEW_YORK)
    assert schedule == cron("0 3 * * *", tz="America/New_York")
    assert schedule.tz == "America/New_York"


def test_cron_rejects_an_unknown_time_zone() -> None:
    with pytest.raises(InvalidSchedule, match="unknown time zone 'Mars/Olympus_Mons'"):
        cron("0 3 * * *", tz="Mars/Olympus_Mons")


def test_cron_rejects_a_time_zone_that_is_not_a_name() -> None:
    with pytest.raises(InvalidSchedule, match="tz must be a time zone name"):
        cron("0 3 * * *", tz=3)  # type: ignore[arg-type]


# --- values and messages ---


def test_cron_normalizes_whitespace_and_describes_itself() -> None:
    schedule = cron("  0   3 * *\tsun ")
    assert schedule == Cron("0 3 * * sun")
    assert str(schedule) == "cron('0 3 * * sun')"
    assert str(cron("0 3 * * *", tz="Europe/Berlin")) == "cron('0 3 * * *', tz='Europe/Berlin')"


def test_schedules_are_hashable_values() -> None:
    assert {cron("0 3 * * *"), cron("0 3 * * *"), every(hours=6), every(minutes=360)} == {
        cron("0 3 * * *"),
        every(hours=6),
    }


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("0 3 * *", r"must have 5 fields \(minute hour day month day_of_week\), got 4"),
        ("0 3 * * * *", "must have 5 fields .*, got 6"),
        ("", "must have 5 fields .*, got 0"),
        ("61 * * * *", r"invalid cron expression '61 \* \* \* \*'"),
        ("0 25 * * *", "invalid cron expression"),
        ("0 3 32 * *", "invalid cron expression"),
        ("0 3 * 13 *", "invalid cron expression"),
        ("0 3 * * 8", "day of week 8 is out of range 0-7"),
        ("0 3 * * funday", "invalid weekday name 'funday'"),
        ("0 3 * * */0", r"invalid step in day-of-week '\*/0'"),
        ("0 3 * * 1/x", "invalid step in day-of-week '1/x'"),
        ("0 3 * * */", r"invalid step in day-of-week '\*/'"),
        ("0 3 * * 5-1", "invalid day-of-week range '5-1'"),
        ("0 3 * * 1,,2", "invalid weekday name ''"),
    ],
)
def test_invalid_cron_expressions_are_explained(expr: str, message: str) -> None:
    with pytest.raises(InvalidSchedule, match=message):
        cron(expr)


def test_cron_expression_must_be_a_string() -> None:
    with pytest.raises(InvalidSchedule, match="a cron expression must be a string, got int"):
        cron(5)  # type: ignore[arg-type]


def test_invalid_schedule_is_a_value_error() -> None:
    assert issubclass(InvalidSchedule, ValueError)


# --- every() ---


def test_every_adds_up_its_parts() -> None:
    schedule = every(days=1, hours=2, minutes=3, seconds=4)
    assert schedule == Every(timedelta(days=1, hours=2, minutes=3, seconds=4))
    assert str(every(hours=6)) == "every(6:00:00)"


@pytest.mark.parametrize("kwargs", [{}, {"hours": 0}, {"minutes": -5}, {"days": 1, "hours": -24}])
def test_every_needs_a_positive_interval(kwargs: dict[str, float]) -> None:
    with pytest.raises(InvalidSchedule, match="an interval must be positive"):
        every(**kwargs)


def test_every_trigger_fires_at_the_interval() -> None:
    trigger = every(minutes=90).to_trigger(UTC)
    assert trigger.interval == timedelta(minutes=90)
    times = fire_times(trigger, datetime(2024, 3, 1, 1, 0, tzinfo=UTC), 4)
    assert times == [
        datetime(2024, 3, 1, 1, 30, tzinfo=UTC),
        datetime(2024, 3, 1, 3, 0, tzinfo=UTC),
        datetime(2024, 3, 1, 4, 30, tzinfo=UTC),
        datetime(2024, 3, 1, 6, 0, tzinfo=UTC),
    ]


def test_every_trigger_fire_times_do_not_depend_on_when_it_was_built() -> None:
    # Two scheduler processes must agree on the slots, so intervals are anchored, not started
    # whenever the trigger happens to be created.
    first = every(hours=6).to_trigger(BERLIN)
    second = every(hours=6).to_trigger(BERLIN)
    now = datetime(2024, 7, 2, 3, 1, tzinfo=BERLIN)
    assert first.get_next_fire_time(None, now) == second.get_next_fire_time(None, now)
    assert first.get_next_fire_time(None, now) == datetime(2024, 7, 2, 6, 0, tzinfo=UTC)
    assert first.get_next_fire_time(None, now).tzinfo == BERLIN


# --- parse_schedule ---


def test_parse_schedule_accepts_what_a_user_writes() -> None:
    schedule = cron("0 3 * * *")
    assert parse_schedule(None) is None
    assert parse_schedule(schedule) is schedule
    assert parse_schedule(every(hours=1)) == every(hours=1)
    assert parse_schedule("30  2 * * sun") == cron("30 2 * * sun")
    assert parse_schedule(timedelta(minutes=15)) == every(minutes=15)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (42, "a schedule must be cron\\(...\\), every\\(...\\), a 5-field cron string or None"),
        ({"hours": 6}, "got \\{'hours': 6\\}"),
        ("daily", "must have 5 fields"),
        (timedelta(0), "an interval must be positive"),
    ],
)
def test_parse_schedule_rejects_the_rest(value: object, message: str) -> None:
    with pytest.raises(InvalidSchedule, match=message):
        parse_schedule(value)
