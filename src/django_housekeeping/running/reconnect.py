"""Surviving a database connection the server dropped (killed, restarted, failed over), and a
transaction the database chose as a deadlock's victim.

Django notices a broken connection only when a query on it fails; the query is lost. The runner
uses :func:`drop_broken_connection` to save a run's outcome once more on a new connection (a run
left ``running`` would keep its task's later runs skipped until its ``timeout``), and the
scheduler's executor to try a slot once more when the connection failed before the run began.
"""

from __future__ import annotations

from contextlib import suppress

from django.db import Error, OperationalError, connections, router

from django_housekeeping.models import TaskRun


def drop_broken_connection(exc: BaseException) -> bool:
    """Close the run history's database connection after the database error ``exc``, so the
    next query opens a new one; ``False`` (nothing done) when ``exc`` is not a database error or
    the connection is inside a transaction, which belongs to the caller and must fail with it."""
    wrapper = connections[router.db_for_write(TaskRun)]
    # Django lets some driver errors through unwrapped (closing a cursor on a dead MySQL
    # connection raises the driver's own). Every backend has ``Database``; the stubs don't say so.
    driver_error: type[Exception] = wrapper.Database.Error  # type: ignore[attr-defined]
    if not isinstance(exc, Error | driver_error) or wrapper.in_atomic_block:
        return False
    with suppress(Error, driver_error):
        wrapper.close()
    return True


# MySQL/MariaDB's "Deadlock found when trying to get lock" (its error number is the first
# argument of the driver's error, which Django's copies) and PostgreSQL's deadlock_detected.
MYSQL_DEADLOCK = 1213
POSTGRES_DEADLOCK = "40P01"


def is_deadlock(exc: BaseException) -> bool:
    """Whether the database rolled back ``exc``'s transaction as a deadlock's victim: the same
    work, tried again, usually goes through (InnoDB takes gap and duplicate-key locks that two
    inserts of one unique key may deadlock on)."""
    if not isinstance(exc, OperationalError):
        return False
    if exc.args and exc.args[0] == MYSQL_DEADLOCK:
        return True
    return getattr(exc.__cause__, "sqlstate", None) == POSTGRES_DEADLOCK
