"""Archives: the rows a purge deletes (and the rows it updates) are written, batch by batch, to a
gzip JSON Lines fixture that ``loaddata`` and ``restore`` load back exactly."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db.models import Model, QuerySet
from django.db.models.signals import post_delete
from django.test import override_settings
from django.utils import timezone

from django_housekeeping.archive import copy_archive, restore
from django_housekeeping.purge import purge
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

    with pytest.raises(ValueError, match="is not a gzip archive"):
        restore(archive)


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

    [archive] = (tmp_path / "archives").iterdir()
    assert result["archive"] == str(archive)
    assert archive.name.endswith("-testapp.Thread.jsonl.gz")


def test_archiving_everything_follows_the_setting(tmp_path: Path) -> None:
    everything()
    settings = {"PURGE_ARCHIVE": True, "PURGE_ARCHIVE_DIR": str(tmp_path)}
    with override_settings(HOUSEKEEPING=settings):
        archived = purge(old_threads())
        unarchived = purge(Document.objects.all(), archive=False)

    assert archived["archive"] is not None
    assert unarchived["archive"] is None
    assert len(list(tmp_path.iterdir())) == 1


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
