"""Stopping a run between two steps: cancelled by someone, or past its timeout.

Both are cooperative. A request to cancel is stored on the run's row (``cancel_requested_at``), so
it reaches the run wherever it executes — a thread of this process, another host, a worker of
Django's Tasks framework. The run notices it at its next ``ctx.progress()`` (a purge reports
progress after every committed batch) or ``ctx.note()`` (a purge waiting on a lagging replica
notes it on every wait), which raise :class:`RunCancelled`; the same places raise
:class:`RunTimedOut` once the run has been going longer than its timeout (``timeout=`` of
``@housekeeping_task``, else ``HOUSEKEEPING["DEFAULT_TIMEOUT"]``). A task that never reports
progress cannot be stopped early: it is judged at its end.

Both exceptions are a :class:`~django_housekeeping.purging.engine.StopPurge`: the purge engine
stops between two batches (each committed batch stays committed) and says what it had deleted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING

from django.utils import timezone

from django_housekeeping.conf import housekeeping_settings
from django_housekeeping.models import TaskRun
from django_housekeeping.purging.engine import StopPurge

if TYPE_CHECKING:
    from django_housekeeping.tasks.task import HousekeepingTask


class RunStopped(StopPurge):
    """A run stopped between two steps; ``deleted`` holds what it deleted until then."""


class RunCancelled(RunStopped):
    """Someone asked to cancel the run: it ends ``cancelled`` with what it did so far."""


class RunTimedOut(RunStopped):
    """The run went on longer than its timeout: it ends ``failed``."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"timed out after {seconds:g} s")
        self.seconds = seconds


def timeout_of(task: HousekeepingTask) -> float | None:
    """The seconds a run of ``task`` may take: its ``timeout=``, else ``DEFAULT_TIMEOUT``."""
    if task.timeout is not None:
        return float(task.timeout)
    default = housekeeping_settings.DEFAULT_TIMEOUT
    return float(default) if default else None


def cancel_requested(run_id: int | None) -> bool:
    """Whether someone asked to cancel the active run ``run_id`` (read from the database)."""
    if run_id is None:
        return False
    return TaskRun.objects.filter(
        pk=run_id, status__in=TaskRun.ACTIVE_STATUSES, cancel_requested_at__isnull=False
    ).exists()


def check(
    task: HousekeepingTask, run: TaskRun, deleted: Mapping[str, int], *, timeout: bool = True
) -> None:
    """Raise :class:`RunCancelled` if a cancel was requested (asked of the database), or (with
    ``timeout``) :class:`RunTimedOut` if the run is past its timeout; ``deleted`` is what the run
    deleted so far."""
    stop: RunStopped | None = None
    if cancel_requested(run.pk):
        stop = RunCancelled(f"run #{run.pk} of {task.name} was cancelled")
    elif timeout:
        stop = timed_out(task, run)
    if stop is not None:
        stop.deleted = dict(deleted)
        raise stop


def check_timeout(task: HousekeepingTask, run: TaskRun, deleted: Mapping[str, int]) -> None:
    """Raise :class:`RunTimedOut` if ``run`` is past its timeout."""
    stop = timed_out(task, run)
    if stop is not None:
        stop.deleted = dict(deleted)
        raise stop


def timed_out(task: HousekeepingTask, run: TaskRun) -> RunTimedOut | None:
    """:class:`RunTimedOut` (not raised) if ``run`` has gone on past its timeout, else None."""
    limit = timeout_of(task)
    if limit is None or run.started_at is None:
        return None
    if (timezone.now() - run.started_at).total_seconds() <= limit:
        return None
    return RunTimedOut(limit)


def merged(*counts: Mapping[str, int]) -> dict[str, int]:
    """Rows by model of several purges, added up."""
    total: Counter[str] = Counter()
    for count in counts:
        total.update(count)
    return {label: rows for label, rows in sorted(total.items()) if rows}
