"""Legal holds: every purge keeps a held row and every row whose deletion would cascade into it,
reports them per model as ``held`` (the same in dry and real runs), and follows the holds as they
are placed, released and expire — between the batches of a running purge too."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ObjectDoesNotExist
from django.db import connection
from django.db.models import Model, QuerySet
from django.db.models.signals import pre_delete
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_housekeeping import holds, purge
from django_housekeeping.models import LegalHold
from tests.testapp.models import (
    Bookmark,
    Comment,
    Mention,
    Post,
    Reaction,
    Subscription,
    Thread,
)

pytestmark = pytest.mark.django_db

OLD = timedelta(days=40)


def noop_receiver(sender: Any, **kwargs: Any) -> None:
    """A delete receiver: purges of its model go through Django's collector, with signals."""


@contextmanager
def planned() -> Iterator[None]:
    yield


@contextmanager
def signalled() -> Iterator[None]:
    pre_delete.connect(noop_receiver, sender=Reaction)
    try:
        yield
    finally:
        pre_delete.disconnect(noop_receiver, sender=Reaction)


# The engine's two paths for a schema it can plan: statements (no receivers), and the collector's
# signals with the plan's statements (a receiver). Holds must work the same on both.
PATHS = {"planned": planned, "signalled": signalled}


@pytest.fixture(params=list(PATHS))
def path(request: pytest.FixtureRequest) -> Iterator[str]:
    with PATHS[request.param]():
        yield request.param


@pytest.fixture
def forum() -> dict[str, Any]:
    """Three old threads, each with two posts of two reactions each, and a young thread."""
    now = timezone.now()
    threads = [Thread.objects.create(title=f"old {i}", created_at=now - OLD) for i in range(3)]
    posts = {}
    reactions = {}
    for thread in threads:
        posts[thread.pk] = [Post.objects.create(thread=thread, body="b") for _ in range(2)]
        for post in posts[thread.pk]:
            reactions[post.pk] = [Reaction.objects.create(post=post, emoji=e) for e in "+-"]
    young = Thread.objects.create(title="young", created_at=now)
    Post.objects.create(thread=young)
    return {"threads": threads, "posts": posts, "reactions": reactions, "young": young}


def old_threads() -> QuerySet[Thread]:
    return Thread.objects.filter(created_at__lt=timezone.now() - timedelta(days=30))


def alive(model: type[Model]) -> set[Any]:
    return set(model._base_manager.values_list("pk", flat=True))


def counts(result: dict[str, Any]) -> dict[str, Any]:
    return {key: result[key] for key in ("deleted", "total", "protected", "held")}


def dry_then_real(queryset: Callable[[], QuerySet[Any]], **options: Any) -> dict[str, Any]:
    """Purge after a dry run, asserting that the dry run counted exactly what the run did."""
    dry = purge(queryset(), dry_run=True, **options)
    real = purge(queryset(), **options)
    assert counts(dry) == counts(real)
    return real


def test_a_held_parent_is_kept_with_its_children(forum: dict[str, Any], path: str) -> None:
    kept = forum["threads"][0]
    holds.place(kept, reason="Dispute #1")

    result = dry_then_real(old_threads, batch_size=2)

    assert result["held"] == {"testapp.Thread": 1, "testapp.Post": 2, "testapp.Reaction": 4}
    assert result["deleted"] == {"testapp.Thread": 2, "testapp.Post": 4, "testapp.Reaction": 8}
    assert alive(Thread) == {kept.pk, forum["young"].pk}
    assert {post.pk for post in forum["posts"][kept.pk]} <= alive(Post)
    assert alive(Reaction) == {
        r.pk for post in forum["posts"][kept.pk] for r in forum["reactions"][post.pk]
    }


