"""``purge``: deletes with Django's cascades in batches; a dry run counts exactly what a real run
deletes. The on_delete rules are in test_purge_rules.py, the limits in test_purge_limits.py."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import QuerySet
from django.db.models.signals import post_delete, pre_delete
from django.db.utils import ConnectionDoesNotExist
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_housekeeping.purging.engine import purge
from tests.testapp.models import Attachment, OldThread, Post, Reaction, SlotRecord, Thread

pytestmark = pytest.mark.django_db

OLD = timedelta(days=40)

RESULT_KEYS = {
    "deleted",
    "total",
    "dry_run",
    "protected",
    "protected_by",
    "held",
    "batches",
    "seconds",
    "rows_per_second",
    "max_batch_seconds",
    "partial",
    "archive",
    "dropped_partitions",
    "partitions",
    "throttle",
}


def counts(result: Mapping[str, Any]) -> dict[str, Any]:
    """The counting part of a result (its timings differ from run to run)."""
    return {key: result[key] for key in ("deleted", "total", "dry_run", "protected")}


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

    assert set(result) == RESULT_KEYS
    assert counts(result) == {
        "deleted": {"testapp.Post": 3, "testapp.Reaction": 4, "testapp.Thread": 2},
        "total": 9,
        "dry_run": False,
        "protected": {},
    }
    assert result["batches"] == 1
    assert result["partial"] is False
    assert result["archive"] is None
    assert result["protected_by"] == {}
    assert result["dropped_partitions"] == []  # not a partitioned table: the same keys
    assert result["partitions"] is None
    assert result["seconds"] >= result["max_batch_seconds"] >= 0
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
    dry = purge(Thread.objects.all(), dry_run=True)
    real = purge(Thread.objects.all())

    assert counts(dry) == {"deleted": {}, "total": 0, "dry_run": True, "protected": {}}
    assert counts(real) == {"deleted": {}, "total": 0, "dry_run": False, "protected": {}}
    assert dry["batches"] == real["batches"] == 0
    assert real["rows_per_second"] == 0


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
    assert counts(dry) == {**counts(real), "dry_run": True}
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

    assert counts(dry) == {**counts(real), "dry_run": True}
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


# --- batches ------------------------------------------------------------------------------------


def make_threads(count: int, posts: int = 0, reactions: int = 0) -> list[Thread]:
    threads = Thread.objects.bulk_create(
        Thread(title=f"t{i}", created_at=timezone.now() - OLD) for i in range(count)
    )
    made = Post.objects.bulk_create(
        Post(thread=thread, body=str(i)) for thread in threads for i in range(posts)
    )
    Reaction.objects.bulk_create(
        Reaction(post=post, emoji=str(i)) for post in made for i in range(reactions)
    )
    return threads


def test_batches_are_keyset_pages_and_progress_follows_them() -> None:
    make_threads(7, posts=2)
    calls: list[tuple[int, int | None]] = []

    result = purge(
        Thread.objects.all(), batch_size=3, progress=lambda done, total: calls.append((done, total))
    )

    assert result["batches"] == 3
    assert counts(result)["deleted"] == {"testapp.Post": 14, "testapp.Thread": 7}
    assert calls == [(3, 7), (6, 7), (7, 7)]
    assert not Thread.objects.exists()


def test_a_dry_run_walks_the_same_batches() -> None:
    make_threads(7, posts=2)
    calls: list[tuple[int, int | None]] = []

    result = purge(
        Thread.objects.all(),
        batch_size=3,
        dry_run=True,
        progress=lambda done, total: calls.append((done, total)),
    )

    assert result["batches"] == 3
    assert calls == [(3, 7), (6, 7), (7, 7)]
    assert result["deleted"] == {"testapp.Post": 14, "testapp.Thread": 7}
    assert Thread.objects.count() == 7


def test_the_batch_size_follows_the_setting() -> None:
    make_threads(5)
    with override_settings(HOUSEKEEPING={"PURGE_BATCH_SIZE": 2}):
        assert purge(Thread.objects.all())["batches"] == 3


def test_a_second_purge_right_after_deletes_nothing() -> None:
    make_threads(5, posts=1, reactions=1)

    first = purge(Thread.objects.all(), batch_size=2)
    second = purge(Thread.objects.all(), batch_size=2)

    assert first["total"] == 15
    assert counts(second) == {"deleted": {}, "total": 0, "dry_run": False, "protected": {}}


def test_a_queryset_that_repeats_rows_through_a_join_deletes_each_once() -> None:
    make_threads(3, posts=4)

    result = purge(Thread.objects.filter(posts__body__in=["0", "1", "2"]), batch_size=2)

    assert result["deleted"] == {"testapp.Post": 12, "testapp.Thread": 3}


@pytest.mark.parametrize("dry_run", [False, True])
def test_the_statements_of_a_batch_do_not_grow_with_its_rows(dry_run: bool) -> None:
    """Without delete receivers no row is loaded: the same statements for 1 or 40 children."""
    # The holds' lock row, which a flush (an earlier test's) deletes: the first purge creates
    # it again, two statements more, once.
    purge(Thread.objects.none())
    make_threads(2, posts=1, reactions=1)
    with CaptureQueriesContext(connection) as small:
        purge(Thread.objects.all(), dry_run=dry_run)
    Thread.objects.all().delete()
    make_threads(2, posts=20, reactions=2)
    with CaptureQueriesContext(connection) as large:
        purge(Thread.objects.all(), dry_run=dry_run)

    assert len(large.captured_queries) == len(small.captured_queries)


def test_no_statement_has_a_limit_inside_an_in_subquery(forum: dict[str, Any]) -> None:
    """MySQL and MariaDB refuse ``IN (SELECT ... LIMIT n)``."""
    Attachment.objects.create(thread=forum["old"], post=forum["old"].posts.first())
    with CaptureQueriesContext(connection) as queries:
        purge(old_threads(), batch_size=1)

    subqueries = [
        subquery
        for query in queries.captured_queries
        for subquery in in_subqueries(query["sql"].upper())
    ]
    assert subqueries  # cascades select through their parents
    assert not [subquery for subquery in subqueries if "LIMIT" in subquery]


def in_subqueries(sql: str) -> Iterator[str]:
    """The text of every ``IN (SELECT ...)`` in ``sql``, up to its closing parenthesis."""
    start = sql.find(" IN (SELECT")
    while start != -1:
        begin = start + len(" IN (")
        depth, end = 1, begin
        while depth:
            depth += {"(": 1, ")": -1}.get(sql[end], 0)
            end += 1
        yield sql[begin : end - 1]
        start = sql.find(" IN (SELECT", begin)


def test_with_receivers_each_batch_goes_through_djangos_collector(
    post_delete_receivers: list[tuple[str, int]],
) -> None:
    make_threads(6, posts=2)
    batches: list[int] = []

    def progress(done: int, total: int | None) -> None:
        batches.append(sum(1 for name, _ in post_delete_receivers if name == "post_delete"))

    result = purge(Thread.objects.all(), batch_size=2, progress=progress)

    # The receivers saw each batch's posts before the next batch began.
    assert batches == [4, 8, 12]
    assert result["deleted"] == {"testapp.Post": 12, "testapp.Thread": 6}


def test_inside_a_transaction_each_batch_is_a_savepoint(forum: dict[str, Any]) -> None:
    with transaction.atomic():
        result = purge(old_threads(), batch_size=1)
        assert result["batches"] == 2
        assert list(Thread.objects.values_list("title", flat=True)) == ["young"]


def test_a_proxy_models_rows_are_reported_under_the_proxy(forum: dict[str, Any]) -> None:
    result = purge(OldThread.objects.filter(title="old"))

    assert result["deleted"] == {"testapp.OldThread": 1, "testapp.Post": 3, "testapp.Reaction": 4}


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("batch_size", 0),
        ("batch_size", 1.5),
        ("max_rows", -1),
        ("max_fraction", 1.5),
        ("max_fraction", 0),
        ("max_seconds", "soon"),
    ],
)
def test_bad_arguments_are_value_errors(argument: str, value: Any) -> None:
    with pytest.raises(ValueError, match=argument):
        purge(Thread.objects.all(), **{argument: value})


@pytest.fixture
def small_adaptive_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Adaptive batches that start with one thread and aim at ten rows."""
    engine = importlib.import_module("django_housekeeping.purging.engine")
    monkeypatch.setattr(engine, "FIRST_BATCH_SIZE", 1)
    monkeypatch.setattr(engine, "BATCH_ROWS", 10)
    monkeypatch.setattr(engine, "MYSQL_BATCH_ROWS", 10)
    monkeypatch.setattr(engine, "COLLECTOR_BATCH_ROWS", 5)


