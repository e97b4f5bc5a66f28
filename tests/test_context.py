"""``TaskContext``: progress reporting and purging with the run's dry-run flag."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from django_housekeeping import housekeeping_task, registry, run_task
from django_housekeeping.context import TaskContext
from django_housekeeping.models import TaskRun
from tests.testapp.models import Post, Thread

pytestmark = pytest.mark.django_db


def progress_of(run: TaskRun) -> tuple[int | None, int | None]:
    stored = TaskRun.objects.get(pk=run.pk)
    return stored.progress_done, stored.progress_total


def make_context(dry_run: bool, started: timedelta = timedelta(minutes=5)) -> TaskContext:
    then = timezone.now() - started
    run = TaskRun.objects.create(
        task_name="threads",
        trigger=TaskRun.Trigger.MANUAL,
        started_at=then,
        heartbeat_at=then,
        dry_run=dry_run,
    )
    task = registry.get("threads")
    return TaskContext(task=task, run=run, now=then, dry_run=dry_run, options=task.options)


def test_progress_updates_the_row_and_its_heartbeat() -> None:
    ctx = make_context(dry_run=False)
    other = make_context(dry_run=False)
    before = timezone.now()

    ctx.progress(3, 10)

    stored = TaskRun.objects.get(pk=ctx.run.pk)
    assert (stored.progress_done, stored.progress_total) == (3, 10)
    assert stored.heartbeat_at is not None
    assert stored.heartbeat_at >= before
    assert (ctx.run.progress_done, ctx.run.progress_total) == (3, 10)
    assert ctx.run.heartbeat_at == stored.heartbeat_at
    untouched = TaskRun.objects.get(pk=other.run.pk)
    assert (untouched.progress_done, untouched.progress_total) == (None, None)
    assert untouched.heartbeat_at == other.run.heartbeat_at


def test_progress_without_a_total() -> None:
    ctx = make_context(dry_run=False)
    ctx.progress(3, 10)

    ctx.progress(7)

    assert progress_of(ctx.run) == (7, None)


def test_progress_reported_by_a_task_is_kept_after_it_finishes(temporary_tasks: None) -> None:
    seen: list[tuple[int | None, int | None, str]] = []

    @housekeeping_task(name="counting")
    def counting(ctx: Any) -> dict[str, int]:
        for done in range(1, 4):
            ctx.progress(done, 3)
            stored = TaskRun.objects.get(pk=ctx.run.pk)
            seen.append((stored.progress_done, stored.progress_total, stored.status))
        return {"done": 3}

    run = run_task("counting")

    assert seen == [(1, 3, "running"), (2, 3, "running"), (3, 3, "running")]
    assert progress_of(run) == (3, 3)
    assert TaskRun.objects.get(pk=run.pk).status == TaskRun.Status.SUCCEEDED


def test_progress_keeps_a_long_run_from_going_stale() -> None:
    """A run whose heartbeat is refreshed by progress() still blocks a second run."""
    ctx = make_context(dry_run=False, started=timedelta(hours=2))
    assert run_task("threads").status == TaskRun.Status.SUCCEEDED  # stale: not blocking

    ctx.progress(1, 2)

    assert run_task("threads").status == TaskRun.Status.SKIPPED


@pytest.mark.parametrize("dry_run", [True, False])
def test_purge_follows_the_runs_dry_run(dry_run: bool) -> None:
    thread = Thread.objects.create(title="old", created_at=timezone.now() - timedelta(days=99))
    Post.objects.create(thread=thread)
    ctx = make_context(dry_run=dry_run)

    result = ctx.purge(Thread.objects.all())

    assert result == {
        "deleted": {"testapp.Post": 1, "testapp.Thread": 1},
        "total": 2,
        "dry_run": dry_run,
    }
    assert Thread.objects.exists() is dry_run
    assert Post.objects.exists() is dry_run


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_tasks_purge_follows_run_tasks_dry_run(dry_run: bool) -> None:
    Thread.objects.create(title="old", created_at=timezone.now() - timedelta(days=99))

    run = run_task("threads", dry_run=dry_run)

    assert run.result == {"deleted": {"testapp.Thread": 1}, "total": 1, "dry_run": dry_run}
    assert Thread.objects.exists() is dry_run
