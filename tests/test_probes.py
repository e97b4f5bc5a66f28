"""``health/``: 200 / 503 for anyone, the problems for those who may see the history; and the
django-health-check check that reports the same health."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from health_check.exceptions import ServiceUnavailable

from django_housekeeping.contrib.health_check import Housekeeping
from django_housekeeping.models import TaskRun
from tests.helpers import make_lease, make_run

pytestmark = pytest.mark.django_db

URL = "/scheduler-admin/health/"


def test_the_url_is_named() -> None:
    assert reverse("django_housekeeping:health") == URL


def test_healthy_is_200_and_tells_an_anonymous_caller_only_the_status() -> None:
    make_lease()

    response = Client().get(URL)

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_unhealthy_is_503_and_tells_an_anonymous_caller_only_the_status() -> None:
    make_run("boom", status=TaskRun.Status.FAILED, error="RuntimeError: no")

    response = Client().get(URL)

    assert response.status_code == 503
    assert response.json() == {"status": "unhealthy"}


@pytest.mark.parametrize(("perms", "details"), [((), False), (("view_taskrun",), True)])
def test_the_problems_are_for_users_who_may_see_the_history(
    staff_client: Any, perms: tuple[str, ...], details: bool
) -> None:
    run = make_run("boom", status=TaskRun.Status.FAILED, error="RuntimeError: no")
    client, _ = staff_client(*perms)

    response = client.get(URL)

    assert response.status_code == 503
    body = response.json()
    if not details:
        assert body == {"status": "unhealthy"}
        return
    assert body["status"] == "unhealthy"
    assert [(p["code"], p["task"], p["run"]) for p in body["problems"]] == [
        ("no-scheduler", None, None),
        ("failed", "boom", run.pk),
    ]
    assert body["problems"][1]["message"].endswith("failed: RuntimeError: no")


def test_head_is_allowed_and_post_is_not() -> None:
    make_lease()
    assert Client().head(URL).status_code == 200
    response = Client().post(URL)
    assert response.status_code == 405


def test_the_django_health_check_check_passes_when_healthy() -> None:
    make_lease()
    Housekeeping().run()  # raises nothing


def test_the_django_health_check_check_fails_with_the_problems() -> None:
    make_run("boom", status=TaskRun.Status.FAILED, error="RuntimeError: no")

    with pytest.raises(ServiceUnavailable) as raised:
        Housekeeping().run()

    assert "No scheduler is running" in str(raised.value)
    assert "boom: its last run" in str(raised.value)
