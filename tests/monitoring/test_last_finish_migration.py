"""The migration that gives the rollup its last finishes (0014) fills them on the database it
migrates, from the history and from the run totals 0.2 kept (they outlive the pruned history)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from tests.helpers import make_run
from tests.monitoring.test_rollup_migration import second_database  # noqa: F401  (a fixture)

BEFORE = ("django_housekeeping", "0013_run_cancel")
AFTER = ("django_housekeeping", "0014_run_day_last_finished")


@pytest.mark.django_db(transaction=True, databases=["default", "second"])
def test_the_last_finishes_are_filled_on_the_database_migrated(
    second_database: str,  # noqa: F811
) -> None:
    call_command("migrate", *BEFORE[:1], BEFORE[1], database=second_database, verbosity=0)
    state = MigrationExecutor(connections[second_database]).loader.project_state(BEFORE)
    models = state.apps.get_model
    runs = models("django_housekeeping", "TaskRun").objects.using(second_database)
    days = models("django_housekeeping", "RunDay").objects.using(second_database)
    totals = models("django_housekeeping", "RunTotal").objects.using(second_database)
    now = timezone.now()
    today = timezone.localdate(now)
    finishes = []
    for hours, status in [(50, "succeeded"), (5, "succeeded"), (4, "failed")]:
        started = now - timedelta(hours=hours)
        finishes.append(started + timedelta(seconds=2))
        runs.create(
            task_name="elsewhere",
            status=status,
            started_at=started,
            finished_at=finishes[-1],
            duration=timedelta(seconds=2),
        )
    for day, status, bucket in [(today, "succeeded", 1), (today, "succeeded", 44)]:
        days.create(task_name="elsewhere", day=day, status=status, bucket=bucket, runs=1)
    days.create(task_name="elsewhere", day=today, status="failed", bucket=44, runs=1)
    # The history pruned this task's runs; 0.2's run total kept its last finish.
    days.create(task_name="pruned", day=today - timedelta(days=400), status="succeeded", bucket=1)
    days.create(task_name="pruned", day=today - timedelta(days=300), status="succeeded", bucket=1)
    pruned_finish = now - timedelta(days=300)
    totals.create(task_name="pruned", status="succeeded", runs=2, last_finished_at=pruned_finish)
    make_run("default only", age=timedelta(hours=2))

    call_command("migrate", *AFTER, database=second_database, verbosity=0)

    after = MigrationExecutor(connections[second_database]).loader.project_state(AFTER)
    filled = (
        after.apps.get_model("django_housekeeping", "RunDay")
        .objects.using(second_database)
        .values_list("task_name", "day", "status", "bucket", "last_finished_at")
    )
    last = {(task, day, status, bucket): finished for task, day, status, bucket, finished in filled}
    for app_label in ("contenttypes", "auth"):
        call_command("migrate", app_label, database=second_database, verbosity=0)
    assert last == {
        ("elsewhere", today, "failed", 44): finishes[2],
        ("elsewhere", today, "succeeded", 1): None,
        ("elsewhere", today, "succeeded", 44): finishes[1],  # the task and status's latest row
        ("pruned", today - timedelta(days=400), "succeeded", 1): None,
        ("pruned", today - timedelta(days=300), "succeeded", 1): pruned_finish,
    }
