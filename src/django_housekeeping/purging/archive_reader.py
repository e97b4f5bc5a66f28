"""Reading an archive: its gzip members and lines, and each line's row deserialized and checked
against what the database can hold — the first pass of a restore (nothing is written here).

:func:`copy_archive` decompresses the complete batches of an archive; :class:`RowReader` turns
one line into an unsaved instance (without Django's deserializer when nothing watches the model's
construction), or a :class:`RowError` naming the field and the reason.
"""

from __future__ import annotations

import json
import os
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any, BinaryIO

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.serializers.base import DeserializationError, DeserializedObject
from django.core.serializers.python import Deserializer as PythonDeserializer
from django.core.validators import (
    DecimalValidator,
    MaxLengthValidator,
    MaxValueValidator,
    MinValueValidator,
)
from django.db import router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import CharField, DecimalField, Field, IntegerField, Model
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.query_utils import DeferredAttribute
from django.db.models.signals import post_init, pre_init

from django_housekeeping import compat
from django_housekeeping.purging.archive import CHUNK, MESSAGE_LIMIT, UPDATED_KEY
from django_housekeeping.purging.planner import concrete


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
    #: and were rewritten with the archived ones: rows the purge only updated (set a foreign key
    #: of to NULL or a default), or any with ``overwrite``.
    rewritten: int = 0
    #: From :func:`restore`: rows in the database with other values than archived (edited
    #: since), kept as they are (not in ``objects``), per model.
    kept: int = 0
    kept_models: dict[str, int] = field(default_factory=dict)
    #: From :func:`restore`: rows an erasure deleted (their keys are remembered), skipped (not
    #: in ``objects``), per model.
    erased: int = 0
    erased_models: dict[str, int] = field(default_factory=dict)


class NotGzip(Exception):
    def __init__(self, offset: int, error: zlib.error) -> None:
        super().__init__(f"at byte {offset:,}: {error}")


class Members:
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
                    raise NotGzip(self.complete, exc) from exc
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


def archive_lines(stream: IO[bytes], limit: int) -> Iterator[tuple[int, int, bytes]]:
    """``(batch, line number, line)`` of the complete gzip members in the first ``limit`` bytes of
    ``stream``; line numbers count from the start of the decompressed file."""
    number = 0
    pending = bytearray()
    for batch, data in Members(stream, limit):
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
        members = Members(file)
        try:
            for _, data in members:
                if data is not None:
                    pending.append(data)
                    continue
                member = b"".join(pending)
                out.write(member)
                stats.objects += member.count(b"\n")
                pending = []
        except NotGzip as exc:
            raise ValueError(f"{os.fspath(path)} is not a gzip archive ({exc})") from exc
    stats.batches = members.batches
    stats.truncated = members.truncated
    return stats


