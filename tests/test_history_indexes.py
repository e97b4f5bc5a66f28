"""The history's indexes serve every listing of it: on PostgreSQL, with a history large enough
for the planner to prefer them and analyzed, the first page of the admin's and the API's default
and filtered listings is read through an index, never by a sequential scan of the table."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from django_housekeeping.models import TaskRun

pytestmark = [
    pytest.mark.django_db,
    # EXPLAIN's output and the planner are PostgreSQL's here (the indexes themselves are the same
    # on every database): the other test databases leave these tests out.
    pytest.mark.databases("postgres"),
]

RUNS = 20_000
TASKS = ["conversations", "messages", "users", "stats"]


@pytest.fixture
def long_history() -> None:
    now = timezone.now()
    TaskRun.objects.bulk_create(
        (
            TaskRun(
                task_name=TASKS[i % len(TASKS)],
                trigger=TaskRun.Trigger.SCHEDULE,
                status=TaskRun.Status.FAILED if i % 50 == 7 else TaskRun.Status.SUCCEEDED,
                started_at=now - timedelta(minutes=i),
                duration=timedelta(seconds=i % 60),
            )
            for i in range(RUNS)
        ),
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {TaskRun._meta.db_table}")


NEWEST = ("-started_at", "-id")


@pytest.mark.usefixtures("long_history")
@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"task_name": "conversations"},
        {"status": "failed"},
        {"task_name": "conversations", "status": "failed"},
    ],
    ids=["all", "task", "status", "task+status"],
)
def test_a_page_of_the_history_is_read_through_an_index(filters: dict[str, str]) -> None:
    page = TaskRun.objects.filter(**filters).order_by(*NEWEST)[:51]
    plan = page.explain()
    assert "Index" in plan, plan
    assert "Seq Scan" not in plan, plan


@pytest.mark.usefixtures("long_history")
@pytest.mark.parametrize(
    "filters",
    [{}, {"task_name": "conversations"}, {"status": "failed"}],
    ids=["all", "task", "status"],
)
def test_the_admins_count_stops_at_its_limit_unsorted(filters: dict[str, str]) -> None:
    # CappedCountPaginator counts an unordered LIMITed subquery: whatever the scan, it stops.
    plan = TaskRun.objects.filter(**filters).order_by()[:10_001].explain()
    assert "Limit" in plan, plan
    assert "Sort" not in plan, plan
