"""Alerts: one per failure streak (and per overdue streak), one recovery, mail and signals."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import django
import pytest
from django.core import mail
from django.test import override_settings

from django_housekeeping import housekeeping_task, run_task
from django_housekeeping.models import RunDay, TaskAlert, TaskRun, TaskState
from django_housekeeping.monitoring import alerts
from django_housekeeping.running.heartbeats import mark_interrupted
from django_housekeeping.signals import alert_raised, alert_resolved, task_failed
from tests.helpers import make_lease, make_run

# Transactional: the alert signals are sent once the alert's row commits.
pytestmark = pytest.mark.django_db(transaction=True)

# Django 6.0 takes ADMINS as addresses and deprecates the (name, address) pairs 5.2 needs.
ADMINS = ["ops@example.com"] if django.VERSION >= (6, 0) else [("Ops", "ops@example.com")]
MAILING = override_settings(HOUSEKEEPING={"ALERT_MAIL_ADMINS": True}, ADMINS=ADMINS)
OUTCOME: dict[str, bool] = {}


@pytest.fixture
def flaky(temporary_tasks: None) -> Iterator[None]:
    """A task ``flaky`` that fails while ``OUTCOME["fail"]`` is true."""

    @housekeeping_task(name="flaky")
    def flaky_task() -> dict[str, bool]:
        if OUTCOME.get("fail"):
            raise ValueError("the disk is full\nsecond line")
        return {"ok": True}

    OUTCOME["fail"] = True
    yield
    OUTCOME.clear()


@pytest.fixture
def signals() -> Iterator[list[tuple[str, Any]]]:
    sent: list[tuple[str, Any]] = []

    def raised(sender: Any, alert: TaskAlert, **kwargs: Any) -> None:
        sent.append(("raised", alert))

    def resolved(sender: Any, alert: TaskAlert, run: TaskRun | None, **kwargs: Any) -> None:
        sent.append(("resolved", alert, run))

    alert_raised.connect(raised)
    alert_resolved.connect(resolved)
    yield sent
    alert_raised.disconnect(raised)
    alert_resolved.disconnect(resolved)


@MAILING
@pytest.mark.usefixtures("flaky")
def test_one_mail_per_failure_streak_and_one_recovery(signals: list[tuple[str, Any]]) -> None:
    first = run_task("flaky")
    run_task("flaky")
    run_task("flaky")

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ops@example.com"]
    assert message.subject.endswith("Housekeeping: flaky failed")
    assert "Task: flaky" in message.body
    assert f"What happened: run #{first.pk} failed: ValueError: the disk is full" in message.body
    assert f"/admin/django_housekeeping/taskrun/{first.pk}/change/" in message.body
    (alert,) = TaskAlert.objects.all()
    assert (alert.task_name, alert.kind, alert.run_id, alert.is_open) == (
        "flaky",
        "failed",
        first.pk,
        True,
    )

    OUTCOME["fail"] = False
    success = run_task("flaky")
    run_task("flaky")

    assert len(mail.outbox) == 2
    assert mail.outbox[1].subject.endswith("Housekeeping: flaky recovered")
    assert f"/admin/django_housekeeping/taskrun/{success.pk}/change/" in mail.outbox[1].body
    alert.refresh_from_db()
    assert alert.closed_at is not None
    assert alert.open_key is None
    assert [entry[0] for entry in signals] == ["raised", "resolved"]
    assert signals[1][2] == success

    # A new streak alerts again.
    OUTCOME["fail"] = True
    run_task("flaky")
    assert len(mail.outbox) == 3
    assert TaskAlert.objects.filter(closed_at__isnull=True).count() == 1


@pytest.mark.usefixtures("flaky")
def test_without_alert_mail_admins_only_the_signals_are_sent(
    signals: list[tuple[str, Any]], settings: Any
) -> None:
    settings.ADMINS = ADMINS
    run_task("flaky")
    OUTCOME["fail"] = False
    run_task("flaky")

    assert mail.outbox == []
    assert [entry[0] for entry in signals] == ["raised", "resolved"]


@MAILING
@pytest.mark.usefixtures("flaky")
def test_dry_runs_neither_raise_nor_resolve(signals: list[tuple[str, Any]]) -> None:
    run_task("flaky", dry_run=True)
    assert signals == []

    run_task("flaky")
    OUTCOME["fail"] = False
    run_task("flaky", dry_run=True)

    assert [entry[0] for entry in signals] == ["raised"]
    assert len(mail.outbox) == 1


@MAILING
def test_a_group_alerts_for_its_failed_member_only(signals: list[tuple[str, Any]]) -> None:
    run_task("nightly")  # threads, boom (fails), record

    assert [(entry[0], entry[1].task_name) for entry in signals] == [("raised", "boom")]
    assert len(mail.outbox) == 1


@MAILING
def test_an_interrupted_run_raises_a_failed_alert(signals: list[tuple[str, Any]]) -> None:
    run = make_run("threads", status=TaskRun.Status.RUNNING, age=timedelta(hours=1))

    assert mark_interrupted() == [run]

    ((what, alert),) = signals
    assert (what, alert.task_name, alert.kind, alert.run_id) == (
        "raised",
        "threads",
        "failed",
        run.pk,
    )
    assert alert.reason.startswith(f"run #{run.pk} was interrupted: Interrupted: the process")
    assert mail.outbox[0].subject.endswith("Housekeeping: threads failed")


@MAILING
def test_a_run_found_interrupted_after_a_later_success_raises_nothing(
    signals: list[tuple[str, Any]],
) -> None:
    """The run of a process killed before an upgrade (0.1.0 wrote it: no active-run claim), marked
    ``interrupted`` by the first new leader although a later run already succeeded: that streak
    ended, so no alert, no mail and no ``task_failed``; the history and the totals still say so."""
    failures: list[TaskRun] = []

    def failed(sender: Any, run: TaskRun, **kwargs: Any) -> None:
        failures.append(run)

    killed = make_run(
        "threads", status=TaskRun.Status.RUNNING, age=timedelta(hours=3), active_task=None
    )
    make_run("threads", age=timedelta(hours=2))
    task_failed.connect(failed)
    try:
        assert mark_interrupted() == [killed]
    finally:
        task_failed.disconnect(failed)

    assert TaskRun.objects.get(pk=killed.pk).status == TaskRun.Status.INTERRUPTED
    assert (signals, failures, mail.outbox) == ([], [], [])
    assert not TaskAlert.objects.exists()
    assert RunDay.objects.get(task_name="threads", status="interrupted").runs == 1

    # A failure after that success is a new streak: it alerts.
    later = make_run("threads", status=TaskRun.Status.RUNNING, age=timedelta(hours=1))
    assert mark_interrupted() == [later]
    (alert,) = TaskAlert.objects.all()
    assert (alert.run_id, alert.is_open) == (later.pk, True)


@MAILING
def test_a_failing_mail_server_does_not_fail_the_run(
    flaky: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise ConnectionRefusedError("no mail server")

    monkeypatch.setattr(alerts, "mail_admins", broken)
    OUTCOME["fail"] = False
    assert run_task("flaky").status == TaskRun.Status.SUCCEEDED
    OUTCOME["fail"] = True

    run = run_task("flaky")

    assert run.status == TaskRun.Status.FAILED
    assert "Could not mail the admins: Housekeeping: flaky failed" in caplog.text
    assert TaskAlert.objects.filter(task_name="flaky", closed_at__isnull=True).exists()


def test_a_broken_alert_does_not_change_the_runs_outcome(
    flaky: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(run: TaskRun) -> None:
        raise RuntimeError("alerting is broken")

    monkeypatch.setattr(alerts, "after_run", broken)

    run = run_task("flaky")

    assert run.status == TaskRun.Status.FAILED
    assert f"Could not record run #{run.pk} of flaky" in caplog.text


# -- overdue ------------------------------------------------------------------------------------


@MAILING
def test_overdue_alerts_once_and_resolves_on_success(signals: list[tuple[str, Any]]) -> None:
    make_lease()
    make_run("record", age=timedelta(days=1))

    alerts.check_overdue()
    alerts.check_overdue()

    assert [(entry[0], entry[1].task_name, entry[1].kind) for entry in signals] == [
        ("raised", "record", "overdue")
    ]
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject.endswith("Housekeeping: record is overdue")
    assert "What happened: record is overdue: 23\xa0hours" in mail.outbox[0].body
    assert "since its last success" in mail.outbox[0].body

    run_task("record")
    alerts.check_overdue()

    assert [entry[0] for entry in signals] == ["raised", "resolved"]
    assert mail.outbox[1].subject.endswith("Housekeeping: record is no longer overdue")
    assert not TaskAlert.objects.filter(closed_at__isnull=True).exists()


@MAILING
def test_an_overdue_task_paused_is_resolved(signals: list[tuple[str, Any]]) -> None:
    make_lease()
    make_run("record", age=timedelta(days=1))
    alerts.check_overdue()

    TaskState.objects.create(task_name="record", paused=True)
    alerts.check_overdue()

    assert [entry[0] for entry in signals] == ["raised", "resolved"]
    assert signals[1][2] is None
    assert "no longer judged (paused" in mail.outbox[1].body


def test_a_task_has_one_open_alert_of_each_kind() -> None:
    first = alerts.raise_alert("record", TaskAlert.Kind.OVERDUE, "late")
    assert first is not None
    assert alerts.raise_alert("record", TaskAlert.Kind.OVERDUE, "still late") is None
    assert alerts.raise_alert("record", TaskAlert.Kind.FAILED, "broke") is not None
    assert TaskAlert.objects.filter(closed_at__isnull=True).count() == 2

    closed = alerts.resolve("record")

    assert {alert.kind for alert in closed} == {"overdue", "failed"}
    assert alerts.resolve("record") == []  # closed once, by one caller


def test_the_link_is_the_admin_path_without_the_sites_framework() -> None:
    assert alerts.run_link(7) == "/admin/django_housekeeping/taskrun/7/change/"


@MAILING
def test_a_receiver_that_raises_is_logged_and_the_mail_still_goes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(sender: Any, alert: TaskAlert, **kwargs: Any) -> None:
        raise RuntimeError("slack is down")

    alert_raised.connect(broken)
    try:
        alerts.raise_alert("record", TaskAlert.Kind.OVERDUE, "late")
    finally:
        alert_raised.disconnect(broken)

    assert "Error calling" in caplog.text
    assert "slack is down" in caplog.text
    assert "[Django] Housekeeping: record is overdue" in [m.subject for m in mail.outbox]
