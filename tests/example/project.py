"""The example project, run as its users run it: ``python example_project/manage.py ...`` in a
subprocess with its own settings, on a throwaway database of the kind this test run uses
(``HOUSEKEEPING_TEST_DB``: sqlite, postgres or mysql)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import dj_database_url
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "example_project"
RESULT_MARKER = "@@result@@"  # what scenario.emit() prints before its JSON
T = TypeVar("T")

# Runs before the code a test hands to ExampleSite.python(): Django with the example's settings,
# and the helpers of tests/example/scenario.py.
BOOT = """
import django
django.setup()
from tests.example.scenario import *  # reset, user, conversation, message, state, emit, ...
"""


def vendor() -> str:
    """``sqlite``, ``postgres`` or ``mysql``: the database this test run uses."""
    return str(settings.TEST_DB)


class ServerDatabase:
    """A database of its own on the PostgreSQL or MariaDB server of this test run."""

    def __init__(self, name: str) -> None:
        self.name = name
        parts = urlsplit(settings.DATABASE_URLS[vendor()])
        self.url = urlunsplit(parts._replace(path=f"/{name}"))
        self.config = dj_database_url.parse(self.url)

    def _execute(self, *statements: str) -> None:
        host = self.config["HOST"] or "127.0.0.1"
        user = self.config["USER"]
        password = self.config["PASSWORD"] or ""
        if vendor() == "postgres":
            import psycopg

            port = int(self.config["PORT"] or 5432)
            with psycopg.connect(
                host=host,
                port=port,
                user=user,
                password=password or None,
                dbname="postgres",
                autocommit=True,
            ) as connection:
                for statement in statements:
                    connection.execute(statement)
        else:
            import MySQLdb

            port = int(self.config["PORT"] or 3306)
            connection = MySQLdb.connect(host=host, port=port, user=user, passwd=password)
            try:
                with connection.cursor() as cursor:
                    for statement in statements:
                        cursor.execute(statement)
            finally:
                connection.close()

    def create(self) -> None:
        self.drop()
        if vendor() == "postgres":
            self._execute(f'CREATE DATABASE "{self.name}"')
        else:
            self._execute(
                f"CREATE DATABASE `{self.name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )

    def drop(self) -> None:
        if vendor() == "postgres":
            self._execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        else:
            self._execute(f"DROP DATABASE IF EXISTS `{self.name}`")


def database_name(suffix: str) -> str:
    """A database name of this test run's own (``HOUSEKEEPING_TEST_DB_NAME``) plus ``suffix``."""
    return f"{os.environ.get('HOUSEKEEPING_TEST_DB_NAME', 'test_housekeeping')}_{suffix}"


def example_environment(database_url: str | None, **extra: str) -> dict[str, str]:
    """The environment of an example process: its settings, its database, UTC."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "HOUSEKEEPING_TEST_MODE"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="core.settings",
        TIME_ZONE="UTC",
        PYTHONUNBUFFERED="1",
        # For `import tests.example.scenario` in ExampleSite.python().
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    env.update(extra)
    return env


class ExampleSite:
    """The example project on one database."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    def env(self, **extra: str) -> dict[str, str]:
        return example_environment(self.database_url, **extra)

    def manage(
        self, *args: str, check: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``python example_project/manage.py ARGS``; fails the test if it fails and ``check``."""
        return self._run(
            [sys.executable, "-W", "error::DeprecationWarning", str(EXAMPLE / "manage.py"), *args],
            check=check,
            env=env,
        )

    def python(self, code: str, *, reset: bool = True, env: dict[str, str] | None = None) -> Any:
        """Run ``code`` in an example process; return what it passed to ``emit()``.

        With ``reset`` every user, conversation, message and run is deleted first.
        """
        process = self.run_python(code, reset=reset, env=env)
        for line in reversed(process.stdout.splitlines()):
            if line.startswith(RESULT_MARKER):
                return json.loads(line[len(RESULT_MARKER) :])
        raise AssertionError(f"the script emitted nothing:\n{process.stdout}\n{process.stderr}")

    def run_python(
        self,
        code: str,
        *,
        reset: bool = True,
        check: bool = True,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``code`` in an example process and return the finished process."""
        script = BOOT + ("reset()\n" if reset else "") + code
        return self._run(
            [sys.executable, "-W", "error::DeprecationWarning", "-c", script], check=check, env=env
        )

    def _run(
        self, command: list[str], *, check: bool, env: dict[str, str] | None
    ) -> subprocess.CompletedProcess[str]:
        process = subprocess.run(
            command,
            cwd=EXAMPLE,
            env=env or self.env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if check and process.returncode != 0:
            raise AssertionError(
                f"{' '.join(command[-3:])} exited with {process.returncode}\n"
                f"--- stdout\n{process.stdout}\n--- stderr\n{process.stderr}"
            )
        return process
