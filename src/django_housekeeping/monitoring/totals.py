"""Run totals: monotonic counters of finished runs and deleted rows, kept in the database
(:class:`~django_housekeeping.models.RunTotal`, :class:`~django_housekeeping.models.DeletionTotal`)
so that every process reads the same numbers and pruning the history does not lower them."""

from __future__ import annotations

from django_housekeeping.models import TaskRun


def record(run: TaskRun) -> None:
    """Add a finished non-dry run to the totals (dry runs and unfinished runs add nothing)."""
