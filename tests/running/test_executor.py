"""The "django_tasks" executor: runs recorded ``queued`` here, executed by a worker of Django's
Tasks framework (the immediate, dummy and database backends of the test settings), exactly once
per attempt; what happens when enqueueing fails, when a message is lost, and retries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from django_housekeeping import housekeeping_task
from django_housekeeping.conf import checks as checks_module
from django_housekeeping.conf.checks import check_executor
from django_housekeeping.models import TaskRun
from django_housekeeping.running import workers
from django_housekeeping.running.heartbeats import fail_lost_runs, is_stale, mark_interrupted
from django_housekeeping.running.retries import retry_interrupted
from django_housekeeping.running.runner import run_queued, start_runs
from django_housekeeping.scheduling.executors import SlotExecutor
from django_housekeeping.signals import task_failed
from tests.helpers import housekeeping, make_run, wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("runs_finish", "temporary_tasks"),
]

EXECUTOR = {"EXECUTOR": "django_tasks"}


def due_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def job(name: str) -> SimpleNamespace:
    return SimpleNamespace(id=name, args=[name], _jobstore_alias="default")


@pytest.fixture
def calls() -> list[int]:
    """The run ids the task ``counted`` executed, in order."""
    executed: list[int] = []

    @housekeeping_task(name="counted", destructive=False)
    def counted(ctx: Any) -> dict[str, int]:
        executed.append(ctx.run.pk)
        return {"attempt": ctx.run.attempt}

    return executed


def dummy_results() -> list[Any]:
    return list(workers.execute_run.using(backend="dummy").get_backend().results)


@pytest.fixture
def dummy(settings: Any) -> Any:
    """The executor on the dummy backend: enqueued, never executed (a queue without workers)."""
    settings.HOUSEKEEPING = {**EXECUTOR, "EXECUTOR_BACKEND": "dummy"}
    workers.execute_run.using(backend="dummy").get_backend().clear()
    return settings


# -- scheduled slots -------------------------------------------------------------------------------


def test_a_slot_is_recorded_queued_and_its_id_enqueued(dummy: Any) -> None:
    slot = due_now()

    (event,) = SlotExecutor()._run_due(job("record"), [slot])

    run = TaskRun.objects.get(task_name="record")
    assert event.retval == run.pk
    assert (run.slot, run.trigger, run.status, run.attempt) == (slot, "schedule", "queued", 1)
    assert run.enqueued_at is not None
    assert run.active_task == "record"  # the task's claim is taken by the leader
    (result,) = dummy_results()
    assert result.args == [run.pk]
    assert result.task.queue_name == "default"


def test_a_slot_claimed_by_another_leader_is_not_enqueued_again(dummy: Any) -> None:
    slot = due_now()
    SlotExecutor()._run_due(job("record"), [slot])

    (event,) = SlotExecutor()._run_due(job("record"), [slot])

    assert event.retval is None
    assert TaskRun.objects.filter(task_name="record").count() == 1
    assert len(dummy_results()) == 1


def test_a_slot_whose_task_is_queued_is_recorded_skipped(dummy: Any) -> None:
    first, second = due_now(), due_now() + timedelta(seconds=1)
    SlotExecutor()._run_due(job("record"), [first])

    SlotExecutor()._run_due(job("record"), [second])

    skipped = TaskRun.objects.get(task_name="record", slot=second)
    assert skipped.status == "skipped"
    assert skipped.result["reason"] == "already queued"
    assert len(dummy_results()) == 1


def test_on_the_immediate_backend_the_slot_runs_through_the_run_path(settings: Any) -> None:
    settings.HOUSEKEEPING = EXECUTOR
    slot = due_now()

    SlotExecutor()._run_due(job("record"), [slot])

    run = TaskRun.objects.get(task_name="record")
    assert (run.slot, run.trigger, run.status) == (slot, "schedule", "succeeded")
    assert run.enqueued_at is not None


# -- runs a person starts --------------------------------------------------------------------------


def test_a_person_s_run_is_enqueued_not_threaded(dummy: Any, calls: list[int]) -> None:
    (dispatched,) = start_runs(["counted"], trigger=TaskRun.Trigger.API)

    assert dispatched.thread is None
    assert dispatched.started
    run = TaskRun.objects.get(pk=dispatched.run.pk)
    assert (run.status, run.trigger) == ("queued", "api")
    assert [result.args for result in dummy_results()] == [[run.pk]]
    assert not dispatched.wait(0.3)  # nothing executes it: still queued
    assert calls == []

    workers.execute_run.call(run.pk)  # what a worker does with the message

    assert dispatched.wait(5)
    assert dispatched.run.status == "succeeded"
    assert calls == [run.pk]


def test_the_queue_and_backend_come_from_the_settings(settings: Any) -> None:
    settings.TASKS = {
        **settings.TASKS,
        "dummy": {"BACKEND": settings.TASKS["dummy"]["BACKEND"], "QUEUES": ["housekeeping"]},
    }
    settings.HOUSEKEEPING = {
        **EXECUTOR,
        "EXECUTOR_BACKEND": "dummy",
        "EXECUTOR_QUEUE": "housekeeping",
    }
    workers.execute_run.using(backend="dummy", queue_name="housekeeping").get_backend().clear()

    (dispatched,) = start_runs(["record"])

    (result,) = (
        workers.execute_run.using(backend="dummy", queue_name="housekeeping").get_backend().results
    )
    assert (result.backend, result.task.queue_name) == ("dummy", "housekeeping")
    assert result.args == [dispatched.run.pk]


# -- exactly once ---------------------------------------------------------------------------------


def test_a_message_delivered_twice_executes_once(dummy: Any, calls: list[int]) -> None:
    (dispatched,) = start_runs(["counted"])
    run_id = dispatched.run.pk

    assert workers.execute_run.call(run_id) == "succeeded"
    assert workers.execute_run.call(run_id) == "succeeded"  # the duplicate: not executed

    assert calls == [run_id]


def test_a_run_given_up_is_not_executed_when_its_message_arrives(
    dummy: Any, calls: list[int]
) -> None:
    (dispatched,) = start_runs(["counted"])
    (failed,) = fail_lost_runs(now=timezone.now() + timedelta(hours=1))
    assert failed.pk == dispatched.run.pk

    assert workers.execute_run.call(dispatched.run.pk) == "failed"

    assert calls == []


def test_a_run_no_longer_in_the_history_is_ignored(dummy: Any) -> None:
    assert run_queued(987654) is None
    assert workers.execute_run.call(987654) is None


def test_a_worker_without_the_task_records_it_failed(dummy: Any) -> None:
    run = make_run("gone", status="queued", enqueued_at=timezone.now())

    run_queued(run.pk)

    run.refresh_from_db()
    assert (run.status, run.active_task) == ("failed", None)
    assert "not registered in this worker" in run.error


def test_the_database_backend_s_worker_executes_each_run_once(
    settings: Any, calls: list[int]
) -> None:
    """django-tasks-db: the run's id in a row of its queue, its db_worker executing it; the same
    run enqueued three times executes once."""
    settings.HOUSEKEEPING = {**EXECUTOR, "EXECUTOR_BACKEND": "database"}
    (dispatched,) = start_runs(["counted"])
    workers.enqueue(dispatched.run.pk)
    workers.enqueue(dispatched.run.pk)

    call_command("db_worker", "--batch", "--no-startup-delay", "--backend", "database", verbosity=0)

    assert calls == [dispatched.run.pk]
    dispatched.run.refresh_from_db()
    assert dispatched.run.status == "succeeded"


# -- enqueueing fails ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"EXECUTOR_BACKEND": "nowhere"}, "on the 'nowhere' backend of TASKS"),
        ({"EXECUTOR_BACKEND": "dummy", "EXECUTOR_QUEUE": "elsewhere"}, "Queue 'elsewhere'"),
    ],
)
def test_a_run_that_cannot_be_enqueued_is_failed_with_the_reason(
    settings: Any, override: dict[str, str], expected: str
) -> None:
    settings.HOUSEKEEPING = {**EXECUTOR, **override}
    failures: list[str] = []

    def on_failed(sender: Any, run: TaskRun, reason: str, **kwargs: Any) -> None:
        failures.append(reason)

    task_failed.connect(on_failed)
    try:
        (dispatched,) = start_runs(["record"])
    finally:
        task_failed.disconnect(on_failed)

    run = TaskRun.objects.get(pk=dispatched.run.pk)
    assert (run.status, run.active_task) == ("failed", None)
    assert run.error.startswith("Could not enqueue the run")
    assert expected in run.error
    assert failures == [run.error]


def test_a_slot_that_cannot_be_enqueued_is_failed_and_the_next_one_goes_on(
    settings: Any,
) -> None:
    settings.HOUSEKEEPING = {**EXECUTOR, "EXECUTOR_BACKEND": "nowhere"}
    first, second = due_now(), due_now() + timedelta(seconds=1)

    SlotExecutor()._run_due(job("record"), [first])
    (event,) = SlotExecutor()._run_due(job("record"), [second])

    statuses = list(TaskRun.objects.order_by("slot").values_list("status", flat=True))
    assert statuses == ["failed", "failed"]  # the first one's failure freed the task
    assert event.code != 0  # recorded as an error of the job, not raised


# -- a lost message --------------------------------------------------------------------------------


def test_a_queued_run_waits_for_a_worker_without_being_interrupted(dummy: Any) -> None:
    settings_timeout = 60  # HEARTBEAT_TIMEOUT's default
    (dispatched,) = start_runs(["record"])
    later = timezone.now() + timedelta(seconds=settings_timeout * 2)

    assert mark_interrupted(now=later) == []
    assert not is_stale(dispatched.run, now=later)
    assert fail_lost_runs(now=later) == []  # within QUEUE_TIMEOUT (600 s)


def test_a_run_no_worker_took_within_the_queue_timeout_is_failed(dummy: Any) -> None:
    dummy.HOUSEKEEPING = {**dummy.HOUSEKEEPING, "QUEUE_TIMEOUT": 30}
    (dispatched,) = start_runs(["record"])

    (failed,) = fail_lost_runs(now=timezone.now() + timedelta(seconds=31))

    run = TaskRun.objects.get(pk=dispatched.run.pk)
    assert failed.pk == run.pk
    assert (run.status, run.active_task) == ("failed", None)
    assert "within 30 s (QUEUE_TIMEOUT)" in run.error
    assert start_runs(["record"])  # the task is free again


# -- retries ---------------------------------------------------------------------------------------


def interrupted_run(name: str, **fields: Any) -> TaskRun:
    """A run of ``name`` whose process died, marked ``interrupted`` a moment ago."""
    now = timezone.now()
    fields.setdefault("slot", due_now() - timedelta(seconds=30))
    fields.setdefault("finished_at", now)
    return make_run(
        name,
        status="interrupted",
        age=timedelta(seconds=20),
        duration=timedelta(seconds=20),
        error="Interrupted: the process running it stopped",
        **fields,
    )


@pytest.fixture
def retried_task() -> list[int]:
    executed: list[int] = []

    @housekeeping_task(name="fragile", retries=1)
    def fragile(ctx: Any) -> None:
        executed.append(ctx.run.attempt)

    return executed


def test_an_interrupted_run_is_retried_once_as_the_next_attempt_of_its_slot(
    dummy: Any, retried_task: list[int]
) -> None:
    first = interrupted_run("fragile")

    (retry,) = retry_interrupted()

    assert (retry.task_name, retry.slot, retry.attempt) == ("fragile", first.slot, 2)
    assert (retry.trigger, retry.status, retry.retry_of) == ("schedule", "queued", first)
    assert [result.args for result in dummy_results()] == [[retry.pk]]
    assert retry_interrupted() == []  # exactly once per attempt

    workers.execute_run.call(retry.pk)
    assert retried_task == [2]
    retry.refresh_from_db()
    assert retry.status == "succeeded"


def test_the_last_attempt_is_not_retried(dummy: Any, retried_task: list[int]) -> None:
    first = interrupted_run("fragile")
    interrupted_run("fragile", slot=first.slot, attempt=2, retry_of=first)

    assert retry_interrupted() == []


def test_a_task_without_retries_is_not_retried(dummy: Any) -> None:
    interrupted_run("record")

    assert retry_interrupted() == []


def test_retries_come_from_the_settings_too(dummy: Any) -> None:
    dummy.HOUSEKEEPING = {**dummy.HOUSEKEEPING, "TASKS": {"record": {"retries": 2}}}
    interrupted_run("record")

    (retry,) = retry_interrupted()

    assert retry.attempt == 2


def test_an_interruption_older_than_the_misfire_grace_is_not_retried(
    dummy: Any, retried_task: list[int]
) -> None:
    interrupted_run("fragile", finished_at=timezone.now() - timedelta(seconds=601))

    assert retry_interrupted() == []


def test_a_retry_waits_while_another_run_of_its_task_is_active(
    dummy: Any, retried_task: list[int]
) -> None:
    interrupted_run("fragile")
    holder = make_run("fragile", status="running", duration=None)

    assert retry_interrupted() == []

    holder.finish("succeeded")
    (retry,) = retry_interrupted()
    assert retry.attempt == 2


def test_with_the_thread_executor_a_retry_runs_in_a_thread(retried_task: list[int]) -> None:
    interrupted_run("fragile")

    (retry,) = retry_interrupted()

    assert retry.enqueued_at is None
    wait_for(lambda: TaskRun.objects.get(pk=retry.pk).status == "succeeded", 10, "the retry to run")
    assert retried_task == [2]


def test_retries_must_be_a_whole_number() -> None:
    with pytest.raises(ValueError, match="must be a whole number, 0 or more"):
        housekeeping_task(name="bad", retries=-1)(lambda: None)


# -- the command line ------------------------------------------------------------------------------


def test_run_via_executor_enqueues_and_returns(dummy: Any) -> None:
    outcome = housekeeping("run", "record", "--via-executor")

    run = TaskRun.objects.get(task_name="record")
    assert outcome.returncode == 0, outcome.message
    assert outcome.out.strip() == f"record: run #{run.pk} enqueued (queued)"
    assert (run.status, run.trigger) == ("queued", "cli")
    assert [result.args for result in dummy_results()] == [[run.pk]]


def test_run_via_executor_json(dummy: Any) -> None:
    outcome = housekeeping("run", "record", "--via-executor", "--json")

    (run,) = outcome.json()
    assert (run["task"], run["status"]) == ("record", "queued")


def test_run_via_executor_needs_the_executor() -> None:
    outcome = housekeeping("run", "record", "--via-executor")

    assert outcome.returncode == 2
    assert 'HOUSEKEEPING["EXECUTOR"] = "django_tasks"' in outcome.message
    assert not TaskRun.objects.exists()


def test_run_via_executor_reports_a_failed_enqueue(settings: Any) -> None:
    settings.HOUSEKEEPING = {**EXECUTOR, "EXECUTOR_BACKEND": "nowhere"}

    outcome = housekeeping("run", "record", "--via-executor")

    assert outcome.returncode == 1
    assert "NOT enqueued (failed)" in outcome.out
    assert "Could not enqueue the run" in outcome.err


def test_run_via_executor_reports_a_task_already_queued(dummy: Any) -> None:
    housekeeping("run", "record", "--via-executor")

    outcome = housekeeping("run", "record", "--via-executor")

    assert outcome.returncode == 3
    assert outcome.message.startswith("record is already queued")


# -- the system check -----------------------------------------------------------------------------


def test_check_e007_when_no_tasks_framework_is_installed(settings: Any, monkeypatch: Any) -> None:
    settings.HOUSEKEEPING = EXECUTOR
    assert check_executor() == []

    monkeypatch.setattr(checks_module, "find_spec", lambda name: None)
    (error,) = check_executor()
    assert error.id == "django_housekeeping.E007"
    assert "pip install django-housekeeping[tasks]" in error.hint
