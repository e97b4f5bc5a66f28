"""The registered tasks with what the database says of them: state, schedules, last runs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django_apscheduler.models import DjangoJob

from django_housekeeping.models import TaskRun, TaskState
from django_housekeeping.presenters.runs import RunUrl, run_as_dict, run_payload
from django_housekeeping.tasks.registry import registry
from django_housekeeping.tasks.schedules import InvalidSchedule, parse_schedule
from django_housekeeping.tasks.task import HousekeepingTask


def describe_schedule(task: HousekeepingTask) -> str:
    try:
        schedule = task.schedule
    except InvalidSchedule as exc:
        return f"invalid: {exc}"
    return str(schedule) if schedule is not None else "manual"


def describe_effective_schedule(task: HousekeepingTask, admin_schedule: str = "") -> str:
    """The schedule the scheduler follows, and where it comes from.

    An override set in the admin (``TaskState.schedule``) wins over ``HOUSEKEEPING["TASKS"]``,
    which wins over the code's ``schedule=``. An invalid admin override is reported, not raised:
    the scheduler does not schedule the task while it is invalid.
    """
    if admin_schedule:
        try:
            return f"{parse_schedule(admin_schedule)} (set in the admin)"
        except InvalidSchedule as exc:
            return f"invalid admin schedule: {exc}"
    description = describe_schedule(task)
    if "schedule" in task.override and not description.startswith("invalid"):
        return f"{description} (from settings)"
    return description


def last_runs(names: Iterable[str]) -> dict[str, TaskRun]:
    """The most recent run of each named task (one query per task, using the recent-runs index)."""
    latest: dict[str, TaskRun] = {}
    for name in names:
        run = TaskRun.objects.filter(task_name=name).order_by("-started_at", "-id").first()
        if run is not None:
            latest[name] = run
    return latest


@dataclass(frozen=True)
class TaskView:
    """A task with what the database says of it: its operators' state (pause, schedule override),
    the job store's next run, its last run. Every face's per-task data is made from these."""

    task: HousekeepingTask
    state: TaskState | None
    next_run: datetime | None
    last_run: TaskRun | None

    @property
    def paused(self) -> bool:
        return bool(self.state and self.state.paused)

    @property
    def schedule(self) -> str:
        """The schedule the scheduler follows, and where it comes from."""
        return describe_effective_schedule(self.task, self.state.schedule if self.state else "")


def task_views() -> list[TaskView]:
    """Every registered task and group, with its state, next run and last run (a few queries)."""
    tasks = list(registry)
    names = [task.name for task in tasks]
    states = {state.task_name: state for state in TaskState.objects.filter(task_name__in=names)}
    next_runs = dict(DjangoJob.objects.filter(id__in=names).values_list("id", "next_run_time"))
    latest = last_runs(names)
    return [
        TaskView(task, states.get(task.name), next_runs.get(task.name), latest.get(task.name))
        for task in tasks
    ]


def state_of(view: TaskView) -> str:
    """``enabled``, ``paused`` (by an operator) or ``disabled`` (in the code or settings)."""
    if not view.task.enabled:
        return "disabled"
    return "paused" if view.paused else "enabled"


def task_as_dict(view: TaskView) -> dict[str, Any]:
    """A task as ``housekeeping list --json`` gives it."""
    task = view.task
    return {
        "name": task.name,
        "description": task.description,
        "schedule": view.schedule,
        "enabled": task.enabled,
        "state": state_of(view),
        "paused": view.paused,
        "after": list(task.after),
        "options": task.options,
        "tags": list(task.tags),
        "members": list(task.members),
        "timeout": task.timeout,
        "last_run": run_as_dict(view.last_run) if view.last_run is not None else None,
    }


def tasks_payload(run_url: RunUrl | None = None) -> list[dict[str, Any]]:
    """Every registered task and group with its effective schedule, pause state, next run and
    last run, as the dashboard and the API show them."""
    return [
        {
            "name": view.task.name,
            "description": view.task.description,
            "is_group": view.task.is_group,
            "members": list(view.task.members),
            "schedule": view.schedule,
            "enabled": view.task.enabled,
            "paused": view.paused,
            "next_run": view.next_run,
            "options": view.task.options,
            "tags": list(view.task.tags),
            "timeout": view.task.timeout,
            "destructive": registry.is_destructive(view.task.name),
            "last_run": run_payload(view.last_run, run_url) if view.last_run else None,
        }
        for view in task_views()
    ]
