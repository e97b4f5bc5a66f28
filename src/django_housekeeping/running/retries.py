"""Retries: an ``interrupted`` run (its process died) or a run that timed out (``failed``, "timed
out after N s") run again, as a new attempt of its slot.

A task declares how many times (``@housekeeping_task(retries=N)``, or ``HOUSEKEEPING["TASKS"]
[name]["retries"]``; default 0). The scheduler's leader calls :func:`retry_interrupted` on every
tick, after marking the runs whose heartbeat stopped: each interrupted run whose attempt is
within its task's retries gets one new run — the same task, slot, trigger, person and dry-run
flag, attempt + 1, ``retry_of`` the interrupted run — recorded ``queued`` and executed the way the
executor executes runs (a worker of the Tasks framework, or a thread of the leader).

Exactly once per attempt: the new run's insert claims ``retry_of`` (unique) and, for a scheduled
run, its ``(task, slot, attempt)``; a second leader's insert fails and it moves on. A retry waits
while another run of its task is active, and is not made once the interruption is older than the
task's misfire grace (a retry is a late run of its slot).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import IntegrityError
from django.db.models import Q
from django.utils import timezone

from django_housekeeping.models import TaskRun
from django_housekeeping.running.runner import queue_run
from django_housekeeping.tasks.registry import registry

logger = logging.getLogger("django_housekeeping")

# How the error of a run that timed out begins (running/cancel.py).
TIMED_OUT = "timed out after "


def retry_interrupted(now: datetime | None = None) -> list[TaskRun]:
    """Record and dispatch a new attempt of each interrupted run that its task retries; return
    the new runs."""
    now = now or timezone.now()
    tasks = {task.name: task for task in registry if task.retries > 0}
    if not tasks:
        return []
    longest_grace = max(task.misfire_grace for task in tasks.values())
    candidates = TaskRun.objects.filter(
        Q(status=TaskRun.Status.INTERRUPTED)
        | Q(status=TaskRun.Status.FAILED, error__startswith=TIMED_OUT),
        parent__isnull=True,
        retried_by__isnull=True,
        task_name__in=tasks,
        finished_at__gte=now - timedelta(seconds=longest_grace),
    ).select_related("triggered_by")
    retried = []
    for run in candidates.order_by("pk"):
        task = tasks[run.task_name]
        if run.attempt > task.retries or run.finished_at is None:
            continue
        if now - run.finished_at > timedelta(seconds=task.misfire_grace):
            continue
        try:
            new = queue_run(
                task,
                trigger=run.trigger,
                slot=run.slot,
                user=run.triggered_by,
                dry_run=run.dry_run,
                attempt=run.attempt + 1,
                retry_of=run,
            )
        except IntegrityError:  # another leader retried it first (SlotAlreadyClaimed included)
            logger.debug("Run #%s of %s was already retried", run.pk, run.task_name)
            continue
        if new is None:
            continue  # another run of the task is active: the next tick tries again
        logger.warning(
            "Retrying %s (run #%s was interrupted): attempt %s of %s, run #%s",
            run.task_name,
            run.pk,
            new.attempt,
            task.retries + 1,
            new.pk,
        )
        retried.append(new)
    return retried
