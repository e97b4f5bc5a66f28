"""Run totals: monotonic counters of finished runs and deleted rows, kept in the database
(:class:`~django_housekeeping.models.RunTotal`, :class:`~django_housekeeping.models.DeletionTotal`)
so that every process reads the same numbers and pruning the history does not lower them.

:func:`record` is called for every finished run (a receiver of ``task_finished``), in the process
that ran it. Every finished status the signal brings is counted (succeeded, failed, skipped,
interrupted, cancelled); dry runs and unfinished runs are not. A group's run counts only the rows
of its own result's ``deleted``: each member's run records its own rows.

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


def rebuild(
    run_model: type[Model] = TaskRun,
    run_total_model: type[Model] = RunTotal,
    deletion_total_model: type[Model] = DeletionTotal,
    *,
    keep_higher: bool = False,
    chunk_size: int = 5000,
    using: str | None = None,
) -> None:
    """Recompute the totals from the history, in one transaction, on the database ``using``
    (default: the router's for the totals); the models may be a migration's historical ones.

    With ``keep_higher`` (the upgrade's migration), a counter already higher than the history's
    keeps its value (it counts runs the history has pruned since); without (``housekeeping
    rebuild``, after the history was edited by hand), every counter is the history's.
    """
    using = using or router.db_for_write(run_total_model)
    runs: dict[tuple[str, str], dict[str, Any]] = {}
    deletions: dict[tuple[str, str], int] = {}
    active = [str(status) for status in TaskRun.ACTIVE_STATUSES]
    history = (
        run_model._default_manager.db_manager(using)
        .filter(dry_run=False)
        .exclude(status__in=active)
        .values_list("task_name", "status", "finished_at", "duration", "result")
    )
    for name, status, finished_at, duration, result in history.iterator(chunk_size=chunk_size):
        total = runs.setdefault(
            (name, status), {"runs": 0, "seconds": 0.0, "last_finished_at": None}
        )
        total["runs"] += 1
        total["seconds"] += duration.total_seconds() if duration is not None else 0.0
        if finished_at is not None and (
            total["last_finished_at"] is None or finished_at > total["last_finished_at"]
        ):
            total["last_finished_at"] = finished_at
        for label, rows in deletion_counts(result, members=False).items():
            deletions[(name, label)] = deletions.get((name, label), 0) + rows
    run_totals = run_total_model._default_manager.db_manager(using)
    deletion_totals = deletion_total_model._default_manager.db_manager(using)
    with transaction.atomic(using=using):
        if keep_higher:
            for row in run_totals.select_for_update().all():
                total = runs.setdefault(
                    (row.task_name, row.status),  # type: ignore[attr-defined]
                    {"runs": 0, "seconds": 0.0, "last_finished_at": None},
                )
                if row.runs > total["runs"]:  # type: ignore[attr-defined]
                    total["runs"] = row.runs  # type: ignore[attr-defined]
                    total["seconds"] = row.seconds  # type: ignore[attr-defined]
                finished = row.last_finished_at  # type: ignore[attr-defined]
                if finished is not None and (
                    total["last_finished_at"] is None or finished > total["last_finished_at"]
                ):
                    total["last_finished_at"] = finished
            for row in deletion_totals.select_for_update().all():
                key = (row.task_name, row.model)  # type: ignore[attr-defined]
                deletions[key] = max(deletions.get(key, 0), row.rows)  # type: ignore[attr-defined]
        run_totals.all().delete()
        deletion_totals.all().delete()
        run_totals.bulk_create(
            [
                run_total_model(task_name=name, status=status, **total)
                for (name, status), total in sorted(runs.items())
            ],
            batch_size=1000,
        )
        deletion_totals.bulk_create(
            [
                deletion_total_model(task_name=name, model=label, rows=rows)
                for (name, label), rows in sorted(deletions.items())
            ],
            batch_size=1000,
        )
