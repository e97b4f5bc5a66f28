"""The plain-data views of tasks and runs shared by the command line and the admin."""

import io
import json
import traceback
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from apscheduler.job import Job
from apscheduler.schedulers.background import BackgroundScheduler
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django_apscheduler.models import DjangoJob

from django_housekeeping import cron, every, housekeeping_task, registry, run_task
from django_housekeeping.models import SchedulerLease, TaskRun, TaskState, error_summary
from django_housekeeping.presenters import (
    TaskView,
    deletion_counts,
    describe_effective_schedule,
    describe_schedule,
    last_runs,
    read_result,
    result_details,
    run_as_dict,
    run_payload,
    run_summary,
    scheduler_status,
    task_as_dict,
    to_json,
)
from django_housekeeping.scheduling.lease import LEASE_NAME
from django_housekeeping.scheduling.service import JOB_FUNC
from django_housekeeping.scheduling.store import HousekeepingJobStore
from django_housekeeping.tasks.schedules import Schedule
from tests.helpers import (
    RUN_KEYS,
    TASK_KEYS,
    make_lease,
    make_run,
    nearest_rank,
    parse_table,
    summarize_result,
)

# describe_schedule ---------------------------------------------------------------------------

pytestmark = pytest.mark.django_db  # the scheduler's status reads the lease and the jobs


def view_of(name: str, last_run: TaskRun | None = None) -> TaskView:
    """A registered task as the presenters see it, with no state, no next run."""
    return TaskView(registry.get(name), None, None, last_run)


def test_describe_schedule_of_cron_and_interval_tasks() -> None:
    assert describe_schedule(registry.get("threads")) == "cron('0 3 * * sun')"
    assert describe_schedule(registry.get("record")) == "every(6:00:00)"


def test_describe_schedule_of_a_manual_task() -> None:
    assert describe_schedule(registry.get("boom")) == "manual"


def test_describe_schedule_follows_the_settings_override() -> None:
    with override_settings(HOUSEKEEPING={"TASKS": {"boom": {"schedule": "15 4 * * *"}}}):
        assert describe_schedule(registry.get("boom")) == "cron('15 4 * * *')"


def test_describe_schedule_reports_an_invalid_override_instead_of_raising() -> None:
    with override_settings(HOUSEKEEPING={"TASKS": {"threads": {"schedule": "every tuesday"}}}):
        description = describe_schedule(registry.get("threads"))
    assert description.startswith("invalid: ")
    assert "every tuesday" in description


# last_runs -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_last_runs_gives_the_most_recent_run_of_each_named_task() -> None:
    now = timezone.now()
    make_run("threads", started_at=now - timedelta(hours=2), trigger=TaskRun.Trigger.MANUAL)
    newest = make_run(
        "threads",
        started_at=now - timedelta(hours=1),
        trigger=TaskRun.Trigger.MANUAL,
        status=TaskRun.Status.FAILED,
    )
    record = make_run("record", started_at=now - timedelta(days=3), trigger=TaskRun.Trigger.MANUAL)
    make_run("boom", started_at=now, trigger=TaskRun.Trigger.MANUAL)  # not asked for

    latest = last_runs(["threads", "record", "no-such-task"])

    assert latest == {"threads": newest, "record": record}


@pytest.mark.django_db
def test_last_runs_breaks_a_tie_on_start_time_by_the_later_row() -> None:
    now = timezone.now()
    make_run("threads", started_at=now, trigger=TaskRun.Trigger.MANUAL)
    second = make_run("threads", started_at=now, trigger=TaskRun.Trigger.MANUAL)

    assert last_runs(["threads"])["threads"] == second


@pytest.mark.django_db
def test_last_runs_of_nothing_is_empty() -> None:
    assert last_runs([]) == {}
    assert last_runs(["threads"]) == {}


# task_as_dict / run_as_dict --------------------------------------------------------------------


@pytest.mark.django_db
def test_task_as_dict_without_a_run() -> None:
    data = task_as_dict(view_of("threads"))

    assert data == {
        "name": "threads",
        "description": "Delete threads older than N days",
        "schedule": "cron('0 3 * * sun')",
        "enabled": True,
        "state": "enabled",
        "paused": False,
        "after": [],
        "options": {"days": 30},
        "tags": ["retention"],
        "members": [],
        "timeout": None,
        "last_run": None,
    }
    json.loads(to_json(data))  # JSON-able as it is


@pytest.mark.django_db
def test_task_as_dict_of_a_group_lists_its_members_and_nests_the_last_run() -> None:
    run = make_run("nightly", started_at=timezone.now(), trigger=TaskRun.Trigger.MANUAL)

    data = task_as_dict(view_of("nightly", run))

    assert set(data) == TASK_KEYS
    assert data["members"] == ["threads", "boom", "record"]
    assert data["enabled"] is True
    assert data["last_run"]["id"] == run.pk
    assert set(data["last_run"]) == RUN_KEYS


@pytest.mark.django_db
def test_task_as_dict_shows_the_effective_options_and_enabled_flag() -> None:
    overrides = {"threads": {"options": {"days": 7}, "enabled": False}}
    with override_settings(HOUSEKEEPING={"TASKS": overrides}):
        data = task_as_dict(view_of("threads"))
    assert data["options"] == {"days": 7}
    assert data["enabled"] is False


