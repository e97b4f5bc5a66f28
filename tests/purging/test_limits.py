"""The safety rails of ``purge``: ``max_rows`` and ``max_fraction`` refuse before deleting anything
(unless forced), ``max_seconds`` stops between batches and the next purge continues."""

from __future__ import annotations

import importlib
from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from django_housekeeping import housekeeping_task, registry, run_task
from django_housekeeping.models import TaskRun
from django_housekeeping.purging.engine import PurgeLimitExceeded, purge
from django_housekeeping.tasks.context import forcing_purge_limits, observe_progress
from tests.testapp.models import Post, Thread

pytestmark = pytest.mark.django_db

# The module: the package attribute ``purge`` is the function.
purge_module = importlib.import_module("django_housekeeping.purging.engine")


def old_threads() -> Any:
    return Thread.objects.filter(created_at__lt=timezone.now() - timedelta(days=30))


@pytest.mark.usefixtures("threads")
@pytest.mark.parametrize("dry_run", [False, True])
@pytest.mark.parametrize(
    ("limits", "breach"),
    [
        ({"max_rows": 7}, "max_rows is 7"),
        ({"max_fraction": 0.5}, "max_fraction is 0.5"),
        ({"max_rows": 5, "max_fraction": 0.75}, "max_rows is 5 and max_fraction is 0.75"),
    ],
)
def test_a_purge_beyond_its_limits_deletes_nothing(
    limits: dict[str, Any], breach: str, dry_run: bool
) -> None:
    with pytest.raises(PurgeLimitExceeded) as raised:
        purge(old_threads(), dry_run=dry_run, **limits)

    assert str(raised.value) == (
        "refusing to purge 8 rows of testapp.Thread (80.0% of its 10 rows): "
        f"{breach}. Nothing was deleted; pass force=True (housekeeping run --force) to purge "
        "anyway."
    )
    assert (raised.value.selected, raised.value.table_rows) == (8, 10)
    assert Thread.objects.count() == 10
    assert Post.objects.count() == 10


@pytest.mark.usefixtures("threads")
def test_within_its_limits_a_purge_runs() -> None:
    result = purge(old_threads(), max_rows=8, max_fraction=0.8)

    assert result["deleted"] == {"testapp.Post": 8, "testapp.Thread": 8}


@pytest.mark.usefixtures("threads")
def test_force_purges_beyond_the_limits() -> None:
    result = purge(old_threads(), max_rows=1, max_fraction=0.1, force=True)

    assert result["total"] == 16


@pytest.mark.usefixtures("threads")
def test_the_limits_count_each_row_once_when_a_join_repeats_it() -> None:
    for thread in Thread.objects.all()[:3]:
        Post.objects.create(thread=thread)  # three threads with two posts each
    calls: list[tuple[int, int | None]] = []

    with pytest.raises(PurgeLimitExceeded, match="refusing to purge 10 rows"):
        purge(Thread.objects.filter(posts__isnull=False), max_rows=9)
    purge(
        Thread.objects.filter(posts__isnull=False),
        max_rows=10,
        progress=lambda done, total: calls.append((done, total)),
    )

    assert calls == [(10, 10)]


def test_an_empty_table_is_within_any_fraction() -> None:
    assert purge(Thread.objects.all(), max_fraction=0.01)["total"] == 0


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The engine's clock, moved forward by the test (``clock[0] += seconds``)."""
    now = [1000.0]
    monkeypatch.setattr(purge_module, "clock", lambda: now[0])
    return now


@pytest.mark.usefixtures("threads")
def test_max_seconds_stops_between_batches_and_the_next_purge_continues(
    fake_clock: list[float],
) -> None:
    def slow_batches(done: int, total: int | None) -> None:
        fake_clock[0] += 10  # every batch takes ten seconds

    first = purge(old_threads(), batch_size=3, max_seconds=15, progress=slow_batches)

    assert first["partial"] is True
    assert first["batches"] == 2
    assert first["deleted"] == {"testapp.Post": 6, "testapp.Thread": 6}
    assert first["seconds"] == 20
    assert first["max_batch_seconds"] == 0  # the time went by between the transactions
    assert first["rows_per_second"] == 0.6
    assert old_threads().count() == 2

    second = purge(old_threads(), batch_size=3, max_seconds=15, progress=slow_batches)

    assert second["partial"] is False
    assert second["deleted"] == {"testapp.Post": 2, "testapp.Thread": 2}
    assert purge(old_threads())["total"] == 0


@pytest.mark.usefixtures("threads")
def test_a_purge_that_ends_in_time_is_not_partial(fake_clock: list[float]) -> None:
    result = purge(old_threads(), batch_size=3, max_seconds=15)

    assert result["partial"] is False
    assert result["batches"] == 3


# --- the task's purge options ---------------------------------------------------------------------


@pytest.fixture
def limited_task(temporary_tasks: None) -> str:
    @housekeeping_task(name="limited", purge={"max_rows": 5, "batch_size": 2})
    def limited(ctx: Any) -> Any:
        return ctx.purge(old_threads())

    return "limited"


@pytest.mark.usefixtures("threads")
def test_a_task_beyond_its_limits_fails_with_the_reason(limited_task: str) -> None:
    run = run_task(limited_task)

    assert run.status == TaskRun.Status.FAILED
    assert "PurgeLimitExceeded: refusing to purge 8 rows of testapp.Thread" in run.error
    assert "max_rows is 5" in run.error
    assert Thread.objects.count() == 10


@pytest.mark.usefixtures("threads")
def test_a_forced_run_exceeds_the_limits(limited_task: str) -> None:
    with forcing_purge_limits():
        run = run_task(limited_task)

    assert run.status == TaskRun.Status.SUCCEEDED
    assert run.result["deleted"] == {"testapp.Post": 8, "testapp.Thread": 8}
    assert run.result["batches"] == 4


@pytest.mark.usefixtures("threads")
def test_settings_override_a_tasks_purge_options(limited_task: str) -> None:
    with override_settings(HOUSEKEEPING={"TASKS": {"limited": {"purge": {"max_rows": 8}}}}):
        run = run_task(limited_task)

    assert run.status == TaskRun.Status.SUCCEEDED
    assert run.result["batches"] == 4  # batch_size=2 as declared


@pytest.mark.usefixtures("threads")
def test_a_partial_run_succeeds_and_says_so(temporary_tasks: None, fake_clock: list[float]) -> None:
    @housekeeping_task(name="hurried", purge={"max_seconds": 5, "batch_size": 3})
    def hurried(ctx: Any) -> Any:
        return ctx.purge(old_threads())

    def slow_batches(ctx: Any, done: int, total: int | None) -> None:
        fake_clock[0] += 10

    with observe_progress(slow_batches):
        run = run_task("hurried")

    assert run.status == TaskRun.Status.SUCCEEDED
    assert run.result["partial"] is True
    assert run.result["deleted"] == {"testapp.Post": 3, "testapp.Thread": 3}
    stored = TaskRun.objects.get(pk=run.pk)
    assert (stored.progress_done, stored.progress_total) == (3, 8)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_rows": 0}, "'max_rows'\\] must be a positive integer or None, got 0"),
        ({"batch": 10}, "unknown key 'batch'"),
        ({"archive": "yes"}, "'archive'\\] must be True or False"),
    ],
)
def test_a_task_declaring_bad_purge_options_is_refused(
    temporary_tasks: None, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):

        @housekeeping_task(name="bad", purge=options)
        def bad(ctx: Any) -> None:
            pass

    assert "bad" not in registry
