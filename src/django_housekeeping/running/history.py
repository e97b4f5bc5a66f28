"""Pruning the run history to ``HOUSEKEEPING["HISTORY_DAYS"]``; what a later run already ended."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from django_housekeeping.conf import housekeeping_settings
from django_housekeeping.models import TaskRun
from django_housekeeping.purging.engine import purge


def prune_history(now: datetime | None = None) -> int:
    """Delete finished runs that started more than HISTORY_DAYS ago; return how many rows went.

    Runs still queued or running are kept whatever their age (the leader marks those whose process
    died ``interrupted`` first, and they go with the next pruning after HISTORY_DAYS).
    """
    cutoff = (now or timezone.now()) - timedelta(days=housekeeping_settings.HISTORY_DAYS)
    old_runs = TaskRun.objects.filter(started_at__lt=cutoff).exclude(
        status__in=TaskRun.ACTIVE_STATUSES
    )
    return purge(old_runs)["total"]


def superseded(run: TaskRun) -> bool:
    """Whether a later run of ``run``'s task has already succeeded: a failure found after the fact
    (a run of a stopped process, marked ``interrupted`` by the first leader of an upgrade, say)
    ends no streak that is still going, so it raises no alert and sends no ``task_failed``."""
    return (
        TaskRun.objects.filter(
            task_name=run.task_name,
            status=TaskRun.Status.SUCCEEDED,
            dry_run=False,
            started_at__gt=run.started_at,
        )
        .exclude(pk=run.pk)
        .exists()
    )
