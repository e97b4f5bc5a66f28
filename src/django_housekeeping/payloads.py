"""Plain data for the staff dashboard and the API: runs, tasks and statistics.

Both speak the same JSON: the dashboard serves these dicts as they are (it needs nothing but
Django), the API declares their shape with DRF serializers for its OpenAPI schema.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from django_apscheduler.models import DjangoJob

from django_housekeeping.models import TaskRun, TaskState
from django_housekeeping.registry import ALL, NotRegistered, registry
from django_housekeeping.reporting import (
    describe_effective_schedule,
    last_runs,
    run_as_dict,
    run_summary,
)

DEFAULT_STATISTICS_TASK = "stats"
DEFAULT_STATISTICS_DAYS = 30
MAX_STATISTICS_DAYS = 366
# The newest points of a series kept in a window: a stats task every 5 minutes for a year is far
# more than a chart can show.
MAX_STATISTICS_POINTS = 2000
# The largest primary key a database stores: a larger one in a URL is simply not found.
MAX_PK = 2**63 - 1

RunUrl = Callable[[int], str]


def run_payload(run: TaskRun, run_url: RunUrl | None = None) -> dict[str, Any]:
    """A run as the dashboard and the API show it: :func:`run_as_dict` plus a one-line summary,
    live progress and, given ``run_url``, the run's URL."""
    data = run_as_dict(run)
    done, total = run.progress_done, run.progress_total
    percent = None
    if done is not None and total:
        percent = round(min(done / total, 1.0) * 100, 1)
    data["progress"] = {"done": done, "total": total, "percent": percent}
    data["heartbeat_at"] = run.heartbeat_at
    data["summary"] = run_summary(run)
    data["url"] = run_url(run.pk) if run_url is not None else None
    return data


def run_detail_payload(run: TaskRun, run_url: RunUrl | None = None) -> dict[str, Any]:
    """:func:`run_payload` with the runs of a group's members."""
    data = run_payload(run, run_url)
    data["children"] = [
        run_payload(child, run_url) for child in run.children.order_by("started_at", "id")
    ]
    return data


def find_run(pk: object) -> TaskRun | None:
    """The run with primary key ``pk`` (given as text from a URL), or ``None``."""
    text = str(pk)
    if not text.isascii() or not text.isdigit() or int(text) > MAX_PK:
        return None
    return TaskRun.objects.select_related("triggered_by").filter(pk=int(text)).first()


def tasks_payload(run_url: RunUrl | None = None) -> list[dict[str, Any]]:
    """Every registered task and group with its effective schedule, pause state, next run and
    last run."""
    tasks = list(registry)
    states = {state.task_name: state for state in TaskState.objects.all()}
    next_runs = dict(
        DjangoJob.objects.filter(id__in=[task.name for task in tasks]).values_list(
            "id", "next_run_time"
        )
    )
    latest = last_runs(task.name for task in tasks)
    payload = []
    for task in tasks:
        state = states.get(task.name)
        last = latest.get(task.name)
        payload.append(
            {
                "name": task.name,
                "description": task.description,
                "is_group": task.is_group,
                "members": list(task.members),
                "schedule": describe_effective_schedule(task, state.schedule if state else ""),
                "enabled": task.enabled,
                "paused": bool(state and state.paused),
                "next_run": next_runs.get(task.name),
                "options": task.options,
                "tags": list(task.tags),
                "timeout": task.timeout,
                "destructive": registry.is_destructive(task.name),
                "last_run": run_payload(last, run_url) if last is not None else None,
            }
        )
    return payload


def statistics_task_names() -> list[str]:
    """The names ``statistics_payload`` accepts: every registered task except groups."""
    return sorted(task.name for task in registry if not task.is_group)


def statistics_payload(
    task_name: str = DEFAULT_STATISTICS_TASK,
    days: int = DEFAULT_STATISTICS_DAYS,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The latest statistics and their time series over the last ``days`` days.

    Statistics are the results of the succeeded runs of ``task_name``: every number in a run's
    result (a JSON object) is a point of the series of that key. Raises ``NotRegistered`` for a
    name that is no registered task (groups included: a group's result is no statistics).
    """
    if task_name == ALL or task_name not in registry.as_mapping():
        raise NotRegistered(task_name, statistics_task_names())
    if registry.get(task_name).is_group:
        raise NotRegistered(task_name, statistics_task_names())
    now = now or timezone.now()
    since = now - timedelta(days=days)
    succeeded = TaskRun.objects.filter(task_name=task_name, status=TaskRun.Status.SUCCEEDED)
    latest = succeeded.order_by("-started_at", "-id").first()
    window = list(
        succeeded.filter(started_at__gte=since)
        .order_by("-started_at", "-id")
        .values_list("id", "started_at", "result")[:MAX_STATISTICS_POINTS]
    )
    window.reverse()

    values = _numbers(latest.result) if latest is not None else {}
    series: dict[str, list[dict[str, Any]]] = {key: [] for key in values}
    for run_id, started_at, result in window:
        for key, value in _numbers(result).items():
            series.setdefault(key, []).append({"at": started_at, "value": value, "run_id": run_id})
    return {
        "task": task_name,
        "days": days,
        "since": since,
        "run_id": latest.pk if latest is not None else None,
        "generated_at": latest.started_at if latest is not None else None,
        "statistics": values,
        "series": [{"key": key, "points": points} for key, points in series.items()],
    }


def _numbers(result: Any) -> dict[str, int | float]:
    """The numeric values of a result object (booleans and non-finite floats left out)."""
    if not isinstance(result, dict):
        return {}
    return {
        str(key): value
        for key, value in result.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    }
