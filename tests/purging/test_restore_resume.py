"""Restoring at purge speed: the same rows and keys back (rows a purge only updated included), a
restore interrupted half-way and run again ends with every row once, and new rows get new keys."""

from __future__ import annotations

import gzip
import io
import os
import signal
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core import serializers
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection
from django.db.models import Model, QuerySet
from django.db.models.signals import post_init
from django.utils import timezone

from django_housekeeping.purging import restore as restore_module
from django_housekeeping.purging.archive_reader import RowReader
from django_housekeeping.purging.engine import purge
from django_housekeeping.purging.restore import restore
from tests.helpers import Processes, housekeeping, is_alive, process_environment, wait_for
from tests.testapp.models import (
    Bookmark,
    Comment,
    Document,
    Owner,
    Place,
    Post,
    Reaction,
    Restaurant,
    Subscription,
    Thread,
    Topic,
)
from tests.testapp.scenarios import (
    MODELS,
    NEW,
    comments,
    documents,
    restaurants,
    set_null_and_default,
    snapshot,
    thread,
)

pytestmark = pytest.mark.django_db


def forum_of(*, threads: int, posts: int) -> None:
    """``threads`` old threads of ``posts`` posts with a reaction each, and a young one."""
    for i in range(threads):
        thread(f"old-{i}", posts=posts)
    thread("young", old=False, posts=posts)


def everything() -> None:
    """Six old threads (one with a bookmark and a subscription), documents, restaurants,
    comments."""
    forum_of(threads=5, posts=2)
    set_null_and_default()
    documents()
    restaurants()
    comments()


def counts() -> dict[str, int]:
    return {model._meta.label: model._base_manager.count() for model in MODELS}


PURGES: dict[str, Callable[[], QuerySet[Any]]] = {
    "threads (cascades, SET_NULL, SET_DEFAULT)": lambda: Thread.objects.filter(
        created_at__lt=NEW - timedelta(days=30)
    ),
    "documents (many-to-many, generic, Django's collector)": lambda: Document.objects.filter(
        title__startswith="old"
    ),
    "owners (multi-table inheritance)": lambda: Owner.objects.all(),
    "comments (a cascade into its own table)": lambda: Comment.objects.filter(
        created_at__lt=NEW - timedelta(days=30)
    ),
}


@pytest.mark.parametrize("make_queryset", PURGES.values(), ids=PURGES.keys())
def test_every_row_comes_back_field_by_field_with_its_key(
    tmp_path: Path, make_queryset: Callable[[], QuerySet[Any]]
) -> None:
    everything()
    before, rows = snapshot(), counts()
    archive = tmp_path / "purge.jsonl.gz"
    result = purge(make_queryset(), archive=archive, batch_size=1)
    assert result["total"] > result["batches"] >= 2

    stats = restore(archive)

    # snapshot(): every row of every model as the tuple of its own table's values, key first.
    assert snapshot() == before
    assert counts() == rows
    assert (stats.present, stats.present_models) == (0, {})


def test_rows_a_purge_set_to_null_or_a_default_are_rewritten_and_counted(tmp_path: Path) -> None:
    set_null_and_default()
    before = snapshot()
    archive = tmp_path / "threads.jsonl.gz"
    purge(Thread.objects.filter(title="old"), archive=archive)
    assert Bookmark.objects.get(note="stays").post_id is None
    assert Subscription.objects.get(email="a@example.com").thread_id is None

    stats = restore(archive)

    assert snapshot() == before
    assert stats.rewritten == 2  # the bookmark (SET_NULL) and the subscription (SET_DEFAULT)
    assert stats.models["testapp.bookmark"] == 1
    assert stats.models["testapp.subscription"] == 1
    assert stats.present == 0


