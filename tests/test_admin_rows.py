"""The run history's change list rows (``{% run_result_list %}``) are the HTML Django's
``{% result_list %}`` writes, on every kind of run, with and without the actions' checkboxes,
with preserved filters; and what it does not write falls back to Django's rows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.admin.templatetags.admin_list import results
from django.test import Client
from django.urls import reverse
from django.utils import translation

from django_housekeeping.models import TaskRun
from django_housekeeping.templatetags.housekeeping_admin import fast_rows
from tests.helpers import make_run, make_user

CHANGELIST = reverse("admin:django_housekeeping_taskrun_changelist")

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(django_user_model: Any) -> list[TaskRun]:
    alice = make_user("alice <&>")
    return [
        make_run(
            "purge_<b>threads</b>",
            result={"deleted": {"testapp.Thread": 3, "testapp.Post": 12}, "total": 15},
        ),
        make_run(
            "purge_threads",
            dry_run=True,
            trigger=TaskRun.Trigger.MANUAL,
            triggered_by=alice,
            result={"deleted": {"testapp.Thread": 3}, "total": 3, "dry_run": True},
            age=timedelta(minutes=1),
        ),
        make_run(
            "purge_threads",
            status=TaskRun.Status.FAILED,
            error='Traceback …\nValueError: "quoted" <tag> & more',
            result=None,
            age=timedelta(minutes=2),
        ),
        make_run("stats", result={"total_users": 12, "ratio": 0.5}, age=timedelta(minutes=3)),
        make_run("stats", status=TaskRun.Status.RUNNING, duration=None, age=timedelta(minutes=4)),
        make_run("stats", status=TaskRun.Status.SKIPPED, result=None, age=timedelta(minutes=5)),
        make_run("weird", result=["not", "an", {"object": 1}], age=timedelta(minutes=6)),
        make_run("   ", result={"deleted": {}, "total": 0}, age=timedelta(minutes=7)),
    ]


def page_rows(client: Client, query: str = "") -> tuple[list[str], list[str] | None]:
    """Django's rows and run_result_list's, as HTML, of the change list page at ``query``."""
    response = client.get(CHANGELIST + query)
    assert response.status_code == 200
    cl = response.context["cl"]
    django_rows = ["".join(str(cell) for cell in row) for row in results(cl)]
    fast = fast_rows(cl)
    return django_rows, None if fast is None else ["".join(map(str, row)) for row in fast]


@pytest.mark.parametrize("query", ["", "?task_name=purge_threads", "?status=failed&o=-3"])
def test_the_rows_are_djangos_html(
    admin_client: Client, history: list[TaskRun], query: str
) -> None:
    django_rows, fast = page_rows(admin_client, query)
    assert django_rows, "the page lists runs"
    assert fast == django_rows


def test_the_rows_are_djangos_html_without_the_checkboxes(
    staff_client: Any, history: list[TaskRun]
) -> None:
    client, _user = staff_client("view_taskrun")  # may see, may not run: no actions
    django_rows, fast = page_rows(client)
    assert "action-checkbox" not in "".join(django_rows)
    assert fast == django_rows


def test_the_rows_are_djangos_html_in_another_language(
    admin_client: Client, history: list[TaskRun]
) -> None:
    with translation.override("de"):
        django_rows, fast = page_rows(admin_client)
    assert "auswählen" in "".join(django_rows)  # the checkbox's label, in German
    assert fast == django_rows


def test_the_page_shows_the_rows(admin_client: Client, history: list[TaskRun]) -> None:
    page = admin_client.get(CHANGELIST).content.decode()
    for row in page_rows(admin_client)[1] or []:
        assert row in page


def test_a_popup_gets_djangos_rows(admin_client: Client, history: list[TaskRun]) -> None:
    django_rows, fast = page_rows(admin_client, "?_popup=1")
    assert fast is None
    page = admin_client.get(CHANGELIST + "?_popup=1").content.decode()
    assert all(row in page for row in django_rows)
