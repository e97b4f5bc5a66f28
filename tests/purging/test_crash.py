"""Crash safety: a purge killed with SIGKILL in the middle of a batch leaves no row whose parent
is gone and no orphan, and the next purge finishes the job."""

from __future__ import annotations

import os
import signal
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from django_housekeeping.purging.engine import purge
from django_housekeeping.purging.restore import restore
from tests.helpers import Processes, is_alive, process_environment, wait_for
from tests.testapp.crash import QUERYSETS
from tests.testapp.models import Document, Post, Reaction, Tag, Thread, Topic
from tests.testapp.scenarios import snapshot

pytestmark = pytest.mark.django_db(transaction=True)

OLD_THREADS = 30
OLD_DOCUMENTS = 30


def seed() -> None:
    old = timezone.now() - timedelta(days=40)
    threads = Thread.objects.bulk_create(
        [Thread(title=f"old-{i}", created_at=old) for i in range(OLD_THREADS)]
        + [Thread(title=f"young-{i}", created_at=timezone.now()) for i in range(5)]
    )
    posts = Post.objects.bulk_create(
        Post(thread=thread, body=f"{thread.title}/{i}") for thread in threads for i in range(3)
    )
    Reaction.objects.bulk_create(
        Reaction(post=post, emoji=emoji) for post in posts for emoji in ("+1", "-1")
    )
    topic = Topic.objects.create(name="t")
    documents = Document.objects.bulk_create(
        [Document(title=f"old-{i}", created_at=old) for i in range(OLD_DOCUMENTS)]
        + [Document(title=f"young-{i}", created_at=timezone.now()) for i in range(5)]
    )
    document_type = ContentType.objects.get_for_model(Document)
    Tag.objects.bulk_create(
        Tag(content_type=document_type, object_id=document.pk, name=f"{document.title}/{i}")
        for document in documents
        for i in range(2)
    )
    Document.topics.through.objects.bulk_create(
        Document.topics.through(document=document, topic=topic) for document in documents
    )


def assert_nothing_dangles() -> None:
    """No child row points at a deleted parent, no generic row at a deleted document."""
    assert not Post.objects.exclude(thread_id__in=Thread.objects.values("pk")).exists()
    assert not Reaction.objects.exclude(post_id__in=Post.objects.values("pk")).exists()
    assert not Tag.objects.exclude(object_id__in=Document.objects.values("pk")).exists()
    through = Document.topics.through.objects
    assert not through.exclude(document_id__in=Document.objects.values("pk")).exists()


def assert_whole(queryset_name: str) -> None:
    """Every row still there has all of its children: a batch went entirely or not at all."""
    if queryset_name == "threads":
        for thread in Thread.objects.all():
            assert thread.posts.count() == 3
            assert Reaction.objects.filter(post__thread=thread).count() == 6
    else:
        document_type = ContentType.objects.get_for_model(Document)
        for document in Document.objects.all():
            assert (
                Tag.objects.filter(content_type=document_type, object_id=document.pk).count() == 2
            )
            assert document.topics.count() == 1


@pytest.fixture
def processes(tmp_path: Path) -> Processes:
    return Processes(process_environment(lease_ttl=30), tmp_path)


@pytest.mark.parametrize(
    ("queryset_name", "table"),
    [
        ("threads", "testapp_reaction"),  # the first statement of the batch
        ("threads", "testapp_post"),  # reactions and posts gone, threads not yet
        ("threads", "testapp_thread"),  # everything gone, not yet committed
        ("documents", "testapp_document"),  # tags (no constraint) gone; Django's collector
    ],
)
def test_a_purge_killed_mid_batch_leaves_whole_rows_and_the_next_one_finishes(
    processes: Processes, tmp_path: Path, queryset_name: str, table: str
) -> None:
    seed()
    before = snapshot()
    total = OLD_THREADS if queryset_name == "threads" else OLD_DOCUMENTS
    marker = tmp_path / "holding"
    first_archive = tmp_path / "first.jsonl.gz"
    processes.env.update(
        HOUSEKEEPING_CRASH_MARKER=str(marker),
        HOUSEKEEPING_CRASH_TABLE=table,
        HOUSEKEEPING_CRASH_AT="3",  # in the third batch: two batches are committed
        HOUSEKEEPING_CRASH_PURGE=queryset_name,
        HOUSEKEEPING_CRASH_ARCHIVE=str(first_archive),
    )
    child = processes.django("purge", "shell", "-c", "from tests.testapp.crash import main; main()")

    wait_for(lambda: marker.exists() or child.poll() is not None, 60, "the purge to reach batch 3")
    assert marker.exists(), processes.logs()
    os.kill(child.pid, signal.SIGKILL)
    child.wait(30)
    assert not is_alive(child.pid)

    assert_nothing_dangles()
    assert_whole(queryset_name)
    assert QUERYSETS[queryset_name]().count() == total - 2 * 4

    second_archive = tmp_path / "second.jsonl.gz"
    result = purge(QUERYSETS[queryset_name](), batch_size=4, archive=second_archive)

    assert result["deleted"][f"testapp.{queryset_name[:-1].capitalize()}"] == total - 8
    assert not QUERYSETS[queryset_name]().exists()
    assert_nothing_dangles()
    assert Thread.objects.filter(title__startswith="young").count() == 5
    assert Document.objects.filter(title__startswith="young").count() == 5

    # The two archives hold every row both purges deleted: restored, nothing is missing.
    restore(first_archive)
    restore(second_archive)
    assert snapshot() == before
