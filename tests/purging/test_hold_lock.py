"""The lock that serializes placing a legal hold with deleting a batch (issue 22): what each
database is asked, once per batch and before the holds are read; what ``place()`` and
``erase()`` take; and how a hold refused because its row is gone reaches the admin. The race
itself, with real processes, is tests/purging/test_hold_race.py."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.db import connection, connections, transaction
from django.db.models.signals import post_save
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from django_housekeeping import erase, holds
from django_housekeeping.models import HoldLock, LegalHold
from django_housekeeping.purging.engine import purge
from django_housekeeping.running import control
from tests.testapp.models import Post, Thread

pytestmark = pytest.mark.django_db

LOCK_TABLE = HoldLock._meta.db_table
HOLDS_TABLE = LegalHold._meta.db_table
SHARE = {"postgresql": "FOR SHARE", "mysql": "LOCK IN SHARE MODE", "sqlite": "UPDATE"}
EXCLUSIVE = {"postgresql": "FOR UPDATE", "mysql": "FOR UPDATE", "sqlite": "UPDATE"}


def make_threads(count: int, *, age: timedelta = timedelta(days=40)) -> list[Thread]:
    threads = [
        Thread.objects.create(title=f"t{i}", created_at=timezone.now() - age) for i in range(count)
    ]
    for thread in threads:
        Post.objects.create(thread=thread, body="b")
    return threads


def lock_statements(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if LOCK_TABLE in q["sql"]]


def test_each_batch_locks_once_in_share_mode_before_it_reads_the_holds() -> None:
    make_threads(3)
    holds.lock(connection.alias, exclusive=False)  # the row a flush may have deleted

    with CaptureQueriesContext(connection) as queries:
        result = purge(Thread.objects.all(), batch_size=1)

    assert result["batches"] == 3
    statements = [q["sql"] for q in queries.captured_queries]
    locks = [i for i, sql in enumerate(statements) if LOCK_TABLE in sql]
    reads = [i for i, sql in enumerate(statements) if HOLDS_TABLE in sql]
    # One statement a batch (and the last, empty, batch): the hot path's only cost.
    assert len(locks) == 4
    assert all(SHARE[connection.vendor] in statements[i] for i in locks)
    # Each batch's holds are read after its lock, and before the next one.
    assert len(reads) == 3
    assert all(locks[n] < reads[n] < locks[n + 1] for n in range(3))


def test_a_dry_run_takes_no_lock() -> None:
    make_threads(2)
    with CaptureQueriesContext(connection) as queries:
        purge(Thread.objects.all(), batch_size=1, dry_run=True)
    assert lock_statements(queries) == []


@pytest.mark.databases("postgres", "mysql")
def test_the_lock_row_is_created_again_when_a_flush_deleted_it() -> None:
    HoldLock.objects.all().delete()
    make_threads(2)

    result = purge(Thread.objects.all(), batch_size=5)

    assert result["deleted"] == {"testapp.Post": 2, "testapp.Thread": 2}
    assert list(HoldLock.objects.values_list("pk", flat=True)) == [holds.LOCK_ROW]


def test_place_locks_exclusively_then_refuses_a_row_that_is_gone() -> None:
    thread, kept = make_threads(2)
    holds.lock(connection.alias, exclusive=False)
    purge(Thread.objects.filter(pk=thread.pk))

    with CaptureQueriesContext(connection) as queries:
        with pytest.raises(holds.HoldRefused) as refused:
            holds.place(thread, reason="Too late")
        placed = holds.place(kept, reason="In time")

    assert str(refused.value) == (
        f"cannot hold testapp.Thread {thread.pk}: the row no longer exists (a purge or an "
        "erasure deleted it); no hold was placed"
    )
    assert (refused.value.label, refused.value.pk) == ("testapp.Thread", thread.pk)
    locks = lock_statements(queries)
    assert len(locks) == 2
    assert all(EXCLUSIVE[connection.vendor] in sql for sql in locks)
    assert list(LegalHold.objects.all()) == [placed]


def test_an_erasure_locks_exclusively_before_it_deletes() -> None:
    (thread,) = make_threads(1)
    holds.lock(connection.alias, exclusive=False)

    with CaptureQueriesContext(connection) as queries:
        record = erase(thread, reason="Asked")

    statements = [q["sql"] for q in queries.captured_queries]
    first_lock = next(i for i, sql in enumerate(statements) if LOCK_TABLE in sql)
    first_delete = next(i for i, sql in enumerate(statements) if sql.startswith("DELETE"))
    assert EXCLUSIVE[connection.vendor] in statements[first_lock]
    assert first_lock < first_delete
    assert record.deleted == {"testapp.Post": 1, "testapp.Thread": 1}
    # A hold on the erased row is refused.
    with pytest.raises(holds.HoldRefused):
        holds.place(thread, reason="Too late")


def test_a_hold_refused_by_a_purge_is_one_message_on_the_admin_and_in_the_control_layer(
    staff_client: Callable[..., tuple[Client, Any]],
) -> None:
    first, second = make_threads(2)
    client, user = staff_client("change_legalhold")
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="testapp", codename__endswith="thread")
    )

    def purge_the_other(sender: Any, instance: LegalHold, **kwargs: Any) -> None:
        # The first hold is written: a purge deletes the other row before its turn.
        purge(Thread.objects.filter(pk__in=[first.pk, second.pk]).exclude(pk=instance.object_pk))

    post_save.connect(purge_the_other, sender=LegalHold, dispatch_uid="test")
    try:
        response = client.post(
            reverse("admin:testapp_thread_changelist"),
            {
                "action": "place_legal_hold",
                ACTION_CHECKBOX_NAME: [str(first.pk), str(second.pk)],
                "post": "yes",
                "reason": "Dispute",
            },
            follow=True,
        )
    finally:
        post_save.disconnect(dispatch_uid="test", sender=LegalHold)

    assert response.status_code == 200
    (hold,) = LegalHold.objects.all()
    held, gone = (first, second) if hold.object_pk == str(first.pk) else (second, first)
    messages = [str(message) for message in response.context["messages"]]
    assert messages == [
        f"testapp.Thread {gone.pk} no longer exists.",
        "Placed a legal hold on 1 row: no purge deletes it until the hold is released.",
    ]
    assert holds.is_held(held)
    assert not Thread.objects.filter(pk=gone.pk).exists()

    # The control layer says the same to the API and the CLI: NotFound, one line.
    with pytest.raises(control.NotFound, match=f"testapp.Thread {gone.pk} no longer exists"):
        control.place_hold(control.person(user, "api"), gone, reason="Again")


@pytest.mark.databases("postgres", "mysql")
@pytest.mark.django_db(transaction=True)
def test_batches_of_purges_in_parallel_do_not_wait_for_each_other() -> None:
    """Share mode: a batch holding the lock does not keep another purge's batch waiting."""
    make_threads(4)
    holds.lock(connection.alias, exclusive=False)  # the row a flush may have deleted
    other: dict[str, Any] = {}

    def second_purge() -> None:
        try:
            other["result"] = purge(Thread.objects.filter(title__in=["t2", "t3"]), batch_size=5)
        finally:
            connections.close_all()

    with transaction.atomic():  # a batch of the first purge, holding the lock in share mode
        holds.lock(connection.alias, exclusive=False)
        first = purge(Thread.objects.filter(title__in=["t0", "t1"]), batch_size=5)
        thread = threading.Thread(target=second_purge)
        thread.start()
        # The second purge ends while the first still holds the lock (an exclusive lock would
        # keep it waiting until this transaction ends, and this wait would fail).
        thread.join(60)
        assert not thread.is_alive(), "the second purge waited for the first one's lock"
    assert (
        first["deleted"] == other["result"]["deleted"] == {"testapp.Post": 2, "testapp.Thread": 2}
    )
    assert not Thread.objects.exists()
