"""``start_runs``: how the API and the dashboard start runs outside the request."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import IntegrityError, OperationalError, connections, transaction
from django.utils import timezone

from django_housekeeping import NotRegistered, housekeeping_task, run_task
from django_housekeeping.models import TaskRun
from django_housekeeping.running import claims
from django_housekeeping.running.reconnect import is_deadlock
from django_housekeeping.running.runner import AlreadyRunning, start_runs, wait_for_dispatched_runs
from django_housekeeping.signals import task_finished, task_started
from tests.helpers import make_run, make_user, wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("runs_finish", "temporary_tasks"),
]


def test_the_run_is_recorded_before_it_executes_in_another_thread() -> None:
    seen: dict[str, Any] = {}
    release = threading.Event()

    @housekeeping_task(name="probe")
    def probe(ctx: Any) -> dict[str, int]:
        seen["thread"] = threading.current_thread()
        seen["run_id"] = ctx.run.pk
        release.wait(10)
        return {"answer": 42}

    user = make_user("operator", staff=True)
    (dispatched,) = start_runs(["probe"], trigger=TaskRun.Trigger.API, user=user)

    assert dispatched.run.pk is not None
    assert dispatched.run.status == TaskRun.Status.QUEUED  # as recorded, before its thread starts
    wait_for(
        lambda: TaskRun.objects.get(pk=dispatched.run.pk).status == TaskRun.Status.RUNNING,
        10,
        "the thread to start the run",
    )
    release.set()
    assert dispatched.wait(10)
    assert seen["run_id"] == dispatched.run.pk
    assert seen["thread"] is dispatched.thread
    assert seen["thread"] is not threading.current_thread()
    run = TaskRun.objects.get(pk=dispatched.run.pk)
    assert (run.status, run.result, run.trigger) == ("succeeded", {"answer": 42}, "api")
    assert run.triggered_by == user
    assert dispatched.run.status == TaskRun.Status.SUCCEEDED  # wait() refreshed it


def test_signals_and_history_are_those_of_run_task() -> None:
    events: list[tuple[str, int]] = []

    def started(sender: Any, run: TaskRun, **kwargs: Any) -> None:
        events.append(("started", run.pk))

    def finished(sender: Any, run: TaskRun, **kwargs: Any) -> None:
        events.append(("finished", run.pk))

    task_started.connect(started)
    task_finished.connect(finished)
    try:
        (dispatched,) = start_runs(["nightly"], dry_run=True)
        assert dispatched.wait(30)
    finally:
        task_started.disconnect(started)
        task_finished.disconnect(finished)

    group = TaskRun.objects.get(pk=dispatched.run.pk)
    children = list(group.children.order_by("id"))
    assert group.status == TaskRun.Status.FAILED  # its member "boom" fails
    assert [child.task_name for child in children] == ["threads", "boom", "record"]
    assert all(child.dry_run for child in children)
    assert events[0] == ("started", group.pk)
    assert events[-1] == ("finished", group.pk)
    assert ("finished", children[1].pk) in events


def test_the_thread_closes_its_database_connections() -> None:
    opened: list[Any] = []

    @housekeeping_task(name="probe")
    def probe() -> None:
        connection = connections["default"]
        connection.ensure_connection()
        opened.append(connection)

    (dispatched,) = start_runs(["probe"])

    assert dispatched.wait(10)
    assert opened[0] is not connections["default"]  # the thread's own connection
    assert opened[0].connection is None


def test_unknown_names_start_nothing() -> None:
    with pytest.raises(NotRegistered, match="unknown task 'nope'"):
        start_runs(["record", "nope"])

    assert not TaskRun.objects.exists()


def test_a_running_task_starts_nothing() -> None:
    running = make_run("threads", status=TaskRun.Status.RUNNING)

    with pytest.raises(AlreadyRunning) as caught:
        start_runs(["record", "threads"])

    assert caught.value.task_name == "threads"
    assert caught.value.running == running
    assert str(caught.value).startswith(f"threads is already running (run #{running.pk}")
    assert list(TaskRun.objects.all()) == [running]


def test_a_run_whose_heartbeat_stopped_does_not_block() -> None:
    stale = make_run("record", age=timedelta(hours=2), status=TaskRun.Status.RUNNING)

    (dispatched,) = start_runs(["record"])

    assert dispatched.wait(10)
    assert dispatched.run.status == TaskRun.Status.SUCCEEDED
    stale.refresh_from_db()
    assert (stale.status, stale.active_task) == (TaskRun.Status.INTERRUPTED, None)


def test_a_run_no_longer_queued_when_its_thread_starts_is_not_executed() -> None:
    ran: list[int] = []
    housekeeping_task(name="probe")(lambda: ran.append(1))

    with transaction.atomic():
        (dispatched,) = start_runs(["probe"])
        # Marked interrupted (say) before the thread could start it.
        TaskRun.objects.filter(pk=dispatched.run.pk).update(
            status=TaskRun.Status.INTERRUPTED, active_task=None
        )

    assert dispatched.wait(10)
    assert ran == []
    assert dispatched.run.status == TaskRun.Status.INTERRUPTED


def test_duplicates_are_run_once_in_order() -> None:
    dispatched = start_runs(["record", "threads", "record"])

    assert [item.run.task_name for item in dispatched] == ["record", "threads"]
    assert wait_for_dispatched_runs(timeout=30)


def test_in_a_transaction_the_thread_starts_when_it_commits() -> None:
    with transaction.atomic():
        (dispatched,) = start_runs(["record"])
        assert not dispatched.started
        assert dispatched.wait(0.01) is False

    assert dispatched.wait(10)
    assert dispatched.run.status == TaskRun.Status.SUCCEEDED


def test_a_rolled_back_transaction_starts_nothing() -> None:
    with transaction.atomic():
        (dispatched,) = start_runs(["record"])
        transaction.set_rollback(True)

    assert not dispatched.started
    assert not TaskRun.objects.exists()
    assert wait_for_dispatched_runs(timeout=1)


def test_an_interrupted_run_is_recorded_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    @housekeeping_task(name="interrupted")
    def interrupted() -> None:
        raise KeyboardInterrupt

    (dispatched,) = start_runs(["interrupted"])

    assert dispatched.wait(10)
    assert dispatched.run.status == TaskRun.Status.FAILED
    assert "KeyboardInterrupt" in dispatched.run.error
    assert f"Run #{dispatched.run.pk} of interrupted was interrupted" in caplog.text


def test_wait_for_dispatched_runs_gives_up_after_its_timeout() -> None:
    release = threading.Event()

    @housekeeping_task(name="slow")
    def slow() -> None:
        release.wait(30)

    start_runs(["slow"])
    try:
        assert wait_for_dispatched_runs(timeout=0.05) is False
    finally:
        release.set()
    assert wait_for_dispatched_runs(timeout=10) is True


@pytest.mark.parametrize(
    ("names", "trigger", "message"),
    [([], "api", "needs at least one task name"), (["record"], "cron", "unknown trigger 'cron'")],
)
def test_bad_arguments(names: list[str], trigger: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        start_runs(names, trigger=trigger)


def test_the_run_now_is_its_start_time() -> None:
    seen: list[Any] = []

    @housekeeping_task(name="probe")
    def probe(ctx: Any) -> None:
        seen.append(ctx.now)

    before = timezone.now()
    (dispatched,) = start_runs(["probe"])

    assert dispatched.wait(10)
    assert seen == [dispatched.run.started_at]
    assert dispatched.run.started_at >= before


# -- a deadlock while recording ------------------------------------------------------------------


def deadlock() -> OperationalError:
    """What Django raises when MySQL/MariaDB picks the transaction as a deadlock's victim."""
    return OperationalError(
        1213, "Deadlock found when trying to get lock; try restarting transaction"
    )


