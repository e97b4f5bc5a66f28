"""The staff dashboard's views: who may see it, the JSON it refreshes from, starting runs."""

from __future__ import annotations

import json
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import resolve
from django.utils import timezone

import django_housekeeping
from django_housekeeping import housekeeping_task, registry
from django_housekeeping.models import TaskRun
from django_housekeeping.monitoring.health import health
from django_housekeeping.running import control
from tests.helpers import (
    DASHBOARD,
    make_lease,
    make_run,
    make_user,
)
from tests.testapp.models import Thread

pytestmark = pytest.mark.django_db

STATIC = Path(django_housekeeping.__file__).parent / "static" / "django_housekeeping"
RUN = "run_task"
VIEW = "view_taskrun"


@pytest.fixture(autouse=True)
def static_url(settings: Any) -> None:
    settings.STATIC_URL = "/static/"


@pytest.fixture
def operator() -> User:
    """Staff who may see the history and run tasks."""
    return make_user("operator", staff=True, permissions=[VIEW, RUN])


def client_for(user: User | None, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    if user is not None:
        client.force_login(user)
    return client


def page_json(content: bytes, element_id: str) -> Any:
    match = re.search(
        rf'<script id="{element_id}" type="application/json">(.*?)</script>', content.decode(), re.S
    )
    assert match, f"no #{element_id} in the page"
    return json.loads(match.group(1))


def post_json(client: Client, path: str, body: Any, **extra: Any) -> Any:
    return client.post(path, json.dumps(body), content_type="application/json", **extra)


# -- the page --------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_admin_login() -> None:
    response = Client().get(DASHBOARD)

    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={DASHBOARD}"


@pytest.mark.parametrize("staff", [False, True])
def test_users_without_the_view_permission_are_refused(staff: bool) -> None:
    response = client_for(make_user("visitor", staff=staff, permissions=[RUN])).get(DASHBOARD)

    assert response.status_code == 403


def test_the_view_permission_opens_the_page_without_staff_status() -> None:
    response = client_for(make_user("viewer", permissions=[VIEW])).get(DASHBOARD)

    assert response.status_code == 200
    assert page_json(response.content, "hk-config")["canRun"] is False


def test_staff_see_the_dashboard_with_its_data(operator: User) -> None:
    make_lease()
    run = make_run("threads", result={"deleted": {"testapp.Thread": 2}, "total": 2})

    response = client_for(operator).get(DASHBOARD)

    assert response.status_code == 200
    content = response.content.decode()
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in content
    assert 'src="/static/django_housekeeping/dashboard.js"' in content
    assert 'href="/static/django_housekeeping/dashboard.css"' in content
    config = page_json(response.content, "hk-config")
    assert config["urls"] == {
        "data": f"{DASHBOARD}data/",
        "trigger": f"{DASHBOARD}trigger/",
        "run": f"{DASHBOARD}runs/0/",
        "cancel": f"{DASHBOARD}runs/0/cancel/",
        "adminRun": "/admin/django_housekeeping/taskrun/0/change/",
    }
    assert config["canRun"] is True
    assert config["refreshSeconds"] == 30
    data = page_json(response.content, "hk-data")
    assert data["scheduler"]["state"] == "running"
    assert data["scheduler"]["leader"]["host"] == "web-1"
    assert data["health"]["status"] in {"ok", "unhealthy"}
    assert data["health"] == {**health().as_dict(), "checked_at": data["health"]["checked_at"]}
    assert [task["name"] for task in data["tasks"]] == [task.name for task in registry]
    assert data["runs"][0]["id"] == run.pk
    assert data["runs"][0]["summary"] == "deleted 2 (testapp.Thread 2)"


def test_staff_without_the_run_permission_may_look_but_not_run() -> None:
    response = client_for(make_user("viewer", staff=True, permissions=[VIEW])).get(DASHBOARD)

    assert page_json(response.content, "hk-config")["canRun"] is False


def test_the_page_loads_nothing_from_elsewhere(operator: User) -> None:
    content = client_for(operator).get(DASHBOARD).content.decode()
    script = (STATIC / "dashboard.js").read_text(encoding="utf-8")
    styles = (STATIC / "dashboard.css").read_text(encoding="utf-8")

    assert set(re.findall(r'(?:src|href|action)="([^"]+)"', content)) == {
        "/static/django_housekeeping/dashboard.css",
        "/static/django_housekeeping/dashboard.js",
        "/admin/",
        "/admin/django_housekeeping/",
        "/admin/logout/",
        "/static/django_housekeeping/favicon.svg",
    }
    assert re.findall(r"https?://[^\s\"']+", script) == ["http://www.w3.org/2000/svg"]
    assert "url(" not in styles
    assert "@import" not in styles


def test_the_buttons_and_charts_are_labelled() -> None:
    script = (STATIC / "dashboard.js").read_text(encoding="utf-8")

    assert '"aria-label": "Dry-run " + label' in script
    assert '"aria-label": "Run " + label' in script
    assert 'role: "img", "aria-labelledby": id + "-title"' in script
    assert '"aria-label": label' in script  # the progress bars


def test_the_statistics_task_and_window_come_from_the_query(operator: User) -> None:
    response = client_for(operator).get(DASHBOARD + "?task=record&days=7")

    config = page_json(response.content, "hk-config")
    assert (config["statisticsTask"], config["days"]) == ("record", 7)
    statistics = page_json(response.content, "hk-data")["statistics"]
    assert (statistics["task"], statistics["days"]) == ("record", 7)


# -- the data --------------------------------------------------------------------------------


def test_data_for_anonymous_is_401_and_without_permission_403_json(operator: User) -> None:
    anonymous = Client().get(DASHBOARD + "data/")
    visitor = client_for(make_user("visitor", staff=True)).get(DASHBOARD + "data/")

    assert anonymous.status_code == 401
    assert anonymous.json() == {"detail": "Log in again: your session has ended."}
    assert visitor.status_code == 403
    assert visitor.json() == {"detail": control.denial_message(control.VIEW)}


@pytest.mark.usefixtures("temporary_tasks")
def test_data_has_statistics_runs_and_running_runs(operator: User, settings: Any) -> None:
    settings.HOUSEKEEPING = {"STATISTICS_TASK": "stats"}

    @housekeeping_task(name="stats")
    def stats() -> dict[str, int]:
        return {}

    make_run("stats", age=timedelta(days=2), result={"total_users": 3})
    latest = make_run("stats", age=timedelta(hours=1), result={"total_users": 4})
    running = make_run("threads", status=TaskRun.Status.RUNNING, progress_done=1, progress_total=4)

    data = client_for(operator).get(DASHBOARD + "data/?days=7").json()

    assert data["statistics"]["statistics"] == {"total_users": 4}
    assert data["statistics"]["run_id"] == latest.pk
    assert [p["value"] for p in data["statistics"]["series"][0]["points"]] == [3, 4]
    assert data["statistics"]["housekeeping"]["tasks"]["stats"]["runs"] == {"succeeded": 2}
    assert [run["id"] for run in data["running"]] == [running.pk]
    assert data["running"][0]["progress"] == {
        "done": 1,
        "total": 4,
        "percent": 25.0,
        "note": None,
    }
    assert data["running"][0]["url"] == f"{DASHBOARD}runs/{running.pk}/"
    assert data["runs"][0]["id"] == running.pk


def test_data_without_a_statistics_task_has_the_librarys_numbers(operator: User) -> None:
    make_run("threads", result={"deleted": {"testapp.Thread": 3}, "total": 3, "dry_run": False})
    make_run("threads", dry_run=True, result={"deleted": {"testapp.Thread": 9}, "total": 9})

    response = client_for(operator).get(DASHBOARD + "data/?days=nonsense")

    assert response.status_code == 200
    statistics = response.json()["statistics"]
    assert (statistics["task"], statistics["days"], statistics["series"]) == (None, 30, [])
    assert "error" not in statistics
    library = statistics["housekeeping"]
    assert library["tasks"]["threads"]["runs"] == {"succeeded": 1}
    assert library["tasks"]["threads"]["rows_deleted"] == 3
    assert library["rows_deleted_per_day"][-1] == {
        "day": str(timezone.localdate()),
        "rows": 3,
        "models": {"testapp.Thread": 3},
    }


def test_data_says_when_the_page_names_an_unknown_statistics_task(operator: User) -> None:
    make_run("threads", result={"deleted": {"testapp.Thread": 3}, "total": 3, "dry_run": False})

    statistics = client_for(operator).get(DASHBOARD + "data/?task=nope").json()["statistics"]

    # The statistics' one shape, the API's: the unknown name in its warning, no site statistics.
    assert (statistics["task"], statistics["statistics"], statistics["series"]) == (None, {}, [])
    assert statistics["warning"].startswith("unknown task 'nope'; valid tasks: boom, ")
    assert "error" not in statistics
    assert statistics["housekeeping"]["tasks"]["threads"]["rows_deleted"] == 3


def test_the_page_names_no_statistics_task_unless_asked(operator: User) -> None:
    response = client_for(operator).get(DASHBOARD)

    assert page_json(response.content, "hk-config")["statisticsTask"] is None
    assert page_json(response.content, "hk-data")["statistics"]["task"] is None


def test_a_run_as_json(operator: User) -> None:
    group = make_run("nightly")
    child = make_run("record", parent=group, result={"threads": 1})

    data = client_for(operator).get(f"{DASHBOARD}runs/{group.pk}/").json()

    assert data["id"] == group.pk
    assert [c["id"] for c in data["children"]] == [child.pk]
    assert client_for(operator).get(f"{DASHBOARD}runs/999999/").status_code == 404


# -- starting runs ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("runs_finish")
def test_trigger_starts_a_run_and_answers_202(operator: User) -> None:
    Thread.objects.create(title="old", created_at=timezone.now() - timedelta(days=90))
    client = client_for(operator, csrf=True)
    token = str(client.get(DASHBOARD).context["csrf_token"])

    response = post_json(
        client, DASHBOARD + "trigger/", {"task": "threads", "dry_run": True}, HTTP_X_CSRFTOKEN=token
    )

    assert response.status_code == 202
    (run,) = response.json()["runs"]
    assert (run["task"], run["dry_run"], run["trigger"]) == ("threads", True, "dashboard")
    assert run["triggered_by"] == "operator"
    assert run["url"] == f"{DASHBOARD}runs/{run['id']}/"
    deadline = timezone.now() + timedelta(seconds=30)
    while (current := client.get(run["url"]).json())["status"] in {"queued", "running"}:
        assert timezone.now() < deadline
    assert current["result"]["deleted"] == {"testapp.Thread": 1}
    assert Thread.objects.count() == 1


def test_trigger_needs_the_csrf_token(operator: User) -> None:
    response = post_json(client_for(operator, csrf=True), DASHBOARD + "trigger/", {"task": "boom"})

    # In JSON, as every dashboard URL answers (docs/dashboard.md), not Django's HTML page.
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"].startswith("CSRF verification failed: ")
    assert not TaskRun.objects.exists()


def test_a_post_without_csrf_elsewhere_under_the_dashboard_is_json(operator: User) -> None:
    client = client_for(operator, csrf=True)

    page = client.post(DASHBOARD)
    missing = client.post(DASHBOARD + "no-such-thing/")

    assert (page.status_code, page["Content-Type"]) == (405, "application/json")
    assert (missing.status_code, missing["Content-Type"]) == (404, "application/json")


def test_trigger_needs_the_run_permission() -> None:
    client = client_for(make_user("viewer", staff=True, permissions=[VIEW]))

    response = post_json(client, DASHBOARD + "trigger/", {"task": "boom"})

    assert response.status_code == 403
    assert response.json() == {"detail": control.denial_message(control.RUN)}
    assert not TaskRun.objects.exists()


def test_trigger_needs_a_login() -> None:
    anonymous = post_json(Client(), DASHBOARD + "trigger/", {"task": "boom"})

    assert anonymous.status_code == 401
    assert not TaskRun.objects.exists()


def test_trigger_only_takes_posts(operator: User) -> None:
    assert client_for(operator).get(DASHBOARD + "trigger/").status_code == 405


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"task": "nope"}, "Unknown task 'nope'; valid tasks: all, boom, "),
        ({}, "Say which task to run: a task name or a non-empty list of task names; valid "),
        ({"task": [1]}, "Say which task to run: "),
        ([], "The body must be a JSON object."),
        ({"task": "boom", "dry_run": "no"}, "dry_run must be true or false."),
        ("{oops", "The body must be a JSON object: Expecting property name"),
    ],
)
def test_trigger_rejects_a_bad_request_with_400(operator: User, body: Any, message: str) -> None:
    client = client_for(operator)
    payload = body if isinstance(body, str) else json.dumps(body)

    response = client.post(DASHBOARD + "trigger/", payload, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["detail"].startswith(message)
    assert not TaskRun.objects.exists()


def test_trigger_409_while_the_task_runs(operator: User) -> None:
    running = make_run("boom", status=TaskRun.Status.RUNNING)

    response = post_json(client_for(operator), DASHBOARD + "trigger/", {"task": "boom"})

    assert response.status_code == 409
    assert response.json()["running_run"]["id"] == running.pk


def test_trigger_runs_outside_the_request_transaction() -> None:
    callback = resolve(DASHBOARD + "trigger/").func

    assert getattr(callback, "_non_atomic_requests", set()) == {"default"}


def test_the_dashboard_needs_no_rest_framework() -> None:
    """Without the ``api`` extra the dashboard still works: it imports nothing of DRF."""
    import subprocess
    import sys

    code = (
        "import sys, django; django.setup(); "
        "import django_housekeeping.urls, django_housekeeping.views; "
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'rest_framework', 'drf_spectacular'}); "
        "assert not loaded, loaded"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        cwd=Path(__file__).resolve().parents[1],
    )

    assert result.returncode == 0, result.stderr
