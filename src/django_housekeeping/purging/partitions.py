"""Partitioned tables: dropping whole partitions instead of deleting their rows, and batches that
stay inside one partition.

On PostgreSQL, a table declaratively partitioned by ``RANGE`` on one column (``PARTITION BY RANGE
(at)``, as pg_partman creates them) is read from the catalog (``pg_partitioned_table``,
``pg_inherits``, each partition's bound from ``pg_get_expr(relpartbound)``); the bounds are cast
and compared by the server itself, in the column's own type, never parsed into values here.

- When the purged queryset's only condition is ``field < value`` or ``field <= value`` on that
  column, every partition whose upper bound is at most the cutoff holds only rows the purge
  deletes: it is detached (``DETACH PARTITION … CONCURRENTLY`` outside a transaction on
  PostgreSQL 14+, a plain ``DETACH`` otherwise), its rows estimated (:func:`_rows`) and archived
  (with ``archive``), and the table dropped (:func:`drop_partition`). Nothing else may depend on its
  rows: the deletion plan must reach no other table (no relation to cascade into, update or be
  protected by), no foreign-key constraint may reference the table, the model must have no delete
  receivers, and no row of that partition may be under a legal hold — otherwise its rows are
  deleted in batches, and :attr:`Layout.note` says why. A ``DEFAULT`` partition is never dropped.
- Every partition that may hold rows of the queryset is a *segment* of the batched purge: its
  bounds are added to the root rows' condition (:attr:`Partition.condition`), both where the
  engine fetches the next keys and in the statement that deletes them, so PostgreSQL prunes each
  statement to one partition and its own index. A batch whose rows go alone reads no keys: on
  PostgreSQL 14+ it is a span of the partition's heap pages (:class:`Heap`, :func:`in_pages`:
  ``ctid >= '(b,0)' AND ctid < '(e,0)'``, a TID Range Scan), so the partition is read in one
  sequential pass cut into batches; elsewhere (older servers, the DEFAULT partition, a
  sub-partitioned partition, a batch smaller than a page) the engine asks :func:`upper_key` for
  the batch's last key and deletes the range up to it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, TypedDict

from django.db import connections, transaction
from django.db.models import BooleanField, Model, Q, QuerySet
from django.db.models.expressions import Col, RawSQL
from django.db.models.lookups import LessThan, LessThanOrEqual
from django.db.models.signals import post_delete, pre_delete
from django.db.models.sql.where import AND, WhereNode

from django_housekeeping.purging.planner import ROOT, Plan

# A literal bound as pg_get_expr() writes it: a quoted string, a number, or a boolean.
_LITERAL = re.compile(r"'(?:[^']|'')*'|[-+]?[0-9][0-9.eE+-]*|true|false")
_RANGE_BOUND = re.compile(r"FOR VALUES FROM \((?P<lower>.*)\) TO \((?P<upper>.*)\)")
# Column types whose ``x <= c`` is ``x < c + 1``.
_DISCRETE_TYPES = ("smallint", "integer", "bigint", "date")
# Rows read from a detached partition per archive batch.
ARCHIVE_BATCH = 10_000
# A partition without statistics: its rows per page are counted in its first pages (at most
# these many); when those hold none, a page is taken to hold as many rows as it can
# (MaxHeapTuplesPerPage: a 24-byte page header, then 4 bytes of line pointer and a 24-byte tuple
# header per row), so a span never holds more rows than its batch.
SAMPLE_PAGES = 32
_PAGE_HEADER, _ROW_OVERHEAD = 24, 28


class DroppedPartition(TypedDict):
    """A partition a purge dropped (or, in a dry run, would drop) and the rows it held."""

    name: str
    rows: int


@dataclass
class Partition:
    """One partition of a range-partitioned table, as the purge sees it."""

    schema: str
    name: str
    bound: str  # as pg_get_expr() writes it: "FOR VALUES FROM (…) TO (…)" or "DEFAULT"
    # Python values of the bounds (None: MINVALUE/MAXVALUE, or the DEFAULT partition).
    lower: Any = None
    upper: Any = None
    default: bool = False
    # Every row it may hold satisfies the queryset's condition (its upper bound ≤ the cutoff).
    below_cutoff: bool = False
    # It may hold rows the queryset selects.
    may_match: bool = True
    # The root rows' condition that keeps a statement inside this partition.
    condition: Q = field(default_factory=Q)

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass
class Layout:
    """A range-partitioned table and what a purge of one queryset does with its partitions.

    ``partitions``: every partition, the DEFAULT one last; ``droppable``: those to detach and
    drop (empty when dropping is off or would lose something); ``reason``: why none may be
    dropped (None: those below the cutoff may).
    """

    table: str
    column: str
    partitions: list[Partition]
    droppable: list[Partition]
    reason: str | None

    def segments(self, dropped: Sequence[str]) -> list[Partition]:
        """The partitions the batches go through, one after the other: those that may hold rows
        of the queryset and were not ``dropped`` (names)."""
        return [p for p in self.partitions if p.may_match and p.name not in dropped]

    def note(self, held: Sequence[str]) -> str | None:
        """Why rows of partitions are deleted by batches (None: nothing to say): the reason none
        may be dropped, or the partitions that straddle the cutoff, the DEFAULT partition and the
        partitions ``held`` (names) a legal hold keeps."""
        if self.reason is not None:
            return self.reason
        parts = []
        straddling = [p.name for p in self.partitions if p.may_match and not p.below_cutoff]
        straddling = [name for name in straddling if name not in self._defaults]
        if straddling:
            parts.append(f"batched {', '.join(straddling)}: rows on both sides of the cutoff")
        if held:
            parts.append(f"batched {', '.join(held)}: a row is under a legal hold")
        for name in self._defaults:
            parts.append(f"batched {name}: a DEFAULT partition is never dropped")
        return "; ".join(parts) or None

    @property
    def _defaults(self) -> list[str]:
        return [p.name for p in self.partitions if p.default and p.may_match]


def read_layout(
    queryset: QuerySet[Any], *, using: str, plan: Plan | None, enabled: bool
) -> Layout | None:
    """The partitions of the queryset's table when it is range-partitioned on PostgreSQL on one
    column (None otherwise: the purge goes on as on any table)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return None
    model = queryset.model
    table = model._meta.db_table
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pt.partstrat, pt.partnatts, a.attname, "
            "format_type(a.atttypid, a.atttypmod), a.atttypid::regtype::text "
            "FROM pg_partitioned_table pt LEFT JOIN pg_attribute a "
            "ON a.attrelid = pt.partrelid AND a.attnum = pt.partattrs[0] "
            "WHERE pt.partrelid = to_regclass(%s)",
            [quote(table)],
        )
        key = cursor.fetchone()
    if key is None:
        return None
    strategy, columns, column, column_type, type_name = key
    if strategy != "r" or columns != 1 or column is None:
        return None
    key_field = _field_of(model, column)
    if key_field is None:  # a column the model does not know: nothing to filter its rows on
        return None
    condition = _cutoff_condition(queryset, key_field)
    partitions = _partitions(queryset, using, table, key_field, column_type, type_name, condition)
    reason = _why_not_drop(queryset, using, plan, enabled, table, column, condition)
    droppable = (
        [p for p in partitions if p.below_cutoff and not p.default] if reason is None else []
    )
    return Layout(
        table=table, column=column, partitions=partitions, droppable=droppable, reason=reason
    )


