"""``POST erasures`` and ``GET erasures``: the permission through the control layer, 201 / 200 /
409 / 404 / 400, and the records."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from django_housekeeping import holds
from django_housekeeping.models import ErasureRecord
from tests.helpers import API, SHORT_TEST_KEY, client_for, make_user
from tests.testapp.models import Post, Reaction, Thread

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("api_settings"), SHORT_TEST_KEY]

URL = f"{API}erasures"


@pytest.fixture
def thread() -> Thread:
    thread = Thread.objects.create(title="Secret-Title", created_at=timezone.now())
    post = Post.objects.create(thread=thread, body="b")
    Reaction.objects.create(post=post, emoji="+")
    return thread


def body(thread: Thread, **extra: Any) -> dict[str, Any]:
    return {"model": "testapp.Thread", "pk": thread.pk, "reason": "Request #7", **extra}


def test_without_the_permission_403_and_nothing_deleted(thread: Thread) -> None:
    for user in (make_user("staff", staff=True), make_user("viewer", permissions=["view_taskrun"])):
        response = client_for(user).post(URL, body(thread), format="json")
        assert response.status_code == 403
        assert "django_housekeeping.add_erasurerecord" in response.json()["detail"]
    assert client_for(None).post(URL, body(thread), format="json").status_code == 401
    assert Thread.objects.filter(pk=thread.pk).exists()
    assert not ErasureRecord.objects.exists()


def test_with_the_permission_201_and_the_record(thread: Thread) -> None:
    user = make_user("dpo", permissions=["add_erasurerecord"])
    response = client_for(user).post(URL, body(thread), format="json")

    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["status"] == "erased"
    assert data["model"] == "testapp.Thread"
    assert data["pk"] == str(thread.pk)
    assert data["deleted"] == {"testapp.Post": 1, "testapp.Reaction": 1, "testapp.Thread": 1}
    assert data["total"] == 3
    assert data["requested_by"] == "dpo"
    assert data["dry_run"] is False
    assert not Thread.objects.filter(pk=thread.pk).exists()
    assert "Secret-Title" not in response.content.decode()


def test_a_dry_run_is_200_and_deletes_nothing(thread: Thread) -> None:
    user = make_user("dpo", permissions=["add_erasurerecord"])
    response = client_for(user).post(
        URL, body(thread, pk=str(thread.pk), dry_run=True), format="json"
    )
    assert response.status_code == 200
    assert response.json()["dry_run"] is True
    assert response.json()["total"] == 3
    assert Thread.objects.filter(pk=thread.pk).exists()


def test_a_hold_in_the_way_is_409_with_the_held_rows(thread: Thread) -> None:
    reaction = Reaction.objects.get()
    holds.place(reaction, reason="Evidence")
    user = make_user("dpo", permissions=["add_erasurerecord"])

    response = client_for(user).post(URL, body(thread), format="json")

    assert response.status_code == 409
    data = response.json()
    assert data["held"] == [f"testapp.Reaction:{reaction.pk}"]
    assert "nothing was deleted" in data["detail"]
    assert data["erasure"]["status"] == "refused"
    assert Thread.objects.filter(pk=thread.pk).exists()
    assert Reaction.objects.filter(pk=reaction.pk).exists()


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        ({"model": "testapp.Nope", "pk": 1, "reason": "x"}, 404, "Unknown model"),
        ({"model": "Thread", "pk": 1, "reason": "x"}, 400, "app_label.Model"),
        ({"model": "testapp.Thread", "pk": "abc", "reason": "x"}, 404, "no primary key"),
        ({"model": "testapp.Thread", "pk": "a\x00", "reason": "x"}, 400, "pk"),
        ({"model": "testapp.Thread", "pk": True, "reason": "x"}, 400, "pk"),
        ({"model": "testapp.Thread", "pk": [1], "reason": "x"}, 400, "pk"),
        ({"model": "testapp.Thread", "pk": 1}, 400, "reason"),
        ({"model": "testapp.Thread", "pk": 1, "reason": " "}, 400, "reason"),
        ({"model": "testapp.Thread", "pk": 1, "reason": "x", "dry_run": "yes"}, 400, "dry_run"),
        ({"pk": 1, "reason": "x"}, 400, "model"),
        ({"model": "testapp.Thread", "pk": 999999, "reason": "x"}, 404, "No testapp.Thread"),
    ],
)
def test_bad_input(thread: Thread, payload: dict[str, Any], status: int, field: str) -> None:
    user = make_user("dpo", permissions=["add_erasurerecord"])
    response = client_for(user).post(URL, payload, format="json")
    assert response.status_code == status
    assert field in response.json()["detail"]
    assert Thread.objects.filter(pk=thread.pk).exists()


def test_the_records_for_viewers_and_erasers_only(thread: Thread) -> None:
    eraser = make_user("dpo", permissions=["add_erasurerecord"])
    client_for(eraser).post(URL, body(thread, dry_run=True), format="json")
    client_for(eraser).post(URL, body(thread), format="json")

    for user in (eraser, make_user("viewer", permissions=["view_taskrun"])):
        response = client_for(user).get(URL)
        assert response.status_code == 200
        assert [(r["dry_run"], r["status"]) for r in response.json()] == [
            (False, "erased"),
            (True, "erased"),
        ]
    assert len(client_for(eraser).get(URL, {"limit": 1}).json()) == 1
    assert client_for(eraser).get(URL, {"limit": 0}).status_code == 400
    assert client_for(make_user("staff", staff=True)).get(URL).status_code == 403
