"""``purge`` follows every ``on_delete`` rule Django has, generic relations, multi-table
inheritance and many-to-many links, batch by batch, and a dry run counts what a real run deletes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.db.models import Model, QuerySet
from django.db.models.signals import post_delete

from django_housekeeping.purging.engine import purge
from tests.testapp.models import (
    Album,
    Artist,
    Bookmark,
    Comment,
    Dish,
    Document,
    Footnote,
    Mention,
    Owner,
    Page,
    Place,
    Post,
    Reaction,
    Remark,
    Restaurant,
    Review,
    Subscription,
    Tag,
    Thread,
    Topic,
)
from tests.testapp.scenarios import (
    NEW,
    comments,
    do_nothing,
    documents,
    music,
    old_pages,
    old_threads,
    pages,
    protected_threads,
    removed,
    restaurants,
    set_null_and_default,
    snapshot,
)

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Case:
    setup: Callable[[], None]
    queryset: Callable[[], QuerySet[Any]]
    deleted: dict[str, int]
    protected: int = 0
    # RESTRICT is judged per batch: what differs when the rows that make a deletion allowed
    # fall into another batch (deleted, protected).
    small_batches: tuple[dict[str, int], int] | None = None

    def expected(self, batch_size: int) -> tuple[dict[str, int], int]:
        if batch_size < 3 and self.small_batches is not None:
            return self.small_batches
        return self.deleted, self.protected


CASES = {
    "protect": Case(
        protected_threads,
        old_threads,
        {"testapp.Post": 3, "testapp.Reaction": 3, "testapp.Thread": 2},
        protected=2,
    ),
    "protect, everything": Case(
        protected_threads,
        Thread.objects.all,
        {"testapp.Post": 3, "testapp.Reaction": 3, "testapp.Thread": 2},
        protected=3,
    ),
    "set null and default": Case(
        set_null_and_default,
        old_threads,
        {"testapp.Post": 2, "testapp.Reaction": 2, "testapp.Thread": 1},
    ),
    "do nothing": Case(
        do_nothing, old_threads, {"testapp.Post": 1, "testapp.Reaction": 1, "testapp.Thread": 1}
    ),
    "restrict: artists go with their albums and songs": Case(
        music,
        lambda: Artist.objects.filter(name__in=["a", "b", "c"]),
        {"testapp.Album": 4, "testapp.Artist": 3, "testapp.Song": 3},
        # Artist a's album holds c's song: in a batch without c, a stays until the next purge.
        small_batches=({"testapp.Album": 2, "testapp.Artist": 2, "testapp.Song": 2}, 1),
    ),
    "restrict: an artist whose album has another's song stays": Case(
        music,
        lambda: Artist.objects.filter(name__in=["a", "b"]),
        {"testapp.Album": 2, "testapp.Artist": 1, "testapp.Song": 1},
        protected=1,
    ),
    "restrict: albums with songs stay": Case(
        music, Album.objects.all, {"testapp.Album": 2}, protected=2
    ),
    "generic relations, many-to-many, custom handler": Case(
        documents,
        lambda: Document.objects.filter(created_at__lt=NEW - timedelta(days=30)),
        {
            "testapp.Document": 2,
            "testapp.Document_topics": 4,
            "testapp.Remark": 2,
            "testapp.Tag": 4,
        },
    ),
    "many-to-many from the other side": Case(
        documents,
        lambda: Topic.objects.filter(name="x"),
        {"testapp.Document_topics": 3, "testapp.Topic": 1},
    ),
    "multi-table child": Case(
        restaurants,
        lambda: Restaurant.objects.filter(created_at__lt=NEW - timedelta(days=30)),
        {"testapp.Dish": 2, "testapp.Place": 2, "testapp.Restaurant": 2, "testapp.Review": 2},
    ),
    "generic relations, planned": Case(
        pages, old_pages, {"testapp.Page": 2, "testapp.Remark": 2, "testapp.Tag": 4}
    ),
    "multi-table parent": Case(
        restaurants,
        lambda: Place.objects.filter(created_at__lt=NEW - timedelta(days=30)),
        {"testapp.Dish": 2, "testapp.Place": 3, "testapp.Restaurant": 2, "testapp.Review": 3},
    ),
    "multi-table child reached by a cascade": Case(
        restaurants,
        lambda: Owner.objects.filter(name="owner"),
        {
            "testapp.Dish": 2,
            "testapp.Owner": 1,
            "testapp.Place": 2,
            "testapp.Restaurant": 2,
            "testapp.Review": 2,
        },
    ),
    "a cascade cycle": Case(
        comments,
        lambda: Comment.objects.filter(created_at__lt=NEW - timedelta(days=30)),
        {"testapp.Comment": 4},
    ),
}


@pytest.fixture(params=[1, 2, 1000], ids=["batch 1", "batch 2", "batch 1000"])
def batch_size(request: pytest.FixtureRequest) -> int:
    return int(request.param)


@pytest.fixture(params=[False, True], ids=["no receivers", "post_delete receiver"])
def receivers(request: pytest.FixtureRequest) -> Iterator[list[Any]]:
    """With a post_delete receiver on every model the purge goes through Django's collector."""
    seen: list[Any] = []

    def receiver(sender: Any, instance: Model, **kwargs: Any) -> None:
        seen.append((sender._meta.label, instance.pk))

    if request.param:
        post_delete.connect(receiver, weak=False)
    yield seen
    post_delete.disconnect(receiver)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_purge_deletes_what_django_would_and_the_dry_run_counts_it(
    case: Case, batch_size: int, receivers: list[Any]
) -> None:
    case.setup()
    before = snapshot()

    dry = purge(case.queryset(), dry_run=True, batch_size=batch_size)

    assert snapshot() == before
    assert receivers == []

    real = purge(case.queryset(), batch_size=batch_size)
    after = snapshot()

    deleted, protected = case.expected(batch_size)
    assert real["deleted"] == deleted
    assert dry["deleted"] == real["deleted"]
    assert dry["protected"] == real["protected"]
    label = case.queryset().model._meta.label
    assert real["protected"] == ({label: protected} if protected else {})
    assert removed(before, after) == deleted
    if (deleted, protected) == (case.deleted, case.protected):
        again = purge(case.queryset(), batch_size=batch_size)
        assert again["deleted"] == {}
        assert again["protected"] == real["protected"]


