"""The quick-start's commands (run_housekeeping, scheduler_info) print what the quick-start shows;
seed_demo and demo_admin make the demo."""

import re
from datetime import datetime, timedelta

from tests.example.project import ExampleSite

RULE = "=" * 60
WIDE_RULE = "=" * 80

# Users, conversations and messages each task has one kind of work on.
DATA = """
gina = user("gina", joined_days_ago=100, verified=True)
conversation(gina, "old", days_ago=31, messages=2)
conversation(gina, "new", hours_ago=1, messages=1)
message(None, gina, "orphan 1", days_ago=3)
message(None, None, "orphan 2")
user("ghost", joined_days_ago=10, verified=False)
emit(state())
"""


def report(*lines: str) -> str:
    """run_housekeeping's output around ``lines``, as the quick-start shows it."""
    return "\n".join(["", RULE, "Running Housekeeping Tasks", RULE, "", *lines, RULE]) + "\n"


def success(*lines: str) -> str:
    return report(*lines) + f"Housekeeping completed successfully!\n{RULE}\n"


def test_run_housekeeping_prints_the_quick_start_report(site: ExampleSite) -> None:
    site.python(DATA)
    process = site.manage("run_housekeeping")
    assert process.stdout == success(
        "Deleted: 1 conversations, 2 orphaned messages, 1 inactive users",
        "Stats: {",
        "  'total_users': 1,",
        "  'total_conversations': 1,",
        "  'total_messages': 1,",
        "  'recent_conversations_24h': 1,",
        "  'recent_messages_24h': 1",
        "}",
    )
    runs = site.python(
        """
emit([[run.task_name, run.trigger, run.parent.task_name if run.parent else None]
      for run in TaskRun.objects.order_by("started_at", "id")])
""",
        reset=False,
    )
    assert runs == [
        ["daily_housekeeping", "cli", None],
        ["conversations", "cli", "daily_housekeeping"],
        ["messages", "cli", "daily_housekeeping"],
        ["users", "cli", "daily_housekeeping"],
        ["stats", "cli", "daily_housekeeping"],
    ]


def test_run_housekeeping_runs_one_task(site: ExampleSite) -> None:
    site.python(DATA)
    assert site.manage("run_housekeeping", "--task", "stats").stdout == success(
        "Stats: {",
        "  'total_users': 2,",
        "  'total_conversations': 2,",
        "  'total_messages': 5,",
        "  'recent_conversations_24h': 1,",
        "  'recent_messages_24h': 2",
        "}",
    )
    assert site.manage("run_housekeeping", "--task", "conversations").stdout == success(
        "Deleted: 1 conversations"
    )
    assert site.manage("run_housekeeping", "--task", "messages").stdout == success(
        "Deleted: 2 orphaned messages"
    )
    assert site.manage("run_housekeeping", "--task", "users").stdout == success(
        "Deleted: 1 inactive users"
    )
    left = site.python("emit(state())", reset=False)
    assert left["users"] == ["gina"]
    assert left["messages"] == ["new/1"]


def test_run_housekeeping_dry_run_deletes_nothing(site: ExampleSite) -> None:
    before = site.python(DATA)
    process = site.manage("run_housekeeping", "--dry-run")
    assert "Running Housekeeping Tasks (dry run)\n" in process.stdout
    # The site's INFO log lines of each run do not interleave with the report.
    assert " INFO " not in process.stderr
    assert "\nWould delete: 1 conversations, 2 orphaned messages, 1 inactive users\n" in (
        process.stdout
    )
    assert site.python("emit(state())", reset=False) == before


def test_run_housekeeping_fails_when_a_task_fails(site: ExampleSite) -> None:
    process = site.run_python(
        DATA
        + """
import sys
from django.core.management import execute_from_command_line
from django_housekeeping import housekeeping_task

registry.unregister("users")

@housekeeping_task(name="users")
def users_with_a_broken_mail_server(ctx):
    raise RuntimeError("mail server unreachable")

execute_from_command_line(["manage.py", "run_housekeeping"])
""",
        check=False,
    )
    assert process.returncode == 1
    # The tasks that worked still report; the failure is on stderr with its traceback.
    assert "\nDeleted: 1 conversations, 2 orphaned messages\nStats: {\n" in process.stdout
    assert "Housekeeping completed successfully!" not in process.stdout
    assert "Task users failed:\nTraceback" in process.stderr
    assert "RuntimeError: mail server unreachable" in process.stderr
    assert re.search(r"CommandError: Housekeeping failed: users \(run #\d+;", process.stderr)
    failed = site.python(
        "emit(list(TaskRun.objects.filter(status='failed')"
        ".order_by('id').values_list('task_name', 'trigger')))",
        reset=False,
    )
    assert failed == [["daily_housekeeping", "cli"], ["users", "cli"]]