@pytest.mark.django_db
def test_run_as_dict_of_a_finished_run(django_user_model) -> None:
    user = django_user_model.objects.create_user(username="ops", password="x")
    run = run_task("threads", dry_run=True, trigger=TaskRun.Trigger.ADMIN, user=user)

    data = run_as_dict(run)

    assert set(data) == RUN_KEYS
    assert data["id"] == run.pk
    assert data["task"] == "threads"
    assert data["status"] == "succeeded"
    assert data["trigger"] == "admin"
    assert data["triggered_by"] == "ops"
    assert data["dry_run"] is True
    assert data["slot"] is None
    assert data["started_at"] == run.started_at
    assert data["finished_at"] == run.finished_at
    assert data["duration_seconds"] == run.duration_seconds >= 0
    assert data["progress"] == {"done": None, "total": None}
    assert (data["result"]["deleted"], data["result"]["total"], data["result"]["dry_run"]) == (
        {},
        0,
        True,
    )
    assert data["error"] == ""
    assert data["pid"] == run.pid
    assert data["parent_id"] is None
    decoded = json.loads(to_json(data))
    # DjangoJSONEncoder writes ECMA-262 times: milliseconds, "Z" for UTC.
    started_at = datetime.fromisoformat(decoded["started_at"])
    assert decoded["started_at"].endswith("Z")
    assert abs(started_at - run.started_at) < timedelta(milliseconds=1)


@pytest.mark.django_db
def test_run_as_dict_of_a_group_member_names_its_parent() -> None:
    group_run = run_task("nightly")
    child = group_run.children.get(task_name="boom")

    data = run_as_dict(child)

    assert data["parent_id"] == group_run.pk
    assert data["status"] == "failed"
    assert "RuntimeError: boom: the database said no" in data["error"]
    assert data["triggered_by"] is None


@pytest.mark.django_db
def test_run_as_dict_of_a_running_run_with_progress() -> None:
    run = make_run(
        "threads",
        started_at=timezone.now(),
        trigger=TaskRun.Trigger.MANUAL,
        status=TaskRun.Status.RUNNING,
        progress_done=5,
        progress_total=10,
    )

    data = run_as_dict(run)

    assert data["status"] == "running"
    assert data["finished_at"] is None
    assert data["duration_seconds"] is None
    assert data["progress"] == {"done": 5, "total": 10}


# summarize_result ----------------------------------------------------------------------------


def test_summarize_a_purge() -> None:
    result = {"deleted": {"testapp.Post": 2, "testapp.Thread": 1}, "total": 3, "dry_run": False}
    assert summarize_result(result) == "deleted 3 (testapp.Post 2, testapp.Thread 1)"


def test_summarize_a_dry_run_purge() -> None:
    result = {"deleted": {"testapp.Thread": 4}, "total": 4, "dry_run": True}
    assert summarize_result(result) == "would delete 4 (testapp.Thread 4)"


def test_summarize_a_purge_that_found_nothing() -> None:
    assert summarize_result({"deleted": {}, "total": 0, "dry_run": False}) == "deleted 0"
    assert summarize_result({"deleted": {}, "total": 0, "dry_run": True}) == "would delete 0"


def test_summarize_a_purge_that_kept_protected_rows_and_stopped_early() -> None:
    result = {
        "deleted": {"testapp.Thread": 2},
        "total": 2,
        "dry_run": False,
        "protected": {"testapp.Thread": 3},
        "partial": True,
    }
    assert summarize_result(result) == (
        "deleted 2 (testapp.Thread 2); 3 protected rows kept; "
        "partial: stopped at max_seconds, the next run continues"
    )
    one = {**result, "protected": {"testapp.Thread": 1}, "partial": False}
    assert summarize_result(one) == "deleted 2 (testapp.Thread 2); 1 protected row kept"


def test_summarize_a_group() -> None:
    ok = {"tasks": {"threads": {}, "record": {}}, "failed": []}
    failed = {"tasks": {"threads": {}, "boom": {}, "record": {}}, "failed": ["boom"]}
    assert summarize_result(ok) == "2 tasks"
    assert summarize_result(failed) == "3 tasks, failed: boom"
    assert summarize_result({"tasks": {"threads": {}}, "failed": []}) == "1 task"


def test_summarize_numbers_as_keys_and_values() -> None:
    assert summarize_result({"threads": 3}) == "threads 3"
    assert summarize_result({"users": 12, "active": 0.5}) == "active 0.5, users 12"


def test_summarize_anything_else_as_compact_json() -> None:
    assert summarize_result({"threads": 3, "note": "ok"}) == '{"threads": 3, "note": "ok"}'
    assert summarize_result({}) == "{}"
    assert summarize_result([1, "two"]) == '[1, "two"]'
    assert summarize_result(None) == ""


def test_deletion_counts_of_a_group_with_or_without_its_members() -> None:
    member = {"deleted": {"testapp.Thread": 2}, "total": 2}
    group = {"tasks": {"threads": {"result": member}, "boom": {"result": None}}, "failed": []}

    assert deletion_counts(group) == {"testapp.Thread": 2}
    assert deletion_counts(group, members=False) == {}
    assert deletion_counts(member, members=False) == {"testapp.Thread": 2}


