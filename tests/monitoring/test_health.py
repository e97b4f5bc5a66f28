"""The one definition of health: the scheduler, overdue / failed / interrupted tasks, checks."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from django_housekeeping import every, housekeeping_task, registry
from django_housekeeping.models import SchedulerLease, TaskRun, TaskState
from django_housekeeping.monitoring.health import (
    CHECK,
    FAILED,
    INTERRUPTED,
    NO_SCHEDULER,
    OVERDUE,
    health,
)
from tests.helpers import make_lease, make_run

pytestmark = pytest.mark.django_db

TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "x.py", line 1, in boom\n'
    "RuntimeError: boom: the database said no\n"
)
# "record" runs every(hours=6): overdue after two intervals plus the 600 s misfire grace.
RECORD_LIMIT = timedelta(hours=12, minutes=10)


def codes(state=None) -> list[tuple[str, str | None]]:
    state = state or health()
    return [(problem.code, problem.task) for problem in state.problems]


def test_healthy_with_a_live_leader_and_nothing_run_yet() -> None:
    make_lease()

    state = health()

    assert state.healthy
    assert state.status == "ok"
    assert state.as_dict(details=False) == {"status": "ok"}
    assert state.as_dict()["problems"] == []


@pytest.mark.parametrize(
    "lease",
    [None, {"owner": ""}, {"expires_in": -1}],
    ids=["never-started", "released", "expired"],
)
def test_no_live_leader_is_unhealthy(lease: dict | None) -> None:
    if lease is not None:
        make_lease(**lease)

    state = health()

    assert codes(state) == [(NO_SCHEDULER, None)]
    assert state.status == "unhealthy"
    assert "manage.py housekeeping scheduler" in state.problems[0].message


def test_no_scheduler_is_no_problem_when_no_task_is_scheduled() -> None:
    for task in registry:
        if task.schedule is not None:
            TaskState.objects.create(task_name=task.name, paused=True)

    assert health().healthy


def test_a_task_is_overdue_after_two_intervals_and_its_grace() -> None:
    make_lease()
    make_run("record", age=RECORD_LIMIT - timedelta(minutes=1), duration=timedelta(0))
    assert health().healthy

    TaskRun.objects.all().delete()
    make_run("record", age=RECORD_LIMIT + timedelta(minutes=1), duration=timedelta(0))
    state = health()

    assert codes(state) == [(OVERDUE, "record")]
    assert state.problems[0].message.startswith("record is overdue: 12\xa0hours, 11\xa0minutes")
    assert "should succeed every 12\xa0hours, 10\xa0minutes" in state.problems[0].message


def test_only_successes_that_are_no_dry_run_count() -> None:
    make_lease()
    make_run("record", age=timedelta(days=2))
    make_run("record", age=timedelta(hours=1), dry_run=True)
    make_run("record", age=timedelta(minutes=5), status=TaskRun.Status.SKIPPED)

    assert codes() == [(OVERDUE, "record")]


@override_settings(HOUSEKEEPING={"TASKS": {"record": {"expect_success_every": 3600}}})
def test_expect_success_every_from_the_settings() -> None:
    make_lease()
    make_run("record", age=timedelta(hours=2))

    assert codes() == [(OVERDUE, "record")]


@pytest.mark.usefixtures("temporary_tasks")
def test_expect_success_every_from_the_decorator() -> None:
    @housekeeping_task(
        name="hourly", schedule=every(hours=1), expect_success_every=timedelta(days=3)
    )
    def hourly() -> None:
        pass

    make_lease()
    make_run("hourly", age=timedelta(days=2))
    assert health().healthy
    assert registry.get("hourly").expect_success_every == timedelta(days=3)


def test_the_admins_schedule_override_sets_the_default() -> None:
    make_lease()
    make_run("record", age=timedelta(hours=1))
    assert health().healthy

    TaskState.objects.create(task_name="record", schedule="*/5 * * * *")

    assert codes() == [(OVERDUE, "record")]  # every 5 min: overdue after 20 min


def test_a_task_that_never_succeeded_is_judged_from_its_first_run() -> None:
    make_lease()
    make_run("record", age=timedelta(days=1), status=TaskRun.Status.MISSED)

    state = health()

    assert codes(state) == [(OVERDUE, "record")]
    assert "never succeeded" in state.problems[0].message


def test_a_task_that_never_ran_is_judged_from_when_the_leader_started() -> None:
    lease = make_lease()
    assert health().healthy  # the leader started an hour ago

    SchedulerLease.objects.filter(pk=lease.pk).update(
        acquired_at=timezone.now() - RECORD_LIMIT - timedelta(minutes=1)
    )

    assert codes() == [(OVERDUE, "record")]


def test_a_failed_last_run_is_unhealthy_until_a_success() -> None:
    make_lease()
    run = make_run("boom", status=TaskRun.Status.FAILED, error=TRACEBACK)

    state = health()

    assert codes(state) == [(FAILED, "boom")]
    assert state.problems[0].run_id == run.pk
    assert state.problems[0].message == (
        f"boom: its last run (#{run.pk}) failed: RuntimeError: boom: the database said no"
    )

    make_run("boom", status=TaskRun.Status.FAILED, error=TRACEBACK, dry_run=True)
    make_run("boom", status=TaskRun.Status.QUEUED)  # not finished: no outcome yet
    assert codes() == [(FAILED, "boom")]

    TaskRun.objects.filter(dry_run=True).delete()
    TaskRun.objects.filter(status=TaskRun.Status.QUEUED).delete()
    make_run("boom", status=TaskRun.Status.SUCCEEDED)
    assert health().healthy


def test_an_interrupted_last_run_is_unhealthy() -> None:
    make_lease()
    make_run("no_context_task", status=TaskRun.Status.INTERRUPTED, error="Interrupted: gone")
    make_run("threads", status=TaskRun.Status.INTERRUPTED, error="Interrupted: its process died")

    state = health()

    assert codes(state) == [(INTERRUPTED, "threads")]  # no task is named "no_context_task"
    assert state.problems[0].message.endswith(
        "was interrupted (its process died): Interrupted: its process died"
    )


def test_paused_and_disabled_tasks_are_not_judged() -> None:
    make_lease()
    make_run("boom", status=TaskRun.Status.FAILED, error=TRACEBACK)
    make_run("dormant", status=TaskRun.Status.FAILED, error=TRACEBACK)
    make_run("record", age=timedelta(days=3))
    TaskState.objects.create(task_name="boom", paused=True)
    TaskState.objects.create(task_name="record", paused=True)

    assert health().healthy


@override_settings(HOUSEKEEPING={"HISTORY_DAYS": 0})
def test_a_failing_system_check_is_unhealthy() -> None:
    make_lease()

    state = health()

    assert codes(state) == [(CHECK, None)]
    assert state.problems[0].message.startswith("django_housekeeping.E005: ")


@override_settings(
    HOUSEKEEPING={"HISTORY_DAYS": 0}, SILENCED_SYSTEM_CHECKS=["django_housekeeping.E005"]
)
def test_a_silenced_check_is_no_problem() -> None:
    make_lease()
    assert health().healthy


def test_problems_come_in_order_scheduler_tasks_checks() -> None:
    make_run("boom", status=TaskRun.Status.FAILED, error=TRACEBACK)
    with override_settings(HOUSEKEEPING={"HISTORY_DAYS": 0}):
        assert [code for code, _ in codes()] == [NO_SCHEDULER, FAILED, CHECK]


def test_the_decorator_refuses_a_bad_expect_success_every(temporary_tasks: None) -> None:
    with pytest.raises(ValueError, match="must be a positive timedelta"):

        @housekeeping_task(name="bad", expect_success_every=timedelta(0))
        def bad() -> None:
            pass

    assert "bad" not in registry


def test_the_default_expectation_follows_the_schedule() -> None:
    assert registry.get("record").expect_success_every == RECORD_LIMIT
    assert registry.get("threads").expect_success_every == timedelta(days=14, minutes=10)
    assert registry.get("boom").expect_success_every is None  # run by hand only
