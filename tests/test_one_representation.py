"""One representation per response: the dashboard's JSON and the API's are the same objects, field
for field, for the same runs.

The presenters build each payload once (:mod:`django_housekeeping.presenters`); the API's
serializers declare and write those shapes, and the dashboard serves them as they are. Here both
faces answer about the same history at the same instant, and everything both show must be equal:
the runs (with their ``details``, progress, summary), the tasks, the retention policies, the
statistics, the scheduler, a run with its members' runs, and a refused trigger's answer. Only
``url`` differs: each face links a run to itself.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from django_housekeeping import retention
from django_housekeeping.models import TaskRun
from django_housekeeping.views import RECENT_RUNS
from tests.helpers import (
    API,
    DASHBOARD,
    SHORT_TEST_KEY,
    client_for,
    make_lease,
    make_run,
    make_user,
)
from tests.testapp.models import Chat

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("api_settings", "temporary_tasks"),
    SHORT_TEST_KEY,
]

POLICY = "testapp.chat_retention"


def without_urls(value: Any) -> Any:
    """``value`` without its ``url`` keys (a run's link to itself, on each face its own)."""
    if isinstance(value, dict):
        return {key: without_urls(item) for key, item in value.items() if key != "url"}
    if isinstance(value, list):
        return [without_urls(item) for item in value]
    return value


@pytest.fixture
def history(settings: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, TaskRun]:
    """Runs of every kind a face lays out, a retention policy with a preview, a leader, a
    statistics task; then the clock stops, so that both faces answer at the same instant."""
    settings.HOUSEKEEPING = {"STATISTICS_TASK": "record"}
    retention(Chat, field="updated_at", keep=30, keep_by="plan", keep_for={"pro": 365})
    Chat.objects.create(title="old", plan="free", updated_at=timezone.now() - timedelta(days=40))
    make_lease()
    purge = {
        "deleted": {"testapp.Thread": 3, "testapp.Post": 7},
        "protected": {"testapp.Thread": 1},
        "total": 10,
        "dry_run": False,
        "partial": True,
    }
    runs = {
        "purge": make_run("threads", age=timedelta(days=2), result=purge),
        "stats": make_run("record", age=timedelta(days=1), result={"users": 12, "active": 0.5}),
        "stats_today": make_run("record", age=timedelta(minutes=5), result={"users": 13}),
        "failed": make_run(
            "boom",
            age=timedelta(hours=3),
            status=TaskRun.Status.FAILED,
            error="Traceback (most recent call last):\nRuntimeError: boom\n",
        ),
        "preview": make_run(
            POLICY,
            age=timedelta(hours=2),
            dry_run=True,
            trigger=TaskRun.Trigger.ADMIN,
            result={"deleted": {"testapp.Chat": 1}, "total": 1, "dry_run": True},
        ),
        "running": make_run(
            "threads",
            duration=None,
            status=TaskRun.Status.RUNNING,
            trigger=TaskRun.Trigger.API,
            progress_done=40,
            progress_total=120,
            cancel_requested_at=timezone.now(),
        ),
    }
    group = make_run(
        "nightly",
        age=timedelta(hours=1),
        result={
            "tasks": {
                "threads": {"status": "succeeded", "result": {"deleted": {}, "total": 0}},
                "boom": {"status": "failed"},
            },
            "failed": ["boom"],
        },
    )
    runs["group"] = group
    runs["member"] = make_run("boom", age=timedelta(hours=1), parent=group, error="Boom: x")
    now = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: now)
    return runs


@pytest.fixture
def faces() -> tuple[Client, Any]:
    """The dashboard's client (a session) and the API's (a JWT), of the same operator."""
    operator = make_user("operator", staff=True, permissions=["view_taskrun", "run_task"])
    dashboard = Client()
    dashboard.force_login(operator)
    return dashboard, client_for(operator)


def get(client: Any, path: str) -> Any:
    response = client.get(path)
    assert response.status_code == 200, response.content
    return without_urls(json.loads(response.content))


def test_the_dashboard_and_the_api_show_the_same_objects(
    history: dict[str, TaskRun], faces: tuple[Client, Any]
) -> None:
    dashboard, api = faces

    data = get(dashboard, DASHBOARD + "data/?days=30")

    assert len(data["runs"]) == len(history)  # every kind of run is on the page
    assert data["runs"] == get(api, f"{API}runs?page_size={RECENT_RUNS}")["results"]
    assert data["running"] == get(api, f"{API}runs?status=running")["results"]
    assert data["tasks"] == get(api, API + "tasks")
    assert data["policies"] == get(api, API + "policies")
    assert data["policies"][0]["preview"]["id"] == history["preview"].pk
    assert data["statistics"] == get(api, API + "statistics?days=30")
    assert data["statistics"]["statistics"] == {"users": 13}
    status = get(api, API + "status")
    del status["jobs"]  # the dashboard's tasks carry them
    assert data["scheduler"] == status
    assert data["scheduler"]["leader"] is not None


def test_a_run_with_its_members_is_the_same_on_both_faces(
    history: dict[str, TaskRun], faces: tuple[Client, Any]
) -> None:
    dashboard, api = faces
    group = history["group"].pk

    shown = get(dashboard, f"{DASHBOARD}runs/{group}/")

    assert shown == get(api, f"{API}runs/{group}")
    assert [child["id"] for child in shown["children"]] == [history["member"].pk]


def test_a_refused_trigger_is_answered_the_same_on_both_faces(
    history: dict[str, TaskRun], faces: tuple[Client, Any]
) -> None:
    dashboard, api = faces
    body = {"task": "threads", "dry_run": False}

    refused = dashboard.post(DASHBOARD + "trigger/", body, content_type="application/json")
    by_api = api.post(API + "trigger", body, format="json")

    assert (refused.status_code, by_api.status_code) == (409, 409)
    assert without_urls(refused.json()) == without_urls(by_api.json())
    assert refused.json()["running_run"]["id"] == history["running"].pk


def test_a_cancel_is_answered_in_the_same_shape_on_both_faces(faces: tuple[Client, Any]) -> None:
    dashboard, api = faces
    first = make_run("threads", duration=None, status=TaskRun.Status.QUEUED)
    second = make_run("record", duration=None, status=TaskRun.Status.QUEUED)

    by_dashboard = dashboard.post(f"{DASHBOARD}runs/{first.pk}/cancel/")
    by_api = api.post(f"{API}runs/{second.pk}/cancel")

    assert (by_dashboard.status_code, by_api.status_code) == (202, 202)
    one, other = by_dashboard.json(), by_api.json()
    assert one.keys() == other.keys()
    assert one["run"].keys() == other["run"].keys()
    assert one["run"]["details"].keys() == other["run"]["details"].keys()
    assert (one["ended"], other["ended"]) == (True, True)