def _version(using: str) -> int:
    """The PostgreSQL server's version number (150004 for 15.4)."""
    version: int = getattr(connections[using], "pg_version", 0)
    return version


def _field_of(model: type[Model], column: str) -> Any:
    for candidate in model._meta.concrete_fields:
        if candidate.column == column:
            return candidate
    return None


@dataclass(frozen=True)
class _Cutoff:
    inclusive: bool  # <= rather than <
    param: Any  # the cutoff as the database receives it


def _cutoff_condition(queryset: QuerySet[Any], key_field: Any) -> _Cutoff | None:
    """``field < value`` / ``field <= value`` when that is the queryset's only condition, on the
    partition key column of the model's own table, with a literal value (None otherwise)."""
    query = queryset.query
    where = query.where
    if key_field is None or len(query.alias_map) > 1:
        return None
    if not isinstance(where, WhereNode) or where.negated or where.connector != AND:
        return None
    if len(where.children) != 1:
        return None
    lookup: Any = where.children[0]
    if type(lookup) not in (LessThan, LessThanOrEqual):
        return None
    lhs = lookup.lhs
    if not isinstance(lhs, Col) or lhs.target is not key_field:
        return None
    if lhs.alias != query.base_table:
        return None
    if hasattr(lookup.rhs, "resolve_expression"):
        return None
    compiler = query.get_compiler(using=queryset.db)
    _sql, params = lookup.as_sql(compiler, compiler.connection)
    if len(params) != 1:
        return None
    return _Cutoff(inclusive=type(lookup) is LessThanOrEqual, param=params[0])


