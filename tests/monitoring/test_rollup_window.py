"""The statistics read the closed days of the rollup from sums each process keeps until a late
run or a rebuild changes them, and yesterday and today from the database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from django_housekeeping import housekeeping_task
from django_housekeeping.models import RollupGeneration, TaskRun
from django_housekeeping.monitoring import rollup
from django_housekeeping.presenters.statistics import (
    housekeeping_statistics,
    statistics_payload,
    window_start,
)
from tests.helpers import make_run

pytestmark = pytest.mark.django_db


def statistics(days: int = 30) -> dict[str, Any]:
    now = timezone.now()
    return housekeeping_statistics(window_start(now - timedelta(days=days)), now)


def generation() -> int:
    row = RollupGeneration.objects.filter(name=rollup.CLOSED_DAYS).first()
    return row.generation if row is not None else 0


def test_closed_days_are_read_once_until_they_change(django_assert_num_queries: Any) -> None:
    make_run("purge", result={"deleted": {"a.B": 4}, "total": 4}, age=timedelta(days=5))
    last = rollup.last_closed_day()
    first = last - timedelta(days=20)
    sums = rollup.closed_window(first, last)
    assert [row[:4] for row in sums.runs] == [("purge", "succeeded", rollup.duration_bucket(2), 1)]
    with django_assert_num_queries(1):  # the generation, not the rollup
        assert rollup.closed_window(first, last) == sums

    make_run("purge", result={"deleted": {"a.B": 6}, "total": 6}, age=timedelta(days=4))
    assert rollup.closed_window(first, last).runs[0][3] == 2
    assert sum(row[3] for row in rollup.closed_window(first, last).deletions) == 10


def test_a_run_of_today_leaves_the_closed_days_alone() -> None:
    make_run("purge", age=timedelta(days=6))
    before = generation()
    make_run("purge")
    assert generation() == before


def test_a_run_recorded_late_and_a_rebuild_move_the_generation() -> None:
    before = generation()
    make_run("purge", age=timedelta(days=3))
    make_run("purge", age=timedelta(days=1))
    assert generation() == before + 2
    rollup.rebuild()
    assert generation() == before + 3


@pytest.mark.parametrize(
    ("clock", "closed"),
    [
        (datetime(2026, 11, 30, 0, 4, 59), date(2026, 11, 28)),  # yesterday may still commit
        (datetime(2026, 11, 30, 0, 5), date(2026, 11, 29)),
        (datetime(2026, 11, 30, 23, 59), date(2026, 11, 29)),
    ],
)
def test_a_day_closes_five_minutes_after_its_midnight(clock: datetime, closed: date) -> None:
    local = timezone.make_aware(clock)  # the site's time zone
    assert rollup.last_closed_day(local) == closed
    assert rollup.last_closed_day(local.astimezone(UTC)) == closed


def test_the_statistics_count_closed_and_open_days_once_each() -> None:
    for age in (0, 1, 2, 3, 10, 40):
        make_run("purge", result={"deleted": {"a.B": 1}, "total": 1}, age=timedelta(days=age))
    make_run("purge", status=TaskRun.Status.FAILED, result=None, age=timedelta(days=2))
    first = statistics()  # computes and keeps the closed days
    again = statistics()  # reads them from memory
    assert first == again
    assert first["tasks"]["purge"]["runs"] == {"failed": 1, "succeeded": 5}
    assert first["tasks"]["purge"]["rows_deleted"] == 5
    assert sum(day["rows"] for day in first["rows_deleted_per_day"]) == 5
    assert statistics(days=1)["tasks"]["purge"]["runs"] == {"succeeded": 2}


def test_an_open_day_is_refused() -> None:
    with pytest.raises(ValueError, match="not a closed day"):
        rollup.closed_window(rollup.last_closed_day(), rollup.last_closed_day() + timedelta(days=1))


@pytest.mark.usefixtures("temporary_tasks")
def test_the_series_keep_the_runs_of_closed_days_until_they_change(settings: Any) -> None:
    settings.HOUSEKEEPING = {"STATISTICS_TASK": "stats"}
    housekeeping_task(name="stats", destructive=False)(lambda: {})
    for age, users in ((4, 10), (3, 11), (0, 12)):
        make_run("stats", result={"users": users}, age=timedelta(days=age, minutes=1))

    def users() -> list[Any]:
        return [point["value"] for point in statistics_payload()["series"][0]["points"]]

    assert users() == [10, 11, 12]
    # A row written by hand (no rollup.record): the kept runs of closed days do not see it...
    TaskRun.objects.create(
        task_name="stats",
        status=TaskRun.Status.SUCCEEDED,
        trigger=TaskRun.Trigger.SCHEDULE,
        started_at=timezone.now() - timedelta(days=2),
        result={"users": 99},
    )
    assert users() == [10, 11, 12]
    # ...until closed days are said to have changed (as pruning the history does).
    rollup.closed_days_changed()
    assert users() == [10, 11, 99, 12]
    make_run("stats", result={"users": 5}, age=timedelta(days=5))  # recorded late
    assert users() == [5, 10, 11, 99, 12]
