"""``manage.py housekeeping list | run | history | check``."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core import checks
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from django_housekeeping import purge, registry, run_task
from django_housekeeping.models import TaskRun
from tests.helpers import RUN_KEYS, TASK_KEYS, housekeeping, make_lease, make_run, parse_table
from tests.testapp.models import Pin, SlotRecord, Thread

REPO_ROOT = Path(__file__).resolve().parents[2]

FIXTURE_TASKS = {
    "boom",
    "dormant",
    "nightly",
    "record",
    "tests.testapp.housekeeping.no_context",
    "threads",
    "unserializable",
}


def old_thread(days: int = 40) -> Thread:
    return Thread.objects.create(title="old", created_at=timezone.now() - timedelta(days=days))


# list ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_list_prints_a_table_of_every_task() -> None:
    outcome = housekeeping("list")

    assert outcome.returncode == 0
    assert outcome.out.splitlines()[0].split() == [
        "Task",
        "Schedule",
        "State",
        "After",
        "Last",
        "run",
        "Description",
    ]
    rows = {row["Task"]: row for row in outcome.table()}
    assert set(rows) == FIXTURE_TASKS
    assert rows["threads"] == {
        "Task": "threads",
        "Schedule": "cron('0 3 * * sun')",
        "State": "enabled",
        "After": "",
        "Last run": "never",
        "Description": "Delete threads older than N days",
    }
    assert rows["record"]["Schedule"] == "every(6:00:00)"
    assert rows["boom"]["Schedule"] == "manual"
    assert rows["dormant"]["State"] == "disabled"
    assert rows["nightly"]["Description"] == "Nightly"
    assert outcome.err == ""


@pytest.mark.django_db
def test_list_shows_the_last_run_of_each_task() -> None:
    make_run("threads", age=timedelta(minutes=90), status=TaskRun.Status.SUCCEEDED)
    latest = make_run("threads", age=timedelta(minutes=5), status=TaskRun.Status.FAILED)

    rows = {row["Task"]: row for row in housekeeping("list").table()}

    started = timezone.localtime(latest.started_at)
    assert rows["threads"]["Last run"] == f"failed {started:%Y-%m-%d %H:%M}"
    assert rows["record"]["Last run"] == "never"


@pytest.mark.django_db
def test_list_follows_the_settings_overrides() -> None:
    overrides = {"threads": {"schedule": "30 1 * * *", "enabled": False}}
    with override_settings(HOUSEKEEPING={"TASKS": overrides}):
        rows = {row["Task"]: row for row in housekeeping("list").table()}
    assert rows["threads"]["Schedule"] == "cron('30 1 * * *') (from settings)"
    assert rows["threads"]["State"] == "disabled"


@pytest.mark.django_db
def test_list_json() -> None:
    run = make_run("record", age=timedelta(minutes=1))

    outcome = housekeeping("list", "--json")

    assert outcome.returncode == 0
    tasks = {task["name"]: task for task in outcome.json()}
    assert set(tasks) == FIXTURE_TASKS
    assert all(set(task) == TASK_KEYS for task in tasks.values())
    assert tasks["threads"]["schedule"] == "cron('0 3 * * sun')"
    assert tasks["threads"]["options"] == {"days": 30}
    assert tasks["threads"]["tags"] == ["retention"]
    assert tasks["threads"]["last_run"] is None
    assert tasks["nightly"]["members"] == ["threads", "boom", "record"]
    assert tasks["dormant"]["enabled"] is False
    assert tasks["record"]["last_run"]["id"] == run.pk
    assert set(tasks["record"]["last_run"]) == RUN_KEYS


@pytest.mark.django_db
def test_list_with_no_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_registry", {})

    assert housekeeping("list").out == "No housekeeping tasks are registered.\n"
    assert housekeeping("list", "--json").json() == []


# run -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_run_deletes_and_prints_the_counts() -> None:
    old_thread()
    recent = old_thread(days=1)

    outcome = housekeeping("run", "threads")

    assert outcome.returncode == 0
    assert outcome.out.splitlines()[0].split() == ["Task", "Status", "Seconds", "Result"]
    [row] = outcome.table()
    assert row["Task"] == "threads"
    assert row["Status"] == "succeeded"
    assert float(row["Seconds"]) >= 0
    assert row["Result"] == "deleted 1 (testapp.Thread 1)"
    assert list(Thread.objects.all()) == [recent]
    assert outcome.err == ""


@pytest.mark.django_db
def test_run_records_the_run_with_the_cli_trigger() -> None:
    housekeeping("run", "record")

    run = TaskRun.objects.get()
    assert run.task_name == "record"
    assert run.trigger == TaskRun.Trigger.CLI
    assert run.triggered_by is None
    assert run.status == TaskRun.Status.SUCCEEDED
    assert run.dry_run is False
    assert SlotRecord.objects.get().task_name == "record"


@pytest.mark.django_db
def test_dry_run_deletes_nothing_and_says_what_it_would_delete() -> None:
    thread = old_thread()

    outcome = housekeeping("run", "threads", "--dry-run")

    assert outcome.returncode == 0
    [row] = outcome.table()
    assert row["Status"] == "succeeded (dry run)"
    assert row["Result"] == "would delete 1 (testapp.Thread 1)"
    assert list(Thread.objects.all()) == [thread]
    run = TaskRun.objects.get()
    assert run.dry_run is True
    assert run.trigger == TaskRun.Trigger.CLI


@pytest.mark.django_db
def test_run_several_tasks_prints_each() -> None:
    outcome = housekeeping("run", "record", "tests.testapp.housekeeping.no_context")

    assert outcome.returncode == 0
    assert "record" in outcome.out
    assert '{"ok": true}' in outcome.out
    assert sorted(TaskRun.objects.values_list("task_name", flat=True)) == [
        "record",
        "tests.testapp.housekeeping.no_context",
    ]


@pytest.mark.django_db
def test_a_failed_task_exits_1_and_still_prints_the_result() -> None:
    outcome = housekeeping("run", "boom")

    assert outcome.returncode == 1
    assert outcome.message == "failed: boom"
    [row] = outcome.table()
    assert row["Task"] == "boom"
    assert row["Status"] == "failed"
    assert row["Result"] == "RuntimeError: boom: the database said no"
    assert "boom failed:" in outcome.err
    assert "Traceback (most recent call last):" in outcome.err
    assert TaskRun.objects.get().status == TaskRun.Status.FAILED


@pytest.mark.django_db
def test_a_failure_among_several_tasks_runs_them_all_and_exits_1() -> None:
    outcome = housekeeping("run", "boom", "record")

    assert outcome.returncode == 1
    assert outcome.message == "failed: boom"
    assert SlotRecord.objects.count() == 1
    statuses = dict(TaskRun.objects.values_list("task_name", "status"))
    assert statuses == {"boom": "failed", "record": "succeeded"}


@pytest.mark.django_db
def test_an_unserializable_result_is_a_failure() -> None:
    outcome = housekeeping("run", "unserializable")

    assert outcome.returncode == 1
    [row] = outcome.table()
    assert row["Result"].startswith("TypeError: a task's result must be JSON-serializable")


@pytest.mark.django_db
def test_a_purge_of_several_models_prints_its_rows_per_model() -> None:
    thread = old_thread()
    thread.posts.create(body="one")
    thread.posts.create(body="two")
    Pin.objects.create(thread=old_thread())

    outcome = housekeeping("run", "threads", "--dry-run")

    assert outcome.returncode == 0
    [row] = outcome.table()
    assert row["Result"] == (
        "would delete 3 (testapp.Post 2, testapp.Thread 1); 1 protected row kept"
    )
    after = outcome.out.split("\n\nthreads:\n", 1)[1]
    assert parse_table(after) == [
        {"Model": "testapp.Post", "Would delete": "2", "Protected": "0", "Held": "0"},
        {"Model": "testapp.Thread", "Would delete": "1", "Protected": "1", "Held": "0"},
    ]


@pytest.mark.django_db
def test_a_purge_of_one_model_says_it_in_one_line() -> None:
    old_thread()

    outcome = housekeeping("run", "threads")

    assert outcome.table()[0]["Result"] == "deleted 1 (testapp.Thread 1)"
    assert "Model" not in outcome.out


@pytest.mark.django_db
def test_a_group_prints_its_members_rows_then_its_own() -> None:
    old_thread()

    outcome = housekeeping("run", "nightly")

    assert outcome.returncode == 1
    assert outcome.message == "failed: nightly"
    rows = {row["Task"]: row for row in outcome.table()}
    assert list(rows) == ["- threads", "- boom", "- record", "nightly"]
    assert rows["- threads"]["Result"] == "deleted 1 (testapp.Thread 1)"
    assert rows["- boom"]["Status"] == "failed"
    assert rows["- record"]["Result"] == "threads 0"
    assert rows["nightly"]["Status"] == "failed"
    assert rows["nightly"]["Result"] == "3 tasks, failed: boom"
    assert "boom failed:" in outcome.err
    assert "RuntimeError: boom: the database said no" in outcome.err
    group_run = TaskRun.objects.get(task_name="nightly")
    assert group_run.children.count() == 3
    assert set(TaskRun.objects.values_list("trigger", flat=True)) == {TaskRun.Trigger.CLI}


@pytest.mark.django_db
def test_a_dry_run_of_a_group_passes_dry_run_to_every_member() -> None:
    thread = old_thread()

    outcome = housekeeping("run", "nightly", "--dry-run")

    rows = {row["Task"]: row for row in outcome.table()}
    assert rows["- threads"]["Status"] == "succeeded (dry run)"
    assert rows["- threads"]["Result"] == "would delete 1 (testapp.Thread 1)"
    assert list(Thread.objects.all()) == [thread]
    assert set(TaskRun.objects.values_list("dry_run", flat=True)) == {True}


@pytest.mark.django_db
def test_run_all_runs_every_enabled_task() -> None:
    outcome = housekeeping("run", "--all")

    assert outcome.returncode == 1  # boom and unserializable fail
    assert outcome.message == "failed: all"
    group_run = TaskRun.objects.get(task_name="all")
    # Every enabled task but the groups (whose members run anyway), by name: the documented order.
    members = list(
        group_run.children.order_by("started_at", "id").values_list("task_name", flat=True)
    )
    assert members == sorted(FIXTURE_TASKS - {"dormant", "nightly"})
    assert [row["Task"] for row in outcome.table()] == [*(f"- {m}" for m in members), "all"]


@pytest.mark.django_db
def test_an_unknown_task_is_one_line_naming_the_valid_tasks_and_exit_2() -> None:
    outcome = housekeeping("run", "record", "nope")

    assert outcome.returncode == 2
    assert outcome.message == (
        "Unknown task 'nope'; valid tasks: all, boom, dormant, nightly, record, "
        "tests.testapp.housekeeping.no_context, threads, unserializable."
    )
    assert "\n" not in outcome.message
    assert outcome.out == ""
    assert not TaskRun.objects.exists()  # nothing ran, not even the valid name before it


@pytest.mark.django_db
def test_run_without_a_name_or_all_is_a_usage_error() -> None:
    outcome = housekeeping("run")

    assert outcome.returncode == 2
    assert "--all" in outcome.message
    assert not TaskRun.objects.exists()


@pytest.mark.django_db
def test_run_json() -> None:
    old_thread()

    outcome = housekeeping("run", "threads", "--json")

    assert outcome.returncode == 0
    [run] = outcome.json()
    assert set(run) == RUN_KEYS | {"children"}
    assert run["task"] == "threads"
    assert run["status"] == "succeeded"
    assert run["trigger"] == "cli"
    assert run["dry_run"] is False
    assert run["result"]["deleted"] == {"testapp.Thread": 1}
    assert (run["result"]["total"], run["result"]["dry_run"]) == (1, False)
    assert run["id"] == TaskRun.objects.get().pk
    assert run["children"] == []


@pytest.mark.django_db
def test_run_json_of_a_failing_group_includes_the_members_and_exits_1() -> None:
    outcome = housekeeping("run", "nightly", "--dry-run", "--json")

    assert outcome.returncode == 1
    [run] = outcome.json()
    assert run["task"] == "nightly"
    assert run["status"] == "failed"
    assert run["dry_run"] is True
    assert run["result"]["failed"] == ["boom"]
    children = {child["task"]: child for child in run["children"]}
    assert list(children) == ["threads", "boom", "record"]
    assert all(set(child) == RUN_KEYS for child in children.values())
    assert all(child["parent_id"] == run["id"] for child in children.values())
    assert "RuntimeError: boom: the database said no" in children["boom"]["error"]
    assert outcome.err == ""  # the tracebacks are in the JSON


# history -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_history_prints_the_most_recent_runs_first() -> None:
    older = make_run("threads", age=timedelta(minutes=30), result={"deleted": {}, "total": 0})
    newer = make_run(
        "boom",
        age=timedelta(minutes=10),
        status=TaskRun.Status.FAILED,
        trigger=TaskRun.Trigger.CLI,
        error="Traceback (most recent call last):\nRuntimeError: boom\n",
    )
    dry = make_run("record", age=timedelta(minutes=20), dry_run=True, result={"threads": 2})

    outcome = housekeeping("history")

    assert outcome.returncode == 0
    assert outcome.out.splitlines()[0].split() == [
        "Run",
        "Task",
        "Status",
        "Trigger",
        "Started",
        "Seconds",
        "Result",
    ]
    rows = outcome.table()
    assert [row["Run"] for row in rows] == [str(newer.pk), str(dry.pk), str(older.pk)]
    assert rows[0] == {
        "Run": str(newer.pk),
        "Task": "boom",
        "Status": "failed",
        "Trigger": "cli",
        "Started": f"{timezone.localtime(newer.started_at):%Y-%m-%d %H:%M:%S}",
        "Seconds": "2.00",
        "Result": "RuntimeError: boom",
    }
    assert rows[1]["Status"] == "succeeded (dry run)"
    assert rows[1]["Result"] == "threads 2"
    assert rows[2]["Trigger"] == "schedule"
    assert rows[2]["Result"] == "deleted 0"


@pytest.mark.django_db
def test_history_filters_by_task_and_status_and_limits() -> None:
    for minutes in range(5):
        make_run("threads", age=timedelta(minutes=minutes))
    failed = make_run("threads", age=timedelta(minutes=60), status=TaskRun.Status.FAILED)
    make_run("record", age=timedelta(minutes=0))

    assert {row["Task"] for row in housekeeping("history", "--task", "threads").table()} == {
        "threads"
    }
    assert len(housekeeping("history", "--task", "threads").table()) == 6
    failed_rows = housekeeping("history", "--status", "failed").table()
    assert [row["Run"] for row in failed_rows] == [str(failed.pk)]
    limited = housekeeping("history", "--task", "threads", "--limit", "2").table()
    assert len(limited) == 2


@pytest.mark.django_db
def test_history_limit_defaults_to_20() -> None:
    for minutes in range(25):
        make_run("threads", age=timedelta(minutes=minutes))

    assert len(housekeeping("history").table()) == 20
    assert len(housekeeping("history", "--json").json()) == 20


@pytest.mark.django_db
def test_history_json(django_user_model: Any) -> None:
    user = django_user_model.objects.create_user(username="ops", password="x")
    run = make_run(
        "threads", age=timedelta(minutes=1), trigger=TaskRun.Trigger.ADMIN, triggered_by=user
    )

    outcome = housekeeping("history", "--json")

    assert outcome.returncode == 0
    [data] = outcome.json()
    assert set(data) == RUN_KEYS
    assert data["id"] == run.pk
    assert data["task"] == "threads"
    assert data["trigger"] == "admin"
    assert data["triggered_by"] == "ops"
    assert data["duration_seconds"] == 2.0


@pytest.mark.django_db
def test_history_shows_runs_made_by_the_command() -> None:
    housekeeping("run", "record")

    [row] = housekeeping("history").table()
    assert row["Task"] == "record"
    assert row["Trigger"] == "cli"


@pytest.mark.django_db
def test_history_when_there_is_none() -> None:
    assert housekeeping("history").out == "No runs recorded yet.\n"
    assert housekeeping("history", "--json").json() == []


@pytest.mark.django_db
def test_history_limit_must_be_positive() -> None:
    outcome = housekeeping("history", "--limit", "0")
    assert outcome.returncode == 2
    assert "--limit" in outcome.message


def test_history_rejects_an_unknown_status() -> None:
    outcome = housekeeping("history", "--status", "bogus")
    assert outcome.returncode != 0
    assert "invalid choice: 'bogus'" in outcome.message


def test_a_subcommand_is_required() -> None:
    outcome = housekeeping()
    assert outcome.returncode != 0
    assert (
        "{list,run,cancel,pause,resume,history,status,scheduler,check,rebuild,restore,erase}"
        in outcome.message
    )


# check ---------------------------------------------------------------------------------------


@pytest.mark.django_db  # Django 6.1's checks ask the database what it supports
def test_check_passes() -> None:
    make_lease()
    outcome = housekeeping("check")
    assert outcome.returncode == 0
    assert outcome.out == "Housekeeping is healthy.\n"
    report = housekeeping("check", "--json").json()
    assert report == {
        "status": "ok",
        "checked_at": report["checked_at"],
        "problems": [],
        "checks": [],
    }


@pytest.mark.django_db
def test_check_reports_the_health_one_line_per_problem() -> None:
    run = make_run("boom", status=TaskRun.Status.FAILED, error="RuntimeError: no\n")

    outcome = housekeeping("check")

    assert outcome.returncode == 1
    assert outcome.message == "housekeeping is unhealthy: 2 problems"
    lines = outcome.out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("no-scheduler: No scheduler is running: ")
    assert lines[1] == f"failed: boom: its last run (#{run.pk}) failed: RuntimeError: no"

    report = housekeeping("check", "--json")
    assert report.returncode == 1
    assert report.json()["status"] == "unhealthy"
    assert [(p["code"], p["task"], p["run"]) for p in report.json()["problems"]] == [
        ("no-scheduler", None, None),
        ("failed", "boom", run.pk),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("state", "line"),
    [
        ("overdue", "overdue: record is overdue: 1\xa0day"),
        ("interrupted", "interrupted: threads: its last run (#{pk}) was interrupted (its process"),
        ("failed", "failed: boom: its last run (#{pk}) failed: RuntimeError: no"),
    ],
)
def test_check_says_each_unhealthy_state_in_one_line(state: str, line: str) -> None:
    make_lease()
    run = {
        "overdue": lambda: make_run("record", age=timedelta(days=1, minutes=5)),
        "interrupted": lambda: make_run(
            "threads", status=TaskRun.Status.INTERRUPTED, error="Interrupted: gone"
        ),
        "failed": lambda: make_run("boom", status=TaskRun.Status.FAILED, error="RuntimeError: no"),
    }[state]()

    outcome = housekeeping("check")

    assert outcome.returncode == 1
    assert outcome.message == "housekeeping is unhealthy: 1 problem"
    (printed,) = outcome.out.splitlines()
    assert printed.startswith(line.format(pk=run.pk))


@pytest.mark.django_db  # Django 6.1's checks ask the database what it supports
@override_settings(HOUSEKEEPING={"TASKS": {"nope": {"enabled": False}}})
def test_check_reports_errors_and_exits_1() -> None:
    make_lease()
    outcome = housekeeping("check")

    assert outcome.returncode == 1
    assert outcome.message == "housekeeping is unhealthy: 1 problem"
    lines = outcome.out.splitlines()
    assert lines[0] == (
        "django_housekeeping.E002: HOUSEKEEPING['TASKS']['nope'] names a task that is not "
        "registered."
    )
    assert lines[1].startswith("    HINT: Registered tasks: boom, dormant, nightly")


@pytest.mark.django_db  # Django 6.1's checks ask the database what it supports
@override_settings(HOUSEKEEPING={"TASKS": {"nope": {}}, "HISTORY_DAYS": 0})
def test_check_json() -> None:
    make_lease()
    outcome = housekeeping("check", "--json")

    assert outcome.returncode == 1
    report = outcome.json()
    assert [problem["code"] for problem in report["problems"]] == ["check", "check"]
    messages = report["checks"]
    assert all(set(message) == {"id", "level", "msg", "hint"} for message in messages)
    assert sorted(message["id"] for message in messages) == [
        "django_housekeeping.E002",
        "django_housekeeping.E005",
    ]
    assert {message["level"] for message in messages} == {checks.ERROR}


@pytest.mark.django_db  # Django 6.1's checks ask the database what it supports
@override_settings(
    HOUSEKEEPING={"TASKS": {"nope": {}}},
    SILENCED_SYSTEM_CHECKS=["django_housekeeping.E002", "django_housekeeping.W004"],
)
def test_check_leaves_out_silenced_checks() -> None:
    make_lease()
    outcome = housekeeping("check")
    assert outcome.returncode == 0
    assert outcome.out == "Housekeeping is healthy.\n"


@pytest.mark.django_db  # Django 6.1's checks ask the database what it supports
def test_check_reports_only_housekeeping_checks_and_passes_on_warnings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def other_apps_check(**kwargs: Any) -> list[checks.CheckMessage]:
        return [checks.Error("not ours", id="otherapp.E001")]

    def housekeeping_warning(**kwargs: Any) -> list[checks.CheckMessage]:
        return [checks.Warning("just so you know", id="django_housekeeping.W999")]

    other_apps_check.tags = housekeeping_warning.tags = ()  # type: ignore[attr-defined]
    registered = set(checks.registry.registry.registered_checks)
    monkeypatch.setattr(
        checks.registry.registry,
        "registered_checks",
        registered | {other_apps_check, housekeeping_warning},
    )

    make_lease()
    outcome = housekeeping("check")

    assert outcome.returncode == 0
    assert outcome.out == "django_housekeeping.W999: just so you know\nHousekeeping is healthy.\n"


# the real command line -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_command_line_exit_statuses(manage: Any) -> None:
    old_thread()

    succeeded = manage("run", "threads")
    assert succeeded.returncode == 0, succeeded.stderr
    assert "deleted 1 (testapp.Thread 1)" in succeeded.stdout
    assert succeeded.stderr == ""
    assert not Thread.objects.exists()
    run = TaskRun.objects.get()
    assert run.trigger == TaskRun.Trigger.CLI
    assert run.pid != os.getpid()

    failed = manage("run", "boom")
    assert failed.returncode == 1
    assert parse_table(failed.stdout)[0]["Status"] == "failed"
    assert "RuntimeError: boom: the database said no" in failed.stderr
    assert failed.stderr.splitlines()[-1] == "CommandError: failed: boom"

    unknown = manage("run", "nope")
    assert unknown.returncode == 2
    assert unknown.stdout == ""
    assert unknown.stderr.splitlines() == [
        "CommandError: Unknown task 'nope'; valid tasks: all, boom, dormant, nightly, record, "
        "tests.testapp.housekeeping.no_context, threads, unserializable."
    ]

    no_name = manage("run")
    assert no_name.returncode == 2
    assert len(no_name.stderr.splitlines()) == 1

    assert TaskRun.objects.count() == 2  # the unknown name and the usage error ran nothing


@pytest.mark.django_db(transaction=True)
def test_command_line_json_and_argument_errors(manage: Any) -> None:
    make_run("record", age=timedelta(minutes=1))

    listed = manage("list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert {task["name"] for task in json.loads(listed.stdout)} == FIXTURE_TASKS

    history = manage("history", "--json", "--task", "record")
    assert history.returncode == 0, history.stderr
    assert [run["task"] for run in json.loads(history.stdout)] == ["record"]

    bad_status = manage("history", "--status", "bogus")
    assert bad_status.returncode == 2  # argparse's own usage error
    assert "invalid choice: 'bogus'" in bad_status.stderr

    checked = manage("check")
    assert checked.returncode == 1  # no scheduler runs
    assert checked.stdout.startswith("no-scheduler: No scheduler is running: ")
    assert checked.stderr == "CommandError: housekeeping is unhealthy: 1 problem\n"


class Stop(Exception):
    pass


def test_run_task_is_what_the_command_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command has no execution path of its own: it goes through the control layer to
    run_task, as the system (no user), refusing a task that is already running."""
    calls: list[tuple[str, dict[str, Any]]] = []

    def fake_run_task(name: str, **kwargs: Any) -> TaskRun:
        calls.append((name, kwargs))
        raise Stop  # before any database access

    monkeypatch.setattr("django_housekeeping.running.control.run_task", fake_run_task)
    # No database in this test: the tables are taken to be there.
    monkeypatch.setattr("django_housekeeping.management.maintenance.missing_tables", lambda: [])
    with pytest.raises(Stop):
        housekeeping("run", "threads", "--dry-run")
    assert calls == [
        (
            "threads",
            {"dry_run": True, "trigger": TaskRun.Trigger.CLI, "user": None, "if_running": "raise"},
        )
    ]


