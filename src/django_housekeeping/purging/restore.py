"""Restoring an archive: verified, every row read and checked before anything is written, then
loaded one batch (one gzip member) per transaction — per model, referenced models first, in
multi-row raw ``INSERT``s with the archived keys.

What a restore never does (:mod:`~django_housekeeping.purging.restore_checks`): bring back a row
an erasure deleted (its key is skipped and counted), revert a later edit (a row present with
other values is kept, unless ``overwrite``; the rows the purge only updated — its archive marks
them — are rewritten, the undo of the purge), admit a model an archive's manifest does not name
(``force`` admits only an archive without a manifest, and then only the models the purge of its
task could reach), or create or raise a privileged account.

``restore()`` backs ``manage.py housekeeping restore FILE``; reading the archive is
:mod:`~django_housekeeping.purging.archive_reader`. Every refusal is one
:class:`~.archive.ArchiveError` line naming the file, the line and the field.
"""

from __future__ import annotations

import errno
import logging
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import IO, Any, BinaryIO

from django.core.management.color import no_style
from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    IntegrityError,
    connections,
    transaction,
)
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model
from django.utils.connection import ConnectionDoesNotExist

from django_housekeeping import compat
from django_housekeeping.purging.archive import (
    ArchiveError,
    Manifest,
    UnverifiedArchive,
    check_prefix,
    copy_prefix,
    manifest_path,
    read_manifest,
)
from django_housekeeping.purging.archive_reader import (
    ArchiveStats,
    Members,
    NotGzip,
    Row,
    RowError,
    RowReader,
    archive_lines,
    copy_archive,
    models_text,
    one_line,
    short,
)
from django_housekeeping.purging.planner import concrete, in_keys
from django_housekeeping.purging.restore_checks import (
    PrivilegeGuard,
    erased_keys,
    models_erased,
)

__all__ = ["ArchiveStats", "Progress", "copy_archive", "restore"]

logger = logging.getLogger("django_housekeeping")

#: ``progress(phase, done, total)``: ``"validating"`` then ``"restoring"``, rows done of
#: ``total`` (``None`` while not known).
Progress = Callable[[str, int, int | None], None]

# Rows, and bytes of archived JSON (a guess at the statement's size), per INSERT at most.
INSERT_ROWS = 2000
INSERT_BYTES = 4 << 20

_INSERTED = "inserted"
_PRESENT = "present"
_REWRITTEN = "rewritten"
_KEPT = "kept"
_ERASED = "erased"


