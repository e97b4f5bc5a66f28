"""``TaskContext``: progress reporting, and purging with the run's dry-run flag, the task's purge
options, progress after every batch, forced limits and archives named after the run."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from django_housekeeping import housekeeping_task, registry, run_task
from django_housekeeping.models import TaskRun
from django_housekeeping.purging.engine import PurgeLimitExceeded
from django_housekeeping.tasks.context import (
    RunInterrupted,
    TaskContext,
    forcing_purge_limits,
    observe_progress,
)
from tests.testapp.models import Post, Thread

pytestmark = pytest.mark.django_db


def progress_of(run: TaskRun) -> tuple[int | None, int | None]:
    stored = TaskRun.objects.get(pk=run.pk)
    return stored.progress_done, stored.progress_total


def make_context(
    dry_run: bool, started: timedelta = timedelta(minutes=5), *, claim: bool = False
) -> TaskContext:
    """The context of a run of "threads"; with ``claim``, the run holds its task's claim as
    run_task's do."""
    then = timezone.now() - started
    run = TaskRun.objects.create(
        task_name="threads",
        trigger=TaskRun.Trigger.MANUAL,
        started_at=then,
        heartbeat_at=then,
        dry_run=dry_run,
        active_task="threads" if claim else None,
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


@pytest.mark.parametrize("reports_progress", [True, False])
def test_progress_keeps_a_long_run_alive(reports_progress: bool, settings: Any) -> None:
    """A run whose heartbeat is refreshed by progress() still blocks a second run; without it,
    a run two hours silent is taken for dead. (Its timeout is longer than two hours.)"""
    settings.HOUSEKEEPING = {"DEFAULT_TIMEOUT": 3 * 3600}
    ctx = make_context(dry_run=False, started=timedelta(hours=2), claim=True)
    if reports_progress:
        ctx.progress(1, 2)

    second = run_task("threads")

    first = TaskRun.objects.get(pk=ctx.run.pk)
    if reports_progress:
        assert (second.status, first.status) == ("skipped", "running")
    else:
        assert (second.status, first.status) == ("succeeded", "interrupted")


@pytest.mark.parametrize("dry_run", [True, False])
def test_purge_follows_the_runs_dry_run(dry_run: bool) -> None:
    thread = Thread.objects.create(title="old", created_at=timezone.now() - timedelta(days=99))
    Post.objects.create(thread=thread)
    ctx = make_context(dry_run=dry_run)

    result = ctx.purge(Thread.objects.all())

    assert (result["deleted"], result["total"], result["dry_run"]) == (
        {"testapp.Post": 1, "testapp.Thread": 1},
        2,
        dry_run,
    )
    assert Thread.objects.exists() is dry_run
    assert Post.objects.exists() is dry_run


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_tasks_purge_follows_run_tasks_dry_run(dry_run: bool) -> None:
    Thread.objects.create(title="old", created_at=timezone.now() - timedelta(days=99))

    run = run_task("threads", dry_run=dry_run)

    assert run.result["deleted"] == {"testapp.Thread": 1}
    assert (run.result["total"], run.result["dry_run"]) == (1, dry_run)
    assert run.result["batches"] == 1
    assert Thread.objects.exists() is dry_run


# --- ctx.purge: the task's purge options, progress, force and archives ---------------------------


def make_threads(count: int) -> None:
    then = timezone.now() - timedelta(days=99)
    Thread.objects.bulk_create(Thread(title=str(i), created_at=then) for i in range(count))


def test_a_purge_reports_its_progress_on_the_run_after_every_batch(temporary_tasks: None) -> None:
    make_threads(5)
    seen: list[tuple[int, int | None, int | None]] = []

    @housekeeping_task(name="batched", purge={"batch_size": 2})
    def batched(ctx: Any) -> Any:
        return ctx.purge(Thread.objects.all())

    def observer(ctx: TaskContext, done: int, total: int | None) -> None:
        stored = TaskRun.objects.get(pk=ctx.run.pk)
        seen.append((done, total, stored.progress_done))

    with observe_progress(observer):
        run = run_task("batched")

    assert seen == [(2, 5, 2), (4, 5, 4), (5, 5, 5)]
    assert progress_of(run) == (5, 5)
    assert run.result["batches"] == 3


def test_observers_are_only_called_inside_their_block(temporary_tasks: None) -> None:
    make_threads(1)
    seen: list[int] = []
    with observe_progress(lambda ctx, done, total: seen.append(done)):
        run_task("threads")
    run_task("threads")

    assert seen == [1]


def test_keyword_arguments_override_the_tasks_purge_options(temporary_tasks: None) -> None:
    make_threads(5)

    @housekeeping_task(name="capped", purge={"max_rows": 2, "batch_size": 2})
    def capped(ctx: Any) -> Any:
        return ctx.purge(Thread.objects.all(), max_rows=10, batch_size=5)

    run = run_task("capped")

    assert run.status == TaskRun.Status.SUCCEEDED
    assert run.result["batches"] == 1


def test_a_purge_follows_force_of_the_context() -> None:
    make_threads(3)
    ctx = make_context(dry_run=False)
    assert ctx.force is False
    with forcing_purge_limits():
        forced = make_context(dry_run=False)
    assert forced.force is True

    with pytest.raises(PurgeLimitExceeded):
        ctx.purge(Thread.objects.all(), max_rows=1)
    assert forced.purge(Thread.objects.all(), max_rows=1)["total"] == 3


def test_ctx_purge_takes_no_dry_run() -> None:
    ctx = make_context(dry_run=False)
    with pytest.raises(TypeError, match="follows the run's dry_run"):
        ctx.purge(Thread.objects.all(), dry_run=True)


@pytest.mark.parametrize("how", ["task", "setting"])
def test_an_archiving_task_writes_a_file_named_after_it_and_its_run(
    temporary_tasks: None, tmp_path: Path, how: str
) -> None:
    make_threads(2)
    purge_options = {"archive": True} if how == "task" else {}

    @housekeeping_task(name="kept", purge=purge_options)
    def kept(ctx: Any) -> Any:
        return ctx.purge(Thread.objects.all())

    settings = {"PURGE_ARCHIVE_DIR": str(tmp_path), "PURGE_ARCHIVE": how == "setting"}
    with override_settings(HOUSEKEEPING=settings):
        dry = run_task("kept", dry_run=True)
        run = run_task("kept")

    assert dry.result["archive"] is None
    [archive] = tmp_path.glob("*.jsonl.gz")
    assert run.result["archive"] == str(archive)
    assert archive.name.startswith(f"kept-run{run.pk}-")
    assert archive.name.endswith("-testapp.Thread.jsonl.gz")


def test_a_task_may_turn_a_global_archive_off(temporary_tasks: None, tmp_path: Path) -> None:
    make_threads(2)

    @housekeeping_task(name="unkept", purge={"archive": False})
    def unkept(ctx: Any) -> Any:
        return ctx.purge(Thread.objects.all())

    with override_settings(
        HOUSEKEEPING={"PURGE_ARCHIVE_DIR": str(tmp_path), "PURGE_ARCHIVE": True}
    ):
        run = run_task("unkept")

    assert run.result["archive"] is None
    assert list(tmp_path.iterdir()) == []


def test_a_run_marked_interrupted_stops_at_its_next_progress() -> None:
    """Its process was stopped longer than HEARTBEAT_TIMEOUT and woke up: another run of the task
    may have started, so this one stops before it deletes another batch."""
    ctx = make_context(dry_run=False, claim=True)
    TaskRun.objects.filter(pk=ctx.run.pk).update(status=TaskRun.Status.INTERRUPTED)

    with pytest.raises(RunInterrupted, match=f"run #{ctx.run.pk} of threads was marked"):
        ctx.progress(1, 2)

    assert TaskRun.objects.get(pk=ctx.run.pk).progress_done is None
