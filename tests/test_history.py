from datetime import timedelta

import pytest
from django.utils import timezone

from django_housekeeping.history import prune_history
from django_housekeeping.models import TaskRun

pytestmark = pytest.mark.django_db


def make_run(days_ago: float, status: str = TaskRun.Status.SUCCEEDED, **fields) -> TaskRun:
    return TaskRun.objects.create(
        task_name="threads",
        trigger=TaskRun.Trigger.CLI,
        status=status,
        started_at=timezone.now() - timedelta(days=days_ago),
        **fields,
    )


def test_runs_older_than_history_days_are_pruned_with_their_member_runs(settings):
    settings.HOUSEKEEPING = {"HISTORY_DAYS": 10}
    old_group = make_run(11)
    make_run(11, parent=old_group)
    kept = [make_run(9), make_run(0)]

    assert prune_history() == 2

    assert list(TaskRun.objects.order_by("pk")) == kept


def test_old_runs_still_marked_running_are_kept():
    crashed = make_run(400, status=TaskRun.Status.RUNNING)

    assert prune_history() == 0
    assert TaskRun.objects.get() == crashed


def test_the_default_keeps_ninety_days():
    make_run(91)
    survivor = make_run(89)

    assert prune_history() == 1
    assert TaskRun.objects.get() == survivor
