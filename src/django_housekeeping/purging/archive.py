"""Archives of purged rows: gzip-compressed JSON Lines in Django's serialization format, each
vouched for by a signed manifest.

Before a batch is deleted, its rows (the cascaded and the updated ones too) are appended to the
archive as one complete gzip member, written and synced to disk; then the archive's manifest — a
sidecar file ``<archive>.manifest.json`` — is rewritten atomically to cover it, still before the
batch's transaction commits. The manifest names the purge (task and run, when known), counts the
rows per model, holds the SHA-256 of the bytes it covers and a signature of all that
(``django.core.signing``: ``SECRET_KEY``, or one of ``SECRET_KEY_FALLBACKS`` after a rotation).
``manage.py loaddata FILE`` reads the data file as it is; :func:`restore` (``manage.py
housekeeping restore FILE``) loads only what the manifest covers and vouches for: bytes after
that (a batch written by a purge killed before the batch was deleted, whose rows are still there)
are ignored, and a file whose manifest is missing or does not verify is refused unless forced.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import os
import re
import stat
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path
from typing import IO, Any, BinaryIO

from django.conf import settings
from django.core import serializers, signing
from django.core.exceptions import (
    ImproperlyConfigured,
)
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Model, QuerySet
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.timezone import is_aware

from django_housekeeping.conf import housekeeping_settings
from django_housekeeping.purging.planner import concrete

logger = logging.getLogger("django_housekeeping")

SUFFIX = ".jsonl.gz"
FORMAT = "jsonl"
MANIFEST_SUFFIX = ".manifest.json"
MANIFEST_FORMAT = "django-housekeeping-archive"
MANIFEST_VERSION = 3
# Version 1 (before 0.2): no ``updated`` counts, no line says the purge only updated its row.
# Versions 1 and 2 (before 0.3) are signed by an ``hmac`` field (LEGACY_SIGNED_VERSIONS); version
# 3 has version 2's fields and a ``signature`` field, django.core.signing's.
READABLE_VERSIONS = (1, 2, 3)
LEGACY_SIGNED_VERSIONS = (1, 2)
#: The key an archived line carries (``true``) when the purge only updated its row (a foreign
#: key set to NULL or a default by ``SET_NULL``/``SET_DEFAULT``) rather than deleting it:
#: ``{"updated_by_purge": true, "model": …, "pk": …, "fields": …}``. Django's deserializer
#: (``loaddata``) ignores it.
UPDATED_KEY = "updated_by_purge"
# The signature's salt (django.core.signing's, and salted_hmac's before version 3). A fixed name,
# whatever module computes it: changing it would invalidate every archive.
_KEY_SALT = "django_housekeeping.archive.manifest"
# Bytes read, and decompressed, at a time.
CHUNK = 1 << 20
# How much of a database's or a validator's message a one-line error keeps.
MESSAGE_LIMIT = 300


class ArchiveError(ValueError):
    """An archive that cannot be written to or restored; the message is one line that names the
    file (and, for a malformed row, its line and field)."""


class UnverifiedArchive(ArchiveError):
    """An archive whose manifest is missing or does not verify, or that holds rows of a model its
    manifest does not name: ``restore(force=True)`` restores it anyway (with a warning)."""


@dataclass(frozen=True)
class ArchiveOrigin:
    """The purge an archive comes from, written into its manifest: a task's name and run id
    (``ctx.purge`` passes both; a plain ``purge()`` call knows neither)."""

    task: str | None = None
    run: int | None = None


@dataclass(frozen=True)
class Manifest:
    """What an archive's manifest vouches for: the first ``bytes`` bytes of the data file (complete
    gzip members, ``batches`` of them, whose SHA-256 is ``sha256``) holding ``models`` (rows per
    ``"app_label.model_name"``, each row once), written by the purge ``task``/``run`` when known.
    ``updated``: the rows of ``models`` the purge only updated (their lines say so), per model;
    the others are the rows it deleted. ``version``: 1 for an archive from before ``updated``."""

    task: str | None
    run: int | None
    models: dict[str, int]
    objects: int
    batches: int
    bytes: int
    sha256: str
    updated: dict[str, int] = field(default_factory=dict)
    version: int = MANIFEST_VERSION


def default_archive_path(label: str, *, prefix: str = "", now: datetime | None = None) -> Path:
    """A new file in ``HOUSEKEEPING["PURGE_ARCHIVE_DIR"]``:
    ``<prefix>-<time>-<app.Model>.jsonl.gz``."""
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


def manifest_path(path: str | os.PathLike[str]) -> Path:
    """The manifest of the archive ``path``: ``<archive>.manifest.json`` next to it."""
    path = Path(path)
    return path.with_name(path.name + MANIFEST_SUFFIX)


def serialized_fields(model: type[Model]) -> list[str]:
    """The fields of ``model``'s own table: many-to-many links are archived as their own rows."""
    return [field.name for field in concrete(model)._meta.local_concrete_fields]


