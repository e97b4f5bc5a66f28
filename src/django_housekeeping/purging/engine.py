"""``purge``: delete what a queryset selects and everything Django cascades, in bounded batches.

``QuerySet.delete()`` deletes in one transaction and, as soon as a model involved has a delete
signal receiver, loads every row into memory. ``purge`` walks the queryset's rows in primary-key
order (keyset batches), and deletes each batch of rows with its cascades in its own short
transaction, children before parents:

- without delete signal receivers, a batch is a handful of ``DELETE``/``UPDATE`` statements
  planned from the models' metadata (:mod:`django_housekeeping.purging.planner`): no row is
  loaded into Python;
- with receivers (or a schema the plan cannot express: a cascade cycle, a custom ``on_delete``),
  Django's own ``Collector`` deletes the batch, so every signal is sent, one batch at a time.

Rows a ``PROTECT`` or ``RESTRICT`` relation forbids to delete are skipped and reported, never a
crash. Rows under a legal hold (:mod:`django_housekeeping.purging.holds`), and every row whose
deletion would cascade into one, are skipped and reported as ``held``: each batch's transaction
first takes the holds' lock in share mode (:func:`~django_housekeeping.purging.holds.lock`) and then
reads the active holds, so a hold placed during a purge waits for the batch deleting at that moment
and protects the rows not yet deleted (a hold on a row already deleted is refused). A dry run counts
exactly what a real run deletes. ``max_rows`` and ``max_fraction`` refuse an unexpectedly large
purge before it deletes anything (:class:`PurgeLimitExceeded`); ``max_seconds`` stops between
batches and reports ``"partial": True``. With ``archive``, each batch's rows are appended to a
gzip-compressed JSON Lines file before they are deleted
(:mod:`django_housekeeping.purging.archive`).
"""

from __future__ import annotations

import functools
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import timedelta
from operator import attrgetter
from pathlib import Path
from typing import Any, TypedDict

from django.apps import apps
from django.db import connections, transaction
from django.db.models import Model, QuerySet
from django.db.models.deletion import Collector, ProtectedError, RestrictedError
from django.db.models.signals import post_delete, pre_delete

from django_housekeeping import compat, tracing
from django_housekeeping.conf import housekeeping_settings
from django_housekeeping.purging import partitions as partitioning
from django_housekeeping.purging import planner as planning
from django_housekeeping.purging.archive import (
    ArchiveOrigin,
    ArchiveWriter,
    archive_path,
    default_archive_path,
)
from django_housekeeping.purging.options import check_purge_value
from django_housekeeping.purging.partitions import DroppedPartition
from django_housekeeping.purging.planner import Scope, concrete, in_keys
from django_housekeeping.purging.throttle import Notify, Throttle, ThrottleResult, build_throttle

ProgressCallback = Callable[[int, "int | None"], None]
#: ``deleted_keys(keys)``: called in a batch's transaction, before it deletes, with the primary
#: keys of the rows it deletes per concrete model, cascades included (``erase()`` records them).
KeysCallback = Callable[[dict[type[Model], set[Any]]], None]

# The clock batches and max_seconds are measured with (a module attribute, so tests can drive it).
clock = time.monotonic

# Adaptive batches (no batch_size given): the first has this many of the queryset's rows, the next
# ones as many as make about BATCH_ROWS rows with their cascades (InnoDB deletes a row several
# times slower: MYSQL_BATCH_ROWS on MySQL and MariaDB; COLLECTOR_BATCH_ROWS when Django's collector
# loads rows into memory to send delete signals), never more than MAX_BATCH_SIZE and never more
# than four times the previous batch.
FIRST_BATCH_SIZE = 1000
BATCH_ROWS = 50_000
MYSQL_BATCH_ROWS = 10_000
COLLECTOR_BATCH_ROWS = 10_000
MAX_BATCH_SIZE = 50_000


class PurgeResult(TypedDict):
    """What a purge deleted (or, in a dry run, would delete).

    ``deleted`` maps ``"app_label.Model"`` to rows, cascades included, and ``total`` sums it.
    ``protected`` counts the queryset's rows that were skipped because a ``PROTECT`` or
    ``RESTRICT`` relation forbids deleting them (or a row of their cascade), and ``protected_by``
    names those relations. ``held`` maps ``"app_label.Model"`` to the rows kept because of a
    legal hold: the queryset's rows that are held or whose deletion would cascade into a held
    row, and the rows their deletion would have cascaded to (held rows included). ``partial``
    is true when ``max_seconds`` stopped the purge early. ``dropped_partitions`` lists the
    partitions dropped whole (``{"name", "rows"}``; in a dry run, those that would be), and
    ``partitions`` says why rows of a partitioned table were deleted by batches instead (None on
    a table that is not partitioned, or when there is nothing to say): see
    :mod:`django_housekeeping.purging.partitions`. ``throttle`` is the time spent throttled
    (:class:`~django_housekeeping.purging.throttle.ThrottleResult`).
    """

    deleted: dict[str, int]
    total: int
    dry_run: bool
    protected: dict[str, int]
    protected_by: dict[str, int]
    held: dict[str, int]
    batches: int
    seconds: float
    rows_per_second: float
    max_batch_seconds: float
    partial: bool
    archive: str | None
    dropped_partitions: list[DroppedPartition]
    partitions: str | None
    throttle: ThrottleResult


