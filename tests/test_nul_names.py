"""A NUL character in a task name (or a run id) is an unknown name on every face — a JSON 404 or
400, an admin message, exit status 2 — never a database error: PostgreSQL refuses NUL in a text
value (``DataError``), so the control layer rejects it before any query."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from django_housekeeping.models import TaskState
from tests.helpers import API, DASHBOARD, SHORT_TEST_KEY, client_for, housekeeping

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("api_settings"),
    SHORT_TEST_KEY,
]

NUL = "\x00"


@pytest.fixture
def browser(admin_user: Any) -> Client:
    """The admin's session, with a server error answered as a 500 rather than raised."""
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    return client


@pytest.mark.parametrize("action", ["pause", "resume"])
def test_api_pause_and_resume_answer_404(admin_user: Any, action: str) -> None:
    api = client_for(admin_user)
    api.raise_request_exception = False

    response = api.post(f"{API}tasks/%00/{action}")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"].startswith("Unknown task '\\x00'; valid tasks: ")


def test_api_queries_answer_400(admin_user: Any) -> None:
    api = client_for(admin_user)
    api.raise_request_exception = False

    assert api.get(API + "runs?task=%00").status_code == 400
    assert api.get(API + "statistics?task=%00").status_code == 400
    triggered = api.post(API + "trigger", {"task": NUL}, format="json")
    assert triggered.status_code == 400
    assert "Unknown task" in triggered.json()["detail"]


def test_admin_pause_says_unknown_task(browser: Client) -> None:
    response = browser.post(
        reverse("admin:django_housekeeping_pause"), {"task": NUL, "paused": "1"}
    )

    assert response.status_code == 302
    (message,) = get_messages(response.wsgi_request)
    assert str(message).startswith("Unknown task '\\x00'")
    assert not TaskState.objects.exists()


def test_dashboard_answers_json(browser: Client) -> None:
    triggered = browser.post(
        DASHBOARD + "trigger/", {"task": f"threads{NUL}"}, content_type="application/json"
    )
    assert triggered.status_code == 400
    assert "Unknown task" in triggered.json()["detail"]
    missing = browser.get(DASHBOARD + "runs/%00/")
    assert missing.status_code == 404
    assert missing["Content-Type"] == "application/json"
    assert browser.get(DASHBOARD + "data/?task=%00").status_code == 200


def test_cli_says_unknown_task_and_exits_2() -> None:
    outcome = housekeeping("history", "--task", NUL)
    assert outcome.returncode == 2
    assert outcome.message.startswith("Unknown task '\\x00'")
