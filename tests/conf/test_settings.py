"""The settings table and the lazy settings object ``housekeeping_settings`` typed from it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.signals import setting_changed
from django.test import override_settings

from django_housekeeping.conf.checks import check_settings
from django_housekeeping.conf.settings import (
    DEFAULTS,
    SETTINGS,
    HousekeepingSettings,
    Setting,
    housekeeping_settings,
)
from django_housekeeping.tasks.options import OVERRIDES
from tests.helpers import check_generated_docs

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_apply_without_the_setting() -> None:
    with override_settings():
        del settings.HOUSEKEEPING
        assert not hasattr(settings, "HOUSEKEEPING")
        assert housekeeping_settings.AUTOSTART is True
        assert housekeeping_settings.EXECUTOR == "thread"
        assert housekeeping_settings.TASKS == {}
        assert housekeeping_settings.HISTORY_DAYS == 90
        assert housekeeping_settings.DEFAULT_TIMEOUT == 3600


@override_settings(HOUSEKEEPING={})
def test_every_default_is_readable_as_an_attribute() -> None:
    assert {key: getattr(housekeeping_settings, key) for key in DEFAULTS} == DEFAULTS


def test_values_are_read_when_accessed_so_override_settings_works() -> None:
    with override_settings(HOUSEKEEPING={"HISTORY_DAYS": 7, "EXECUTOR": "django_tasks"}):
        assert housekeeping_settings.HISTORY_DAYS == 7
        assert housekeeping_settings.EXECUTOR == "django_tasks"
        assert housekeeping_settings.AUTOSTART is True  # a key not given keeps its default
        with override_settings(HOUSEKEEPING={"HISTORY_DAYS": 3}):
            assert housekeeping_settings.HISTORY_DAYS == 3
            assert housekeeping_settings.EXECUTOR == "thread"
        assert housekeeping_settings.HISTORY_DAYS == 7


@override_settings(HOUSEKEEPING=None)
def test_a_setting_that_is_not_a_dict_reads_as_the_defaults() -> None:
    # The system check (django_housekeeping.E005) reports it; reading must not crash.
    assert housekeeping_settings.user_settings == {}
    assert housekeeping_settings.HISTORY_DAYS == 90
    assert housekeeping_settings.task_override("threads") == {}


def test_unknown_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="HOUSEKEEPING has no setting 'HISTORY_DAY'"):
        housekeeping_settings.HISTORY_DAY  # noqa: B018
    assert not hasattr(housekeeping_settings, "BOGUS")
    assert getattr(housekeeping_settings, "BOGUS", "fallback") == "fallback"


@override_settings(HOUSEKEEPING={"BOGUS": 1})
def test_unknown_key_in_the_setting_is_not_an_attribute() -> None:
    with pytest.raises(AttributeError):
        housekeeping_settings.BOGUS  # noqa: B018


@override_settings(
    HOUSEKEEPING={
        "TASKS": {
            "threads": {"options": {"days": 5}},
            "record": "not a dict",
            7: {"enabled": False},
        }
    }
)
def test_task_override_returns_the_task_dict_or_an_empty_one() -> None:
    assert housekeeping_settings.task_override("threads") == {"options": {"days": 5}}
    assert housekeeping_settings.task_override("boom") == {}
    assert housekeeping_settings.task_override("record") == {}  # malformed: ignored (E004)
    assert housekeeping_settings.task_override("7") == {"enabled": False}


@override_settings(HOUSEKEEPING={"TASKS": ["threads"]})
def test_task_override_with_tasks_not_a_dict_is_empty() -> None:
    assert housekeeping_settings.task_override("threads") == {}


def test_task_override_follows_override_settings() -> None:
    with override_settings(HOUSEKEEPING={"TASKS": {"threads": {"enabled": False}}}):
        assert housekeeping_settings.task_override("threads") == {"enabled": False}
        with override_settings(HOUSEKEEPING={"TASKS": {"threads": {"enabled": True}}}):
            assert housekeeping_settings.task_override("threads") == {"enabled": True}
        assert housekeeping_settings.task_override("threads") == {"enabled": False}
    with override_settings(HOUSEKEEPING={}):
        assert housekeeping_settings.task_override("threads") == {}


@pytest.fixture
def cached_overrides() -> Iterator[None]:
    with override_settings(HOUSEKEEPING={"TASKS": {"threads": {"enabled": False}}}):
        housekeeping_settings.task_override("threads")
        assert "_task_overrides" in housekeeping_settings.__dict__
        yield


@pytest.mark.usefixtures("cached_overrides")
def test_setting_changed_for_housekeeping_drops_the_cache() -> None:
    setting_changed.send(sender=None, setting="HOUSEKEEPING", value={}, enter=True)
    assert "_task_overrides" not in housekeeping_settings.__dict__
    assert housekeeping_settings.task_override("threads") == {"enabled": False}


@pytest.mark.usefixtures("cached_overrides")
def test_setting_changed_for_another_setting_keeps_the_cache() -> None:
    # A made-up setting name: no receiver of Django's own reacts to it.
    setting_changed.send(sender=None, setting="HOUSEKEEPING_EXTRA", value=1, enter=True)
    assert "_task_overrides" in housekeeping_settings.__dict__


# -- the table ------------------------------------------------------------------------------------


def test_every_setting_is_declared_once_with_a_default_a_rule_and_a_doc() -> None:
    names = [item.name for item in SETTINGS]

    assert len(names) == len(set(names))
    assert set(names) == set(DEFAULTS)
    for item in SETTINGS:
        assert item.doc.endswith("."), item.name
        assert item.rule.expected, item.name
        assert item.rule(item.default), f"{item.name}'s default breaks its own rule"
        assert getattr(HousekeepingSettings, item.name) is item


@pytest.mark.parametrize("item", SETTINGS, ids=lambda item: item.name)
def test_a_value_the_rule_refuses_is_a_system_check_error_naming_it(item: Setting[Any]) -> None:
    bad = object()
    with override_settings(HOUSEKEEPING={item.name: bad}):
        errors = check_settings()

    assert [error.id for error in errors] == ["django_housekeeping.E005"]
    assert (
        errors[0].msg == f"HOUSEKEEPING[{item.name!r}] must be {item.rule.expected}, got {bad!r}."
    )


def test_every_task_override_is_declared_with_its_check_and_doc() -> None:
    assert set(OVERRIDES) == {
        "schedule",
        "options",
        "enabled",
        "misfire_grace",
        "coalesce",
        "expect_success_every",
        "retries",
        "purge",
        "keep",
        "keep_for",
        "ping_url",
        "sentry_monitor",
    }
    for name, item in OVERRIDES.items():
        assert item.name == name
        assert item.doc.endswith(".")
        assert item.problems(object()), name  # anything odd is a problem
        assert item.check_id in {1, 4, 8, 12, 19}


def test_the_settings_reference_in_the_docs_is_up_to_date() -> None:
    result = check_generated_docs("settings-docs")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "docs/configuration.md is up to date" in result.stdout
