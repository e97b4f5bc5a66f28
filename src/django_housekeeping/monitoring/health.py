"""Health: one definition, used by ``housekeeping check``, the ``health/`` endpoint, the
django-health-check plugin, the overdue alerts and the dashboard.

Housekeeping is unhealthy when

- ``no-scheduler``: tasks are scheduled (and not paused), but no scheduler holds a live lease
  (nothing runs them);
- ``overdue``: a scheduled task has not succeeded for longer than its ``expect_success_every``
  (by default two intervals of its schedule plus its misfire grace), counted from its last success
  or, when later, from when it was last resumed;
- ``failed`` / ``interrupted``: a task's last finished run failed, or its process died;
- ``check``: a housekeeping system check reports an error.

Only enabled tasks that are not paused are judged (scheduled or run by hand), and only runs that
are no dry run: a dry run counts, it does not do the work. A paused task's slots are recorded
``skipped``: they are neither missed nor late.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core import checks
from django.core.checks import CheckMessage
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.timesince import timesince

from django_housekeeping.conf.checks import TAG
from django_housekeeping.models import (
    SchedulerLease,
    TaskRun,
    TaskState,
    TaskStateChange,
    error_summary,
)
from django_housekeeping.tasks.plan import PlannedJob, planned_jobs
from django_housekeeping.tasks.registry import registry
from django_housekeeping.tasks.schedules import Schedule
from django_housekeeping.tasks.task import HousekeepingTask

NO_SCHEDULER = "no-scheduler"
OVERDUE = "overdue"
FAILED = "failed"
INTERRUPTED = "interrupted"
CHECK = "check"

_OUTCOMES = (TaskRun.Status.SUCCEEDED, TaskRun.Status.FAILED, TaskRun.Status.INTERRUPTED)


@dataclass(frozen=True)
class Problem:
    """One reason housekeeping is unhealthy, in one line for a person."""

    code: str
    message: str
    task: str | None = None
    run_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "task": self.task, "message": self.message, "run": self.run_id}


@dataclass(frozen=True)
class Health:
    problems: tuple[Problem, ...]
    checked_at: datetime

    @property
    def healthy(self) -> bool:
        return not self.problems

    @property
    def status(self) -> str:
        return "ok" if self.healthy else "unhealthy"

    def as_dict(self, *, details: bool = True) -> dict[str, Any]:
        """``{"status": "ok" | "unhealthy"}``, with the problems when ``details``."""
        if not details:
            return {"status": self.status}
        return {
            "status": self.status,
            "checked_at": self.checked_at,
            "problems": [problem.as_dict() for problem in self.problems],
        }


def health(
    *, now: datetime | None = None, messages: Sequence[CheckMessage] | None = None
) -> Health:
    """Judge the housekeeping now: the scheduler, every planned task, the system checks (those
    tagged ``django_housekeeping``, unless the caller ran them and passes their ``messages``)."""
    now = now or timezone.now()
    planned, leader = planned_jobs(), live_leader(now)
    problems = [
        *scheduler_problems(planned, leader),
        *task_problems(now, planned, leader),
        *check_problems(messages),
    ]
    return Health(tuple(problems), now)


def live_leader(now: datetime) -> SchedulerLease | None:
    """The lease of the scheduler that leads now, if one does."""
    return SchedulerLease.objects.filter(expires_at__gt=now).exclude(owner="").first()


def scheduler_problems(
    planned: Mapping[str, PlannedJob], leader: SchedulerLease | None
) -> list[Problem]:
    """``no-scheduler`` when tasks are scheduled (not paused) and no scheduler leads."""
    if leader is not None or all(plan.paused for plan in planned.values()):
        return []
    return [
        Problem(
            NO_SCHEDULER,
            "No scheduler is running: no process holds a live scheduler lease, so no task runs "
            "on its schedule. Start `manage.py housekeeping scheduler`, or serve the site with "
            'HOUSEKEEPING["AUTOSTART"] on.',
        )
    ]


def task_problems(
    now: datetime, planned: Mapping[str, PlannedJob], leader: SchedulerLease | None
) -> list[Problem]:
    """The failed, interrupted and overdue tasks (enabled and not paused)."""
    paused = set(TaskState.objects.filter(paused=True).values_list("task_name", flat=True))
    problems: list[Problem] = []
    for task in registry:
        if not task.enabled or task.name in paused:
            continue
        finished = _runs(task.name).filter(status__in=_OUTCOMES).first()
        if finished is not None and finished.status != TaskRun.Status.SUCCEEDED:
            problems.append(_failure(finished))
        if task.name in planned and not planned[task.name].paused:
            overdue = _overdue(task, planned[task.name].schedule, now, leader)
            if overdue is not None:
                problems.append(overdue)
    return problems


def overdue_problems(now: datetime | None = None) -> list[Problem]:
    now = now or timezone.now()
    problems = task_problems(now, planned_jobs(), live_leader(now))
    return [problem for problem in problems if problem.code == OVERDUE]


def housekeeping_messages(*, tagged_only: bool = True) -> list[CheckMessage]:
    """What the library's system checks report (not silenced): by default only the checks
    tagged ``django_housekeeping`` run, which is quick; else every check, keeping our IDs."""
    messages = checks.run_checks(
        tags=[TAG] if tagged_only else None, include_deployment_checks=False
    )
    return [
        message
        for message in messages
        if (message.id or "").startswith("django_housekeeping.") and not message.is_silenced()
    ]


def check_problems(messages: Sequence[CheckMessage] | None = None) -> list[Problem]:
    """The errors among the system checks' messages (a warning is no health problem)."""
    if messages is None:
        messages = housekeeping_messages()
    return [
        Problem(CHECK, f"{message.id}: {message.msg}")
        for message in messages
        if message.is_serious()
    ]


