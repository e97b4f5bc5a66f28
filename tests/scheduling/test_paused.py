"""A paused task keeps its job: each slot its schedule reaches is recorded ``skipped``, the reason
saying who paused it and when, once whatever process records it; resuming runs its next slot. A
skipped slot raises no alert and checks in with no cron monitor, and the health finds nothing
late or missed."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from django_apscheduler.models import DjangoJob

from django_housekeeping import every, housekeeping_task
from django_housekeeping.models import TaskAlert, TaskRun, TaskState, TaskStateChange
from django_housekeeping.monitoring.health import NO_SCHEDULER, OVERDUE, Problem, health
from django_housekeeping.running import control, workers
from django_housekeeping.running.control import Actor
from django_housekeeping.scheduling import service as scheduler_module
from django_housekeeping.scheduling.executors import SlotExecutor
from django_housekeeping.scheduling.service import SchedulerService
from django_housekeeping.scheduling.slots import (
    current_pause,
    queue_scheduled_slot,
    run_scheduled_slot,
)
from django_housekeeping.signals import task_finished
from django_housekeeping.tasks.registry import registry
from tests.helpers import make_lease, make_run, make_user, wait_for
from tests.monitoring.test_checkins import SECRET, Monitor

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("temporary_tasks"),
]

TASK = "paused_probe"
# Its schedule is hourly: overdue two hours and its grace after its last success.
LIMIT = timedelta(hours=2, minutes=1)


def due_now() -> datetime:
    """A slot that fell due a moment ago (within the task's grace)."""
    return datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=2)


def fake_job() -> Any:
    """What APScheduler hands an executor, as far as the SlotExecutor looks at it."""
    return SimpleNamespace(id=TASK, args=[TASK], _jobstore_alias="default", max_instances=1)


def rows(**filters: Any) -> list[TaskRun]:
    return list(TaskRun.objects.filter(task_name=TASK, **filters).order_by("slot", "id"))


@pytest.fixture
def monitor() -> Iterator[Monitor]:
    server = Monitor()
    yield server
    server.close()


@pytest.fixture
def calls(monitor: Monitor) -> list[datetime]:
    """Register the probe (hourly, grace 60 s, coalescing, checking in with ``monitor``) and
    collect the ``ctx.now`` of its runs."""
    seen: list[datetime] = []

    @housekeeping_task(
        name=TASK,
        schedule=every(hours=1),
        misfire_grace=60,
        destructive=False,
        ping_url=monitor.url,
    )
    def probe(ctx: Any) -> None:
        seen.append(ctx.now)

    return seen


@pytest.fixture
def finished() -> Iterator[list[TaskRun]]:
    """The runs ``task_finished`` announced (the alerts' and the check-ins' receivers hear it)."""
    announced: list[TaskRun] = []

    def receive(sender: Any, run: TaskRun, **kwargs: Any) -> None:
        announced.append(run)

    task_finished.connect(receive)
    yield announced
    task_finished.disconnect(receive)


@pytest.fixture
def operator() -> Actor:
    alice = make_user("alice", permissions=["change_taskstate", "run_task"])
    return control.person(alice, TaskRun.Trigger.ADMIN)


@pytest.fixture
def leader(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], SchedulerService]]:
    """``start()``: a scheduler service leading, its jobs stored; stopped after the test."""
    monkeypatch.setattr(scheduler_module, "TICK_SECONDS", 0.1)
    services: list[SchedulerService] = []

    def start() -> SchedulerService:
        service = SchedulerService(lease_ttl=5.0)
        services.append(service)
        service.start()
        wait_for(lambda: service.is_leader, what="the service to lead")
        wait_for(lambda: DjangoJob.objects.filter(id=TASK).exists(), what="the job to be stored")
        return service

    yield start
    for service in services:
        service.stop(timeout=10)