# the manifest -------------------------------------------------------------------------------------


def _signed_text(payload: dict[str, Any]) -> str:
    """The text a manifest's signature covers: its fields but the signature, canonical JSON."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _signer() -> signing.Signer:
    # Built when used: it reads SECRET_KEY and SECRET_KEY_FALLBACKS.
    return signing.Signer(salt=_KEY_SALT, algorithm="sha256")


def _signature(payload: dict[str, Any]) -> str:
    """The ``signature`` of a version 3 manifest: django.core.signing's, keyed with
    ``SECRET_KEY``."""
    text = _signed_text(payload)
    return _signer().sign(text)[len(text) + 1 :]  # what follows the separator


def _verifies(document: dict[str, Any]) -> bool:
    """Whether ``document``'s signature (popped from it) verifies with ``SECRET_KEY`` or one of
    ``SECRET_KEY_FALLBACKS``."""
    if document["version"] in LEGACY_SIGNED_VERSIONS:
        given = document.pop("hmac", None)
        if not isinstance(given, str):
            return False
        # Before 0.3: a hex salted_hmac, which django.core.signing neither writes nor reads.
        text = _signed_text(document)
        secrets = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
        return any(
            constant_time_compare(
                salted_hmac(_KEY_SALT, text, secret=secret, algorithm="sha256").hexdigest(), given
            )
            for secret in secrets
        )
    given = document.pop("signature", None)
    if not isinstance(given, str):
        return False
    try:
        _signer().unsign(f"{_signed_text(document)}:{given}")
    except signing.BadSignature:
        return False
    return True


def _manifest_document(manifest: Manifest) -> bytes:
    """The manifest file's content: its fields, signed (always as the current version)."""
    payload: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "task": manifest.task,
        "run": manifest.run,
        "models": dict(sorted(manifest.models.items())),
        "objects": manifest.objects,
        "batches": manifest.batches,
        "bytes": manifest.bytes,
        "sha256": manifest.sha256,
        "updated": dict(sorted(manifest.updated.items())),
    }
    payload["signature"] = _signature(payload)
    return (json.dumps(payload, indent=2) + "\n").encode("ascii")


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def read_manifest(path: str | os.PathLike[str]) -> Manifest:
    """The manifest of the archive ``path``, once its signature verifies (with ``SECRET_KEY`` or
    one of ``SECRET_KEY_FALLBACKS``); :class:`UnverifiedArchive` otherwise. The data file is not
    read: :func:`verify_archive` checks it too."""
    where = manifest_path(path)
    try:
        text = where.read_bytes()
    except FileNotFoundError:
        raise UnverifiedArchive(
            f"{os.fspath(path)}: no manifest ({where.name} is missing)"
        ) from None
    except OSError as exc:
        raise UnverifiedArchive(
            f"{os.fspath(path)}: cannot read its manifest {where.name}: {exc.strerror or exc}"
        ) from exc
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        document = None
    if not isinstance(document, dict):
        raise UnverifiedArchive(
            f"{os.fspath(path)}: its manifest {where.name} is not a JSON object"
        )
    version = document.get("version")
    if document.get("format") != MANIFEST_FORMAT or version not in READABLE_VERSIONS:
        raise UnverifiedArchive(
            f"{os.fspath(path)}: its manifest {where.name} is not a version "
            f"{' or '.join(map(str, READABLE_VERSIONS))} {MANIFEST_FORMAT} manifest"
        )
    if not _verifies(document):
        raise UnverifiedArchive(
            f"{os.fspath(path)}: the HMAC of its manifest {where.name} does not verify (edited, "
            "or signed with another SECRET_KEY)"
        )
    models = document.get("models")
    updated = document.get("updated", {}) if version != 1 else {}
    if not (
        isinstance(models, dict)
        and all(isinstance(label, str) and _count(n) for label, n in models.items())
        and isinstance(updated, dict)
        and all(_count(n) and n <= models.get(label, 0) for label, n in updated.items())
        and all(_count(document.get(key)) for key in ("objects", "batches", "bytes"))
        and isinstance(document.get("sha256"), str)
        and (document.get("task") is None or isinstance(document["task"], str))
        and (document.get("run") is None or _count(document["run"]))
    ):
        raise UnverifiedArchive(f"{os.fspath(path)}: its manifest {where.name} is malformed")
    return Manifest(
        task=document["task"],
        run=document["run"],
        models=dict(models),
        objects=document["objects"],
        batches=document["batches"],
        bytes=document["bytes"],
        sha256=document["sha256"],
        updated=dict(updated),
        version=version,
    )


