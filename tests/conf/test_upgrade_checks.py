"""``W003``: a site upgraded from 0.1 whose statistics came from its ``stats`` task."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from django_housekeeping import housekeeping_task
from django_housekeeping.conf.checks import check_statistics_task
from tests.helpers import housekeeping


@pytest.fixture
def stats_task(temporary_tasks: None) -> None:
    @housekeeping_task(name="stats")
    def stats() -> dict[str, Any]:
        return {"total_users": 0}


@pytest.mark.usefixtures("stats_task")
def test_a_stats_task_without_statistics_task_warns_with_the_fix() -> None:
    (warning,) = check_statistics_task()
    assert warning.id == "django_housekeeping.W003"
    assert not warning.is_serious()
    assert "'stats'" in warning.msg
    assert 'HOUSEKEEPING["STATISTICS_TASK"]' in warning.msg
    assert warning.hint.startswith('Add "STATISTICS_TASK": "stats" to HOUSEKEEPING')


@pytest.mark.usefixtures("stats_task")
@pytest.mark.parametrize("value", ["stats", None])
def test_setting_statistics_task_silences_it(value: str | None) -> None:
    with override_settings(HOUSEKEEPING={"STATISTICS_TASK": value}):
        assert check_statistics_task() == []


def test_no_stats_task_no_warning() -> None:
    assert check_statistics_task() == []


@pytest.mark.django_db  # Django 6.1's checks ask the database what it supports
@pytest.mark.usefixtures("stats_task")
def test_the_configuration_check_prints_it_and_passes() -> None:
    outcome = housekeeping("check", "--config")
    assert outcome.returncode == 0
    assert outcome.out.startswith("django_housekeeping.W003: A task named 'stats' exists")
    assert '    HINT: Add "STATISTICS_TASK": "stats" to HOUSEKEEPING' in outcome.out
