"""``GET /api/admin/scheduler/``: the API's root lists its endpoints (DRF style), as JSON, with
the permission of every other read; the OpenAPI description states the permission model."""

from __future__ import annotations

from typing import Any

import pytest

from django_housekeeping.api.schema import DESCRIPTION
from tests.helpers import API, SHORT_TEST_KEY, client_for, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("api_settings"), SHORT_TEST_KEY]

BASE = "http://testserver" + API


def test_the_root_lists_every_endpoint() -> None:
    viewer = client_for(make_user("viewer", staff=False, permissions=["view_taskrun"]))

    response = viewer.get(API)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "status": BASE + "status",
        "trigger": BASE + "trigger",
        "statistics": BASE + "statistics",
        "runs": BASE + "runs",
        "tasks": BASE + "tasks",
        "policies": BASE + "policies",
        "erasures": BASE + "erasures",
        "schema": BASE + "schema",
        "run": BASE + "runs/{id}",
        "task_pause": BASE + "tasks/{name}/pause",
        "task_resume": BASE + "tasks/{name}/resume",
    }
    for key, url in response.json().items():
        if "{" not in url and key not in {"trigger"}:
            assert viewer.get(url.removeprefix("http://testserver")).status_code in {200, 403}


def test_the_root_needs_what_every_read_needs() -> None:
    assert client_for(None).get(API).status_code == 401
    staff_only = client_for(make_user("staff", staff=True))
    response = staff_only.get(API)
    assert response.status_code == 403
    assert "django_housekeeping.view_taskrun" in response.json()["detail"]


def test_the_root_is_in_the_schema(admin_user: Any) -> None:
    schema = client_for(admin_user).get(API + "schema").json()
    assert "get" in schema["paths"]["/" + API.strip("/") + "/"]


def test_the_schema_describes_the_housekeeping_permissions_not_is_admin_user() -> None:
    assert "IsAdminUser" not in DESCRIPTION
    assert "`is_staff` alone grants nothing" in DESCRIPTION
    assert "`view_taskrun`" in DESCRIPTION
