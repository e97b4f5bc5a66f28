"""``run_task``: the single execution path, and what it records on the TaskRun."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.db import IntegrityError, transaction
from django.test import override_settings
from django.utils import timezone

from django_housekeeping import NotRegistered, group, housekeeping_task, registry, run_task
from django_housekeeping.models import TaskRun
from django_housekeeping.running.heartbeats import mark_interrupted
from django_housekeeping.running.runner import AlreadyRunning
from tests.helpers import make_run
from tests.testapp.models import Post, Reaction, SlotRecord, Thread

NO_CONTEXT = "tests.testapp.housekeeping.no_context"
SLOT = datetime(2020, 3, 1, 3, 0, tzinfo=UTC)  # long past: a cutoff from now would differ

pytestmark = pytest.mark.django_db


def make_thread(age: timedelta, posts: int = 0, reactions: int = 0) -> Thread:
    thread = Thread.objects.create(title="t", created_at=timezone.now() - age)
    for _ in range(posts):
        post = Post.objects.create(thread=thread)
        for _ in range(reactions):
            Reaction.objects.create(post=post, emoji="+1")
    return thread


def running_row(task_name: str, heartbeat_age: timedelta) -> TaskRun:
    """A run of ``task_name`` still marked running, last heard from ``heartbeat_age`` ago."""
    return make_run(
        task_name,
        age=heartbeat_age + timedelta(seconds=1),
        status=TaskRun.Status.RUNNING,
        heartbeat_at=timezone.now() - heartbeat_age,
    )


# -- recording one run ------------------------------------------------------------------------


def test_success_is_recorded_with_timings_host_and_result() -> None:
    make_thread(timedelta(days=1))
    before = timezone.now()

    run = run_task("record")

    after = timezone.now()
    stored = TaskRun.objects.get(pk=run.pk)
    assert stored.task_name == "record"
    assert stored.status == TaskRun.Status.SUCCEEDED
    assert stored.result == {"threads": 1}
    assert stored.error == ""
    assert before <= stored.started_at <= stored.finished_at <= after
    assert stored.duration == stored.finished_at - stored.started_at
    assert stored.heartbeat_at == stored.finished_at
    assert stored.trigger == TaskRun.Trigger.MANUAL
    assert stored.triggered_by is None
    assert stored.slot is None
    assert stored.parent is None
    assert stored.dry_run is False
    assert stored.host == socket.gethostname()
    assert stored.pid == os.getpid()


def test_the_row_says_running_while_the_task_executes(temporary_tasks: None) -> None:
    seen: dict[str, Any] = {}

    @housekeeping_task(name="look_at_myself")
    def look(ctx: Any) -> None:
        row = TaskRun.objects.get(pk=ctx.run.pk)
        seen.update(status=row.status, finished_at=row.finished_at, started_at=row.started_at)

    run = run_task("look_at_myself")

    assert seen == {"status": "running", "finished_at": None, "started_at": run.started_at}
    assert run.status == TaskRun.Status.SUCCEEDED


def test_failure_records_the_full_traceback_and_returns_the_run() -> None:
    run = run_task("boom")

    stored = TaskRun.objects.get(pk=run.pk)
    assert stored.status == TaskRun.Status.FAILED
    assert stored.result is None
    assert stored.error.startswith("Traceback (most recent call last):")
    assert 'raise RuntimeError("boom: the database said no")' in stored.error
    assert stored.error.rstrip().endswith("RuntimeError: boom: the database said no")
    assert stored.finished_at is not None
    assert stored.duration is not None


def test_a_failing_purge_is_a_failure_not_a_zero_count(temporary_tasks: None) -> None:
    make_thread(timedelta(days=100))

    @housekeeping_task(name="purge_then_fail")
    def purge_then_fail(ctx: Any) -> Any:
        ctx.purge(Thread.objects.all())
        raise ValueError("second step failed")

    run = run_task("purge_then_fail")

    assert run.status == TaskRun.Status.FAILED
    assert run.result is None
    assert "ValueError: second step failed" in run.error


@pytest.mark.parametrize("trigger", [choice.value for choice in TaskRun.Trigger])
def test_every_trigger_is_recorded(trigger: str) -> None:
    run = run_task(NO_CONTEXT, trigger=trigger)

    assert TaskRun.objects.get(pk=run.pk).trigger == trigger


def test_the_six_triggers_are_the_documented_ones() -> None:
    assert sorted(TaskRun.Trigger.values) == sorted(
        ["schedule", "cli", "admin", "api", "dashboard", "manual"]
    )


def test_an_unknown_trigger_is_a_value_error_and_records_nothing() -> None:
    with pytest.raises(ValueError, match="unknown trigger 'cron'"):
        run_task(NO_CONTEXT, trigger="cron")

    assert not TaskRun.objects.exists()


def test_an_unknown_task_raises_not_registered_naming_the_valid_ones() -> None:
    with pytest.raises(NotRegistered) as excinfo:
        run_task("no_such_task")

    assert excinfo.value.name == "no_such_task"
    assert "record" in excinfo.value.valid_names
    assert "all" in excinfo.value.valid_names
    assert "no_such_task" in str(excinfo.value)
    assert not TaskRun.objects.exists()


def test_the_user_who_triggered_the_run_is_recorded() -> None:
    user = User.objects.create_user("staff")

    run = run_task(NO_CONTEXT, trigger=TaskRun.Trigger.ADMIN, user=user)

    assert TaskRun.objects.get(pk=run.pk).triggered_by == user


def test_an_anonymous_user_is_recorded_as_nobody() -> None:
    run = run_task(NO_CONTEXT, trigger=TaskRun.Trigger.API, user=AnonymousUser())

    assert TaskRun.objects.get(pk=run.pk).triggered_by is None


def test_dry_run_is_recorded_and_given_to_the_task() -> None:
    run = run_task("record", dry_run=True)

    assert TaskRun.objects.get(pk=run.pk).dry_run is True
    assert SlotRecord.objects.get().dry_run is True


def test_dry_run_of_a_purge_task_counts_and_keeps_everything() -> None:
    make_thread(timedelta(days=40), posts=2, reactions=1)
    make_thread(timedelta(days=1), posts=1)

    run = run_task("threads", dry_run=True)

    counted = {"testapp.Post": 2, "testapp.Reaction": 2, "testapp.Thread": 1}
    assert (run.result["deleted"], run.result["total"], run.result["dry_run"]) == (counted, 5, True)
    assert (run.result["protected"], run.result["partial"]) == ({}, False)
    assert (Thread.objects.count(), Post.objects.count(), Reaction.objects.count()) == (2, 3, 2)

    real = run_task("threads")

    assert (real.result["deleted"], real.result["total"], real.result["dry_run"]) == (
        counted,
        5,
        False,
    )
    assert (Thread.objects.count(), Post.objects.count(), Reaction.objects.count()) == (1, 1, 0)


# -- results ----------------------------------------------------------------------------------


def test_a_task_without_parameters_is_called_without_a_context() -> None:
    run = run_task(NO_CONTEXT)

    assert run.status == TaskRun.Status.SUCCEEDED
    assert TaskRun.objects.get(pk=run.pk).result == {"ok": True}


def test_a_non_json_result_fails_the_run_with_a_clear_message() -> None:
    run = run_task("unserializable")

    stored = TaskRun.objects.get(pk=run.pk)
    assert stored.status == TaskRun.Status.FAILED
    assert stored.result is None
    assert "a task's result must be JSON-serializable" in stored.error
    assert "object" in stored.error


def test_a_nan_result_fails_the_run_instead_of_breaking_the_database_write(
    temporary_tasks: None,
) -> None:
    housekeeping_task(name="ratio")(lambda: {"ratio": float("nan")})

    run = run_task("ratio")

    stored = TaskRun.objects.get(pk=run.pk)
    assert stored.status == TaskRun.Status.FAILED
    assert "a task's result must be JSON-serializable" in stored.error


def test_results_may_hold_what_djangos_json_encoder_handles(temporary_tasks: None) -> None:
    housekeeping_task(name="dated")(lambda: {"when": SLOT, "none": None})

    run = run_task("dated")

    assert run.status == TaskRun.Status.SUCCEEDED
    assert TaskRun.objects.get(pk=run.pk).result == {"when": "2020-03-01T03:00:00Z", "none": None}


def test_a_task_returning_nothing_succeeds_with_no_result(temporary_tasks: None) -> None:
    housekeeping_task(name="quiet")(lambda: None)

    run = run_task("quiet")

    stored = TaskRun.objects.get(pk=run.pk)
    assert (stored.status, stored.result) == (TaskRun.Status.SUCCEEDED, None)


# -- the context ------------------------------------------------------------------------------


def test_ctx_now_is_the_slot_of_a_scheduled_run() -> None:
    run = run_task("record", trigger=TaskRun.Trigger.SCHEDULE, slot=SLOT)

    assert SlotRecord.objects.get().now == SLOT
    stored = TaskRun.objects.get(pk=run.pk)
    assert stored.slot == SLOT
    assert stored.started_at != SLOT


def test_ctx_now_is_the_start_time_without_a_slot() -> None:
    run = run_task("record")

    assert SlotRecord.objects.get().now == run.started_at


def test_the_slot_makes_a_purge_deterministic() -> None:
    # Both threads are years older than 30 days today; from the slot, only one is.
    Thread.objects.create(title="old", created_at=SLOT - timedelta(days=40))
    Thread.objects.create(title="young", created_at=SLOT - timedelta(days=20))

    run = run_task("threads", trigger=TaskRun.Trigger.SCHEDULE, slot=SLOT)

    assert run.result["deleted"] == {"testapp.Thread": 1}
    assert list(Thread.objects.values_list("title", flat=True)) == ["young"]


def test_ctx_options_merge_code_and_settings(temporary_tasks: None) -> None:
    seen: list[dict[str, Any]] = []

    @housekeeping_task(name="optioned", options={"days": 30, "batch": 100})
    def optioned(ctx: Any) -> None:
        seen.append(ctx.options)

    overrides = {"TASKS": {"optioned": {"options": {"days": 7, "extra": True}}}}
    with override_settings(HOUSEKEEPING=overrides):
        run_task("optioned")
    run_task("optioned")

    assert seen == [{"days": 7, "batch": 100, "extra": True}, {"days": 30, "batch": 100}]


def test_ctx_options_is_a_fresh_dict_each_run(temporary_tasks: None) -> None:
    seen: list[dict[str, Any]] = []

    @housekeeping_task(name="mutates", options={"items": 1})
    def mutates(ctx: Any) -> None:
        seen.append(dict(ctx.options))
        ctx.options["items"] += 1
        ctx.options["added"] = True

    run_task("mutates")
    run_task("mutates")

    assert seen == [{"items": 1}, {"items": 1}]
    assert registry.get("mutates").options == {"items": 1}


def test_the_context_carries_task_run_and_dry_run(temporary_tasks: None) -> None:
    seen: dict[str, Any] = {}

    @housekeeping_task(name="introspect")
    def introspect(ctx: Any) -> None:
        seen.update(task=ctx.task, run_pk=ctx.run.pk, dry_run=ctx.dry_run)

    run = run_task("introspect", dry_run=True)

    assert seen == {"task": registry.get("introspect"), "run_pk": run.pk, "dry_run": True}


# -- groups -----------------------------------------------------------------------------------


def test_a_group_runs_its_members_in_order_and_a_failure_does_not_stop_them() -> None:
    run = run_task("nightly")

    children = list(TaskRun.objects.filter(parent=run).order_by("pk"))
    assert [child.task_name for child in children] == ["threads", "boom", "record"]
    assert [child.status for child in children] == ["succeeded", "failed", "succeeded"]
    assert [child.started_at for child in children] == sorted(c.started_at for c in children)
    assert SlotRecord.objects.filter(task_name="record").count() == 1

    stored = TaskRun.objects.get(pk=run.pk)
    assert stored.status == TaskRun.Status.FAILED
    assert stored.error == ""
    assert stored.parent is None
    assert stored.result["failed"] == ["boom"]
    # PostgreSQL's jsonb does not keep key order: the run order is in the children's ids.
    assert set(stored.result["tasks"]) == {"threads", "boom", "record"}
    assert stored.result["tasks"]["boom"] == {
        "run_id": children[1].pk,
        "status": "failed",
        "result": None,
    }
    assert stored.result["tasks"]["record"] == {
        "run_id": children[2].pk,
        "status": "succeeded",
        "result": {"threads": 0},
    }


def test_a_group_without_failures_succeeds(temporary_tasks: None) -> None:
    group("fine", ["record", NO_CONTEXT])

    run = run_task("fine")

    assert run.status == TaskRun.Status.SUCCEEDED
    assert run.result["failed"] == []
    assert set(run.result["tasks"]) == {"record", NO_CONTEXT}


def test_members_inherit_trigger_dry_run_user_and_now() -> None:
    user = User.objects.create_user("ops")

    run = run_task("nightly", dry_run=True, trigger=TaskRun.Trigger.SCHEDULE, user=user, slot=SLOT)

    children = TaskRun.objects.filter(parent=run)
    assert children.count() == 3
    for child in children:
        assert (child.trigger, child.dry_run, child.triggered_by) == ("schedule", True, user)
        assert child.slot is None  # the slot is the group's; members are not separate claims
    record = SlotRecord.objects.get()
    assert (record.now, record.dry_run) == (SLOT, True)


def test_members_without_a_slot_see_the_groups_start_time() -> None:
    run = run_task("nightly")

    assert SlotRecord.objects.get().now == run.started_at


def test_disabled_members_of_an_explicit_group_are_skipped(temporary_tasks: None) -> None:
    group("with_dormant", ["dormant", "record"])

    run = run_task("with_dormant")

    assert run.status == TaskRun.Status.SUCCEEDED
    assert run.result["tasks"]["dormant"] == {"status": "skipped", "reason": "disabled"}
    assert run.result["tasks"]["record"]["status"] == "succeeded"
    assert not TaskRun.objects.filter(task_name="dormant").exists()


def test_members_disabled_in_settings_are_skipped(temporary_tasks: None) -> None:
    group("pair", ["record", NO_CONTEXT])

    with override_settings(HOUSEKEEPING={"TASKS": {"record": {"enabled": False}}}):
        run = run_task("pair")

    assert run.result["tasks"]["record"] == {"status": "skipped", "reason": "disabled"}
    assert not SlotRecord.objects.exists()


def test_a_disabled_task_still_runs_when_asked_for_by_name() -> None:
    run = run_task("dormant")

    assert (run.status, run.result) == (TaskRun.Status.SUCCEEDED, {"ran": True})


def test_all_runs_every_enabled_task_but_no_group() -> None:
    expected = [task.name for task in registry if not task.is_group and task.enabled]
    assert "dormant" not in expected
    assert "nightly" not in expected
    assert {"threads", "boom", "record", NO_CONTEXT} <= set(expected)

    run = run_task("all")

    assert run.task_name == "all"
    children = TaskRun.objects.filter(parent=run).order_by("pk")
    assert list(children.values_list("task_name", flat=True)) == expected
    assert set(run.result["tasks"]) == set(expected)
    assert not TaskRun.objects.filter(task_name__in=["dormant", "nightly"]).exists()
    assert run.status == TaskRun.Status.FAILED  # "boom" is among them
    assert "boom" in run.result["failed"]


def test_all_leaves_out_tasks_disabled_in_settings() -> None:
    with override_settings(HOUSEKEEPING={"TASKS": {"record": {"enabled": False}}}):
        run = run_task("all")

    assert "record" not in run.result["tasks"]
    assert NO_CONTEXT in run.result["tasks"]
    assert not SlotRecord.objects.exists()


def test_a_group_containing_itself_fails_clearly(temporary_tasks: None) -> None:
    group("loop", ["record", "loop"])

    run = run_task("loop")

    assert run.status == TaskRun.Status.FAILED
    assert "group 'loop' contains itself" in run.error
    assert TaskRun.objects.filter(task_name="loop").count() == 1
    assert SlotRecord.objects.count() == 1


def test_groups_containing_each_other_fail_clearly(temporary_tasks: None) -> None:
    group("ping", ["pong"])
    group("pong", ["ping"])

    run = run_task("ping")

    assert run.status == TaskRun.Status.FAILED
    assert run.result["failed"] == ["pong"]
    pong = TaskRun.objects.get(task_name="pong")
    assert pong.parent_id == run.pk
    assert pong.status == TaskRun.Status.FAILED
    assert "contains itself" in pong.error
    assert TaskRun.objects.count() == 2


# -- overlapping runs -------------------------------------------------------------------------


def test_a_run_is_skipped_while_another_is_running() -> None:
    other = running_row("record", heartbeat_age=timedelta(seconds=5))

    run = run_task("record")

    stored = TaskRun.objects.get(pk=run.pk)
    assert stored.status == TaskRun.Status.SKIPPED
    assert stored.result == {"reason": "already running", "running_run_id": other.pk}
    assert stored.finished_at is not None
    assert stored.error == ""
    assert not SlotRecord.objects.exists()
    assert TaskRun.objects.get(pk=other.pk).status == TaskRun.Status.RUNNING


def test_a_run_whose_heartbeat_stopped_is_interrupted_and_does_not_block() -> None:
    stale = running_row("record", heartbeat_age=timedelta(seconds=60 + 5))
    stale.host, stale.pid = "web-7", 4242
    stale.save()

    run = run_task("record")

    assert run.status == TaskRun.Status.SUCCEEDED
    assert SlotRecord.objects.count() == 1
    stale.refresh_from_db()
    assert stale.status == TaskRun.Status.INTERRUPTED
    assert stale.active_task is None
    assert stale.finished_at is not None
    assert "host web-7, pid 4242" in stale.error
    assert "HEARTBEAT_TIMEOUT" in stale.error


def test_a_run_that_died_paused_keeps_no_progress_note_as_its_result() -> None:
    """A run killed while it said "paused: replica lag 7 s" has no result; one that had a
    result keeps it."""
    paused = running_row("record", heartbeat_age=timedelta(seconds=65))
    paused.result = {"progress_note": "paused: replica lag 7 s (replica)"}
    paused.save()
    other = running_row("fail", heartbeat_age=timedelta(seconds=65))
    other.result = {"progress_note": "x", "deleted": {}}
    other.save()

    mark_interrupted()

    paused.refresh_from_db()
    other.refresh_from_db()
    assert (paused.status, paused.result) == (TaskRun.Status.INTERRUPTED, None)
    assert (other.status, other.result) == (
        TaskRun.Status.INTERRUPTED,
        {"progress_note": "x", "deleted": {}},
    )


@override_settings(HOUSEKEEPING={"HEARTBEAT_INTERVAL": 5, "HEARTBEAT_TIMEOUT": 30})
@pytest.mark.parametrize(("age", "status"), [(20, "skipped"), (40, "succeeded")])
def test_staleness_follows_the_heartbeat_timeout(age: int, status: str) -> None:
    running_row("record", heartbeat_age=timedelta(seconds=age))

    assert run_task("record").status == status


def test_a_tasks_timeout_does_not_let_a_second_run_start_beside_a_live_one(
    temporary_tasks: None,
) -> None:
    housekeeping_task(name="quick", timeout=10)(lambda: {"ran": True})
    running_row("quick", heartbeat_age=timedelta(seconds=20))

    assert run_task("quick").status == TaskRun.Status.SKIPPED


def test_if_running_raise_refuses_and_records_nothing() -> None:
    other = running_row("record", heartbeat_age=timedelta(seconds=5))

    with pytest.raises(AlreadyRunning) as caught:
        run_task("record", if_running="raise")

    assert caught.value.running == other
    assert str(caught.value).startswith(f"record is already running (run #{other.pk}")
    assert list(TaskRun.objects.all()) == [other]
    assert not SlotRecord.objects.exists()


def test_a_queued_run_blocks_too() -> None:
    queued = running_row("record", heartbeat_age=timedelta(seconds=1))
    queued.status = TaskRun.Status.QUEUED
    queued.save()

    run = run_task("record")

    assert run.status == TaskRun.Status.SKIPPED
    assert run.result == {"reason": "already queued", "running_run_id": queued.pk}


@pytest.mark.parametrize("task_name", ["record", "boom"])
def test_a_finished_run_releases_its_claim(task_name: str) -> None:
    run = run_task(task_name)

    assert TaskRun.objects.get(pk=run.pk).active_task is None
    assert run_task(task_name).status in {TaskRun.Status.SUCCEEDED, TaskRun.Status.FAILED}


def test_the_claim_is_held_while_the_task_executes(temporary_tasks: None) -> None:
    seen: dict[str, Any] = {}

    @housekeeping_task(name="probe")
    def probe(ctx: Any) -> None:
        seen["claim"] = TaskRun.objects.get(pk=ctx.run.pk).active_task
        seen["second"] = run_task("probe")

    run_task("probe")

    assert seen["claim"] == "probe"
    assert seen["second"].status == TaskRun.Status.SKIPPED


def test_finished_runs_and_other_tasks_do_not_block() -> None:
    running_row(NO_CONTEXT, heartbeat_age=timedelta(seconds=1))
    finished = running_row("record", heartbeat_age=timedelta(seconds=1))
    finished.finish(TaskRun.Status.SUCCEEDED)

    assert run_task("record").status == TaskRun.Status.SUCCEEDED


def test_a_skipped_member_does_not_fail_its_group(temporary_tasks: None) -> None:
    group("pair", ["record", NO_CONTEXT])
    running_row("record", heartbeat_age=timedelta(seconds=1))

    run = run_task("pair")

    assert run.status == TaskRun.Status.SUCCEEDED
    assert run.result["tasks"]["record"]["status"] == "skipped"
    assert run.result["tasks"]["record"]["result"]["reason"] == "already running"


# -- interruptions and database errors --------------------------------------------------------


def test_keyboard_interrupt_is_recorded_then_reraised(temporary_tasks: None) -> None:
    @housekeeping_task(name="interrupted")
    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_task("interrupted")

    stored = TaskRun.objects.get(task_name="interrupted")
    assert stored.status == TaskRun.Status.FAILED
    assert stored.finished_at is not None
    assert "KeyboardInterrupt" in stored.error


def test_keyboard_interrupt_in_a_member_stops_the_group(temporary_tasks: None) -> None:
    housekeeping_task(name="interrupted")(lambda: (_ for _ in ()).throw(KeyboardInterrupt))
    group("interrupted_group", ["interrupted", "record"])

    with pytest.raises(KeyboardInterrupt):
        run_task("interrupted_group")

    statuses = dict(TaskRun.objects.values_list("task_name", "status"))
    assert statuses == {"interrupted_group": "failed", "interrupted": "failed"}
    assert not SlotRecord.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_database_error_in_a_task_is_recorded_inside_an_outer_transaction(
    temporary_tasks: None,
) -> None:
    @housekeeping_task(name="bad_insert")
    def bad_insert() -> None:
        Thread.objects.create(title="x", created_at=None)

    with transaction.atomic():  # e.g. ATOMIC_REQUESTS around an admin action
        run = run_task("bad_insert")
        run_task("record")

    stored = TaskRun.objects.get(pk=run.pk)
    assert stored.status == TaskRun.Status.FAILED
    assert "IntegrityError" in stored.error
    assert TaskRun.objects.get(task_name="record").status == TaskRun.Status.SUCCEEDED


# -- the slot constraint ----------------------------------------------------------------------


def make_row(task_name: str, slot: datetime | None) -> TaskRun:
    return TaskRun.objects.create(
        task_name=task_name,
        slot=slot,
        trigger=TaskRun.Trigger.SCHEDULE,
        started_at=timezone.now(),
    )


@pytest.mark.django_db(transaction=True)
def test_a_slot_can_be_claimed_once() -> None:
    make_row("record", SLOT)

    with pytest.raises(IntegrityError):
        make_row("record", SLOT)

    make_row("record", SLOT + timedelta(hours=6))
    make_row("threads", SLOT)
    assert TaskRun.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_runs_without_a_slot_are_unlimited() -> None:
    for _ in range(3):
        make_row("record", None)

    assert TaskRun.objects.filter(task_name="record", slot=None).count() == 3


@pytest.mark.django_db(transaction=True)
def test_run_task_for_a_claimed_slot_raises_and_does_not_run_the_task() -> None:
    run_task("record", trigger=TaskRun.Trigger.SCHEDULE, slot=SLOT)

    with pytest.raises(IntegrityError):
        run_task("record", trigger=TaskRun.Trigger.SCHEDULE, slot=SLOT)

    assert SlotRecord.objects.count() == 1
    assert TaskRun.objects.filter(task_name="record").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_claimed_slot_leaves_the_callers_transaction_usable() -> None:
    with transaction.atomic():
        run_task("record", trigger=TaskRun.Trigger.SCHEDULE, slot=SLOT)
        with pytest.raises(IntegrityError):
            run_task("record", trigger=TaskRun.Trigger.SCHEDULE, slot=SLOT)
        later = run_task(NO_CONTEXT)

    assert TaskRun.objects.get(pk=later.pk).status == TaskRun.Status.SUCCEEDED
    assert SlotRecord.objects.count() == 1
