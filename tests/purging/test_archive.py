"""Archives: the rows a purge deletes (and the rows it updates) are written, batch by batch, to a
gzip JSON Lines fixture that ``loaddata`` and ``restore`` load back exactly."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db.models import Model, QuerySet
from django.db.models.signals import post_delete, pre_delete
from django.test import override_settings
from django.utils import timezone

from django_housekeeping import housekeeping_task, run_task
from django_housekeeping.purging.archive import (
    ArchiveError,
    ArchiveOrigin,
    UnverifiedArchive,
    manifest_path,
    read_manifest,
)
from django_housekeeping.purging.engine import purge
from django_housekeeping.purging.restore import copy_archive, restore
from tests.testapp.models import Attachment, Bookmark, Comment, Document, Owner, Thread
from tests.testapp.scenarios import (
    NEW,
    comments,
    documents,
    old_threads,
    restaurants,
    set_null_and_default,
    snapshot,
    thread,
)

pytestmark = pytest.mark.django_db


def everything() -> None:
    """Threads with posts, reactions, attachments and bookmarks; documents with generic
    relations and topics; restaurants (multi-table); comments (a cycle)."""
    set_null_and_default()
    old = thread("with attachments", posts=2)
    Attachment.objects.create(thread=old, post=old.posts.first(), name="both")
    Attachment.objects.create(thread=old, name="thread only")
    documents()
    restaurants()
    comments()


PURGES: dict[str, Callable[[], QuerySet[Any]]] = {
    "threads": old_threads,
    "documents (generic, many-to-many, custom handler)": lambda: Document.objects.filter(
        title__startswith="old"
    ),
    "owners (multi-table inheritance)": lambda: Owner.objects.filter(name="owner"),
    "comments (Django's collector)": lambda: Comment.objects.filter(
        created_at__lt=NEW - timedelta(days=30)
    ),
}


@pytest.fixture(params=[False, True], ids=["no receivers", "post_delete receiver"])
def receivers(request: pytest.FixtureRequest) -> Iterator[None]:
    def receiver(sender: Any, instance: Model, **kwargs: Any) -> None:
        pass

    if request.param:
        post_delete.connect(receiver, weak=False)
    yield
    post_delete.disconnect(receiver)


@pytest.mark.usefixtures("receivers")
@pytest.mark.parametrize("make_queryset", PURGES.values(), ids=PURGES.keys())
@pytest.mark.parametrize("batch_size", [1, 1000])
def test_restoring_an_archive_gives_back_the_same_rows(
    tmp_path: Path, make_queryset: Callable[[], QuerySet[Any]], batch_size: int
) -> None:
    everything()
    before = snapshot()
    archive = tmp_path / "purge.jsonl.gz"

    result = purge(make_queryset(), archive=archive, batch_size=batch_size)

    assert result["total"] > 0
    assert result["archive"] == str(archive)
    assert snapshot() != before

    stats = restore(archive)

    assert snapshot() == before
    assert stats.batches == result["batches"]
    assert stats.truncated is False
    # The same purge finds the same rows again, and new rows get new keys.
    assert purge(make_queryset(), dry_run=True)["deleted"] == result["deleted"]
    assert Thread.objects.create(title="new", created_at=timezone.now()).pk


def test_loaddata_reads_an_archive_as_it_is(tmp_path: Path) -> None:
    everything()
    before = snapshot()
    archive = tmp_path / "threads.jsonl.gz"
    purge(old_threads(), archive=archive, batch_size=1)

    call_command("loaddata", str(archive), verbosity=0)

    assert snapshot() == before


def test_an_archive_holds_one_gzip_member_per_batch_in_djangos_format(tmp_path: Path) -> None:
    everything()
    archive = tmp_path / "threads.jsonl.gz"

    purge(old_threads(), archive=archive, batch_size=1)

    with gzip.open(archive, "rt", encoding="utf-8") as file:
        objects = [json.loads(line) for line in file]
    models = {obj["model"] for obj in objects}
    assert {"testapp.thread", "testapp.post", "testapp.reaction", "testapp.attachment"} <= models
    # The rows a purge only updates are archived as they were.
    [bookmark] = [obj for obj in objects if obj["model"] == "testapp.bookmark"]
    assert bookmark["fields"]["post"] is not None
    assert set(objects[0]) == {"model", "pk", "fields"}
    assert archive.read_bytes().count(b"\x1f\x8b\x08") == 2  # two old threads, two batches


def test_the_set_null_rows_get_their_reference_back(tmp_path: Path) -> None:
    set_null_and_default()
    archive = tmp_path / "threads.jsonl.gz"
    purge(old_threads(), archive=archive)
    assert Bookmark.objects.get(note="stays").post is None

    restore(archive)

    assert Bookmark.objects.get(note="stays").post.body == "old/0"  # type: ignore[union-attr]


def test_a_cut_short_last_batch_is_left_out(tmp_path: Path) -> None:
    """A purge killed while writing a batch never deleted that batch: restore skips it."""
    everything()
    before = snapshot()
    archive = tmp_path / "threads.jsonl.gz"
    purge(old_threads(), archive=archive, batch_size=1)
    complete = archive.read_bytes()
    archive.write_bytes(complete + gzip.compress(b'{"model": "testapp.thread"')[:-9])

    stats = restore(archive)

    assert stats.truncated is True
    assert stats.batches == 2
    assert snapshot() == before
    with pytest.raises(EOFError):
        call_command("loaddata", str(archive), verbosity=0)


def test_a_file_that_is_not_an_archive_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "bogus.jsonl.gz"
    archive.write_bytes(b"not gzip at all")

    with pytest.raises(UnverifiedArchive, match=r"bogus\.jsonl\.gz: no manifest"):
        restore(archive)
    with pytest.raises(ArchiveError, match=r"bogus\.jsonl\.gz: not a gzip archive"):
        restore(archive, force=True, reach={"testapp.thread"})
    with pytest.raises(ValueError, match="is not a gzip archive"):
        copy_archive(archive, io.BytesIO())


def test_an_empty_purge_writes_no_file(tmp_path: Path) -> None:
    archive = tmp_path / "nothing.jsonl.gz"

    result = purge(Thread.objects.all(), archive=archive)

    assert result["archive"] is None
    assert not archive.exists()


def test_a_dry_run_writes_no_file(tmp_path: Path) -> None:
    everything()
    archive = tmp_path / "dry.jsonl.gz"

    result = purge(old_threads(), archive=archive, dry_run=True)

    assert result["archive"] is None
    assert not archive.exists()


@pytest.mark.parametrize("name", ["threads.json", "threads.jsonl", "threads.gz"])
def test_an_archive_must_be_a_jsonl_gz_file(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match=r"must end with '\.jsonl\.gz'"):
        purge(Thread.objects.all(), archive=tmp_path / name)


def test_an_archive_may_not_be_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="must name a file"):
        purge(Thread.objects.all(), archive=tmp_path)


def test_archive_true_writes_into_the_archive_directory(tmp_path: Path) -> None:
    everything()
    with override_settings(HOUSEKEEPING={"PURGE_ARCHIVE_DIR": str(tmp_path / "archives")}):
        result = purge(old_threads(), archive=True)

    [archive] = (tmp_path / "archives").glob("*.jsonl.gz")
    assert result["archive"] == str(archive)
    assert sorted(path.name for path in archive.parent.iterdir()) == [
        archive.name,
        archive.name + ".manifest.json",
    ]
    assert archive.name.endswith("-testapp.Thread.jsonl.gz")


def test_archiving_everything_follows_the_setting(tmp_path: Path) -> None:
    everything()
    settings = {"PURGE_ARCHIVE": True, "PURGE_ARCHIVE_DIR": str(tmp_path)}
    with override_settings(HOUSEKEEPING=settings):
        archived = purge(old_threads())
        unarchived = purge(Document.objects.all(), archive=False)

    assert archived["archive"] is not None
    assert unarchived["archive"] is None
    assert len(list(tmp_path.glob("*.jsonl.gz"))) == 1


def test_archiving_without_a_directory_is_a_configuration_error() -> None:
    everything()
    with pytest.raises(ImproperlyConfigured, match="PURGE_ARCHIVE_DIR"):
        purge(old_threads(), archive=True)
    assert old_threads().count() == 2


def test_copy_archive_reports_rows_and_batches(tmp_path: Path) -> None:
    everything()
    archive = tmp_path / "threads.jsonl.gz"
    purge(old_threads(), archive=archive, batch_size=1)
    out = tmp_path / "plain.jsonl"

    with out.open("wb") as file:
        stats = copy_archive(archive, file)

    assert stats.batches == 2
    assert stats.objects == len(out.read_text().splitlines())
    assert stats.truncated is False


# --- the manifest --------------------------------------------------------------------------------


def test_the_manifest_vouches_for_the_whole_archive(tmp_path: Path) -> None:
    everything()
    archive = tmp_path / "threads.jsonl.gz"

    result = purge(old_threads(), archive=archive, batch_size=1)

    manifest = read_manifest(archive)
    with gzip.open(archive, "rt", encoding="utf-8") as file:
        labels = Counter(json.loads(line)["model"] for line in file)
    assert manifest.models == dict(labels)
    assert manifest.objects == sum(labels.values())
    assert manifest.batches == result["batches"] == 2
    assert manifest.bytes == archive.stat().st_size
    assert manifest.sha256 == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert (manifest.task, manifest.run) == (None, None)
    document = json.loads(manifest_path(archive).read_text())
    assert set(document) == {
        *("format", "version", "task", "run", "models", "objects"),
        *("batches", "bytes", "sha256", "updated", "signature"),
    }


def test_the_manifest_covers_each_batch_before_its_rows_are_deleted(tmp_path: Path) -> None:
    for title in ("a", "b", "c"):
        thread(title, posts=1)
    archive = tmp_path / "threads.jsonl.gz"
    seen: list[tuple[int, int, bool]] = []

    def before_delete(sender: Any, instance: Thread, **kwargs: Any) -> None:
        manifest = read_manifest(archive)
        seen.append((instance.pk, manifest.batches, manifest.bytes == archive.stat().st_size))

    pre_delete.connect(before_delete, sender=Thread)
    try:
        purge(old_threads(), archive=archive, batch_size=1)
    finally:
        pre_delete.disconnect(before_delete, sender=Thread)

    assert [(batches, whole) for _, batches, whole in seen] == [(1, True), (2, True), (3, True)]


def test_a_tasks_archive_names_the_task_and_the_run(temporary_tasks: None, tmp_path: Path) -> None:
    thread("old", posts=1)

    @housekeeping_task(name="hk_archive.kept")
    def kept(ctx: Any) -> Any:
        return ctx.purge(old_threads(), archive=tmp_path / "kept.jsonl.gz")

    run = run_task("hk_archive.kept")

    assert run.result is not None
    manifest = read_manifest(run.result["archive"])
    assert (manifest.task, manifest.run) == ("hk_archive.kept", run.pk)
    assert manifest.models == {"testapp.post": 1, "testapp.reaction": 1, "testapp.thread": 1}


def test_a_second_purge_appends_to_a_verified_archive(tmp_path: Path) -> None:
    thread("first", posts=1)
    thread("second", posts=2)
    before = snapshot()
    archive = tmp_path / "threads.jsonl.gz"
    origin = ArchiveOrigin(task="nightly", run=7)

    purge(Thread.objects.filter(title="first"), archive=archive, archive_origin=origin)
    purge(Thread.objects.filter(title="second"), archive=archive, archive_origin=origin)

    manifest = read_manifest(archive)
    assert (manifest.batches, manifest.objects) == (2, 8)
    assert (manifest.task, manifest.run) == ("nightly", 7)
    stats = restore(archive)
    assert (stats.batches, stats.objects, stats.truncated) == (2, 8, False)
    assert snapshot() == before


def test_the_next_purge_drops_a_batch_the_manifest_does_not_cover(tmp_path: Path) -> None:
    """Bytes after what the manifest covers are a batch whose purge died before deleting it."""
    thread("first", posts=1)
    thread("second", posts=1)
    before = snapshot()
    archive = tmp_path / "threads.jsonl.gz"
    purge(Thread.objects.filter(title="first"), archive=archive)
    with archive.open("ab") as file:
        file.write(gzip.compress(b'{"model": "testapp.thread", "pk": 1, "fields": {}}\n'))

    purge(Thread.objects.filter(title="second"), archive=archive)

    assert read_manifest(archive).bytes == archive.stat().st_size
    assert restore(archive).truncated is False
    assert snapshot() == before


def test_a_purge_does_not_append_to_a_file_it_cannot_verify(tmp_path: Path) -> None:
    thread("old", posts=1)
    archive = tmp_path / "threads.jsonl.gz"
    archive.write_bytes(gzip.compress(b'{"model": "auth.user", "pk": 1, "fields": {}}\n'))

    with pytest.raises(ArchiveError, match="already exists and is not an archive a purge can"):
        purge(old_threads(), archive=archive)

    assert old_threads().count() == 1
    assert not manifest_path(archive).exists()


def test_a_purge_does_not_append_to_the_archive_of_another_run(tmp_path: Path) -> None:
    thread("first")
    thread("second")
    archive = tmp_path / "threads.jsonl.gz"
    purge(
        Thread.objects.filter(title="first"),
        archive=archive,
        archive_origin=ArchiveOrigin(task="nightly", run=1),
    )

    with pytest.raises(
        ArchiveError, match=r"holds the rows of another purge \(task nightly, run 1"
    ):
        purge(
            Thread.objects.filter(title="second"),
            archive=archive,
            archive_origin=ArchiveOrigin(task="nightly", run=2),
        )

    assert Thread.objects.filter(title="second").exists()
    assert read_manifest(archive).batches == 1
