"""The public signals: task_started, task_failed, task_finished — arguments and order."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.dispatch import Signal
from django.utils import timezone

from django_housekeeping import HousekeepingTask, housekeeping_task, registry, run_task
from django_housekeeping.models import TaskRun
from django_housekeeping.running.heartbeats import mark_interrupted
from django_housekeeping.signals import task_failed, task_finished, task_started

pytestmark = pytest.mark.django_db

SIGNALS = {"started": task_started, "failed": task_failed, "finished": task_finished}


class Recorder:
    """What each receiver was sent, and what the run's row said at that moment."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def receiver(self, event: str) -> Any:
        def receive(signal: Signal, sender: Any, **kwargs: Any) -> None:
            run = kwargs["run"]
            self.events.append(
                {
                    "event": event,
                    "signal": signal,
                    "sender": sender,
                    "kwargs": sorted(kwargs),
                    "run": run,
                    "status": run.status,
                    "stored_status": TaskRun.objects.get(pk=run.pk).status,
                    "exception": kwargs.get("exception"),
                    "reason": kwargs.get("reason"),
                }
            )

        return receive

    def summary(self) -> list[tuple[str, str | None]]:
        return [
            (event["event"], event["sender"].name if event["sender"] else None)
            for event in self.events
        ]


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    recorder = Recorder()
    receivers = {name: recorder.receiver(name) for name in SIGNALS}
    for name, signal in SIGNALS.items():
        signal.connect(receivers[name], weak=False)
    try:
        yield recorder
    finally:
        for name, signal in SIGNALS.items():
            signal.disconnect(receivers[name])


def test_a_successful_run_sends_started_then_finished(recorder: Recorder) -> None:
    run = run_task("record")

    assert recorder.summary() == [("started", "record"), ("finished", "record")]
    started, finished = recorder.events
    assert started["signal"] is task_started
    assert finished["signal"] is task_finished
    for event in recorder.events:
        assert event["sender"] is registry.get("record")
        assert isinstance(event["sender"], HousekeepingTask)
        assert event["kwargs"] == ["run"]
        assert event["run"].pk == run.pk
    assert (started["status"], started["stored_status"]) == ("running", "running")
    assert (finished["status"], finished["stored_status"]) == ("succeeded", "succeeded")


def test_a_failed_run_sends_started_failed_finished(recorder: Recorder) -> None:
    run = run_task("boom")

    assert recorder.summary() == [("started", "boom"), ("failed", "boom"), ("finished", "boom")]
    failed = recorder.events[1]
    assert failed["signal"] is task_failed
    assert failed["kwargs"] == ["exception", "reason", "run"]
    assert failed["reason"] == "RuntimeError: boom: the database said no"
    assert isinstance(failed["exception"], RuntimeError)
    assert str(failed["exception"]) == "boom: the database said no"
    assert failed["run"].pk == run.pk
    assert (failed["status"], failed["stored_status"]) == ("failed", "failed")
    assert "RuntimeError" in failed["run"].error
    assert recorder.events[2]["stored_status"] == "failed"


def test_an_unserializable_result_sends_failed_with_the_type_error(recorder: Recorder) -> None:
    run_task("unserializable")

    assert [event for event, _ in recorder.summary()] == ["started", "failed", "finished"]
    assert isinstance(recorder.events[1]["exception"], TypeError)


def test_a_skipped_run_sends_only_finished(recorder: Recorder) -> None:
    now = timezone.now()
    TaskRun.objects.create(
        task_name="record",
        trigger=TaskRun.Trigger.SCHEDULE,
        started_at=now - timedelta(seconds=2),
        heartbeat_at=now,
        active_task="record",
    )

    run = run_task("record")

    assert recorder.summary() == [("finished", "record")]
    finished = recorder.events[0]
    assert finished["run"].pk == run.pk
    assert (finished["status"], finished["stored_status"]) == ("skipped", "skipped")


