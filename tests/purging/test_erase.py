"""Erasure requests: ``erase()`` deletes one row with its cascades and signals through the purge
engine, is refused with nothing deleted when a legal hold is in the way, and always leaves an
``ErasureRecord`` that holds no field value of the erased rows; ``housekeeping erase`` says so
in its exit status."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import serializers
from django.db.models import Model
from django.db.models.signals import post_delete, pre_delete
from django.utils import timezone

from django_housekeeping import ErasureRefused, erase, holds
from django_housekeeping.models import ErasureRecord
from tests.helpers import housekeeping, make_user
from tests.testapp.models import Bookmark, Pin, Post, Reaction, Thread

pytestmark = pytest.mark.django_db

# Values no record may contain: each appears in one field of one erased row.
SECRETS = {
    "title": "Secret-Title-7f3a",
    "body": "Private-Body-91cc",
    "emoji": "Q9",
    "note": "Note-Secret-e21b",
}


@pytest.fixture
def thread() -> Thread:
    """A thread with two posts (with reactions), a bookmark of a post, and a bystander."""
    thread = Thread.objects.create(title=SECRETS["title"], created_at=timezone.now())
    posts = [Post.objects.create(thread=thread, body=SECRETS["body"]) for _ in range(2)]
    for post in posts:
        Reaction.objects.create(post=post, emoji=SECRETS["emoji"])
    Bookmark.objects.create(post=posts[0], note=SECRETS["note"])
    bystander = Thread.objects.create(title="other", created_at=timezone.now())
    Post.objects.create(thread=bystander, body="kept")
    return thread


def snapshot() -> dict[str, list[Any]]:
    return {
        model._meta.label: sorted(model._base_manager.values_list("pk", flat=True))
        for model in (Thread, Post, Reaction, Bookmark)
    }


def record_text(record: ErasureRecord) -> str:
    """Every field of the record, serialized as a backup would keep it."""
    record.refresh_from_db()
    return serializers.serialize("json", [record])


def test_erase_deletes_the_row_and_its_cascades_with_their_signals(
    thread: Thread, admin_user: Any
) -> None:
    seen: list[tuple[str, str, Any]] = []

    def pre(sender: type[Model], instance: Model, **kwargs: Any) -> None:
        seen.append(("pre", sender._meta.label, instance.pk))

    def post(sender: type[Model], instance: Model, **kwargs: Any) -> None:
        seen.append(("post", sender._meta.label, instance.pk))

    post_pks = list(thread.posts.values_list("pk", flat=True))
    pre_delete.connect(pre, sender=Post)
    post_delete.connect(post, sender=Post)
    try:
        record = erase(thread, reason="Account deletion #12", requested_by=admin_user)
    finally:
        pre_delete.disconnect(pre, sender=Post)
        post_delete.disconnect(post, sender=Post)

    assert sorted(seen) == sorted(
        [("pre", "testapp.Post", pk) for pk in post_pks]
        + [("post", "testapp.Post", pk) for pk in post_pks]
    )
    assert not Thread.objects.filter(pk=thread.pk).exists()
    assert not Post.objects.filter(pk__in=post_pks).exists()
    assert Reaction.objects.count() == 0
    assert Bookmark.objects.get().post_id is None  # SET_NULL, as Django does
    assert Thread.objects.filter(title="other").exists()

    record.refresh_from_db()
    assert record.status == ErasureRecord.Status.ERASED
    assert record.model == "testapp.Thread"
    assert record.object_pk == str(thread.pk)
    assert record.deleted == {"testapp.Thread": 1, "testapp.Post": 2, "testapp.Reaction": 2}
    assert record.requested_by == admin_user
    assert record.reason == "Account deletion #12"
    assert not record.dry_run
    assert record.finished_at is not None
    text = record_text(record)
    for value in SECRETS.values():
        assert value not in text


def test_a_dry_run_counts_what_the_erasure_deletes_and_deletes_nothing(thread: Thread) -> None:
    before = snapshot()
    dry = erase(thread, reason="Preview", dry_run=True)
    assert snapshot() == before
    real = erase(thread, reason="For real")

    assert dry.dry_run
    assert dry.status == ErasureRecord.Status.ERASED
    assert dry.deleted == real.deleted
    assert ErasureRecord.objects.count() == 2


def test_a_hold_in_the_way_refuses_the_erasure_with_nothing_deleted(thread: Thread) -> None:
    reaction = Reaction.objects.filter(post__thread=thread).first()
    assert reaction is not None
    holds.place(reaction, reason="Evidence")
    before = snapshot()

    with pytest.raises(ErasureRefused) as refused:
        erase(thread, reason="Account deletion")

    assert snapshot() == before
    assert refused.value.held_rows == [f"testapp.Reaction:{reaction.pk}"]
    assert f"testapp.Reaction:{reaction.pk}" in str(refused.value)
    record = ErasureRecord.objects.get()
    assert record.status == ErasureRecord.Status.REFUSED
    assert record.held == [f"testapp.Reaction:{reaction.pk}"]
    assert record.deleted == {}
    assert refused.value.record == record
    # A dry run is refused the same way: it says what a real erasure would do.
    with pytest.raises(ErasureRefused):
        erase(thread, reason="Preview", dry_run=True)

    holds.release(reaction)
    assert erase(thread, reason="Again").status == ErasureRecord.Status.ERASED
    assert not Thread.objects.filter(pk=thread.pk).exists()


def test_a_hold_behind_set_null_does_not_refuse(thread: Thread) -> None:
    bookmark = Bookmark.objects.get()
    holds.place(bookmark, reason="Keep the bookmark")

    record = erase(thread, reason="Account deletion")

    assert record.status == ErasureRecord.Status.ERASED
    bookmark.refresh_from_db()
    assert bookmark.post_id is None


def test_a_protected_row_is_kept_and_reported(thread: Thread) -> None:
    Pin.objects.create(thread=thread)
    before = snapshot()

    record = erase(thread, reason="Account deletion")

    assert snapshot() == before
    assert record.status == ErasureRecord.Status.PROTECTED
    assert record.protected == {"testapp.Thread": 1}
    assert record.deleted == {}


def test_a_failing_deletion_deletes_nothing_and_leaves_a_failed_record(thread: Thread) -> None:
    def explode(sender: type[Model], instance: Model, **kwargs: Any) -> None:
        raise RuntimeError(f"cannot delete {instance.title}")  # type: ignore[attr-defined]

    before = snapshot()
    post_delete.connect(explode, sender=Thread)
    try:
        with pytest.raises(RuntimeError):
            erase(thread, reason="Account deletion")
    finally:
        post_delete.disconnect(explode, sender=Thread)

    assert snapshot() == before
    record = ErasureRecord.objects.get()
    assert record.status == ErasureRecord.Status.FAILED
    assert record.error == "RuntimeError"  # the type only: the message quotes the row
    assert SECRETS["title"] not in record_text(record)


def test_erase_refuses_bad_arguments(thread: Thread) -> None:
    with pytest.raises(ValueError, match="reason"):
        erase(thread, reason=" ")
    with pytest.raises(ValueError, match="unsaved"):
        erase(Thread(title="x", created_at=timezone.now()), reason="x")
    with pytest.raises(TypeError):
        erase(thread, reason="x", dry_run="yes")  # type: ignore[arg-type]
    assert not ErasureRecord.objects.exists()


# -- the command line ------------------------------------------------------------------------------


def test_the_command_erases_and_exits_0(thread: Thread) -> None:
    outcome = housekeeping("erase", "testapp.Thread", str(thread.pk), "--reason", "Request #5")

    assert outcome.returncode == 0, outcome.message
    assert "Deleted 5 rows (testapp.Post 2, testapp.Reaction 2, testapp.Thread 1)" in outcome.out
    assert not Thread.objects.filter(pk=thread.pk).exists()
    record = ErasureRecord.objects.get()
    assert record.requested_by is None
    assert record.reason == "Request #5"


def test_the_command_dry_run_deletes_nothing(thread: Thread) -> None:
    before = snapshot()
    outcome = housekeeping(
        "erase", "testapp.Thread", str(thread.pk), "--reason", "Preview", "--dry-run", "--json"
    )
    assert outcome.returncode == 0, outcome.message
    assert snapshot() == before
    assert outcome.json()["deleted"] == {
        "testapp.Post": 2,
        "testapp.Reaction": 2,
        "testapp.Thread": 1,
    }
    assert outcome.json()["dry_run"] is True


@pytest.mark.parametrize(
    ("args", "returncode", "message"),
    [
        (["testapp.Nope", "1", "--reason", "x"], 2, "Unknown model 'testapp.Nope'"),
        (["Thread", "1", "--reason", "x"], 2, "app_label.Model"),
        (["testapp.Thread", "abc", "--reason", "x"], 1, "is no primary key of testapp.Thread"),
        (["testapp.Thread", "999999", "--reason", "x"], 1, "No testapp.Thread has the primary"),
        (["testapp.Thread", "{pk}"], 2, "--reason"),
        (["testapp.Thread", "{pk}", "--reason", "  "], 2, "--reason"),
    ],
)
def test_the_command_refuses_bad_input_in_one_line(
    thread: Thread, args: list[str], returncode: int, message: str
) -> None:
    before = snapshot()
    outcome = housekeeping("erase", *[arg.format(pk=thread.pk) for arg in args])

    assert outcome.returncode == returncode
    assert message in outcome.message
    assert "\n" not in outcome.message
    assert snapshot() == before


def test_the_command_exits_4_when_a_hold_refuses(thread: Thread) -> None:
    holds.place(thread, reason="Court order")
    before = snapshot()

    outcome = housekeeping("erase", "testapp.Thread", str(thread.pk), "--reason", "Request")

    assert outcome.returncode == 4
    assert f"legal holds keep testapp.Thread:{thread.pk}" in outcome.message
    assert "nothing was deleted" in outcome.message
    assert snapshot() == before


def test_the_command_exits_1_when_a_protection_keeps_the_row(thread: Thread) -> None:
    Pin.objects.create(thread=thread)
    outcome = housekeeping("erase", "testapp.Thread", str(thread.pk), "--reason", "Request")
    assert outcome.returncode == 1
    assert "was kept: a PROTECT or RESTRICT relation" in outcome.message


def test_erase_records_who_asked(thread: Thread) -> None:
    user = make_user("dpo")
    record = erase(thread, reason="Request", requested_by=user)
    assert record.requested_by == user
    assert record.requested_at <= timezone.now() + timedelta(seconds=1)
