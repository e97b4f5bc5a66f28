"""One scheduled slot: run it through ``run_task`` (its ``(task_name, slot)`` insert is the claim
that makes it run once, whatever process tries), or record slots that will not run.

:func:`run_scheduled_slot` is what the stored jobs name and what the executors call, in the
leader (``"thread"``). With the ``"django_tasks"`` executor the leader calls
:func:`queue_scheduled_slot` instead: the slot is recorded ``queued`` and a worker of Django's Tasks
framework executes it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction

from django_housekeeping.models import TaskRun
from django_housekeeping.monitoring import rollup
from django_housekeeping.running.reconnect import drop_broken_connection
from django_housekeeping.running.runner import SlotAlreadyClaimed, queue_run, run_task
from django_housekeeping.tasks.registry import registry

logger = logging.getLogger("django_housekeeping.scheduler")


def run_scheduled_slot(task_name: str, slot: datetime | None = None) -> TaskRun | None:
    """Run one scheduled slot of a task; ``None`` when another process claimed the slot first.

    This is the function the stored jobs name; the :class:`SlotExecutor` passes the slot. When
    the database connection fails before the run is recorded (the server dropped it between
    runs), the slot is tried once more on a new connection; its claim still makes it run once.
    """
    try:
        return run_task(task_name, trigger=TaskRun.Trigger.SCHEDULE, slot=slot)
    except SlotAlreadyClaimed:
        logger.debug("Slot %s of %s was claimed by another scheduler", slot, task_name)
        return None
    except Exception as exc:
        if not drop_broken_connection(exc):
            raise
        logger.warning(
            "Slot %s of %s: the database connection failed (%s); trying once more on a new one",
            slot,
            task_name,
            exc,
        )
        try:
            return run_task(task_name, trigger=TaskRun.Trigger.SCHEDULE, slot=slot)
        except SlotAlreadyClaimed:
            raise exc from None  # the first attempt had claimed the slot: its error stands


def queue_scheduled_slot(task_name: str, slot: datetime) -> TaskRun | None:
    """Record one scheduled slot ``queued`` and enqueue it on the Tasks framework (the
    ``"django_tasks"`` executor); ``None`` when another process claimed the slot first.

    The leader claims the slot (and the task's active run) here, so that it is enqueued once; an
    enqueue that fails records the run ``failed`` with the reason and does not raise, so the
    scheduler goes on.
    """
    try:
        return queue_run(registry.get(task_name), trigger=TaskRun.Trigger.SCHEDULE, slot=slot)
    except SlotAlreadyClaimed:
        logger.debug("Slot %s of %s was claimed by another scheduler", slot, task_name)
        return None


def record_unrun_slots(task_name: str, slots: list[datetime], status: str, reason: str) -> None:
    """Record slots that will not run as one history row (the last slot claims the row)."""
    if not slots:
        return
    now = datetime.now(UTC)
    try:
        with transaction.atomic():
            run = TaskRun.objects.create(
                task_name=task_name,
                slot=slots[-1],
                trigger=TaskRun.Trigger.SCHEDULE,
                status=status,
                started_at=now,
                finished_at=now,
                duration=timedelta(0),
                result={
                    "reason": reason,
                    "slots": len(slots),
                    "first_slot": slots[0],
                    "last_slot": slots[-1],
                },
            )
    except IntegrityError:
        logger.debug("Slot %s of %s is already in the history", slots[-1], task_name)
    else:
        logger.warning(
            "%s %s slot(s) of %s: %s", status.capitalize(), len(slots), task_name, reason
        )
        # No task_finished for a slot that did not run: the daily rollup (the metrics' counters
        # and the statistics) is told here (the alerts are not: a slot that did not run neither
        # fails nor succeeds).
        try:
            rollup.record(run)
        except Exception:
            logger.exception(
                "Could not count run #%s of %s in %s", run.pk, task_name, rollup.__name__
            )
