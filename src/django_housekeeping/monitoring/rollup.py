"""The daily rollup of the history: the one aggregate store, which the statistics and the
metrics' counters read instead of the history itself.

:func:`record` is called for every finished run (a receiver of ``task_finished``, and the
scheduler for the slots it records as missed or skipped), in the process that ran it. Every
finished status is counted (succeeded, failed, skipped, missed, interrupted, cancelled); dry runs
and unfinished runs add nothing. It adds the run to two small tables, incremented in the database
(``UPDATE ... SET runs = runs + 1``: two processes finishing runs at once both count; the first
run of a key inserts its row, and if another process inserted it meanwhile, the increment is
retried as an update):

- :class:`~django_housekeeping.models.RunDay`: per task, day (the local date of the run's start,
  in the site's time zone when the run finished), status and **duration bucket**, the runs,
  their seconds and the latest finish (the metrics' last success);
- :class:`~django_housekeeping.models.DeletionDay`: per task, day and model, the rows deleted
  (a group's run counts only its own result's ``deleted``: each member's run records its own).

So the statistics of a window read a few rows per task and day however long the history is
(docs/observability.md#statistics), and pruning the history does not lower them. The metrics'
all-time counters (:func:`totals`) are the sums over every day.

**Closed days.** The days before today change only when a run that started on one of them is
recorded late (it ran past midnight), or when the rollup is rebuilt: both move the
:class:`~django_housekeeping.models.RollupGeneration` counter :data:`CLOSED_DAYS`. (Pruning the
history moves :data:`CLOSED_HISTORY`, which only what is computed from the history's runs
reads.) :func:`closed_window` keeps the
sums of a window's closed days in memory, per process, until that counter moves, so the
statistics read one counter and the rows of today: a window of a year costs what a window of a
day does, and so do the metrics' all-time counters (:func:`totals`). A day closes five minutes
after its midnight (:data:`CLOSING_GRACE`), so that a run recorded a moment before midnight has
committed by then.

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
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar, cast

from django.conf import settings
from django.db import IntegrityError, router, transaction
from django.db.models import F, Max, Model, Q, Sum
from django.utils import timezone

from django_housekeeping.models import (
    DeletionDay,
    RollupGeneration,
    RunDay,
    TaskRun,
    deletion_counts,
)

BUCKETS_PER_DOUBLING = 4
SMALLEST_BUCKET_SECONDS = 0.001
NO_DURATION = -1
MAX_BUCKET = 32767  # a SmallIntegerField
ACTIVE_STATUSES = {str(status) for status in TaskRun.ACTIVE_STATUSES}
# The RollupGeneration rows counting the changes of closed days: of the rollup's rows (a run
# recorded late, a rebuild; 0.2 moved it on a pruning of the history too), and of the history's
# runs (a pruning), which only what is computed from the history reads.
CLOSED_DAYS = "closed_days"
CLOSED_HISTORY = "closed_history"
# A day closes this long after its midnight: a run recorded a moment before midnight may commit
# a moment after it.
CLOSING_GRACE = timedelta(minutes=5)
# What is remembered of closed days per process (a window is a few hundred tuples, a series up
# to MAX_STATISTICS_POINTS runs).
MAX_REMEMBERED_WINDOWS = 32

# Two processes may insert a counter's first row at once: the loser updates the winner's row.
ATTEMPTS = 3

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


def day_start(day: date) -> datetime:
    """The midnight that starts ``day`` in the site's time zone."""
    start = datetime.combine(day, time.min)
    return timezone.make_aware(start) if settings.USE_TZ else start


def record(run: TaskRun) -> None:
    """Add a finished non-dry run to the daily rollup (dry runs and unfinished runs add nothing)."""
    if run.dry_run or not run.is_finished:
        return
    day = run_day(run.started_at)
    seconds = run.duration_seconds
    key = {
        "task_name": run.task_name,
        "day": day,
        "status": run.status,
        "bucket": duration_bucket(seconds),
    }
    increment(RunDay, key, runs=1, seconds=max(seconds or 0.0, 0.0))
    if run.finished_at is not None:
        # The latest finish, whichever process records last: a run that finished earlier but is
        # recorded later does not move it back.
        RunDay.objects.db_manager(router.db_for_write(RunDay)).filter(**key).filter(
            Q(last_finished_at__isnull=True) | Q(last_finished_at__lt=run.finished_at)
        ).update(last_finished_at=run.finished_at)
    for label, rows in sorted(deletion_counts(run.result, members=False).items()):
        increment(DeletionDay, {"task_name": run.task_name, "day": day, "model": label}, rows=rows)
    if day < run_day(timezone.now()):
        increment(RollupGeneration, {"name": CLOSED_DAYS}, generation=1)