# nearest_rank --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "percent", "expected"),
    [
        ([], 50, None),
        ([4.0], 50, 4.0),
        ([4.0], 95, 4.0),
        ([1.0, 2.0, 3.0], 50, 2.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.0),  # rank ceil(2.0) = 2: no interpolation
        ([1.0, 2.0, 3.0, 4.0], 95, 4.0),
        ([float(i) for i in range(1, 101)], 95, 95.0),
        ([float(i) for i in range(1, 101)], 0, 1.0),
    ],
)
def test_nearest_rank_percentiles(
    values: list[float], percent: float, expected: float | None
) -> None:
    assert nearest_rank(values, percent) == expected


# to_json -------------------------------------------------------------------------------------


def test_to_json_encodes_what_django_encodes() -> None:
    value = {"when": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "amount": Decimal("1.50")}
    assert json.loads(to_json(value)) == {"when": "2026-01-02T03:04:05Z", "amount": "1.50"}


def test_to_json_is_compact_by_default_and_sorted_and_indented_on_request() -> None:
    assert to_json({"b": 1, "a": 2}) == '{"b": 1, "a": 2}'
    assert to_json({"b": 1, "a": 2}, indent=2) == '{\n  "a": 2,\n  "b": 1\n}'


@pytest.mark.django_db
@pytest.mark.usefixtures("temporary_tasks")
def test_task_as_dict_of_a_bare_task_uses_its_dotted_name_and_docstring() -> None:
    @housekeeping_task
    def tidy() -> None:
        """Tidy up."""

    name = f"{__name__}.{tidy.func.__qualname__}"
    data = task_as_dict(view_of(name))
    assert data["name"] == name
    assert data["description"] == "Tidy up."
    assert data["schedule"] == "manual"
    assert data["options"] == {}


# summarize_result: runs that did not run their task ------------------------------------------


def test_summarize_slots_skipped_while_the_previous_run_was_still_running() -> None:
    result = {
        "reason": "the previous run was still running",
        "slots": 3,
        "first_slot": "2026-01-02T03:00:00Z",
        "last_slot": "2026-01-02T05:00:00Z",
    }
    assert summarize_result(result) == "the previous run was still running (3 slots)"


def test_summarize_one_missed_slot() -> None:
    result = {"reason": "more than 30 s late", "slots": 1, "first_slot": None, "last_slot": None}
    assert summarize_result(result) == "more than 30 s late (1 slot)"
    assert summarize_result({"reason": "coalesced into a later slot", "slots": 2}) == (
        "coalesced into a later slot (2 slots)"
    )


def test_summarize_a_run_skipped_because_another_was_running() -> None:
    result = {"reason": "already running", "running_run_id": 42}
    assert summarize_result(result) == "already running (run #42)"


@pytest.mark.parametrize(
    "result",
    [
        # a task's own result that merely has a "reason" stays as it is
        {"reason": "quota", "slots": 3, "freed": 10},
        {"reason": "quota"},
        {"reason": "", "slots": 3},
        {"reason": None, "slots": 3},
        {"reason": "late", "slots": "3"},
        {"reason": "late", "slots": True},
        {"reason": "late", "slots": -1},
        {"reason": "already running", "running_run_id": None},
        {"reason": "already running", "running_run_id": 4, "extra": 1},
    ],
)
def test_summarize_other_results_with_a_reason_as_json(result: dict[str, object]) -> None:
    assert summarize_result(result) == to_json(result)


@pytest.mark.django_db
def test_summarize_what_the_library_records_for_an_unrun_slot() -> None:
    from django_housekeeping.scheduling.slots import record_unrun_slots

    first = datetime(2026, 1, 2, 3, tzinfo=UTC)
    record_unrun_slots(
        "record",
        [first, first + timedelta(hours=6)],
        TaskRun.Status.SKIPPED,
        "the previous run was still running",
    )

    run = TaskRun.objects.get()
    run.refresh_from_db()  # the result as it is read back: slots are strings now
    assert summarize_result(run.result) == "the previous run was still running (2 slots)"


@pytest.mark.django_db
def test_summarize_what_run_task_records_for_a_run_already_running() -> None:
    running = make_run(
        "record",
        started_at=timezone.now(),
        trigger=TaskRun.Trigger.MANUAL,
        status=TaskRun.Status.RUNNING,
        heartbeat_at=timezone.now(),
    )

    skipped = run_task("record")

    assert skipped.status == TaskRun.Status.SKIPPED
    skipped.refresh_from_db()
    assert summarize_result(skipped.result) == f"already running (run #{running.pk})"


# describe_effective_schedule -----------------------------------------------------------------


def test_effective_schedule_of_the_code() -> None:
    assert describe_effective_schedule(registry.get("threads")) == "cron('0 3 * * sun')"
    assert describe_effective_schedule(registry.get("boom")) == "manual"


def test_effective_schedule_from_the_settings() -> None:
    overrides = {"boom": {"schedule": "15 4 * * *"}, "threads": {"schedule": "every tuesday"}}
    with override_settings(HOUSEKEEPING={"TASKS": overrides}):
        assert describe_effective_schedule(registry.get("boom")) == (
            "cron('15 4 * * *') (from settings)"
        )
        invalid = describe_effective_schedule(registry.get("threads"))
    assert invalid.startswith("invalid: ")


