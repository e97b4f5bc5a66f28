"""The retention policies' preview: the admin page, its Preview button (a dry run started through
the control layer), the API's ``GET policies`` and the dashboard's panel show the rows due and the
blast radius, with the delete receivers that would run, and delete nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.db.models.signals import post_delete, pre_delete
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from django_housekeeping import group, holds, presenters, retention, run_task
from django_housekeeping.models import TaskRun
from django_housekeeping.running import control
from tests.helpers import API, DASHBOARD, SHORT_TEST_KEY, client_for, make_run, make_user, wait_for
from tests.testapp.models import Chat, ChatLine

POLICIES = "admin:django_housekeeping_policies"
PREVIEW = "admin:django_housekeeping_policy_preview"
NAME = "testapp.chat_retention"

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("temporary_tasks", "runs_finish", "api_settings"),
    SHORT_TEST_KEY,
]


def line_deleted(sender: Any, **kwargs: Any) -> None:
    """A delete receiver: the preview names it, and a dry run does not call it."""
    raise AssertionError("a preview must not delete")


@pytest.fixture
def receivers() -> Iterator[None]:
    post_delete.connect(line_deleted, sender=ChatLine)
    yield
    post_delete.disconnect(line_deleted, sender=ChatLine)


@pytest.fixture
def policy(temporary_tasks: None) -> None:
    """Free chats kept 30 days, pro ones 365: 3 chats due (with 5 lines), 2 not."""
    retention(
        Chat,
        field="updated_at",
        keep=30,
        keep_by="plan",
        keep_for={"pro": 365},
        schedule="15 4 * * *",
    )
    now = timezone.now()
    for title, plan, days, lines in [
        ("free-old", "free", 40, 2),
        ("team-old", "team", 31, 0),
        ("pro-old", "pro", 400, 3),
        ("free-new", "free", 10, 1),
        ("pro-new", "pro", 200, 1),
    ]:
        chat = Chat.objects.create(title=title, plan=plan, updated_at=now - timedelta(days=days))
        ChatLine.objects.bulk_create(ChatLine(chat=chat) for _ in range(lines))


def counts() -> tuple[int, int]:
    return Chat.objects.count(), ChatLine.objects.count()


def finished(run: TaskRun) -> TaskRun:
    def ended() -> bool:
        run.refresh_from_db()
        return run.is_finished

    wait_for(ended, 30, f"run #{run.pk} to finish")
    return run


# -- the admin page ------------------------------------------------------------------------------


@pytest.mark.usefixtures("policy")
def test_the_page_lists_each_policy_with_its_windows_and_rows_due(admin_client: Client) -> None:
    # A hold on a row due counts; a hold on a row not due (free-new) does not.
    for title in ("pro-old", "free-new"):
        holds.place(Chat.objects.get(title=title), reason="dispute")
    with override_settings(HOUSEKEEPING={"TASKS": {NAME: {"keep_for": {"team": 60}}}}):
        response = admin_client.get(reverse(POLICIES))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-policy="{NAME}"' in html
    assert "testapp.Chat.updated_at, per plan" in html
    assert "every other row: 30 days" in html
    assert "plan=&#x27;pro&#x27;: 365 days" in html
    assert "plan=&#x27;team&#x27;: 60 days <small>(from settings)</small>" in html
    # team-old (31 days) is no longer due under the settings' 60 days: free-old and pro-old are.
    assert '<td class="count rows-due">2</td>' in html
    assert '<td class="count held">1</td>' in html
    assert "cron(&#x27;15 4 * * *&#x27;)" in html
    assert 'aria-label="Preview testapp.chat_retention"' in html
    assert counts() == (5, 7)


def test_the_page_without_policies(admin_client: Client) -> None:
    response = admin_client.get(reverse(POLICIES))
    assert "No retention policies are registered" in response.content.decode()


def test_the_history_and_the_tasks_page_link_to_it(admin_client: Client) -> None:
    url = reverse(POLICIES)
    for page in ("admin:django_housekeeping_taskrun_changelist", "admin:django_housekeeping_tasks"):
        assert f'href="{url}"' in admin_client.get(reverse(page)).content.decode()


@pytest.mark.usefixtures("policy", "receivers")
def test_preview_dry_runs_and_shows_the_blast_radius_and_receivers(admin_client: Client) -> None:
    before = counts()

    response = admin_client.post(reverse(PREVIEW), {"policy": NAME})

    assert response.status_code == 302
    run = TaskRun.objects.get(task_name=NAME)
    assert run.dry_run
    assert run.trigger == TaskRun.Trigger.ADMIN
    assert response.url == reverse("admin:django_housekeeping_policy_preview_result", args=[run.pk])
    assert finished(run).status == TaskRun.Status.SUCCEEDED
    page = admin_client.get(response.url)
    html = page.content.decode()
    assert "Nothing was deleted." in html
    assert (
        '<tr data-model="testapp.Chat"><td>testapp.Chat</td>'
        '<td class="count" style="text-align: right">3</td>'
    ) in html
    assert (
        '<tr data-model="testapp.ChatLine"><td>testapp.ChatLine</td>'
        '<td class="count" style="text-align: right">5</td>'
    ) in html
    assert (
        "<td>testapp.ChatLine</td><td>post_delete</td>"
        "<td><code>tests.test_retention_preview.line_deleted</code></td>"
    ) in html
    assert "every other row: older than" in html
    assert "(365 days)" in html
    assert counts() == before
    # The list shows the preview as the latest dry run.
    listed = admin_client.get(reverse(POLICIES)).content.decode()
    assert f"Dry run #{run.pk}</a>: would delete 8" in listed


@pytest.mark.usefixtures("policy")
def test_a_preview_in_progress_refreshes_itself(admin_client: Client) -> None:
    run = make_run(NAME, dry_run=True, status=TaskRun.Status.RUNNING, progress_done=2)
    html = admin_client.get(
        reverse("admin:django_housekeeping_policy_preview_result", args=[run.pk])
    ).content.decode()
    assert '<meta http-equiv="refresh"' in html
    assert "2 of ? rows counted so far." in html


@pytest.mark.usefixtures("policy")
@pytest.mark.parametrize("pk", ["0", "abc", "99999999999999999999"])
def test_a_preview_page_of_no_dry_run_goes_back(admin_client: Client, pk: str) -> None:
    if pk == "0":
        pk = str(make_run(NAME, dry_run=False).pk)
    response = admin_client.get(
        reverse("admin:django_housekeeping_policy_preview_result", args=[pk])
    )
    assert response.status_code == 302
    assert response.url == reverse(POLICIES)


@pytest.mark.usefixtures("policy")
@pytest.mark.parametrize("name", ["", "threads", "no-such"])
def test_preview_of_no_policy_is_refused(admin_client: Client, name: str) -> None:
    response = admin_client.post(reverse(PREVIEW), {"policy": name})
    assert response.status_code == 302
    assert response.url == reverse(POLICIES)
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        f"No retention policy is called {name!r}."
    ]
    assert not TaskRun.objects.exists()


@pytest.mark.usefixtures("policy")
def test_preview_needs_post_and_csrf(admin_user: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.get(reverse(PREVIEW)).status_code == 405
    assert client.post(reverse(PREVIEW), {"policy": NAME}).status_code == 403
    assert not TaskRun.objects.exists()


@pytest.mark.usefixtures("policy")
def test_permissions(staff_client: Any) -> None:
    nobody, _ = staff_client()
    assert nobody.get(reverse(POLICIES)).status_code == 403
    assert nobody.post(reverse(PREVIEW), {"policy": NAME}).status_code == 403

    viewer, _ = staff_client("view_taskrun")
    page = viewer.get(reverse(POLICIES))
    assert page.status_code == 200
    assert "Preview testapp.chat_retention" not in page.content.decode()
    assert viewer.post(reverse(PREVIEW), {"policy": NAME}).status_code == 403
    assert not TaskRun.objects.exists()

    runner, _ = staff_client("view_taskrun", "run_task")
    assert runner.post(reverse(PREVIEW), {"policy": NAME}).status_code == 302
    assert finished(TaskRun.objects.get()).dry_run
    assert counts() == (5, 7)


# -- the API and the dashboard -------------------------------------------------------------------


@pytest.mark.usefixtures("policy", "receivers")
def test_api_policies_show_rows_due_and_the_latest_preview() -> None:
    admin = make_user("admin", superuser=True)
    client = client_for(admin)
    started = client.post(API + "trigger", {"task": NAME, "dry_run": True}, format="json")
    assert started.status_code == 202
    finished(TaskRun.objects.get(task_name=NAME))
    before = counts()
    holds.place(Chat.objects.get(title="free-old"), reason="support case")

    response = client.get(API + "policies")

    assert response.status_code == 200
    (policy,) = response.json()
    assert policy["name"] == NAME
    assert (policy["model"], policy["field"], policy["keep_by"]) == (
        "testapp.Chat",
        "updated_at",
        "plan",
    )
    assert [(w["rows"], w["keep"], w["source"]) for w in policy["windows"]] == [
        ("every other row", "30 days", "code"),
        ("plan='pro'", "365 days", "code"),
    ]
    assert policy["rows_due"] == {"count": 3, "capped": False, "text": "3"}
    assert (policy["held_in_scope"], policy["held_text"]) == (1, "1")
    assert policy["last_run"] is None
    preview = policy["preview"]
    assert preview["dry_run"] is True
    assert [(m["model"], m["deleted"]) for m in preview["details"]["models"]] == [
        ("testapp.Chat", 3),
        ("testapp.ChatLine", 5),
    ]
    assert preview["receivers"] == [
        {
            "model": "testapp.ChatLine",
            "signal": "post_delete",
            "receivers": ["tests.test_retention_preview.line_deleted"],
        }
    ]
    assert len(preview["details"]["cutoffs"]) == 2
    assert counts() == before == (5, 7)


@pytest.mark.usefixtures("policy")
def test_api_policies_need_view_taskrun() -> None:
    assert client_for(None).get(API + "policies").status_code == 401
    visitor = client_for(make_user("visitor", staff=True))
    response = visitor.get(API + "policies")
    assert response.status_code == 403
    assert "django_housekeeping.view_taskrun" in response.json()["detail"]
    viewer = client_for(make_user("viewer", staff=True, permissions=["view_taskrun"]))
    assert viewer.get(API + "policies").status_code == 200


@pytest.mark.usefixtures("policy")
def test_rows_due_are_counted_up_to_a_limit(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(presenters.policies, "ROWS_DUE_LIMIT", 2)
    (policy,) = presenters.policies_payload()
    assert policy["rows_due"] == {"count": 2, "capped": True, "text": "more than 2"}
    html = admin_client.get(reverse(POLICIES)).content.decode()
    assert '<td class="count rows-due">more than 2</td>' in html


@pytest.mark.usefixtures("policy")
def test_the_dashboard_data_has_the_policies(admin_client: Client) -> None:
    make_run(NAME, result={"deleted": {"testapp.Chat": 1}, "total": 1, "dry_run": False})
    data = admin_client.get(DASHBOARD + "data/").json()
    (policy,) = data["policies"]
    assert policy["rows_due"]["text"] == "3"
    assert policy["last_run"]["summary"] == "deleted 1 (testapp.Chat 1)"
    assert policy["preview"] is None
    page = admin_client.get(DASHBOARD).content.decode()
    assert 'id="hk-policies"' in page


def test_receivers_of_models_without_any() -> None:
    assert presenters.delete_receivers(["testapp.Chat", "no.Such", "nolabel"]) == []
    pre_delete.connect(line_deleted, sender=Chat)
    try:
        assert presenters.delete_receivers(["testapp.Chat"]) == [
            {
                "model": "testapp.Chat",
                "signal": "pre_delete",
                "receivers": ["tests.test_retention_preview.line_deleted"],
            }
        ]
    finally:
        pre_delete.disconnect(line_deleted, sender=Chat)


@pytest.mark.usefixtures("policy")
def test_the_run_page_lists_a_policys_cutoffs(admin_client: Client) -> None:
    with override_settings(HOUSEKEEPING={"TASKS": {NAME: {"keep": 20}}}):
        run = finished(TaskRun.objects.get(pk=_dispatch_real_run()))
    assert counts() == (2, 2)  # free-new (10 days) and pro-new (200 days) are left
    html = admin_client.get(
        reverse("admin:django_housekeeping_taskrun_change", args=[run.pk])
    ).content.decode()
    assert '<ul class="housekeeping-cutoffs">' in html
    assert "every other row: older than" in html
    assert "(20 days) <small>(from settings)</small>" in html
    assert "plan=&#x27;pro&#x27;: older than" in html


def _dispatch_real_run() -> int:
    """A real run of the policy, executed here (the command line's way)."""
    (run,) = control.run_here(control.SYSTEM, [NAME]).runs
    return int(run.pk)


@pytest.mark.usefixtures("policy")
def test_a_policy_run_inside_a_group_is_its_last_run(admin_client: Client) -> None:
    # The example's "Daily Housekeeping" group runs its policies this way.
    group("hk_test.daily", [NAME])
    run_task("hk_test.daily", trigger=TaskRun.Trigger.SCHEDULE)

    (policy,) = presenters.policies_payload()

    assert policy["last_run"] is not None
    assert policy["last_run"]["summary"].startswith("deleted 8 (")
    html = admin_client.get(reverse(POLICIES)).content.decode()
    assert "<small>deleted 8 (testapp.Chat 3, testapp.ChatLine 5);" in html
    (listed,) = admin_client.get(API + "policies").json()
    assert listed["last_run"]["summary"] == policy["last_run"]["summary"]
