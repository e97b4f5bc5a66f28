"""The plan: which tasks the scheduler keeps in its job store, and on which schedule.

A task is planned when it is enabled and has a schedule; its schedule is the admin's override
(:class:`~django_housekeeping.models.TaskState`), else the settings', else the code's. A task
paused in the admin stays planned, marked ``paused``: its job stays in the store and each slot its
schedule reaches is recorded ``skipped`` instead of run
(:mod:`django_housekeeping.scheduling.slots`), so that resuming it runs its next slot. The
scheduler's leader keeps its job store in line with the plan; the health judges the planned tasks
that are not paused (overdue or not).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django_housekeeping.models import TaskState
from django_housekeeping.tasks.registry import registry
from django_housekeeping.tasks.schedules import InvalidSchedule, Schedule, parse_schedule
from django_housekeeping.tasks.task import HousekeepingTask

logger = logging.getLogger("django_housekeeping.scheduler")


@dataclass(frozen=True)
class PlannedJob:
    """A job the leader should have in the job store; a ``paused`` one's slots are skipped."""

    task: HousekeepingTask
    schedule: Schedule
    paused: bool = False


def planned_schedule(task: HousekeepingTask, state: TaskState | None) -> Schedule | None:
    """The schedule this process's settings give ``task`` in the job store, or ``None`` (disabled,
    manual). An admin override wins; a paused task keeps its schedule (its slots are recorded
    ``skipped``). Raises ``InvalidSchedule``."""
    if not task.enabled:
        return None
    return parse_schedule(state.schedule) if state and state.schedule else task.schedule


def planned_jobs() -> dict[str, PlannedJob]:
    """Every task to keep in the job store: enabled and with a schedule, paused or not."""
    states = {state.task_name: state for state in TaskState.objects.all()}
    planned: dict[str, PlannedJob] = {}
    for task in registry:
        state = states.get(task.name)
        try:
            schedule = planned_schedule(task, state)
        except InvalidSchedule as exc:
            logger.error("Not scheduling %s: %s", task.name, exc)
            continue
        if schedule is not None:
            planned[task.name] = PlannedJob(task, schedule, paused=bool(state and state.paused))
    return planned
