"""``housekeeping check --config`` (a release-phase gate) and ``--live`` (a liveness probe), and
``housekeeping rebuild``."""

from __future__ import annotations

import pytest
from django.test import override_settings

from django_housekeeping.models import DeletionDay, RunDay, TaskRun
from django_housekeeping.monitoring import rollup
from tests.helpers import housekeeping, make_lease, make_run

# Django 6.1's checks ask the database what it supports.
pytestmark = pytest.mark.django_db


def test_the_configuration_check_passes_with_no_scheduler_and_a_failed_run() -> None:
    make_run("boom", status=TaskRun.Status.FAILED, error="RuntimeError: no")

    outcome = housekeeping("check", "--config")

    assert outcome.returncode == 0
    assert outcome.out == "The housekeeping configuration is valid.\n"
    assert housekeeping("check", "--config", "--json").json() == {"status": "ok", "checks": []}
    # The whole check (the default, as in 0.1) still says both.
    assert housekeeping("check").message == "housekeeping is unhealthy: 2 problems"


@override_settings(HOUSEKEEPING={"TASKS": {"nope": {}}})
def test_the_configuration_check_exits_1_on_a_broken_setting() -> None:
    make_lease()

    outcome = housekeeping("check", "--config")

    assert outcome.returncode == 1
    assert outcome.message == "the housekeeping configuration is invalid: 1 error"
    assert outcome.out.startswith("django_housekeeping.E002: HOUSEKEEPING['TASKS']['nope']")
    report = housekeeping("check", "--config", "--json")
    assert (report.returncode, report.json()["status"]) == (1, "invalid")
    assert [check["id"] for check in report.json()["checks"]] == ["django_housekeeping.E002"]


def test_the_liveness_check_exits_1_with_no_scheduler_and_0_with_one() -> None:
    make_run("boom", status=TaskRun.Status.FAILED, error="RuntimeError: no")  # not liveness

    dead = housekeeping("check", "--live")
    assert dead.returncode == 1
    assert dead.message == "housekeeping is not live: 1 problem"
    assert dead.out.startswith("no-scheduler: No scheduler is running")

    make_lease()
    live = housekeeping("check", "--live")
    assert (live.returncode, live.out) == (0, "A scheduler is running.\n")
    assert housekeeping("check", "--live", "--json").json()["status"] == "ok"


@override_settings(HOUSEKEEPING={"TASKS": {"nope": {}}})
def test_the_liveness_check_does_not_judge_the_configuration() -> None:
    make_lease()
    assert housekeeping("check", "--live").returncode == 0


def test_config_and_live_are_exclusive() -> None:
    outcome = housekeeping("check", "--config", "--live")
    assert outcome.returncode != 0
    assert "not allowed with argument" in outcome.message


def test_rebuild_makes_the_rollup_the_historys_after_a_hand_edit() -> None:
    kept = make_run("threads", result={"deleted": {"testapp.Thread": 4}, "total": 4})
    gone = make_run("threads", result={"deleted": {"testapp.Thread": 6}, "total": 6})
    rollup.record(kept)
    rollup.record(gone)
    gone.delete()  # edited by hand
    TaskRun.objects.filter(pk=kept.pk).update(status=TaskRun.Status.FAILED)

    outcome = housekeeping("rebuild")

    assert outcome.returncode == 0
    assert "Rebuilt the daily rollup" in outcome.out
    assert list(RunDay.objects.values_list("task_name", "status", "runs", "last_finished_at")) == [
        ("threads", "failed", 1, kept.finished_at)
    ]
    assert list(DeletionDay.objects.values_list("model", "rows")) == [("testapp.Thread", 4)]
    assert housekeeping("rebuild", "--json").json() == {"rebuilt": ["daily rollup"]}