class RowError(Exception):
    """A malformed row: which field (``None``: the line itself), and why."""

    def __init__(self, field_name: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field_name = field_name
        self.reason = reason.rstrip(".")  # a validator's sentence, followed by more


@dataclass
class Row:
    """One line of an archive: where it is, the label of its model, its values on its model's
    own table (an unsaved instance), its length (a guess at its size in SQL), and the
    many-to-many lists it holds (not a purge's archive: those hold the links as rows), and
    whether the purge only updated it."""

    number: int
    label: str
    instance: Model
    size: int
    m2m: dict[str, list[Any]] | None = None
    #: A row the purge only updated (a foreign key set to NULL or a default): the archive's line
    #: says so (see :data:`~django_housekeeping.purging.archive.UPDATED_KEY`).
    updated: bool = False


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
        compat.fresh_state(instance)
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


#: ``admit(line number, model)``: raises (or records) when the rows of ``model`` may not be
#: restored; called once per model met.
Admit = Callable[[int, type[Model]], None]


class RowReader:
    """Reads the lines of one archive for one database: every model and field name met is
    checked once, and the conversions of each model planned once."""

    def __init__(
        self,
        path: str,
        using: str,
        connection: BaseDatabaseWrapper,
        admit: Admit | None = None,
    ) -> None:
        self.path = path
        self.using = using
        self.connection = connection
        self.admit = admit
        self.models: dict[str, type[Model]] = {}  # the models of the labels met, checked
        self.fields: dict[type[Model], set[str]] = {}  # field names met, checked
        self.limits: dict[Any, tuple[Any, Any, Any]] = {}  # see _limits
        self.plans: dict[type[Model], _Plan | None] = {}  # see _plan

    def place(self, number: int | None, field_name: str | None = None) -> str:
        """``FILE: line N, field 'name'``: where a message is about."""
        where = self.path if number is None else f"{self.path}: line {number}"
        return where if field_name is None else f"{where}, field {field_name!r}"

    def where(self, number: int, error: RowError) -> str:
        return f"{self.place(number, error.field_name)}: {error.reason}"

    def row(self, number: int, line: bytes, *, values: bool = True) -> Row:
        """The row of one line, deserialized and validated; :class:`RowError` if malformed.
        ``values=False``: its values are not checked (they were, in the first pass)."""
        try:
            data = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise RowError(None, f"not UTF-8 ({exc.reason} at byte {exc.start + 1})") from None
        except json.JSONDecodeError as exc:
            raise RowError(None, f"invalid JSON ({exc.msg} at column {exc.colno})") from None
        except (ValueError, RecursionError) as exc:
            raise RowError(None, f"invalid JSON ({one_line(exc)})") from None
        if not isinstance(data, dict):
            raise RowError(None, "not a JSON object")
        label = data.get("model")
        if not isinstance(label, str):
            raise RowError("model", "missing, or not a string")
        model = self.models.get(label)
        if model is None:
            model = self.models[label] = self._model(number, label)
        name = model._meta.label_lower
        if data.get("pk") is None:
            raise RowError("pk", f"{name}: missing (a restored row keeps its primary key)")
        fields = data.get("fields")
        if not isinstance(fields, dict):
            raise RowError("fields", f"{name}: missing, or not an object")
        known = self.fields.setdefault(model, set())
        for field_name in fields:
            if field_name in known:
                continue
            try:
                model_field = model._meta.get_field(field_name)
            except FieldDoesNotExist:
                raise RowError(field_name, f"{name} has no such field") from None
            if not isinstance(model_field, Field) or not (
                model_field.concrete or model_field.many_to_many
            ):
                raise RowError(field_name, f"not a field of {name} that holds data")
            known.add(field_name)
        if values and (b"\\ud" in line or b"\\uD" in line):
            _check_surrogates(name, data["pk"], fields)
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
            row = Row(number, name, plan.instance(converted), len(line))
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
            row = Row(number, name, instance, len(line), m2m)
            assert instance._meta.pk is not None
            converted = {instance._meta.pk.attname: instance.pk}
            for field_name in fields:
                named: Any = model._meta.get_field(field_name)
                if not named.many_to_many:
                    converted[named.attname] = getattr(instance, named.attname)
        if values:
            self._check_values(model, converted, m2m, fields, name)
        if data.get(UPDATED_KEY) is True:
            row.updated = True
        return row

    def _model(self, number: int, label: str) -> type[Model]:
        """The model of ``label``, once it may be restored here."""
        try:
            model = apps.get_model(label)
        except (LookupError, ValueError):
            raise RowError("model", f"unknown model {short(label)!r}") from None
        name = model._meta.label_lower
        if self.admit is not None:
            self.admit(number, model)
        if not router.allow_migrate_model(self.using, model):
            raise RowError("model", f"{name} is not stored in the database {self.using!r}")
        return model

    def _culprit(self, data: dict[str, Any], label: str, error: Exception) -> RowError:
        """The field that made Django's deserializer fail, tried one at a time."""
        probes = [("pk", {})] + [(name, {name: value}) for name, value in data["fields"].items()]
        for name, fields in probes:
            try:
                list(PythonDeserializer([{**data, "fields": fields}], using=self.using))
            except Exception as exc:  # see _row
                return RowError(name, f"{label} pk={short(data['pk'])!r}: {reason_of(exc)}")
        return RowError(None, f"{label} pk={short(data['pk'])!r}: {reason_of(error)}")

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
                    raise RowError(name, f"{label} pk={short(pk)!r}: may not be null")
                continue
            try:
                self._check_value(model_field, value)
            except ValidationError as exc:
                reason = "; ".join(str(message) for message in exc.messages)
                raise RowError(name, f"{label} pk={short(pk)!r}: {one_line(reason)}") from None

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


def _check_surrogates(label: str, pk: Any, fields: dict[str, Any]) -> None:
    """A lone surrogate (``"\\ud800"`` in JSON) is valid JSON but no text a database stores: the
    field that holds one. Only looked for in lines that escape one (a bytes search per line)."""
    for name, value in [("pk", pk), *fields.items()]:
        texts = value if isinstance(value, list) else [value]
        for text in texts:
            if isinstance(text, str):
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError as exc:
                    raise RowError(
                        name,
                        f"{label} pk={short(pk)!r}: holds a lone surrogate "
                        f"(U+{ord(text[exc.start]):04X}), which is no text a database stores",
                    ) from None


def reason_of(error: BaseException) -> str:
    """Why Django's deserializer failed, without the value it repeats."""
    original = error.__context__ if isinstance(error, DeserializationError) else None
    cause = original if original is not None else error
    if isinstance(cause, ValidationError):
        return one_line("; ".join(str(message) for message in cause.messages))
    return one_line(cause) or type(cause).__name__


def one_line(value: Any) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def short(value: Any) -> Any:
    """A value to show in a message: long text and huge numbers are cut."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) <= 60:
        return value
    return text[:59] + "…"


def models_text(counts: Counter[str]) -> str:
    return ", ".join(f"{label} {n:,}" for label, n in sorted(counts.items())) or "no rows"