def _partitions(
    queryset: QuerySet[Any],
    using: str,
    table: str,
    key_field: Any,
    column_type: str,
    type_name: str,
    cutoff: _Cutoff | None,
) -> list[Partition]:
    connection = connections[using]
    quote = connection.ops.quote_name
    # A partition a DETACH … CONCURRENTLY left half-way (PostgreSQL 14+) is no longer read
    # through its table: it waits for ALTER TABLE … DETACH PARTITION … FINALIZE.
    pending = " AND NOT i.inhdetachpending" if _version(using) >= 140000 else ""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n.nspname, c.relname, pg_get_expr(c.relpartbound, c.oid) "
            "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            f"WHERE i.inhparent = to_regclass(%s){pending} ORDER BY c.relname",
            [quote(table)],
        )
        rows = cursor.fetchall()
    partitions: list[Partition] = []
    ranges: list[Q] = []
    for schema, name, bound in rows:
        partition = Partition(schema=schema, name=name, bound=bound)
        partitions.append(partition)
        if bound == "DEFAULT":
            partition.default = True
            continue
        match = _RANGE_BOUND.fullmatch(bound)
        if match is None:  # pragma: no cover - a single-column range bound always matches
            raise ValueError(f"unexpected bound of partition {name}: {bound}")
        lower, upper = match["lower"], match["upper"]
        partition.lower, partition.upper, partition.below_cutoff, partition.may_match = _compare(
            using, lower, upper, column_type, type_name, cutoff
        )
        condition = Q()
        if partition.lower is not None:
            condition &= Q(**{f"{key_field.attname}__gte": partition.lower})
        if partition.upper is not None:
            condition &= Q(**{f"{key_field.attname}__lt": partition.upper})
        partition.condition = condition
        ranges.append(condition)
    covered = Q()
    for condition in ranges:
        covered |= condition
    for partition in partitions:
        if partition.default:
            # What no other partition takes: values out of every range, and NULL.
            partition.condition = Q(**{f"{key_field.attname}__isnull": True})
            if ranges:
                partition.condition |= ~covered
            else:
                partition.condition = Q()
    return _sorted(partitions)


def _sorted(partitions: list[Partition]) -> list[Partition]:
    """MINVALUE first, then by lower bound, the DEFAULT partition last."""
    unbounded = [p for p in partitions if not p.default and p.lower is None]
    bounded = sorted((p for p in partitions if p.lower is not None), key=lambda p: p.lower)
    return unbounded + bounded + [p for p in partitions if p.default]


def _literal(text: str) -> str | None:
    """The bound's SQL literal (None for MINVALUE/MAXVALUE); ValueError for anything else."""
    if text in ("MINVALUE", "MAXVALUE"):
        return None
    if not _LITERAL.fullmatch(text):  # pragma: no cover - pg_get_expr writes constants only
        raise ValueError(f"unexpected partition bound {text!r}")
    return text