def test_a_second_restore_finds_every_row_present_and_changes_nothing(tmp_path: Path) -> None:
    everything()
    before = snapshot()
    archive = tmp_path / "threads.jsonl.gz"
    result = purge(PURGES["threads (cascades, SET_NULL, SET_DEFAULT)"](), archive=archive)
    first = restore(archive)

    again = restore(archive)

    assert snapshot() == before
    assert (again.objects, again.models, again.rewritten) == (0, {}, 0)
    assert again.present == first.objects
    assert again.present_models == first.models
    assert {label.lower(): n for label, n in result["deleted"].items()}.items() <= (
        again.present_models.items()
    )


class Interrupted(Exception):
    """Stands for the process dying in the middle of a batch."""


@pytest.fixture
def interrupt_in_batch(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """``interrupt_in_batch(k)``: the next restore fails in batch ``k``, after its first model's
    rows were inserted (so they are rolled back with it)."""
    original = restore_module._Restore._write
    state = {"batch": 0, "stop": 0}

    def arm(batch: int) -> None:
        state["stop"] = batch

    def load_batch(self: Any, batch: int, rows: Any) -> None:
        state["batch"] = batch
        return original_load(self, batch, rows)

    def write(self: Any, model: type[Model], rows: Any) -> Any:
        outcome = original(self, model, rows)
        if state["stop"] and state["batch"] == state["stop"]:
            state["stop"] = 0
            raise Interrupted(f"killed in batch {state['batch']}")
        return outcome

    original_load = restore_module._Restore._load_batch
    monkeypatch.setattr(restore_module._Restore, "_load_batch", load_batch)
    monkeypatch.setattr(restore_module._Restore, "_write", write)
    return arm


@pytest.mark.parametrize("interrupted_in", [1, 3])
def test_a_restore_interrupted_in_a_batch_and_run_again_ends_with_every_row_once(
    tmp_path: Path, interrupt_in_batch: Callable[[int], None], interrupted_in: int
) -> None:
    everything()
    before, rows = snapshot(), counts()
    archive = tmp_path / "threads.jsonl.gz"
    result = purge(
        PURGES["threads (cascades, SET_NULL, SET_DEFAULT)"](), archive=archive, batch_size=1
    )
    assert result["batches"] == 6
    after_purge = counts()

    interrupt_in_batch(interrupted_in)
    with pytest.raises(Interrupted):
        restore(archive)
    # The batches before it are in, nothing of it.
    assert Thread.objects.count() - after_purge["testapp.Thread"] == interrupted_in - 1

    stats = restore(archive)

    assert snapshot() == before
    assert counts() == rows
    assert stats.batches == 6
    assert sum(stats.present_models.values()) == stats.present
    assert stats.present_models.get("testapp.thread", 0) == interrupted_in - 1
    assert stats.models["testapp.thread"] == 6 - (interrupted_in - 1)


def reset_sequences(models: list[type[Model]]) -> None:
    """Set the tables' key sequences back to 1 (as on a new database): restored keys must not be
    handed out again."""
    sequences = [{"table": model._meta.db_table, "column": "id"} for model in models]
    statements = connection.ops.sequence_reset_by_name_sql(no_style(), sequences)
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


# MariaDB's reset is an ALTER TABLE, which commits: the test's rows are flushed afterwards.
@pytest.mark.django_db(transaction=True)
def test_new_rows_get_new_keys_after_restoring_into_tables_whose_sequences_are_behind(
    tmp_path: Path,
) -> None:
    everything()
    archive = tmp_path / "everything.jsonl.gz"
    purge(Thread.objects.all(), archive=archive, batch_size=2)
    owners = tmp_path / "owners.jsonl.gz"
    purge(Owner.objects.all(), archive=owners)
    purge(Place.objects.all())
    assert not Thread.objects.exists()
    assert not Place.objects.exists()
    reset_sequences([Thread, Post, Reaction, Place, Owner])

    restore(archive)
    restore(owners)

    for model, create in [
        (Thread, lambda: Thread.objects.create(title="new", created_at=timezone.now())),
        (Post, lambda: Post.objects.create(thread=Thread.objects.first(), body="new")),
        (Reaction, lambda: Reaction.objects.create(post=Post.objects.first(), emoji="new")),
        (Owner, lambda: Owner.objects.create(name="new")),
        (
            Restaurant,
            lambda: Restaurant.objects.create(name="new", created_at=timezone.now()),
        ),
    ]:
        restored = set(model._base_manager.values_list("pk", flat=True))
        assert restored
        new = create()
        assert new.pk not in restored
        assert new.pk > max(restored)


def test_a_row_archived_twice_in_a_batch_is_restored_once(tmp_path: Path) -> None:
    from tests.purging.test_restore import thread_row, write_archive

    archive = write_archive(tmp_path / "hand.jsonl.gz", [thread_row(101), thread_row(101, "last")])

    stats = restore(archive)

    assert (stats.objects, stats.models) == (1, {"testapp.thread": 1})
    assert Thread.objects.get(pk=101).title == "last"


# --- the command ---------------------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_command_says_what_was_present_and_what_was_rewritten(tmp_path: Path) -> None:
    set_null_and_default()
    archive = tmp_path / "threads.jsonl.gz"
    purge(Thread.objects.filter(title="old"), archive=archive)

    first = housekeeping("restore", str(archive))
    again = housekeeping("restore", str(archive))

    assert first.returncode == 0
    assert first.out == (
        f"Restored 7 objects (1 batch) from {archive}: testapp.bookmark 1, testapp.post 2, "
        "testapp.reaction 2, testapp.subscription 1, testapp.thread 1.\n"
        "2 of them were in the database with other values (rows the purge updated) and were "
        "rewritten with the archived ones.\n"
    )
    assert again.out == (
        f"Restored 0 objects (1 batch) from {archive}.\n"
        "7 rows were in the database already, as archived, and skipped: testapp.bookmark 1, "
        "testapp.post 2, testapp.reaction 2, testapp.subscription 1, testapp.thread 1.\n"
    )


def test_the_command_draws_a_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    forum_of(threads=3, posts=1)
    archive = tmp_path / "threads.jsonl.gz"
    purge(Thread.objects.filter(title__startswith="old"), archive=archive, batch_size=1)
    out, err = io.StringIO(), Terminal()

    call_command("housekeeping", "restore", str(archive), stdout=out, stderr=err)

    validating, restoring = err.getvalue().split("\n")[:2]
    assert validating.split("\r")[-1].startswith("validating: 100%|")
    assert "| 9/9 [" in validating
    final = restoring.split("\r")[-1]
    assert final.startswith("restoring: 100%|")
    assert "| 9/9 [" in final
    assert out.getvalue().startswith("Restored 9 objects (3 batches)")


def test_no_progress_bar_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    forum_of(threads=1, posts=1)
    archive = tmp_path / "threads.jsonl.gz"
    purge(Thread.objects.filter(title__startswith="old"), archive=archive)

    outcome = housekeeping("restore", str(archive))

    assert outcome.err == ""
    assert outcome.out.startswith("Restored 3 objects")


# --- a real process killed with SIGKILL mid-restore ----------------------------------------------


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    started = Processes(process_environment(lease_ttl=30), tmp_path)
    yield started
    for name in list(started.started):
        started.stop(name)


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_a_restore_killed_mid_batch_and_run_again_ends_with_every_row_once(
    processes: Processes, tmp_path: Path
) -> None:
    forum_of(threads=8, posts=2)
    before, rows = snapshot(), counts()
    archive = tmp_path / "threads.jsonl.gz"
    purge(Thread.objects.filter(title__startswith="old"), archive=archive, batch_size=2)
    marker = tmp_path / "holding"
    processes.env.update(
        HOUSEKEEPING_CRASH_MARKER=str(marker),
        HOUSEKEEPING_CRASH_TABLE="testapp_post",
        HOUSEKEEPING_CRASH_AT="3",  # in the third batch: two batches are committed
        HOUSEKEEPING_CRASH_ARCHIVE=str(archive),
    )
    child = processes.django(
        "restore", "shell", "-c", "from tests.testapp.crash import restore_main; restore_main()"
    )

    wait_for(lambda: marker.exists() or child.poll() is not None, 60, "the restore's batch 3")
    assert marker.exists(), processes.logs()
    os.kill(child.pid, signal.SIGKILL)
    child.wait(30)
    assert not is_alive(child.pid)
    assert Thread.objects.count() == 1 + 4  # the young one, and two batches of two threads

    stats = restore(archive)

    assert snapshot() == before
    assert counts() == rows
    assert stats.present_models == {"testapp.post": 8, "testapp.reaction": 8, "testapp.thread": 4}


# --- the fast path reads rows as Django's deserializer does --------------------------------------


def test_rows_are_read_as_djangos_deserializer_reads_them(tmp_path: Path) -> None:
    everything()
    archives = []
    for i, make_queryset in enumerate(PURGES.values()):
        archives.append(tmp_path / f"purge-{i}.jsonl.gz")
        purge(make_queryset(), archive=archives[-1], batch_size=2)
    reader = RowReader("archive", "default", connection)

    for archive in archives:
        with gzip.open(archive, "rb") as file:
            for number, line in enumerate(file, 1):
                row = reader.row(number, line.rstrip(b"\n"))
                [django] = serializers.deserialize("jsonl", line)
                model = restore_module.concrete(type(django.object))
                for field in model._meta.local_concrete_fields:
                    expected = getattr(django.object, field.attname)
                    actual = getattr(row.instance, field.attname)
                    assert (actual, type(actual)) == (expected, type(expected)), field
    assert reader.plans  # the plans were made, and used for the models without receivers
    assert all(plan is not None for plan in reader.plans.values())


def test_a_model_with_a_post_init_receiver_is_built_by_django(tmp_path: Path) -> None:
    forum_of(threads=2, posts=1)
    before = snapshot()
    archive = tmp_path / "threads.jsonl.gz"
    purge(Thread.objects.filter(title__startswith="old"), archive=archive)
    built: list[Any] = []

    def receiver(sender: Any, instance: Thread, **kwargs: Any) -> None:
        built.append(instance.pk)

    post_init.connect(receiver, sender=Thread, weak=False)
    try:
        restore(archive)
    finally:
        post_init.disconnect(receiver, sender=Thread)

    assert snapshot() == before
    assert sorted(set(built)) == sorted(
        Thread.objects.filter(title__startswith="old").values_list("pk", flat=True)
    )


def test_a_row_the_database_refuses_is_named_and_its_batch_rolled_back(tmp_path: Path) -> None:
    from tests.purging.test_restore import row, thread_row, write_archive

    document = Document.objects.create(title="d", created_at=timezone.now())
    topic = Topic.objects.create(name="t")
    document.topics.add(topic)
    link = row("testapp.document_topics", 9_000, document=document.pk, topic=topic.pk)
    archive = write_archive(tmp_path / "hand.jsonl.gz", [thread_row(101)], [thread_row(102), link])

    with pytest.raises(restore_module.ArchiveError) as caught:
        restore(archive)

    message = str(caught.value)
    assert message.startswith(
        f"{archive}: line 3: testapp.document_topics pk=9000: the database refused the row: "
    )
    assert message.endswith("; nothing of batch 2 was loaded; batch 1 was restored (1 objects)")
    assert list(Thread.objects.values_list("pk", flat=True)) == [101]
    assert Document.topics.through.objects.count() == 1


def test_auto_now_fields_keep_their_archived_values(tmp_path: Path) -> None:
    """Raw inserts: no pre_save(), which would give auto_now fields the time of the restore."""
    from django_housekeeping.models import TaskState
    from tests.purging.test_restore import CREATED, row, write_archive

    state = row("django_housekeeping.taskstate", 7, task_name="t", updated_at=CREATED)
    archive = write_archive(tmp_path / "hand.jsonl.gz", [state])

    restore(archive)

    assert TaskState.objects.get(pk=7).updated_at.isoformat() == "2020-01-02T03:04:05.678901+00:00"
