"""The database a benchmark runs on: SQLite in a file of its own, or a PostgreSQL or MariaDB
server named by ``HOUSEKEEPING_BENCH_POSTGRES_URL`` / ``HOUSEKEEPING_BENCH_MYSQL_URL``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import dj_database_url


def database_settings(db: str, sqlite_path: str, default_urls: Mapping[str, str]) -> dict[str, Any]:
    """Django's ``DATABASES["default"]`` for ``db`` (``sqlite``, ``postgres`` or ``mysql``)."""
    if db == "sqlite":
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": sqlite_path,
            # What makes SQLite safe for several processes (docs/databases.md).
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    url = os.environ.get(f"HOUSEKEEPING_BENCH_{db.upper()}_URL", default_urls[db])
    settings: dict[str, Any] = dj_database_url.parse(url)
    if db == "mysql":
        settings["OPTIONS"] = {"charset": "utf8mb4"}
    return settings


def create_database() -> None:
    """Create the default database on its server when it is missing (SQLite creates its file)."""
    from django.db import connection  # Django is set up by the benchmark before this is called

    name = connection.settings_dict["NAME"]
    if connection.vendor == "postgresql":
        with connection._nodb_cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is None:
                cursor.execute(f'CREATE DATABASE "{name}"')
    elif connection.vendor == "mysql":
        with connection._nodb_cursor() as cursor:
            cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4")


def recreate_database() -> None:
    """Drop and create the default database on its server, empty (SQLite: the benchmark starts
    from a new file)."""
    from django.db import connection  # Django is set up by the benchmark before this is called

    name = connection.settings_dict["NAME"]
    if connection.vendor == "postgresql":
        with connection._nodb_cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
            cursor.execute(f'CREATE DATABASE "{name}"')
    elif connection.vendor == "mysql":
        with connection._nodb_cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
            cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
