"""The slot executor: misfire grace, coalescing, slot claims and the history of unrun slots."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from django.test import override_settings
from django.utils.dateparse import parse_datetime

import django_housekeeping.scheduling.executors as executors_module
from django_housekeeping import housekeeping_task
from django_housekeeping.models import RunDay, TaskRun
from django_housekeeping.scheduling.executors import SlotExecutor
from django_housekeeping.scheduling.slots import record_unrun_slots, run_scheduled_slot
from tests.helpers import wait_for

TASK = "executor_probe"


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def fake_job(task_name: str = TASK) -> Any:
    """What APScheduler hands an executor, as far as the SlotExecutor looks at it."""
    return SimpleNamespace(
        id=task_name, args=[task_name], _jobstore_alias="default", max_instances=1
    )


@pytest.fixture
def calls(temporary_tasks: None) -> list[datetime]:
    """Register the probe task (grace 60 s, coalescing) and collect the ``ctx.now`` of its runs."""
    seen: list[datetime] = []

    @housekeeping_task(name=TASK, misfire_grace=60)
    def probe(ctx: Any) -> dict[str, str]:
        seen.append(ctx.now)
        return {"now": ctx.now.isoformat()}

    return seen


@pytest.fixture
def executor() -> Iterator[SlotExecutor]:
    slot_executor = SlotExecutor(max_workers=2)
    yield slot_executor
    slot_executor.shutdown(wait=True)


def runs(**filters: Any) -> list[TaskRun]:
    return list(TaskRun.objects.filter(task_name=TASK, **filters).order_by("slot"))


def as_datetime(value: str) -> datetime:
    parsed = parse_datetime(value)
    assert parsed is not None
    return parsed


# -- run_scheduled_slot and record_unrun_slots ----------------------------------------------------


@pytest.mark.django_db
def test_run_scheduled_slot_runs_through_run_task_with_the_slot(calls: list[datetime]) -> None:
    slot = now_utc() - timedelta(seconds=5)

    run = run_scheduled_slot(TASK, slot=slot)

    assert run is not None
    assert run.status == TaskRun.Status.SUCCEEDED
    assert run.trigger == TaskRun.Trigger.SCHEDULE
    assert run.slot == slot
    assert calls == [slot]  # ctx.now is the slot, not the wall clock


@pytest.mark.django_db
def test_run_scheduled_slot_returns_none_for_a_claimed_slot(calls: list[datetime]) -> None:
    slot = now_utc() - timedelta(seconds=5)
    assert run_scheduled_slot(TASK, slot=slot) is not None

    assert run_scheduled_slot(TASK, slot=slot) is None

    assert calls == [slot]
    assert len(runs(slot=slot)) == 1


@pytest.mark.django_db
def test_record_unrun_slots_writes_one_row_claiming_the_last_slot() -> None:
    slots = [now_utc() - timedelta(hours=hours) for hours in (3, 2, 1)]

    record_unrun_slots(TASK, slots, TaskRun.Status.MISSED, "the reason")

    (row,) = runs()
    assert row.status == TaskRun.Status.MISSED
    assert row.trigger == TaskRun.Trigger.SCHEDULE
    assert row.slot == slots[-1]
    assert row.duration == timedelta(0)
    assert row.started_at == row.finished_at
    assert row.result["reason"] == "the reason"
    assert row.result["slots"] == 3
    assert as_datetime(row.result["first_slot"]) == slots[0]
    assert as_datetime(row.result["last_slot"]) == slots[-1]
    assert row.is_finished
    # The metrics and the statistics count the row as one run of its status.
    assert RunDay.objects.get(task_name=TASK, status=TaskRun.Status.MISSED).runs == 1


@pytest.mark.django_db
def test_record_unrun_slots_with_no_slots_writes_nothing() -> None:
    record_unrun_slots(TASK, [], TaskRun.Status.MISSED, "nothing")
    assert not TaskRun.objects.exists()


@pytest.mark.django_db
def test_record_unrun_slots_twice_keeps_one_row(caplog: pytest.LogCaptureFixture) -> None:
    slots = [now_utc() - timedelta(hours=1)]
    record_unrun_slots(TASK, slots, TaskRun.Status.MISSED, "first")
    with caplog.at_level(logging.DEBUG, logger="django_housekeeping.scheduler"):
        record_unrun_slots(TASK, slots, TaskRun.Status.SKIPPED, "second")

    (row,) = runs()
    assert row.status == TaskRun.Status.MISSED
    assert row.result["reason"] == "first"
    assert "is already in the history" in caplog.text


# -- SlotExecutor._run_due ----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_slot_within_its_grace_runs_once(calls: list[datetime], executor: SlotExecutor) -> None:
    slot = now_utc() - timedelta(seconds=30)  # grace is 60 s

    events = executor._run_due(fake_job(), [slot])

    assert calls == [slot]
    (run,) = runs()
    assert run.status == TaskRun.Status.SUCCEEDED
    assert run.trigger == TaskRun.Trigger.SCHEDULE
    assert run.slot == slot
    (event,) = events
    assert isinstance(event, JobExecutionEvent)
    assert event.code == EVENT_JOB_EXECUTED
    assert event.job_id == TASK
    assert event.jobstore == "default"
    assert event.scheduled_run_time == slot
    assert event.retval == run.pk


@pytest.mark.django_db
def test_a_slot_older_than_its_grace_is_recorded_missed_and_not_run(
    calls: list[datetime], executor: SlotExecutor, caplog: pytest.LogCaptureFixture
) -> None:
    slot = now_utc() - timedelta(seconds=120)

    with caplog.at_level(logging.WARNING, logger="django_housekeeping.scheduler"):
        events = executor._run_due(fake_job(), [slot])

    assert calls == []
    assert events == []
    (row,) = runs()
    assert row.status == TaskRun.Status.MISSED
    assert row.slot == slot
    assert row.result["reason"] == "more than 60 s late"
    assert row.result["slots"] == 1
    assert f"Missed 1 slot(s) of {TASK}" in caplog.text


@pytest.mark.django_db
def test_several_late_slots_are_one_missed_row(
    calls: list[datetime], executor: SlotExecutor
) -> None:
    slots = [now_utc() - timedelta(minutes=minutes) for minutes in (30, 20, 10)]

    executor._run_due(fake_job(), slots)

    assert calls == []
    (row,) = runs()
    assert row.status == TaskRun.Status.MISSED
    assert row.slot == slots[-1]
    assert row.result["slots"] == 3
    assert as_datetime(row.result["first_slot"]) == slots[0]


@pytest.mark.django_db
def test_the_grace_comes_from_the_settings_when_the_task_declares_none(
    temporary_tasks: None, executor: SlotExecutor
) -> None:
    @housekeeping_task(name=TASK)
    def probe() -> None:
        return None

    slot = now_utc() - timedelta(seconds=120)
    with override_settings(HOUSEKEEPING={"MISFIRE_GRACE": 600}):
        executor._run_due(fake_job(), [slot])
    with override_settings(HOUSEKEEPING={"TASKS": {TASK: {"misfire_grace": 10}}}):
        executor._run_due(fake_job(), [slot + timedelta(seconds=1)])

    first, second = runs()
    assert first.status == TaskRun.Status.SUCCEEDED
    assert second.status == TaskRun.Status.MISSED
    assert second.result["reason"] == "more than 10 s late"


@pytest.mark.django_db
def test_coalescing_runs_only_the_latest_due_slot(
    calls: list[datetime], executor: SlotExecutor
) -> None:
    slots = [now_utc() - timedelta(seconds=seconds) for seconds in (30, 20, 10)]

    events = executor._run_due(fake_job(), slots)

    assert calls == [slots[-1]]
    skipped, ran = runs()
    assert ran.slot == slots[-1]
    assert ran.status == TaskRun.Status.SUCCEEDED
    assert skipped.status == TaskRun.Status.SKIPPED
    assert skipped.slot == slots[1]  # the row claims the last slot it stands for
    assert skipped.result["reason"] == "coalesced into a later slot"
    assert skipped.result["slots"] == 2
    assert as_datetime(skipped.result["first_slot"]) == slots[0]
    assert as_datetime(skipped.result["last_slot"]) == slots[1]
    assert [event.scheduled_run_time for event in events] == [slots[-1]]


@pytest.mark.django_db
def test_late_and_on_time_slots_together(calls: list[datetime], executor: SlotExecutor) -> None:
    late = [now_utc() - timedelta(minutes=minutes) for minutes in (20, 10)]
    on_time = [now_utc() - timedelta(seconds=seconds) for seconds in (40, 20)]

    executor._run_due(fake_job(), late + on_time)

    assert calls == [on_time[-1]]
    by_status = {run.status: run for run in runs()}
    assert set(by_status) == {
        TaskRun.Status.MISSED,
        TaskRun.Status.SKIPPED,
        TaskRun.Status.SUCCEEDED,
    }
    assert by_status[TaskRun.Status.MISSED].slot == late[-1]
    assert by_status[TaskRun.Status.MISSED].result["slots"] == 2
    assert by_status[TaskRun.Status.SKIPPED].slot == on_time[0]
    assert by_status[TaskRun.Status.SUCCEEDED].slot == on_time[-1]


@pytest.mark.django_db
def test_without_coalescing_each_on_time_slot_runs(
    temporary_tasks: None, executor: SlotExecutor
) -> None:
    seen: list[datetime] = []

    @housekeeping_task(name=TASK, misfire_grace=60, coalesce=False)
    def probe(ctx: Any) -> None:
        seen.append(ctx.now)

    slots = [now_utc() - timedelta(seconds=seconds) for seconds in (30, 20, 10)]

    events = executor._run_due(fake_job(), slots)

    assert seen == slots
    assert [run.slot for run in runs()] == slots
    assert {run.status for run in runs()} == {TaskRun.Status.SUCCEEDED}
    assert [event.scheduled_run_time for event in events] == slots


@pytest.mark.django_db
def test_the_coalesce_setting_overrides_the_declaration(
    calls: list[datetime], executor: SlotExecutor
) -> None:
    slots = [now_utc() - timedelta(seconds=seconds) for seconds in (30, 20)]

    with override_settings(HOUSEKEEPING={"TASKS": {TASK: {"coalesce": False}}}):
        executor._run_due(fake_job(), slots)

    assert calls == slots


@pytest.mark.django_db
def test_a_claimed_slot_is_not_run_again(calls: list[datetime], executor: SlotExecutor) -> None:
    slot = now_utc() - timedelta(seconds=10)
    claimed = TaskRun.objects.create(
        task_name=TASK,
        slot=slot,
        trigger=TaskRun.Trigger.SCHEDULE,
        status=TaskRun.Status.SUCCEEDED,
        started_at=slot,
        finished_at=slot,
    )

    events = executor._run_due(fake_job(), [slot])

    assert calls == []
    assert runs() == [claimed]
    (event,) = events
    assert event.code == EVENT_JOB_EXECUTED
    assert event.retval is None


@pytest.mark.django_db
def test_a_failing_run_is_reported_as_a_job_error(
    temporary_tasks: None, executor: SlotExecutor
) -> None:
    @housekeeping_task(name=TASK)
    def fails() -> None:
        raise RuntimeError("no")

    slot = now_utc() - timedelta(seconds=1)

    (event,) = executor._run_due(fake_job(), [slot])

    (run,) = runs()
    assert run.status == TaskRun.Status.FAILED
    assert event.code == EVENT_JOB_ERROR
    assert event.retval == run.pk


@pytest.mark.django_db
def test_a_slot_handed_over_is_run_the_claim_being_the_fence(calls: list[datetime]) -> None:
    """APScheduler moved the shared job past the slot before handing it over: dropping it would
    lose it. Whoever leads, the unique claim lets the slot run once."""
    executor = SlotExecutor()
    slot = now_utc() - timedelta(seconds=10)
    try:
        executor._run_due(fake_job(), [slot])
    finally:
        executor.shutdown()

    assert calls == [slot]
    assert [run.slot for run in runs()] == [slot]


@pytest.mark.django_db
def test_an_unregistered_task_runs_nothing(
    executor: SlotExecutor, caplog: pytest.LogCaptureFixture
) -> None:
    slot = now_utc() - timedelta(seconds=10)
    with caplog.at_level(logging.ERROR, logger="django_housekeeping.scheduler"):
        events = executor._run_due(fake_job("gone_away"), [slot])

    assert events == []
    assert not TaskRun.objects.exists()
    assert "Scheduled task gone_away is no longer registered" in caplog.text


# -- the pool: submitting jobs the way APScheduler does ----------------------------------------


class FakeScheduler:
    """The two things an executor asks of its scheduler."""

    def __init__(self) -> None:
        self.events: list[JobExecutionEvent] = []

    def _create_lock(self) -> threading.RLock:
        return threading.RLock()

    def _dispatch_event(self, event: JobExecutionEvent) -> None:
        self.events.append(event)


@pytest.mark.django_db(transaction=True)
def test_submitted_jobs_run_in_the_pool_and_report_their_events(calls: list[datetime]) -> None:
    scheduler = FakeScheduler()
    executor = SlotExecutor(max_workers=1)
    executor.start(scheduler, "default")
    slots = [now_utc() - timedelta(seconds=seconds) for seconds in (20, 10)]
    try:
        executor.submit_job(fake_job(), slots)
        wait_for(lambda: scheduler.events, what="the job's events")
        wait_for(lambda: executor._instances.get(TASK, 0) == 0, what="the instance count to drop")
    finally:
        executor.shutdown(wait=True)

    assert calls == [slots[-1]]
    (event,) = scheduler.events
    assert event.scheduled_run_time == slots[-1]
    assert event.retval == runs(status=TaskRun.Status.SUCCEEDED)[0].pk
    assert [run.status for run in runs()] == [TaskRun.Status.SKIPPED, TaskRun.Status.SUCCEEDED]


@pytest.mark.django_db(transaction=True)
def test_an_exception_in_the_pool_is_logged_as_a_job_error(
    calls: list[datetime], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(name: str) -> None:
        raise RuntimeError("registry exploded")

    monkeypatch.setattr(executors_module.registry, "get", broken)
    scheduler = FakeScheduler()
    executor = SlotExecutor(max_workers=1)
    executor.start(scheduler, "default")
    try:
        with caplog.at_level(logging.ERROR, logger="apscheduler.executors.default"):
            executor.submit_job(fake_job(), [now_utc() - timedelta(seconds=1)])
            wait_for(lambda: executor._instances.get(TASK, 0) == 0, what="the job to end")
            wait_for(lambda: "Error running job" in caplog.text, what="the error log")
    finally:
        executor.shutdown(wait=True)

    assert scheduler.events == []
    assert calls == []
    assert "registry exploded" in caplog.text