def test_effective_schedule_set_in_the_admin_wins() -> None:
    with override_settings(HOUSEKEEPING={"TASKS": {"boom": {"schedule": "15 4 * * *"}}}):
        assert describe_effective_schedule(registry.get("boom"), "0  5 * * *") == (
            "cron('0 5 * * *') (set in the admin)"
        )
    assert describe_effective_schedule(registry.get("record"), "") == "every(6:00:00)"


def test_effective_schedule_reports_an_invalid_admin_schedule() -> None:
    description = describe_effective_schedule(registry.get("threads"), "0 3 * *")
    assert description.startswith("invalid admin schedule: cron expression '0 3 * *'")


# error_summary: the one line a failed run shows ------------------------------------------------


def traceback_of(exception: BaseException) -> str:
    try:
        raise exception
    except BaseException:
        return traceback.format_exc()


def test_the_summary_of_a_failure_keeps_the_exception_type_of_a_multiline_message() -> None:
    error = traceback_of(ValueError("the first line\nthe second line\nthe third"))

    assert error.strip().splitlines()[-1] == "the third"  # what the history used to show
    assert error_summary(error) == "ValueError: the first line"


def test_the_summary_of_a_chained_failure_is_the_last_exception() -> None:
    try:
        try:
            raise KeyError("inner")
        except KeyError as exc:
            raise RuntimeError("outer") from exc
    except RuntimeError:
        error = traceback.format_exc()

    assert error_summary(error) == "RuntimeError: outer"


@pytest.mark.parametrize(
    ("error", "summary"),
    [
        ("", ""),
        (
            "Interrupted: the process running it stopped.\nmore",
            "Interrupted: the process running it stopped.",
        ),
        (traceback_of(KeyboardInterrupt()), "KeyboardInterrupt"),
    ],
)
def test_other_errors(error: str, summary: str) -> None:
    assert error_summary(error) == summary


@pytest.mark.django_db
def test_run_summary_of_a_failed_run_uses_it() -> None:
    run = run_task("boom")

    assert run_summary(run) == "RuntimeError: boom: the database said no"
    assert run_summary(TaskRun(task_name="x", status=TaskRun.Status.QUEUED)) == "queued…"


# -- the scheduler's status ----------------------------------------------------------------------


JOB_KEYS = {
    "id",
    "name",
    "trigger",
    "leader_trigger",
    "schedule_differs",
    "next_run",
    "enabled",
    "paused",
    "last_run",
}
LEADER_KEYS = {
    "owner",
    "host",
    "pid",
    "token",
    "acquired_at",
    "heartbeat_at",
    "expires_at",
    "lease_age_seconds",
    "healthy",
}


def status_command(*args: str) -> tuple[str, int]:
    """Run ``housekeeping status``; its output and exit status."""
    out = io.StringIO()
    try:
        call_command("housekeeping", "status", *args, stdout=out)
    except CommandError as exc:
        return out.getvalue(), exc.returncode
    return out.getvalue(), 0


# -- scheduler_status() -------------------------------------------------------------------------


def test_without_a_lease_the_scheduler_is_stopped() -> None:
    status = scheduler_status()

    assert status["state"] == "stopped"
    assert status["healthy"] is False
    assert status["leader"] is None
    assert abs((timezone.now() - status["now"]).total_seconds()) < 60


def test_a_released_lease_is_stopped() -> None:
    SchedulerLease.objects.create(name=LEASE_NAME, owner="", expires_at=timezone.now())

    status = scheduler_status()

    assert status["state"] == "stopped"
    assert status["leader"] is None


def test_a_live_lease_is_a_running_healthy_leader() -> None:
    lease = make_lease(heartbeat_age=4, expires_in=26)

    status = scheduler_status()

    assert status["state"] == "running"
    assert status["healthy"] is True
    leader = status["leader"]
    assert set(leader) == LEADER_KEYS
    assert leader["owner"] == lease.owner
    assert leader["host"] == "web-1"
    assert leader["pid"] == 4242
    assert leader["token"] == 3
    assert leader["healthy"] is True
    assert leader["acquired_at"] == lease.acquired_at
    assert leader["heartbeat_at"] == lease.heartbeat_at
    assert leader["expires_at"] == lease.expires_at
    assert 4 <= leader["lease_age_seconds"] < 10


def test_the_lease_age_falls_back_to_the_acquisition_time() -> None:
    lease = make_lease(heartbeat_age=0, expires_in=20)
    SchedulerLease.objects.filter(pk=lease.pk).update(heartbeat_at=None)

    leader = scheduler_status()["leader"]

    assert leader["heartbeat_at"] == lease.acquired_at
    assert 3600 <= leader["lease_age_seconds"] < 3660


def test_an_expired_lease_is_stale() -> None:
    make_lease(heartbeat_age=90, expires_in=-60)

    status = scheduler_status()

    assert status["state"] == "stale"
    assert status["healthy"] is False
    assert status["leader"]["healthy"] is False
    assert status["leader"]["host"] == "web-1"
    assert status["leader"]["lease_age_seconds"] >= 90


