"""Cancelling runs (in this process): a purge stops between two batches with what it deleted, a
queued run never starts, a group stops after its current member, a second cancel is refused;
timeouts stop a run at its next progress step and are retried; every face answers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db.models.signals import post_delete
from django.utils import timezone

from django_housekeeping import housekeeping_task
from django_housekeeping.models import TaskRun
from django_housekeeping.running import control
from django_housekeeping.running.retries import retry_interrupted
from django_housekeeping.running.runner import run_queued, run_task
from django_housekeeping.tasks.registry import group
from tests.helpers import API, SHORT_TEST_KEY, client_for, housekeeping, make_run, make_user
from tests.testapp.models import Post, Thread

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("temporary_tasks", "api_settings"),
    SHORT_TEST_KEY,
]

Status = TaskRun.Status


def cancel_on_first_delete(actor: control.Actor, task_name: str) -> Any:
    """A receiver that asks to cancel the running run of ``task_name`` while its first batch
    deletes: the request commits with that batch, so the purge stops after exactly one."""
    asked: list[int] = []

    def receiver(**kwargs: Any) -> None:
        if not asked:
            run = TaskRun.objects.get(active_task=task_name)
            asked.append(control.cancel(actor, run.pk).run.pk)

    return receiver


def seed_threads() -> None:
    """Ten threads, eight of them 40 days old and two a day old, each with one post."""
    now = timezone.now()
    for i in range(10):
        thread = Thread.objects.create(
            title=str(i), created_at=now - timedelta(days=40 if i < 8 else 1)
        )
        Post.objects.create(thread=thread)


# Autocommit, as in production: each batch commits (in a test's transaction, the task's writes
# are in a savepoint the stopped run rolls back).
@pytest.mark.django_db(transaction=True)
def test_a_purge_stops_after_the_batch_during_which_it_was_cancelled() -> None:
    seed_threads()
    user = make_user("operator", permissions=["run_task"])

    @housekeeping_task(name="purge_threads", purge={"batch_size": 2, "archive": False})
    def purge_threads(ctx: Any) -> Any:
        return ctx.purge(Thread.objects.filter(created_at__lt=timezone.now() - timedelta(days=30)))

    receiver = cancel_on_first_delete(control.person(user, "api"), "purge_threads")
    post_delete.connect(receiver, sender=Thread, weak=False)
    try:
        run = run_task("purge_threads")
    finally:
        post_delete.disconnect(receiver, sender=Thread)

    assert run.status == Status.CANCELLED
    assert run.result["deleted"] == {"testapp.Post": 2, "testapp.Thread": 2}
    assert run.result["total"] == 4
    assert run.result["cancelled"] is True
    assert Thread.objects.count() == 8  # 2 of the 8 old ones went, the 2 young ones stay
    assert Post.objects.count() == Thread.objects.count()  # no orphan, no half-deleted batch
    assert run.cancelled_by == user
    assert run.cancel_via == "api"
    assert run.active_task is None
    assert run.error == ""
    # The next run finishes the job.
    assert run_task("purge_threads").result["deleted"] == {"testapp.Post": 6, "testapp.Thread": 6}


def test_a_queued_run_is_cancelled_before_it_starts() -> None:
    executed: list[int] = []

    @housekeeping_task(name="never_runs")
    def never_runs() -> None:
        executed.append(1)

    queued = make_run("never_runs", status=Status.QUEUED, trigger="api")
    done = control.cancel(control.SYSTEM, queued.pk)

    assert done.ended
    assert done.run.status == Status.CANCELLED
    assert done.run.active_task is None
    assert done.run.finished_at is not None
    assert run_queued(queued.pk).status == Status.CANCELLED  # a worker picking it up later
    assert executed == []
    with pytest.raises(control.NotActive):
        control.cancel(control.SYSTEM, queued.pk)


def test_a_group_stops_after_its_current_member() -> None:
    ran: list[str] = []

    @housekeeping_task(name="first")
    def first() -> None:
        ran.append("first")
        group_run = TaskRun.objects.get(active_task="both")
        control.cancel(control.SYSTEM, group_run.pk)

    @housekeeping_task(name="second")
    def second() -> None:
        ran.append("second")

    group("both", ["first", "second"])
    run = run_task("both")

    assert ran == ["first"]
    assert run.status == Status.CANCELLED
    assert run.result["tasks"]["first"]["status"] == "succeeded"
    assert "second" not in run.result["tasks"]


def test_a_run_past_its_timeout_stops_at_its_next_progress_step() -> None:
    steps: list[int] = []

    @housekeeping_task(name="slow", timeout=30, retries=1)
    def slow(ctx: Any) -> None:
        for step in range(10_000):
            steps.append(step)
            ctx.progress(step, 10_000)
            if step == 0:  # past the timeout from here on; before it, a loaded machine
                # stays far from 30 s
                TaskRun.objects.filter(pk=ctx.run.pk).update(
                    started_at=timezone.now() - timedelta(seconds=60)
                )
                ctx.run.refresh_from_db(fields=["started_at"])

    run = run_task("slow", trigger="schedule", slot=timezone.now())

    assert run.status == Status.FAILED
    assert run.error.startswith("timed out after 30 s")
    assert run.result["timed_out"] == 30
    assert steps == [0, 1]  # stopped at the first progress step past the timeout
    (retry,) = retry_interrupted()
    assert retry.retry_of == run
    assert retry.attempt == 2


def test_a_task_that_reports_no_progress_is_judged_at_its_end() -> None:
    @housekeeping_task(name="silent", timeout=1)
    def silent(ctx: Any) -> str:
        TaskRun.objects.filter(pk=ctx.run.pk).update(
            started_at=timezone.now() - timedelta(seconds=5)
        )
        ctx.run.refresh_from_db(fields=["started_at"])
        return "done"

    run = run_task("silent")
    assert run.status == Status.FAILED
    assert run.error.startswith("timed out after 1 s")


# -- the faces: API, command line --------------------------------------------------------------


def test_the_api_cancels_and_answers_409_404_403() -> None:
    @housekeeping_task(name="api_task")
    def api_task() -> None:
        pass

    running = make_run("api_task", status=Status.RUNNING, trigger="api")
    allowed = client_for(make_user("runner", permissions=["run_task", "view_taskrun"]))
    viewer = client_for(make_user("viewer", permissions=["view_taskrun"]))

    refused = viewer.post(f"{API}runs/{running.pk}/cancel")
    assert refused.status_code == 403
    assert "run_task" in refused.json()["detail"]
    answer = allowed.post(f"{API}runs/{running.pk}/cancel")
    assert answer.status_code == 202, answer.content
    assert answer.json()["ended"] is False
    assert answer.json()["run"]["id"] == running.pk
    running.refresh_from_db()
    assert running.cancel_requested_at is not None
    assert running.cancel_via == "api"
    again = allowed.post(f"{API}runs/{running.pk}/cancel")
    assert again.status_code == 409
    assert again.json()["detail"]
    unknown = allowed.post(f"{API}runs/987654/cancel")
    assert unknown.status_code == 404
    assert "987654" in unknown.json()["detail"]
    assert allowed.post(f"{API}runs/abc/cancel").status_code == 404


def test_the_command_line_cancels_with_one_line_and_exit_3_when_ended() -> None:
    @housekeeping_task(name="cli_task")
    def cli_task() -> None:
        pass

    queued = make_run("cli_task", status=Status.QUEUED, trigger="cli")
    done = housekeeping("cancel", str(queued.pk))
    assert done.returncode == 0
    assert done.out.strip().count("\n") == 0
    assert f"#{queued.pk}" in done.out
    again = housekeeping("cancel", str(queued.pk))
    assert again.returncode == 3
    assert "already cancelled" in again.message
    assert housekeeping("cancel", "nope").returncode == 2


def test_pause_and_resume_from_the_command_line_show_everywhere() -> None:
    @housekeeping_task(name="pausable", schedule="0 3 * * *")
    def pausable() -> None:
        pass

    admin = make_user("boss", superuser=True)
    paused = housekeeping("pause", "pausable")
    assert paused.returncode == 0
    assert paused.out.startswith("Paused pausable.")
    row = next(r for r in housekeeping("list").table() if r["Task"] == "pausable")
    assert row["State"] == "paused"
    listed = {task["name"]: task for task in housekeeping("list", "--json").json()}
    assert listed["pausable"]["state"] == "paused"
    api_tasks = {t["name"]: t for t in client_for(admin).get(f"{API}tasks").json()}
    assert api_tasks["pausable"]["paused"] is True
    status_line = next(
        line for line in housekeeping("status").out.splitlines() if "pausable" in line
    )
    assert "paused" in status_line
    admin_page = web_client(admin).get("/admin/django_housekeeping/taskrun/tasks/").content.decode()
    assert 'aria-label="Resume pausable"' in admin_page
    assert housekeeping("resume", "pausable").returncode == 0
    api_tasks = {t["name"]: t for t in client_for(admin).get(f"{API}tasks").json()}
    assert api_tasks["pausable"]["paused"] is False
    status_line = next(
        line for line in housekeeping("status").out.splitlines() if "pausable" in line
    )
    assert "paused" not in status_line
    row = next(r for r in housekeeping("list").table() if r["Task"] == "pausable")
    assert row["State"] == "enabled"
    assert housekeeping("pause", "no_such_task").returncode == 2


# -- the admin and the dashboard -----------------------------------------------------------------


def web_client(user: Any) -> Any:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def test_the_admin_cancels_an_active_run_after_a_confirmation() -> None:
    @housekeeping_task(name="admin_task")
    def admin_task() -> None:
        pass

    running = make_run("admin_task", status=Status.RUNNING, trigger="admin")
    page = f"/admin/django_housekeeping/taskrun/{running.pk}/change/"
    url = f"/admin/django_housekeeping/taskrun/{running.pk}/cancel/"
    viewer = web_client(make_user("viewer", staff=True, permissions=["view_taskrun"]))
    operator = web_client(make_user("op", staff=True, permissions=["view_taskrun", "run_task"]))

    assert url not in viewer.get(page).content.decode()
    assert viewer.post(url, {"post": "yes"}).status_code == 403
    assert url in operator.get(page).content.decode()
    # A task that may delete: the first POST asks, the second cancels.
    asking = operator.post(url)
    assert asking.status_code == 200
    assert "Yes, cancel run" in asking.content.decode()
    running.refresh_from_db()
    assert running.cancel_requested_at is None
    assert operator.post(url, {"post": "yes"}).status_code == 302
    running.refresh_from_db()
    assert running.cancel_requested_at is not None
    assert running.cancel_via == "admin"
    again = operator.post(url, {"post": "yes"}, follow=True)
    assert "was already asked to stop" in again.content.decode()


def test_the_dashboard_cancels_and_refuses_without_run_task() -> None:
    @housekeeping_task(name="dash_task", destructive=False)
    def dash_task() -> None:
        pass

    queued = make_run("dash_task", status=Status.QUEUED, trigger="dashboard")
    url = f"/scheduler-admin/runs/{queued.pk}/cancel/"
    viewer = web_client(make_user("viewer", permissions=["view_taskrun"]))
    operator = web_client(make_user("op", permissions=["view_taskrun", "run_task"]))

    assert viewer.post(url).status_code == 403
    answer = operator.post(url)
    assert answer.status_code == 202
    assert answer.json()["run"]["status"] == "cancelled"
    assert operator.post(url).status_code == 409
    assert operator.post("/scheduler-admin/runs/999999/cancel/").status_code == 404


# -- declared order ------------------------------------------------------------------------------


def test_after_orders_all_and_groups_and_bad_declarations_are_check_errors() -> None:
    from django.core import checks

    from django_housekeeping.tasks.order import in_order

    ran: list[str] = []

    def make(name: str, after: tuple[str, ...] = ()) -> None:
        housekeeping_task(name=name, after=after)(lambda: ran.append(name))

    make("o_count", after=("o_purge", "o_shrink"))
    make("o_purge")
    make("o_shrink", after=("o_purge",))
    make("o_alpha")
    group("o_group", ["o_count", "o_alpha", "o_shrink", "o_purge"])

    assert in_order(["o_count", "o_alpha", "o_shrink", "o_purge"]) == [
        "o_alpha",
        "o_purge",
        "o_shrink",
        "o_count",
    ]
    run_task("o_group")
    assert ran == ["o_alpha", "o_purge", "o_shrink", "o_count"]
    ran.clear()
    run_task("all")
    assert [name for name in ran if name.startswith("o_")] == [
        "o_alpha",
        "o_purge",
        "o_shrink",
        "o_count",
    ]
    row = next(r for r in housekeeping("list").table() if r["Task"] == "o_count")
    assert row["After"] == "o_purge, o_shrink"
    assert not [m for m in checks.run_checks(tags=["django_housekeeping"]) if m.id in E017_E018]

    make("o_typo", after=("o_purg",))
    make("o_chicken", after=("o_egg",))
    make("o_egg", after=("o_chicken",))
    found = {m.id: m.msg for m in checks.run_checks(tags=["django_housekeeping"])}
    assert "o_purg" in found["django_housekeeping.E017"]
    assert "o_chicken" in found["django_housekeeping.E018"]


E017_E018 = {"django_housekeeping.E017", "django_housekeeping.E018"}


def test_the_admin_shows_the_order() -> None:
    @housekeeping_task(name="a_first")
    def a_first() -> None:
        pass

    @housekeeping_task(name="a_then", after=["a_first"])
    def a_then() -> None:
        pass

    group("a_group", ["a_then", "a_first"])
    page = web_client(make_user("boss", superuser=True)).get(
        "/admin/django_housekeeping/taskrun/tasks/"
    )
    content = page.content.decode()
    assert "runs a_first → a_then" in content
    assert "after a_first" in content
