"""What the scheduler is doing, as plain data, for `housekeeping status`, the API and dashboard."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django_apscheduler.models import DjangoJob

from django_housekeeping.lease import LEASE_NAME
from django_housekeeping.models import SchedulerLease, TaskState
from django_housekeeping.reporting import describe_schedule, last_runs, run_as_dict
from django_housekeeping.schedules import InvalidSchedule, parse_schedule


def scheduler_status() -> dict[str, Any]:
    """The leader (host, pid, lease age, healthy or stale) and every task's job."""
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
    return {
        "now": now,
        "state": "running" if healthy else ("stale" if leader else "stopped"),
        "healthy": healthy,
        "leader": leader,
        "jobs": jobs_status(),
    }


def jobs_status() -> list[dict[str, Any]]:
    from django_housekeeping.registry import registry

    states = {state.task_name: state for state in TaskState.objects.all()}
    next_runs = dict(DjangoJob.objects.values_list("id", "next_run_time"))
    tasks = list(registry)
    latest = last_runs(task.name for task in tasks)
    jobs = []
    for task in tasks:
        state = states.get(task.name)
        trigger = describe_schedule(task)
        if state is not None and state.schedule:
            try:
                trigger = f"{parse_schedule(state.schedule)} (set in the admin)"
            except InvalidSchedule as exc:
                trigger = f"invalid admin schedule: {exc}"
        last = latest.get(task.name)
        jobs.append(
            {
                "id": task.name,
                "name": task.description or task.name,
                "trigger": trigger,
                "next_run": next_runs.get(task.name),
                "enabled": task.enabled,
                "paused": bool(state and state.paused),
                "last_run": run_as_dict(last) if last is not None else None,
            }
        )
    return jobs
