"""Run totals: monotonic counters of finished runs and deleted rows, kept in the database
(:class:`~django_housekeeping.models.RunTotal`, :class:`~django_housekeeping.models.DeletionTotal`)
so that every process reads the same numbers and pruning the history does not lower them.

:func:`record` is called for every finished run (a receiver of ``task_finished``), in the process
that ran it. Every finished status the signal brings is counted (succeeded, failed, skipped,
interrupted); dry runs and unfinished runs are not. A group's run counts only the rows of its own
result's ``deleted``: each member's run records its own rows.

The counters are incremented in the database (``UPDATE ... SET runs = runs + 1``), so two
processes finishing runs at once both count; the first run of a task inserts its row, and if
another process inserted it meanwhile, the increment is retried as an update.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, router, transaction
from django.db.models import F, Model, Q

from django_housekeeping.models import DeletionTotal, RunTotal, TaskRun, deletion_counts

# Two processes may insert a counter's first row at once: the loser updates the winner's row.
ATTEMPTS = 3


def record(run: TaskRun) -> None:
    """Add a finished non-dry run to the totals (dry runs and unfinished runs add nothing)."""
    if run.dry_run or not run.is_finished:
        return
    increment(
        RunTotal,
        {"task_name": run.task_name, "status": run.status},
        runs=1,
        seconds=run.duration_seconds or 0.0,
    )
    if run.finished_at is not None:
        # The latest finish, whichever process records last: a run that finished earlier but is
        # recorded later does not move it back.
        RunTotal.objects.filter(task_name=run.task_name, status=run.status).filter(
            Q(last_finished_at__isnull=True) | Q(last_finished_at__lt=run.finished_at)
        ).update(last_finished_at=run.finished_at)
    for label, rows in sorted(deletion_counts(run.result, members=False).items()):
        increment(DeletionTotal, {"task_name": run.task_name, "model": label}, rows=rows)


def increment(model: type[Model], key: dict[str, Any], **amounts: float) -> None:
    """Add ``amounts`` to the fields of ``model``'s row ``key``, inserting it when missing."""
    using = router.db_for_write(model)
    manager = model._default_manager.db_manager(using)
    for _attempt in range(ATTEMPTS):
        if manager.filter(**key).update(**{field: F(field) + n for field, n in amounts.items()}):
            return
        try:
            # A savepoint, when the caller is inside a transaction: the IntegrityError of a lost
            # race must not break it.
            with transaction.atomic(using=using):
                manager.create(**key, **amounts)
            return
        except IntegrityError as exc:
            error = exc  # inserted by another process meanwhile: update its row
    raise error