def test_protected_rows_are_skipped_and_named(batch_size: int) -> None:
    protected_threads()

    result = purge(Thread.objects.all(), batch_size=batch_size)

    assert result["protected"] == {"testapp.Thread": 3}
    assert result["protected_by"] == {"testapp.Pin.thread": 2, "testapp.Quote.post": 1}
    assert sorted(Thread.objects.values_list("title", flat=True)) == [
        "pinned",
        "quoted",
        "young pinned",
    ]
    # The protected threads keep all their rows.
    assert Post.objects.filter(thread__title="quoted").count() == 2
    assert Reaction.objects.filter(post__thread__title="pinned").count() == 1


def test_set_null_and_set_default_keep_the_rows_and_clear_the_reference() -> None:
    set_null_and_default()

    purge(old_threads())

    assert dict(Bookmark.objects.values_list("note", "post__body")) == {
        "stays": None,
        "untouched": "young/0",
    }
    assert dict(Subscription.objects.values_list("email", "thread__title")) == {
        "a@example.com": None,
        "b@example.com": "young",
    }


def test_do_nothing_leaves_the_row_pointing_at_nothing() -> None:
    do_nothing()
    mention = Mention.objects.get()

    purge(old_threads())

    assert Mention.objects.get().post_id == mention.post_id
    assert not Post.objects.filter(pk=mention.post_id).exists()


def assert_only_the_young_rows_and_the_threads_tags_are_left(*other_tags: str) -> None:
    """What purging the old rows of :func:`documents` or :func:`pages` leaves."""
    assert sorted(Tag.objects.values_list("name", flat=True)) == [
        *other_tags,
        "thread tag",
        "thread tag",
        "thread tag",
        "young-tag-1",
        "young-tag-2",
    ]
    assert sorted(Remark.objects.values_list("text", flat=True)) == ["r", "r", "r", "young-remark"]


def test_generic_relations_take_only_their_own_models_rows() -> None:
    documents()

    purge(Document.objects.filter(title__startswith="old"))

    assert_only_the_young_rows_and_the_threads_tags_are_left("other")
    # The custom on_delete handler (a SET_NULL of its own) ran through Django's collector.
    assert dict(Footnote.objects.values_list("text", "document__title")) == {
        "old-1-note": None,
        "old-2-note": None,
        "young-note": "young",
    }
    assert Topic.objects.count() == 3


def test_generic_relations_without_receivers_are_deleted_by_the_planned_statements(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from django.db.models.deletion import Collector

    from django_housekeeping.purging.planner import GENERIC, build_plan

    plan = build_plan(Page, "default")
    assert sorted(node.label for node in plan.root.walk() if node.kind == GENERIC) == [
        "testapp.Remark",
        "testapp.Tag",
    ]
    pages()

    def no_collector(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("Django's collector was used")

    monkeypatch.setattr(Collector, "collect", no_collector)

    result = purge(old_pages())

    assert result["deleted"] == {"testapp.Page": 2, "testapp.Remark": 2, "testapp.Tag": 4}
    assert_only_the_young_rows_and_the_threads_tags_are_left()


def test_multi_table_rows_go_with_their_parent_rows() -> None:
    restaurants()

    purge(Owner.objects.filter(name="owner"))

    assert sorted(Place.objects.values_list("name", flat=True)) == [
        "old-2",
        "plain-old",
        "plain-young",
    ]
    assert list(Restaurant.objects.values_list("name", flat=True)) == ["old-2"]
    assert list(Dish.objects.values_list("name", flat=True)) == ["old-2-dish"]
    assert Review.objects.count() == 2


def test_a_cascade_cycle_takes_young_replies_of_old_comments() -> None:
    comments()

    purge(Comment.objects.filter(created_at__lt=NEW - timedelta(days=30)), batch_size=1)

    assert Comment.objects.count() == 1
    assert Comment.objects.get().parent is None