def test_jobs_list_every_task_with_its_next_run_pause_trigger_and_last_run() -> None:
    next_run = timezone.now().replace(microsecond=0) + timedelta(hours=2)
    DjangoJob.objects.create(id="record", next_run_time=next_run, job_state=b"")
    TaskState.objects.create(task_name="threads", paused=True)
    TaskState.objects.create(task_name="no_context_typo", paused=True)  # no such task: ignored
    started = timezone.now() - timedelta(minutes=5)
    run = TaskRun.objects.create(
        task_name="record",
        trigger=TaskRun.Trigger.SCHEDULE,
        status=TaskRun.Status.SUCCEEDED,
        started_at=started,
        finished_at=started + timedelta(seconds=2),
        duration=timedelta(seconds=2),
        result={"threads": 0},
    )

    jobs = {job["id"]: job for job in scheduler_status()["jobs"]}

    assert list(jobs) == [task.name for task in registry]  # every task, sorted by name
    assert all(set(job) == JOB_KEYS for job in jobs.values())
    record = jobs["record"]
    assert record["next_run"] == next_run
    assert record["trigger"] == "every(6:00:00)"
    assert record["paused"] is False
    assert record["enabled"] is True
    assert record["name"] == "record"
    assert record["last_run"]["id"] == run.pk
    assert record["last_run"]["status"] == TaskRun.Status.SUCCEEDED
    threads = jobs["threads"]
    assert threads["paused"] is True
    assert threads["next_run"] is None  # no stored job
    assert threads["trigger"] == "cron('0 3 * * sun')"
    assert threads["name"] == "Delete threads older than N days"
    assert threads["last_run"] is None
    assert "no_context_typo" not in jobs
    assert jobs["boom"]["trigger"] == "manual"
    assert jobs["dormant"]["enabled"] is False


def test_a_schedule_set_in_the_admin_is_shown_as_such() -> None:
    TaskState.objects.create(task_name="record", schedule="15 4 * * *")
    TaskState.objects.create(task_name="threads", schedule="not a cron")

    jobs = {job["id"]: job for job in scheduler_status()["jobs"]}

    assert jobs["record"]["trigger"] == "cron('15 4 * * *') (set in the admin)"
    assert jobs["threads"]["trigger"].startswith("invalid admin schedule: ")
    assert "not a cron" in jobs["threads"]["trigger"]


# -- manage.py housekeeping status --------------------------------------------------------------


def test_status_command_when_stopped_exits_1() -> None:
    output, code = status_command()

    assert code == 1
    assert "Scheduler: stopped (no scheduler has taken the lease)" in output
    for header in ("Task", "Trigger", "Next run", "Active", "Last run"):
        assert header in output
    assert "record" in output


def test_status_command_when_healthy_exits_0_and_shows_the_leader_and_jobs() -> None:
    make_lease(heartbeat_age=2, expires_in=28)
    next_run = timezone.now() + timedelta(hours=2)
    DjangoJob.objects.create(id="record", next_run_time=next_run, job_state=b"")
    TaskState.objects.create(task_name="threads", paused=True)

    output, code = status_command()

    assert code == 0
    first_line = output.splitlines()[0]
    assert first_line.startswith("Scheduler: running (leader web-1 pid 4242, lease age ")
    assert first_line.endswith(" s, token 3)")
    rows = {line.split()[0]: line for line in output.splitlines()[3:] if line.strip()}
    assert f"{timezone.localtime(next_run):%Y-%m-%d %H:%M:%S %Z}" in rows["record"]
    assert "paused" in rows["threads"]
    assert "disabled" in rows["dormant"]
    assert rows["record"].rstrip().endswith("never")


def test_status_command_when_stale_exits_1() -> None:
    make_lease(heartbeat_age=90, expires_in=-60)

    output, code = status_command()

    assert code == 1
    assert output.startswith("Scheduler: stale (leader web-1 pid 4242, lease age ")


def test_status_command_shows_the_last_run() -> None:
    make_lease(heartbeat_age=1, expires_in=29)
    started = timezone.now() - timedelta(minutes=1)
    TaskRun.objects.create(
        task_name="boom",
        trigger=TaskRun.Trigger.CLI,
        status=TaskRun.Status.FAILED,
        started_at=started,
    )

    output, _ = status_command()

    (row,) = [line for line in output.splitlines() if line.startswith("boom ")]
    assert f"failed {timezone.localtime(started):%Y-%m-%d %H:%M:%S %Z}" in row


@pytest.mark.parametrize(("healthy", "code"), [(True, 0), (False, 1)])
def test_status_command_json(healthy: bool, code: int) -> None:
    if healthy:
        make_lease(heartbeat_age=1, expires_in=29)
    next_run = timezone.now().replace(microsecond=0) + timedelta(hours=1)
    DjangoJob.objects.create(id="record", next_run_time=next_run, job_state=b"")

    output, exit_code = status_command("--json")

    assert exit_code == code
    data = json.loads(output)
    assert set(data) == {"now", "state", "healthy", "leader", "jobs"}
    assert data["healthy"] is healthy
    assert data["state"] == ("running" if healthy else "stopped")
    if healthy:
        assert set(data["leader"]) == LEADER_KEYS
        assert data["leader"]["pid"] == 4242
    else:
        assert data["leader"] is None
    jobs = {job["id"]: job for job in data["jobs"]}
    assert parse_datetime(jobs["record"]["next_run"]) == next_run
    assert jobs["threads"]["next_run"] is None


