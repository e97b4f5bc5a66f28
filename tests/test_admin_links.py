"""The admin's index lists what people work with (not the metrics' internal counters), its
numbers read as numbers, and the admin and the dashboard link to each other."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from django_housekeeping.models import DeletionTotal, RunTotal
from tests.helpers import DASHBOARD

pytestmark = pytest.mark.django_db


def test_the_index_leaves_out_the_internal_tables(admin_client: Client) -> None:
    index = admin_client.get(reverse("admin:index")).content.decode()
    app = admin_client.get(
        reverse("admin:app_list", kwargs={"app_label": "django_housekeeping"})
    ).content.decode()

    for page in (index, app):
        assert "Task runs" in page
        assert "Run totals" not in page
        assert "Deletion totals" not in page
    # Still there for whoever has their URL (docs/admin.md gives it).
    assert admin_client.get("/admin/django_housekeeping/runtotal/").status_code == 200
    assert admin_client.get("/admin/django_housekeeping/deletiontotal/").status_code == 200


def test_run_totals_show_seconds_rounded(admin_client: Client) -> None:
    RunTotal.objects.create(task_name="boom", status="failed", runs=1, seconds=0.012471999999999999)
    DeletionTotal.objects.create(task_name="threads", model="testapp.Thread", rows=7)

    page = admin_client.get("/admin/django_housekeeping/runtotal/").content.decode()

    assert "0.012471999999999999" not in page
    assert '<td class="field-seconds_display">0.012</td>' in page


def test_the_admin_links_the_dashboard_and_back(admin_client: Client) -> None:
    history = admin_client.get(reverse("admin:django_housekeeping_taskrun_changelist"))
    tasks = admin_client.get(reverse("admin:django_housekeeping_tasks"))
    dashboard = admin_client.get(DASHBOARD)

    assert f'<a href="{DASHBOARD}">Dashboard</a>' in history.content.decode()
    assert f'<a href="{DASHBOARD}">Dashboard</a>' in tasks.content.decode()
    assert '<a href="/admin/django_housekeeping/">Admin</a>' in dashboard.content.decode()
