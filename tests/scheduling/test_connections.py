"""A run whose database connection breaks while it runs (the server killed it, a failover): its
outcome is saved on a new connection, and the task's next slot runs; a slot whose connection broke
before its run began is tried once more."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from apscheduler.events import EVENT_JOB_EXECUTED
from django.db import OperationalError, connection, transaction

import django_housekeeping.scheduling.slots as slots_module
from django_housekeeping import group, housekeeping_task
from django_housekeeping.models import TaskRun
from django_housekeeping.running.runner import run_task
from django_housekeeping.scheduling.executors import SlotExecutor
from django_housekeeping.scheduling.slots import run_scheduled_slot
from django_housekeeping.signals import task_failed, task_finished

TASK = "connection_probe"
GROUP = "connection_group"

# The runs under test replace the connection, which they may do only outside a transaction.
pytestmark = pytest.mark.django_db(transaction=True)


def slot_ago(seconds: int) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=seconds)


def cut_the_connection() -> None:
    """What a connection the server killed looks like to Django: the wrapper still holds it, and
    the next query on it fails."""
    connection.ensure_connection()
    assert connection.connection is not None
    connection.connection.close()


def fake_job() -> Any:
    """What APScheduler hands the executor, as far as it looks at it."""
    return SimpleNamespace(id=TASK, args=[TASK], _jobstore_alias="default")


def unreachable(name: str, **kwargs: Any) -> TaskRun:
    raise OperationalError("server closed the connection unexpectedly")


@pytest.fixture
def signals() -> Iterator[list[tuple[str, str, str]]]:
    """``(signal, task, status)`` for each task_failed and task_finished sent."""
    sent: list[tuple[str, str, str]] = []

    def failed(sender: Any, run: TaskRun, **kwargs: Any) -> None:
        sent.append(("failed", sender.name, run.status))

    def finished(sender: Any, run: TaskRun, **kwargs: Any) -> None:
        sent.append(("finished", sender.name, run.status))

    task_failed.connect(failed)
    task_finished.connect(finished)
    yield sent
    task_failed.disconnect(failed)
    task_finished.disconnect(finished)


@pytest.fixture
def calls(temporary_tasks: None) -> list[datetime]:
    """The probe task: the slots it ran; on its first run it loses the connection at the end,
    after its work and before its outcome is saved."""
    ran: list[datetime] = []

    @housekeeping_task(name=TASK)
    def probe(ctx: Any) -> dict[str, int]:
        ran.append(ctx.now)
        rows = TaskRun.objects.filter(task_name=TASK).count()
        if len(ran) == 1:
            cut_the_connection()
        return {"rows": rows}

    return ran


def test_a_connection_lost_after_the_task_ran_saves_its_outcome_and_the_next_slot_runs(
    calls: list[datetime], signals: list[tuple[str, str, str]], caplog: pytest.LogCaptureFixture
) -> None:
    first, second = slot_ago(2), slot_ago(1)
    executor = SlotExecutor()
    try:
        with caplog.at_level(logging.WARNING, logger="django_housekeeping.scheduler"):
            (event,) = executor._run_due(fake_job(), [first])
    finally:
        executor.shutdown()

    run = TaskRun.objects.get(slot=first)
    assert (run.status, run.result) == (TaskRun.Status.SUCCEEDED, {"rows": 1})
    assert run.finished_at is not None
    assert (event.code, event.retval) == (EVENT_JOB_EXECUTED, run.pk)
    assert signals == [("finished", TASK, "succeeded")]
    assert f"Saved the outcome of {TASK} (run #{run.pk}: succeeded)" in caplog.text

    # Left "running", the first run would keep the task's slots skipped until its timeout.
    assert run_scheduled_slot(TASK, slot=second) is not None
    assert TaskRun.objects.get(slot=second).status == TaskRun.Status.SUCCEEDED
    assert calls == [first, second]


def test_a_connection_lost_during_the_task_saves_it_failed(
    temporary_tasks: None, signals: list[tuple[str, str, str]]
) -> None:
    @housekeeping_task(name=TASK)
    def probe() -> int:
        cut_the_connection()
        return TaskRun.objects.count()

    run = run_scheduled_slot(TASK, slot=slot_ago(1))

    assert run is not None
    stored = TaskRun.objects.get(pk=run.pk)
    assert stored.status == TaskRun.Status.FAILED
    assert "Error" in stored.error  # the task's own query, on the dead connection
    assert signals == [("failed", TASK, "failed"), ("finished", TASK, "failed")]


def test_a_group_saves_its_members_outcome_then_its_own(
    calls: list[datetime], signals: list[tuple[str, str, str]]
) -> None:
    group(GROUP, [TASK])

    run = run_scheduled_slot(GROUP, slot=slot_ago(1))

    assert run is not None
    group_run = TaskRun.objects.get(pk=run.pk)
    (member_run,) = TaskRun.objects.filter(parent=group_run)
    assert (member_run.status, member_run.result) == (TaskRun.Status.SUCCEEDED, {"rows": 1})
    assert group_run.status == TaskRun.Status.SUCCEEDED
    assert signals == [("finished", TASK, "succeeded"), ("finished", GROUP, "succeeded")]


def test_a_run_outside_the_scheduler_saves_its_outcome_too(
    calls: list[datetime], signals: list[tuple[str, str, str]]
) -> None:
    run = run_task(TASK, trigger=TaskRun.Trigger.CLI)

    stored = TaskRun.objects.get(pk=run.pk)
    assert (stored.status, stored.result) == (TaskRun.Status.SUCCEEDED, {"rows": 1})
    assert signals == [("finished", TASK, "succeeded")]


def test_a_connection_lost_before_the_task_started_runs_the_slot_on_a_new_one(
    temporary_tasks: None, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[datetime] = []

    @housekeeping_task(name=TASK)
    def probe(ctx: Any) -> None:
        ran.append(ctx.now)

    slot = slot_ago(1)
    cut_the_connection()

    with caplog.at_level(logging.WARNING, logger="django_housekeeping.scheduler"):
        run = run_scheduled_slot(TASK, slot=slot)

    assert run is not None
    assert TaskRun.objects.get().status == TaskRun.Status.SUCCEEDED
    assert ran == [slot]
    assert f"Slot {slot} of {TASK}: the database connection failed" in caplog.text


def test_a_slot_is_tried_once_more_only(
    calls: list[datetime], monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[str] = []

    def counted(name: str, **kwargs: Any) -> TaskRun:
        attempts.append(name)
        return unreachable(name, **kwargs)

    monkeypatch.setattr(slots_module, "run_task", counted)

    with pytest.raises(OperationalError):
        run_scheduled_slot(TASK, slot=slot_ago(1))
    assert attempts == [TASK, TASK]


def test_inside_a_transaction_the_error_reaches_the_caller(
    calls: list[datetime], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(slots_module, "run_task", unreachable)

    with pytest.raises(OperationalError), transaction.atomic():
        run_scheduled_slot(TASK, slot=slot_ago(1))
    assert connection.connection is not None  # the caller's connection was left alone


def test_an_error_after_the_outcome_was_saved_is_raised(temporary_tasks: None) -> None:
    @housekeeping_task(name=TASK)
    def probe() -> None:
        return None

    def receiver(sender: Any, run: TaskRun, **kwargs: Any) -> None:
        raise OperationalError("a receiver's own query failed")

    task_finished.connect(receiver)
    try:
        with pytest.raises(OperationalError, match="a receiver's own query failed"):
            run_scheduled_slot(TASK, slot=slot_ago(1))
    finally:
        task_finished.disconnect(receiver)

    assert TaskRun.objects.get().status == TaskRun.Status.SUCCEEDED
