"""What each of the example's housekeeping tasks deletes and counts, and the daily group."""

from tests.example.project import ExampleSite


def test_tasks_and_schedules_are_registered(site: ExampleSite) -> None:
    tasks = site.python(
        """
from django_housekeeping.presenters import describe_schedule
emit({task.name: [describe_schedule(task), task.description, task.options, list(task.members)]
      for task in registry})
""",
        reset=False,
    )
    assert tasks == {
        "daily_housekeeping": [
            "cron('0 2 * * *')",
            "Daily Housekeeping",
            {},
            ["conversations", "messages", "users", "stats"],
        ],
        "conversations": ["cron('0 3 * * sun')", "Weekly Conversation Cleanup", {}, []],
        "stats": ["every(6:00:00)", "Statistics", {}, []],
        "messages": [
            "manual",
            "Delete orphaned messages (messages without a conversation)",
            {},
            [],
        ],
        "users": [
            "manual",
            "Delete users who never verified their e-mail N days after joining",
            {"days": 7},
            [],
        ],
    }


def test_conversations_older_than_30_days_go_with_their_messages(site: ExampleSite) -> None:
    outcome = site.python(
        """
alice = user("alice", joined_days_ago=200, verified=True)
conversation(alice, "old", days_ago=45, messages=3)
conversation(alice, "just-too-old", days_ago=30, hours_ago=1, messages=1)
conversation(alice, "almost-30-days", days_ago=29, hours_ago=23, messages=2)
conversation(alice, "new", hours_ago=2, messages=2)
message(None, alice, "orphan", days_ago=60)
run = run_task("conversations")
emit({"status": run.status, "result": run.result, "state": state()})
"""
    )
    assert outcome["status"] == "succeeded"
    result = outcome["result"]
    assert result["deleted"] == {"chat.Conversation": 2, "chat.Message": 4}
    assert (result["total"], result["dry_run"]) == (6, False)
    assert outcome["state"]["conversations"] == ["almost-30-days", "new"]
    # The messages of the conversations left, and the orphan (the `messages` task's), stay.
    assert outcome["state"]["messages"] == [
        "almost-30-days/1",
        "almost-30-days/2",
        "new/1",
        "new/2",
        "orphan",
    ]
    assert outcome["state"]["users"] == ["alice"]


def test_messages_deletes_orphans_only(site: ExampleSite) -> None:
    outcome = site.python(
        """
bob = user("bob", joined_days_ago=100, verified=True)
chat = conversation(bob, "kept", days_ago=90, messages=2)
message(None, bob, "old orphan", days_ago=80)
message(None, None, "new orphan without a user")
run = run_task("messages")
emit({"status": run.status, "result": run.result, "state": state()})
"""
    )
    assert outcome["status"] == "succeeded"
    assert outcome["result"]["deleted"] == {"chat.Message": 2}
    assert outcome["state"]["messages"] == ["kept/1", "kept/2"]
    assert outcome["state"]["conversations"] == ["kept"]


def test_users_deletes_the_never_verified_after_7_days_and_keeps_banned_and_staff(
    site: ExampleSite,
) -> None:
    outcome = site.python(
        """
unverified_old = user("unverified-old", joined_days_ago=8, verified=False)
conversation(unverified_old, "of-unverified-old", days_ago=1, messages=2)
user("no-verification-row-old", joined_days_ago=30)
user("unverified-deactivated-old", joined_days_ago=40, verified=False, active=False)
user("unverified-new", joined_days_ago=6, verified=False)
user("no-verification-row-new", joined_days_ago=1)
verified = user("verified", joined_days_ago=60, verified=True)
conversation(verified, "of-verified", days_ago=1, messages=1)
user("banned", joined_days_ago=60, verified=True, active=False)
user("staff-unverified-old", joined_days_ago=90, verified=False, staff=True)
user("superuser-without-row-old", joined_days_ago=90, superuser=True)
run = run_task("users")
emit({"status": run.status, "result": run.result, "state": state()})
"""
    )
    assert outcome["status"] == "succeeded"
    assert outcome["result"]["deleted"] == {
        "accounts.EmailVerification": 2,
        "auth.User": 3,
        "chat.Conversation": 1,
        "chat.Message": 2,
    }
    state = outcome["state"]
    assert state["users"] == [
        "banned",
        "no-verification-row-new",
        "staff-unverified-old",
        "superuser-without-row-old",
        "unverified-new",
        "verified",
    ]
    assert state["conversations"] == ["of-verified"]
    assert state["messages"] == ["of-verified/1"]
    assert state["verifications"] == [
        "banned",
        "staff-unverified-old",
        "unverified-new",
        "verified",
    ]