def increment(model: type[Model], key: dict[str, Any], **amounts: float) -> None:
    """Add ``amounts`` to the fields of ``model``'s row ``key``, inserting it when missing."""
    using = router.db_for_write(model)
    manager = model._default_manager.db_manager(using)
    for _attempt in range(ATTEMPTS):
        if manager.filter(**key).update(**{field: F(field) + n for field, n in amounts.items()}):
            return
        try:
            # A savepoint, when the caller is inside a transaction: the IntegrityError of a lost
            # race must not break it.
            with transaction.atomic(using=using):
                manager.create(**key, **amounts)
            return
        except IntegrityError as exc:
            error = exc  # inserted by another process meanwhile: update its row
    raise error


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
    runs: dict[tuple[str, date, str, int], list[Any]] = defaultdict(lambda: [0, 0.0, None])
    deletions: dict[tuple[str, date, str], int] = defaultdict(int)
    using = using or router.db_for_write(run_day_model)
    # Migration 0004's RunDay has no last finish yet (0014 adds it).
    with_last = any(f.name == "last_finished_at" for f in run_day_model._meta.get_fields())
    history = (
        run_model._default_manager.db_manager(using)
        .filter(dry_run=False)
        .exclude(status__in=ACTIVE_STATUSES)
        .values_list("task_name", "status", "started_at", "finished_at", "duration", "result")
    )
    rows_of_history = history.iterator(chunk_size=chunk_size)
    for name, status, started_at, finished_at, duration, result in rows_of_history:
        day = run_day(started_at)
        seconds = _seconds(duration)
        totals = runs[(name, day, status, duration_bucket(seconds))]
        totals[0] += 1
        totals[1] += max(seconds or 0.0, 0.0)
        if finished_at is not None and (totals[2] is None or finished_at > totals[2]):
            totals[2] = finished_at
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
                    | ({"last_finished_at": last} if with_last else {})
                    for (n, d, s, b), (r, t, last) in runs.items()
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


_remembered: dict[tuple[Any, ...], tuple[tuple[int, ...], Any]] = {}


def closed_days_changed() -> None:
    """Say that the history's runs of closed days changed other than by :func:`record` or
    :func:`rebuild` (the history was pruned): every process computes what it keeps of them
    again. What is kept of the rollup's rows only (:func:`closed_window`, :func:`closed_totals`)
    stays: a pruning leaves the rollup as it is."""
    increment(RollupGeneration, {"name": CLOSED_HISTORY}, generation=1)


def remember_closed(
    key: tuple[Any, ...], compute: Callable[[], T], *, of_history: bool = True
) -> T:
    """``compute()``, a function of closed days only (of the rollup, or, with ``of_history``,
    of the history's runs that started on them), computed once per process and ``key`` until
    the :class:`~django_housekeeping.models.RollupGeneration` counters it depends on move."""
    using = router.db_for_read(RunDay)
    names = (CLOSED_DAYS, CLOSED_HISTORY) if of_history else (CLOSED_DAYS,)
    # Read before computing: a change committed meanwhile moves the counter past what is kept.
    counters = dict(
        RollupGeneration.objects.using(using)
        .filter(name__in=names)
        .values_list("name", "generation")
    )
    generation = tuple(counters.get(name, 0) for name in names)
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
    return remember_closed(("window", first, last), lambda: window(first, last), of_history=False)


@dataclass(frozen=True)
class Totals:
    """The rollup's sums over some days, whatever the day: ``runs`` as ``(task, status, runs,
    seconds, latest finish or None)`` and ``deletions`` as ``(task, model, rows)``, sorted."""

    runs: tuple[tuple[str, str, int, float, datetime | None], ...]
    deletions: tuple[tuple[str, str, int], ...]

    def __add__(self, other: Totals) -> Totals:
        runs: dict[tuple[str, str], tuple[int, float, datetime | None]] = {}
        for task, status, count, seconds, last in (*self.runs, *other.runs):
            n, sec, latest = runs.get((task, status), (0, 0.0, None))
            if latest is None or (last is not None and last > latest):
                latest = last
            runs[(task, status)] = (n + count, sec + seconds, latest)
        rows: dict[tuple[str, str], int] = defaultdict(int)
        for task, model, count in (*self.deletions, *other.deletions):
            rows[(task, model)] += count
        return Totals(
            runs=tuple((t, s, *sums) for (t, s), sums in sorted(runs.items())),
            deletions=tuple((t, m, n) for (t, m), n in sorted(rows.items())),
        )


def totals() -> Totals:
    """The sums over every day of the rollup (the metrics' all-time counters): those of the closed
    days computed once per process until the :class:`~django_housekeeping.models.RollupGeneration`
    counter moves (:func:`closed_totals`), those of the days after read (a few rows)."""
    last = last_closed_day()
    return closed_totals(last) + _totals(Q(day__gt=last))


def closed_totals(last: date) -> Totals:
    """:func:`totals` of the days up to the closed day ``last``, kept per process."""
    if last > last_closed_day():
        raise ValueError(f"{last} is not a closed day of the rollup")
    return remember_closed(("totals", last), lambda: _totals(Q(day__lte=last)), of_history=False)


def _totals(days: Q) -> Totals:
    using = router.db_for_read(RunDay)
    runs = (
        RunDay.objects.using(using)
        .filter(days)
        .values_list("task_name", "status")
        .annotate(n=Sum("runs"), s=Sum("seconds"), last=Max("last_finished_at"))
        .order_by()  # sorted below: an ORDER BY led SQLite to walk the unique index, every day
    )
    deletions = (
        DeletionDay.objects.using(using)
        .filter(days)
        .values_list("task_name", "model")
        .annotate(n=Sum("rows"))
        .order_by()
    )
    # int()/float(): MySQL sums integers as decimals.
    return Totals(
        runs=tuple(
            sorted(
                (task, status, int(n), float(s or 0.0), last) for task, status, n, s, last in runs
            )
        ),
        deletions=tuple(sorted((task, model, int(n)) for task, model, n in deletions)),
    )


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
