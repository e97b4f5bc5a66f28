"""The scheduler's status: its leader's lease and every task's job."""

from __future__ import annotations

from typing import Any

from apscheduler.triggers.base import BaseTrigger
from django.utils import timezone

from django_housekeeping.models import SchedulerLease, TaskRun
from django_housekeeping.presenters.runs import RunUrl, run_as_dict, run_payload
from django_housekeeping.presenters.tasks import TaskView, task_views
from django_housekeeping.scheduling.lease import LEASE_NAME
from django_housekeeping.scheduling.store import stored_triggers
from django_housekeeping.tasks.plan import planned_schedule
from django_housekeeping.tasks.schedules import InvalidSchedule, describe_trigger


def scheduler_status(*, jobs: bool = True) -> dict[str, Any]:
    """The leader (host, pid, lease age, healthy or stale) and, unless ``jobs`` is false, every
    task's job."""
    now = timezone.now()
    lease = SchedulerLease.objects.filter(name=LEASE_NAME).first()
    leader: dict[str, Any] | None = None
    if lease is not None and lease.owner:
        heartbeat = lease.heartbeat_at or lease.acquired_at
        leader = {
            "owner": lease.owner,
            "host": lease.host,
            "pid": lease.pid,
            "token": lease.token,
            "acquired_at": lease.acquired_at,
            "heartbeat_at": heartbeat,
            "expires_at": lease.expires_at,
            "lease_age_seconds": (now - heartbeat).total_seconds() if heartbeat else None,
            "healthy": lease.expires_at > now,
        }
    healthy = bool(leader and leader["healthy"])
    status: dict[str, Any] = {
        "now": now,
        "state": "running" if healthy else ("stale" if leader else "stopped"),
        "healthy": healthy,
        "leader": leader,
    }
    if jobs:
        status["jobs"] = jobs_status()
    return status


def scheduler_payload(run_url: RunUrl | None = None, *, jobs: bool = True) -> dict[str, Any]:
    """The scheduler's status as the API and the dashboard show it: :func:`scheduler_status`,
    whether it runs (``running``) and each job's last run as :func:`~.runs.run_payload` gives it.
    The dashboard leaves the jobs out (``jobs=False``): its tasks carry them."""
    data = scheduler_status(jobs=jobs)
    data["running"] = data["state"] == "running"
    if not jobs:
        return data
    last_ids = [job["last_run"]["id"] for job in data["jobs"] if job["last_run"]]
    runs = TaskRun.objects.select_related("triggered_by").in_bulk(last_ids)
    for job in data["jobs"]:
        if job["last_run"]:
            job["last_run"] = run_payload(runs[job["last_run"]["id"]], run_url)
    return data


def jobs_status() -> list[dict[str, Any]]:
    """Every task's job, as ``housekeeping status`` and the API's status show it.

    ``trigger`` is the schedule this process's settings give the task; ``leader_trigger`` the one
    in the job store, which the leader runs (``None``: no job stored); ``schedule_differs`` says
    they differ — a settings change not deployed to the scheduler process yet, say.
    """
    stored = stored_triggers()
    return [
        {
            "id": view.task.name,
            "name": view.task.description or view.task.name,
            "trigger": view.schedule,
            **_leader_schedule(view, stored),
            "next_run": view.next_run,
            "enabled": view.task.enabled,
            "paused": view.paused,
            "last_run": run_as_dict(view.last_run) if view.last_run is not None else None,
        }
        for view in task_views()
    ]


UNREADABLE_JOB = "unreadable job state"


def _leader_schedule(view: TaskView, stored: dict[str, BaseTrigger | None]) -> dict[str, Any]:
    """The job store's schedule for ``view``'s task, compared with the one these settings give:
    triggers are compared as the leader compares them when it syncs (their reprs)."""
    tz = timezone.get_default_timezone()
    try:
        planned = planned_schedule(view.task, view.state)
    except InvalidSchedule:
        planned = None  # the leader does not schedule it either
    planned_trigger = repr(planned.to_trigger(tz)) if planned is not None else None
    if view.task.name not in stored:
        return {"leader_trigger": None, "schedule_differs": planned_trigger is not None}
    trigger = stored[view.task.name]
    if trigger is None:  # unknown: not said to differ
        return {"leader_trigger": UNREADABLE_JOB, "schedule_differs": False}
    if planned is not None and repr(trigger) == planned_trigger:
        return {"leader_trigger": str(planned), "schedule_differs": False}
    return {"leader_trigger": describe_trigger(trigger, tz), "schedule_differs": True}
