"""The migration that gives the run totals their history (0008) fills them on the database it
migrates; a counter already higher than the history's keeps its value."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from tests.helpers import make_run
from tests.monitoring.test_rollup_migration import second_database  # noqa: F401  (a fixture)

BEFORE = ("django_housekeeping", "0007_rollup_generation")


@pytest.mark.django_db(transaction=True, databases=["default", "second"])
def test_the_totals_are_filled_from_the_history_of_the_database_migrated(
    second_database: str,  # noqa: F811
) -> None:
    call_command("migrate", *BEFORE[:1], BEFORE[1], database=second_database, verbosity=0)
    state = MigrationExecutor(connections[second_database]).loader.project_state(BEFORE)
    runs = state.apps.get_model("django_housekeeping", "TaskRun").objects.using(second_database)
    totals = state.apps.get_model("django_housekeeping", "RunTotal").objects.using(second_database)
    now = timezone.now()
    for hours, status, deleted in [(5, "succeeded", 3), (4, "failed", 0), (3, "succeeded", 4)]:
        started = now - timedelta(hours=hours)
        runs.create(
            task_name="elsewhere",
            status=status,
            started_at=started,
            finished_at=started + timedelta(seconds=2),
            duration=timedelta(seconds=2),
            result={"deleted": {"a.B": deleted}, "total": deleted} if deleted else None,
        )
    runs.create(task_name="elsewhere", status="running", started_at=now)  # not counted yet
    runs.create(  # a dry run is never counted
        task_name="elsewhere",
        status="succeeded",
        dry_run=True,
        started_at=now,
        finished_at=now,
        result={"deleted": {"a.B": 9}},
    )
    # A counter that already counts runs the history pruned since keeps its value.
    totals.create(task_name="pruned", status="succeeded", runs=7, seconds=1.5)
    make_run("default only", age=timedelta(hours=2))

    call_command("migrate", "django_housekeeping", "0008", database=second_database, verbosity=0)

    with connections[second_database].cursor() as cursor:
        cursor.execute(
            "SELECT task_name, status, runs, seconds FROM django_housekeeping_runtotal "
            "ORDER BY task_name, status"
        )
        run_totals = cursor.fetchall()
        cursor.execute("SELECT last_finished_at FROM django_housekeeping_runtotal")
        cursor.execute(
            "SELECT task_name, model, rows FROM django_housekeeping_deletiontotal ORDER BY model"
        )
        deletions = cursor.fetchall()
    for app_label in ("contenttypes", "auth"):
        call_command("migrate", app_label, database=second_database, verbosity=0)
    assert [(name, status, count, float(s)) for name, status, count, s in run_totals] == [
        ("elsewhere", "failed", 1, 2.0),
        ("elsewhere", "succeeded", 2, 4.0),
        ("pruned", "succeeded", 7, 1.5),
    ]
    assert deletions == [("elsewhere", "a.B", 7)]
