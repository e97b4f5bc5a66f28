"""``retention()``: a declared policy deletes exactly the rows outside its window(s), per
``keep_by`` value (a field, or a field of a related model), with the settings' override, and a
dry run counts what the real run deletes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

import django_housekeeping
from django_housekeeping import AlreadyRegistered, InvalidSchedule, registry, retention, run_task
from django_housekeeping.models import TaskRun
from django_housekeeping.presenters import read_result
from django_housekeeping.tasks.retention import RetentionPolicy, policies
from tests.testapp.models import Account, Chat, ChatLine

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("temporary_tasks")]


def chat(
    title: str,
    days_ago: float,
    *,
    plan: str | None = None,
    account: Any = None,
    archived: bool = False,
    lines: int = 0,
) -> Chat:
    made = Chat.objects.create(
        title=title,
        plan=plan,
        account=account,
        archived=archived,
        updated_at=timezone.now() - timedelta(days=days_ago),
    )
    ChatLine.objects.bulk_create(ChatLine(chat=made, text=f"{title}/{n}") for n in range(lines))
    return made


def titles() -> list[str]:
    return sorted(Chat.objects.values_list("title", flat=True))


def succeeded(run: TaskRun) -> dict[str, Any]:
    assert run.status == TaskRun.Status.SUCCEEDED, run.error
    assert isinstance(run.result, dict)
    return run.result


@pytest.fixture
def per_plan() -> None:
    """Free 30 days, pro 365, NULL plan 7; chats either side of each cutoff (a day's margin)."""
    chat("free-old", 31, plan="free", lines=2)
    chat("free-new", 29, plan="free")
    chat("pro-old", 366, plan="pro", lines=1)
    chat("pro-mid", 200, plan="pro")
    chat("none-old", 8, plan=None)
    chat("none-new", 6, plan=None)
    chat("other-old", 31, plan="team")
    chat("other-new", 29, plan="team")


def test_default_name_schedule_and_description() -> None:
    task = retention(Chat, field="updated_at", keep=timedelta(days=30), schedule="15 4 * * *")
    assert task.name == "testapp.chat_retention"
    assert registry.get("testapp.chat_retention") is task
    assert str(task.schedule) == "cron('15 4 * * *')"
    assert task.destructive
    assert not task.is_group
    assert task.description == (
        "Retention: delete testapp.Chat rows whose updated_at is older than 30 days"
    )
    assert [name for name, _ in [(t.name, p) for t, p in policies()]] == ["testapp.chat_retention"]
    assert isinstance(task.func, RetentionPolicy)


def test_the_package_exports_retention() -> None:
    assert django_housekeeping.retention is retention
    assert "retention" in django_housekeeping.__all__


def test_deletes_exactly_the_rows_outside_the_window_with_their_cascades() -> None:
    chat("old", 31, lines=3)
    chat("new", 29, lines=2)
    retention(Chat, field="updated_at", keep=timedelta(days=30), name="chats")

    result = succeeded(run_task("chats"))

    assert titles() == ["new"]
    assert ChatLine.objects.count() == 2
    assert result["deleted"] == {"testapp.Chat": 1, "testapp.ChatLine": 3}
    assert result["total"] == 4
    (cutoff,) = result["cutoffs"]
    assert (cutoff["default"], cutoff["keep"], cutoff["keep_seconds"]) == (True, "30 days", 2592000)
    assert result["policy"] == {"model": "testapp.Chat", "field": "updated_at", "keep_by": None}


def test_a_number_of_days_is_a_window() -> None:
    chat("old", 3)
    chat("new", 1)
    retention(Chat, field="updated_at", keep=2, name="chats")
    succeeded(run_task("chats"))
    assert titles() == ["new"]


@pytest.mark.usefixtures("per_plan")
def test_per_keep_by_value_windows() -> None:
    retention(
        Chat,
        field="updated_at",
        keep=timedelta(days=30),
        keep_by="plan",
        keep_for={"pro": timedelta(days=365), None: 7},
        name="chats",
    )
    result = succeeded(run_task("chats"))
    assert titles() == ["free-new", "none-new", "other-new", "pro-mid"]
    assert result["deleted"] == {"testapp.Chat": 4, "testapp.ChatLine": 3}
    assert [(c["value"], c["keep"]) for c in result["cutoffs"]] == [
        (None, "30 days"),
        ("pro", "365 days"),
        (None, "7 days"),
    ]
    assert [c["default"] for c in result["cutoffs"]] == [True, False, False]


def test_per_keep_by_value_windows_through_a_relation() -> None:
    free, pro, unset = (Account.objects.create(plan=plan) for plan in ("free", "pro", None))
    chat("free-old", 31, account=free)
    chat("free-new", 29, account=free)
    chat("pro-old", 366, account=pro, lines=2)
    chat("pro-mid", 200, account=pro)
    chat("unset-old", 31, account=unset)
    chat("no-account-old", 31, account=None)
    chat("no-account-new", 1, account=None)
    retention(
        Chat,
        field="updated_at",
        keep=timedelta(days=30),
        keep_by="account__plan",
        keep_for={"pro": timedelta(days=365)},
        name="chats",
    )
    result = succeeded(run_task("chats"))
    # Rows whose account has no plan, and rows without an account, keep the default window.
    assert titles() == ["free-new", "no-account-new", "pro-mid"]
    assert result["deleted"] == {"testapp.Chat": 4, "testapp.ChatLine": 2}


def test_a_queryset_limits_the_policy_to_its_rows() -> None:
    chat("old", 31)
    chat("old-archived", 31, archived=True)
    retention(
        Chat.objects.filter(archived=False),
        field="updated_at",
        keep=timedelta(days=30),
        name="chats",
    )
    succeeded(run_task("chats"))
    assert titles() == ["old-archived"]


@pytest.mark.parametrize("keep", [timedelta(days=10), 10, 10.0])
def test_the_settings_override_keep(keep: object) -> None:
    chat("eleven", 11)
    chat("nine", 9)
    retention(Chat, field="updated_at", keep=timedelta(days=30), name="chats")
    with override_settings(HOUSEKEEPING={"TASKS": {"chats": {"keep": keep}}}):
        result = succeeded(run_task("chats"))
    assert titles() == ["nine"]
    assert [(c["keep"], c["source"]) for c in result["cutoffs"]] == [("10 days", "settings")]


@pytest.mark.usefixtures("per_plan")
def test_the_settings_override_keep_for_key_by_key() -> None:
    retention(
        Chat,
        field="updated_at",
        keep=timedelta(days=30),
        keep_by="plan",
        keep_for={"pro": timedelta(days=365)},
        name="chats",
    )
    override = {"keep": 60, "keep_for": {"pro": 100, "team": timedelta(days=20)}}
    with override_settings(HOUSEKEEPING={"TASKS": {"chats": override}}):
        result = succeeded(run_task("chats"))
    # free: 60 days; pro: 100 days; team: 20 days; NULL plan: the default, 60 days.
    assert titles() == ["free-new", "free-old", "none-new", "none-old"]
    assert [(c["value"], c["keep"], c["source"]) for c in result["cutoffs"]] == [
        (None, "60 days", "settings"),
        ("pro", "100 days", "settings"),
        ("team", "20 days", "settings"),
    ]


@pytest.mark.usefixtures("per_plan")
def test_dry_run_counts_equal_the_real_runs() -> None:
    retention(
        Chat,
        field="updated_at",
        keep=timedelta(days=30),
        keep_by="plan",
        keep_for={"pro": timedelta(days=365), None: timedelta(days=7)},
        name="chats",
    )
    before = titles()
    dry = succeeded(run_task("chats", dry_run=True))
    assert titles() == before
    assert ChatLine.objects.count() == 3
    real = succeeded(run_task("chats"))
    assert dry["deleted"] == real["deleted"] == {"testapp.Chat": 4, "testapp.ChatLine": 3}
    assert (dry["dry_run"], real["dry_run"]) == (True, False)
    assert dry["total"] == real["total"] == 7


def test_purge_options_and_archive_follow_the_decorator() -> None:
    chat("old-1", 40)
    chat("old-2", 41)
    retention(
        Chat,
        field="updated_at",
        keep=30,
        name="chats",
        purge={"batch_size": 1},
    )
    result = succeeded(run_task("chats"))
    assert (result["total"], result["batches"]) == (2, 2)


def test_registering_a_name_twice_raises() -> None:
    retention(Chat, field="updated_at", keep=30)
    with pytest.raises(AlreadyRegistered, match=r"testapp\.chat_retention"):
        retention(Chat.objects.filter(archived=True), field="updated_at", keep=60)
    with pytest.raises(AlreadyRegistered):
        retention(Chat, field="updated_at", keep=30, name="threads")  # a fixture task's name


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"model_or_queryset": "chat"}, TypeError, "needs a model class or a queryset"),
        ({"model_or_queryset": Chat()}, TypeError, "needs a model class or a queryset"),
        ({"field": ""}, ValueError, "must name a date or datetime field of Chat"),
        ({"field": "account__plan"}, ValueError, "must name a date or datetime field"),
        ({"keep": 0}, ValueError, "positive timedelta or a positive number of days, got 0"),
        ({"keep": timedelta(days=-1)}, ValueError, r"keep=\.\.\.\) must be a positive"),
        ({"keep": True}, ValueError, "got True"),
        ({"keep": "30"}, ValueError, "got '30'"),
        ({"keep_for": {"pro": 30}}, ValueError, "needs keep_by"),
        ({"keep_by": "plan", "keep_for": ["pro"]}, TypeError, "must be a dict"),
        ({"keep_by": "plan", "keep_for": {"pro": -3}}, ValueError, "keep_for=\\{'pro': ...\\}"),
        ({"keep_by": ""}, ValueError, "keep_by=.... must be a field path"),
        (
            {"purge": {"batch_size": 0}},
            ValueError,
            "retention\\(purge=...\\) \\['batch_size'\\] must be a positive",
        ),
    ],
)
def test_bad_arguments_raise_clear_errors(
    arguments: dict[str, Any], error: type[Exception], message: str
) -> None:
    kwargs: dict[str, Any] = {"model_or_queryset": Chat, "field": "updated_at", "keep": 30}
    kwargs.update(arguments)
    source = kwargs.pop("model_or_queryset")
    with pytest.raises(error, match=message):
        retention(source, **kwargs)
    assert "testapp.chat_retention" not in registry


def test_a_bad_schedule_is_kept_for_the_system_checks_not_raised() -> None:
    task = retention(Chat, field="updated_at", keep=30, schedule="not a cron")

    assert task.declared.schedule_error is not None
    assert "schedule='not a cron'" in task.declared.schedule_error
    with pytest.raises(InvalidSchedule, match="not a cron"):
        task.schedule  # noqa: B018


def test_the_presenter_shows_the_cutoffs() -> None:
    chat("old", 31)
    retention(
        Chat, field="updated_at", keep=30, keep_by="plan", keep_for={"pro": 365}, name="chats"
    )
    run = run_task("chats")
    details = read_result(succeeded(run))
    assert details["kind"] == "purge"
    assert details["summary"].startswith("deleted 1 (testapp.Chat 1); updated_at older than ")
    assert "(30 days), plan='pro': " in details["summary"]
    assert [(row["rows"], row["keep"]) for row in details["cutoffs"]] == [
        ("every other row", "30 days"),
        ("plan='pro'", "365 days"),
    ]