# -- the leader's schedule: the job store, not this process's settings ---------------------------


def store_job(name: str, schedule: Schedule) -> None:
    """Store ``name``'s job as the leader's sync does: django-apscheduler's ``add_job`` pickles
    the APScheduler job's state, trigger included, into ``DjangoJob.job_state``."""
    scheduler = BackgroundScheduler(timezone=timezone.get_default_timezone())
    trigger = schedule.to_trigger(timezone.get_default_timezone())
    job = Job(
        scheduler,
        id=name,
        func=JOB_FUNC,
        trigger=trigger,
        executor="default",
        args=[name],
        kwargs={},
        name=name,
        misfire_grace_time=None,
        coalesce=False,
        max_instances=1,
        next_run_time=trigger.get_next_fire_time(None, timezone.now()),
    )
    HousekeepingJobStore().add_job(job)


def test_jobs_show_the_schedule_the_leader_runs_and_whether_these_settings_differ() -> None:
    store_job("record", every(hours=6))  # as declared: the same
    store_job("threads", cron("0 4 * * *"))  # the leader was deployed with another schedule
    store_job("boom", every(minutes=5))  # manual here, scheduled by the leader

    jobs = {job["id"]: job for job in scheduler_status()["jobs"]}

    assert jobs["record"]["leader_trigger"] == "every(6:00:00)"
    assert jobs["record"]["schedule_differs"] is False
    assert jobs["threads"]["trigger"] == "cron('0 3 * * sun')"  # this process's settings
    assert jobs["threads"]["leader_trigger"] == "cron('0 4 * * *')"
    assert jobs["threads"]["schedule_differs"] is True
    assert (jobs["boom"]["trigger"], jobs["boom"]["leader_trigger"]) == ("manual", "every(0:05:00)")
    assert jobs["boom"]["schedule_differs"] is True
    # Not in the job store: scheduled here (differs), or neither (the same).
    assert jobs["nightly"]["leader_trigger"] is None
    assert jobs["nightly"]["schedule_differs"] is True
    assert jobs["dormant"]["leader_trigger"] is None
    assert jobs["dormant"]["schedule_differs"] is False


def test_a_settings_override_not_deployed_to_the_leader_is_a_difference() -> None:
    store_job("record", every(hours=6))

    with override_settings(HOUSEKEEPING={"TASKS": {"record": {"schedule": "30 2 * * *"}}}):
        (record,) = [job for job in scheduler_status()["jobs"] if job["id"] == "record"]

    assert record["trigger"] == "cron('30 2 * * *') (from settings)"
    assert record["leader_trigger"] == "every(6:00:00)"
    assert record["schedule_differs"] is True


def test_an_unreadable_job_state_is_said_so_not_raised() -> None:
    DjangoJob.objects.create(id="record", next_run_time=timezone.now(), job_state=b"not a pickle")

    (record,) = [job for job in scheduler_status()["jobs"] if job["id"] == "record"]

    assert record["leader_trigger"] == "unreadable job state"
    assert record["schedule_differs"] is False


def test_status_command_shows_the_leaders_schedule_and_marks_a_difference() -> None:
    make_lease(heartbeat_age=1, expires_in=29)
    store_job("record", every(hours=6))
    store_job("threads", cron("0 4 * * *"))

    output, code = status_command()

    assert code == 0
    rows = {row["Task"]: row for row in parse_table(output)}
    assert rows["record"]["Trigger"] == "every(6:00:00)"
    assert rows["threads"]["Trigger"] == "cron('0 4 * * *') *"
    assert rows["boom"]["Trigger"] == "manual"
    assert (
        "  threads: the leader runs cron('0 4 * * *'), these settings say cron('0 3 * * sun')"
        in (output.splitlines())
    )
    assert "  record: " not in output


def test_status_command_marks_nothing_without_a_leader() -> None:
    store_job("threads", cron("0 4 * * *"))

    output, _ = status_command()

    rows = {row["Task"]: row for row in parse_table(output.split("\n", 1)[1])}
    assert rows["threads"]["Trigger"] == "cron('0 4 * * *')"
    assert not any(row["Trigger"].endswith(" *") for row in rows.values())
    assert "The scheduler runs" not in output


# result_details: every shape of result, read once ----------------------------------------------

DETAILS_KEYS = {
    "kind",
    "summary",
    "verb",
    "models",
    "total",
    "partial",
    "archive",
    "numbers",
    "members",
    "cutoffs",
    "partitions",
    "partitions_note",
}


def details_of(result: object, **fields: object) -> dict[str, object]:
    """``result_details`` of an unsaved run with ``result``; its summary is ``run_summary``'s."""
    run = TaskRun(task_name="x", result=result, **{"status": TaskRun.Status.SUCCEEDED, **fields})
    details = result_details(run)
    assert set(details) == DETAILS_KEYS
    assert details["summary"] == run_summary(run)
    return details


