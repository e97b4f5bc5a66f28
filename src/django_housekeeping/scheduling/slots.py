"""One scheduled slot: run it through ``run_task`` (its ``(task_name, slot)`` insert is the claim
that makes it run once, whatever process tries), or record slots that will not run.

A task paused in the admin (its :class:`~django_housekeeping.models.TaskState`) keeps its job:
each of its slots is recorded ``skipped``, the reason saying who paused it and when, through the
same claim, so once whatever process tries (:func:`current_pause`). Resuming it runs its next slot.

:func:`run_scheduled_slot` is what the stored jobs name and what the executors call, in the
leader (``"thread"``). With the ``"django_tasks"`` executor the leader calls
:func:`queue_scheduled_slot` instead: the slot is recorded ``queued`` and a worker of Django's Tasks
framework executes it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction

from django_housekeeping.models import TaskRun, TaskState, TaskStateChange
from django_housekeeping.monitoring import rollup
from django_housekeeping.running.reconnect import drop_broken_connection
from django_housekeeping.running.runner import SlotAlreadyClaimed, queue_run, run_task
from django_housekeeping.tasks.registry import registry

logger = logging.getLogger("django_housekeeping.scheduler")


@dataclass(frozen=True)
class Pause:
    """Why a task's slots are skipped: the reason its rows give, and the change that paused it."""

    reason: str
    change: TaskStateChange | None


def current_pause(task_name: str) -> Pause | None:
    """The pause of ``task_name`` now (``None``: not paused), read from the database at each slot,
    so that pausing and resuming take effect at the next slot, in whichever process leads."""
    if not TaskState.objects.filter(task_name=task_name, paused=True).exists():
        return None
    change = (
        TaskStateChange.objects.select_related("changed_by")
        .filter(task_name=task_name, paused_before=False, paused_after=True)
        .order_by("-changed_at", "-id")
        .first()
    )
    if change is None:  # paused before changes were recorded, or written directly
        return Pause("the task is paused", None)
    who = f" by {change.changed_by.get_username()}" if change.changed_by is not None else ""
    return Pause(
        f"paused{who} ({change.get_via_display()}) at {change.changed_at:%Y-%m-%d %H:%M} UTC",
        change,
    )


def skip_paused_slots(task_name: str, slots: list[datetime], pause: Pause) -> TaskRun | None:
    """Record the slots of a paused task ``skipped`` as one row (see :func:`record_unrun_slots`)."""
    return record_unrun_slots(
        task_name,
        slots,
        TaskRun.Status.SKIPPED,
        pause.reason,
        state_change=pause.change,
        log_level=logging.INFO,
    )


def run_scheduled_slot(task_name: str, slot: datetime | None = None) -> TaskRun | None:
    """Run one scheduled slot of a task; ``None`` when another process claimed the slot first.

    This is the function the stored jobs name; the :class:`SlotExecutor` passes the slot. A paused
    task's slot is recorded ``skipped`` instead (returned). When the database connection fails
    before the run is recorded (the server dropped it between runs), the slot is tried once more
    on a new connection; its claim still makes it run once.
    """
    try:
        return _run_slot(task_name, slot)
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
            return _run_slot(task_name, slot)
        except SlotAlreadyClaimed:
            raise exc from None  # the first attempt had claimed the slot: its error stands


def _run_slot(task_name: str, slot: datetime | None) -> TaskRun | None:
    pause = current_pause(task_name)
    if pause is not None:
        return skip_paused_slots(task_name, [slot or datetime.now(UTC)], pause)
    return run_task(task_name, trigger=TaskRun.Trigger.SCHEDULE, slot=slot)


def queue_scheduled_slot(task_name: str, slot: datetime) -> TaskRun | None:
    """Record one scheduled slot ``queued`` and enqueue it on the Tasks framework (the
    ``"django_tasks"`` executor); ``None`` when another process claimed the slot first.

    The leader claims the slot (and the task's active run) here, so that it is enqueued once; an
    enqueue that fails records the run ``failed`` with the reason and does not raise, so the
    scheduler goes on. A paused task's slot is recorded ``skipped`` instead, and not enqueued.
    """
    pause = current_pause(task_name)
    if pause is not None:
        return skip_paused_slots(task_name, [slot], pause)
    try:
        return queue_run(registry.get(task_name), trigger=TaskRun.Trigger.SCHEDULE, slot=slot)
    except SlotAlreadyClaimed:
        logger.debug("Slot %s of %s was claimed by another scheduler", slot, task_name)
        return None


def record_unrun_slots(
    task_name: str,
    slots: list[datetime],
    status: str,
    reason: str,
    *,
    state_change: TaskStateChange | None = None,
    log_level: int = logging.WARNING,
) -> TaskRun | None:
    """Record slots that will not run as one history row (the last slot claims the row); return
    it, or ``None`` when there are no slots or another process recorded the last one first.
    ``state_change`` is the change of the task's state that explains the row (a pause)."""
    if not slots:
        return None
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
                state_change=state_change,
                result={
                    "reason": reason,
                    "slots": len(slots),
                    "first_slot": slots[0],
                    "last_slot": slots[-1],
                },
            )
    except IntegrityError:
        logger.debug("Slot %s of %s is already in the history", slots[-1], task_name)
        return None
    logger.log(
        log_level, "%s %s slot(s) of %s: %s", status.capitalize(), len(slots), task_name, reason
    )
    # No task_finished for a slot that did not run: the daily rollup (the metrics' counters and
    # the statistics) is told here (the alerts and the cron monitors are not: a slot that did not
    # run neither fails nor succeeds).
    try:
        rollup.record(run)
    except Exception:
        logger.exception("Could not count run #%s of %s in %s", run.pk, task_name, rollup.__name__)
    return run