def test_run_housekeeping_rejects_an_unknown_task(site: ExampleSite) -> None:
    process = site.manage("run_housekeeping", "--task", "everything", check=False)
    assert process.returncode == 2
    assert "invalid choice: 'everything'" in process.stderr


SCHEDULER_INFO = """
from io import StringIO
from django.core.management import call_command
from django_apscheduler.models import DjangoJob
from django_housekeeping.models import SchedulerLease

DjangoJob.objects.all().delete()
SchedulerLease.objects.all().delete()
out = StringIO()
{before}
call_command("scheduler_info", stdout=out)
{after}
emit(out.getvalue())
"""


def job_lines(number: int, job_id: str, name: str, next_run: str, trigger: str) -> list[str]:
    return [
        "",
        f"Job #{number}:",
        f"  ID: {job_id}",
        f"  Name: {name}",
        f"  Next Run: {next_run}",
        f"  Trigger: {trigger}",
    ]


def scheduler_info_head(output: str, state: str) -> tuple[list[str], datetime]:
    """Check the lines before the jobs; return the rest and the printed current time."""
    lines = output.splitlines()
    assert lines[:5] == [
        "",
        WIDE_RULE,
        "APScheduler Status",
        WIDE_RULE,
        f"Scheduler State: {state}",
    ]
    if state == "running":
        assert re.fullmatch(r"Leader: \S+:\d+:\w+", lines.pop(5))
    match = re.fullmatch(r"Current Time: (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+00:00)", lines[5])
    assert match, lines[5]
    assert lines[6:9] == ["", "Total Scheduled Jobs: 3", WIDE_RULE]
    return lines[9:], datetime.fromisoformat(match[1])


def test_scheduler_info_before_any_scheduler_ran(site: ExampleSite) -> None:
    output = site.python(SCHEDULER_INFO.format(before="", after=""))
    jobs, _ = scheduler_info_head(output, "stopped")
    not_planned = "None (no scheduler has planned it yet: start `manage.py runserver`)"
    assert jobs == [
        *job_lines(
            1, "conversations", "Weekly Conversation Cleanup", not_planned, "cron('0 3 * * sun')"
        ),
        *job_lines(2, "daily_housekeeping", "Daily Housekeeping", not_planned, "cron('0 2 * * *')"),
        *job_lines(3, "stats", "Statistics", not_planned, "every(6:00:00)"),
        "",
        "Not scheduled: messages (manual), users (manual)",
        WIDE_RULE,
    ]


