"""``purge``: deletes with Django's cascades; a dry run counts exactly what a real run deletes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db.models import QuerySet
from django.db.models.signals import post_delete, pre_delete
from django.db.utils import ConnectionDoesNotExist
from django.utils import timezone

from django_housekeeping.purge import purge
from tests.testapp.models import Attachment, Post, Reaction, SlotRecord, Thread

pytestmark = pytest.mark.django_db

OLD = timedelta(days=40)


@pytest.fixture
def forum() -> dict[str, Any]:
    """Two old threads (one with posts and reactions), a young one, and a post without thread."""
    now = timezone.now()
    old = Thread.objects.create(title="old", created_at=now - OLD)
    Thread.objects.create(title="old and empty", created_at=now - OLD)
    young = Thread.objects.create(title="young", created_at=now)
    posts = [Post.objects.create(thread=old, body=str(i)) for i in range(3)]
    for post in posts[:2]:
        Reaction.objects.create(post=post, emoji="+1")
        Reaction.objects.create(post=post, emoji="-1")
    young_post = Post.objects.create(thread=young)
    Reaction.objects.create(post=young_post, emoji="+1")
    orphan = Post.objects.create(thread=None)
    Reaction.objects.create(post=orphan, emoji="?")
    return {"old": old, "young": young, "orphan": orphan}


def snapshot() -> dict[str, list[int]]:
    return {
        model._meta.label: sorted(model.objects.values_list("pk", flat=True))
        for model in (Thread, Post, Reaction, Attachment)
    }


def old_threads() -> QuerySet[Thread]:
    return Thread.objects.filter(created_at__lt=timezone.now() - timedelta(days=30))


QUERYSETS: dict[str, Callable[[], QuerySet[Any]]] = {
    "old threads": old_threads,
    "every thread": Thread.objects.all,
    "posts of old threads": lambda: Post.objects.filter(thread__title="old"),
    "orphan posts": lambda: Post.objects.filter(thread=None),
    "reactions": lambda: Reaction.objects.filter(emoji="+1"),
    "nothing": Thread.objects.none,
    "no match": lambda: Thread.objects.filter(title="missing"),
}


def test_a_real_purge_deletes_with_cascades_and_reports_per_model(forum: dict[str, Any]) -> None:
    result = purge(old_threads())

    assert result == {
        "deleted": {"testapp.Post": 3, "testapp.Reaction": 4, "testapp.Thread": 2},
        "total": 9,
        "dry_run": False,
    }
    assert list(Thread.objects.values_list("title", flat=True)) == ["young"]
    assert set(Post.objects.values_list("pk", flat=True)) == {
        forum["young"].posts.get().pk,
        forum["orphan"].pk,
    }
    assert Reaction.objects.count() == 2


@pytest.mark.parametrize("make_queryset", QUERYSETS.values(), ids=QUERYSETS.keys())
def test_a_dry_run_counts_exactly_what_the_real_run_deletes(
    forum: dict[str, Any], make_queryset: Callable[[], QuerySet[Any]]
) -> None:
    before = snapshot()

    dry = purge(make_queryset(), dry_run=True)

    assert snapshot() == before
    assert dry["dry_run"] is True

    real = purge(make_queryset())

    assert real["dry_run"] is False
    assert dry["deleted"] == real["deleted"]
    assert dry["total"] == real["total"] == sum(real["deleted"].values())
    after = snapshot()
    assert {label: len(before[label]) - len(after[label]) for label in before} == {
        label: real["deleted"].get(label, 0) for label in before
    }


def test_an_empty_purge_reports_nothing() -> None:
    assert purge(Thread.objects.all(), dry_run=True) == {
        "deleted": {},
        "total": 0,
        "dry_run": True,
    }
    assert purge(Thread.objects.all()) == {"deleted": {}, "total": 0, "dry_run": False}


def test_a_single_row_without_dependants_is_counted() -> None:
    Thread.objects.create(title="alone", created_at=timezone.now() - OLD)

    assert purge(old_threads(), dry_run=True)["deleted"] == {"testapp.Thread": 1}
    assert purge(old_threads())["deleted"] == {"testapp.Thread": 1}
    assert not Thread.objects.exists()


def test_rows_reached_along_two_cascades_are_counted_once(forum: dict[str, Any]) -> None:
    # Each attachment goes both with its thread and with its post.
    old_post = forum["old"].posts.first()
    Attachment.objects.create(thread=forum["old"], post=old_post, name="both ways")
    Attachment.objects.create(thread=forum["old"], post=None, name="thread only")
    Attachment.objects.create(thread=forum["young"], post=None, name="stays")

    dry = purge(old_threads(), dry_run=True)
    real = purge(old_threads())

    assert real["deleted"]["testapp.Attachment"] == 2
    assert dry == {**real, "dry_run": True}
    assert list(Attachment.objects.values_list("name", flat=True)) == ["stays"]


@pytest.fixture
def post_delete_receivers() -> Iterator[list[tuple[str, int]]]:
    """Receivers of pre_delete and post_delete for Post, which stop Django's fast delete."""
    calls: list[tuple[str, int]] = []

    def on_pre_delete(sender: Any, instance: Post, **kwargs: Any) -> None:
        calls.append(("pre_delete", instance.pk))

    def on_post_delete(sender: Any, instance: Post, **kwargs: Any) -> None:
        calls.append(("post_delete", instance.pk))

    pre_delete.connect(on_pre_delete, sender=Post, weak=False)
    post_delete.connect(on_post_delete, sender=Post, weak=False)
    try:
        yield calls
    finally:
        pre_delete.disconnect(on_pre_delete, sender=Post)
        post_delete.disconnect(on_post_delete, sender=Post)


