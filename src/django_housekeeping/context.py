"""What a task function receives: :class:`TaskContext`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet
from django.utils import timezone

from django_housekeeping.purge import PurgeResult, purge

if TYPE_CHECKING:
    from django_housekeeping.models import TaskRun
    from django_housekeeping.registry import HousekeepingTask


@dataclass
class TaskContext:
    """The run a task function is executing in.

    ``now`` is the slot time of a scheduled run (so a rerun computes the same cutoffs) and the start
    time otherwise; ``options`` is a fresh dict of the task's effective options.
    """

    task: HousekeepingTask
    run: TaskRun
    now: datetime
    dry_run: bool
    options: dict[str, Any]

    def purge(self, queryset: QuerySet[Any]) -> PurgeResult:
        """Delete ``queryset`` and its cascades (only count them in a dry run)."""
        return purge(queryset, dry_run=self.dry_run)

    def progress(self, done: int, total: int | None = None) -> None:
        """Record how far the task has got; also refreshes the run's heartbeat."""
        from django_housekeeping.models import TaskRun

        self.run.progress_done = done
        self.run.progress_total = total
        self.run.heartbeat_at = timezone.now()
        TaskRun.objects.filter(pk=self.run.pk).update(
            progress_done=done, progress_total=total, heartbeat_at=self.run.heartbeat_at
        )
