from datetime import timedelta
from typing import Any

import pytest

from django_housekeeping.models import TaskRun
from django_housekeeping.running.history import prune_history
from tests.helpers import make_run

pytestmark = pytest.mark.django_db


def run_of(days_ago: float, status: str = TaskRun.Status.SUCCEEDED, **fields: Any) -> TaskRun:
    """A run of "threads" started ``days_ago`` days ago."""
    return make_run(
        "threads",
        age=timedelta(days=days_ago),
        status=status,
        trigger=TaskRun.Trigger.CLI,
        **fields,
    )


def test_runs_older_than_history_days_are_pruned_with_their_member_runs(settings):
    settings.HOUSEKEEPING = {"HISTORY_DAYS": 10}
    old_group = run_of(11)
    run_of(11, parent=old_group)
    kept = [run_of(9), run_of(0)]

    assert prune_history() == 2

    assert list(TaskRun.objects.order_by("pk")) == kept


def test_old_runs_still_marked_running_are_kept():
    crashed = run_of(400, status=TaskRun.Status.RUNNING)

    assert prune_history() == 0
    assert TaskRun.objects.get() == crashed


def test_the_default_keeps_ninety_days():
    run_of(91)
    survivor = run_of(89)

    assert prune_history() == 1
    assert TaskRun.objects.get() == survivor
