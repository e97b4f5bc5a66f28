"""Turning the scheduler's due slots into runs: misfires, coalescing, overlap, connections.

APScheduler hands an executor a job and the list of times it was due. :class:`SlotExecutor`
decides, per the task's policy, which of those slots run (each through ``run_task`` with its
slot, so the ``(task_name, slot)`` insert makes it exactly-once across processes), which were
missed, and records the rest in the history; a paused task's slots are all recorded skipped.
Database connections are closed after each job so that a connection killed between runs never
reaches the next one; a slot whose connection broke before its run began is tried once more on a
new one.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from django.db import close_old_connections, connections

from django_housekeeping import compat
from django_housekeeping.conf import housekeeping_settings
from django_housekeeping.models import TaskRun
from django_housekeeping.scheduling.slots import (
    current_pause,
    queue_scheduled_slot,
    record_unrun_slots,
    run_scheduled_slot,
    skip_paused_slots,
)
from django_housekeeping.tasks.registry import NotRegistered, registry

logger = logging.getLogger("django_housekeeping.scheduler")


class SlotExecutor(compat.JobPoolExecutor):
    """A thread pool that runs due slots per the task's misfire and coalescing policy.

    It does not ask whether this scheduler still leads: by the time APScheduler hands over the
    slots it has already moved the shared job's next run time past them, so dropping them would
    lose them. The unique ``(task_name, slot)`` claim is the fence — a scheduler that woke up after
    losing its lease can only run a slot nobody else has claimed.
    """

    def __init__(self, max_workers: int = 4) -> None:
        super().__init__(max_workers=max_workers)

    def run_job(self, job: Any, run_times: list[datetime]) -> list[JobExecutionEvent]:
        close_old_connections()
        try:
            return self._run_due(job, run_times)
        finally:
            connections.close_all()

    def _run_due(self, job: Any, run_times: list[datetime]) -> list[JobExecutionEvent]:
        task_name = job.args[0]
        try:
            task = registry.get(task_name)
        except NotRegistered:
            logger.error("Scheduled task %s is no longer registered; not running it", task_name)
            return []
        now = datetime.now(UTC)
        grace = timedelta(seconds=task.misfire_grace)
        late = [slot for slot in run_times if now - slot > grace]
        on_time = [slot for slot in run_times if now - slot <= grace]
        pause = current_pause(task_name)
        if pause is not None:
            # A paused task's late slots would not have run either: skipped, not missed. Its
            # on-time slots are each recorded skipped by run_scheduled_slot/queue_scheduled_slot.
            skip_paused_slots(task_name, late, pause)
            return [self._run_or_enqueue(job, task_name, slot) for slot in on_time]
        to_run = on_time[-1:] if task.coalesce else on_time
        record_unrun_slots(
            task_name, late, TaskRun.Status.MISSED, f"more than {task.misfire_grace:g} s late"
        )
        record_unrun_slots(
            task_name,
            on_time[: len(on_time) - len(to_run)],
            TaskRun.Status.SKIPPED,
            "coalesced into a later slot",
        )
        return [self._run_or_enqueue(job, task_name, slot) for slot in to_run]

    @staticmethod
    def _run_or_enqueue(job: Any, task_name: str, slot: datetime) -> JobExecutionEvent:
        """Run the slot here (``"thread"``) or enqueue it on Django's Tasks framework."""
        if housekeeping_settings.EXECUTOR == "django_tasks":
            run = queue_scheduled_slot(task_name, slot)
        else:
            run = run_scheduled_slot(task_name, slot=slot)
        failed = run is not None and run.status == TaskRun.Status.FAILED
        return JobExecutionEvent(
            EVENT_JOB_ERROR if failed else EVENT_JOB_EXECUTED,
            job.id,
            compat.jobstore_alias(job),
            slot,
            retval=run.pk if run is not None else None,
        )