def test_details_of_a_purge() -> None:
    result = {
        "deleted": {"testapp.Thread": 1, "testapp.Post": 2},
        "total": 3,
        "dry_run": False,
        "protected": {},
        "protected_by": {},
        "batches": 1,
        "seconds": 0.01,
        "partial": False,
        "archive": None,
    }
    assert details_of(result) == {
        "kind": "purge",
        "summary": "deleted 3 (testapp.Post 2, testapp.Thread 1)",
        "verb": "deleted",
        "models": [
            {"model": "testapp.Post", "deleted": 2, "protected": 0, "held": 0},
            {"model": "testapp.Thread", "deleted": 1, "protected": 0, "held": 0},
        ],
        "total": 3,
        "partial": False,
        "archive": None,
        "numbers": [],
        "members": [],
        "cutoffs": [],
        "partitions": [],
        "partitions_note": None,
    }


def test_details_of_a_retention_policys_purge_have_its_cutoffs() -> None:
    details = details_of(
        {
            "deleted": {"testapp.Thread": 1},
            "total": 1,
            "policy": {"model": "testapp.Thread", "field": "created_at", "keep_by": "plan"},
            "cutoffs": [
                {
                    "default": True,
                    "keep_by": None,
                    "value": None,
                    "keep": "30 days",
                    "cutoff": "2026-05-01T10:00:00+00:00",
                    "source": "code",
                },
                {
                    "default": False,
                    "keep_by": "plan",
                    "value": "pro",
                    "keep": "365 days",
                    "cutoff": "2025-05-01T10:00:00+00:00",
                    "source": "settings",
                },
                "not a cutoff",
                {"default": False, "cutoff": 7},
            ],
        }
    )
    # Europe/Berlin, the tests' time zone: UTC+2 in May.
    assert details["cutoffs"] == [
        {
            "rows": "every other row",
            "default": True,
            "keep": "30 days",
            "cutoff": "2026-05-01 12:00",
            "source": "code",
        },
        {
            "rows": "plan='pro'",
            "default": False,
            "keep": "365 days",
            "cutoff": "2025-05-01 12:00",
            "source": "settings",
        },
    ]
    assert details["summary"] == (
        "deleted 1 (testapp.Thread 1); created_at older than 2026-05-01 12:00 (30 days), "
        "plan='pro': 2025-05-01 12:00 (365 days)"
    )


def test_details_of_a_dry_run_purge() -> None:
    details = details_of({"deleted": {"testapp.Thread": 4}, "total": 4, "dry_run": True})
    assert details["kind"] == "purge"
    assert details["verb"] == "would delete"
    assert details["summary"] == "would delete 4 (testapp.Thread 4)"
    assert details["models"] == [
        {"model": "testapp.Thread", "deleted": 4, "protected": 0, "held": 0}
    ]


def test_details_of_a_partial_purge() -> None:
    details = details_of({"deleted": {"testapp.Thread": 2}, "total": 2, "partial": True})
    assert details["partial"] is True
    assert details["summary"] == (
        "deleted 2 (testapp.Thread 2); partial: stopped at max_seconds, the next run continues"
    )


def test_details_of_a_purge_that_kept_protected_and_held_rows() -> None:
    result = {
        "deleted": {"testapp.Post": 1},
        "total": 1,
        "protected": {"testapp.Thread": 3},
        "protected_by": {"testapp.Pin.thread": 3},
        "held": {"testapp.Thread": 1, "testapp.Post": 2},
    }
    details = details_of(result)
    assert details["models"] == [
        {"model": "testapp.Post", "deleted": 1, "protected": 0, "held": 2},
        {"model": "testapp.Thread", "deleted": 0, "protected": 3, "held": 1},
    ]
    assert details["summary"] == (
        "deleted 1 (testapp.Post 1); 3 protected rows kept; 3 held rows kept"
    )


def test_details_of_a_purge_that_dropped_partitions() -> None:
    result = {
        "deleted": {"chat.Event": 1_624_700},
        "total": 1_624_700,
        "dropped_partitions": [
            {"name": "chat_event_2025_01", "rows": 812_345},
            {"name": "chat_event_2025_02", "rows": 812_345},
            {"rows": 3},
        ],
        "partitions": "batched chat_event_2025_03: rows on both sides of the cutoff",
    }
    details = details_of(result)
    assert [row["line"] for row in details["partitions"]] == [
        "dropped partition chat_event_2025_01 (≈812,345 rows)",
        "dropped partition chat_event_2025_02 (≈812,345 rows)",
    ]
    assert details["partitions_note"] == result["partitions"]
    assert details["summary"] == (
        "deleted 1624700 (chat.Event 1624700); dropped 2 partitions (≈1,624,690 rows)"
    )
    one = details_of({**result, "dry_run": True, "dropped_partitions": [{"name": "e", "rows": 2}]})
    assert one["summary"] == (
        "would delete 1624700 (chat.Event 1624700); would drop partition e (≈2 rows)"
    )
    batched = details_of(
        {
            **result,
            "dropped_partitions": [],
            "partitions": "batched: chat.Event has a delete receiver",
        }
    )
    assert batched["partitions"] == []
    assert batched["summary"] == (
        "deleted 1624700 (chat.Event 1624700); batched: chat.Event has a delete receiver"
    )


