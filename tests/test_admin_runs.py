"""Running tasks from the admin: dispatched outside the request, and a task that deletes is
dry-run first and confirmed on an intermediate page, like Django's delete_selected."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_housekeeping import housekeeping_task
from django_housekeeping.models import TaskRun
from tests.helpers import wait_for
from tests.testapp.models import SlotRecord, Thread

CHANGELIST = "admin:django_housekeeping_taskrun_changelist"
TASKS = "admin:django_housekeeping_tasks"
RUN = "admin:django_housekeeping_run"
CONFIRM = "admin:django_housekeeping_confirm"

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("runs_finish")]


def change_url(run: TaskRun) -> str:
    return reverse("admin:django_housekeeping_taskrun_change", args=[run.pk])


def messages_of(response: Any) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


def finished(run: TaskRun) -> TaskRun:
    """``run``, refreshed once it has ended."""

    def ended() -> bool:
        run.refresh_from_db()
        return run.is_finished

    wait_for(ended, 30, f"run #{run.pk} to finish")
    return run


def old_thread() -> Thread:
    return Thread.objects.create(title="old", created_at=timezone.now() - timedelta(days=40))


def confirm_runs(response: Any) -> list[TaskRun]:
    """The dry runs a redirect to the confirmation page names."""
    assert response.status_code == 302
    url = urlsplit(response.url)
    assert url.path == reverse(CONFIRM)
    ids = [int(pk) for pk in parse_qs(url.query)["runs"][0].split(",")]
    return [TaskRun.objects.get(pk=pk) for pk in ids]


def post_action(client: Client, action: str, runs: list[TaskRun]) -> Any:
    return client.post(
        reverse(CHANGELIST),
        {"action": action, "_selected_action": [run.pk for run in runs], "index": "0"},
    )


def history_row(task_name: str) -> TaskRun:
    now = timezone.now()
    return TaskRun.objects.create(
        task_name=task_name,
        trigger=TaskRun.Trigger.SCHEDULE,
        status=TaskRun.Status.SUCCEEDED,
        started_at=now,
        finished_at=now,
        duration=timedelta(0),
    )


# -- no run executes in the request ---------------------------------------------------------------


@pytest.mark.usefixtures("temporary_tasks")
def test_run_now_returns_before_the_task_ends_and_the_run_then_succeeds(
    admin_client: Client, admin_user: Any
) -> None:
    """The task waits for the test to let it go, after the response: had the request executed
    it, the response could not have come back."""
    release, seen = threading.Event(), {}

    @housekeeping_task(name="slow", destructive=False)
    def slow() -> dict[str, bool]:
        seen["thread"] = threading.current_thread()
        assert release.wait(30)
        return {"done": True}

    try:
        response = admin_client.post(reverse(RUN), {"task": "slow", "dry_run": "0"})

        assert response.status_code == 302
        assert response.url == reverse(TASKS)
        run = TaskRun.objects.get(task_name="slow")
        assert run.status in {TaskRun.Status.QUEUED, TaskRun.Status.RUNNING}
        assert (run.trigger, run.triggered_by, run.dry_run) == ("admin", admin_user, False)
        [(level, text)] = messages_of(response)
        assert level == "success"
        assert text == (
            f'<a href="{change_url(run)}">Run #{run.pk}</a> of slow started: it runs outside '
            "this request; its page shows its progress."
        )
    finally:
        release.set()
    run = finished(run)
    assert (run.status, run.result) == (TaskRun.Status.SUCCEEDED, {"done": True})
    assert seen["thread"] is not threading.current_thread()


def test_the_run_page_refreshes_itself_while_the_run_is_active(admin_client: Client) -> None:
    now = timezone.now()
    active = TaskRun.objects.create(
        task_name="record", trigger="admin", status="running", started_at=now, active_task="record"
    )
    done = history_row("record")

    assert '<meta http-equiv="refresh"' in admin_client.get(change_url(active)).content.decode()
    assert '<meta http-equiv="refresh"' not in admin_client.get(change_url(done)).content.decode()
    TaskRun.objects.filter(pk=active.pk).update(status="succeeded", active_task=None)


def test_dry_run_is_dispatched_and_deletes_nothing(admin_client: Client) -> None:
    thread = old_thread()

    response = admin_client.post(reverse(RUN), {"task": "threads", "dry_run": "1"})

    assert response.url == reverse(TASKS)
    run = finished(TaskRun.objects.get())
    assert run.dry_run is True
    assert run.result["deleted"] == {"testapp.Thread": 1}
    assert list(Thread.objects.all()) == [thread]


# -- the confirmation of a run that deletes -------------------------------------------------------


def test_run_now_of_a_task_that_deletes_shows_the_dry_runs_counts_and_asks(
    admin_client: Client, admin_user: Any
) -> None:
    thread = old_thread()

    response = admin_client.post(reverse(RUN), {"task": "threads", "dry_run": "0"})

    [preview] = confirm_runs(response)
    assert (preview.task_name, preview.dry_run, preview.trigger) == ("threads", True, "admin")
    finished(preview)
    page = admin_client.get(response.url)
    content = page.content.decode()
    assert page.status_code == 200
    assert '<td>testapp.Thread</td><td class="count" style="text-align: right">1</td>' in content
    assert 'name="post" value="yes"' in content
    assert '<meta http-equiv="refresh"' not in content
    # Nothing is deleted before post=yes: neither by the page nor by a post without it.
    assert admin_client.post(response.url, {"runs": str(preview.pk)}).status_code == 200
    assert list(Thread.objects.all()) == [thread]
    assert TaskRun.objects.filter(dry_run=False).count() == 0

    confirmed = admin_client.post(reverse(CONFIRM), {"runs": str(preview.pk), "post": "yes"})

    assert confirmed.status_code == 302
    assert confirmed.url == reverse(TASKS)
    real = finished(TaskRun.objects.get(dry_run=False))
    assert (real.task_name, real.triggered_by, real.status) == ("threads", admin_user, "succeeded")
    assert real.result["deleted"] == {"testapp.Thread": 1}
    assert not Thread.objects.exists()
    [(level, text)] = messages_of(confirmed)
    assert level == "success"
    assert text.startswith(f'<a href="{change_url(real)}">Run #{real.pk}</a> of threads started')


@pytest.mark.usefixtures("temporary_tasks")
def test_the_confirmation_page_waits_for_its_dry_run(admin_client: Client) -> None:
    release = threading.Event()

    @housekeeping_task(name="slow_purge")
    def slow_purge(ctx: Any) -> dict[str, Any]:
        ctx.progress(5, 10)
        assert release.wait(30)
        return {"deleted": {"testapp.Thread": 0}, "total": 0, "dry_run": True}

    try:
        [preview] = confirm_runs(
            admin_client.post(reverse(RUN), {"task": "slow_purge", "dry_run": "0"})
        )
        wait_for(lambda: TaskRun.objects.get(pk=preview.pk).progress_done == 5, 30, "the progress")
        content = admin_client.get(f"{reverse(CONFIRM)}?runs={preview.pk}").content.decode()
        assert '<meta http-equiv="refresh" content="2">' in content
        assert "5 of 10 rows counted so far." in content
        assert 'name="post"' not in content
        refused = admin_client.post(reverse(CONFIRM), {"runs": str(preview.pk), "post": "yes"})
        assert refused.status_code == 302
        assert not TaskRun.objects.filter(dry_run=False).exists()
    finally:
        release.set()
    finished(preview)


def test_a_failed_dry_run_cannot_be_confirmed(admin_client: Client) -> None:
    [preview] = confirm_runs(admin_client.post(reverse(RUN), {"task": "boom", "dry_run": "0"}))
    finished(preview)

    content = admin_client.get(f"{reverse(CONFIRM)}?runs={preview.pk}").content.decode()
    refused = admin_client.post(reverse(CONFIRM), {"runs": str(preview.pk), "post": "yes"})

    assert "RuntimeError: boom: the database said no" in content
    assert 'name="post"' not in content
    assert refused.status_code == 302
    assert ("error", "Only a dry run that succeeded can be confirmed.") in messages_of(refused)
    assert not TaskRun.objects.filter(dry_run=False).exists()


@pytest.mark.parametrize("runs", ["", "abc", "99999999", "99999999999999999999999999"])
def test_a_confirmation_of_no_dry_run_runs_nothing(admin_client: Client, runs: str) -> None:
    response = admin_client.post(reverse(CONFIRM), {"runs": runs, "post": "yes"})

    assert response.status_code == 302
    assert response.url == reverse(TASKS)
    assert not TaskRun.objects.exists()


def test_a_real_run_cannot_be_confirmed_as_a_dry_run(admin_client: Client) -> None:
    real = history_row("threads")
    old_thread()

    response = admin_client.post(reverse(CONFIRM), {"runs": str(real.pk), "post": "yes"})

    assert response.url == reverse(TASKS)
    assert TaskRun.objects.get() == real
    assert Thread.objects.exists()


def test_the_confirmation_needs_the_run_permission(staff_client: Any) -> None:
    client, _ = staff_client("view_taskrun")
    preview = history_row("threads")
    TaskRun.objects.filter(pk=preview.pk).update(dry_run=True)
    old_thread()

    assert client.get(f"{reverse(CONFIRM)}?runs={preview.pk}").status_code == 403
    assert client.post(reverse(CONFIRM), {"runs": preview.pk, "post": "yes"}).status_code == 403
    assert TaskRun.objects.count() == 1
    assert Thread.objects.exists()


# -- the history's actions ------------------------------------------------------------------------


def test_run_again_runs_a_read_only_task_and_asks_before_one_that_deletes(
    admin_client: Client, admin_user: Any
) -> None:
    old = [history_row("record"), history_row("record"), history_row("threads")]
    thread = old_thread()

    response = post_action(admin_client, "run_again", old)

    [preview] = confirm_runs(response)
    assert (preview.task_name, preview.dry_run) == ("threads", True)
    record = finished(TaskRun.objects.get(task_name="record", trigger="admin"))
    assert (record.dry_run, record.triggered_by, record.status) == (False, admin_user, "succeeded")
    assert SlotRecord.objects.filter(dry_run=False).count() == 1
    [(_level, text)] = messages_of(response)
    assert text.startswith(f'<a href="{change_url(record)}">Run #{record.pk}</a> of record started')
    finished(preview)
    assert list(Thread.objects.all()) == [thread]


def test_dry_run_now_dispatches_dry_runs(admin_client: Client) -> None:
    thread = old_thread()
    old = history_row("threads")

    response = post_action(admin_client, "dry_run_now", [old])

    assert response.status_code == 302
    assert response.url == reverse(CHANGELIST)
    run = finished(TaskRun.objects.exclude(pk=old.pk).get())
    assert (run.dry_run, run.trigger, run.result["deleted"]) == (
        True,
        "admin",
        {"testapp.Thread": 1},
    )
    assert list(Thread.objects.all()) == [thread]


def test_run_again_of_a_task_that_is_gone_reports_it(admin_client: Client) -> None:
    old = history_row("retired_task")

    response = post_action(admin_client, "run_again", [old])

    [(level, text)] = messages_of(response)
    assert level == "error"
    assert text.startswith("Unknown task 'retired_task'; valid tasks: all, boom")
    assert TaskRun.objects.get() == old


def test_run_again_of_a_group_that_deletes_asks_first(admin_client: Client) -> None:
    old = history_row("nightly")

    [preview] = confirm_runs(post_action(admin_client, "run_again", [old]))

    preview = finished(preview)
    assert preview.task_name == "nightly"
    assert preview.children.count() == 3
    assert set(preview.children.values_list("dry_run", flat=True)) == {True}


def test_run_now_of_a_task_already_running_says_which_run(admin_client: Client) -> None:
    now = timezone.now()
    running = TaskRun.objects.create(
        task_name="record",
        trigger="schedule",
        status="running",
        started_at=now,
        heartbeat_at=now,
        active_task="record",
    )

    response = admin_client.post(reverse(RUN), {"task": "record", "dry_run": "0"})

    [(level, text)] = messages_of(response)
    assert level == "error"
    assert text.startswith(f"record is already running (run #{running.pk}, started ")
    assert TaskRun.objects.get() == running
    assert not SlotRecord.objects.exists()
    TaskRun.objects.filter(pk=running.pk).update(status="succeeded", active_task=None)


def test_run_view_of_an_unknown_task_runs_nothing(admin_client: Client) -> None:
    response = admin_client.post(reverse(RUN), {"task": "nope", "dry_run": "0"})

    assert response.status_code == 302
    assert not TaskRun.objects.exists()
    [(level, text)] = messages_of(response)
    assert level == "error"
    assert text.startswith("Unknown task 'nope'; valid tasks: all, boom, dormant")
