"""Restoring archives: only verified archives (or forced ones), only the models their manifest
names, every row validated before anything is loaded, and every refusal one line."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import re
import subprocess
import zlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core import signing
from django.db import connection
from django.test import override_settings
from django.utils.crypto import salted_hmac

from django_housekeeping.purging import archive as archive_module
from django_housekeeping.purging.archive import (
    LEGACY_SIGNED_VERSIONS,
    MANIFEST_VERSION,
    ArchiveError,
    Manifest,
    UnverifiedArchive,
    manifest_path,
    read_manifest,
)
from django_housekeeping.purging.engine import purge
from django_housekeeping.purging.restore import restore
from tests.helpers import Outcome, housekeeping
from tests.testapp.models import Post, Reaction, Review, Thread
from tests.testapp.scenarios import old_threads, snapshot, thread

pytestmark = pytest.mark.django_db

REPO_ROOT = Path(__file__).resolve().parents[2]
CREATED = "2020-01-02T03:04:05.678901Z"
# How ctx.purge names the archive of a run of the "threads" task (tests/testapp/housekeeping.py):
# what --force reads the task from.
THREADS_ARCHIVE = "threads-run7-20200102T030405678901-testapp.Thread.jsonl.gz"


# --- helpers -------------------------------------------------------------------------------------


def row(model: str, pk: Any, **fields: Any) -> str:
    return json.dumps({"model": model, "pk": pk, "fields": fields})


def thread_row(pk: Any, title: Any = "restored", **fields: Any) -> str:
    return row("testapp.thread", pk, title=title, created_at=CREATED, **fields)


def sign(path: Path, **changes: Any) -> None:
    """Write a manifest that covers ``path`` as it is (with ``changes``), signed with the
    SECRET_KEY of the settings in effect: what a purge would have written."""
    data = path.read_bytes()
    models: Counter[str] = Counter()
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as file:
        for line in file:
            try:
                obj = json.loads(line)
                models[obj["model"].lower()] += 1
            except (ValueError, KeyError, TypeError, AttributeError):
                pass
    fields: dict[str, Any] = {
        "task": None,
        "run": None,
        "models": dict(models),
        "objects": sum(models.values()),
        "batches": members(data),
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    fields.update(changes)
    if fields.get("version", MANIFEST_VERSION) in LEGACY_SIGNED_VERSIONS:
        manifest_path(path).write_bytes(legacy_manifest(**fields))
    else:
        manifest_path(path).write_bytes(archive_module._manifest_document(Manifest(**fields)))


def legacy_manifest(version: int, updated: dict[str, int] | None = None, **fields: Any) -> bytes:
    """A manifest as 0.1 (version 1: no ``updated``) and 0.2 (version 2) wrote it: a hex
    ``salted_hmac`` of its canonical JSON in ``hmac``, keyed with ``SECRET_KEY``."""
    document: dict[str, Any] = {"format": "django-housekeeping-archive", "version": version}
    document |= fields
    if version == 2:
        document["updated"] = updated or {}
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    salt = "django_housekeeping.archive.manifest"
    document["hmac"] = salted_hmac(salt, text, algorithm="sha256").hexdigest()
    return (json.dumps(document, indent=2) + "\n").encode("ascii")


def members(data: bytes) -> int:
    """How many complete gzip members ``data`` holds."""
    count = 0
    while data:
        decompressor = zlib.decompressobj(wbits=31)
        decompressor.decompress(data)
        if not decompressor.eof:
            break
        count += 1
        data = decompressor.unused_data
    return count


def write_archive(path: Path, *batches: list[str], signed: bool = True) -> Path:
    """An archive of ``batches`` (lists of lines), each one gzip member; signed unless told."""
    path.write_bytes(
        b"".join(
            gzip.compress("".join(f"{line}\n" for line in batch).encode(), mtime=0)
            for batch in batches
        )
    )
    if signed:
        sign(path)
    return path


def assert_one_line_refusal(outcome: Outcome, path: Path) -> None:
    assert outcome.returncode == 1
    assert outcome.message.startswith(f"cannot restore {path}")
    assert "\n" not in outcome.message
    assert "Traceback" not in outcome.err
    assert outcome.out == ""


def forum() -> dict[str, set[Any]]:
    """Two old threads with posts and reactions, a young one; the snapshot of all rows."""
    thread("old-1", posts=2)
    thread("old-2", posts=1)
    thread("young", old=False, posts=1)
    return snapshot()


# --- verified archives ---------------------------------------------------------------------------


def test_a_verified_archive_is_restored_and_counted_in_objects_per_model(tmp_path: Path) -> None:
    before = forum()
    archive = tmp_path / "threads.jsonl.gz"
    result = purge(old_threads(), archive=archive, batch_size=1)

    stats = restore(archive)

    assert snapshot() == before
    assert stats.verified is True
    assert stats.truncated is False
    assert stats.batches == 2
    assert stats.models == {"testapp.post": 3, "testapp.reaction": 3, "testapp.thread": 2}
    assert stats.models == {label.lower(): n for label, n in result["deleted"].items()}
    assert stats.objects == 8


def test_the_command_reports_objects_per_model(tmp_path: Path) -> None:
    before = forum()
    archive = tmp_path / "threads.jsonl.gz"
    purge(old_threads(), archive=archive, batch_size=1)

    outcome = housekeeping("restore", str(archive))

    assert outcome.returncode == 0
    assert outcome.out == (
        f"Restored 8 objects (2 batches) from {archive}: "
        "testapp.post 3, testapp.reaction 3, testapp.thread 2.\n"
    )
    assert outcome.err == ""
    assert snapshot() == before


def test_the_command_json(tmp_path: Path) -> None:
    forum()
    archive = tmp_path / "threads.jsonl.gz"
    purge(old_threads(), archive=archive)

    outcome = housekeeping("restore", str(archive), "--json")

    assert outcome.returncode == 0
    assert json.loads(outcome.out) == {
        "file": str(archive),
        "objects": 8,
        "models": {"testapp.post": 3, "testapp.reaction": 3, "testapp.thread": 2},
        "batches": 1,
        "truncated": False,
        "verified": True,
        "present": 0,
        "present_models": {},
        "rewritten": 0,
        "kept": 0,
        "kept_models": {},
        "erased": 0,
        "erased_models": {},
    }


def test_the_manifest_may_be_signed_with_a_fallback_key(tmp_path: Path) -> None:
    before = forum()
    archive = tmp_path / "threads.jsonl.gz"
    purge(old_threads(), archive=archive)

    rotated = {"SECRET_KEY": "a-new-key", "SECRET_KEY_FALLBACKS": [settings.SECRET_KEY]}
    with override_settings(**rotated):
        assert restore(archive).verified is True
    assert snapshot() == before


def test_the_manifest_is_signed_by_django_core_signing(tmp_path: Path) -> None:
    archive = tmp_path / "threads.jsonl.gz"
    forum()
    purge(old_threads(), archive=archive)

    document = json.loads(manifest_path(archive).read_text())
    signature = document.pop("signature")
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    signer = signing.Signer(salt="django_housekeeping.archive.manifest", algorithm="sha256")
    assert document["version"] == MANIFEST_VERSION == 3
    assert signer.unsign(f"{text}:{signature}") == text


@pytest.mark.parametrize("version", LEGACY_SIGNED_VERSIONS)
def test_an_archive_signed_before_0_3_still_restores(tmp_path: Path, version: int) -> None:
    """Versions 1 (0.1) and 2 (0.2): an ``hmac`` field, verified with the fallback keys too."""
    before = forum()
    archive = tmp_path / "threads.jsonl.gz"
    purge(old_threads(), archive=archive)
    sign(archive, version=version)
    assert "hmac" in json.loads(manifest_path(archive).read_text())

    rotated = {"SECRET_KEY": "a-new-key", "SECRET_KEY_FALLBACKS": [settings.SECRET_KEY]}
    with override_settings(**rotated):
        assert restore(archive).verified is True
    assert snapshot() == before


@pytest.mark.parametrize("version", LEGACY_SIGNED_VERSIONS)
def test_an_archive_signed_before_0_3_and_edited_is_refused(tmp_path: Path, version: int) -> None:
    forum()
    archive = tmp_path / "threads.jsonl.gz"
    purge(old_threads(), archive=archive)
    sign(archive, version=version)
    edited_manifest(archive)
    after_purge = snapshot()

    with pytest.raises(UnverifiedArchive, match=r"the HMAC of its manifest .* does not verify"):
        restore(archive)
    assert snapshot() == after_purge


def test_a_signature_of_another_version_is_refused(tmp_path: Path) -> None:
    """A version 2 manifest with a version 3 signature (or the reverse) does not verify."""
    forum()
    archive = tmp_path / "threads.jsonl.gz"
    purge(old_threads(), archive=archive)
    document = json.loads(manifest_path(archive).read_text())
    document["version"] = 2
    manifest_path(archive).write_text(json.dumps(document))

    with pytest.raises(UnverifiedArchive, match=r"the HMAC of its manifest .* does not verify"):
        restore(archive)


def test_bytes_the_manifest_does_not_cover_are_ignored(tmp_path: Path) -> None:
    """A purge killed between writing a batch and its manifest never deleted that batch."""
    before = forum()
    archive = tmp_path / "threads.jsonl.gz"
    purge(old_threads(), archive=archive)
    # A complete batch the manifest does not cover, holding a row that was never deleted.
    with archive.open("ab") as file:
        file.write(gzip.compress(f"{thread_row(999_001, 'never deleted')}\n".encode()))

    outcome = housekeeping("restore", str(archive), "--json")

    assert outcome.returncode == 0
    assert json.loads(outcome.out)["truncated"] is True
    assert json.loads(outcome.out)["objects"] == 8
    assert "were skipped" in outcome.err
    assert snapshot() == before
    assert not Thread.objects.filter(pk=999_001).exists()


def test_a_purge_killed_before_its_manifest_covers_a_batch_leaves_that_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = forum()
    archive = tmp_path / "threads.jsonl.gz"
    written = archive_module._write_atomically
    manifests: list[Path] = []

    def dies_at_the_second_manifest(path: Path, data: bytes, *, mode: int | None) -> None:
        manifests.append(path)
        if len(manifests) == 2:
            raise OSError("the process died here")
        written(path, data, mode=mode)

    monkeypatch.setattr(archive_module, "_write_atomically", dies_at_the_second_manifest)
    with pytest.raises(OSError, match="died here"):
        purge(old_threads(), archive=archive, batch_size=1)
    monkeypatch.undo()
    assert old_threads().count() == 1  # the second batch was not deleted
    assert archive.stat().st_size > read_manifest(archive).bytes

    stats = restore(archive)

    assert (stats.batches, stats.truncated, stats.objects) == (1, True, 5)
    assert snapshot() == before


# --- refusals ------------------------------------------------------------------------------------


def no_manifest(archive: Path) -> None:
    manifest_path(archive).unlink()


def edited_manifest(archive: Path) -> None:
    document = json.loads(manifest_path(archive).read_text())
    document["models"]["auth.user"] = 1
    manifest_path(archive).write_text(json.dumps(document))


def other_key(archive: Path) -> None:
    with override_settings(SECRET_KEY="not-the-key-of-this-site"):
        sign(archive)


def edited_data(archive: Path) -> None:
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    archive.write_bytes(bytes(data))


def shortened_data(archive: Path) -> None:
    archive.write_bytes(archive.read_bytes()[:-10])


def manifest_not_json(archive: Path) -> None:
    manifest_path(archive).write_text("{not json")


REFUSALS: dict[str, tuple[Callable[[Path], None], str]] = {
    "no manifest": (no_manifest, r"no manifest \(threads\.jsonl\.gz\.manifest\.json is missing\)"),
    "edited manifest": (edited_manifest, "the HMAC of its manifest .* does not verify"),
    "manifest of another key": (other_key, "the HMAC of its manifest .* does not verify"),
    "edited data": (edited_data, r"the SHA-256 of its first [\d,]+ bytes is not the one"),
    "shortened data": (shortened_data, r"shorter than its manifest says \([\d,]+ of [\d,]+ bytes"),
    "manifest not JSON": (manifest_not_json, "its manifest .* is not a JSON object"),
}


@pytest.mark.parametrize(("spoil", "reason"), REFUSALS.values(), ids=REFUSALS.keys())
def test_an_archive_that_does_not_verify_is_refused(
    tmp_path: Path, spoil: Callable[[Path], None], reason: str
) -> None:
    forum()
    archive = tmp_path / "threads.jsonl.gz"
    purge(old_threads(), archive=archive)
    after_purge = snapshot()
    spoil(archive)

    with pytest.raises(UnverifiedArchive, match=f"^{re.escape(str(archive))}: {reason}"):
        restore(archive)
    outcome = housekeeping("restore", str(archive))

    assert_one_line_refusal(outcome, archive)
    assert outcome.message.startswith(f"cannot restore {archive}: ")
    assert snapshot() == after_purge


def test_force_restores_an_unverified_archive_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    before = forum()
    archive = tmp_path / THREADS_ARCHIVE
    purge(old_threads(), archive=archive)
    manifest_path(archive).unlink()  # an archive from before manifests

    with caplog.at_level(logging.WARNING, logger="django_housekeeping"):
        outcome = housekeeping("restore", str(archive), "--force", "--json")

    assert outcome.returncode == 0
    assert json.loads(outcome.out)["verified"] is False
    assert json.loads(outcome.out)["objects"] == 8
    assert snapshot() == before
    [warning] = [r for r in caplog.records if r.name == "django_housekeeping"]
    assert warning.levelno == logging.WARNING
    assert f"restoring {archive} anyway (forced): " in warning.getMessage()
    assert "no manifest" in warning.getMessage()


def test_forced_text_output_says_unverified(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / THREADS_ARCHIVE, [thread_row(101)], signed=False)

    outcome = housekeeping("restore", str(archive), "--force")

    assert outcome.out == (
        f"Restored 1 object (1 batch) from {archive}, unverified (--force): testapp.thread 1.\n"
    )
    assert Thread.objects.get(pk=101).title == "restored"


def test_a_one_line_archive_of_a_superuser_is_refused(tmp_path: Path) -> None:
    user = row(
        "auth.user",
        4242,
        username="intruder",
        password="!",
        is_superuser=True,
        is_staff=True,
        is_active=True,
        date_joined=CREATED,
    )
    archive = write_archive(tmp_path / "user.jsonl.gz", [user], signed=False)

    outcome = housekeeping("restore", str(archive))

    assert_one_line_refusal(outcome, archive)
    assert "no manifest" in outcome.message
    assert not User.objects.exists()


def test_a_model_the_manifest_does_not_name_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    user = row("auth.user", 4242, username="intruder", password="!", date_joined=CREATED)
    archive = write_archive(tmp_path / "mixed.jsonl.gz", [thread_row(101), user])
    sign(archive, models={"testapp.thread": 1}, objects=1)

    outcome = housekeeping("restore", str(archive))

    assert_one_line_refusal(outcome, archive)
    assert outcome.message == (
        f"cannot restore {archive}: line 2, field 'model': auth.user is a model its manifest "
        "does not name; nothing was loaded"
    )
    assert not Thread.objects.exists()
    assert not User.objects.exists()

    # --force admits only an archive without a manifest: not one whose manifest says otherwise.
    forced = housekeeping("restore", str(archive), "--force", "--task", "threads")
    with pytest.raises(UnverifiedArchive, match=r"auth\.user is a model its manifest does not"):
        restore(archive, force=True, reach={"testapp.thread", "auth.user"})

    assert_one_line_refusal(forced, archive)
    assert "auth.user is a model its manifest does not name" in forced.message
    assert not Thread.objects.exists()
    assert not User.objects.exists()


# --- malformed rows ------------------------------------------------------------------------------

MALFORMED: dict[str, tuple[str, str | None, str]] = {
    "invalid JSON": ('{"model": "testapp.thread", "pk": 102, "fields": {', None, "invalid JSON"),
    "not an object": ("[1, 2]", None, "not a JSON object"),
    "unknown model": (
        row("testapp.nosuchmodel", 102),
        "model",
        "unknown model 'testapp.nosuchmodel'",
    ),
    "no model": ('{"pk": 102, "fields": {}}', "model", "missing, or not a string"),
    "no pk": ('{"model": "testapp.thread", "fields": {}}', "pk", "missing"),
    "unknown field": (thread_row(102, colour="red"), "colour", "has no such field"),
    "wrong field type": (
        row("testapp.thread", 102, title="t", created_at="yesterday"),
        "created_at",
        "testapp.thread pk=102: ",
    ),
    "wrong decimal": (
        row("testapp.document", 102, title="t", created_at=CREATED, size="a lot"),
        "size",
        "value must be a decimal number",
    ),
    "too long": (thread_row(102, "x" * 101), "title", "at most 100 characters (it has 101)"),
    "too many digits": (
        row("testapp.document", 102, title="t", created_at=CREATED, size="123456789012.00"),
        "size",
        "no more than 10 digits in total",
    ),
    "null where NOT NULL": (thread_row(102, None), "title", "may not be null"),
    "pk above 2**63": (thread_row(2**63 + 1), "pk", "testapp.thread pk=9223372036854775809: "),
    "pk not an integer": (thread_row("one"), "pk", "value must be an integer"),
    "negative positive integer": (
        row("testapp.review", 102, place=1, stars=-1),
        "stars",
        "greater than or equal to 0",
    ),
    "integer above 2**64": (
        row("testapp.tag", 102, content_type=1, object_id=2**64, name="t"),
        "object_id",
        "less than or equal to",
    ),
    "foreign key not an integer": (row("testapp.post", 102, thread="abc"), "thread", "pk=102"),
    "fields not an object": (
        '{"model": "testapp.thread", "pk": 102, "fields": []}',
        "fields",
        "not an object",
    ),
    "reverse relation": (thread_row(102, posts=[1]), "posts", "not a field of testapp.thread"),
}


@pytest.mark.parametrize(("line", "field", "reason"), MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_row_is_one_line_naming_file_line_and_field(
    tmp_path: Path, line: str, field: str | None, reason: str
) -> None:
    archive = write_archive(tmp_path / "hand.jsonl.gz", [thread_row(101), line], [thread_row(103)])

    with pytest.raises(ArchiveError) as caught:
        restore(archive)
    outcome = housekeeping("restore", str(archive))

    where = f"{archive}: line 2" + (f", field {field!r}" if field else "")
    message = str(caught.value)
    assert message.startswith(f"{where}: ")
    assert reason in message
    assert message.endswith("; nothing was loaded")
    assert "\n" not in message
    assert not isinstance(caught.value, UnverifiedArchive)
    assert_one_line_refusal(outcome, archive)
    assert outcome.message == f"cannot restore {message}"
    assert not Thread.objects.exists()


def test_bytes_that_are_not_utf8_are_a_malformed_line(tmp_path: Path) -> None:
    archive = tmp_path / "hand.jsonl.gz"
    archive.write_bytes(gzip.compress(f"{thread_row(101)}\n".encode() + b'{"x": "\xff"}\n'))
    sign(archive)

    with pytest.raises(ArchiveError, match=r": line 2: not UTF-8 \(invalid start byte"):
        restore(archive)
    assert not Thread.objects.exists()


def test_a_nul_character_is_refused_where_the_database_cannot_store_it(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "hand.jsonl.gz", [thread_row(101, "a\x00b")])

    if connection.vendor == "postgresql":
        with pytest.raises(ArchiveError, match=r"line 1, field 'title': .*NUL character"):
            restore(archive)
        assert not Thread.objects.exists()
    else:
        restore(archive)
        assert Thread.objects.get(pk=101).title == "a\x00b"


def test_a_missing_foreign_key_target_rolls_its_batch_back(tmp_path: Path) -> None:
    batches = (
        [thread_row(101), row("testapp.post", 201, thread=101, body="kept")],
        [
            thread_row(102),
            row("testapp.post", 202, thread=102, body="fine"),
            row("testapp.reaction", 301, post=999_999, emoji="+1"),
        ],
    )
    archive = write_archive(tmp_path / "hand.jsonl.gz", *batches)

    with pytest.raises(ArchiveError) as caught:
        restore(archive)

    assert str(caught.value) == (
        f"{archive}: line 5, field 'post': testapp.reaction pk=301 refers to testapp.post "
        "id=999999, which does not exist; nothing of batch 2 was loaded; batch 1 was restored "
        "(2 objects)"
    )
    assert list(Thread.objects.values_list("pk", flat=True)) == [101]
    assert list(Post.objects.values_list("pk", flat=True)) == [201]
    assert not Reaction.objects.exists()


def test_a_missing_foreign_key_target_from_the_command(tmp_path: Path) -> None:
    archive = write_archive(
        tmp_path / "hand.jsonl.gz", [row("testapp.review", 201, place=999_999, stars=3)]
    )

    outcome = housekeeping("restore", str(archive))

    assert_one_line_refusal(outcome, archive)
    assert outcome.message.startswith(f"cannot restore {archive}: line 1, field 'place': ")
    assert outcome.message.endswith("nothing of batch 1 was loaded")
    assert not Review.objects.exists()


def test_rows_may_refer_to_rows_later_in_their_batch(tmp_path: Path) -> None:
    """A batch holds children before parents (the order a purge deletes them in)."""
    archive = write_archive(
        tmp_path / "hand.jsonl.gz",
        [row("testapp.post", 201, thread=101, body="child first"), thread_row(101)],
    )

    stats = restore(archive)

    assert stats.models == {"testapp.post": 1, "testapp.thread": 1}
    assert Post.objects.get(pk=201).thread_id == 101


def test_validators_the_database_does_not_enforce_are_not_applied(tmp_path: Path) -> None:
    """An archive gives back what the database held, even rows that bypassed a validator."""
    user = row("auth.user", 4242, username="not a valid username!", password="!")
    archive = write_archive(tmp_path / "user.jsonl.gz", [user])

    restore(archive)

    assert User.objects.get(pk=4242).username == "not a valid username!"


def test_rows_longer_than_a_read_are_restored_whole(tmp_path: Path) -> None:
    """Archives are decompressed a MiB at a time: a row may span many of those pieces."""
    bodies = {pk: "".join(chr(65 + (i * pk) % 26) for i in range(3 << 20)) for pk in (1, 2, 3)}
    posts = [row("testapp.post", pk, thread=None, body=body) for pk, body in bodies.items()]
    archive = write_archive(tmp_path / "big.jsonl.gz", posts[:2], posts[2:])

    stats = restore(archive)

    assert (stats.batches, stats.objects) == (2, 3)
    assert dict(Post.objects.values_list("pk", "body")) == bodies


def test_new_rows_get_new_keys_after_a_restore(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "hand.jsonl.gz", [thread_row(5000)])

    restore(archive)

    assert Thread.objects.create(title="new", created_at=CREATED).pk > 5000


# --- files and databases -------------------------------------------------------------------------


def test_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.jsonl.gz"

    with pytest.raises(FileNotFoundError, match="no archive file"):
        restore(missing)
    outcome = housekeeping("restore", str(missing))

    assert_one_line_refusal(outcome, missing)
    assert outcome.message == f"cannot restore {missing}: no archive file"


def test_an_unknown_database(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "hand.jsonl.gz", [thread_row(101)])

    outcome = housekeeping("restore", str(archive), "--database", "nope")

    assert_one_line_refusal(outcome, archive)
    assert outcome.message == f"cannot restore {archive}: there is no database 'nope'"


def test_garbage_after_the_batches_of_a_forced_archive(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / THREADS_ARCHIVE, [thread_row(101)], signed=False)
    with archive.open("ab") as file:
        file.write(b"garbage")

    outcome = housekeeping("restore", str(archive), "--force")

    assert_one_line_refusal(outcome, archive)
    assert outcome.message.startswith(f"cannot restore {archive}: not a gzip archive (at byte ")
    assert not Thread.objects.exists()


# --- the real command line: one line on stderr, exit status 1, never a traceback -----------------


@pytest.mark.django_db(transaction=True)
def test_the_command_line_answers_bad_archives_in_one_line(
    tmp_path: Path, manage: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    archives = {
        "pk": write_archive(tmp_path / "pk.jsonl.gz", [thread_row(2**63 + 1)]),
        "json": write_archive(tmp_path / "json.jsonl.gz", [thread_row(101), "{"]),
        "fk": write_archive(tmp_path / "fk.jsonl.gz", [row("testapp.post", 201, thread=999)]),
        "user": write_archive(
            tmp_path / "user.jsonl.gz",
            [row("auth.user", 1, username="x", password="!", is_superuser=True)],
            signed=False,
        ),
    }
    expected = {
        "pk": "line 1, field 'pk': ",
        "json": "line 2: invalid JSON",
        "fk": "line 1, field 'thread': ",
        "user": "no manifest",
    }

    for name, archive in archives.items():
        completed = manage("restore", str(archive))

        assert completed.returncode == 1, completed.stderr
        assert completed.stdout == ""
        [line] = completed.stderr.splitlines()
        assert line.startswith(f"CommandError: cannot restore {archive}: {expected[name]}")
    assert not Thread.objects.exists()
    assert not Post.objects.exists()
    assert not User.objects.exists()

    good = write_archive(tmp_path / "good.jsonl.gz", [thread_row(101)])
    completed = manage("restore", str(good))
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == f"Restored 1 object (1 batch) from {good}: testapp.thread 1.\n"
    assert Thread.objects.get().pk == 101