def test_a_group_nests_its_members_signals(recorder: Recorder) -> None:
    run_task("nightly")

    assert recorder.summary() == [
        ("started", "nightly"),
        ("started", "threads"),
        ("finished", "threads"),
        ("started", "boom"),
        ("failed", "boom"),
        ("finished", "boom"),
        ("started", "record"),
        ("finished", "record"),
        ("failed", "nightly"),
        ("finished", "nightly"),
    ]
    group_failed = recorder.events[-2]
    assert group_failed["exception"] is None  # a member failed, the group itself raised nothing
    assert group_failed["kwargs"] == ["exception", "reason", "run"]
    assert group_failed["reason"] == "failed members: boom"
    assert group_failed["sender"] is registry.get("nightly")
    member_started = recorder.events[1]
    assert member_started["run"].parent_id == recorder.events[0]["run"].pk


def test_keyboard_interrupt_sends_failed_and_finished_before_it_propagates(
    recorder: Recorder, temporary_tasks: None
) -> None:
    @housekeeping_task(name="interrupted")
    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_task("interrupted")

    assert [event for event, _ in recorder.summary()] == ["started", "failed", "finished"]
    assert isinstance(recorder.events[1]["exception"], KeyboardInterrupt)
    assert recorder.events[2]["stored_status"] == "failed"


def test_a_started_receiver_that_raises_fails_the_run_instead_of_leaving_it_running(
    recorder: Recorder, temporary_tasks: None
) -> None:
    calls: list[str] = []
    housekeeping_task(name="guarded")(lambda: calls.append("ran"))

    def refuse(sender: HousekeepingTask, **kwargs: Any) -> None:
        raise PermissionError("not now")

    task_started.connect(refuse, weak=False)
    try:
        run = run_task("guarded")
    finally:
        task_started.disconnect(refuse)

    assert calls == []
    stored = TaskRun.objects.get(pk=run.pk)
    assert stored.status == TaskRun.Status.FAILED
    assert "PermissionError: not now" in stored.error
    assert [event for event, _ in recorder.summary()] == ["started", "failed", "finished"]
    assert run_task("guarded").status == TaskRun.Status.SUCCEEDED  # nothing left "running"


def test_all_is_sent_as_a_group_task(recorder: Recorder) -> None:
    run = run_task("all")

    assert recorder.summary()[0] == ("started", "all")
    assert recorder.summary()[-2:] == [("failed", "all"), ("finished", "all")]  # "boom" fails
    sender = recorder.events[0]["sender"]
    assert isinstance(sender, HousekeepingTask)
    assert sender.is_group
    assert recorder.events[-1]["run"].pk == run.pk
    members = [name for event, name in recorder.summary()[1:-2] if event == "started"]
    assert members == list(sender.members)


@pytest.mark.django_db(transaction=True)  # sent when the marking commits
@pytest.mark.parametrize(("task_name", "sender"), [("record", "record"), ("retired", None)])
def test_an_interrupted_run_sends_failed_with_the_reason_then_finished(
    recorder: Recorder, task_name: str, sender: str | None
) -> None:
    silent = timezone.now() - timedelta(minutes=5)
    dead = TaskRun.objects.create(
        task_name=task_name,
        trigger=TaskRun.Trigger.SCHEDULE,
        started_at=silent,
        heartbeat_at=silent,
        host="worker-3",
        pid=777,
        active_task=task_name,
    )

    (marked,) = mark_interrupted()

    assert marked.pk == dead.pk
    assert recorder.summary() == [("failed", sender), ("finished", sender)]
    failed = recorder.events[0]
    assert failed["kwargs"] == ["exception", "reason", "run"]
    assert failed["exception"] is None
    assert failed["reason"].startswith(
        "Interrupted: the process running it (host worker-3, pid 777)"
    )
    assert (failed["status"], failed["stored_status"]) == ("interrupted", "interrupted")
    assert mark_interrupted() == []  # once
