"""Statistics: the library's own numbers (from the daily rollup) and the site's statistics task's
numbers and series."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, QuerySet
from django.utils import timezone

from django_housekeeping.conf import housekeeping_settings
from django_housekeeping.models import TaskRun
from django_housekeeping.monitoring.rollup import closed_window as rollup_closed_window
from django_housekeeping.monitoring.rollup import day_start, run_day
from django_housekeeping.monitoring.rollup import last_closed_day as rollup_last_closed_day
from django_housekeeping.monitoring.rollup import nearest_rank as rollup_nearest_rank
from django_housekeeping.monitoring.rollup import remember_closed as rollup_remember_closed
from django_housekeeping.monitoring.rollup import window as rollup_window
from django_housekeeping.presenters.results import result_numbers
from django_housekeeping.tasks.registry import ALL, NotRegistered, registry

DEFAULT_STATISTICS_DAYS = 30


MAX_STATISTICS_DAYS = 366


# The newest points of a series kept in a window: about a point per two pixels of a wide chart;
# a stats task every 5 minutes for a year is far more than a chart can show, and every point is a
# run's result read and parsed.
MAX_STATISTICS_POINTS = 400


def statistics_task_names() -> list[str]:
    """The names ``statistics_payload`` accepts: every registered task except groups."""
    return sorted(task.name for task in registry if not task.is_group)


def _check_statistics_task(task_name: str) -> None:
    """Raise ``NotRegistered`` unless ``task_name`` is a registered task that is no group."""
    tasks = registry.as_mapping()
    if task_name == ALL or task_name not in tasks or tasks[task_name].is_group:
        raise NotRegistered(task_name, statistics_task_names())


def statistics_payload(
    task_name: str | None = None,
    days: int = DEFAULT_STATISTICS_DAYS,
    *,
    now: datetime | None = None,
    strict: bool = True,
) -> dict[str, Any]:
    """The library's own numbers over the last ``days`` days (``housekeeping``, see
    :func:`housekeeping_statistics`) and the site's statistics: the latest numbers of its
    statistics task and their time series over the same window. The window is whole days in the
    site's time zone: from the day of ``now - days`` to today, ``since`` being that first day's
    midnight.

    The site's statistics task is ``task_name`` (a request's ``?task=``), else
    ``HOUSEKEEPING["STATISTICS_TASK"]``. Its statistics are the results of its succeeded runs that
    were no dry runs: every number in a run's result (a JSON object) is a point of the series of
    that key. Without a statistics task, ``task`` is ``None`` and ``statistics`` and ``series`` are
    empty. Raises ``NotRegistered`` when ``task_name`` is no registered task (groups included: a
    group's result is no statistics), or, not ``strict`` (the dashboard), reports it in
    ``warning`` with no site statistics; a configured task that is not registered is reported in
    ``warning`` instead, so that a settings mistake does not take the library's numbers away.
    """
    now = now or timezone.now()
    since = window_start(now - timedelta(days=days))
    warning: str | None = None
    if task_name is not None:
        try:
            _check_statistics_task(task_name)
        except NotRegistered as exc:
            if strict:
                raise
            warning, task_name = str(exc), None
    elif housekeeping_settings.STATISTICS_TASK is not None:
        configured = housekeeping_settings.STATISTICS_TASK
        try:
            _check_statistics_task(configured)
        except NotRegistered as exc:
            warning = f'HOUSEKEEPING["STATISTICS_TASK"] names no task that has statistics: {exc}'
        else:
            task_name = configured
    payload: dict[str, Any] = {
        "task": task_name,
        "days": days,
        "since": since,
        "run_id": None,
        "generated_at": None,
        "statistics": {},
        "series": [],
        "warning": warning,
    }
    if task_name is not None:
        payload.update(_site_statistics(task_name, since))
    payload["housekeeping"] = housekeeping_statistics(since, now)
    return payload


def _site_statistics(task_name: str, since: datetime) -> dict[str, Any]:
    """The latest numbers of ``task_name``'s succeeded real runs and their series: the newest
    :data:`MAX_STATISTICS_POINTS` runs of the window, those of closed days as this process keeps
    them (:func:`~django_housekeeping.monitoring.rollup.remember_closed`)."""
    succeeded = TaskRun.objects.filter(
        task_name=task_name, status=TaskRun.Status.SUCCEEDED, dry_run=False
    )

    def newest(runs: QuerySet[TaskRun]) -> list[tuple[int, datetime, Any]]:
        return list(
            runs.order_by("-started_at", "-id").values_list("id", "started_at", "result")[
                :MAX_STATISTICS_POINTS
            ]
        )

    today = day_start(rollup_last_closed_day() + timedelta(days=1))
    window = newest(succeeded.filter(started_at__gte=max(since, today)))
    if since < today and len(window) < MAX_STATISTICS_POINTS:
        closed = rollup_remember_closed(
            ("series", task_name, since, today),
            lambda: newest(succeeded.filter(started_at__gte=since, started_at__lt=today)),
        )
        window = (window + closed)[:MAX_STATISTICS_POINTS]
    # The window has no end: its newest run, if any, is the latest one. Else the latest is older.
    latest = (
        window[0]
        if window
        else succeeded.filter(started_at__lt=since)
        .order_by("-started_at", "-id")
        .values_list("id", "started_at", "result")
        .first()
    )
    window = window[::-1]  # oldest first (and not the list this process keeps)

    values = result_numbers(latest[2]) if latest is not None else {}
    series: dict[str, list[dict[str, Any]]] = {key: [] for key in values}
    for run_id, started_at, result in window:
        for key, value in result_numbers(result).items():
            series.setdefault(key, []).append({"at": started_at, "value": value, "run_id": run_id})
    return {
        "run_id": latest[0] if latest is not None else None,
        "generated_at": latest[1] if latest is not None else None,
        "statistics": values,
        "series": [{"key": key, "points": points} for key, points in series.items()],
    }


# The statuses of the runs whose durations are counted: runs that ran their task to its end.
DURATION_STATUSES = (TaskRun.Status.SUCCEEDED, TaskRun.Status.FAILED)


def window_start(since: datetime) -> datetime:
    """The start of the statistics' window that ``since`` falls in: its day's midnight in the
    site's time zone (the statistics count whole days)."""
    return day_start(run_day(since))


def housekeeping_statistics(since: datetime, now: datetime) -> dict[str, Any]:
    """The library's own numbers, for every site: the runs started from ``since``'s day to
    ``now``'s (whole days in the site's time zone) that were no dry runs (dry runs delete nothing
    and would only blur the numbers). Finished runs are read from the daily rollup
    (:mod:`~django_housekeeping.monitoring.rollup`): a few rows per task and day, however long
    the history is; queued and running ones from the history (through its status index).

    - ``tasks``: per task name (groups included, each run counted once), ``runs`` by status,
      ``rows_deleted`` by its own runs, and ``duration_seconds``: the ``p50`` and ``p95`` of the
      durations of its succeeded and failed runs, by the nearest-rank method over the rollup's
      duration buckets (within 19 % of the exact nearest-rank duration, or 1 ms below 1 ms;
      exact when the runs of the bucket took the same time; ``None`` without any).
    - ``rows_deleted_per_day``: every day from ``since``'s to ``now``'s (days without deletions
      included, with 0), the rows the runs started that day deleted, in all and per model. A
      group's run is not counted: its members' own runs are.
    """
    first, last = run_day(since), run_day(now)
    tasks: dict[str, dict[str, Any]] = {}

    def task(name: str) -> dict[str, Any]:
        return tasks.setdefault(name, {"runs": {}, "rows_deleted": 0, "duration_seconds": {}})

    buckets: dict[str, dict[int, tuple[int, float]]] = {}
    # Closed days from the sums this process keeps, today from the database.
    closed_last = min(last, rollup_last_closed_day())
    sums = [rollup_closed_window(first, closed_last)] if first <= closed_last else []
    sums.append(rollup_window(max(first, closed_last + timedelta(days=1)), last))
    for name, status, bucket, runs, seconds in (row for part in sums for row in part.runs):
        counts = task(name)["runs"]
        counts[status] = counts.get(status, 0) + runs
        if status in DURATION_STATUSES:
            held = buckets.setdefault(name, {}).get(bucket, (0, 0.0))
            buckets[name][bucket] = (held[0] + runs, held[1] + seconds)
    active = (
        TaskRun.objects.filter(
            status__in=TaskRun.ACTIVE_STATUSES,
            dry_run=False,
            started_at__gte=window_start(since),
            started_at__lte=now,
        )
        .values_list("task_name", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for name, status, runs in active:
        task(name)["runs"][status] = runs
    for name in tasks:
        tasks[name]["runs"] = dict(sorted(tasks[name]["runs"].items()))

    days: dict[date, dict[str, Any]] = {}
    for offset in range((last - first).days + 1):
        days[first + timedelta(days=offset)] = {"rows": 0, "models": {}}
    deletions = (row for part in sums for row in part.deletions)
    for name, day, label, count in deletions:
        totals = days.setdefault(day, {"rows": 0, "models": {}})
        totals["models"][label] = totals["models"].get(label, 0) + count
        totals["rows"] += count
        task(name)["rows_deleted"] += count
    for name in tasks:
        tasks[name]["duration_seconds"] = {
            "p50": rollup_nearest_rank(buckets.get(name, {}), 50),
            "p95": rollup_nearest_rank(buckets.get(name, {}), 95),
        }
    return {
        "tasks": dict(sorted(tasks.items())),
        "rows_deleted_per_day": [{"day": day, **totals} for day, totals in sorted(days.items())],
    }