def test_what_is_a_deadlock() -> None:
    assert is_deadlock(deadlock())
    assert not is_deadlock(OperationalError(2006, "MySQL server has gone away"))
    assert not is_deadlock(IntegrityError(1062, "Duplicate entry"))
    postgres = OperationalError("deadlock detected")
    postgres.__cause__ = type("DeadlockDetected", (Exception,), {"sqlstate": "40P01"})()
    assert is_deadlock(postgres)


@pytest.mark.django_db(transaction=True)
def test_a_deadlock_while_recording_runs_is_tried_again(
    monkeypatch: pytest.MonkeyPatch, runs_finish: None
) -> None:
    real = claims.claim
    failures = iter([deadlock()])

    def claim_once_deadlocked(run: TaskRun) -> TaskRun | None:
        failure = next(failures, None)
        if failure is not None:
            real(run)  # inserted, then the transaction is rolled back
            raise failure
        return real(run)

    monkeypatch.setattr(claims, "claim", claim_once_deadlocked)

    (dispatched,) = start_runs(["record"])

    wait_for_dispatched_runs()
    assert list(TaskRun.objects.values_list("pk", "status")) == [
        (dispatched.run.pk, TaskRun.Status.SUCCEEDED)
    ]


@pytest.mark.django_db(transaction=True)
def test_a_deadlock_inside_the_callers_transaction_is_the_callers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def deadlocked(run: TaskRun) -> TaskRun | None:
        raise deadlock()

    monkeypatch.setattr(claims, "claim", deadlocked)

    with pytest.raises(OperationalError), transaction.atomic():
        start_runs(["record"])
    assert not TaskRun.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_deadlock_every_time_gives_up(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def deadlocked(run: TaskRun) -> TaskRun | None:
        calls.append(run.task_name)
        raise deadlock()

    monkeypatch.setattr(claims, "claim", deadlocked)

    with pytest.raises(OperationalError):
        start_runs(["record"])
    assert calls == ["record"] * claims.DEADLOCK_ATTEMPTS


def deadlocking_insert(monkeypatch: pytest.MonkeyPatch, times: int) -> list[str]:
    """The run's insert deadlocks its first ``times`` attempts (the row is not inserted, as the
    database rolled it back); the attempts' task names."""
    real = claims.insert_run
    attempts: list[str] = []

    def insert(run: TaskRun) -> None:
        attempts.append(run.task_name)
        if len(attempts) <= times:
            raise deadlock()
        real(run)

    monkeypatch.setattr(claims, "insert_run", insert)
    return attempts


@pytest.mark.django_db(transaction=True)
def test_a_run_whose_insert_deadlocks_is_recorded_on_the_next_attempt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    attempts = deadlocking_insert(monkeypatch, times=1)

    run = run_task("record")

    assert attempts == ["record", "record"]
    assert list(TaskRun.objects.values_list("pk", "status")) == [(run.pk, TaskRun.Status.SUCCEEDED)]


@pytest.mark.django_db(transaction=True)
def test_a_run_whose_insert_always_deadlocks_gives_up(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts = deadlocking_insert(monkeypatch, times=claims.DEADLOCK_ATTEMPTS)

    with pytest.raises(OperationalError):
        run_task("record")
    assert attempts == ["record"] * claims.DEADLOCK_ATTEMPTS
    assert not TaskRun.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_run_whose_insert_deadlocks_in_the_callers_transaction_is_not_tried_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    attempts = deadlocking_insert(monkeypatch, times=1)

    with pytest.raises(OperationalError), transaction.atomic():
        run_task("record")
    assert attempts == ["record"]
