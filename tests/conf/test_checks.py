"""System checks: every ID has a test that triggers it (see docs/checks.md)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import pytest
from django.core.checks import CheckMessage, Error, Warning
from django.core.checks.registry import registry as check_registry
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from django_housekeeping import every, group, housekeeping_task
from django_housekeeping.conf.checks import (
    check_groups,
    check_heartbeats,
    check_purge_archive,
    check_settings,
    check_url_shadowing,
)


def ids(messages: Sequence[CheckMessage]) -> list[str | None]:
    return [message.id for message in messages]


def settings_errors(housekeeping: Any) -> list[CheckMessage]:
    with override_settings(HOUSEKEEPING=housekeeping):
        return check_settings()


def test_checks_are_registered() -> None:
    registered = check_registry.get_checks()
    assert check_settings in registered
    assert check_groups in registered


# --- the happy path ---


def test_no_setting_at_all_is_fine() -> None:
    from django.conf import settings

    with override_settings():
        del settings.HOUSEKEEPING
        assert check_settings() == []


def test_a_complete_valid_setting_is_fine() -> None:
    housekeeping = {
        "AUTOSTART": False,
        "EXECUTOR": "django_tasks",
        "TASKS": {
            "threads": {"schedule": "30 3 * * *", "options": {"days": 60}, "enabled": True},
            "record": {"schedule": None},
            "boom": {"schedule": every(hours=1), "enabled": False},
            "nightly": {"schedule": "0 1 * * *"},
            "dormant": {},
        },
        "HISTORY_DAYS": 30,
        "DEFAULT_TIMEOUT": 0.5,
    }
    assert settings_errors(housekeeping) == []


def test_the_fixture_groups_are_fine() -> None:
    assert check_groups() == []


# --- E001: an invalid schedule override ---


@pytest.mark.parametrize("schedule", ["61 * * * *", "0 3 * *", "0 3 * * 8", 42, {"hours": 1}])
def test_e001_invalid_schedule_override(schedule: object) -> None:
    errors = settings_errors({"TASKS": {"threads": {"schedule": schedule}}})
    assert ids(errors) == ["django_housekeeping.E001"]
    assert errors[0].msg.startswith("HOUSEKEEPING['TASKS']['threads']['schedule'] is invalid: ")
    assert isinstance(errors[0], Error)


# --- E002: an override for a task that is not registered ---


@pytest.mark.parametrize("name", ["thread", "all"])
def test_e002_override_for_an_unknown_task(name: str) -> None:
    errors = settings_errors({"TASKS": {name: {"enabled": False}}})
    assert ids(errors) == ["django_housekeeping.E002"]
    assert errors[0].msg == f"HOUSEKEEPING['TASKS'][{name!r}] names a task that is not registered."
    assert errors[0].hint is not None
    assert "threads" in errors[0].hint
    assert "nightly" in errors[0].hint


# --- E003: an unknown key in HOUSEKEEPING ---


def test_e003_unknown_key() -> None:
    errors = settings_errors({"HISTORY_DAY": 30, "HISTORY_DAYS": 30})
    assert ids(errors) == ["django_housekeeping.E003"]
    assert errors[0].msg == "HOUSEKEEPING has an unknown key 'HISTORY_DAY'."
    assert errors[0].hint == (
        "Valid keys: ALERT_MAIL_ADMINS, API_PERMISSION_CLASSES, AUTOSTART, DEFAULT_TIMEOUT, "
        "ERASABLE_MODELS, "
        "EXECUTOR, EXECUTOR_BACKEND, EXECUTOR_QUEUE, HEARTBEAT_INTERVAL, HEARTBEAT_TIMEOUT, "
        "HISTORY_DAYS, LEASE_TTL, MAX_REPLICA_LAG, MAX_WAIT, METRICS_TOKEN, MISFIRE_GRACE, "
        "PING_TIMEOUT, PING_URL, PURGE_ARCHIVE, PURGE_ARCHIVE_DIR, PURGE_BATCH_SIZE, "
        "PURGE_PARTITIONS, PURGE_PAUSE, QUEUE_TIMEOUT, REPLICAS, STATISTICS_TASK, TASKS, "
        "TRIGGER_THROTTLE_RATE."
    )


def test_e003_keys_of_any_type_are_reported() -> None:
    errors = settings_errors({1: "one", "OTHER": 2})
    assert ids(errors) == ["django_housekeeping.E003", "django_housekeeping.E003"]
    assert sorted(error.msg for error in errors) == [
        "HOUSEKEEPING has an unknown key 'OTHER'.",
        "HOUSEKEEPING has an unknown key 1.",
    ]


# --- E004: a malformed task override ---


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("daily", "HOUSEKEEPING['TASKS']['threads'] must be a dict, got str."),
        ({"days": 3}, "HOUSEKEEPING['TASKS']['threads'] has an unknown key 'days'."),
        ({"options": 30}, "HOUSEKEEPING['TASKS']['threads']['options'] must be a dict."),
        ({"enabled": "no"}, "HOUSEKEEPING['TASKS']['threads']['enabled'] must be True or False."),
    ],
)
def test_e004_malformed_override(override: object, message: str) -> None:
    errors = settings_errors({"TASKS": {"threads": override}})
    assert ids(errors) == ["django_housekeeping.E004"]
    assert errors[0].msg == message


def test_e004_unknown_override_key_hints_the_valid_ones() -> None:
    (error,) = settings_errors({"TASKS": {"threads": {"option": {}}}})
    assert error.id == "django_housekeeping.E004"
    assert error.hint == (
        "Valid keys: coalesce, enabled, expect_success_every, keep, keep_for, misfire_grace, "
        "options, ping_url, purge, retries, schedule, sentry_monitor."
    )


def test_each_problem_in_an_override_is_reported() -> None:
    errors = settings_errors(
        {"TASKS": {"threads": {"days": 1, "enabled": 1, "schedule": "soon"}, "nope": {}}}
    )
    assert sorted(ids(errors)) == [
        "django_housekeeping.E001",
        "django_housekeeping.E002",
        "django_housekeeping.E004",
        "django_housekeeping.E004",
    ]


# --- E005: a value of the wrong type ---


@pytest.mark.parametrize("housekeeping", [None, ["AUTOSTART"], "thread"])
def test_e005_setting_not_a_dict(housekeeping: object) -> None:
    errors = settings_errors(housekeeping)
    assert ids(errors) == ["django_housekeeping.E005"]
    assert errors[0].msg == f"HOUSEKEEPING must be a dict, got {type(housekeeping).__name__}."


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("AUTOSTART", "yes", "True or False"),
        ("AUTOSTART", 1, "True or False"),
        ("EXECUTOR", "celery", "'thread' or 'django_tasks'"),
        ("TASKS", ["threads"], "a dict of task name -> overrides"),
        ("HISTORY_DAYS", 0, "a positive number of days"),
        ("HISTORY_DAYS", -1, "a positive number of days"),
        ("HISTORY_DAYS", True, "a positive number of days"),
        ("HISTORY_DAYS", "90", "a positive number of days"),
        ("DEFAULT_TIMEOUT", None, "a positive number of seconds"),
        ("PURGE_BATCH_SIZE", 0, "a positive integer or None"),
        ("PURGE_BATCH_SIZE", 10.5, "a positive integer or None"),
        ("PURGE_ARCHIVE", "yes", "True or False"),
        ("PURGE_ARCHIVE_DIR", 3, "a directory path or None"),
        ("HEARTBEAT_INTERVAL", 0, "a positive number of seconds"),
        ("HEARTBEAT_TIMEOUT", "60", "a positive number of seconds"),
        ("MAX_WAIT", -1, "a positive number of seconds"),
        (
            "TRIGGER_THROTTLE_RATE",
            "30 per minute",
            'a rate such as "30/minute" (per second, minute, hour or day), or None',
        ),
        (
            "TRIGGER_THROTTLE_RATE",
            "0/minute",
            'a rate such as "30/minute" (per second, minute, hour or day), or None',
        ),
    ],
)
def test_e005_value_of_the_wrong_type(key: str, value: object, expected: str) -> None:
    errors = settings_errors({key: value})
    assert ids(errors) == ["django_housekeeping.E005"]
    assert errors[0].msg == f"HOUSEKEEPING[{key!r}] must be {expected}, got {value!r}."


# --- E006: a group naming an unknown task or containing itself ---


@pytest.mark.usefixtures("temporary_tasks")
def test_e006_group_names_an_unknown_task() -> None:
    group("hk_test.daily", ["threads", "thread"])
    errors = check_groups()
    assert ids(errors) == ["django_housekeeping.E006"]
    assert errors[0].msg == "Group 'hk_test.daily' names 'thread', which is not a registered task."
    assert errors[0].hint is not None
    assert errors[0].hint.startswith("Defined at group 'hk_test.daily' (")
    assert "test_checks.py:" in errors[0].hint


@pytest.mark.usefixtures("temporary_tasks")
def test_e006_group_names_all() -> None:
    group("hk_test.everything", ["all"])
    errors = check_groups()
    assert ids(errors) == ["django_housekeeping.E006"]
    assert "names 'all'" in errors[0].msg


@pytest.mark.usefixtures("temporary_tasks")
def test_e006_group_contains_itself() -> None:
    group("hk_test.loop", ["threads", "hk_test.loop"])
    errors = check_groups()
    assert ids(errors) == ["django_housekeeping.E006"]
    assert errors[0].msg == "Group 'hk_test.loop' contains itself."


@pytest.mark.usefixtures("temporary_tasks")
def test_e006_groups_containing_each_other() -> None:
    group("hk_test.a", ["hk_test.b"])
    group("hk_test.b", ["nightly", "hk_test.a"])
    errors = check_groups()
    assert sorted(error.msg for error in errors) == [
        "Group 'hk_test.a' contains itself.",
        "Group 'hk_test.b' contains itself.",
    ]
    assert set(ids(errors)) == {"django_housekeeping.E006"}


@pytest.mark.usefixtures("temporary_tasks")
def test_groups_of_groups_and_disabled_tasks_are_fine() -> None:
    @housekeeping_task(name="hk_test.off", enabled=False)
    def off() -> None: ...

    group("hk_test.outer", ["nightly", "hk_test.off", "dormant"])
    assert check_groups() == []


# --- E008: a malformed purge override ---


@pytest.mark.parametrize(
    ("purge", "message"),
    [
        ([1], "must be a dict, got list"),
        (
            {"max_row": 10},
            "has an unknown key 'max_row' (valid keys: archive, batch_size, max_fraction, "
            "max_replica_lag, max_rows, max_seconds, partitions, pause)",
        ),
        ({"max_rows": 0}, "['max_rows'] must be a positive integer or None, got 0"),
        ({"max_fraction": 2}, "['max_fraction'] must be a number above 0 and at most 1 or None"),
        ({"max_seconds": -5}, "['max_seconds'] must be a positive number of seconds or None"),
        ({"batch_size": "100"}, "['batch_size'] must be a positive integer or None, got '100'"),
        ({"archive": 1}, "['archive'] must be True or False, got 1"),
    ],
)
def test_e008_malformed_purge_override(purge: object, message: str) -> None:
    errors = settings_errors({"TASKS": {"threads": {"purge": purge}}})
    assert ids(errors) == ["django_housekeeping.E008"]
    assert errors[0].msg.startswith(f"HOUSEKEEPING['TASKS']['threads']['purge'] {message}")


def test_a_valid_purge_override_is_fine() -> None:
    purge = {
        "archive": False,
        "batch_size": 500,
        "max_fraction": 0.25,
        "max_rows": 100_000,
        "max_seconds": 600,
    }
    assert settings_errors({"TASKS": {"threads": {"purge": purge}}}) == []
    assert settings_errors({"TASKS": {"threads": {"purge": {"max_rows": None}}}}) == []


# --- E010: a heartbeat timeout that is not longer than the interval ---


@pytest.mark.parametrize(
    ("housekeeping", "message"),
    [
        (
            {"HEARTBEAT_INTERVAL": 30, "HEARTBEAT_TIMEOUT": 30},
            "HOUSEKEEPING['HEARTBEAT_TIMEOUT'] (30 s) must be longer than HEARTBEAT_INTERVAL "
            "(30 s): live runs would be marked interrupted.",
        ),
        (
            {"HEARTBEAT_TIMEOUT": 5},
            "HOUSEKEEPING['HEARTBEAT_TIMEOUT'] (5 s) must be longer than HEARTBEAT_INTERVAL "
            "(10 s): live runs would be marked interrupted.",
        ),
    ],
)
def test_e010_heartbeat_timeout_not_longer_than_the_interval(
    housekeeping: dict[str, Any], message: str
) -> None:
    with override_settings(HOUSEKEEPING=housekeeping):
        errors = check_heartbeats()
    assert ids(errors) == ["django_housekeeping.E010"]
    assert errors[0].msg == message


@pytest.mark.parametrize(
    "housekeeping",
    [{}, {"HEARTBEAT_INTERVAL": 0.5, "HEARTBEAT_TIMEOUT": 3}, {"HEARTBEAT_TIMEOUT": "x"}],
)
def test_heartbeat_settings_that_e010_accepts(housekeeping: dict[str, Any]) -> None:
    with override_settings(HOUSEKEEPING=housekeeping):
        assert check_heartbeats() == []
    assert check_heartbeats in check_registry.get_checks()


@pytest.mark.parametrize("rate", ["30/minute", "5/10s", "100/hour", "1000/day", "2/second", None])
def test_throttle_rates_that_are_fine(rate: str | None) -> None:
    assert settings_errors({"TRIGGER_THROTTLE_RATE": rate}) == []


# --- E009: archiving without an archive directory ---


def archive_errors(housekeeping: Any) -> list[CheckMessage]:
    with override_settings(HOUSEKEEPING=housekeeping):
        return check_purge_archive()


def test_e009_archiving_every_purge_without_a_directory() -> None:
    errors = archive_errors({"PURGE_ARCHIVE": True})
    assert ids(errors) == ["django_housekeeping.E009"]
    assert errors[0].msg == (
        "every purge archives purged rows, but HOUSEKEEPING['PURGE_ARCHIVE_DIR'] is not set."
    )


@pytest.mark.usefixtures("temporary_tasks")
def test_e009_a_task_archiving_without_a_directory() -> None:
    @housekeeping_task(name="hk_test.kept", purge={"archive": True})
    def kept() -> None: ...

    errors = archive_errors({"TASKS": {"threads": {"purge": {"archive": True}}}})
    assert ids(errors) == ["django_housekeeping.E009"]
    assert errors[0].msg.startswith("task 'hk_test.kept', task 'threads' archives purged rows")


def test_archiving_with_a_directory_or_not_at_all_is_fine(tmp_path: Any) -> None:
    assert archive_errors({"PURGE_ARCHIVE": True, "PURGE_ARCHIVE_DIR": str(tmp_path)}) == []
    assert archive_errors({"PURGE_ARCHIVE": False}) == []
    assert archive_errors({"TASKS": {"threads": {"purge": "nonsense"}}}) == []


def test_the_archive_check_is_registered() -> None:
    assert check_purge_archive in check_registry.get_checks()


# --- through manage.py check ---


@pytest.mark.usefixtures("temporary_tasks")
def test_manage_py_check_fails_with_the_ids() -> None:
    group("hk_test.broken", ["missing"])
    with (
        override_settings(HOUSEKEEPING={"BOGUS": True}),
        pytest.raises(SystemCheckError) as excinfo,
    ):
        call_command("check")
    message = str(excinfo.value)
    assert "django_housekeeping.E003" in message
    assert "django_housekeeping.E006" in message
    assert "'BOGUS'" in message


# --- W001: a named URL of the library shadowed by an earlier pattern ---


def test_w001_a_shadowed_url_is_named_with_the_view_that_wins() -> None:
    with override_settings(ROOT_URLCONF="tests.conf.shadowed_urls"):
        warnings = check_url_shadowing()

    assert ids(warnings) == ["django_housekeeping.W001"]
    assert isinstance(warnings[0], Warning)
    assert warnings[0].msg == (
        "The URL /api/admin/scheduler/status ('django_housekeeping_api:status') resolves to "
        "tests.conf.shadowed_urls.old_status, not to django_housekeeping's view: an earlier "
        "pattern of tests.conf.shadowed_urls shadows it."
    )
    assert warnings[0].hint == (
        "Move the include('django_housekeeping.api.urls') before that pattern, or remove the "
        "old pattern."
    )


def test_w001_urls_with_arguments_are_checked_too() -> None:
    with override_settings(ROOT_URLCONF="tests.conf.shadowed_runs_urls"):
        warnings = check_url_shadowing()

    assert [warning.msg.split(" (")[0] for warning in warnings] == [
        "The URL /scheduler-admin/runs/1/",
        "The URL /api/admin/scheduler/runs/1",
    ]


def test_w001_not_for_a_project_that_mounts_the_library_first_or_not_at_all() -> None:
    assert check_url_shadowing() == []  # tests.urls mounts both, nothing before them
    with override_settings(ROOT_URLCONF="tests.conf.unmounted_urls"):
        assert check_url_shadowing() == []


def test_w001_never_crashes_on_a_broken_urlconf() -> None:
    with override_settings(ROOT_URLCONF="tests.conf.no_such_urls"):
        assert check_url_shadowing() == []


def test_w001_through_manage_py_check() -> None:
    out = io.StringIO()
    with override_settings(ROOT_URLCONF="tests.conf.shadowed_urls"):
        call_command("check", stdout=out, stderr=out)  # a warning does not fail the check
    assert "django_housekeeping.W001" in out.getvalue()
    assert check_url_shadowing in check_registry.get_checks()
