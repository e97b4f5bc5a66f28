"""Which test modules run on all three test databases and which on SQLite alone.

A test module whose behaviour can differ between databases (raw SQL, locks, transactions, claims,
purges, migrations, real processes, ``connection.vendor`` branches, the SQL a query sends) is
*database-sensitive*: ``tests/conftest.py`` gives its tests the marker ``db_sensitive`` and
``scripts/test`` runs them on SQLite, PostgreSQL and MariaDB. The others run once, on SQLite.
``tests/test_db_split.py`` fails when a module that is not listed here does one of those things
(docs/development.md#which-tests-run-on-which-database). When unsure, list it.
"""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent

# Folders (ending in "/") and modules of tests/, by their path in it.
DB_SENSITIVE = (
    # The purge engine, holds, erasure, archives and restores: batched DELETEs, row locks, raw
    # SQL, partitions (PostgreSQL), throttles that read the database's own counters.
    "purging/",
    # The run path: the slot claim, heartbeats, cancellation, retries, dispatch to threads.
    "running/",
    # The leader lease, the slots, the job store, the executors, the real schedulers.
    "scheduling/",
    # Counters kept with upserts and F() updates, the rollup, alerts, their migrations.
    "monitoring/",
    # The example project on the test database: its tasks purge.
    "example/",
    "api/test_erasures.py",
    "api/test_schemathesis.py",
    "api/test_views.py",
    "conf/test_retention_checks.py",
    "management/test_check_scopes.py",
    "management/test_command.py",
    "management/test_configuration_errors.py",
    "tasks/test_context.py",
    "tasks/test_registry.py",
    "tasks/test_retention.py",
    "test_admin.py",
    "test_admin_holds.py",
    "test_admin_runs.py",
    "test_browser.py",
    "test_browser_first_hour.py",
    "test_dashboard.py",
    "test_erasure_scope.py",
    "test_history_indexes.py",
    "test_one_representation.py",
    "test_permissions.py",
    "test_presenters.py",
    "test_retention_preview.py",
    "test_state_changes.py",
    "test_upgrade.py",
)

# Markers that always make a test database-sensitive, wherever it is.
SENSITIVE_MARKERS = ("processes", "workers", "databases")


def relative(path: Path) -> str:
    """``path`` as listed in ``DB_SENSITIVE``: relative to tests/, with forward slashes."""
    return path.resolve().relative_to(TESTS).as_posix()


def is_db_sensitive(path: Path) -> bool:
    """The module at ``path`` is listed, or lies in a listed folder."""
    name = relative(path)
    return any(
        name.startswith(entry) if entry.endswith("/") else name == entry for entry in DB_SENSITIVE
    )
