"""Pruning the run history to ``HOUSEKEEPING["HISTORY_DAYS"]``."""

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
