"""The migration that creates the rollup fills it on the database it migrates."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from tests.helpers import make_run

BEFORE = ("django_housekeeping", "0003_monitoring")


@pytest.fixture(scope="module")
def second_database(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A second database, ``second``: an SQLite file (closed and forgotten afterwards). Module
    scoped, so it exists when the test case that lists it is set up."""
    connections.settings["second"] = {
        **connections["default"].settings_dict,
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(tmp_path_factory.mktemp("second") / "second.sqlite3"),
        "OPTIONS": {},
        "TEST": {**connections["default"].settings_dict["TEST"], "NAME": None, "MIRROR": None},
    }
    try:
        yield "second"
    finally:
        connections["second"].close()
        del connections["second"]
        del connections.settings["second"]


@pytest.mark.django_db(transaction=True, databases=["default", "second"])
def test_the_rollup_is_filled_from_the_history_of_the_database_migrated(
    second_database: str,
) -> None:
    call_command("migrate", *BEFORE[:1], BEFORE[1], database=second_database, verbosity=0)
    executor = MigrationExecutor(connections[second_database])
    state = executor.loader.project_state(BEFORE)
    two_days_ago = timezone.now() - timedelta(days=2)
    state.apps.get_model("django_housekeeping", "TaskRun").objects.using(second_database).create(
        task_name="elsewhere",
        status="succeeded",
        started_at=two_days_ago,
        finished_at=two_days_ago,
        duration=timedelta(seconds=2),
        result={"deleted": {"a.B": 3}, "total": 3},
    )
    make_run("default only", result={"deleted": {"a.B": 5}, "total": 5}, age=timedelta(days=2))

    call_command("migrate", "django_housekeeping", "0004", database=second_database, verbosity=0)

    with connections[second_database].cursor() as cursor:
        cursor.execute("SELECT task_name, runs FROM django_housekeeping_runday")
        runs = cursor.fetchall()
        cursor.execute("SELECT task_name, model, rows FROM django_housekeeping_deletionday")
        deletions = cursor.fetchall()
    # The test case flushes the database afterwards, and then fills in the content types and
    # permissions (post_migrate): their apps migrated to the end.
    for app_label in ("contenttypes", "auth"):
        call_command("migrate", app_label, database=second_database, verbosity=0)
    assert runs == [("elsewhere", 1)]
    assert deletions == [("elsewhere", "a.B", 3)]
