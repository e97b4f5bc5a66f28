"""The admin of legal holds and erasures: the mixin's "Place legal hold" and "Erase" actions with
their intermediate pages, the holds' list with its "Release" action, the read-only erasure
records, and the control layer's permissions on each."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_housekeeping import holds
from django_housekeeping.models import ErasureRecord, LegalHold
from tests.testapp.models import Post, Reaction, Thread

pytestmark = pytest.mark.django_db

THREADS = reverse("admin:testapp_thread_changelist")
HOLDS = reverse("admin:django_housekeeping_legalhold_changelist")
RECORDS = reverse("admin:django_housekeeping_erasurerecord_changelist")
StaffClient = Callable[..., tuple[Client, Any]]


def thread_admin_perms(client_user: tuple[Client, Any]) -> tuple[Client, Any]:
    """Staff users of these tests may also see and change threads (to reach their changelist)."""
    from django.contrib.auth.models import Permission

    client, user = client_user
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="testapp", codename__endswith="thread")
    )
    return client, user


@pytest.fixture
def threads() -> list[Thread]:
    now = timezone.now()
    made = [Thread.objects.create(title=f"t{i}", created_at=now) for i in range(3)]
    post = Post.objects.create(thread=made[0], body="b")
    Reaction.objects.create(post=post, emoji="+")
    return made


def action(client: Client, name: str, rows: list[Thread], **extra: str) -> Any:
    data = {"action": name, ACTION_CHECKBOX_NAME: [str(row.pk) for row in rows], **extra}
    return client.post(THREADS, data)


def test_place_legal_hold_asks_for_the_reason_then_holds(
    staff_client: StaffClient, threads: list[Thread]
) -> None:
    client, user = thread_admin_perms(staff_client("change_legalhold"))

    page = action(client, "place_legal_hold", threads[:2])
    assert page.status_code == 200
    assert page.templates[0].name == "admin/django_housekeeping/place_hold.html"
    content = page.content.decode()
    assert 'name="csrfmiddlewaretoken"' in content
    assert 'name="reason"' in content
    assert not LegalHold.objects.exists()

    # Without a reason the page comes back with the error, and nothing is held.
    again = action(client, "place_legal_hold", threads[:2], post="yes", reason=" ")
    assert again.status_code == 200
    assert "This field is required" in again.content.decode()
    assert not LegalHold.objects.exists()
    past = (timezone.localtime() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    again = action(client, "place_legal_hold", threads[:2], post="yes", reason="x", until=past)
    assert "This time has passed" in again.content.decode()

    until = (timezone.localtime() + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")
    done = action(
        client, "place_legal_hold", threads[:2], post="yes", reason="Dispute", until=until
    )
    assert done.status_code == 302
    assert holds.is_held(threads[0])
    assert holds.is_held(threads[1])
    assert not holds.is_held(threads[2])
    hold = LegalHold.objects.filter(object_pk=str(threads[0].pk)).get()
    assert hold.placed_by == user
    assert hold.reason == "Dispute"
    assert hold.until is not None


def test_the_mixin_offers_its_actions_only_to_those_allowed(
    staff_client: StaffClient, threads: list[Thread]
) -> None:
    client, _user = thread_admin_perms(staff_client())
    content = client.get(THREADS).content.decode()
    assert "place_legal_hold" not in content
    assert "erase_objects" not in content

    # Posting the action anyway is no way around it.
    assert action(client, "place_legal_hold", threads, post="yes", reason="x").status_code == 302
    assert action(client, "erase_objects", threads, post="yes", reason="x").status_code == 302
    assert not LegalHold.objects.exists()
    assert Thread.objects.count() == 3

    holder, _ = thread_admin_perms(staff_client("change_legalhold", "add_erasurerecord"))
    content = holder.get(THREADS).content.decode()
    assert "place_legal_hold" in content
    assert "erase_objects" in content


def test_erase_shows_the_blast_radius_then_erases(
    staff_client: StaffClient, threads: list[Thread]
) -> None:
    client, user = thread_admin_perms(staff_client("add_erasurerecord"))
    holds.place(threads[1], reason="Court order")

    page = action(client, "erase_objects", threads[:2])
    assert page.status_code == 200
    content = page.content.decode()
    assert "testapp.Reaction" in content  # the first thread's cascade
    assert f"testapp.Thread:{threads[1].pk}" in content  # the second is held
    assert Thread.objects.count() == 3
    assert not ErasureRecord.objects.exists()  # a preview records nothing

    done = action(client, "erase_objects", threads[:2], post="yes", reason="Request #3")
    assert done.status_code == 302
    assert not Thread.objects.filter(pk=threads[0].pk).exists()
    assert Thread.objects.filter(pk=threads[1].pk).exists()
    statuses = dict(ErasureRecord.objects.values_list("object_pk", "status"))
    assert statuses == {str(threads[0].pk): "erased", str(threads[1].pk): "refused"}
    assert set(ErasureRecord.objects.values_list("requested_by", flat=True)) == {user.pk}


def test_the_holds_list_filters_and_releases(
    staff_client: StaffClient, threads: list[Thread]
) -> None:
    holds.place(threads[0], reason="Active one")
    holds.place(threads[1], reason="Released one")
    holds.release(threads[1])
    client, user = staff_client("change_legalhold")

    content = client.get(HOLDS).content.decode()
    assert "Active one" in content
    assert "Released one" in content
    assert f"testapp.Thread {threads[0].pk}" in content
    active = client.get(HOLDS, {"state": "active"}).content.decode()
    assert "Active one" in active
    assert "Released one" not in active
    released = client.get(HOLDS, {"state": "released"}).content.decode()
    assert "Released one" in released
    assert "Active one" not in released

    hold = LegalHold.objects.get(reason="Active one")
    response = client.post(HOLDS, {"action": "release", ACTION_CHECKBOX_NAME: [str(hold.pk)]})
    assert response.status_code == 302
    hold.refresh_from_db()
    assert hold.released_by == user
    assert not holds.is_held(threads[0])
    # Never deleted: no delete action, no delete page.
    assert "delete_selected" not in client.get(HOLDS).content.decode()
    delete_url = reverse("admin:django_housekeeping_legalhold_delete", args=[hold.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    assert LegalHold.objects.count() == 2


def test_without_change_legalhold_the_release_is_denied(
    staff_client: StaffClient, threads: list[Thread]
) -> None:
    hold = holds.place(threads[0], reason="Kept")
    viewer, _ = staff_client("view_taskrun")
    assert viewer.get(HOLDS).status_code == 200
    assert "release" not in viewer.get(HOLDS).content.decode().split('name="action"')[-1][:500]
    viewer.post(HOLDS, {"action": "release", ACTION_CHECKBOX_NAME: [str(hold.pk)]})
    hold.refresh_from_db()
    assert hold.released_at is None

    nobody, _ = staff_client()
    assert nobody.get(HOLDS).status_code == 403
    assert nobody.get(RECORDS).status_code == 403


def test_the_erasure_records_are_read_only(
    staff_client: StaffClient, threads: list[Thread]
) -> None:
    from django_housekeeping import erase

    record = erase(threads[2], reason="Request #9")
    client, _ = staff_client("add_erasurerecord")
    content = client.get(RECORDS).content.decode()
    assert "Request #9" in content
    change = reverse("admin:django_housekeeping_erasurerecord_change", args=[record.pk])
    page = client.get(change)
    assert page.status_code == 200
    assert 'name="reason"' not in page.content.decode()  # read-only
    delete = reverse("admin:django_housekeeping_erasurerecord_delete", args=[record.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert ErasureRecord.objects.filter(pk=record.pk).exists()
