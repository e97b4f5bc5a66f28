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

This module is the batch loop (:class:`_Purge`: limits, keyset batches, partitions, adaptive
sizes, the plan's batches). Its parts live apart: the batches Django's collector handles
(:mod:`~django_housekeeping.purging.collecting`), the legal-hold checks
(:mod:`~django_housekeeping.purging.hold_checks`), what a batch's rows go through before they are
deleted (:mod:`~django_housekeeping.purging.batch_hooks`) and the result types
(:mod:`~django_housekeeping.purging.results`, importable from here).
"""

from __future__ import annotations

import functools
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.apps import apps
from django.db import connections, transaction
from django.db.models import Model, QuerySet

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
from django_housekeeping.purging.batch_hooks import BatchHooks, KeysCallback
from django_housekeeping.purging.collecting import (
    CollectorBatches,
    has_delete_receivers,
    referenced_fields,
)
from django_housekeeping.purging.hold_checks import HoldChecks
from django_housekeeping.purging.options import check_purge_value
from django_housekeeping.purging.partitions import DroppedPartition
from django_housekeeping.purging.planner import Scope, concrete
from django_housekeeping.purging.results import PurgeLimitExceeded, PurgeResult, StopPurge
from django_housekeeping.purging.throttle import Notify, Throttle, build_throttle

__all__ = [
    "KeysCallback",
    "ProgressCallback",
    "PurgeLimitExceeded",
    "PurgeResult",
    "StopPurge",
    "purge",
]

ProgressCallback = Callable[[int, "int | None"], None]

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


class _Purge(CollectorBatches, HoldChecks):
    """One purge: the batch loop, its bookkeeping and its result (the batches Django's collector
    handles and the legal-hold checks are mixed in from collecting.py and hold_checks.py)."""

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
            referenced_fields(self.model)
            if self.use_collector and archive is None and not has_delete_receivers(self.model)
            else ()
        )
        self.archive = None
        if archive is not None:
            self.archive = ArchiveWriter(archive, origin=archive_origin)
        # Before each batch deletes: its rows archived, their keys handed to deleted_keys.
        self.hooks = BatchHooks(self.archive, deleted_keys)
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
            self.hooks.before_range(self.model, rows)
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
        self.hooks.before_planned(self.plan, scope)
        self.deleted.update(scope.delete())