@pytest.mark.usefixtures("small_adaptive_batches")
@pytest.mark.parametrize("dry_run", [False, True])
def test_adaptive_batches_aim_at_a_number_of_rows(dry_run: bool) -> None:
    make_threads(2, posts=4)  # five rows a thread
    make_threads(20)  # one row a thread
    calls: list[int] = []

    result = purge(
        Thread.objects.all(), dry_run=dry_run, progress=lambda done, total: calls.append(done)
    )

    # 1 thread (5 rows) -> 2 threads (5 + 1 rows) -> 10 * 2 // 6 = 3 threads (3 rows) ->
    # 10 threads (10 rows) -> 10 threads: the last 6.
    assert calls == [1, 3, 6, 16, 22]
    assert result["batches"] == 5
    assert result["total"] == 30


@pytest.fixture
def every_delete_signal() -> Iterator[list[tuple[str, str, int, bool]]]:
    """(signal, model, pk, whether the row is still in the database) of every delete signal."""
    seen: list[tuple[str, str, int, bool]] = []

    def receiver(signal: Any, sender: Any, instance: Any, **kwargs: Any) -> None:
        name = "pre" if signal is pre_delete else "post"
        exists = sender._base_manager.filter(pk=instance.pk).exists()
        seen.append((name, sender._meta.label, instance.pk, exists))

    for model in (Thread, Post, Reaction):
        pre_delete.connect(receiver, sender=model, weak=False)
        post_delete.connect(receiver, sender=model, weak=False)
    yield seen
    for model in (Thread, Post, Reaction):
        pre_delete.disconnect(receiver, sender=model)
        post_delete.disconnect(receiver, sender=model)


