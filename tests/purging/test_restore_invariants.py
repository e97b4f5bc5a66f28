"""What a restore never does: bring an erased row back, revert an edit made since the purge,
admit a model its archive may not hold, create or raise a privileged account, or load a part of
an archive whose rest is malformed; and what an archive holds: each deleted row once."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.db.models.signals import pre_delete

from django_housekeeping.models import ErasedKey, ErasureRecord
from django_housekeeping.purging.archive import (
    UPDATED_KEY,
    ArchiveError,
    UnverifiedArchive,
    manifest_path,
    read_manifest,
)
from django_housekeeping.purging.engine import purge
from django_housekeeping.purging.erase import erase
from django_housekeeping.purging.restore import restore
from django_housekeeping.purging.restore_checks import purge_reach
from tests.helpers import housekeeping
from tests.purging.test_restore import (
    CREATED,
    THREADS_ARCHIVE,
    assert_one_line_refusal,
    row,
    sign,
    thread_row,
    write_archive,
)
from tests.testapp.models import Attachment, Bookmark, Post, Reaction, Subscription, Thread
from tests.testapp.scenarios import old_threads, set_null_and_default, snapshot, thread

pytestmark = pytest.mark.django_db


def lines(archive: Path) -> list[dict[str, Any]]:
    with gzip.open(archive, "rt", encoding="utf-8") as file:
        return [json.loads(line) for line in file]


# --- erased keys ---------------------------------------------------------------------------------


def test_a_restore_never_brings_an_erased_row_back(tmp_path: Path) -> None:
    erased = thread("old-1", posts=2)
    thread("old-2", posts=1)
    archive = tmp_path / "threads.jsonl.gz"
    purge(old_threads(), archive=archive)
    restore(archive)
    posts = set(Post.objects.filter(thread=erased).values_list("pk", flat=True))
    reactions = set(Reaction.objects.filter(post__in=posts).values_list("pk", flat=True))
    record = erase(Thread.objects.get(pk=erased.pk), reason="GDPR request")
    after_erasure = snapshot()

    stats = restore(archive)
    outcome = housekeeping("restore", str(archive), "--json")
    text = housekeeping("restore", str(archive))

    assert snapshot() == after_erasure  # the erased thread, its posts and reactions stay erased
    assert not Thread.objects.filter(pk=erased.pk).exists()
    assert not Post.objects.filter(pk__in=posts).exists()
    assert (stats.objects, stats.erased) == (0, 5)
    assert stats.erased_models == {"testapp.post": 2, "testapp.reaction": 2, "testapp.thread": 1}
    assert stats.present_models == {"testapp.post": 1, "testapp.reaction": 1, "testapp.thread": 1}
    document = outcome.json()
    assert (document["erased"], document["erased_models"]) == (5, stats.erased_models)
    assert text.returncode == 0
    assert (
        "5 rows were erased (an erasure record names them) and not restored: testapp.post 2, "
        "testapp.reaction 2, testapp.thread 1."
    ) in text.out.splitlines()
    # The ledger: every row the erasure deleted, cascades included, and no field value.
    keys = set(ErasedKey.objects.filter(erasure=record).values_list("model", "object_pk"))
    assert keys == {
        ("testapp.thread", str(erased.pk)),
        *(("testapp.post", str(pk)) for pk in posts),
        *(("testapp.reaction", str(pk)) for pk in reactions),
    }
    assert {field.name for field in ErasedKey._meta.concrete_fields} == {
        "id",
        "model",
        "object_pk",
        "erasure",
        "erased_at",
    }


def test_a_dry_run_or_a_refused_erasure_remembers_no_key(tmp_path: Path) -> None:
    kept = thread("old-1", posts=1)

    erase(kept, reason="preview", dry_run=True)

    assert ErasureRecord.objects.count() == 1
    assert not ErasedKey.objects.exists()


def test_only_the_erased_rows_are_skipped(tmp_path: Path) -> None:
    thread("old-1", posts=1)
    other = thread("old-2", posts=1)
    archive = tmp_path / "threads.jsonl.gz"
    purge(old_threads(), archive=archive)
    restore(archive)
    erase(Thread.objects.get(pk=other.pk), reason="asked")
    purge(old_threads())  # both gone again: the one erased, and one the restore brings back

    stats = restore(archive)

    assert stats.models == {"testapp.post": 1, "testapp.reaction": 1, "testapp.thread": 1}
    assert stats.erased_models == {"testapp.post": 1, "testapp.reaction": 1, "testapp.thread": 1}
    assert list(Thread.objects.values_list("title", flat=True)) == ["old-1"]


# --- edits made since the purge ------------------------------------------------------------------


def test_a_restore_keeps_an_edit_made_since_and_counts_it(tmp_path: Path) -> None:
    edited = thread("old-1", posts=1)
    thread("old-2", posts=1)
    archive = tmp_path / "threads.jsonl.gz"
    purge(old_threads(), archive=archive)
    restore(archive)
    Thread.objects.filter(pk=edited.pk).update(title="EDITED")

    stats = restore(archive)
    text = housekeeping("restore", str(archive))

    assert Thread.objects.get(pk=edited.pk).title == "EDITED"
    assert (stats.objects, stats.rewritten, stats.kept) == (0, 0, 1)
    assert stats.kept_models == {"testapp.thread": 1}
    assert (
        "1 row was in the database with other values (changed since the purge) and kept as they "
        "are (--overwrite restores the archived values): testapp.thread 1."
    ) in text.out.splitlines()
    assert "rewritten" not in text.out


def test_overwrite_restores_the_archived_values(tmp_path: Path) -> None:
    edited = thread("old-1", posts=1)
    archive = tmp_path / "threads.jsonl.gz"
    purge(old_threads(), archive=archive)
    restore(archive)
    Thread.objects.filter(pk=edited.pk).update(title="EDITED")

    outcome = housekeeping("restore", str(archive), "--overwrite", "--json")

    assert outcome.returncode == 0
    assert Thread.objects.get(pk=edited.pk).title == "old-1"
    document = outcome.json()
    assert (document["rewritten"], document["kept"], document["objects"]) == (1, 0, 1)


def test_rows_the_purge_updated_are_marked_in_the_archive_and_its_manifest(
    tmp_path: Path,
) -> None:
    set_null_and_default()
    before = snapshot()
    archive = tmp_path / "threads.jsonl.gz"
    purge(old_threads(), archive=archive)
    bookmark = Bookmark.objects.get(note="stays")
    Bookmark.objects.filter(pk=bookmark.pk).update(note="edited since")

    stats = restore(archive)

    marked = Counter(line["model"] for line in lines(archive) if line.get(UPDATED_KEY) is True)
    assert marked == {"testapp.bookmark": 1, "testapp.subscription": 1}
    assert read_manifest(archive).updated == dict(marked)
    # The purge's update is undone (the archive says the purge made it), the edit too: the
    # archived row is the row before the purge.
    assert stats.rewritten == 2
    assert Bookmark.objects.get(pk=bookmark.pk).post_id is not None
    assert Subscription.objects.get(email="a@example.com").thread_id is not None
    assert snapshot() == before


def test_an_archive_from_before_the_markers_is_read_and_keeps_what_differs(
    tmp_path: Path,
) -> None:
    set_null_and_default()
    archive = tmp_path / "threads.jsonl.gz"
    purge(old_threads(), archive=archive)
    old_lines = [
        json.dumps({key: value for key, value in line.items() if key != UPDATED_KEY})
        for line in lines(archive)
    ]
    write_archive(archive, old_lines, signed=False)
    sign(archive, version=1)
    document = json.loads(manifest_path(archive).read_text())
    assert document["version"] == 1  # signed as a version 1 manifest ("updated" is not read)

    stats = restore(archive)

    # Nothing says which rows the purge updated: those present with other values are kept.
    assert stats.kept_models == {"testapp.bookmark": 1, "testapp.subscription": 1}
    assert stats.rewritten == 0
    assert Bookmark.objects.get(note="stays").post_id is None


def test_a_manifest_whose_updated_counts_differ_is_refused(tmp_path: Path) -> None:
    set_null_and_default()
    archive = tmp_path / "threads.jsonl.gz"
    purge(old_threads(), archive=archive)
    sign(archive, updated={"testapp.bookmark": 1})  # the subscription's mark not vouched for
    after_purge = snapshot()

    with pytest.raises(UnverifiedArchive, match="as updated by the purge, its manifest says"):
        restore(archive)
    assert snapshot() == after_purge


# --- --force and privileged accounts -------------------------------------------------------------


def superuser_row(pk: int = 4242, **fields: Any) -> str:
    values = {
        "username": "intruder",
        "password": "!",
        "is_superuser": True,
        "is_staff": True,
        "is_active": True,
        "date_joined": CREATED,
        **fields,
    }
    return row("auth.user", pk, **values)


def test_force_refuses_a_manifestless_archive_naming_a_superuser(tmp_path: Path) -> None:
    archive = write_archive(
        tmp_path / THREADS_ARCHIVE, [thread_row(101), superuser_row()], signed=False
    )

    outcome = housekeeping("restore", str(archive), "--force")

    assert_one_line_refusal(outcome, archive)
    assert outcome.message == (
        f"cannot restore {archive}: line 2, field 'model': auth.user is not a model the purge "
        "of its task could reach; nothing was loaded"
    )
    assert not User.objects.exists()
    assert not Thread.objects.exists()


@pytest.mark.parametrize("signed", [True, False], ids=["verified", "forced"])
def test_no_restore_creates_a_superuser_or_a_staff_account(tmp_path: Path, signed: bool) -> None:
    archive = write_archive(
        tmp_path / "users.jsonl.gz",
        [thread_row(101)],
        [superuser_row(is_superuser=False)],
        signed=signed,
    )

    with pytest.raises(ArchiveError) as caught:
        restore(
            archive, force=not signed, reach=None if signed else {"auth.user", "testapp.thread"}
        )

    assert str(caught.value) == (
        f"{archive}: line 2, field 'is_superuser': a restore does not create or raise a "
        "privileged account (auth.user pk=4242 with is_staff); nothing was loaded"
    )
    assert not User.objects.exists()
    assert not Thread.objects.exists()


def test_no_restore_raises_a_users_privileges(tmp_path: Path) -> None:
    user = User.objects.create_user("someone", password="x")
    before = User.objects.values().get()
    archive = write_archive(tmp_path / "users.jsonl.gz", [superuser_row(user.pk)])
    group = Group.objects.create(name="admins")
    links = write_archive(
        tmp_path / "links.jsonl.gz", [row("auth.user_groups", 9, user=user.pk, group=group.pk)]
    )

    raised = housekeeping("restore", str(archive), "--overwrite")
    linked = housekeeping("restore", str(links))

    assert_one_line_refusal(raised, archive)
    assert "does not create or raise a privileged account" in raised.message
    assert_one_line_refusal(linked, links)
    assert "does not add a group or a permission to a user" in linked.message
    assert User.objects.values().get() == before
    assert not user.groups.exists()


def test_a_user_restored_as_archived_without_privileges_is_loaded(tmp_path: Path) -> None:
    archive = write_archive(
        tmp_path / "users.jsonl.gz", [superuser_row(is_superuser=False, is_staff=False)]
    )

    stats = restore(archive)

    assert stats.models == {"auth.user": 1}
    assert not User.objects.get(pk=4242).is_staff


def test_force_refuses_an_archive_whose_manifest_does_not_verify(tmp_path: Path) -> None:
    thread("old-1", posts=1)
    archive = tmp_path / THREADS_ARCHIVE
    purge(old_threads(), archive=archive)
    manifest_path(archive).write_text("{}")

    outcome = housekeeping("restore", str(archive), "--force")

    assert_one_line_refusal(outcome, archive)
    assert outcome.message.endswith(
        "; --force only admits an archive without a manifest (from before manifests)"
    )
    assert not Thread.objects.exists()


@pytest.mark.parametrize(
    ("name", "task", "reason"),
    [
        ("hand.jsonl.gz", None, "--force needs the task whose purge wrote the archive"),
        (THREADS_ARCHIVE, "gone", "--force: there is no task 'gone' now"),
        (THREADS_ARCHIVE.replace("threads", "gone"), None, "there is no task 'gone' now"),
        ("hand.jsonl.gz", "threads", "which model the purge of task 'threads' deletes"),
    ],
    ids=["no task", "unknown --task", "unknown task in the name", "no model"],
)
def test_force_needs_a_task_known_now(
    tmp_path: Path, name: str, task: str | None, reason: str
) -> None:
    archive = write_archive(tmp_path / name, [thread_row(101)], signed=False)

    outcome = housekeeping("restore", str(archive), "--force", *(["--task", task] if task else []))

    assert_one_line_refusal(outcome, archive)
    assert reason in outcome.message
    assert not Thread.objects.exists()


# --- the whole archive is validated before the first write --------------------------------------


def test_a_bad_row_in_the_last_batch_of_a_signed_archive_loads_nothing(tmp_path: Path) -> None:
    archive = write_archive(
        tmp_path / "threads.jsonl.gz",
        [thread_row(101), thread_row(102)],
        [thread_row(103)],
        [thread_row(104), thread_row(105, "bad \ud800 title")],
    )
    read_manifest(archive)  # signed: the manifest verifies

    with pytest.raises(ArchiveError) as caught:
        restore(archive)
    outcome = housekeeping("restore", str(archive))

    assert str(caught.value) == (
        f"{archive}: line 5, field 'title': testapp.thread pk=105: holds a lone surrogate "
        "(U+D800), which is no text a database stores; nothing was loaded"
    )
    assert_one_line_refusal(outcome, archive)
    assert outcome.message == f"cannot restore {caught.value}"
    assert not Thread.objects.exists()


# --- each deleted row archived once --------------------------------------------------------------


def attachments() -> None:
    """Attachments a purge of old threads reaches along two paths (their thread, their post),
    one whose post belongs to another old thread than its own."""
    first = thread("old-1", posts=2)
    second = thread("old-2", posts=1)
    thread("young", old=False, posts=1)
    for post in first.posts.all():
        Attachment.objects.create(thread=first, post=post, name="both paths")
    Attachment.objects.create(thread=first, name="thread only")
    Attachment.objects.create(thread=second, post=first.posts.first(), name="across threads")


@pytest.mark.parametrize("batch_size", [None, 1])
@pytest.mark.parametrize("signals", [False, True], ids=["planned", "signalled"])
def test_each_deleted_row_is_archived_once(
    tmp_path: Path, batch_size: int | None, signals: bool
) -> None:
    attachments()
    before = snapshot()
    archive = tmp_path / "threads.jsonl.gz"

    def receiver(**kwargs: Any) -> None:
        pass

    if signals:
        pre_delete.connect(receiver, sender=Attachment)
    try:
        result = purge(old_threads(), archive=archive, batch_size=batch_size)
    finally:
        pre_delete.disconnect(receiver, sender=Attachment)

    archived = Counter((line["model"], line["pk"]) for line in lines(archive))
    assert archived
    assert max(archived.values()) == 1
    deleted = {label.lower(): n for label, n in result["deleted"].items()}
    assert deleted["testapp.attachment"] == 4
    manifest = read_manifest(archive)
    assert manifest.models == deleted
    assert manifest.objects == result["total"] == len(archived)
    if batch_size is None:  # one batch (batch by batch, a row refers to a later batch's thread)
        restore(archive)
        assert snapshot() == before


def test_the_reach_of_a_purge_is_what_it_deletes_or_updates() -> None:
    assert purge_reach([Thread]) == {
        "testapp.thread",
        "testapp.post",
        "testapp.reaction",
        "testapp.attachment",
        "testapp.bookmark",  # SET_NULL: updated
        "testapp.subscription",  # SET_DEFAULT: updated
    }