def test_details_of_an_archived_purge() -> None:
    archive = "archives/testapp.thread-20260102T030000Z.jsonl.gz"
    details = details_of({"deleted": {"testapp.Thread": 2}, "total": 2, "archive": archive})
    assert details["archive"] == archive
    assert details["summary"] == (
        "deleted 2 (testapp.Thread 2); archived to testapp.thread-20260102T030000Z.jsonl.gz"
    )


def test_details_of_a_purge_with_odd_counts_count_what_is_a_count() -> None:
    result = {
        "deleted": {"testapp.Thread": 2, "testapp.Post": "many", "testapp.Pin": True},
        "total": -1,
        "protected": ["testapp.Thread"],
        "held": 4,
        "archive": "",
    }
    details = details_of(result)
    assert details["models"] == [
        {"model": "testapp.Thread", "deleted": 2, "protected": 0, "held": 0}
    ]
    assert details["total"] == 2
    assert details["archive"] is None


def test_details_of_statistics_are_their_numbers_sorted_by_key() -> None:
    details = details_of({"total_users": 1284, "active_share": 0.25, "conversations": 0})
    assert details["kind"] == "numbers"
    assert details["numbers"] == [
        {"key": "active_share", "value": 0.25},
        {"key": "conversations", "value": 0},
        {"key": "total_users", "value": 1284},
    ]
    assert details["summary"] == "active_share 0.25, conversations 0, total_users 1284"
    assert details["verb"] is None
    assert details["models"] == []


def test_details_of_a_failed_run_are_its_error() -> None:
    run = run_task("boom")
    details = result_details(run)
    assert details["kind"] == "error"
    assert details["summary"] == "RuntimeError: boom: the database said no"
    assert run_payload(run)["details"] == details


def test_details_of_an_interrupted_run_with_a_result_are_its_error() -> None:
    details = details_of(
        {"deleted": {"testapp.Thread": 2}, "total": 2},
        status=TaskRun.Status.INTERRUPTED,
        error="Interrupted: the process running it stopped.",
    )
    assert details["kind"] == "error"
    assert details["summary"] == "Interrupted: the process running it stopped."
    assert details["models"] == []


def test_details_of_a_group_list_its_members() -> None:
    result = {
        "tasks": {
            "threads": {
                "run_id": 7,
                "status": "succeeded",
                "result": {"deleted": {"testapp.Thread": 2}, "total": 2, "dry_run": False},
            },
            "boom": {"run_id": 8, "status": "failed", "result": None},
            "stats": {"run_id": 9, "status": "succeeded", "result": {"users": 3}},
            "off": {"status": "skipped", "reason": "disabled"},
            "odd": "not an outcome",
        },
        "failed": ["boom"],
    }
    details = details_of(result, status=TaskRun.Status.FAILED)
    assert details["kind"] == "group"
    assert details["summary"] == "5 tasks, failed: boom"
    assert details["members"] == [
        {"task": "threads", "status": "succeeded", "summary": "deleted 2 (testapp.Thread 2)"},
        {"task": "boom", "status": "failed", "summary": ""},
        {"task": "stats", "status": "succeeded", "summary": "users 3"},
        {"task": "off", "status": "skipped", "summary": "disabled"},
        {"task": "odd", "status": "", "summary": ""},
    ]


def test_details_of_a_group_run_read_from_the_database() -> None:
    group = run_task("nightly")
    group.refresh_from_db()
    details = result_details(group)
    assert details["kind"] == "group"
    assert [member["task"] for member in details["members"]] == list(group.result["tasks"])
    assert all(member["status"] for member in details["members"])


@pytest.mark.parametrize(
    ("result", "summary"),
    [
        ({"reason": "the previous run was still running", "slots": 3}, "(3 slots)"),
        ({"reason": "already running", "running_run_id": 42}, "(run #42)"),
    ],
)
def test_details_of_runs_that_did_not_run(result: dict[str, object], summary: str) -> None:
    details = details_of(result, status=TaskRun.Status.SKIPPED)
    assert details["kind"] == "unrun"
    assert details["summary"].endswith(summary)


@pytest.mark.parametrize(
    ("status", "summary"),
    [
        (TaskRun.Status.QUEUED, "queued…"),
        (TaskRun.Status.RUNNING, "running…"),
        (TaskRun.Status.SUCCEEDED, ""),
    ],
)
def test_details_of_a_run_without_a_result(status: str, summary: str) -> None:
    details = details_of(None, status=status)
    assert details == {**read_result(None), "summary": summary}
    assert details["kind"] == "none"


@pytest.mark.parametrize(
    "result",
    [
        [1, "two"],
        {"nested": {"users": 3}},
        {"users": 3, "note": "ok"},
        {"flag": True},
        {},
        "done",
        7,
    ],
)
def test_details_of_any_other_json_are_the_json(result: object) -> None:
    details = details_of(result)
    assert details["kind"] == "other"
    assert details["summary"] == to_json(result)
    assert (details["models"], details["numbers"], details["members"]) == ([], [], [])


def test_run_payload_carries_the_details() -> None:
    run = make_run("threads", result={"deleted": {"testapp.Thread": 2}, "total": 2})
    payload = run_payload(run)
    assert payload["details"] == result_details(run)
    assert payload["summary"] == payload["details"]["summary"] == "deleted 2 (testapp.Thread 2)"