def test_scheduler_info_with_a_running_scheduler(site: ExampleSite) -> None:
    output = site.python(
        SCHEDULER_INFO.format(
            before="""
import time
from django_housekeeping.scheduling.service import SchedulerService
service = SchedulerService()
service.start()
deadline = time.monotonic() + 30
while DjangoJob.objects.count() < 3 and time.monotonic() < deadline:
    time.sleep(0.1)
""",
            after="service.stop()",
        )
    )
    jobs, now = scheduler_info_head(output, "running")
    next_2am = now.replace(hour=2, minute=0, second=0) + timedelta(days=now.hour >= 2)
    sunday_3am = now.replace(hour=3, minute=0, second=0) + timedelta(days=(6 - now.weekday()) % 7)
    if sunday_3am <= now:
        sunday_3am += timedelta(days=7)
    next_6h = now.replace(hour=now.hour // 6 * 6, minute=0, second=0) + timedelta(hours=6)
    assert jobs == [
        *job_lines(
            1,
            "conversations",
            "Weekly Conversation Cleanup",
            f"{sunday_3am}",
            "cron('0 3 * * sun')",
        ),
        *job_lines(
            2, "daily_housekeeping", "Daily Housekeeping", f"{next_2am}", "cron('0 2 * * *')"
        ),
        *job_lines(3, "stats", "Statistics", f"{next_6h}", "every(6:00:00)"),
        "",
        "Not scheduled: messages (manual), users (manual)",
        WIDE_RULE,
    ]


def test_test_mode_runs_daily_housekeeping_every_5_minutes(site: ExampleSite) -> None:
    output = site.manage("scheduler_info", env=site.env(HOUSEKEEPING_TEST_MODE="1")).stdout
    assert "  ID: daily_housekeeping\n  Name: Daily Housekeeping\n" in output
    assert "  Trigger: cron('*/5 * * * *') (from settings)\n" in output


SEED_MIX = """
from django.db.models import Min, Max, F
now = ago()
users = User.objects.all()
never_verified = users.exclude(email_verification__is_verified=True)
verified = users.filter(email_verification__is_verified=True)
conversations = Conversation.objects.all()
span = conversations.aggregate(first=Min("created_at"), last=Max("created_at"))
emit({
    "users": users.count(),
    "staff": list(users.filter(is_staff=True).values_list("is_superuser", "is_active")),
    "staff_unverified_old": never_verified.filter(is_staff=True, date_joined__lt=ago(7)).count(),
    "unverified_old": never_verified.filter(is_staff=False, date_joined__lt=ago(7)).count(),
    "unverified_new": never_verified.filter(is_staff=False, date_joined__gte=ago(7)).count(),
    "banned": verified.filter(is_active=False).count(),
    "verified_active": verified.filter(is_active=True).count(),
    "conversations": conversations.count(),
    "older_than_30_days": conversations.filter(created_at__lt=ago(30)).count(),
    "oldest_days": (now - span["first"]).total_seconds() / 86400,
    "newest_days": (now - span["last"]).total_seconds() / 86400,
    "before_owner_joined": conversations.filter(created_at__lt=F("user__date_joined")).count(),
    "messages": Message.objects.filter(conversation__isnull=False).count(),
    "assistant": Message.objects.filter(role="assistant", user__isnull=True).count(),
    "orphans": Message.objects.filter(conversation__isnull=True).count(),
})
"""


def test_seed_demo_creates_the_promised_mix_in_bulk(site: ExampleSite) -> None:
    site.python("emit(None)")  # an empty site
    process = site.manage(
        "seed_demo", "--users", "200", "--conversations", "10000", "--messages-per", "10"
    )
    match = re.fullmatch(
        r"Created 200 users \(1 staff, 19 unverified-old, 9 unverified-new, 9 banned, "
        r"162 verified\), 10000 conversations, 100000 messages and 1000 orphaned messages "
        r"in (\d+\.\d) s\.\nPlaced a legal hold on Conversation \d+ \(#\d+\): the "
        r"conversations task keeps it\.\n",
        process.stdout,
    )
    assert match, process.stdout  # how long it took: benchmarks/seed_demo.py measures that

    mix = site.python(SEED_MIX, reset=False)
    assert mix["users"] == 200
    assert mix["staff"] == [[False, True]]
    assert mix["staff_unverified_old"] == 1  # kept all the same: staff
    assert (mix["unverified_old"], mix["unverified_new"]) == (19, 9)
    assert (mix["banned"], mix["verified_active"]) == (9, 162)
    assert mix["conversations"] == 10000
    assert 2000 < mix["older_than_30_days"] < 9000  # spread over 90 days: the task has work
    assert mix["oldest_days"] <= 90
    assert mix["newest_days"] < 1
    assert mix["before_owner_joined"] == 0
    assert (mix["messages"], mix["assistant"], mix["orphans"]) == (100000, 50000, 1000)

    # Every task has work on it; staff and banned users are not among the users to delete.
    dry_run = site.manage("run_housekeeping", "--dry-run").stdout
    assert re.search(
        r"\nWould delete: \d+ conversations, 1000 orphaned messages, 19 inactive users\n", dry_run
    )

    again = site.manage("seed_demo", "--if-empty")
    assert again.stdout == (
        "Demo data is already there (200 users, 10000 conversations, 101000 messages): "
        "nothing added.\n"
    )


def test_demo_admin_prints_a_login_that_works(site: ExampleSite, tmp_path) -> None:
    site.python("emit(None)")
    # As scripts/demo runs it: a random password, kept in a file from run to run.
    password_file = tmp_path / "var" / "admin-password"
    first = site.manage("demo_admin", "--password-file", str(password_file)).stdout
    password = re.search(r"\n  password: (\S+)\n", first)[1]
    assert len(password) >= 16
    assert first == (
        "Created the demo administrator (development only):\n"
        f"  username: admin\n  password: {password}\n"
    )
    assert password_file.read_text() == f"{password}\n"
    second = site.manage("demo_admin", "--password-file", str(password_file)).stdout
    assert second == (
        "Updated the demo administrator (development only):\n"
        f"  username: admin\n  password: {password}\n"
    )
    admin = site.python(
        f"""
from django.contrib.auth import authenticate
admin = authenticate(username="admin", password={password!r})
emit([admin.is_staff, admin.is_superuser, admin.email_verification.is_verified])
""",
        reset=False,
    )
    assert admin == [True, True, True]


def test_example_migrations_are_complete(site: ExampleSite) -> None:
    process = site.manage("makemigrations", "--check", "--dry-run", "chat", "accounts")
    assert "No changes detected" in process.stdout