class StopPurge(Exception):
    """Raised by a purge's ``progress`` callback to stop it between two batches (a cancelled or
    timed-out run): every committed batch stays committed, and the engine fills ``deleted`` with
    the rows deleted so far (``"app_label.Model"`` -> rows, cascades included) before it lets the
    exception through."""

    deleted: dict[str, int]

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.deleted = {}


class PurgeLimitExceeded(Exception):
    """A purge would delete more than its ``max_rows`` or ``max_fraction`` allow.

    Raised before anything is deleted; pass ``force=True`` to purge anyway.
    """

    def __init__(
        self,
        message: str,
        *,
        label: str,
        selected: int,
        table_rows: int,
        max_rows: int | None,
        max_fraction: float | None,
    ) -> None:
        super().__init__(message)
        self.label = label
        self.selected = selected
        self.table_rows = table_rows
        self.max_rows = max_rows
        self.max_fraction = max_fraction


def purge(
    queryset: QuerySet[Any],
    *,
    dry_run: bool = False,
    batch_size: int | None = None,
    max_rows: int | None = None,
    max_fraction: float | None = None,
    max_seconds: float | None = None,
    force: bool = False,
    archive: bool | str | os.PathLike[str] | None = None,
    progress: ProgressCallback | None = None,
    archive_origin: ArchiveOrigin | None = None,
    partitions: bool | None = None,
    pause: float | None = None,
    max_replica_lag: timedelta | float | None = None,
    notify: Notify | None = None,
    deleted_keys: KeysCallback | None = None,
) -> PurgeResult:
    """Delete ``queryset`` and its cascades in batches; with ``dry_run`` only count what would go.

    ``batch_size``: rows of the queryset's model per batch (and per transaction); default
    ``HOUSEKEEPING["PURGE_BATCH_SIZE"]``, and when that is ``None`` too, adaptive: batches of
    about :data:`BATCH_ROWS` rows, cascades included (:data:`COLLECTOR_BATCH_ROWS` when Django's
    collector loads them into memory). ``max_rows``/``max_fraction``: refuse (raise
    :class:`PurgeLimitExceeded`, deleting nothing) when the queryset selects more rows, or a larger
    fraction of its table, unless ``force``. ``max_seconds``: stop between batches once this
    long has passed (``"partial": True``; the next purge continues). ``archive``: ``True`` writes
    the rows to a new file in ``HOUSEKEEPING["PURGE_ARCHIVE_DIR"]``, a path names the file,
    ``None`` follows ``HOUSEKEEPING["PURGE_ARCHIVE"]``. ``archive_origin``: the task and run
    (:class:`~django_housekeeping.purging.archive.ArchiveOrigin`) the archive's manifest names
    (``ctx.purge`` passes its own). ``progress(done, total)`` is called after every batch with the
    queryset's rows handled so far and the number selected at the start. ``partitions``: on a
    PostgreSQL table range-partitioned on the cutoff's column, drop the partitions wholly before
    the cutoff instead of deleting their rows (default ``HOUSEKEEPING["PURGE_PARTITIONS"]``; see
    :mod:`~django_housekeeping.purging.partitions`). ``pause``: sleep this
    many times each batch's duration after it (default ``HOUSEKEEPING["PURGE_PAUSE"]``);
    ``max_replica_lag``: before each batch, wait while a replica of ``HOUSEKEEPING["REPLICAS"]``
    lags more (default ``HOUSEKEEPING["MAX_REPLICA_LAG"]``); ``notify(message)`` is told
    ``"paused: replica lag 7 s"`` while the purge waits, and ``None`` when it goes on
    (:mod:`django_housekeeping.purging.throttle`). ``deleted_keys``: see :data:`KeysCallback`.
    """
    if not isinstance(queryset, QuerySet):
        raise TypeError(f"purge() needs a QuerySet, got {type(queryset).__name__}")
    if batch_size is None:
        batch_size = housekeeping_settings.PURGE_BATCH_SIZE
    if batch_size is not None:
        check_purge_value("batch_size", batch_size)
    check_purge_value("max_rows", max_rows)
    check_purge_value("max_fraction", max_fraction)
    check_purge_value("max_seconds", max_seconds)
    check_purge_value("pause", pause)
    check_purge_value("max_replica_lag", max_replica_lag)
    if archive is None:
        archive = bool(housekeeping_settings.PURGE_ARCHIVE)
    if partitions is None:
        partitions = housekeeping_settings.PURGE_PARTITIONS
    check_purge_value("partitions", partitions)
    deletion = _deletion_queryset(queryset)
    archive_file: Path | None = None
    if archive and not dry_run:
        archive_file = (
            default_archive_path(queryset.model._meta.label)
            if archive is True
            else archive_path(archive)
        )
    return _Purge(
        queryset=queryset,
        deletion=deletion,
        dry_run=dry_run,
        batch_size=batch_size,
        max_rows=max_rows,
        max_fraction=max_fraction,
        max_seconds=max_seconds,
        force=force,
        archive=archive_file,
        archive_origin=archive_origin,
        progress=progress,
        partitions=partitions,
        throttle=build_throttle(
            pause=pause,
            max_replica_lag=max_replica_lag,
            dry_run=dry_run,
            clock=lambda: clock(),  # read at call time: tests replace the module's clock
            notify=notify,
        ),
        deleted_keys=deleted_keys,
    ).run()