def _compare(
    using: str,
    lower_text: str,
    upper_text: str,
    column_type: str,
    type_name: str,
    cutoff: _Cutoff | None,
) -> tuple[Any, Any, bool, bool]:
    """(lower, upper, below_cutoff, may_match) of one range partition, cast and compared by the
    server in the column's type."""
    lower, upper = _literal(lower_text), _literal(upper_text)
    cast_lower = f"CAST({lower} AS {column_type})" if lower is not None else "NULL"
    cast_upper = f"CAST({upper} AS {column_type})" if upper is not None else "NULL"
    params: list[Any] = []
    if cutoff is None:
        below, match = "false", "true"
    else:
        # Every row is below the cutoff when the exclusive upper bound is at most the cutoff;
        # with <=, rows up to the cutoff itself: for a discrete type, the bound may be cutoff + 1.
        upper_limit = cast_upper
        if cutoff.inclusive and type_name in _DISCRETE_TYPES:
            upper_limit = f"({cast_upper} - 1)"
        below = "false" if upper is None else f"{upper_limit} <= %s"
        if upper is not None:
            params.append(cutoff.param)
        operator = "<=" if cutoff.inclusive else "<"
        match = "true" if lower is None else f"{cast_lower} {operator} %s"
        if lower is not None:
            params.append(cutoff.param)
    with connections[using].cursor() as cursor:
        cursor.execute(
            f"SELECT {cast_lower}, {cast_upper}, {below}, {match}",
            params,
        )
        row = cursor.fetchone()
    assert row is not None
    return row[0], row[1], bool(row[2]), bool(row[3])


def _why_not_drop(
    queryset: QuerySet[Any],
    using: str,
    plan: Plan | None,
    enabled: bool,
    table: str,
    column: str,
    cutoff: _Cutoff | None,
) -> str | None:
    """Why no partition may be dropped (None: those below the cutoff may go)."""
    model = queryset.model
    label = model._meta.label
    if not enabled:
        return "batched: dropping partitions is turned off (partitions=False)"
    if cutoff is None:
        return (
            f"batched: the queryset has another condition than {column} < value "
            f"(or {column} <= value) on its partition key"
        )
    if plan is None:
        return f"batched: deleting {label} is left to Django's collector"
    for node in plan.nodes:
        if node.kind != ROOT:
            verb = "cascades to" if node.action == "delete" else "updates"
            return f"batched: deleting {label} {verb} {node.description}"
        for foreign_key, rule in node.guards:
            return f"batched: {foreign_key.model._meta.label}.{foreign_key.name} {rule}s {label}"
    if pre_delete.has_listeners(model) or post_delete.has_listeners(model):
        return f"batched: {label} has a delete receiver"
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, conrelid::regclass::text FROM pg_constraint "
            "WHERE contype = 'f' AND confrelid = to_regclass(%s) ORDER BY conname",
            [connection.ops.quote_name(table)],
        )
        constraint = cursor.fetchone()
    if constraint is not None:
        return f"batched: the foreign key {constraint[0]} of {constraint[1]} references {table}"
    return None


@dataclass
class Heap:
    """The heap pages of one partition, deleted from a span of pages a batch (PostgreSQL 14+).

    ``pages``: the partition's pages when its batches started (the last span has no end, so rows
    added after it are read too); ``rows_per_page``: from the statistics
    (``reltuples / relpages``), else counted in the first pages (see :data:`SAMPLE_PAGES`);
    ``start``: the first page of the next span.
    """

    partition: Partition
    pages: int
    rows_per_page: float
    start: int = 0

    def span(self, batch_size: int) -> tuple[int, int | None]:
        """The next span of about ``batch_size`` rows, ``(first page, end page)`` (end None: to
        the end of the partition, its last span), and move past it."""
        first = self.start
        end = first + max(1, math.ceil(batch_size / self.rows_per_page))
        if end >= self.pages:
            self.start = self.pages
            return first, None
        self.start = end
        return first, end