def restore(
    path: str | os.PathLike[str],
    *,
    using: str = DEFAULT_DB_ALIAS,
    force: bool = False,
    reach: Collection[str] | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> ArchiveStats:
    """Load an archive back: the same rows, with the same primary keys, one transaction per batch.

    The archive must verify (:func:`~.archive.verify_archive`) and hold exactly what its
    manifest names and counts. ``force=True`` admits an archive *without* a manifest (written
    before manifests existed; a manifest that does not verify is refused, forced or not) and
    logs a warning on the ``django_housekeeping`` logger; it needs ``reach``, the labels
    (``"app_label.model_name"``) of the models the purge that wrote it could reach
    (:func:`~.restore_checks.purge_reach`), and refuses any other. No restore creates a superuser
    or a staff account or adds a group or a permission to a user
    (:class:`~.restore_checks.PrivilegeGuard`).

    Every row is deserialized and validated before anything is written (the whole archive:
    a malformed row anywhere raises :class:`ArchiveError` naming its line and field, and
    nothing is loaded); a row a batch cannot load (a foreign key to a missing row, say) rolls
    that batch back. Raises :class:`UnverifiedArchive` when refusing an archive that does not
    verify.

    Each batch is loaded per model, the models its rows refer to first, thousands of rows per
    ``INSERT`` (raw: no ``pre_save``, no signals). A row an erasure deleted (an
    :class:`~django_housekeeping.models.ErasedKey`) is skipped and counted (``erased``). A row
    whose primary key is in the database already is left alone when it holds the archived
    values (``present``: a restore interrupted half-way can be run again); holding other
    values, it is rewritten when the purge only updated it (the archive marks those rows) and
    kept as it is otherwise (``kept``: an edit made since) — unless ``overwrite``, which
    rewrites it too. Each batch resets the sequences of the tables it inserted into.
    ``progress(phase, done, total)`` is called as rows are validated and after each batch.
    """
    if not Path(path).is_file():
        raise FileNotFoundError(errno.ENOENT, "no archive file", os.fspath(path))
    try:
        connection = connections[using]
    except ConnectionDoesNotExist:
        raise ArchiveError(f"{os.fspath(path)}: there is no database {using!r}") from None
    return _Restore(
        os.fspath(path),
        using,
        connection,
        force,
        progress,
        reach=reach,
        overwrite=overwrite,
    ).run()


class _Refused(Exception):
    """The database refused ``row``."""

    def __init__(self, row: Row, error: DatabaseError) -> None:
        super().__init__(str(error))
        self.row = row
        self.error = error


class _Restore:
    def __init__(
        self,
        path: str,
        using: str,
        connection: BaseDatabaseWrapper,
        force: bool,
        progress: Progress | None = None,
        *,
        reach: Collection[str] | None = None,
        overwrite: bool = False,
    ) -> None:
        self.path = path
        self.using = using
        self.connection = connection
        self.force = force
        self.reach = set(reach) if reach is not None else None
        self.overwrite = overwrite
        self.progress = progress
        self.loaded: Counter[str] = Counter()  # rows written per model
        self.present: Counter[str] = Counter()  # rows that were there already, per model
        self.kept: Counter[str] = Counter()  # rows there with other values, kept, per model
        self.erased: Counter[str] = Counter()  # rows an erasure deleted, skipped, per model
        self.rewritten = 0
        self.done = 0  # rows of the loaded batches
        self.total: int | None = None  # rows in the archive, once validated
        self.manifest: Manifest | None = None
        self.allowed: set[str] | None = None  # the models that may be loaded
        self.labels: set[str] = set()  # the models of the archive's rows
        self.erasures: set[str] = set()  # the models of the archive an erasure deleted rows of
        self.reader = RowReader(path, using, connection, self._admit)
        self.guard = PrivilegeGuard(path, using)

    def run(self) -> ArchiveStats:
        with open(self.path, "rb") as source, tempfile.TemporaryFile() as snapshot:
            limit, truncated = self._snapshot(source, snapshot)
            snapshot.seek(0)
            self._validate(snapshot, limit)
            self.guard.check()
            self.erasures = models_erased(self.labels)
            snapshot.seek(0)
            restored = self._load(snapshot, limit)
        return ArchiveStats(
            objects=sum(self.loaded.values()),
            batches=restored,
            truncated=truncated,
            models=dict(sorted(self.loaded.items())),
            verified=self.manifest is not None,
            present=sum(self.present.values()),
            present_models=dict(sorted(self.present.items())),
            rewritten=self.rewritten,
            kept=sum(self.kept.values()),
            kept_models=dict(sorted(self.kept.items())),
            erased=sum(self.erased.values()),
            erased_models=dict(sorted(self.erased.items())),
        )

    def _snapshot(self, source: BinaryIO, snapshot: IO[bytes]) -> tuple[int, bool]:
        """Copy what is to be restored to ``snapshot`` (so the file verified is the file loaded):
        the bytes the manifest covers once they verify, or, forced and without a manifest, the
        whole file. How many bytes of complete members it holds, and whether more followed."""
        size = os.fstat(source.fileno()).st_size
        try:
            manifest = read_manifest(self.path)
            digest, copied = copy_prefix(source, manifest.bytes, snapshot)
            check_prefix(self.path, manifest, copied, digest.hexdigest())
        except UnverifiedArchive as exc:
            self._force_without_manifest(exc)
            source.seek(0)
            snapshot.seek(0)
            snapshot.truncate()
            copy_prefix(source, size, snapshot)
        else:
            self.manifest = manifest
            self.allowed = set(manifest.models)
        snapshot.flush()
        snapshot.seek(0)
        members = Members(snapshot)
        try:
            for _ in members:
                pass
        except NotGzip as exc:
            raise ArchiveError(f"{self.path}: not a gzip archive ({exc})") from exc
        if self.manifest is not None:
            if members.truncated or members.batches != self.manifest.batches:
                raise UnverifiedArchive(
                    f"{self.path}: its data is not the {self.manifest.batches} complete "
                    "batches its manifest says"
                )
            return members.complete, size > self.manifest.bytes
        return members.complete, members.truncated

    def _force_without_manifest(self, reason: UnverifiedArchive) -> None:
        """Refuse an archive that does not verify; forced, admit one without a manifest (from
        before manifests) — with ``reach``, the models it may hold — and log why."""
        if not self.force:
            raise reason
        if manifest_path(self.path).exists():
            raise UnverifiedArchive(
                f"{reason}; --force only admits an archive without a manifest (from before "
                "manifests)"
            )
        if self.reach is None:
            raise UnverifiedArchive(
                f"{reason}; --force needs the task whose purge wrote it, to know the models it "
                "may hold"
            )
        self.allowed = self.reach
        logger.warning("restoring %s anyway (forced): %s", self.path, reason)

    def _admit(self, number: int, model: type[Model]) -> None:
        """A model met in the archive: refused unless the manifest (or, forced, the reach of
        the purge) names it."""
        name = model._meta.label_lower
        if self.allowed is not None and name not in self.allowed:
            why = (
                "a model its manifest does not name"
                if self.manifest is not None
                else "not a model the purge of its task could reach"
            )
            raise UnverifiedArchive(
                f"{self.reader.place(number, 'model')}: {name} is {why}; nothing was loaded"
            )

    # the first pass: every row deserialized and validated, nothing loaded ----------------------

    def _validate(self, snapshot: IO[bytes], limit: int) -> None:
        counts: Counter[str] = Counter()
        updated: Counter[str] = Counter()
        expected = self.manifest.objects if self.manifest is not None else None
        self._report("validating", 0, expected)
        reader = self.reader
        guard = self.guard
        for _, number, line in archive_lines(snapshot, limit):
            if not line.strip():
                continue
            try:
                row = reader.row(number, line)
            except RowError as error:
                raise ArchiveError(reader.where(number, error) + "; nothing was loaded") from None
            counts[row.label] += 1
            if row.updated:
                updated[row.label] += 1
            if guard.watches(type(row.instance)):
                guard.see(number, row.instance, row.m2m)
            if number % 10_000 == 0:
                self._report("validating", counts.total(), expected)
        self.total = counts.total()
        self.labels = set(counts)
        self._report("validating", self.total, self.total)
        if self.manifest is None:
            return
        if counts != Counter(self.manifest.models):
            raise UnverifiedArchive(
                f"{self.path}: it holds {models_text(counts)}, its manifest says "
                f"{models_text(Counter(self.manifest.models))}; nothing was loaded"
            )
        if self.manifest.version > 1 and updated != Counter(self.manifest.updated):
            raise UnverifiedArchive(
                f"{self.path}: it marks {models_text(updated)} as updated by the purge, its "
                f"manifest says {models_text(Counter(self.manifest.updated))}; nothing was loaded"
            )

    def _load(self, snapshot: IO[bytes], limit: int) -> int:
        batches = 0
        for batch, rows in groupby(archive_lines(snapshot, limit), key=itemgetter(0)):
            self._load_batch(batch, ((number, line) for _, number, line in rows))
            batches += 1
            self._report("restoring", self.done, self.total)
        return batches

    def _load_batch(self, batch: int, rows: Iterator[tuple[int, bytes]]) -> None:
        """Load one batch in one transaction: its rows grouped by model, the models referenced
        first, each model's rows a few thousand per ``INSERT``."""
        restored = sum(self.loaded.values())

        def refused(message: str) -> ArchiveError:
            earlier = ""
            if batch > 1:
                batches = "batch 1 was" if batch == 2 else f"batches 1 to {batch - 1} were"
                earlier = f"; {batches} restored ({restored:,} objects)"
            return ArchiveError(f"{message}; nothing of batch {batch} was loaded{earlier}")

        # Per concrete model, its rows by primary key (a row archived twice, reached along two
        # paths, is loaded once: the last line wins, as a second save() would).
        groups: dict[type[Model], dict[Any, Row]] = {}
        seen = 0
        for number, line in rows:
            if not line.strip():
                continue
            seen += 1
            try:
                row = self.reader.row(number, line, values=False)
            except RowError as error:  # validated already: only if the database changed
                raise refused(self.reader.where(number, error)) from None
            group = groups.setdefault(concrete(type(row.instance)), {})
            group.pop(row.instance.pk, None)
            group[row.instance.pk] = row
        counts: Counter[str] = Counter()
        present: Counter[str] = Counter()
        kept: Counter[str] = Counter()
        erased: Counter[str] = Counter()
        skipped: set[int] = set()  # id() of the instances not written
        written: list[tuple[int, str, Model]] = []
        inserted: list[type[Model]] = []
        with transaction.atomic(using=self.using):
            with self.connection.constraint_checks_disabled():
                for model in _referenced_first(list(groups)):
                    try:
                        outcome = self._write(model, list(groups[model].values()))
                    except _Refused as exc:
                        raise refused(
                            f"{self.reader.place(exc.row.number)}: {exc.row.label} "
                            f"pk={short(exc.row.instance.pk)!r}: the database refused the row: "
                            f"{one_line(exc.error)}"
                        ) from None
                    for row, kind in outcome:
                        if kind is not _INSERTED and kind is not _REWRITTEN:
                            skipped.add(id(row.instance))
                            {_PRESENT: present, _KEPT: kept, _ERASED: erased}[kind][row.label] += 1
                            continue
                        counts[row.label] += 1
                        written.append((row.number, row.label, row.instance))
                        if kind is _REWRITTEN:
                            self.rewritten += 1
                    if any(kind is _INSERTED for _, kind in outcome):
                        inserted.append(model)
                for model in groups:
                    for row in groups[model].values():
                        # many-to-many lists in a row written (not a purge's archive)
                        if row.m2m and id(row.instance) not in skipped:
                            compat.mark_loaded(row.instance, self.using)
                            for name, values in row.m2m.items():
                                getattr(row.instance, name).set(values)
            tables = {model._meta.db_table for model in groups}
            for model in groups:
                m2m: Any
                for m2m in model._meta.local_many_to_many:
                    tables.add(m2m.remote_field.through._meta.db_table)
            try:
                with transaction.atomic(using=self.using):
                    self.connection.check_constraints(table_names=sorted(tables))
            except IntegrityError as exc:
                raise self._dangling(written, exc, refused) from None
            statements = self.connection.ops.sequence_reset_sql(no_style(), inserted)
            if statements:
                with self.connection.cursor() as cursor:
                    for statement in statements:
                        cursor.execute(statement)
        self.loaded.update(counts)
        self.present.update(present)
        self.kept.update(kept)
        self.erased.update(erased)
        self.done += seen

    def _write(self, model: type[Model], rows: list[Row]) -> list[tuple[Row, str]]:
        """Insert ``rows`` of ``model``'s own table, the primary keys they had: raw inserts (no
        ``pre_save``: ``auto_now`` fields keep their archived values; no signals), a few thousand
        rows per statement. A row an erasure deleted is skipped. A row whose key is there
        already is left as it is when it holds the archived values (a restore run again); with
        other values, it is rewritten when the purge only updated it (set a foreign key to NULL
        or a default: its line says so) or ``overwrite`` says so, and kept otherwise."""
        opts = model._meta
        fields = [f for f in opts.local_concrete_fields if not getattr(f, "generated", False)]
        pk = opts.pk
        assert pk is not None
        others = [f for f in fields if not f.primary_key]
        manager = model._base_manager.db_manager(self.using)
        limit = max(1, self.connection.ops.bulk_batch_size(fields, rows))
        outcome: list[tuple[Row, str]] = []
        label = opts.label_lower
        for chunk in _chunks(rows, min(limit, INSERT_ROWS), INSERT_BYTES):
            if label in self.erasures:
                gone = erased_keys(label, [row.instance.pk for row in chunk])
                if gone:
                    outcome.extend((row, _ERASED) for row in chunk if str(row.instance.pk) in gone)
                    chunk = [row for row in chunk if str(row.instance.pk) not in gone]
                    if not chunk:
                        continue
            keys = [row.instance.pk for row in chunk]
            existing = {
                values[0]: values[1:]
                for values in manager.filter(in_keys(model, "pk", keys)).values_list(
                    pk.attname, *(f.attname for f in others)
                )
            }
            new = [row for row in chunk if row.instance.pk not in existing]
            if new:
                self._insert_rows(manager, new, fields)
            stale: list[Model] = []
            for row in chunk:
                instance = row.instance
                if instance.pk not in existing:
                    outcome.append((row, _INSERTED))
                elif existing[instance.pk] == tuple(getattr(instance, f.attname) for f in others):
                    outcome.append((row, _PRESENT))
                elif not (row.updated or self.overwrite):
                    outcome.append((row, _KEPT))
                else:
                    outcome.append((row, _REWRITTEN))
                    stale.append(instance)
            if stale and others:
                try:
                    with transaction.atomic(using=self.using):
                        manager.bulk_update(stale, [f.name for f in others])
                except DatabaseError as exc:
                    [row] = [row for row in chunk if row.instance is stale[0]]
                    raise _Refused(row, exc) from None
        return outcome

    def _insert_rows(self, manager: Any, rows: list[Row], fields: list[Any]) -> None:
        """One ``INSERT`` of ``rows`` (in a savepoint); :class:`_Refused` naming the first row
        the database refuses."""
        try:
            with transaction.atomic(using=self.using):
                # What Model.save_base(raw=True) runs (loaddata's path), many rows at a time:
                # QuerySet.bulk_create() calls pre_save() (auto_now fields would get the time
                # of the restore) and refuses multi-table children.
                compat.insert_raw(manager, [row.instance for row in rows], fields, self.using)
        except DatabaseError as exc:
            # Which row: one at a time, until one fails (the batch is rolled back anyway).
            for row in rows:
                try:
                    with transaction.atomic(using=self.using):
                        compat.insert_raw(manager, [row.instance], fields, self.using)
                except DatabaseError as single:
                    raise _Refused(row, single) from None
            raise _Refused(rows[0], exc) from None

    def _report(self, phase: str, done: int, total: int | None) -> None:
        if self.progress is not None:
            self.progress(phase, done, total)

    def _dangling(
        self,
        saved: list[tuple[int, str, Model]],
        error: IntegrityError,
        refused: Callable[[str], ArchiveError],
    ) -> ArchiveError:
        """The first row of a batch whose foreign key points at a missing row."""
        wanted: dict[tuple[type[Model], str], set[Any]] = {}
        references: list[tuple[int, str, Model, Any, Any]] = []
        model_field: Any
        for number, label, instance in saved:
            for model_field in concrete(type(instance))._meta.local_concrete_fields:
                if not (
                    model_field.is_relation
                    and (model_field.many_to_one or model_field.one_to_one)
                    and getattr(model_field, "db_constraint", False)
                ):
                    continue
                value = getattr(instance, model_field.attname)
                if value is None:
                    continue
                target: Any = model_field.target_field
                key = (target.model, target.attname)
                wanted.setdefault(key, set()).add(value)
                references.append((number, label, instance, model_field, value))
        existing: dict[tuple[type[Model], str], set[Any]] = {}
        for (model, attname), values in wanted.items():
            found: set[Any] = set()
            ordered = list(values)
            for start in range(0, len(ordered), 500):
                found.update(
                    model._base_manager.using(self.using)
                    .filter(**{f"{attname}__in": ordered[start : start + 500]})
                    .values_list(attname, flat=True)
                )
            existing[(model, attname)] = found
        for number, label, instance, model_field, value in references:
            target = model_field.target_field
            if value not in existing[(target.model, target.attname)]:
                return refused(
                    f"{self.reader.place(number, model_field.name)}: {label} "
                    f"pk={short(instance.pk)!r} refers to {target.model._meta.label_lower} "
                    f"{target.name}={short(value)!r}, which does not exist"
                )
        return refused(f"{self.path}: {one_line(error)}")


def _chunks(rows: list[Row], count: int, size: int) -> Iterator[list[Row]]:
    """``rows`` in pieces of at most ``count`` rows and (unless one row is bigger) ``size``
    bytes of JSON."""
    chunk: list[Row] = []
    weight = 0
    for row in rows:
        if chunk and (len(chunk) >= count or weight + row.size > size):
            yield chunk
            chunk, weight = [], 0
        chunk.append(row)
        weight += row.size
    if chunk:
        yield chunk


def _referenced_first(models: list[type[Model]]) -> list[type[Model]]:
    """``models`` in an order that loads a model after the models its foreign keys (and its
    multi-table parent link) refer to; a cycle keeps the archive's order (the foreign keys are
    checked at the end of the batch anyway)."""
    present = set(models)
    needs: dict[type[Model], set[type[Model]]] = {}
    for model in models:
        targets: set[type[Model]] = set()
        model_field: Any
        for model_field in model._meta.local_concrete_fields:
            if model_field.is_relation and (model_field.many_to_one or model_field.one_to_one):
                target = concrete(model_field.related_model)
                if target in present and target is not model:
                    targets.add(target)
        needs[model] = targets
    ordered: list[type[Model]] = []
    placed: set[type[Model]] = set()
    while len(ordered) < len(models):
        ready = [m for m in models if m not in placed and needs[m] <= placed]
        if not ready:  # a cycle: the first model left goes next
            ready = [next(m for m in models if m not in placed)]
        ordered.append(ready[0])
        placed.add(ready[0])
    return ordered