def _count(queryset: QuerySet[Any]) -> int:
    """The rows ``queryset`` selects, each once even when a join in it repeats a row."""
    if len(queryset.query.alias_map) > 1:
        return queryset.values("pk").distinct().count()
    return queryset.count()


def _deletion_queryset(queryset: QuerySet[Any]) -> QuerySet[Any]:
    """The queryset as ``QuerySet.delete()`` would use it, after the same refusals."""
    compat.refuse_combined_query(queryset, "delete")
    if getattr(queryset.model._meta, "is_composite_pk", False):
        raise TypeError("purge() does not support models with a composite primary key")
    if queryset.query.is_sliced:
        raise TypeError("Cannot use 'limit' or 'offset' with delete().")
    if queryset.query.distinct_fields:
        raise TypeError("Cannot call delete() after .distinct(*fields).")
    if compat.selects_values(queryset):
        raise TypeError("Cannot call delete() after .values() or .values_list()")
    deletion = compat.writable_copy(queryset)
    deletion.query.select_for_update = False
    deletion.query.select_related = False
    deletion.query.clear_ordering(force=True)
    return deletion


class _Purge:
    """One purge: the batch loop, its bookkeeping and its result."""

    def __init__(
        self,
        *,
        queryset: QuerySet[Any],
        deletion: QuerySet[Any],
        dry_run: bool,
        batch_size: int | None,
        max_rows: int | None,
        max_fraction: float | None,
        max_seconds: float | None,
        force: bool,
        archive: Path | None,
        progress: ProgressCallback | None,
        archive_origin: ArchiveOrigin | None = None,
        partitions: bool = True,
        throttle: Throttle | None = None,
        deleted_keys: KeysCallback | None = None,
    ) -> None:
        self.queryset = queryset
        self.deleted_keys = deleted_keys
        self.deletion = deletion
        self.model: type[Model] = queryset.model
        self.label = self.model._meta.label
        self.using: str = deletion.db
        self.dry_run = dry_run
        self.max_rows = max_rows
        self.max_fraction = max_fraction
        self.max_seconds = max_seconds
        self.force = force
        self.progress = progress
        self.throttle = throttle if throttle is not None else Throttle(clock=clock)
        self.param_limit = planning.max_query_params(self.using)
        self.plan: planning.Plan | None
        try:
            self.plan = planning.build_plan(self.model, self.using)
        except planning.Unsupported:
            self.plan = None
        self.use_collector = self.plan is None or self.plan.has_delete_signals(self.model)
        # Every root key of a batch is one parameter of its statements; leave room for the rest.
        self.max_batch_size = max(1, min(MAX_BATCH_SIZE, self.param_limit - 100))
        self.adaptive = batch_size is None
        self.batch_size = min(batch_size or FIRST_BATCH_SIZE, self.max_batch_size)
        if self.use_collector:
            self.batch_rows = COLLECTOR_BATCH_ROWS
        elif connections[self.using].vendor == "mysql":
            self.batch_rows = MYSQL_BATCH_ROWS
        else:
            self.batch_rows = BATCH_ROWS
        # Django's collector loads the queryset's rows whole. When no receiver or archive will see
        # them, the fields their relations reference are enough: the rule Django's collector
        # applies to the related rows it loads.
        self.lean_roots = (
            _referenced_fields(self.model)
            if self.use_collector and archive is None and not _has_delete_receivers(self.model)
            else ()
        )
        self.archive = None
        if archive is not None:
            self.archive = ArchiveWriter(archive, origin=archive_origin)
        self.deleted: Counter[str] = Counter()
        self.protected_by: Counter[str] = Counter()
        self.protected = 0
        # Legal holds: the models whose active holds each batch reads (None: every model, for
        # Django's collector), and the keys of the rows kept because of a hold, per model.
        self.hold_models: set[type[Model]] | None = (
            {node.model for node in self.plan.delete_nodes} if self.plan is not None else None
        )
        self.held: dict[str, set[Any]] = {}
        self.held_keys: Callable[[], dict[type[Model], set[Any]]] | None = None
        # The lock a batch takes before it reads the holds (holds.lock: placing a hold waits
        # for the batch to commit).
        self.lock_holds: Callable[[], None] | None = None
        # Holds exist where the app is installed (its LegalHold table); purge() alone works
        # without it. Imported here, not at the top: holds read a model, and importing the
        # package (which imports this module) must import none.
        if apps.is_installed("django_housekeeping"):
            from django_housekeeping.purging.holds import HeldKeys, lock

            self.held_keys = HeldKeys(self.hold_models, self.using)
            if not dry_run:
                self.lock_holds = functools.partial(lock, self.using, exclusive=False)
        # Dry run: the keys of rows more than one path reaches, so each is counted once.
        self.seen: dict[str, set[Any]] = {}
        # A range-partitioned table: partitions dropped whole, and the batches one partition at a
        # time (the partition's bounds added to the root rows' condition).
        self.layout = partitioning.read_layout(
            deletion, using=self.using, plan=self.plan, enabled=partitions
        )
        self.dropped: list[DroppedPartition] = []
        self.held_partitions: list[str] = []
        self.segments: list[partitioning.Partition] | None = None
        self.root_filter: Any = None
        # A batch of a partition that deletes its rows alone (no cascade, no guard, no receiver,
        # no join): its statement selects a range of keys in that partition rather than a list of
        # them, which PostgreSQL reads in one pass instead of one index lookup per key; without a
        # legal hold on the model, the keys are not even read: a span of the partition's pages on
        # PostgreSQL 14+, else the range up to the batch's last key (_range_step).
        self.range_batches = (
            self.layout is not None
            and self.plan is not None
            and len(self.plan.nodes) == 1
            and not self.plan.guarded
            and not self.use_collector
            and len(deletion.query.alias_map) <= 1
        )
        self.fetched = 0
        # The heap pages of the partition (heap_of) a range batch deletes from: None where
        # batches go by key range instead.
        self.heap_of: partitioning.Partition | None = None
        self.heap: partitioning.Heap | None = None

    # the loop -----------------------------------------------------------------------------------

    def run(self) -> PurgeResult:
        try:
            return self._run()
        except StopPurge as stop:  # between two batches: say what the committed ones deleted
            stop.deleted = self._counts()
            raise
        finally:
            self.throttle.close()

    def _run(self) -> PurgeResult:
        started = clock()
        if self.max_seconds is not None:
            self.throttle.deadline = started + self.max_seconds
        selected = self._check_limits()
        batches = 0
        done = self._drop_partitions(selected)
        longest = 0.0
        partial = False
        last: Any = None
        while True:
            if not self.throttle.before_batch():  # max_seconds ran out waiting on a replica
                partial = True
                break
            if self.adaptive:  # no longer than a lagging replica replays in time
                self.batch_size = self.throttle.batch_size(self.batch_size)
            batch_started = clock()
            rows_before = self._rows()
            batch_size = self.batch_size
            with tracing.batch_span(self.label, dry_run=self.dry_run) as span:
                with self._transaction():
                    if self.lock_holds is not None:  # first: the holds are read after it
                        self.lock_holds()
                    handled, last, more = self._step(last, batch_size)
                span.done(rows=self._rows() - rows_before)
            batch_seconds = clock() - batch_started
            if handled:
                longest = max(longest, batch_seconds)
                batches += 1
                done += handled
                if self.progress is not None:
                    self.progress(done, selected)
            elif more:  # a span of pages holding none of the rows: a batch's time all the same
                longest = max(longest, batch_seconds)
            if not more:
                break
            if self.adaptive:
                self._resize(rows=self._rows() - rows_before)
            self.throttle.after_batch(batch_seconds, units=handled)
            if self.max_seconds is not None and clock() - started >= self.max_seconds:
                partial = True
                break
        seconds = clock() - started
        deleted = self._counts()
        total = sum(deleted.values())
        return PurgeResult(
            deleted=deleted,
            total=total,
            dry_run=self.dry_run,
            protected={self.label: self.protected} if self.protected else {},
            protected_by=dict(sorted(self.protected_by.items())),
            held={label: len(keys) for label, keys in sorted(self.held.items()) if keys},
            batches=batches,
            seconds=round(seconds, 3),
            rows_per_second=round(total / seconds, 1) if seconds > 0 else 0.0,
            max_batch_seconds=round(longest, 3),
            partial=partial,
            archive=str(self.archive.path) if self.archive and self.archive.objects else None,
            dropped_partitions=self.dropped,
            partitions=self.layout.note(self.held_partitions) if self.layout else None,
            throttle=self.throttle.result(),
        )

    def _transaction(self) -> AbstractContextManager[Any]:
        return nullcontext() if self.dry_run else transaction.atomic(using=self.using)

    def _check_limits(self) -> int | None:
        """The rows the queryset selects (when someone needs the number); raises on a breach."""
        limited = self.max_rows is not None or self.max_fraction is not None
        if not limited and self.progress is None:
            return None
        selected = _count(self.deletion)
        if not limited or self.force:
            return selected
        table_rows = self.model._base_manager.db_manager(self.using).count()
        fraction = selected / table_rows if table_rows else 0.0
        breaches = []
        if self.max_rows is not None and selected > self.max_rows:
            breaches.append(f"max_rows is {self.max_rows:,}")
        if self.max_fraction is not None and fraction > self.max_fraction:
            breaches.append(f"max_fraction is {self.max_fraction:g}")
        if breaches:
            raise PurgeLimitExceeded(
                f"refusing to purge {selected:,} rows of {self.label} ({fraction:.1%} of its "
                f"{table_rows:,} rows): {' and '.join(breaches)}. Nothing was deleted; pass "
                "force=True (housekeeping run --force) to purge anyway.",
                label=self.label,
                selected=selected,
                table_rows=table_rows,
                max_rows=self.max_rows,
                max_fraction=self.max_fraction,
            )
        return selected

    def _step(self, last: Any, batch_size: int) -> tuple[int, Any, bool]:
        """One batch, in the current transaction: (rows of the queryset handled, the last key,
        whether another batch follows)."""
        if self.range_batches and self.segments is not None and not self._held_roots():
            return self._range_step(last, batch_size)
        roots, fetched = self._next_roots(last, batch_size)
        if roots:
            self._batch(roots)
        return len(roots), roots[-1] if roots else None, bool(roots) and fetched >= batch_size

    def _held_roots(self) -> bool:
        """Whether a legal hold keeps a row of the queryset's model (read in the batch's
        transaction)."""
        if self.held_keys is None:
            return False
        return bool(self.held_keys().get(concrete(self.model)))

    def _range_step(self, last: Any, batch_size: int) -> tuple[int, Any, bool]:
        """A batch of one partition that deletes its rows alone, without reading its keys.

        On PostgreSQL 14+, a span of the partition's heap pages (about ``batch_size`` rows, by
        the partition's rows per page): one statement deletes (counts, in a dry run) the rows of
        the queryset in those pages, a TID Range Scan. A span may hold none of them (pages of
        rows after the cutoff): the purge goes on with the next span, and ends once the last
        span of the last partition is done. Elsewhere (see :func:`partitioning.heap`), the key
        ``batch_size`` rows after ``last`` is found in the partition's index, and the rows up to
        it are deleted by one statement on that range."""
        while self.segments:
            segment = self.segments[0]
            if self.root_filter is not segment.condition:
                self.root_filter, last = segment.condition, None
            if self.heap_of is not segment:
                self.heap_of, self.heap = segment, partitioning.heap(self.using, segment)
            rows = self.deletion.filter(segment.condition)
            if self.heap is not None and batch_size >= self.heap.rows_per_page:
                first, end = self.heap.span(batch_size)
                if end is None:  # the partition's last span
                    self.segments.pop(0)
                handled = self._delete_range(partitioning.in_pages(rows, first, end))
                return handled, None, bool(self.segments)
            if last is not None:
                rows = rows.filter(pk__gt=last)
            upper = partitioning.upper_key(rows, batch_size)
            if upper is not None:
                return self._delete_range(rows.filter(pk__lte=upper)), upper, True
            self.segments.pop(0)  # the rest of the partition
            handled = self._delete_range(rows)
            if handled:
                return handled, None, bool(self.segments)
        return 0, None, False

    def _delete_range(self, rows: QuerySet[Any]) -> int:
        """Delete (count, in a dry run) the rows of one batch given as a queryset; how many."""
        if self.dry_run:
            count = rows.count()
        else:
            if self.archive is not None:
                self.archive.append([rows])
            if self.deleted_keys is not None:
                self.deleted_keys({concrete(self.model): set(rows.values_list("pk", flat=True))})
            count = compat.raw_delete(rows, self.using)
        self.deleted[self.label] += count
        return count

    def _next_roots(self, last: Any, batch_size: int) -> tuple[list[Any], int]:
        """The next batch of the queryset's primary keys after ``last``, in order, and how many
        rows the query returned (a join in the queryset may repeat a key).

        On a partitioned table, the keys of one partition (segment) at a time: a segment's last
        batch reports a full batch while other segments follow, and the next starts afresh."""
        if self.segments is None:
            return self._keys_after(self.deletion, last, batch_size)
        while self.segments:
            segment = self.segments[0]
            if self.root_filter is not segment.condition:
                self.root_filter, last = segment.condition, None
            keys, fetched = self._keys_after(
                self.deletion.filter(segment.condition), last, batch_size
            )
            self.fetched = len(keys)
            if fetched == batch_size:
                return keys, fetched
            self.segments.pop(0)
            if keys:
                return keys, batch_size if self.segments else fetched
        return [], 0

    def _keys_after(self, rows: QuerySet[Any], last: Any, batch_size: int) -> tuple[list[Any], int]:
        if last is not None:
            rows = rows.filter(pk__gt=last)
        keys = list(rows.order_by("pk").values_list("pk", flat=True)[:batch_size])
        return list(dict.fromkeys(keys)), len(keys)

    def _drop_partitions(self, selected: int | None) -> int:
        """Drop the partitions wholly before the cutoff (after the limits were checked); the rows
        they held, which count as handled."""
        if self.layout is None:
            return 0
        done = 0
        append = self.archive.append if self.archive is not None else None
        for partition in self.layout.droppable:
            rows = partitioning.drop_partition(
                self.model,
                self.using,
                self.layout,
                partition,
                dry_run=self.dry_run,
                held=self.held_keys,
                lock=self.lock_holds,
                append=(lambda batch: append([batch])) if append is not None else None,
            )
            if rows is None:
                self.held_partitions.append(partition.name)
                continue
            self.dropped.append(DroppedPartition(name=partition.name, rows=rows))
            self.deleted[self.label] += rows
            done += rows
            if self.progress is not None:
                self.progress(done, selected)
        self.segments = self.layout.segments([p["name"] for p in self.dropped])
        return done

    def _counts(self) -> dict[str, int]:
        """Rows deleted (or counted) so far by model, cascades included."""
        counts = Counter(self.deleted)
        for label, keys in self.seen.items():
            counts[label] += len(keys)
        return {label: count for label, count in sorted(counts.items()) if count}

    def _rows(self) -> int:
        """Rows deleted (or, in a dry run, counted) so far."""
        return sum(self.deleted.values()) + sum(len(keys) for keys in self.seen.values())

    def _resize(self, rows: int) -> None:
        """The next batch's size: about ``batch_rows`` rows, judged by the last batch's rows.

        Rows, not seconds, so a dry run and a real run cut the same batches.
        """
        wanted = self.batch_size * self.batch_rows // max(rows, 1)
        self.batch_size = max(1, min(wanted, 4 * self.batch_size, self.max_batch_size))

    # one batch ----------------------------------------------------------------------------------

    def _batch(self, roots: list[Any]) -> None:
        # In the batch's transaction: a hold committed before this batch started keeps its rows.
        held = self.held_keys() if self.held_keys is not None else {}
        if self.plan is not None:
            if held:
                roots = self._skip_held(roots, lambda batch: self._plan_reaches(batch, held))
            allowed = self._partition(roots, self._plan_guard)
            if not allowed:
                return
            if self.dry_run or not self.use_collector:
                # A dry run counts with the plan even when signals have receivers: it sends none.
                self._planned_batch(allowed)
            else:
                self._signalled_batch(allowed)
            return
        self._collector_batch(roots, held)

    def _scope(self, roots: Sequence[Any]) -> Any:
        assert self.plan is not None
        return Scope(
            self.plan,
            self.using,
            roots,
            self.param_limit,
            root_filter=self.root_filter,
            root_rows=self._root_range(roots),
        )

    def _root_range(self, roots: Sequence[Any]) -> QuerySet[Any] | None:
        """A whole fetched batch of one partition, when it deletes its rows alone: the rows of
        the queryset in that partition between its first and last key — the batch's rows (and
        any row that came to match them since, as a later batch would delete it)."""
        if not self.range_batches or self.root_filter is None or not roots:
            return None
        if len(roots) != self.fetched:  # some of the batch stays (a hold): its keys, one by one
            return None
        return self.deletion.filter(self.root_filter, pk__gte=roots[0], pk__lte=roots[-1])

    def _plan_guard(self, roots: Sequence[Any]) -> str | None:
        assert self.plan is not None
        if not self.plan.guarded:
            return None
        reason: str | None = self._scope(roots).violated_guard()
        return reason

    def _partition(
        self,
        roots: Sequence[Any],
        guard: Callable[[Sequence[Any]], str | None],
        refused: Callable[[Any, str], None] | None = None,
    ) -> list[Any]:
        """The roots that may go: a batch a guard refuses is halved until the refused rows are
        found one by one (``refused(root, reason)`` is called for each; by default they are
        counted as protected)."""
        reason = guard(roots)
        if reason is None:
            return list(roots)
        if len(roots) == 1:
            if refused is None:
                self.protected += 1
                self.protected_by[reason] += 1
            else:
                refused(roots[0], reason)
            return []
        middle = len(roots) // 2
        return self._partition(roots[:middle], guard, refused) + self._partition(
            roots[middle:], guard, refused
        )

    # legal holds --------------------------------------------------------------------------------

    def _skip_held(
        self, roots: Sequence[Any], reaches_held: Callable[[Sequence[Any]], bool]
    ) -> list[Any]:
        """The roots whose deletion reaches no held row; the others are counted as held, with
        the rows their deletion would have cascaded to."""
        kept: list[Any] = []
        allowed = self._partition(
            roots,
            lambda batch: "held" if reaches_held(batch) else None,
            lambda root, _reason: kept.append(root),
        )
        if kept:
            self._count_held(kept)
        return allowed

    def _plan_reaches(self, roots: Sequence[Any], held: dict[type[Model], set[Any]]) -> bool:
        """Whether deleting ``roots`` deletes a held row (updates by SET_NULL/SET_DEFAULT do
        not count: the held row stays)."""
        assert self.plan is not None
        scope = self._scope(roots)
        for node in self.plan.delete_nodes:
            keys = held.get(node.model)
            if not keys:
                continue
            if node.kind == planning.ROOT:
                if not keys.isdisjoint(roots):
                    return True
                continue
            rows = scope.queryset(node)
            for chunk in planning.chunked(sorted(keys, key=str), self.param_limit // 2):
                if rows.filter(in_keys(node.model, "pk", chunk)).exists():
                    return True
        return False

    def _collected_reaches(self, collector: Collector, held: dict[type[Model], set[Any]]) -> bool:
        """Whether Django's collector is about to delete a held row."""
        for model, instances in collector.data.items():
            keys = held.get(concrete(model))
            if keys and any(instance.pk in keys for instance in instances):
                return True
        for fast_delete in collector.fast_deletes:
            keys = held.get(concrete(fast_delete.model))
            if keys and fast_delete.filter(pk__in=list(keys)).exists():
                return True
        return False

    def _collector_reaches(self, roots: Sequence[Any], held: dict[type[Model], set[Any]]) -> bool:
        try:
            collector = self._collect(roots)
        except (ProtectedError, RestrictedError):
            return False  # not for a hold to say: the protection check decides these
        return self._collected_reaches(collector, held)

    def _count_held(self, kept: Sequence[Any]) -> None:
        """Add the rows ``kept``'s deletion would have reached to ``held`` (each row once)."""
        if self.plan is not None:
            scope = self._scope(kept)
            for node in self.plan.delete_nodes:
                keys = set(kept) if node.kind == planning.ROOT else scope.primary_keys(node)
                self.held.setdefault(node.label, set()).update(keys)
            return
        try:
            collector = self._collect(kept)
        except (ProtectedError, RestrictedError):
            self.held.setdefault(self.label, set()).update(kept)
            return
        for model, instances in collector.data.items():
            self.held.setdefault(model._meta.label, set()).update(
                instance.pk for instance in instances
            )
        for fast_delete in collector.fast_deletes:
            self.held.setdefault(fast_delete.model._meta.label, set()).update(
                fast_delete.values_list("pk", flat=True)
            )

    def _planned_batch(self, roots: list[Any]) -> None:
        assert self.plan is not None
        scope = self._scope(roots)
        if self.dry_run:
            shared = self.plan.shared_models()
            for node in self.plan.delete_nodes:
                if node.model in shared:
                    self.seen.setdefault(node.label, set()).update(scope.primary_keys(node))
                elif node.kind == "root":
                    self.deleted[node.label] += len(roots)
                else:
                    self.deleted[node.label] += scope.count(node)
            return
        self._archive_planned(scope)
        self.deleted.update(scope.delete())

    def _archive_planned(self, scope: Scope) -> None:
        """Before a planned batch deletes: its rows archived (the deleted ones, then the updated
        ones, each row once), and their keys handed to ``deleted_keys``."""
        assert self.plan is not None
        if self.archive is not None:
            self.archive.append(
                (scope.queryset(node) for node in self.plan.delete_nodes),
                updated=[
                    scope.queryset(node)
                    for node in self.plan.nodes
                    if node.action == planning.UPDATE
                ],
            )
        if self.deleted_keys is not None:
            keys: dict[type[Model], set[Any]] = {}
            for node in self.plan.delete_nodes:
                keys.setdefault(concrete(node.model), set()).update(scope.primary_keys(node))
            self.deleted_keys(keys)

    # Django's collector -------------------------------------------------------------------------

    def _collect(self, roots: Sequence[Any]) -> Collector:
        rows = self.model._base_manager.db_manager(self.using).filter(
            in_keys(self.model, "pk", roots)
        )
        if self.root_filter is not None:
            rows = rows.filter(self.root_filter)
        if self.lean_roots:
            rows = rows.only(*self.lean_roots)
        collector = Collector(using=self.using, origin=self.queryset)
        collector.collect(rows)
        return collector

    def _collector_guard(self, roots: Sequence[Any]) -> str | None:
        try:
            self._collect(roots)
        except (ProtectedError, RestrictedError) as error:
            return _refusal(error)
        return None

    def _collect_allowed(self, roots: list[Any]) -> tuple[list[Any], Collector | None]:
        """Django's collector for the roots it allows to delete (halving a refused batch)."""
        try:
            return roots, self._collect(roots)
        except (ProtectedError, RestrictedError):
            roots = self._partition(roots, self._collector_guard)
            return roots, self._collect(roots) if roots else None

    def _signalled_batch(self, roots: list[Any]) -> None:
        """A batch whose models have delete receivers, deleted the way Django's collector does.

        Django's collector collects the batch (loading the rows whose models have receivers, and
        what it needs to find them); ``pre_delete`` is sent for every collected row; the plan's
        statements delete the batch, and ``post_delete`` is sent for a model's rows as soon as
        the last of them is deleted — the order of ``Collector.delete()``, which would otherwise
        delete the loaded rows a hundred keys per statement.
        """
        roots, collector = self._collect_allowed(roots)
        if collector is None:
            return
        scope = self._scope(roots)
        self._archive_planned(scope)
        collector.sort()  # the model order Collector.delete() sends signals in
        collected: dict[Any, list[Any]] = {}
        for model, instances in collector.data.items():
            if instances:
                collected.setdefault(concrete(model), []).append(
                    (model, sorted(instances, key=attrgetter("pk")))
                )
        for groups in collected.values():
            for model, instances in groups:
                if not model._meta.auto_created:
                    for instance in instances:
                        pre_delete.send(
                            sender=model, instance=instance, using=self.using, origin=self.queryset
                        )

        def send_post_delete(deleted_model: type[Model]) -> None:
            for model, instances in collected.get(deleted_model, ()):
                if not model._meta.auto_created:
                    for instance in instances:
                        post_delete.send(
                            sender=model, instance=instance, using=self.using, origin=self.queryset
                        )

        self.deleted.update(scope.delete(deleted_all_of=send_post_delete))
        for groups in collected.values():
            for model, instances in groups:
                for instance in instances:
                    setattr(instance, model._meta.pk.attname, None)

    def _collector_batch(self, roots: list[Any], held: dict[type[Model], set[Any]]) -> None:
        roots, maybe_collector = self._collect_allowed(roots)
        if maybe_collector is not None and held and self._collected_reaches(maybe_collector, held):
            roots = self._skip_held(roots, lambda batch: self._collector_reaches(batch, held))
            roots, maybe_collector = self._collect_allowed(roots) if roots else ([], None)
        if maybe_collector is None:
            return
        collector = maybe_collector
        if self.dry_run:
            for model, instances in collector.data.items():
                self.seen.setdefault(model._meta.label, set()).update(
                    instance.pk for instance in instances
                )
            for fast_delete in collector.fast_deletes:
                self.seen.setdefault(fast_delete.model._meta.label, set()).update(
                    fast_delete.values_list("pk", flat=True)
                )
            return
        if self.archive is not None:
            self.archive.append(*_collected_rows(collector))
        if self.deleted_keys is not None:
            self.deleted_keys(_collected_keys(collector))
        _, counts = collector.delete()
        self.deleted.update(counts)


def _has_delete_receivers(model: type[Model]) -> bool:
    return pre_delete.has_listeners(model) or post_delete.has_listeners(model)


def _referenced_fields(model: type[Model]) -> tuple[str, ...]:
    """The fields of ``model`` the relations deleting it follows read (its key, and the targets
    of foreign keys to it); empty for a multi-table child, whose parent rows the collector reads
    through the child rows."""
    opts = model._meta
    if opts.concrete_model is None or opts.concrete_model._meta.parents:
        return ()
    fields = {opts.pk.attname} if opts.pk is not None else set()
    relation: Any
    for relation in compat.candidate_relations_to_delete(opts):
        fields.update(target.attname for target in relation.field.foreign_related_fields)
    return tuple(sorted(fields))


def _refusal(error: ProtectedError | RestrictedError) -> str:
    """``"app_label.Model"`` of the rows that refused a deletion."""
    refusing = (
        error.protected_objects if isinstance(error, ProtectedError) else error.restricted_objects
    )
    for row in refusing:
        return str(row._meta.label)
    return "unknown"


def _collected_rows(collector: Collector) -> tuple[list[Any], list[Any]]:
    """What a collector is about to delete, and what it is about to update, grouped by model."""
    groups: list[Any] = [list(instances) for instances in collector.data.values() if instances]
    groups.extend(collector.fast_deletes)
    updated: list[Any] = []
    updates: dict[Any, list[Any]] = collector.field_updates
    for objs_list in updates.values():
        for objs in objs_list:
            updated.append(objs if isinstance(objs, QuerySet) else list(objs))
    return groups, updated


def _collected_keys(collector: Collector) -> dict[type[Model], set[Any]]:
    """The keys of the rows a collector is about to delete, per concrete model."""
    keys: dict[type[Model], set[Any]] = {}
    for model, instances in collector.data.items():
        keys.setdefault(concrete(model), set()).update(instance.pk for instance in instances)
    for fast_delete in collector.fast_deletes:
        keys.setdefault(concrete(fast_delete.model), set()).update(
            fast_delete.values_list("pk", flat=True)
        )
    return keys
