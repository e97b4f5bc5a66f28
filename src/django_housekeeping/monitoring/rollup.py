"""The daily rollup of the history, which the statistics read instead of the history itself.

:func:`record` is called for every finished run (a receiver of ``task_finished``, and the
scheduler for the slots it records as missed or skipped), in the process that ran it, beside the
run totals (:mod:`~django_housekeeping.monitoring.totals`). Dry runs and unfinished runs add
nothing. It adds the run to two small tables, incremented in the database as the totals are:

- :class:`~django_housekeeping.models.RunDay`: per task, day (the local date of the run's start,
  in the site's time zone when the run finished), status and **duration bucket**, the runs and
  their seconds;
- :class:`~django_housekeeping.models.DeletionDay`: per task, day and model, the rows deleted
  (a group's run counts only its own result's ``deleted``: each member's run records its own).

So the statistics of a window read a few rows per task and day however long the history is
(docs/observability.md#statistics), and pruning the history does not lower them.

**Closed days.** The days before today change only when a run that started on one of them is
recorded late (it ran past midnight), or when the rollup is rebuilt: both move the
:class:`~django_housekeeping.models.RollupGeneration` counter. :func:`closed_window` keeps the
sums of a window's closed days in memory, per process, until that counter moves, so the
statistics read one counter and the rows of today: a window of a year costs what a window of a
day does. A day closes five minutes after its midnight (:data:`CLOSING_GRACE`), so that a run
recorded a moment before midnight has committed by then.

**Durations.** A run's duration falls in bucket ``b`` when it lies in
``(2^((b-1)/4), 2^(b/4)]`` milliseconds (bucket 0: up to 1 ms; -1: no duration): four buckets
per doubling, so that a task whose durations vary tenfold fills about 14 rows a day and status,
and a 30-day window of a busy site is a few thousand rows. A percentile is computed by the
nearest-rank method over the buckets: the bucket holding the rank gives its value, the **mean
of the durations in that bucket**. That value and the exact nearest-rank duration lie in the
same bucket, so it is off by less than one bucket's width: at most 19 % (2^(1/4) - 1) of the
duration, or 1 ms below 1 ms — and exact when the runs of that bucket took the same time.

:func:`rebuild` recomputes both tables from the history (migration ``0004`` runs it once).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar, cast

from django.db import router, transaction
from django.db.models import Model, Sum
from django.utils import timezone

from django_housekeeping.models import (
    DeletionDay,
    RollupGeneration,
    RunDay,
    TaskRun,
    deletion_counts,
)
from django_housekeeping.monitoring.totals import increment

BUCKETS_PER_DOUBLING = 4
SMALLEST_BUCKET_SECONDS = 0.001
NO_DURATION = -1
MAX_BUCKET = 32767  # a SmallIntegerField
ACTIVE_STATUSES = {str(status) for status in TaskRun.ACTIVE_STATUSES}
# The RollupGeneration row counting the changes of closed days.
CLOSED_DAYS = "closed_days"
# A day closes this long after its midnight: a run recorded a moment before midnight may commit
# a moment after it.
CLOSING_GRACE = timedelta(minutes=5)
# What is remembered of closed days per process (a window is a few hundred tuples, a series up
# to MAX_STATISTICS_POINTS runs).
MAX_REMEMBERED_WINDOWS = 32

T = TypeVar("T")


def duration_bucket(seconds: float | None) -> int:
    """The bucket of a duration in seconds (``NO_DURATION`` for ``None``)."""
    if seconds is None:
        return NO_DURATION
    if seconds <= SMALLEST_BUCKET_SECONDS:
        return 0
    bucket = math.ceil(BUCKETS_PER_DOUBLING * math.log2(seconds / SMALLEST_BUCKET_SECONDS))
    return min(max(bucket, 1), MAX_BUCKET)


def run_day(started_at: datetime) -> date:
    """The day a run counts on: its start's date in the site's time zone."""
    return (
        timezone.localtime(started_at).date()
        if timezone.is_aware(started_at)
        else started_at.date()
    )


def record(run: TaskRun) -> None:
    """Add a finished non-dry run to the daily rollup (dry runs and unfinished runs add nothing)."""
    if run.dry_run or not run.is_finished:
        return
    day = run_day(run.started_at)
    seconds = run.duration_seconds
    increment(
        RunDay,
        {
            "task_name": run.task_name,
            "day": day,
            "status": run.status,
            "bucket": duration_bucket(seconds),
        },
        runs=1,
        seconds=max(seconds or 0.0, 0.0),
    )
    for label, rows in sorted(deletion_counts(run.result, members=False).items()):
        increment(DeletionDay, {"task_name": run.task_name, "day": day, "model": label}, rows=rows)
    if day < run_day(timezone.now()):
        increment(RollupGeneration, {"name": CLOSED_DAYS}, generation=1)


def rebuild(
    run_model: type[Model] = TaskRun,
    run_day_model: type[Model] = RunDay,
    deletion_day_model: type[Model] = DeletionDay,
    *,
    chunk_size: int = 5000,
    using: str | None = None,
) -> None:
    """Recompute the rollup from the history, in one transaction (the models may be a
    migration's historical ones), on the database ``using`` (default: the router's for the
    rollup)."""
    runs: dict[tuple[str, date, str, int], list[float]] = defaultdict(lambda: [0, 0.0])
    deletions: dict[tuple[str, date, str], int] = defaultdict(int)
    using = using or router.db_for_write(run_day_model)
    history = (
        run_model._default_manager.db_manager(using)
        .filter(dry_run=False)
        .exclude(status__in=ACTIVE_STATUSES)
        .values_list("task_name", "status", "started_at", "duration", "result")
    )
    for name, status, started_at, duration, result in history.iterator(chunk_size=chunk_size):
        day = run_day(started_at)
        seconds = _seconds(duration)
        totals = runs[(name, day, status, duration_bucket(seconds))]
        totals[0] += 1
        totals[1] += max(seconds or 0.0, 0.0)
        for label, rows in deletion_counts(result, members=False).items():
            deletions[(name, day, label)] += rows
    with transaction.atomic(using=using):
        run_day_model._default_manager.db_manager(using).all().delete()
        deletion_day_model._default_manager.db_manager(using).all().delete()
        run_day_model._default_manager.db_manager(using).bulk_create(
            _rows(
                run_day_model,
                (
                    {"task_name": n, "day": d, "status": s, "bucket": b, "runs": r, "seconds": t}
                    for (n, d, s, b), (r, t) in runs.items()
                ),
            ),
            batch_size=1000,
        )
        deletion_day_model._default_manager.db_manager(using).bulk_create(
            _rows(
                deletion_day_model,
                (
                    {"task_name": n, "day": d, "model": m, "rows": r}
                    for (n, d, m), r in deletions.items()
                ),
            ),
            batch_size=1000,
        )
        if run_day_model is RunDay:  # not a migration's historical model
            increment(RollupGeneration, {"name": CLOSED_DAYS}, generation=1)


def _rows(model: type[Model], values: Iterable[dict[str, Any]]) -> list[Model]:
    return [model(**fields) for fields in values]


def _seconds(duration: Any) -> float | None:
    if duration is None:
        return None
    if isinstance(duration, timedelta):
        return duration.total_seconds()
    return float(duration) / 1_000_000  # a backend that gives microseconds


@dataclass(frozen=True)
class Window:
    """The rollup's sums over some days: ``runs`` as ``(task, status, bucket, runs, seconds)``
    and ``deletions`` as ``(task, day, model, rows)``."""

    runs: tuple[tuple[str, str, int, int, float], ...]
    deletions: tuple[tuple[str, date, str, int], ...]


def window(first: date, last: date) -> Window:
    """The rollup's sums from day ``first`` to day ``last``, read from the database."""
    using = router.db_for_read(RunDay)
    runs = (
        RunDay.objects.using(using)
        .filter(day__gte=first, day__lte=last)
        .values_list("task_name", "status", "bucket")
        .annotate(n=Sum("runs"), s=Sum("seconds"))
        .order_by()
    )
    deletions = (
        DeletionDay.objects.using(using)
        .filter(day__gte=first, day__lte=last)
        .values_list("task_name", "day", "model", "rows")
        .order_by("day", "model", "task_name")
    )
    return Window(runs=tuple(runs), deletions=tuple(deletions))