def test_a_held_child_keeps_its_parent_through_a_cascade_chain(
    forum: dict[str, Any], path: str
) -> None:
    thread = forum["threads"][1]
    post = forum["posts"][thread.pk][0]
    held_reaction = forum["reactions"][post.pk][1]
    holds.place(held_reaction, reason="Evidence")

    result = dry_then_real(old_threads)

    # The reaction keeps its post, and the post its thread (with the thread's other rows).
    assert result["held"] == {"testapp.Thread": 1, "testapp.Post": 2, "testapp.Reaction": 4}
    assert alive(Thread) == {thread.pk, forum["young"].pk}
    assert held_reaction.pk in alive(Reaction)
    assert post.pk in alive(Post)


def test_a_held_child_purged_directly_keeps_only_itself(forum: dict[str, Any]) -> None:
    thread = forum["threads"][0]
    post = forum["posts"][thread.pk][0]
    held, other = forum["reactions"][post.pk]
    holds.place(held, reason="Evidence")

    result = dry_then_real(lambda: Reaction.objects.filter(post=post))

    assert result["held"] == {"testapp.Reaction": 1}
    assert result["deleted"] == {"testapp.Reaction": 1}
    assert held.pk in alive(Reaction)
    assert other.pk not in alive(Reaction)


def test_a_hold_behind_set_null_set_default_or_do_nothing_does_not_keep_the_parent(
    forum: dict[str, Any], path: str
) -> None:
    thread = forum["threads"][0]
    post = forum["posts"][thread.pk][0]
    bookmark = Bookmark.objects.create(post=post, note="mine")
    subscription = Subscription.objects.create(thread=thread, email="a@example.com")
    mention = Mention.objects.create(post=post)
    for row in (bookmark, subscription, mention):
        holds.place(row, reason="Keep the row, not its parent")

    result = dry_then_real(old_threads)

    assert result["held"] == {}
    assert thread.pk not in alive(Thread)
    # The held rows stay, their references updated as Django's on_delete says.
    bookmark.refresh_from_db()
    subscription.refresh_from_db()
    assert bookmark.post_id is None
    assert subscription.thread_id is None
    assert Mention.objects.filter(pk=mention.pk).exists()


def test_a_released_hold_lets_the_next_run_delete(forum: dict[str, Any], path: str) -> None:
    thread = forum["threads"][2]
    holds.place(thread, reason="Dispute")
    assert purge(old_threads())["held"] == {
        "testapp.Thread": 1,
        "testapp.Post": 2,
        "testapp.Reaction": 4,
    }
    assert holds.is_held(thread)

    assert holds.release(thread) == 1
    assert not holds.is_held(thread)
    result = dry_then_real(old_threads)

    assert result["held"] == {}
    assert result["deleted"] == {"testapp.Thread": 1, "testapp.Post": 2, "testapp.Reaction": 4}
    assert alive(Thread) == {forum["young"].pk}
    # Released, not deleted: the hold is its own history.
    hold = LegalHold.objects.get()
    assert hold.released_at is not None
    assert not hold.is_active()


def test_a_hold_whose_until_has_passed_no_longer_holds(forum: dict[str, Any]) -> None:
    ended, running = forum["threads"][:2]
    holds.place(ended, reason="Until yesterday", until=timezone.now() + timedelta(days=1))
    holds.place(running, reason="Until tomorrow", until=timezone.now() + timedelta(days=1))
    LegalHold.objects.filter(object_pk=str(ended.pk)).update(
        until=timezone.now() - timedelta(seconds=1)
    )

    assert not holds.is_held(ended)
    assert holds.is_held(running)
    result = dry_then_real(old_threads)

    assert result["held"] == {"testapp.Thread": 1, "testapp.Post": 2, "testapp.Reaction": 4}
    assert alive(Thread) == {running.pk, forum["young"].pk}


