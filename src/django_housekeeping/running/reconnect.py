"""Surviving a database connection the server dropped (killed, restarted, failed over).

Django notices a broken connection only when a query on it fails; the query is lost. The runner
uses :func:`drop_broken_connection` to save a run's outcome once more on a new connection (a run
left ``running`` would keep its task's later runs skipped until its ``timeout``), and the
scheduler's executor to try a slot once more when the connection failed before the run began.
"""

from __future__ import annotations

from contextlib import suppress

from django.db import Error, connections, router

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
