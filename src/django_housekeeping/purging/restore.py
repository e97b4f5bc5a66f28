"""Restoring an archive: verified, validated row by row before anything is loaded, then loaded one
batch (one gzip member) per transaction — per model, referenced models first, in multi-row raw
``INSERT``s with the archived keys; rows already there are skipped (so a restore can be run
again) or, holding other values (rows a purge only updated), rewritten.

``restore()`` backs ``manage.py housekeeping restore FILE``; ``copy_archive()`` decompresses the
complete batches of an archive. Every refusal is one :class:`~.archive.ArchiveError` line naming
the file, the line and the field.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import tempfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import IO, Any, BinaryIO

from django.apps import apps
from django.core.exceptions import (
    FieldDoesNotExist,
    ValidationError,
)
from django.core.management.color import no_style
from django.core.serializers.base import DeserializationError, DeserializedObject
from django.core.serializers.python import Deserializer as PythonDeserializer
from django.core.validators import (
    DecimalValidator,
    MaxLengthValidator,
    MaxValueValidator,
    MinValueValidator,
)
from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    IntegrityError,
    connections,
    router,
    transaction,
)
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import CharField, DecimalField, Field, IntegerField, Model
from django.db.models.base import ModelState
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.query_utils import DeferredAttribute
from django.db.models.signals import post_init, pre_init
from django.utils.connection import ConnectionDoesNotExist

from django_housekeeping.purging.archive import (
    CHUNK,
    MESSAGE_LIMIT,
    ArchiveError,
    Manifest,
    UnverifiedArchive,
    check_prefix,
    copy_prefix,
    read_manifest,
)
from django_housekeeping.purging.planner import concrete, in_keys

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


@dataclass
class ArchiveStats:
    """What an archive held (or, from :func:`restore`, what was loaded): its rows, per model, its
    complete batches, whether bytes after them were left out (a last batch cut short, or not
    covered by the manifest: written by a purge killed before that batch was deleted, so its rows
    are still there), and whether its manifest verified."""

    objects: int = 0
    batches: int = 0
    truncated: bool = False
    models: dict[str, int] = field(default_factory=dict)
    verified: bool = False
    #: From :func:`restore`: rows that were in the database already, holding their archived
    #: values (a restore run again), left as they were and not counted in ``objects``.
    present: int = 0
    present_models: dict[str, int] = field(default_factory=dict)
    #: From :func:`restore`: rows of ``objects`` that were in the database with other values
    #: (rows a purge set a foreign key of to NULL or a default), rewritten with the archived ones.
    rewritten: int = 0


class _NotGzip(Exception):
    def __init__(self, offset: int, error: zlib.error) -> None:
        super().__init__(f"at byte {offset:,}: {error}")


class _Members:
    """The gzip members of a stream's first ``limit`` bytes, decompressed a bounded piece at a
    time: ``(member number, data)``, then ``(member number, None)`` when the member is complete.
    Afterwards, ``complete`` is the size of the complete members and ``truncated`` says whether
    a member was cut short after them."""

    def __init__(self, stream: IO[bytes], limit: int | None = None) -> None:
        self.stream = stream
        self.limit = limit
        self.complete = 0
        self.batches = 0
        self.truncated = False

    def __iter__(self) -> Iterator[tuple[int, bytes | None]]:
        decompressor = zlib.decompressobj(wbits=31)
        started = False
        offset = 0
        remaining = self.limit
        while remaining is None or remaining > 0:
            data = self.stream.read(CHUNK if remaining is None else min(CHUNK, remaining))
            if not data:
                break
            offset += len(data)
            if remaining is not None:
                remaining -= len(data)
            while True:
                started = started or bool(data)
                try:
                    out = decompressor.decompress(data, CHUNK)
                except zlib.error as exc:
                    raise _NotGzip(self.complete, exc) from exc
                if out:
                    yield self.batches + 1, out
                if decompressor.eof:
                    self.batches += 1
                    data = decompressor.unused_data
                    self.complete = offset - len(data)
                    yield self.batches, None
                    decompressor = zlib.decompressobj(wbits=31)
                    started = False
                    if not data:
                        break
                    continue
                data = decompressor.unconsumed_tail
                if not data and len(out) < CHUNK:
                    break
        self.truncated = started


def _lines(stream: IO[bytes], limit: int) -> Iterator[tuple[int, int, bytes]]:
    """``(batch, line number, line)`` of the complete gzip members in the first ``limit`` bytes of
    ``stream``; line numbers count from the start of the decompressed file."""
    number = 0
    pending = bytearray()
    for batch, data in _Members(stream, limit):
        if data is None:
            if pending:
                number += 1
                yield batch, number, bytes(pending)
                pending.clear()
            continue
        pending += data
        start = 0
        while (end := pending.find(b"\n", start)) >= 0:
            number += 1
            yield batch, number, bytes(pending[start:end])
            start = end + 1
        del pending[:start]


def copy_archive(path: str | os.PathLike[str], out: BinaryIO) -> ArchiveStats:
    """Decompress every complete gzip member of ``path`` onto ``out``; a cut-short last one is
    left out. One member (one batch) is held in memory at a time. The manifest is not read."""
    stats = ArchiveStats()
    pending: list[bytes] = []
    with open(path, "rb") as file:
        members = _Members(file)
        try:
            for _, data in members:
                if data is not None:
                    pending.append(data)
                    continue
                member = b"".join(pending)
                out.write(member)
                stats.objects += member.count(b"\n")
                pending = []
        except _NotGzip as exc:
            raise ValueError(f"{os.fspath(path)} is not a gzip archive ({exc})") from exc
    stats.batches = members.batches
    stats.truncated = members.truncated
    return stats


# restoring ----------------------------------------------------------------------------------------


def restore(
    path: str | os.PathLike[str],
    *,
    using: str = DEFAULT_DB_ALIAS,
    force: bool = False,
    progress: Progress | None = None,
) -> ArchiveStats:
    """Load an archive back: the same rows, with the same primary keys, one transaction per batch.

    The archive must verify (:func:`verify_archive`) and hold only the models its manifest names;
    ``force=True`` restores it anyway and logs a warning on the ``django_housekeeping`` logger.
    Only the complete batches the manifest covers are read (without a verified manifest, every
    complete batch). Every row is deserialized and validated before anything is loaded; a
    malformed row raises :class:`ArchiveError` naming its line and field, and a row a batch
    cannot load (a foreign key to a missing row, say) rolls that batch back. Raises
    :class:`UnverifiedArchive` when refusing an archive that does not verify.

    Each batch is loaded per model, the models its rows refer to first, thousands of rows per
    ``INSERT`` (raw: no ``pre_save``, no signals). A row whose primary key is in the database
    already is left alone when it holds the archived values — so a restore interrupted half-way
    can be run again — and rewritten with them otherwise (the rows a purge only updated). Each
    batch resets the sequences of the tables it inserted into. ``progress(phase, done, total)``
    is called as rows are validated and after each batch is loaded.
    """
    if not Path(path).is_file():
        raise FileNotFoundError(errno.ENOENT, "no archive file", os.fspath(path))
    try:
        connection = connections[using]
    except ConnectionDoesNotExist:
        raise ArchiveError(f"{os.fspath(path)}: there is no database {using!r}") from None
    return _Restore(os.fspath(path), using, connection, force, progress).run()


class _RowError(Exception):
    """A malformed row: which field (``None``: the line itself), and why."""

    def __init__(self, field_name: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field_name = field_name
        self.reason = reason.rstrip(".")  # a validator's sentence, followed by more


@dataclass
class _Row:
    """One line of an archive: where it is, the label of its model, its values on its model's
    own table (an unsaved instance), its length (a guess at its size in SQL), and the
    many-to-many lists it holds (not a purge's archive: those hold the links as rows)."""

    number: int
    label: str
    instance: Model
    size: int
    m2m: dict[str, list[Any]] | None = None


class _Slow(Exception):
    """A value for Django's deserializer to read (a natural key)."""


class _Plan:
    """How the rows of one model become instances without Django's deserializer, which builds
    each through ``Model.__init__``: the same conversions (``to_python()`` of the field, or of
    the field a foreign key refers to), straight onto the attributes of the model's own table.
    Only for models whose construction nothing else watches (see :func:`_plan`)."""

    def __init__(self, model: type[Model]) -> None:
        self.model = concrete(model)
        opts = self.model._meta
        assert opts.pk is not None
        self.pk = opts.pk
        self.converters: dict[str, tuple[str, Callable[[Any], Any]]] = {}
        model_field: Any
        for model_field in model._meta.concrete_fields:
            if model_field.is_relation and (model_field.many_to_one or model_field.one_to_one):
                self.converters[model_field.name] = (
                    model_field.attname,
                    _foreign_key(model_field),
                )
            else:
                self.converters[model_field.name] = (model_field.attname, model_field.to_python)
        self.local = [f for f in opts.local_concrete_fields if not getattr(f, "generated", False)]

    def convert(self, pk: Any, fields: dict[str, Any]) -> dict[str, Any] | None:
        """The row's values by attribute name (its key's too); ``None``: a row for Django's
        deserializer (a field named otherwise, a many-to-many list)."""
        values = {self.pk.attname: self.pk.to_python(pk)}
        for name, value in fields.items():
            try:
                attname, convert = self.converters[name]
            except KeyError:
                return None
            values[attname] = convert(value)
        return values

    def instance(self, values: dict[str, Any]) -> Model:
        """An unsaved instance holding ``values`` (a missing field: its default)."""
        instance = self.model.__new__(self.model)
        instance._state = ModelState()
        attributes = instance.__dict__
        for model_field in self.local:
            attname = model_field.attname
            attributes[attname] = (
                values[attname] if attname in values else model_field.get_default()
            )
        return instance


def _foreign_key(model_field: Any) -> Callable[[Any], Any]:
    """What Django's deserializer does with a foreign key's value (but natural keys: _Slow)."""
    remote = model_field.remote_field.model
    target = remote._meta.get_field(model_field.remote_field.field_name)
    natural = hasattr(remote._default_manager, "get_by_natural_key")

    def convert(value: Any) -> Any:
        if value is None:
            return None
        if natural and hasattr(value, "__iter__") and not isinstance(value, str):
            raise _Slow
        return target.to_python(value)

    return convert


_PLAIN_DESCRIPTORS = (DeferredAttribute, ForeignKeyDeferredAttribute)


def _plan(model: type[Model]) -> _Plan | None:
    """A :class:`_Plan` for ``model``, unless building its instances must go through
    ``Model.__init__``: an ``__init__`` of its own, ``pre_init``/``post_init`` receivers, a field
    whose attribute is not a plain one (a file's, say)."""
    if model.__init__ is not Model.__init__:
        return None
    if pre_init.has_listeners(model) or post_init.has_listeners(model):
        return None
    for model_field in model._meta.concrete_fields:
        if type(getattr(model, model_field.attname, None)) not in _PLAIN_DESCRIPTORS:
            return None
    return _Plan(model)


class _Refused(Exception):
    """The database refused ``row``."""

    def __init__(self, row: _Row, error: DatabaseError) -> None:
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
    ) -> None:
        self.path = path
        self.using = using
        self.connection = connection
        self.force = force
        self.progress = progress
        self.loaded: Counter[str] = Counter()  # rows written per model
        self.present: Counter[str] = Counter()  # rows that were there already, per model
        self.rewritten = 0
        self.done = 0  # rows of the loaded batches
        self.total: int | None = None  # rows in the archive, once validated
        self.manifest: Manifest | None = None
        self.allowed: set[str] | None = None  # the models that may be loaded (None: any)
        self.unnamed: set[str] = set()  # models the manifest does not name, loaded by force
        self.models: dict[str, type[Model]] = {}  # the models of the labels met, checked
        self.fields: dict[type[Model], set[str]] = {}  # field names met, checked
        self.limits: dict[Any, tuple[Any, Any, Any]] = {}  # see _limits
        self.plans: dict[type[Model], _Plan | None] = {}  # see _plan

    def run(self) -> ArchiveStats:
        with open(self.path, "rb") as source, tempfile.TemporaryFile() as snapshot:
            limit, truncated = self._snapshot(source, snapshot)
            snapshot.seek(0)
            self._validate(snapshot, limit)
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
        )

    def _forced(self, reason: UnverifiedArchive, refusal: str = "") -> None:
        """Refuse (``reason`` and ``refusal``), or, forced, log ``reason`` and go on."""
        if not self.force:
            raise UnverifiedArchive(f"{reason}{refusal}")
        logger.warning("restoring %s anyway (forced): %s", self.path, reason)

    def _snapshot(self, source: BinaryIO, snapshot: IO[bytes]) -> tuple[int, bool]:
        """Copy what is to be restored to ``snapshot`` (so the file verified is the file loaded):
        the bytes the manifest covers once they verify, or, forced, the whole file. How many
        bytes of complete members it holds, and whether more followed."""
        size = os.fstat(source.fileno()).st_size
        try:
            manifest = read_manifest(self.path)
            digest, copied = copy_prefix(source, manifest.bytes, snapshot)
            check_prefix(self.path, manifest, copied, digest.hexdigest())
        except UnverifiedArchive as exc:
            self._forced(exc)
            source.seek(0)
            snapshot.seek(0)
            snapshot.truncate()
            copy_prefix(source, size, snapshot)
        else:
            self.manifest = manifest
            self.allowed = set(manifest.models)
        snapshot.flush()
        snapshot.seek(0)
        members = _Members(snapshot)
        try:
            for _ in members:
                pass
        except _NotGzip as exc:
            raise ArchiveError(f"{self.path}: not a gzip archive ({exc})") from exc
        if self.manifest is not None:
            if members.truncated or members.batches != self.manifest.batches:
                self._forced(
                    UnverifiedArchive(
                        f"{self.path}: its data is not the {self.manifest.batches} complete "
                        "batches its manifest says"
                    )
                )
            return members.complete, size > self.manifest.bytes
        return members.complete, members.truncated

    # the first pass: every row deserialized and validated, nothing loaded ----------------------

    def _validate(self, snapshot: IO[bytes], limit: int) -> None:
        counts: Counter[str] = Counter()
        expected = self.manifest.objects if self.manifest is not None else None
        self._report("validating", 0, expected)
        for _, number, line in _lines(snapshot, limit):
            if not line.strip():
                continue
            try:
                obj = self._row(number, line)
            except _RowError as error:
                raise ArchiveError(self._where(number, error) + "; nothing was loaded") from None
            counts[obj.label] += 1
            if number % 10_000 == 0:
                self._report("validating", counts.total(), expected)
        self.total = counts.total()
        self._report("validating", self.total, self.total)
        if self.manifest is not None and counts != Counter(self.manifest.models):
            self._forced(
                UnverifiedArchive(
                    f"{self.path}: it holds {_models_text(counts)}, its manifest says "
                    f"{_models_text(Counter(self.manifest.models))}"
                ),
                "; nothing was loaded",
            )

    def _place(self, number: int | None, field_name: str | None = None) -> str:
        """``FILE: line N, field 'name'``: where a message is about."""
        where = self.path if number is None else f"{self.path}: line {number}"
        return where if field_name is None else f"{where}, field {field_name!r}"

    def _where(self, number: int, error: _RowError) -> str:
        return f"{self._place(number, error.field_name)}: {error.reason}"

    def _row(self, number: int, line: bytes, *, values: bool = True) -> _Row:
        """The row of one line, deserialized and validated; :class:`_RowError` if malformed.
        ``values=False``: its values are not checked (they were, in the first pass)."""
        try:
            data = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise _RowError(None, f"not UTF-8 ({exc.reason} at byte {exc.start + 1})") from None
        except json.JSONDecodeError as exc:
            raise _RowError(None, f"invalid JSON ({exc.msg} at column {exc.colno})") from None
        except (ValueError, RecursionError) as exc:
            raise _RowError(None, f"invalid JSON ({_one_line(exc)})") from None
        if not isinstance(data, dict):
            raise _RowError(None, "not a JSON object")
        label = data.get("model")
        if not isinstance(label, str):
            raise _RowError("model", "missing, or not a string")
        model = self.models.get(label)
        if model is None:
            model = self.models[label] = self._model(number, label)
        name = model._meta.label_lower
        if data.get("pk") is None:
            raise _RowError("pk", f"{name}: missing (a restored row keeps its primary key)")
        fields = data.get("fields")
        if not isinstance(fields, dict):
            raise _RowError("fields", f"{name}: missing, or not an object")
        known = self.fields.setdefault(model, set())
        for field_name in fields:
            if field_name in known:
                continue
            try:
                model_field = model._meta.get_field(field_name)
            except FieldDoesNotExist:
                raise _RowError(field_name, f"{name} has no such field") from None
            if not isinstance(model_field, Field) or not (
                model_field.concrete or model_field.many_to_many
            ):
                raise _RowError(field_name, f"not a field of {name} that holds data")
            known.add(field_name)
        if model not in self.plans:
            self.plans[model] = _plan(model)
        plan = self.plans[model]
        converted = None
        if plan is not None:
            try:
                converted = plan.convert(data["pk"], fields)
            except Exception:  # Django's deserializer says what is wrong, or reads it (_Slow)
                converted = None
        m2m: dict[str, list[Any]] | None = None
        if plan is not None and converted is not None:
            row = _Row(number, name, plan.instance(converted), len(line))
        else:
            try:
                objects: list[DeserializedObject] = list(
                    PythonDeserializer([data], using=self.using)
                )
            except Exception as exc:  # any failure is a malformed row, reported in one line
                raise self._culprit(data, name, exc) from None
            [obj] = objects
            instance = obj.object
            m2m = {key: list(links) for key, links in (obj.m2m_data or {}).items()} or None
            row = _Row(number, name, instance, len(line), m2m)
            assert instance._meta.pk is not None
            converted = {instance._meta.pk.attname: instance.pk}
            for field_name in fields:
                named: Any = model._meta.get_field(field_name)
                if not named.many_to_many:
                    converted[named.attname] = getattr(instance, named.attname)
        if values:
            self._check_values(model, converted, m2m, fields, name)
        return row

    def _model(self, number: int, label: str) -> type[Model]:
        """The model of ``label``, once it may be restored here."""
        try:
            model = apps.get_model(label)
        except (LookupError, ValueError):
            raise _RowError("model", f"unknown model {_short(label)!r}") from None
        name = model._meta.label_lower
        if self.allowed is not None and name not in self.allowed and name not in self.unnamed:
            self._forced(
                UnverifiedArchive(
                    f"{self._place(number, 'model')}: {name} is a model its manifest does not name"
                ),
                "; nothing was loaded",
            )
            self.unnamed.add(name)
        if not router.allow_migrate_model(self.using, model):
            raise _RowError("model", f"{name} is not stored in the database {self.using!r}")
        return model

    def _culprit(self, data: dict[str, Any], label: str, error: Exception) -> _RowError:
        """The field that made Django's deserializer fail, tried one at a time."""
        probes = [("pk", {})] + [(name, {name: value}) for name, value in data["fields"].items()]
        for name, fields in probes:
            try:
                list(PythonDeserializer([{**data, "fields": fields}], using=self.using))
            except Exception as exc:  # see _row
                return _RowError(name, f"{label} pk={_short(data['pk'])!r}: {_reason(exc)}")
        return _RowError(None, f"{label} pk={_short(data['pk'])!r}: {_reason(error)}")

    def _check_values(
        self,
        model: type[Model],
        converted: dict[str, Any],
        m2m: dict[str, list[Any]] | None,
        fields: dict[str, Any],
        label: str,
    ) -> None:
        """What the database would refuse: a value its column cannot hold (too long, an integer
        out of the database's range, too many digits), or NULL where the column is NOT NULL.
        ``converted``: the row's values by attribute name."""
        opts = model._meta
        assert opts.pk is not None
        pk = converted[opts.pk.attname]
        checked: list[tuple[str, Any, Any]] = [("pk", opts.pk, pk)]
        for name in fields:
            model_field: Any = opts.get_field(name)
            if model_field.many_to_many:
                target = model_field.remote_field.model._meta.pk
                values = (m2m or {}).get(name, [])
                checked += [(name, target, value) for value in values]
            else:
                checked.append((name, model_field, converted[model_field.attname]))
        for name, model_field, value in checked:
            if value is None:
                if not model_field.null:
                    raise _RowError(name, f"{label} pk={_short(pk)!r}: may not be null")
                continue
            try:
                self._check_value(model_field, value)
            except ValidationError as exc:
                reason = "; ".join(str(message) for message in exc.messages)
                raise _RowError(name, f"{label} pk={_short(pk)!r}: {_one_line(reason)}") from None

    def _check_value(self, model_field: Any, value: Any) -> None:
        """What the column cannot hold. Not the field's validators: those the database does not
        enforce (an email address's form, a custom validator) may have been bypassed by the rows
        that were archived, and an archive must give back what the database held."""
        limits = self.limits.get(model_field)
        if limits is None:
            limits = self.limits[model_field] = self._limits(model_field)
        kind, first, second = limits
        if kind is CharField:
            if isinstance(value, str) and len(value) > first:
                MaxLengthValidator(first)(value)
        elif kind is DecimalField:
            if isinstance(value, Decimal):
                DecimalValidator(first, second)(value)
        elif kind is IntegerField and isinstance(value, int):
            if first is not None and value < first:
                MinValueValidator(first)(value)
            if second is not None and value > second:
                MaxValueValidator(second)(value)
        if self.connection.vendor == "postgresql" and isinstance(value, str) and "\x00" in value:
            raise ValidationError("holds a NUL character, which PostgreSQL cannot store")

    def _limits(self, model_field: Any) -> tuple[Any, Any, Any]:
        """What :meth:`_check_value` checks of ``model_field``'s values: the kind of its column
        (``CharField``, ``DecimalField``, ``IntegerField``, ``None``: nothing) and two limits."""
        target = model_field
        while target.is_relation and (target.many_to_one or target.one_to_one):
            target = target.target_field
        if isinstance(target, CharField) and target.max_length is not None:
            return CharField, target.max_length, None
        if isinstance(target, DecimalField):
            return DecimalField, target.max_digits, target.decimal_places
        if isinstance(target, IntegerField):
            try:
                low, high = self.connection.ops.integer_field_range(target.get_internal_type())
            except KeyError:  # a custom integer field Django knows no range of
                return None, None, None
            return IntegerField, low, high
        return None, None, None

    # the second pass: one batch per transaction ------------------------------------------------

    def _load(self, snapshot: IO[bytes], limit: int) -> int:
        batches = 0
        for batch, rows in groupby(_lines(snapshot, limit), key=itemgetter(0)):
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
        groups: dict[type[Model], dict[Any, _Row]] = {}
        seen = 0
        for number, line in rows:
            if not line.strip():
                continue
            seen += 1
            try:
                row = self._row(number, line, values=False)
            except _RowError as error:  # validated already: only if the database changed
                raise refused(self._where(number, error)) from None
            group = groups.setdefault(concrete(type(row.instance)), {})
            group.pop(row.instance.pk, None)
            group[row.instance.pk] = row
        counts: Counter[str] = Counter()
        present: Counter[str] = Counter()
        written: list[tuple[int, str, Model]] = []
        inserted: list[type[Model]] = []
        with transaction.atomic(using=self.using):
            with self.connection.constraint_checks_disabled():
                for model in _referenced_first(list(groups)):
                    try:
                        outcome = self._write(model, list(groups[model].values()))
                    except _Refused as exc:
                        raise refused(
                            f"{self._place(exc.row.number)}: {exc.row.label} "
                            f"pk={_short(exc.row.instance.pk)!r}: the database refused the row: "
                            f"{_one_line(exc.error)}"
                        ) from None
                    for row, kind in outcome:
                        if kind is _PRESENT:
                            present[row.label] += 1
                            continue
                        counts[row.label] += 1
                        written.append((row.number, row.label, row.instance))
                        if kind is _REWRITTEN:
                            self.rewritten += 1
                    if any(kind is _INSERTED for _, kind in outcome):
                        inserted.append(model)
                for model in groups:
                    for row in groups[model].values():
                        if row.m2m:  # many-to-many lists in a row (not a purge's)
                            row.instance._state.db = self.using
                            row.instance._state.adding = False
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
        self.done += seen

    def _write(self, model: type[Model], rows: list[_Row]) -> list[tuple[_Row, str]]:
        """Insert ``rows`` of ``model``'s own table, the primary keys they had: raw inserts (no
        ``pre_save``: ``auto_now`` fields keep their archived values; no signals), a few thousand
        rows per statement. A row whose key is there already is left as it is when it holds
        the archived values (a restore run again), and rewritten with them otherwise (a row a
        purge set a foreign key of to NULL or a default)."""
        opts = model._meta
        fields = [f for f in opts.local_concrete_fields if not getattr(f, "generated", False)]
        pk = opts.pk
        assert pk is not None
        others = [f for f in fields if not f.primary_key]
        manager = model._base_manager.db_manager(self.using)
        limit = max(1, self.connection.ops.bulk_batch_size(fields, rows))
        outcome: list[tuple[_Row, str]] = []
        for chunk in _chunks(rows, min(limit, INSERT_ROWS), INSERT_BYTES):
            keys = [row.instance.pk for row in chunk]
            existing = {
                values[0]: values[1:]
                for values in manager.filter(in_keys(model, "pk", keys)).values_list(
                    pk.attname, *(f.attname for f in others)
                )
            }
            new = [row for row in chunk if row.instance.pk not in existing]
            if new:
                self._insert(manager, new, fields)
            stale: list[Model] = []
            for row in chunk:
                instance = row.instance
                if instance.pk not in existing:
                    outcome.append((row, _INSERTED))
                elif existing[instance.pk] == tuple(getattr(instance, f.attname) for f in others):
                    outcome.append((row, _PRESENT))
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

    def _insert(self, manager: Any, rows: list[_Row], fields: list[Any]) -> None:
        """One ``INSERT`` of ``rows`` (in a savepoint); :class:`_Refused` naming the first row
        the database refuses."""
        try:
            with transaction.atomic(using=self.using):
                # What Model.save_base(raw=True) runs (loaddata's path), many rows at a time:
                # QuerySet.bulk_create() calls pre_save() (auto_now fields would get the time
                # of the restore) and refuses multi-table children.
                manager._insert(
                    [row.instance for row in rows], fields=fields, raw=True, using=self.using
                )
        except DatabaseError as exc:
            # Which row: one at a time, until one fails (the batch is rolled back anyway).
            for row in rows:
                try:
                    with transaction.atomic(using=self.using):
                        manager._insert([row.instance], fields=fields, raw=True, using=self.using)
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
                    f"{self._place(number, model_field.name)}: {label} "
                    f"pk={_short(instance.pk)!r} refers to {target.model._meta.label_lower} "
                    f"{target.name}={_short(value)!r}, which does not exist"
                )
        return refused(f"{self.path}: {_one_line(error)}")


def _reason(error: BaseException) -> str:
    """Why Django's deserializer failed, without the value it repeats."""
    original = error.__context__ if isinstance(error, DeserializationError) else None
    cause = original if original is not None else error
    if isinstance(cause, ValidationError):
        return _one_line("; ".join(str(message) for message in cause.messages))
    return _one_line(cause) or type(cause).__name__


def _one_line(value: Any) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def _short(value: Any) -> Any:
    """A value to show in a message: long text and huge numbers are cut."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) <= 60:
        return value
    return text[:59] + "…"


def _models_text(counts: Counter[str]) -> str:
    return ", ".join(f"{label} {n:,}" for label, n in sorted(counts.items())) or "no rows"


def _chunks(rows: list[_Row], count: int, size: int) -> Iterator[list[_Row]]:
    """``rows`` in pieces of at most ``count`` rows and (unless one row is bigger) ``size``
    bytes of JSON."""
    chunk: list[_Row] = []
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
