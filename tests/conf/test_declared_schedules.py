"""E016: a schedule declared in code that cannot be read is a system-check error naming the task
and the value, not an exception while the app's ``housekeeping.py`` is imported."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.apps import AppConfig, apps

from django_housekeeping import group, housekeeping_task, registry
from django_housekeeping.conf.checks import check_declared_schedules
from django_housekeeping.tasks.registry import autodiscover, discovery_errors

pytestmark = pytest.mark.usefixtures("temporary_tasks")


def test_valid_declared_schedules_are_fine() -> None:
    assert check_declared_schedules() == []


def test_e016_a_bad_cron_string_in_the_decorator_names_the_task_and_the_value() -> None:
    @housekeeping_task(name="hk_test.weekly", schedule="0 3 * * sunday")
    def weekly() -> None: ...

    errors = check_declared_schedules()

    assert [error.id for error in errors] == ["django_housekeeping.E016"]
    assert errors[0].msg == (
        "Task 'hk_test.weekly' declares an invalid schedule: schedule='0 3 * * sunday': invalid "
        "cron expression '0 3 * * sunday': invalid weekday name 'sunday'."
    )
    assert errors[0].hint is not None
    assert "test_declared_schedules.py:" in errors[0].hint


def test_e016_a_group_with_a_bad_schedule() -> None:
    group("hk_test.daily", ["threads"], schedule="daily")

    errors = check_declared_schedules()

    assert [error.id for error in errors] == ["django_housekeeping.E016"]
    assert "'hk_test.daily'" in errors[0].msg
    assert "schedule='daily'" in errors[0].msg


@pytest.fixture
def app_configs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[AppConfig]]:
    monkeypatch.syspath_prepend(str(tmp_path))
    configs: list[AppConfig] = []
    monkeypatch.setattr(apps, "get_app_configs", lambda: list(configs))
    yield configs
    discovery_errors.clear()
    for name in list(sys.modules):
        if name.startswith("hk_cron_app"):
            del sys.modules[name]


EAGER_BAD_CRON = """
from django_housekeeping import cron, housekeeping_task


@housekeeping_task(name="hk_cron_app.fine")
def fine():
    pass


@housekeeping_task(name="hk_cron_app.weekly", schedule=cron("0 3 * * sunday"))
def weekly():
    pass
"""


def test_e016_a_cron_that_raises_in_a_module_is_reported_and_the_module_rolled_back(
    app_configs: list[AppConfig], tmp_path: Path
) -> None:
    package = tmp_path / "hk_cron_app"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "housekeeping.py").write_text(EAGER_BAD_CRON)
    app_configs.append(AppConfig.create("hk_cron_app"))

    autodiscover()  # does not raise: migrate and shell keep working

    assert "hk_cron_app.fine" not in registry
    errors = check_declared_schedules()
    assert [error.id for error in errors] == ["django_housekeeping.E016"]
    assert errors[0].msg.startswith("hk_cron_app.housekeeping declares an invalid schedule: ")
    assert f"{package / 'housekeeping.py'}:10: " in errors[0].msg
    assert "invalid weekday name 'sunday'" in errors[0].msg

    (package / "housekeeping.py").write_text(EAGER_BAD_CRON.replace("sunday", "sun"))
    autodiscover()

    assert "hk_cron_app.weekly" in registry
    assert check_declared_schedules() == []