def heap(using: str, partition: Partition) -> Heap | None:
    """The heap of ``partition`` for batches by span of pages, or None when they do not apply:
    before PostgreSQL 14 (no TID Range Scan), for the DEFAULT partition (its condition does not
    let PostgreSQL prune a statement to it) or a partition that is not a plain table (itself
    partitioned, or foreign)."""
    if partition.default or _version(using) < 140000:
        return None
    relation = _relation(using, partition)
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT c.relkind, c.relpages, c.reltuples, "
            "pg_relation_size(c.oid) / current_setting('block_size')::int, "
            "current_setting('block_size')::int FROM pg_class c WHERE c.oid = to_regclass(%s)",
            [relation],
        )
        row = cursor.fetchone()
        if row is None or row[0] != "r":
            return None
        _kind, relpages, reltuples, pages, block_size = row
        if relpages > 0 and reltuples > 0:
            rows_per_page = float(reltuples) / relpages
        else:  # never vacuumed nor analyzed (reltuples -1, or 0 before PostgreSQL 14)
            sample = min(int(pages), SAMPLE_PAGES)
            counted = 0
            if sample:
                cursor.execute(
                    f"SELECT count(*) FROM {relation} WHERE ctid < %s::tid", [f"({sample},0)"]
                )
                counted = cursor.fetchone()[0]
            rows_per_page = (
                counted / sample if counted else (block_size - _PAGE_HEADER) // _ROW_OVERHEAD
            )
    return Heap(partition=partition, pages=int(pages), rows_per_page=max(rows_per_page, 1.0))


def in_pages(rows: QuerySet[Any], first: int, end: int | None) -> QuerySet[Any]:
    """``rows`` in the heap pages ``first`` to ``end`` (excluded; None: to the end), a condition
    on ``ctid`` that PostgreSQL 14+ reads with a TID Range Scan of only those pages."""
    table = connections[rows.db].ops.quote_name(rows.model._meta.db_table)
    sql = f"{table}.ctid >= %s::tid"
    params = [f"({first},0)"]
    if end is not None:
        sql += f" AND {table}.ctid < %s::tid"
        params.append(f"({end},0)")
    return rows.filter(RawSQL(sql, params, output_field=BooleanField()))


def upper_key(rows: QuerySet[Any], batch_size: int) -> Any:
    """The primary key of the ``batch_size``-th of ``rows`` in key order (None: fewer rows),
    read from the index (``ORDER BY pk OFFSET batch_size - 1 LIMIT 1``): the keys before it
    never leave the server."""
    keys = list(rows.order_by("pk").values_list("pk", flat=True)[batch_size - 1 : batch_size])
    return keys[0] if keys else None


# dropping ---------------------------------------------------------------------------------------


def _held_in(
    model: type[Model], using: str, relation: str, held: Callable[[], dict[type[Model], set[Any]]]
) -> bool:
    """Whether a row of ``relation`` (a partition, attached or not) is under a legal hold."""
    keys = held().get(model._meta.concrete_model or model)
    if not keys:
        return False
    connection = connections[using]
    pk = model._meta.pk
    assert pk is not None
    values = [pk.get_db_prep_value(key, connection) for key in keys]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {relation} WHERE {connection.ops.quote_name(str(pk.column))} = ANY(%s) "
            "LIMIT 1",
            [values],
        )
        return cursor.fetchone() is not None


def _relation(using: str, partition: Partition) -> str:
    quote = connections[using].ops.quote_name
    return f"{quote(partition.schema)}.{quote(partition.name)}"