def copy_prefix(
    source: BinaryIO, size: int, out: IO[bytes] | None = None
) -> tuple[hashlib._Hash, int]:
    """The SHA-256 of the first ``size`` bytes of ``source`` (copied onto ``out``), and how many
    there were (fewer when the file is shorter)."""
    digest = hashlib.sha256()
    copied = 0
    while copied < size and (data := source.read(min(CHUNK, size - copied))):
        digest.update(data)
        if out is not None:
            out.write(data)
        copied += len(data)
    return digest, copied


def check_prefix(path: str | os.PathLike[str], manifest: Manifest, copied: int, sha: str) -> None:
    if copied < manifest.bytes:
        raise UnverifiedArchive(
            f"{os.fspath(path)}: shorter than its manifest says ({copied:,} of "
            f"{manifest.bytes:,} bytes)"
        )
    if not constant_time_compare(sha, manifest.sha256):
        raise UnverifiedArchive(
            f"{os.fspath(path)}: the SHA-256 of its first {manifest.bytes:,} bytes is not the "
            "one its manifest holds (the file was changed)"
        )


def verify_archive(path: str | os.PathLike[str]) -> Manifest:
    """The manifest of the archive ``path`` when it verifies and so does the data it covers;
    :class:`UnverifiedArchive` otherwise."""
    manifest = read_manifest(path)
    try:
        with open(path, "rb") as source:
            digest, copied = copy_prefix(source, manifest.bytes)
    except OSError as exc:
        raise UnverifiedArchive(
            f"{os.fspath(path)}: cannot read it: {exc.strerror or exc}"
        ) from exc
    check_prefix(path, manifest, copied, digest.hexdigest())
    return manifest


def _write_atomically(path: Path, data: bytes, *, mode: int | None) -> None:
    """Replace ``path`` with ``data``: a synced temporary file renamed over it, then the
    directory synced, so a crash leaves the old file or the new one."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(temporary)
        raise
    _sync_directory(path.parent)


def _sync_directory(directory: Path) -> None:
    try:
        handle = os.open(directory, os.O_RDONLY)
    except OSError:  # a platform that cannot open directories (Windows) syncs its own way
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


# writing ------------------------------------------------------------------------------------------


class ArchiveWriter:
    """Appends batches of rows to one archive file, each batch a complete gzip member, and keeps
    its manifest covering them.

    An existing file is appended to only when its manifest verifies and names the same ``origin``
    (:class:`ArchiveError` otherwise, raised here, before a purge deletes anything); bytes after
    what its manifest covers (a batch whose purge was killed before deleting it) are dropped.
    """

    def __init__(self, path: Path, *, origin: ArchiveOrigin | None = None) -> None:
        self.path = path
        self.manifest_path = manifest_path(path)
        self.origin = origin or ArchiveOrigin()
        # What this writer appended.
        self.objects = 0
        self.batches = 0
        # What the manifest covers (with what an existing file held).
        self._models: Counter[str] = Counter()
        self._updated: Counter[str] = Counter()
        # The keys of the rows archived as updated, per model: a row two batches update (two
        # foreign keys, each to a row of another batch) is archived once, as it was first.
        self._updated_keys: dict[type[Model], set[Any]] = {}
        self._batches = 0
        self._bytes = 0
        self._digest = hashlib.sha256()
        self._found = 0  # the size of an existing file when it was taken over
        self._adopt()

    def _adopt(self) -> None:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if not self.manifest_path.exists() and size == 0:
            return
        refusal = f"{self.path} already exists"
        try:
            manifest = read_manifest(self.path)
            with self.path.open("rb") as source:
                digest, copied = copy_prefix(source, manifest.bytes)
            check_prefix(self.path, manifest, copied, digest.hexdigest())
        except UnverifiedArchive as exc:
            raise ArchiveError(
                f"{refusal} and is not an archive a purge can append to ({exc}): name a new file"
            ) from exc
        if (manifest.task, manifest.run) != (self.origin.task, self.origin.run):
            raise ArchiveError(
                f"{refusal} and holds the rows of another purge (task {manifest.task}, run "
                f"{manifest.run}): name a new file"
            )
        self._models.update(manifest.models)
        self._updated.update(manifest.updated)
        self._batches = manifest.batches
        self._bytes = manifest.bytes
        self._digest = digest
        self._found = size

    def append(
        self,
        groups: Iterable[Iterable[Model] | QuerySet[Any]],
        updated: Iterable[Iterable[Model] | QuerySet[Any]] = (),
    ) -> int:
        """Write every row of ``groups`` (querysets or lists of instances of one model each: the
        rows the batch deletes) and of ``updated`` (the rows it only updates, marked so), then
        the manifest that covers them. A row several groups hold (reached along several cascade
        paths) is written once: the models more than one group holds keep the batch's keys."""
        deleting = [(group, _group_model(group)) for group in groups]
        updating = [(group, _group_model(group)) for group in updated]
        reached = Counter(model for _, model in deleting if model is not None)
        also_updated = {model for _, model in updating}
        seen: dict[type[Model], set[Any]] = {
            model: set() for model, times in reached.items() if times > 1 or model in also_updated
        }
        buffer = io.BytesIO()
        counts: Counter[str] = Counter()
        updated_counts: Counter[str] = Counter()
        with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as member:
            text = io.TextIOWrapper(member, encoding="utf-8", newline="\n")
            for group, model in deleting:
                if model is not None:
                    _serialize(_rows(group), text, counts, seen.get(model))
            for group, model in updating:
                if model is None:
                    continue
                keys = self._updated_keys.setdefault(model, set())
                rows = _rows(group)
                deleted = seen.get(model)
                if deleted:  # rows this batch deletes along another path: archived as deleted
                    rows = (row for row in rows if row.pk not in deleted)
                lines = io.StringIO()
                _serialize(rows, lines, updated_counts, keys)
                marker = '{"' + UPDATED_KEY + '": true, '
                for line in lines.getvalue().splitlines():
                    text.write(marker + line[1:] + "\n")
            text.flush()
            text.detach()
        counts.update(updated_counts)
        written = sum(counts.values())
        if not written:
            return 0
        data = buffer.getvalue()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as file:
            size = os.fstat(file.fileno()).st_size
            if size != self._bytes:
                if self.batches or size != self._found:
                    raise ArchiveError(
                        f"{self.path} was changed while a purge was writing it ({size:,} bytes, "
                        f"{self._bytes:,} expected): is another purge writing the same file?"
                    )
                file.truncate(self._bytes)  # a batch that was never deleted (see _adopt)
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        self._digest.update(data)
        self._bytes += len(data)
        self._batches += 1
        self._models.update(counts)
        self._updated.update(updated_counts)
        self.objects += written
        self.batches += 1
        manifest = Manifest(
            task=self.origin.task,
            run=self.origin.run,
            models=dict(self._models),
            objects=sum(self._models.values()),
            batches=self._batches,
            bytes=self._bytes,
            sha256=self._digest.hexdigest(),
            updated=dict(self._updated),
        )
        _write_atomically(
            self.manifest_path,
            _manifest_document(manifest),
            mode=stat.S_IMODE(self.path.stat().st_mode),
        )
        return written