def test_stats_counts_totals_and_the_last_24_hours(site: ExampleSite) -> None:
    outcome = site.python(
        """
carol = user("carol", joined_days_ago=100, verified=True)
user("dave", joined_days_ago=1, verified=False)
recent = conversation(carol, "recent", hours_ago=2, messages=3)
conversation(carol, "older", days_ago=3, messages=2)
message(recent, carol, "yesterday", hours_ago=25)
message(None, carol, "orphan", hours_ago=1)
run = run_task("stats")
emit({"status": run.status, "result": run.result, "state": state()})
"""
    )
    assert outcome["status"] == "succeeded"
    assert outcome["result"] == {
        "total_users": 2,
        "total_conversations": 2,
        "total_messages": 7,
        "recent_conversations_24h": 1,
        "recent_messages_24h": 4,
    }
    assert len(outcome["state"]["messages"]) == 7  # counting deletes nothing


def test_daily_housekeeping_runs_the_cleanups_then_the_statistics(site: ExampleSite) -> None:
    outcome = site.python(
        """
erin = user("erin", joined_days_ago=100, verified=True)
conversation(erin, "old", days_ago=31, messages=2)
conversation(erin, "new", hours_ago=1, messages=1)
message(None, erin, "orphan", days_ago=2)
ghost = user("ghost", joined_days_ago=10, verified=False)
conversation(ghost, "of-ghost", hours_ago=3, messages=1)
run = run_task("daily_housekeeping", trigger="schedule")
children = [[child.task_name, child.status, child.trigger]
            for child in run.children.order_by("started_at", "id")]
emit({"status": run.status, "result": run.result, "children": children, "state": state()})
"""
    )
    assert outcome["status"] == "succeeded"
    assert outcome["children"] == [
        ["conversations", "succeeded", "schedule"],
        ["messages", "succeeded", "schedule"],
        ["users", "succeeded", "schedule"],
        ["stats", "succeeded", "schedule"],
    ]
    tasks = outcome["result"]["tasks"]
    assert list(tasks) == ["conversations", "messages", "users", "stats"]
    assert tasks["conversations"]["result"]["deleted"] == {
        "chat.Conversation": 1,
        "chat.Message": 2,
    }
    assert tasks["messages"]["result"]["deleted"] == {"chat.Message": 1}
    assert tasks["users"]["result"]["deleted"] == {
        "accounts.EmailVerification": 1,
        "auth.User": 1,
        "chat.Conversation": 1,
        "chat.Message": 1,
    }
    # The statistics come last, so they count what the cleanups left.
    assert tasks["stats"]["result"] == {
        "total_users": 1,
        "total_conversations": 1,
        "total_messages": 1,
        "recent_conversations_24h": 1,
        "recent_messages_24h": 1,
    }
    assert outcome["state"]["messages"] == ["new/1"]


def test_a_dry_run_counts_and_keeps_everything(site: ExampleSite) -> None:
    outcome = site.python(
        """
frank = user("frank", joined_days_ago=9, verified=False)
conversation(frank, "old", days_ago=40, messages=2)
message(None, None, "orphan")
before = state()
run = run_task("daily_housekeeping", dry_run=True)
emit({"result": run.result, "same": before == state()})
"""
    )
    tasks = outcome["result"]["tasks"]
    assert tasks["conversations"]["result"]["deleted"] == {
        "chat.Conversation": 1,
        "chat.Message": 2,
    }
    assert tasks["messages"]["result"]["deleted"] == {"chat.Message": 1}
    assert tasks["users"]["result"]["deleted"]["auth.User"] == 1
    assert tasks["users"]["result"]["dry_run"] is True
    assert outcome["same"] is True