def test_a_hold_placed_during_a_run_protects_the_rows_not_yet_deleted(
    forum: dict[str, Any], path: str
) -> None:
    first, second, third = forum["threads"]
    placed: list[int] = []

    def between_batches(done: int, total: int | None) -> None:
        # Called after each batch has committed: the next batches must see the hold.
        if not placed:
            holds.place(third, reason="Placed while the purge runs")
            placed.append(done)

    result = purge(old_threads(), batch_size=1, progress=between_batches)

    assert placed == [1]
    assert result["held"] == {"testapp.Thread": 1, "testapp.Post": 2, "testapp.Reaction": 4}
    assert result["deleted"]["testapp.Thread"] == 2
    assert alive(Thread) == {third.pk, forum["young"].pk}
    assert first.pk not in alive(Thread)
    assert second.pk not in alive(Thread)


def test_holds_on_djangos_collector_path(path: str) -> None:
    """A cascade into its own table (Comment.parent) is purged by Django's collector."""
    now = timezone.now()
    root = Comment.objects.create(created_at=now - OLD)
    reply = Comment.objects.create(parent=root, created_at=now - OLD)
    Comment.objects.create(parent=reply, created_at=now - OLD)
    other = Comment.objects.create(created_at=now - OLD)
    Comment.objects.create(parent=other, created_at=now - OLD)
    holds.place(reply, reason="Evidence")

    result = dry_then_real(lambda: Comment.objects.filter(parent=None))

    assert result["held"] == {"testapp.Comment": 3}
    assert result["deleted"] == {"testapp.Comment": 2}
    assert alive(Comment) == {root.pk, reply.pk, reply.pk + 1}


def test_the_hold_check_is_one_query_per_batch_when_nothing_is_held(
    forum: dict[str, Any],
) -> None:
    table = LegalHold._meta.db_table
    with CaptureQueriesContext(connection) as queries:
        result = purge(old_threads(), batch_size=1)
    hold_queries = [q["sql"] for q in queries.captured_queries if table in q["sql"]]
    assert result["batches"] == 3
    assert len(hold_queries) == 3
    assert result["held"] == {}


def test_place_validates_and_release_counts(forum: dict[str, Any], admin_user: Any) -> None:
    thread = forum["threads"][0]
    with pytest.raises(ValueError, match="reason"):
        holds.place(thread, reason="  ")
    with pytest.raises(ValueError, match="unsaved"):
        holds.place(Thread(title="new", created_at=timezone.now()), reason="x")
    with pytest.raises(ValueError, match="past"):
        holds.place(thread, reason="x", until=timezone.now() - timedelta(minutes=1))
    with pytest.raises(TypeError):
        holds.place("thread", reason="x")  # type: ignore[arg-type]

    first = holds.place(thread, reason="one", user=admin_user)
    holds.place(thread, reason="two")
    assert first.placed_by == admin_user
    assert first.object_pk == str(thread.pk)
    assert holds.release(thread, user=admin_user) == 2
    assert holds.release(thread) == 0
    assert set(LegalHold.objects.values_list("released_by", flat=True)) == {admin_user.pk}


def test_placing_a_hold_on_a_row_that_is_gone_raises(forum: dict[str, Any]) -> None:
    thread = forum["threads"][0]
    Thread.objects.filter(pk=thread.pk).delete()
    with pytest.raises(holds.HoldRefused, match=f"cannot hold testapp.Thread {thread.pk}: the row"):
        holds.place(thread, reason="too late")
    assert not LegalHold.objects.exists()
    assert issubclass(holds.HoldRefused, ObjectDoesNotExist)


def test_a_task_reports_held_rows_in_its_result_and_summary(
    forum: dict[str, Any], temporary_tasks: None
) -> None:
    from django_housekeeping import housekeeping_task, run_task
    from django_housekeeping.presenters import run_summary

    @housekeeping_task(name="held_threads")
    def held_threads(ctx: Any) -> Any:
        return ctx.purge(old_threads())

    holds.place(forum["threads"][0], reason="Dispute")
    run = run_task("held_threads")

    assert run.result["held"] == {"testapp.Thread": 1, "testapp.Post": 2, "testapp.Reaction": 4}
    assert run_summary(run).endswith("; 7 held rows kept")