def _group_model(group: Iterable[Model] | QuerySet[Any]) -> type[Model] | None:
    """The concrete model of a group's rows (``None``: an empty list)."""
    if isinstance(group, QuerySet):
        return concrete(group.model)
    for row in group:
        return concrete(type(row))
    return None


def _rows(group: Iterable[Model] | QuerySet[Any]) -> Iterable[Model]:
    return group.iterator(chunk_size=2000) if isinstance(group, QuerySet) else group


def _serialize(
    rows: Iterable[Model],
    stream: IO[str],
    counts: Counter[str],
    seen: set[Any] | None = None,
) -> None:
    """Serialize ``rows`` (of one model) as JSON Lines onto ``stream``, counting them per model;
    with ``seen``, the rows whose key is in it are left out and the others' keys added."""
    counted = _Counted(rows, counts, seen)
    fields: list[str] | None = None
    for first in counted.peek():
        fields = serialized_fields(type(first))
    if fields is None:
        return
    serializers.serialize(FORMAT, counted, stream=stream, fields=fields, cls=ExactJSONEncoder)


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
    """An iterable that counts what went through it per model (the label the serializer writes),
    and can show its first item."""

    def __init__(
        self, rows: Iterable[Model], counts: Counter[str], seen: set[Any] | None = None
    ) -> None:
        self._iterator = iter(rows)
        if seen is not None:
            self._iterator = _unseen(self._iterator, seen)
        self._head: list[Model] = []
        self.counts = counts

    def peek(self) -> list[Model]:
        if not self._head:
            self._head = [row for row in [next(self._iterator, None)] if row is not None]
        return self._head

    def __iter__(self) -> Iterator[Model]:
        for row in self._head:
            self.counts[row._meta.label_lower] += 1
            yield row
        self._head = []
        for row in self._iterator:
            self.counts[row._meta.label_lower] += 1
            yield row


def _unseen(rows: Iterator[Model], seen: set[Any]) -> Iterator[Model]:
    """The rows whose key ``seen`` does not hold yet (adding it)."""
    for row in rows:
        key = row.pk
        if key not in seen:
            seen.add(key)
            yield row


# reading ------------------------------------------------------------------------------------------
