"""``housekeeping history --task NAME`` treats an unknown name as ``run`` does: one line naming
the valid tasks and exit status 2, not an empty history."""

from __future__ import annotations

import pytest

from django_housekeeping.models import TaskRun
from tests.helpers import housekeeping, make_run

pytestmark = pytest.mark.django_db

VALID = (
    "valid tasks: all, boom, dormant, nightly, record, tests.testapp.housekeeping.no_context, "
    "threads, unserializable."
)


def test_a_mistyped_task_is_one_line_naming_the_valid_tasks_and_exit_2() -> None:
    make_run("threads")

    outcome = housekeeping("history", "--task", "thread")

    assert outcome.returncode == 2
    assert outcome.message == f"Unknown task 'thread'; {VALID}"
    assert outcome.out == ""


@pytest.mark.parametrize("name", ["", "\x00", "threads\x00"])
def test_an_empty_name_or_one_with_a_nul_is_unknown_on_every_database(name: str) -> None:
    outcome = housekeeping("history", "--task", name)

    assert outcome.returncode == 2
    assert outcome.message.startswith("Unknown task ")


def test_a_registered_task_without_runs_has_an_empty_history() -> None:
    outcome = housekeeping("history", "--task", "record")

    assert outcome.returncode == 0
    assert outcome.out == "No runs recorded yet.\n"


def test_a_removed_task_with_runs_still_has_its_history() -> None:
    make_run("gone_since", status=TaskRun.Status.SUCCEEDED)

    outcome = housekeeping("history", "--task", "gone_since")

    assert outcome.returncode == 0
    assert [row["Task"] for row in outcome.table()] == ["gone_since"]
