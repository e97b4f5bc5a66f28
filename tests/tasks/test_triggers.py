"""Cron schedules across daylight-saving changes (Europe/Berlin: 2026-03-29 and 2026-10-25)."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from django_housekeeping.tasks.schedules import cron

BERLIN = ZoneInfo("Europe/Berlin")


def fire_times(expr: str, start: datetime, count: int) -> list[str]:
    trigger = cron(expr).to_trigger(BERLIN)
    times, previous, now = [], None, start
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, now)
        times.append(fire.strftime("%m-%d %H:%M%z"))
        previous = now = fire
    return times


def test_a_daily_job_in_the_repeated_hour_runs_once_when_clocks_go_back():
    assert fire_times("30 2 * * *", datetime(2026, 10, 24, 12, tzinfo=BERLIN), 3) == [
        "10-25 02:30+0200",
        "10-26 02:30+0100",
        "10-27 02:30+0100",
    ]


def test_an_hourly_job_runs_once_at_the_repeated_wall_time():
    assert fire_times("30 * * * *", datetime(2026, 10, 25, 1, 0, tzinfo=BERLIN), 4) == [
        "10-25 01:30+0200",
        "10-25 02:30+0200",
        "10-25 03:30+0100",
        "10-25 04:30+0100",
    ]


def test_a_job_more_frequent_than_hourly_keeps_running_through_the_repeated_hour():
    assert fire_times("*/30 * * * *", datetime(2026, 10, 25, 1, 45, tzinfo=BERLIN), 6) == [
        "10-25 02:00+0200",
        "10-25 02:30+0200",
        "10-25 02:00+0100",
        "10-25 02:30+0100",
        "10-25 03:00+0100",
        "10-25 03:30+0100",
    ]


@pytest.mark.parametrize("expr", ["30 2 * * *", "0 2 * * *"])
def test_a_time_that_does_not_exist_runs_once_when_clocks_go_forward(expr):
    times = fire_times(expr, datetime(2026, 3, 28, 12, tzinfo=BERLIN), 3)
    assert [time[:5] for time in times] == ["03-29", "03-30", "03-31"]
    assert times[1:] == [
        f"03-30 {expr.split()[1].zfill(2)}:{expr.split()[0].zfill(2)}+0200",
        f"03-31 {expr.split()[1].zfill(2)}:{expr.split()[0].zfill(2)}+0200",
    ]


def test_the_task_zone_wins_over_the_default():
    trigger = cron("0 9 * * *", tz="America/New_York").to_trigger(BERLIN)
    fire = trigger.get_next_fire_time(None, datetime(2026, 6, 1, tzinfo=BERLIN))
    assert fire.utcoffset().total_seconds() == -4 * 3600
    assert (fire.hour, fire.minute) == (9, 0)