@pytest.mark.parametrize("make_queryset", QUERYSETS.values(), ids=QUERYSETS.keys())
def test_counts_are_equal_when_delete_signals_have_receivers(
    forum: dict[str, Any],
    post_delete_receivers: list[tuple[str, int]],
    make_queryset: Callable[[], QuerySet[Any]],
) -> None:
    before = snapshot()

    dry = purge(make_queryset(), dry_run=True)

    assert post_delete_receivers == []  # a dry run sends no delete signals
    assert snapshot() == before

    real = purge(make_queryset())

    assert dry == {**real, "dry_run": True}
    posts = real["deleted"].get("testapp.Post", 0)
    assert sum(1 for name, _ in post_delete_receivers if name == "pre_delete") == posts
    assert sum(1 for name, _ in post_delete_receivers if name == "post_delete") == posts


@pytest.mark.parametrize(
    "not_a_queryset",
    [[1, 2], None, "Thread", Thread.objects],
    ids=["list", "None", "str", "manager"],
)
@pytest.mark.parametrize("dry_run", [False, True])
def test_anything_but_a_queryset_is_a_type_error(not_a_queryset: Any, dry_run: bool) -> None:
    with pytest.raises(TypeError, match="purge\\(\\) needs a QuerySet"):
        purge(not_a_queryset, dry_run=dry_run)


def test_a_model_instance_is_a_type_error(forum: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match="got Thread"):
        purge(forum["old"])  # type: ignore[arg-type]
    assert Thread.objects.filter(pk=forum["old"].pk).exists()


@pytest.mark.parametrize(
    ("make_queryset", "message"),
    [
        (lambda: Thread.objects.order_by("pk")[:1], "Cannot use 'limit' or 'offset'"),
        (lambda: Thread.objects.values("pk"), "Cannot call delete\\(\\) after .values"),
    ],
    ids=["sliced", "values"],
)
@pytest.mark.parametrize("dry_run", [False, True])
def test_a_dry_run_refuses_what_a_real_run_refuses(
    forum: dict[str, Any],
    make_queryset: Callable[[], QuerySet[Any]],
    message: str,
    dry_run: bool,
) -> None:
    before = snapshot()

    with pytest.raises(TypeError, match=message):
        purge(make_queryset(), dry_run=dry_run)

    assert snapshot() == before


@pytest.mark.parametrize("dry_run", [False, True])
def test_the_querysets_database_is_used(dry_run: bool) -> None:
    with pytest.raises(ConnectionDoesNotExist):
        purge(Thread.objects.using("elsewhere").all(), dry_run=dry_run)


def test_other_models_are_untouched(forum: dict[str, Any]) -> None:
    SlotRecord.objects.create(task_name="x", now=timezone.now())

    purge(Thread.objects.all())

    assert SlotRecord.objects.count() == 1


def test_the_public_purge_is_this_engine() -> None:
    from django_housekeeping import purge as public_purge

    assert public_purge is purge
