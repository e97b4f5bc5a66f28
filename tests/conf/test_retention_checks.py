"""The retention policies' system checks: E011 (field), W002 (index), E012 (windows in settings),
E013 (keep_by)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.checks import CheckMessage, Error, Warning
from django.core.checks.registry import registry as check_registry
from django.test import override_settings

from django_housekeeping import retention
from django_housekeeping.conf.checks import check_retention_policies, check_settings
from tests.testapp.models import Chat, Document, Thread

pytestmark = pytest.mark.usefixtures("temporary_tasks")


def messages(housekeeping: Any = None) -> list[CheckMessage]:
    with override_settings(HOUSEKEEPING=housekeeping or {}):
        return [*check_settings(), *check_retention_policies()]


def test_the_check_is_registered() -> None:
    assert check_retention_policies in check_registry.get_checks()


def test_a_valid_policy_is_fine() -> None:
    retention(
        Chat.objects.filter(archived=False),
        field="updated_at",
        keep=30,
        keep_by="account__plan",
        keep_for={"pro": 365},
        name="chats",
    )
    override = {"keep": timedelta(days=40), "keep_for": {"pro": 400, "team": 20.5}}
    assert messages({"TASKS": {"chats": override}}) == []


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("touched_at", "Retention policy 'chats': testapp.Chat has no field 'touched_at'."),
        ("title", "testapp.Chat.title is a CharField, not a date or datetime field."),
        ("account", "testapp.Chat.account is a ForeignKey, not a date or datetime field."),
        ("lines", "testapp.Chat.lines is a ManyToOneRel, not a date or datetime field."),
    ],
)
def test_e011_field_is_no_date_field_of_the_model(field: str, message: str) -> None:
    retention(Chat, field=field, keep=30, name="chats")
    (error,) = messages()
    assert isinstance(error, Error)
    assert error.id == "django_housekeeping.E011"
    assert message in error.msg


def test_w002_field_without_an_index() -> None:
    retention(Thread, field="created_at", keep=30, name="threads_retention")
    (warning,) = messages()
    assert isinstance(warning, Warning)
    assert warning.id == "django_housekeeping.W002"
    assert "testapp.Thread.created_at has no index" in warning.msg
    assert "Meta.indexes" in (warning.hint or "")


def test_an_index_that_starts_with_the_field_is_an_index() -> None:
    retention(Document, field="created_at", keep=30, name="documents")
    with pytest.MonkeyPatch.context() as patch:
        from django.db import models

        patch.setattr(
            Document._meta, "indexes", [models.Index(fields=["-created_at", "title"], name="x")]
        )
        assert messages() == []
        patch.setattr(
            Document._meta, "indexes", [models.Index(fields=["title", "created_at"], name="y")]
        )
        assert [m.id for m in messages()] == ["django_housekeeping.W002"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"keep": 0}, "['keep'] must be a positive timedelta or a positive number of days, got 0"),
        ({"keep": "30"}, "got '30'"),
        ({"keep": timedelta(0)}, "got datetime.timedelta(0)"),
        ({"keep_for": [30]}, "['keep_for'] must be a dict of keep_by value -> window, got list"),
        ({"keep_for": {"pro": -1}}, "['keep_for'] ['pro'] must be a positive timedelta"),
    ],
)
def test_e012_invalid_window_override(override: dict[str, Any], message: str) -> None:
    retention(Chat, field="updated_at", keep=30, keep_by="plan", name="chats")
    (error,) = messages({"TASKS": {"chats": override}})
    assert error.id == "django_housekeeping.E012"
    assert message in error.msg


def test_e012_window_for_a_task_that_is_no_policy() -> None:
    errors = messages({"TASKS": {"threads": {"keep": 30, "keep_for": {"pro": 3}}}})
    assert [error.id for error in errors] == ["django_housekeeping.E012"] * 2
    assert "['keep'] is set, but 'threads' is no retention policy." in errors[0].msg


def test_e012_keep_for_for_a_policy_without_keep_by() -> None:
    retention(Chat, field="updated_at", keep=30, name="chats")
    (error,) = messages({"TASKS": {"chats": {"keep_for": {"pro": 3}}}})
    assert error.id == "django_housekeeping.E012"
    assert "the policy 'chats' has no keep_by" in error.msg


def test_an_invalid_override_is_ignored_by_the_run() -> None:
    policy = retention(Chat, field="updated_at", keep=30, name="chats").func
    windows = policy.windows({"keep": -5, "keep_for": {"pro": 3}})  # type: ignore[union-attr]
    assert [(window.keep, window.source) for window in windows] == [(timedelta(days=30), "code")]


@pytest.mark.parametrize(
    ("keep_by", "message"),
    [
        ("tier", "keep_by='tier' names no field 'tier' of testapp.Chat."),
        ("account__tier", "names no field 'tier' of testapp.Account."),
        ("lines__text", "goes through testapp.Chat.lines, which has many values per row."),
        ("plan__name", "goes on after testapp.Chat.plan, which is no relation."),
        ("account__plan__iexact", "goes on after testapp.Account.plan, which is no relation."),
    ],
)
def test_e013_keep_by_does_not_resolve(keep_by: str, message: str) -> None:
    retention(Chat, field="updated_at", keep=30, keep_by=keep_by, name="chats")
    (error,) = messages()
    assert error.id == "django_housekeeping.E013"
    assert message in error.msg


@pytest.mark.parametrize("keep_by", ["plan", "account", "account__plan", "account__id"])
def test_keep_by_paths_that_resolve(keep_by: str) -> None:
    retention(Chat, field="updated_at", keep=30, keep_by=keep_by, name="chats")
    assert messages() == []