def _runs(task_name: str) -> QuerySet[TaskRun]:
    return TaskRun.objects.filter(task_name=task_name, dry_run=False).order_by("-started_at", "-id")


def _failure(run: TaskRun) -> Problem:
    if run.status == TaskRun.Status.INTERRUPTED:
        what = "was interrupted (its process died)"
        code = INTERRUPTED
    else:
        what = "failed"
        code = FAILED
    summary = error_summary(run.error)
    return Problem(
        code,
        f"{run.task_name}: its last run (#{run.pk}) {what}" + (f": {summary}" if summary else ""),
        task=run.task_name,
        run_id=run.pk,
    )


def _overdue(
    task: HousekeepingTask, schedule: Schedule, now: datetime, leader: SchedulerLease | None
) -> Problem | None:
    limit = task.expected_success_within(schedule)
    if limit is None:
        return None
    success = (
        _runs(task.name)
        .filter(status=TaskRun.Status.SUCCEEDED)
        .values_list("finished_at", "started_at")
        .first()
    )
    if success is not None:
        since, what = success[0] or success[1], "its last success"
    else:
        # Never succeeded: judged from its first recorded run, or from when the scheduler that
        # leads now started (a task added a minute ago is not overdue yet).
        first = (
            TaskRun.objects.filter(task_name=task.name)
            .order_by("started_at")
            .values_list("started_at", flat=True)
            .first()
        )
        if first is not None:
            since, what = first, "it first ran, and it has never succeeded"
        elif leader is not None and leader.acquired_at is not None:
            since, what = leader.acquired_at, "the scheduler started, and it has never run"
        else:
            return None  # nothing has scheduled it yet: "no-scheduler" says so
    resumed = _resumed_at(task.name)
    if resumed is not None and resumed > since:
        # Paused until then: the slots before it were skipped, not missed.
        since, what = resumed, "it was resumed"
    if now - since <= limit:
        return None
    return Problem(
        OVERDUE,
        f"{task.name} is overdue: {_ago(now - since)} since {what} "
        f"({timezone.localtime(since):%Y-%m-%d %H:%M %Z}); it should succeed every "
        f"{_ago(limit)}.",
        task=task.name,
    )


def _resumed_at(task_name: str) -> datetime | None:
    """When ``task_name`` was last resumed (its pause lifted), if ever."""
    return (
        TaskStateChange.objects.filter(task_name=task_name, paused_before=True, paused_after=False)
        .order_by("-changed_at", "-id")
        .values_list("changed_at", flat=True)
        .first()
    )


def _ago(delta: timedelta) -> str:
    """``"2 days, 3 hours"``: the two largest units of a duration."""
    now = timezone.now()
    return timesince(now - delta, now)
