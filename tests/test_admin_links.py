"""The admin's index lists what people work with (the retired run totals are not in the admin),
and the admin and the dashboard link to each other."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.helpers import DASHBOARD

pytestmark = pytest.mark.django_db


def test_the_retired_totals_are_not_in_the_admin(admin_client: Client) -> None:
    """``RunTotal`` and ``DeletionTotal`` are no longer written (the daily rollup is the one
    aggregate store): their stale numbers are shown nowhere."""
    index = admin_client.get(reverse("admin:index")).content.decode()
    app = admin_client.get(
        reverse("admin:app_list", kwargs={"app_label": "django_housekeeping"})
    ).content.decode()

    for page in (index, app):
        assert "Task runs" in page
        assert "Run totals" not in page
        assert "Deletion totals" not in page
    assert admin_client.get("/admin/django_housekeeping/runtotal/").status_code == 404
    assert admin_client.get("/admin/django_housekeeping/deletiontotal/").status_code == 404


def test_the_admin_links_the_dashboard_and_back(admin_client: Client) -> None:
    history = admin_client.get(reverse("admin:django_housekeeping_taskrun_changelist"))
    tasks = admin_client.get(reverse("admin:django_housekeeping_tasks"))
    dashboard = admin_client.get(DASHBOARD)

    assert f'<a href="{DASHBOARD}">Dashboard</a>' in history.content.decode()
    assert f'<a href="{DASHBOARD}">Dashboard</a>' in tasks.content.decode()
    assert '<a href="/admin/django_housekeeping/">Admin</a>' in dashboard.content.decode()