def fire(service: SchedulerService, slot: datetime) -> TaskRun:
    """Make the leader's APScheduler find ``slot`` due (the job's next run time), as when the
    clock reaches it, and wait until its executor is done with it (APScheduler counts the job's
    instance until then: a slot made due earlier would be an overlap)."""
    scheduler = service._scheduler
    assert scheduler is not None
    done = threading.Event()

    def listener(event: JobExecutionEvent) -> None:
        if event.job_id == TASK and event.scheduled_run_time == slot:
            done.set()

    scheduler.add_listener(listener, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    try:
        scheduler.modify_job(TASK, next_run_time=slot)
        wait_for(done.is_set, what=f"the slot {slot} to be handled")
    finally:
        scheduler.remove_listener(listener)
    return TaskRun.objects.get(task_name=TASK, slot=slot)


def task_problems(**kwargs: Any) -> list[Problem]:
    return [problem for problem in health(**kwargs).problems if problem.task == TASK]


# -- through the scheduler ------------------------------------------------------------------------


def test_a_paused_task_s_slots_are_skipped_once_each_and_resuming_runs_the_next(
    calls: list[datetime],
    monitor: Monitor,
    finished: list[TaskRun],
    operator: Actor,
    leader: Callable[[], SchedulerService],
) -> None:
    make_run(TASK, age=timedelta(days=3))  # its last success: long ago
    control.pause(operator, TASK)
    pause = TaskStateChange.latest(TASK)
    assert pause is not None
    reason = f"paused by alice (admin) at {pause.changed_at:%Y-%m-%d %H:%M} UTC"
    service = leader()  # stores the paused task's job too
    slots = [due_now() - timedelta(seconds=10) + timedelta(seconds=n) for n in range(3)]

    first = fire(service, slots[0])
    second = fire(service, slots[1])

    for row in (first, second):
        assert row.status == TaskRun.Status.SKIPPED
        assert row.trigger == TaskRun.Trigger.SCHEDULE
        assert row.result["reason"] == reason
        assert row.result["slots"] == 1
        assert row.state_change == pause
    assert calls == []
    assert DjangoJob.objects.filter(id=TASK).exists()  # the job stays, on its schedule
    # Another scheduler handed the same slot records nothing more: once per slot.
    assert run_scheduled_slot(TASK, slot=slots[1]) is None
    SlotExecutor()._run_due(fake_job(), [slots[1]])
    assert [row.pk for row in rows(slot__in=slots)] == [first.pk, second.pk]
    # Paused: neither late nor missed, though its last success is three days old.
    assert task_problems() == []

    control.resume(operator, TASK)
    resume = TaskStateChange.latest(TASK)
    assert task_problems() == []  # judged from the resume: not overdue at once

    ran = fire(service, slots[2])

    assert ran.status == TaskRun.Status.SUCCEEDED
    assert calls == [slots[2]]
    assert ran.state_change == resume
    assert [row.status for row in rows(slot__in=slots)] == ["skipped", "skipped", "succeeded"]
    # Only the run that ran checked in and was announced; no alert anywhere.
    assert monitor.paths == [f"/{SECRET}/start", f"/{SECRET}"]
    assert [run.pk for run in finished] == [ran.pk]
    assert not TaskAlert.objects.exists()


def test_the_job_of_a_paused_task_is_kept_by_a_new_leader(
    calls: list[datetime], operator: Actor, leader: Callable[[], SchedulerService]
) -> None:
    """The paused task's job is an ordinary stored job (the stable function and trigger paths):
    a leader that takes over keeps it, next run time included, and skips its slots."""
    TaskState.objects.create(task_name=TASK, paused=True)  # paused before any change was recorded
    first = leader()
    stored = DjangoJob.objects.get(id=TASK)
    first.stop()

    second = leader()

    assert DjangoJob.objects.get(id=TASK).next_run_time == stored.next_run_time
    row = fire(second, due_now())
    assert row.status == TaskRun.Status.SKIPPED
    assert row.result["reason"] == "the task is paused"
    assert row.state_change is None
    assert calls == []


# -- the executor's policies ----------------------------------------------------------------------


def test_a_paused_task_s_late_slots_are_skipped_not_missed(
    calls: list[datetime], finished: list[TaskRun]
) -> None:
    control.pause(control.SYSTEM, TASK)
    change = TaskStateChange.latest(TASK)
    assert change is not None
    late = [due_now() - timedelta(hours=hours) for hours in (3, 2)]
    on_time = [due_now() - timedelta(seconds=10), due_now()]

    SlotExecutor()._run_due(fake_job(), late + on_time)

    grouped, *each = rows()
    # The late slots: one row, as missed ones are; the on-time ones: one row each, not coalesced.
    assert grouped.slot == late[-1]
    assert grouped.result["slots"] == 2
    assert [row.slot for row in each] == on_time
    reason = f"paused (command line) at {change.changed_at:%Y-%m-%d %H:%M} UTC"
    for row in rows():
        assert row.status == TaskRun.Status.SKIPPED
        assert row.result["reason"] == reason
    assert calls == []
    assert finished == []


def test_a_slot_of_a_task_paused_meanwhile_is_skipped_and_resumed_it_runs(
    calls: list[datetime], operator: Actor
) -> None:
    """The pause is read at each slot, not when the job store was synced."""
    control.pause(operator, TASK)
    slot = due_now()
    (skipped,) = SlotExecutor()._run_due(fake_job(), [slot])
    control.resume(operator, TASK)
    (ran,) = SlotExecutor()._run_due(fake_job(), [slot + timedelta(seconds=1)])

    assert [row.status for row in rows()] == ["skipped", "succeeded"]
    assert skipped.retval == rows()[0].pk
    assert ran.retval == rows()[1].pk
    assert calls == [slot + timedelta(seconds=1)]


def test_a_paused_task_s_slot_is_not_enqueued(calls: list[datetime], settings: Any) -> None:
    settings.HOUSEKEEPING = {"EXECUTOR": "django_tasks", "EXECUTOR_BACKEND": "dummy"}
    backend = workers.execute_run.using(backend="dummy").get_backend()
    backend.clear()
    TaskState.objects.create(task_name=TASK, paused=True)
    slot = due_now()

    row = queue_scheduled_slot(TASK, slot)

    assert row is not None
    assert (row.status, row.slot, row.enqueued_at) == ("skipped", slot, None)
    assert queue_scheduled_slot(TASK, slot) is None  # once
    assert list(backend.results) == []
    assert len(rows()) == 1


def test_current_pause_is_none_for_a_task_running_normally(calls: list[datetime]) -> None:
    assert current_pause(TASK) is None
    TaskState.objects.create(task_name=TASK, paused=False, schedule="*/5 * * * *")
    assert current_pause(TASK) is None


# -- the health -----------------------------------------------------------------------------------


def test_the_health_judges_a_resumed_task_from_its_resume(
    calls: list[datetime], operator: Actor
) -> None:
    make_lease()
    make_run(TASK, age=timedelta(days=3))
    control.pause(operator, TASK)
    run_scheduled_slot(TASK, slot=due_now())
    assert task_problems() == []

    control.resume(operator, TASK)
    resumed = TaskStateChange.latest(TASK)
    assert resumed is not None

    assert task_problems(now=resumed.changed_at + LIMIT - timedelta(minutes=1)) == []
    (problem,) = task_problems(now=resumed.changed_at + LIMIT + timedelta(minutes=1))
    assert problem.code == OVERDUE
    assert "since it was resumed" in problem.message


def test_no_scheduler_is_no_problem_when_every_scheduled_task_is_paused(
    calls: list[datetime],
) -> None:
    for task in registry:
        TaskState.objects.update_or_create(task_name=task.name, defaults={"paused": True})
    assert NO_SCHEDULER not in [problem.code for problem in health().problems]

    TaskState.objects.filter(task_name=TASK).update(paused=False)
    assert NO_SCHEDULER in [problem.code for problem in health().problems]
