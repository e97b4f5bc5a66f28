"""Archives of purged rows: gzip-compressed JSON Lines in Django's serialization format.

Before a batch is deleted, its rows (the cascaded and the updated ones too) are appended to the
archive as one complete gzip member, written and synced to disk before the batch's transaction
commits. ``manage.py loaddata FILE`` reads such a file as it is; ``manage.py housekeeping restore
FILE`` (:func:`restore`) also accepts a file whose last member was cut short by a crash — the rows
of that member were never deleted, so it is skipped.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path
from typing import Any, BinaryIO

from django.core import serializers
from django.core.exceptions import ImproperlyConfigured
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DEFAULT_DB_ALIAS
from django.db.models import Model, QuerySet
from django.utils.timezone import is_aware

SUFFIX = ".jsonl.gz"
FORMAT = "jsonl"


def default_archive_path(label: str, *, prefix: str = "", now: datetime | None = None) -> Path:
    """A new file in ``HOUSEKEEPING["PURGE_ARCHIVE_DIR"]``:
    ``<prefix>-<time>-<app.Model>.jsonl.gz``."""
    from django.utils import timezone

    from django_housekeeping.conf import housekeeping_settings

    directory = housekeeping_settings.PURGE_ARCHIVE_DIR
    if not directory:
        raise ImproperlyConfigured(
            "archiving purged rows needs a directory: set HOUSEKEEPING['PURGE_ARCHIVE_DIR']"
        )
    moment = now or timezone.now()
    parts = [_slug(prefix)] if prefix else []
    parts += [f"{moment:%Y%m%dT%H%M%S}{moment.microsecond:06d}", _slug(label)]
    return Path(directory) / ("-".join(parts) + SUFFIX)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "purge"


def archive_path(value: str | os.PathLike[str]) -> Path:
    """An archive file named by the caller: it must end with ``.jsonl.gz`` (what loaddata reads)."""
    path = Path(value)
    if path.is_dir():
        raise ValueError(f"archive must name a file, not the directory {str(path)!r}")
    if not path.name.endswith(SUFFIX):
        raise ValueError(f"an archive file name must end with {SUFFIX!r}, got {path.name!r}")
    return path


def serialized_fields(model: type[Model]) -> list[str]:
    """The fields of ``model``'s own table: many-to-many links are archived as their own rows."""
    from django_housekeeping.deletion import concrete

    return [field.name for field in concrete(model)._meta.local_concrete_fields]


class ArchiveWriter:
    """Appends batches of rows to one archive file, each batch a complete gzip member."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.objects = 0
        self.batches = 0

    def append(self, groups: Iterable[Iterable[Model] | QuerySet[Any]]) -> int:
        """Write every row of ``groups`` (querysets or lists of instances of one model each)."""
        buffer = io.BytesIO()
        written = 0
        with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as member:
            text = io.TextIOWrapper(member, encoding="utf-8", newline="\n")
            for group in groups:
                rows = group.iterator(chunk_size=2000) if isinstance(group, QuerySet) else group
                written += _serialize(rows, text)
            text.flush()
            text.detach()
        if not written:
            return 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as file:
            file.write(buffer.getvalue())
            file.flush()
            os.fsync(file.fileno())
        self.objects += written
        self.batches += 1
        return written


def _serialize(rows: Iterable[Model], stream: io.TextIOWrapper) -> int:
    """Serialize ``rows`` (of one model) as JSON Lines onto ``stream``; how many were written."""
    counted = _Counted(rows)
    fields: list[str] | None = None
    for first in counted.peek():
        fields = serialized_fields(type(first))
    if fields is None:
        return 0
    serializers.serialize(FORMAT, counted, stream=stream, fields=fields, cls=ExactJSONEncoder)
    return counted.count


class ExactJSONEncoder(DjangoJSONEncoder):
    """Django's encoder, but times keep their microseconds (Django's cuts them to milliseconds,
    the precision of ECMA-262): a restored row must be the row that was deleted."""

    def default(self, o: Any) -> Any:
        if isinstance(o, datetime):
            text = o.isoformat()
            return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text
        if isinstance(o, time):
            if is_aware(o):
                raise ValueError("JSON can't represent timezone-aware times.")
            return o.isoformat()
        return super().default(o)


class _Counted:
    """An iterable that counts what went through it, and can show its first item."""

    def __init__(self, rows: Iterable[Model]) -> None:
        self._iterator = iter(rows)
        self._head: list[Model] = []
        self.count = 0

    def peek(self) -> list[Model]:
        if not self._head:
            self._head = [row for row in [next(self._iterator, None)] if row is not None]
        return self._head

    def __iter__(self) -> Iterator[Model]:
        for row in self._head:
            self.count += 1
            yield row
        self._head = []
        for row in self._iterator:
            self.count += 1
            yield row


@dataclass
class ArchiveStats:
    """What an archive held: its rows, its complete batches, and whether a last batch was cut
    short (written by a purge killed before that batch was deleted: its rows are still there)."""

    objects: int = 0
    batches: int = 0
    truncated: bool = False


def copy_archive(path: str | os.PathLike[str], out: BinaryIO) -> ArchiveStats:
    """Decompress every complete gzip member of ``path`` onto ``out``; a cut-short last one is
    left out. One member (one batch) is held in memory at a time."""
    stats = ArchiveStats()
    pending: list[bytes] = []
    decompressor = zlib.decompressobj(wbits=31)
    started = False
    with open(path, "rb") as file:
        while data := file.read(1 << 20):
            while data:
                started = True
                try:
                    pending.append(decompressor.decompress(data))
                except zlib.error as exc:
                    raise ValueError(f"{os.fspath(path)} is not a gzip archive: {exc}") from exc
                if not decompressor.eof:
                    break
                member = b"".join(pending)
                out.write(member)
                stats.objects += member.count(b"\n")
                stats.batches += 1
                pending = []
                data = decompressor.unused_data
                decompressor = zlib.decompressobj(wbits=31)
                started = False
    stats.truncated = started
    return stats


def restore(path: str | os.PathLike[str], *, using: str = DEFAULT_DB_ALIAS) -> ArchiveStats:
    """Load an archive back with ``loaddata``: the same rows, with the same primary keys."""
    from django.core.management import call_command

    if not Path(path).is_file():
        raise FileNotFoundError(f"no archive file {os.fspath(path)!r}")
    with tempfile.TemporaryDirectory() as directory:
        fixture = Path(directory) / "restore.jsonl"
        with fixture.open("wb") as out:
            stats = copy_archive(path, out)
        if stats.objects:
            call_command("loaddata", str(fixture), database=using, verbosity=0)
    return stats