def last_closed_day(now: datetime | None = None) -> date:
    """The last day whose rollup no longer changes as runs finish: yesterday, or the day before
    in the first minutes after midnight (:data:`CLOSING_GRACE`)."""
    now = now or timezone.now()
    local = timezone.localtime(now) if timezone.is_aware(now) else now
    since_midnight = timedelta(hours=local.hour, minutes=local.minute, seconds=local.second)
    return local.date() - timedelta(days=1 if since_midnight >= CLOSING_GRACE else 2)


_remembered: dict[tuple[Any, ...], tuple[int, Any]] = {}


def closed_days_changed() -> None:
    """Say that runs of closed days changed other than by :func:`record` or :func:`rebuild`
    (the history was pruned): every process computes what it keeps of them again."""
    increment(RollupGeneration, {"name": CLOSED_DAYS}, generation=1)


def remember_closed(key: tuple[Any, ...], compute: Callable[[], T]) -> T:
    """``compute()``, a function of closed days only (of the rollup, or of the history's runs
    that started on them), computed once per process and ``key`` until the
    :class:`~django_housekeeping.models.RollupGeneration` counter moves."""
    using = router.db_for_read(RunDay)
    # Read before computing: a change committed meanwhile moves the counter past what is kept.
    generation = (
        RollupGeneration.objects.using(using)
        .filter(name=CLOSED_DAYS)
        .values_list("generation", flat=True)
        .first()
    ) or 0
    full_key = (using, *key)
    kept = _remembered.get(full_key)
    if kept is not None and kept[0] == generation:
        return cast(T, kept[1])
    value = compute()
    while len(_remembered) >= MAX_REMEMBERED_WINDOWS:
        _remembered.pop(next(iter(_remembered)), None)
    _remembered[full_key] = (generation, value)
    return value


def closed_window(first: date, last: date) -> Window:
    """:func:`window` of closed days (``last`` at most :func:`last_closed_day`), computed once
    per process until the :class:`~django_housekeeping.models.RollupGeneration` counter moves."""
    if last > last_closed_day():
        raise ValueError(f"{last} is not a closed day of the rollup")
    return remember_closed(("window", first, last), lambda: window(first, last))


def nearest_rank(buckets: dict[int, tuple[int, float]], percent: float) -> float | None:
    """The ``percent`` percentile of the durations counted in ``buckets`` (bucket → runs,
    seconds), by the nearest-rank method over the buckets (see the module's docstring);
    ``None`` without any."""
    counted = sorted(
        (b, runs, seconds) for b, (runs, seconds) in buckets.items() if b >= 0 and runs
    )
    total = sum(runs for _b, runs, _s in counted)
    if not total:
        return None
    rank = max(math.ceil(percent / 100 * total), 1)
    seen = 0
    for _bucket, runs, seconds in counted:
        seen += runs
        if seen >= rank:
            return round(seconds / runs, 6)
    raise AssertionError("unreachable")  # pragma: no cover
