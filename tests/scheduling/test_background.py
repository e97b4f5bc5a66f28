"""The "django_tasks" executor: scheduled slots go through Django's Tasks framework."""

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from django_housekeeping.conf import checks as checks_module
from django_housekeeping.conf.checks import check_executor
from django_housekeeping.models import TaskRun
from django_housekeeping.scheduling import background
from django_housekeeping.scheduling.executors import SlotExecutor

pytestmark = pytest.mark.django_db(transaction=True)


def due_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def job(name: str) -> SimpleNamespace:
    return SimpleNamespace(id=name, args=[name], _jobstore_alias="default")


def test_a_slot_enqueued_on_the_immediate_backend_runs_through_run_task(settings):
    settings.HOUSEKEEPING = {"EXECUTOR": "django_tasks"}
    slot = due_now()

    SlotExecutor()._run_due(job("record"), [slot])

    run = TaskRun.objects.get(task_name="record")
    assert (run.slot, run.trigger, run.status) == (slot, "schedule", "succeeded")


def test_a_slot_enqueued_twice_runs_once():
    slot = due_now()

    assert background.run_slot.call("record", slot.isoformat()) is not None
    assert background.run_slot.call("record", slot.isoformat()) is None
    assert TaskRun.objects.filter(task_name="record", slot=slot).count() == 1


def test_with_a_queueing_backend_the_leader_only_enqueues(settings, monkeypatch):
    settings.HOUSEKEEPING = {"EXECUTOR": "django_tasks"}
    queued = background.run_slot.using(backend="dummy")
    monkeypatch.setattr(background, "run_slot", queued)
    slot = due_now()

    SlotExecutor()._run_due(job("record"), [slot])

    assert not TaskRun.objects.exists()
    (result,) = queued.get_backend().results
    assert result.args == ["record", slot.isoformat()]


def test_the_thread_executor_runs_in_the_scheduler_process(settings):
    settings.HOUSEKEEPING = {"EXECUTOR": "thread"}
    slot = due_now()

    (event,) = SlotExecutor()._run_due(job("record"), [slot])

    assert event.retval == TaskRun.objects.get(task_name="record", slot=slot).pk


def test_check_e007_when_no_tasks_framework_is_installed(settings, monkeypatch):
    settings.HOUSEKEEPING = {"EXECUTOR": "django_tasks"}
    assert check_executor() == []

    monkeypatch.setattr(checks_module, "find_spec", lambda name: None)
    (error,) = check_executor()
    assert error.id == "django_housekeeping.E007"
    assert "pip install django-housekeeping[tasks]" in error.hint