def test_signals_are_sent_as_querysets_delete_sends_them(
    forum: dict[str, Any], every_delete_signal: list[tuple[str, str, int, bool]]
) -> None:
    with transaction.atomic():
        old_threads().delete()
        django = list(every_delete_signal)
        transaction.set_rollback(True)
    every_delete_signal.clear()

    purge(old_threads())

    # The same signals for the same rows; every pre_delete first, while its row exists; every
    # post_delete once its row is gone (the order of models may differ from Django's).
    assert sorted(every_delete_signal) == sorted(django)
    names = [name for name, *_ in every_delete_signal]
    assert names == sorted(names, key=["pre", "post"].index)
    assert {(name, exists) for name, _, _, exists in every_delete_signal} == {
        ("pre", True),
        ("post", False),
    }


@pytest.mark.usefixtures("small_adaptive_batches", "post_delete_receivers")
def test_adaptive_batches_are_smaller_when_rows_are_loaded() -> None:
    make_threads(2, posts=4)  # five rows a thread
    make_threads(20)  # one row a thread
    calls: list[int] = []

    purge(Thread.objects.all(), progress=lambda done, total: calls.append(done))

    # 1 thread (5 rows) -> 5 // 5 = 1 thread (5 rows) -> 1 (1 row) -> 4 -> 5 -> 5 -> 5 -> 1.
    assert calls == [1, 2, 3, 7, 12, 17, 22]