@pytest.mark.django_db
def test_run_then_history_agree_with_run_task() -> None:
    direct = run_task("record")
    housekeeping("run", "record")

    rows = housekeeping("history").table()
    assert [row["Trigger"] for row in rows] == ["cli", "manual"]
    assert rows[1]["Run"] == str(direct.pk)


# purges: progress bar, --force, restore --------------------------------------------------------


class Terminal(io.StringIO):
    """A stdout that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.mark.django_db
@override_settings(HOUSEKEEPING={"PURGE_BATCH_SIZE": 1})
def test_run_draws_a_progress_bar_on_a_terminal() -> None:
    for _ in range(3):
        old_thread()
    out = Terminal()

    call_command("housekeeping", "run", "threads", stdout=out)

    text = out.getvalue()
    bar, table = text.split("\n", 1)
    assert bar.startswith("\rthreads:")
    final = bar.split("\r")[-1]
    assert final.startswith("threads: 100%|")
    assert "| 3/3 [" in final
    assert final.endswith(" rows/s]")
    assert parse_table(table)[0]["Result"] == "deleted 3 (testapp.Thread 3)"


@pytest.mark.django_db
def test_the_progress_bar_says_what_a_paused_run_waits_for(temporary_tasks: None) -> None:
    from django_housekeeping import housekeeping_task

    @housekeeping_task(name="hk_test.replicated")
    def replicated(ctx: Any) -> Any:
        ctx.progress(1, 3)
        ctx.note("paused: replica lag 7 s (replica)")
        ctx.note(None)
        ctx.progress(3, 3)
        return {"done": 3}

    out = Terminal()

    call_command("housekeeping", "run", "hk_test.replicated", stdout=out)

    bar = out.getvalue().split("\n", 1)[0]
    frames = bar.split("\r")
    paused_frames = [frame for frame in frames if "paused: replica lag 7 s (replica)" in frame]
    assert paused_frames
    assert paused_frames[0].startswith("hk_test.replicated:  33%|")
    assert paused_frames[0].endswith(", paused: replica lag 7 s (replica)]")
    assert frames[-1].startswith("hk_test.replicated: 100%|")
    assert "replica lag" not in frames[-1]


@pytest.mark.django_db
def test_a_note_before_any_progress_opens_the_bar(temporary_tasks: None) -> None:
    from django_housekeeping import housekeeping_task

    @housekeeping_task(name="hk_test.waits")
    def waits(ctx: Any) -> Any:
        ctx.note("paused: replica lag 3 s (replica)")
        return {}

    out = Terminal()

    call_command("housekeeping", "run", "hk_test.waits", stdout=out)

    assert out.getvalue().split("\n", 1)[0].split("\r")[-1].startswith("hk_test.waits: 0 rows")
    assert "paused: replica lag 3 s (replica)]" in out.getvalue()


@pytest.mark.django_db
@override_settings(HOUSEKEEPING={"PURGE_BATCH_SIZE": 1})
def test_run_draws_no_progress_bar_elsewhere() -> None:
    for _ in range(3):
        old_thread()

    outcome = housekeeping("run", "threads")

    assert "\r" not in outcome.out
    assert outcome.table()[0]["Result"] == "deleted 3 (testapp.Thread 3)"


@pytest.mark.django_db
@override_settings(HOUSEKEEPING={"PURGE_BATCH_SIZE": 1})
def test_each_member_of_a_group_gets_a_progress_line(temporary_tasks: None) -> None:
    from django_housekeeping import group, housekeeping_task

    @housekeeping_task(name="hk_test.first")
    def first(ctx: Any) -> Any:
        return ctx.purge(Thread.objects.filter(title="first"))

    @housekeeping_task(name="hk_test.second")
    def second(ctx: Any) -> Any:
        return ctx.purge(Thread.objects.filter(title="second"))

    group("hk_test.both", ["hk_test.first", "hk_test.second"])
    for title in ("first", "second", "second"):
        Thread.objects.create(title=title, created_at=timezone.now())
    out = Terminal()

    call_command("housekeeping", "run", "hk_test.both", stdout=out)

    lines = out.getvalue().split("\n")
    assert lines[0].split("\r")[-1].startswith("hk_test.first: 100%|")
    assert "| 1/1 [" in lines[0]
    assert lines[1].split("\r")[-1].startswith("hk_test.second: 100%|")
    assert "| 2/2 [" in lines[1]
    assert lines[2].startswith("Task ")


@pytest.mark.django_db
@override_settings(HOUSEKEEPING={"PURGE_BATCH_SIZE": 1})
def test_run_json_draws_no_progress_bar_on_a_terminal() -> None:
    old_thread()
    out = Terminal()

    call_command("housekeeping", "run", "threads", "--json", stdout=out)

    [run] = json.loads(out.getvalue())
    assert run["result"]["total"] == 1


@pytest.mark.django_db
def test_a_task_without_progress_draws_no_bar_on_a_terminal() -> None:
    out = Terminal()

    call_command("housekeeping", "run", "record", stdout=out)

    assert out.getvalue().startswith("Task ")


@pytest.mark.django_db
@override_settings(HOUSEKEEPING={"TASKS": {"threads": {"purge": {"max_rows": 1}}}})
def test_run_force_lets_a_purge_exceed_its_limits() -> None:
    old_thread()
    old_thread()

    refused = housekeeping("run", "threads")

    assert refused.returncode == 1
    assert "refusing to purge 2 rows of testapp.Thread" in refused.err
    assert Thread.objects.count() == 2

    forced = housekeeping("run", "threads", "--force")

    assert forced.returncode == 0
    assert forced.table()[0]["Result"] == "deleted 2 (testapp.Thread 2)"


@pytest.mark.django_db
def test_restore_loads_an_archive_back(tmp_path: Path) -> None:
    threads = [old_thread(), old_thread()]
    before = list(Thread.objects.values_list("pk", "title", "created_at"))
    archive = tmp_path / "threads.jsonl.gz"
    purge(Thread.objects.all(), archive=archive, batch_size=1)

    outcome = housekeeping("restore", str(archive))

    assert outcome.returncode == 0
    assert outcome.out == f"Restored 2 objects (2 batches) from {archive}: testapp.thread 2.\n"
    assert outcome.err == ""
    assert list(Thread.objects.values_list("pk", "title", "created_at")) == before
    assert [thread.pk for thread in threads] == [pk for pk, *_ in before]


@pytest.mark.django_db
def test_restore_json_and_a_cut_short_archive(tmp_path: Path) -> None:
    old_thread()
    archive = tmp_path / "threads.jsonl.gz"
    purge(Thread.objects.all(), archive=archive)
    archive.write_bytes(archive.read_bytes() + archive.read_bytes()[:20])

    outcome = housekeeping("restore", str(archive), "--json")

    assert outcome.returncode == 0
    assert outcome.json() == {
        "file": str(archive),
        "objects": 1,
        "models": {"testapp.thread": 1},
        "batches": 1,
        "truncated": True,
        "verified": True,
        "present": 0,
        "present_models": {},
        "rewritten": 0,
        "kept": 0,
        "kept_models": {},
        "erased": 0,
        "erased_models": {},
    }
    assert "The last batch of" in outcome.err
    assert "were skipped" in outcome.err
    assert Thread.objects.count() == 1


@pytest.mark.django_db
def test_restore_of_a_missing_file_exits_1(tmp_path: Path) -> None:
    outcome = housekeeping("restore", str(tmp_path / "missing.jsonl.gz"))

    assert outcome.returncode == 1
    assert outcome.message.startswith("cannot restore ")
    assert "no archive file" in outcome.message


# before migrate ----------------------------------------------------------------------------------


@pytest.fixture
def unmigrated() -> Iterator[None]:
    """The database without this app's tables (as before ``migrate``); migrated back after."""
    call_command("migrate", "django_housekeeping", "zero", verbosity=0)
    try:
        yield
    finally:
        call_command("migrate", "django_housekeeping", verbosity=0)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("unmigrated")
def test_before_migrate_every_subcommand_says_to_run_migrate(manage: Any) -> None:
    for args in (
        ["list"],
        ["list", "--json"],
        ["run", "threads"],
        ["run", "--all"],
        ["history"],
        ["status"],
        ["status", "--json"],
        ["scheduler"],
    ):
        outcome = housekeeping(*args)
        assert outcome.returncode == 1, args
        assert outcome.message.startswith("the housekeeping tables do not exist ("), args
        assert outcome.message.endswith("): run `python manage.py migrate` first"), args
        assert "django_housekeeping_taskrun" in outcome.message
        assert outcome.out == ""

    # `check` still runs the system checks, then says the same.
    checked = housekeeping("check")
    assert checked.returncode == 1
    assert checked.out == ""
    assert checked.message.endswith("run `python manage.py migrate` first")

    # On the real command line: one line on stderr, no traceback.
    listed = manage("list")
    assert listed.returncode == 1
    assert listed.stdout == ""
    assert len(listed.stderr.splitlines()) == 1, listed.stderr
    assert listed.stderr.startswith("CommandError: the housekeeping tables do not exist (")
