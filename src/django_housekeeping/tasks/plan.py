"""The plan: which tasks the scheduler runs now, and on which schedule.

A task is planned when it is enabled, has a schedule and is not paused in the admin; its schedule
is the admin's override (:class:`~django_housekeeping.models.TaskState`), else the settings', else
the code's. The scheduler's leader keeps its job store in line with the plan; the health judges
the planned tasks (overdue or not).
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
    """A job the leader should have in the job store."""

    task: HousekeepingTask
    schedule: Schedule


def planned_schedule(task: HousekeepingTask, state: TaskState | None) -> Schedule | None:
    """The schedule this process's settings give ``task`` in the job store, or ``None`` (disabled,
    paused in the admin, manual). An admin override wins; raises ``InvalidSchedule``."""
    if not task.enabled or (state is not None and state.paused):
        return None
    return parse_schedule(state.schedule) if state and state.schedule else task.schedule


def planned_jobs() -> dict[str, PlannedJob]:
    """Every task to schedule now: enabled, with a schedule, and not paused in the admin."""
    states = {state.task_name: state for state in TaskState.objects.all()}
    planned: dict[str, PlannedJob] = {}
    for task in registry:
        try:
            schedule = planned_schedule(task, states.get(task.name))
        except InvalidSchedule as exc:
            logger.error("Not scheduling %s: %s", task.name, exc)
            continue
        if schedule is not None:
            planned[task.name] = PlannedJob(task, schedule)
    return planned
