"""Every ``housekeeping`` subcommand on a site with a configuration error prints the system
check errors and exits non-zero in one short block, without a traceback — as Django's own
commands do. A bad cron in a decorator is such an error, and stops no other command."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

REPO_ROOT = Path(__file__).resolve().parent.parent.parent

BAD_CRON_APP = """
from django_housekeeping import housekeeping_task


@housekeeping_task(name="weekly", schedule="0 3 * * sunday")
def weekly():
    pass
"""

SETTINGS = """
from tests.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "hk_bad_cron_app"]  # noqa: F405
HOUSEKEEPING = {"TASK": {"weekly": {"enabled": False}}}  # a typo: TASKS
"""

Run = Callable[..., "subprocess.CompletedProcess[str]"]

pytestmark = pytest.mark.django_db


def bad_cron_site(tmp_path: Path, settings_module: str, settings_text: str) -> Run:
    """``run(*args)``: ``python -m django ARGS`` in a new process, on a site (the settings module
    ``settings_module``, written with ``settings_text``) one of whose apps declares a task with a
    bad cron."""
    app = tmp_path / "hk_bad_cron_app"
    app.mkdir()
    (app / "__init__.py").write_text("")
    (app / "housekeeping.py").write_text(BAD_CRON_APP)
    (tmp_path / f"{settings_module}.py").write_text(settings_text)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "PYTHONPATH": os.pathsep.join(
            [str(tmp_path), str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "django", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return run


@pytest.fixture
def django_admin(tmp_path: Path) -> Run:
    """``django_admin(*args)``: ``python -m django ARGS`` in a new process, on a site whose
    settings have a typo and one of whose apps declares a task with a bad cron."""
    name = settings.DATABASES["default"]["NAME"]
    if connection.vendor == "sqlite":
        name = os.path.abspath(name)
    # On the test database: `check` goes on to the health, which reads it.
    return bad_cron_site(
        tmp_path,
        "hk_bad_site_settings",
        f'{SETTINGS}\nDATABASES["default"]["NAME"] = {name!r}  # noqa: F405\n',
    )


E003 = "(django_housekeeping.E003) HOUSEKEEPING has an unknown key 'TASK'."
E016 = (
    "(django_housekeeping.E016) Task 'weekly' declares an invalid schedule: "
    "schedule='0 3 * * sunday': invalid cron expression '0 3 * * sunday': invalid weekday name "
    "'sunday'."
)


@pytest.mark.parametrize(
    "args",
    [
        ["list"],
        ["list", "--json"],
        ["run", "weekly"],
        ["run", "--all", "--dry-run"],
        ["history"],
        ["status"],
        ["scheduler"],
        ["restore", "missing.jsonl.gz"],
        ["erase", "auth.User", "1", "--reason", "asked"],
    ],
    ids=lambda args: " ".join(args),
)
def test_every_subcommand_stops_with_the_check_errors(django_admin: Run, args: list[str]) -> None:
    outcome = django_admin("housekeeping", *args)

    assert outcome.returncode == 1
    assert outcome.stdout == ""
    assert "Traceback" not in outcome.stderr
    assert outcome.stderr.startswith("SystemCheckError: System check identified some issues:")
    assert E003 in outcome.stderr
    assert E016 in outcome.stderr
    assert len(outcome.stderr.splitlines()) <= 12, outcome.stderr


def test_check_reports_them_and_exits_1(django_admin: Run) -> None:
    outcome = django_admin("housekeeping", "check")

    assert outcome.returncode == 1
    assert "Traceback" not in outcome.stderr
    assert "django_housekeeping.E003: HOUSEKEEPING has an unknown key 'TASK'." in outcome.stdout
    assert "django_housekeeping.E016: Task 'weekly' declares an invalid schedule" in outcome.stdout


def test_a_bad_cron_in_a_decorator_stops_no_other_command(django_admin: Run) -> None:
    shell = django_admin(
        "shell",
        "-c",
        "from django_housekeeping import registry; print(registry.get('weekly').name)",
    )
    assert shell.returncode == 0, shell.stderr
    assert shell.stdout.endswith("weekly\n")

    checked = django_admin("check", "--tag", "django_housekeeping")
    assert checked.returncode == 1
    assert "Traceback" not in checked.stderr
    assert E016 in checked.stderr


def test_migrate_goes_on_with_a_bad_cron_in_a_decorator(tmp_path: Path) -> None:
    """A bad cron declared in code keeps no deploy from migrating: checks run for a database
    (``migrate``) report E016 as a warning, and the migrations apply; every other command still
    stops on it as an error."""
    database = tmp_path / "fresh.sqlite3"
    run = bad_cron_site(
        tmp_path,
        "hk_cron_only_settings",
        "from tests.settings import *  # noqa: F403\n"
        'INSTALLED_APPS = [*INSTALLED_APPS, "hk_bad_cron_app"]  # noqa: F405\n'
        'DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", '
        f'"NAME": {str(database)!r}}}}}\n',
    )

    migrated = run("migrate", "--verbosity", "1")
    assert migrated.returncode == 0, migrated.stderr
    assert "WARNINGS:" in migrated.stderr
    assert E016 in migrated.stderr
    assert "Applying django_housekeeping.0001_initial... OK" in migrated.stdout

    listed = run("housekeeping", "list")
    assert listed.returncode == 1
    assert listed.stderr.startswith("SystemCheckError: System check identified some issues:")
    assert E016 in listed.stderr