def _rows(using: str, relation: str) -> int:
    """The rows of a partition: PostgreSQL's estimate (``pg_class.reltuples``, exact after a
    ``VACUUM``, kept by autovacuum and ``ANALYZE``) — counting them would read the whole
    partition, the very cost dropping it saves — or, for a partition with no statistics yet
    (never vacuumed nor analyzed), its exact count."""
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)", [relation])
        row = cursor.fetchone()
        if row is not None and row[0] is not None and row[0] >= 0:
            return round(float(row[0]))
        cursor.execute(f"SELECT count(*) FROM {relation}")
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def _archive(
    model: type[Model], using: str, relation: str, append: Callable[[Sequence[Model]], Any]
) -> int:
    """Append every row of a detached partition to the archive, a batch of keys at a time; how
    many there were."""
    connection = connections[using]
    pk = model._meta.pk
    assert pk is not None
    column = connection.ops.quote_name(str(pk.column))
    manager = model._base_manager.db_manager(using)
    last: Any = None
    archived = 0
    while True:
        where = "" if last is None else f"WHERE {column} > %s "
        params: list[Any] = [] if last is None else [last]
        rows = list(
            manager.raw(
                f"SELECT * FROM {relation} {where}ORDER BY {column} LIMIT {ARCHIVE_BATCH}",
                params,
            )
        )
        if not rows:
            return archived
        append(rows)
        archived += len(rows)
        last = pk.get_db_prep_value(rows[-1].pk, connection)
        if len(rows) < ARCHIVE_BATCH:
            return archived


def drop_partition(
    model: type[Model],
    using: str,
    layout: Layout,
    partition: Partition,
    *,
    dry_run: bool,
    held: Callable[[], dict[type[Model], set[Any]]] | None,
    append: Callable[[Sequence[Model]], Any] | None,
    lock: Callable[[], None] | None = None,
) -> int | None:
    """Detach and drop ``partition`` (only estimate its rows in a dry run); the rows it held (see
    :func:`_rows`; exact when archived), or None when a row of it is under a legal hold (it
    stays, and its rows go by batches). ``lock`` takes the holds' lock in share mode
    (:func:`django_housekeeping.purging.holds.lock`): the holds are read again after it, and the
    partition is dropped before it is released, so a hold placed meanwhile either keeps the
    partition or finds its row gone."""
    connection = connections[using]
    quote = connection.ops.quote_name
    relation = _relation(using, partition)
    if held is not None and _held_in(model, using, relation, held):
        return None
    if dry_run:
        return _rows(using, relation)
    parent = quote(layout.table)
    # CONCURRENTLY: PostgreSQL 14+, outside a transaction, and never beside a DEFAULT partition.
    concurrently = (
        not connection.in_atomic_block
        and _version(using) >= 140000
        and not any(p.default for p in layout.partitions)
    )
    # DETACH … CONCURRENTLY cannot run inside a transaction block.
    with nullcontext() if concurrently else transaction.atomic(using=using):
        if lock is not None and not concurrently:  # before the detach's locks, as place() does
            lock()
        with connection.cursor() as cursor:
            cursor.execute(
                f"ALTER TABLE {parent} DETACH PARTITION {relation}"
                + (" CONCURRENTLY" if concurrently else "")
            )
        try:
            # The check and the drop in one transaction, after the holds' lock (taken again:
            # the detach committed): a hold placed from now on finds no row.
            with transaction.atomic(using=using):
                if lock is not None:
                    lock()
                # Detached: no row can come or go (a hold placed now finds no row), so the
                # archive is exact. A hold placed before the detach keeps the partition.
                if held is not None and _held_in(model, using, relation, held):
                    _attach(using, parent, relation, partition)
                    return None
                # Archived, its rows were all read: their number is exact.
                if append is None:
                    rows = _rows(using, relation)
                else:
                    rows = _archive(model, using, relation, append)
                with connection.cursor() as cursor:
                    cursor.execute(f"DROP TABLE {relation}")
        except BaseException:
            if concurrently:  # inside a transaction, its rollback attaches it again
                _attach(using, parent, relation, partition)
            raise
    return rows


def _attach(using: str, parent: str, relation: str, partition: Partition) -> None:
    with connections[using].cursor() as cursor:
        cursor.execute(f"ALTER TABLE {parent} ATTACH PARTITION {relation} {partition.bound}")
