"""The REST API: authentication and permissions, every endpoint, every error status."""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import resolve
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django_apscheduler.models import DjangoJob
from rest_framework.test import APIClient

from django_housekeeping import housekeeping_task, presenters, registry
from django_housekeeping.models import TaskRun, TaskState
from django_housekeeping.presenters import describe_schedule
from django_housekeeping.running import control, throttle
from tests.helpers import (
    API,
    PASSWORD,
    SHORT_TEST_KEY,
    client_for,
    make_lease,
    make_run,
    make_user,
    wait_for,
)
from tests.testapp.models import Thread

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("api_settings"), SHORT_TEST_KEY]

NO_CONTEXT = "tests.testapp.housekeeping.no_context"

# Every operation, with a request that is valid once authenticated (no task is started).
OPERATIONS = [
    ("get", "status", None),
    ("post", "trigger", {"task": "no-such-task"}),
    ("get", "statistics", None),
    ("get", "runs", None),
    ("get", "runs/{run}", None),
    ("get", "tasks", None),
    ("post", "tasks/record/pause", None),
    ("post", "tasks/record/resume", None),
    ("get", "policies", None),
    ("get", "schema", None),
]


@pytest.fixture
def admin() -> User:
    return make_user("admin", superuser=True)


@pytest.fixture
def client(admin: User) -> APIClient:
    return client_for(admin)


def call(client: APIClient, method: str, path: str, data: Any = None, run: int = 1) -> Any:
    url = API + path.format(run=run)
    return getattr(client, method)(url, data, format="json" if data is not None else None)


# -- authentication and permissions ----------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "data"), OPERATIONS)
def test_no_credentials_is_401_with_a_challenge(method: str, path: str, data: Any) -> None:
    response = call(client_for(None), method, path, data)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json() == {"detail": "Authentication credentials were not provided."}


@pytest.mark.parametrize(("method", "path", "data"), OPERATIONS)
def test_an_invalid_token_is_401(method: str, path: str, data: Any) -> None:
    response = call(client_for(None, token="not-a-token"), method, path, data)

    assert response.status_code == 401
    assert "detail" in response.json()


# The permission each operation needs (the control layer's; tests/test_permissions.py has the
# whole matrix of faces, actions and users).
NEEDS = {
    "status": "view_taskrun",
    "trigger": "run_task",
    "statistics": "view_taskrun",
    "runs": "view_taskrun",
    "runs/{run}": "view_taskrun",
    "tasks": "view_taskrun",
    "tasks/record/pause": "change_taskstate",
    "tasks/record/resume": "change_taskstate",
    "schema": "view_taskrun",
    "policies": "view_taskrun",
}


@pytest.mark.parametrize(("method", "path", "data"), OPERATIONS)
def test_staff_without_the_permission_is_403(method: str, path: str, data: Any) -> None:
    others = [codename for codename in set(NEEDS.values()) if codename != NEEDS[path]]
    user = make_user("operator", staff=True, permissions=others)

    response = call(client_for(user), method, path, data)

    assert response.status_code == 403
    assert response.json() == {"detail": control.denial_message(ACTIONS[NEEDS[path]])}


@pytest.mark.parametrize(("method", "path", "data"), OPERATIONS)
def test_the_permission_alone_opens_each_endpoint(method: str, path: str, data: Any) -> None:
    run = make_run("record")
    user = make_user("operator", permissions=[NEEDS[path]])  # not even staff

    response = call(client_for(user), method, path, data, run.pk)

    # No task is started: 400 says so.
    expected = 400 if path == "trigger" else 200
    assert response.status_code == expected, response.content
    assert response["Content-Type"] == "application/json"


ACTIONS = {
    "view_taskrun": control.VIEW,
    "run_task": control.RUN,
    "change_taskstate": control.CHANGE,
}


def test_permission_classes_in_the_settings_add_conditions(settings: Any, admin: User) -> None:
    viewer = client_for(make_user("viewer", permissions=["view_taskrun"]))
    visitor = client_for(make_user("visitor"))
    settings.HOUSEKEEPING = {"API_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"]}
    assert viewer.get(API + "status").status_code == 200
    assert visitor.get(API + "status").status_code == 403  # the housekeeping permission still

    settings.HOUSEKEEPING = {"API_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"]}
    assert viewer.get(API + "status").status_code == 403  # not staff
    assert client_for(admin).get(API + "status").status_code == 200


def test_the_session_authenticates_too_with_csrf_on_posts(admin: User) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin)

    assert browser.get(API + "status").status_code == 200
    refused = browser.post(API + "tasks/record/pause", content_type="application/json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]


def test_with_drf_default_authentication_no_credentials_is_still_401(settings: Any) -> None:
    """DRF's defaults put SessionAuthentication (no challenge) before Basic: still a 401."""
    settings.REST_FRAMEWORK = {}

    response = APIClient().get(API + "status")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Basic realm="api"'


def test_with_session_authentication_only_no_credentials_is_403(settings: Any) -> None:
    """Without a class that can issue a challenge, HTTP allows no 401: DRF answers 403."""
    settings.REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"]
    }

    response = APIClient().get(API + "status")

    assert response.status_code == 403
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_basic_authentication_of_an_admin(settings: Any, admin: User) -> None:
    settings.REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.BasicAuthentication"]
    }
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=_basic("admin", PASSWORD))

    assert client.get(API + "status").status_code == 200


def _basic(username: str, password: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "status"),
        ("get", "trigger"),
        ("put", "statistics"),
        ("delete", "runs"),
        ("patch", "runs/1"),
        ("post", "tasks"),
        ("get", "tasks/record/pause"),
        ("delete", "tasks/record/resume"),
        ("post", "schema"),
    ],
)
def test_a_wrong_method_is_405(client: APIClient, method: str, path: str) -> None:
    response = getattr(client, method)(API + path)

    assert response.status_code == 405
    assert response.json()["detail"] == f'Method "{method.upper()}" not allowed.'


def test_an_unknown_url_under_the_api_is_a_json_404(client: APIClient) -> None:
    response = client.get(API + "nothing/here")

    assert response.status_code == 404
    assert response.json() == {"detail": "The API has no '/api/admin/scheduler/nothing/here'."}
    assert APIClient().get(API + "nothing/here").status_code == 401


def test_every_endpoint_answers_with_a_trailing_slash_too(client: APIClient) -> None:
    for path in ("status", "statistics", "runs", "tasks", "schema"):
        assert client.get(f"{API}{path}/").status_code == 200, path


def test_the_api_answers_json_whatever_the_accept_header(client: APIClient) -> None:
    response = client.get(API + "status", HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


# -- status ----------------------------------------------------------------------------------


def test_status_without_a_scheduler(client: APIClient) -> None:
    data = client.get(API + "status").json()

    assert data["state"] == "stopped"
    assert data["running"] is False
    assert data["healthy"] is False
    assert data["leader"] is None
    assert [job["id"] for job in data["jobs"]] == [task.name for task in registry]


def test_status_with_a_healthy_leader(client: APIClient) -> None:
    make_lease(heartbeat_age=3, expires_in=27)

    data = client.get(API + "status").json()

    assert data["state"] == "running"
    assert data["running"] is True
    assert data["healthy"] is True
    leader = data["leader"]
    assert (leader["host"], leader["pid"], leader["healthy"]) == ("web-1", 4242, True)
    assert 3 <= leader["lease_age_seconds"] < 10


def test_status_with_a_stale_leader(client: APIClient) -> None:
    make_lease(heartbeat_age=90, expires_in=-60)

    data = client.get(API + "status").json()

    assert (data["state"], data["running"], data["healthy"]) == ("stale", False, False)
    assert data["leader"]["healthy"] is False


def test_status_jobs_have_their_next_run_trigger_pause_and_last_run(client: APIClient) -> None:
    next_run = timezone.now() + timedelta(hours=2)
    DjangoJob.objects.create(id="record", next_run_time=next_run, job_state=b"")
    TaskState.objects.create(task_name="threads", paused=True)
    last = make_run("record", result={"threads": 4})

    jobs = {job["id"]: job for job in client.get(API + "status").json()["jobs"]}

    record = jobs["record"]
    assert parse_datetime(record["next_run"]) == next_run
    assert record["trigger"] == describe_schedule(registry.get("record"))
    assert record["paused"] is False
    assert record["last_run"]["id"] == last.pk
    assert record["last_run"]["result"] == {"threads": 4}
    assert record["last_run"]["url"] == f"http://testserver{API}runs/{last.pk}"
    assert jobs["threads"]["paused"] is True
    assert jobs["threads"]["name"] == "Delete threads older than N days"
    assert jobs["threads"]["last_run"] is None
    assert jobs["threads"]["next_run"] is None


# -- trigger ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("runs_finish")
def test_trigger_answers_202_at_once_and_runs_the_task_outside_the_request(
    client: APIClient, admin: User
) -> None:
    response = client.post(API + "trigger", {"task": "record"}, format="json")

    assert response.status_code == 202
    data = response.json()
    assert data["status"] == "accepted"
    assert data["tasks"] == ["record"]
    assert data["dry_run"] is False
    assert data["results"] == {} or data["results"] == {"record": {"threads": 0}}
    (run,) = data["runs"]
    assert run["task"] == "record"
    assert run["trigger"] == "api"
    assert run["triggered_by"] == "admin"
    assert run["url"] == f"http://testserver{API}runs/{run['id']}"

    finished = wait_for(lambda: ended(client.get(run["url"]).json()), 30, "the run to end")
    assert finished["status"] == "succeeded"
    assert finished["result"] == {"threads": 0}
    stored = TaskRun.objects.get(pk=run["id"])
    assert stored.triggered_by == admin
    assert stored.trigger == TaskRun.Trigger.API


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("runs_finish")
def test_trigger_with_wait_answers_200_with_the_results(client: APIClient) -> None:
    Thread.objects.create(title="old", created_at=timezone.now() - timedelta(days=90))

    response = client.post(API + "trigger?wait=30", {"task": "all"}, format="json")

    assert response.status_code == 200
    data = response.json()
    assert data["status"] == "failed"  # "boom" fails; the others ran
    (group,) = data["runs"]
    assert group["task"] == "all"
    assert group["status"] == "failed"
    outcomes = data["results"]["all"]["tasks"]
    purged = outcomes["threads"]["result"]
    assert (purged["deleted"], purged["total"], purged["dry_run"]) == (
        {"testapp.Thread": 1},
        1,
        False,
    )
    assert outcomes["boom"]["status"] == "failed"
    detail = client.get(group["url"]).json()
    assert {child["task"] for child in detail["children"]} == set(outcomes)
    assert not Thread.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("runs_finish")
def test_trigger_a_list_of_tasks_dry_run(client: APIClient) -> None:
    Thread.objects.create(title="old", created_at=timezone.now() - timedelta(days=90))

    response = client.post(
        API + "trigger?wait=30",
        {"task": ["threads", NO_CONTEXT, "threads"], "dry_run": True},
        format="json",
    )

    assert response.status_code == 200
    data = response.json()
    assert data["status"] == "succeeded"
    assert data["tasks"] == ["threads", NO_CONTEXT]
    assert [run["task"] for run in data["runs"]] == ["threads", NO_CONTEXT]
    assert all(run["dry_run"] for run in data["runs"])
    assert set(data["results"]) == {"threads", NO_CONTEXT}
    purged = data["results"]["threads"]
    assert (purged["deleted"], purged["total"], purged["dry_run"]) == (
        {"testapp.Thread": 1},
        1,
        True,
    )
    assert data["results"][NO_CONTEXT] == {"ok": True}
    assert Thread.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("runs_finish", "temporary_tasks")
def test_trigger_waits_no_longer_than_asked(client: APIClient) -> None:
    import threading

    release = threading.Event()

    @housekeeping_task(name="slow")
    def slow() -> dict[str, bool]:
        release.wait(30)
        return {"done": True}

    try:
        response = client.post(API + "trigger?wait=0.2", {"task": "slow"}, format="json")
        assert response.status_code == 202
        assert response.json()["status"] == "accepted"
        assert response.json()["runs"][0]["status"] in {"queued", "running"}
    finally:
        release.set()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("runs_finish", "temporary_tasks")
def test_trigger_409_while_the_task_runs_and_202_once_it_ended(client: APIClient) -> None:
    import threading

    started, release = threading.Event(), threading.Event()

    @housekeeping_task(name="slow")
    def slow() -> None:
        started.set()
        release.wait(30)

    first = client.post(API + "trigger", {"task": "slow"}, format="json").json()["runs"][0]
    assert started.wait(10)
    try:
        conflict = client.post(API + "trigger", {"task": ["record", "slow"]}, format="json")
        assert conflict.status_code == 409
        data = conflict.json()
        assert data["task"] == "slow"
        assert data["running_run"]["id"] == first["id"]
        assert data["detail"].startswith(f"slow is already running (run #{first['id']}, started ")
        assert not TaskRun.objects.filter(task_name="record").exists()  # all or nothing
    finally:
        release.set()
    wait_for(lambda: ended(client.get(first["url"]).json()), 30, "the run to end")

    assert client.post(API + "trigger", {"task": "slow"}, format="json").status_code == 202


def test_a_stale_running_run_does_not_block_a_trigger(client: APIClient) -> None:
    make_run("record", age=timedelta(hours=3), status=TaskRun.Status.RUNNING)

    response = client.post(API + "trigger", {"task": "record"}, format="json")

    # In this test's transaction the run is recorded but its thread starts only on commit.
    assert response.status_code == 202


def test_a_fresh_running_run_blocks_a_trigger(client: APIClient) -> None:
    running = make_run("record", status=TaskRun.Status.RUNNING)

    response = client.post(API + "trigger", {"task": "record"}, format="json")

    assert response.status_code == 409
    assert response.json()["running_run"]["id"] == running.pk


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"task": "nope"}, "task: Unknown task 'nope'; valid tasks: all, boom, dormant, "),
        ({"task": ["record", "nope"]}, "task: Unknown task 'nope'; valid tasks: all, "),
        ({}, "task: This field is required."),
        ({"task": 3}, "task: Say which task to run: a task name or a non-empty list of task "),
        ({"task": []}, "task: Say which task to run: a task name or a non-empty list of task "),
        ({"task": ["record", 1]}, "task: Say which task to run: a task name or a non-empty "),
        ({"task": None}, "task: This field may not be null."),
        ({"task": "record", "dry_run": "yes"}, "dry_run: Must be true or false (a JSON boolean)."),
        ({"task": "record", "dry_run": 1}, "dry_run: Must be true or false (a JSON boolean)."),
        (["record"], "The body must be a JSON object."),
    ],
)
def test_trigger_rejects_a_bad_body_with_400(client: APIClient, body: Any, message: str) -> None:
    response = client.post(API + "trigger", body, format="json")

    assert response.status_code == 400
    assert response.json()["detail"].startswith(message)
    assert not TaskRun.objects.exists()


def test_the_400_of_an_unknown_task_names_every_valid_task(client: APIClient) -> None:
    response = client.post(API + "trigger", {"task": "nope"}, format="json")

    assert response.json()["errors"] == {
        "task": [f"Unknown task 'nope'; valid tasks: {', '.join(registry.names())}."]
    }


def test_trigger_rejects_malformed_json_with_400(client: APIClient) -> None:
    response = client.post(API + "trigger", "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["detail"].startswith("The body must be a JSON object: Expecting ")


def test_trigger_rejects_a_body_that_is_not_json_with_415(client: APIClient) -> None:
    response = client.post(API + "trigger", {"task": "record"})  # multipart form

    assert response.status_code == 415
    assert response.json()["detail"].startswith('Unsupported media type "multipart/form-data')


@pytest.mark.parametrize(
    ("wait", "message"),
    [
        ("soon", "wait: A valid number is required."),
        ("-1", "wait: Ensure this value is greater than or equal to 0."),
        ("301", "wait: Ensure this value is less than or equal to 300."),
        ("nan", "wait: A valid number is required."),
    ],
)
def test_trigger_rejects_a_bad_wait_with_400(client: APIClient, wait: str, message: str) -> None:
    response = client.post(f"{API}trigger?wait={wait}", {"task": "record"}, format="json")

    assert response.status_code == 400
    assert response.json()["detail"] == message


# In these tests' transaction a run is recorded (queued) but never started: the next trigger of
# the task is a 409, which counts against the throttle like a 202.
DRY_RUN = {"task": "record", "dry_run": True}


@pytest.fixture(autouse=True)
def one_throttle_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """The throttle counts in whole minutes of the clock: its clock stands still at the test's
    start, so that a test's triggers never straddle two windows (a new minute's budget)."""
    monkeypatch.setattr(control, "take", functools.partial(throttle.take, now=timezone.now()))


def test_trigger_is_throttled(client: APIClient, settings: Any) -> None:
    settings.HOUSEKEEPING = {"TRIGGER_THROTTLE_RATE": "2/minute"}
    codes = [client.post(API + "trigger", DRY_RUN, format="json").status_code for _ in range(2)]
    assert codes == [202, 409]

    response = client.post(API + "trigger", DRY_RUN, format="json")

    assert response.status_code == 429
    assert response.json()["detail"].startswith("Too many runs started: 2 per 60 s are allowed.")
    assert 0 < int(response["Retry-After"]) <= 60
    assert client.get(API + "status").status_code == 200  # only the trigger is throttled
    assert TaskRun.objects.count() == 1


def test_invalid_triggers_do_not_count(client: APIClient, settings: Any) -> None:
    settings.HOUSEKEEPING = {"TRIGGER_THROTTLE_RATE": "2/minute"}
    for _ in range(5):
        assert client.post(API + "trigger", {"task": "nope"}, format="json").status_code == 400

    assert client.post(API + "trigger", DRY_RUN, format="json").status_code == 202


def test_the_default_throttle_allows_30_triggers_a_minute(client: APIClient) -> None:
    codes = [client.post(API + "trigger", DRY_RUN, format="json").status_code for _ in range(31)]

    assert codes == [202] + [409] * 29 + [429]


def test_the_throttle_can_be_turned_off(client: APIClient, settings: Any) -> None:
    settings.HOUSEKEEPING = {"TRIGGER_THROTTLE_RATE": None}

    codes = {client.post(API + "trigger", DRY_RUN, format="json").status_code for _ in range(40)}

    assert codes == {202, 409}


def test_trigger_runs_outside_the_request_transaction() -> None:
    callback = resolve(API + "trigger").func

    assert getattr(callback, "_non_atomic_requests", set()) == {"default"}


# -- statistics ------------------------------------------------------------------------------


@pytest.fixture
def stats_task(temporary_tasks: None, settings: Any) -> None:
    """A site's statistics task, named by the setting as in the example project."""
    settings.HOUSEKEEPING = {"STATISTICS_TASK": "stats"}

    @housekeeping_task(name="stats", destructive=False)
    def stats() -> dict[str, int]:
        return {"total_users": User.objects.count()}


@pytest.mark.usefixtures("stats_task")
def test_statistics_latest_and_series(client: APIClient) -> None:
    old = make_run("stats", age=timedelta(days=40), result={"total_users": 1})
    first = make_run("stats", age=timedelta(days=3), result={"total_users": 2, "ratio": 0.5})
    make_run("stats", age=timedelta(days=2), status=TaskRun.Status.FAILED, result=None)
    latest = make_run(
        "stats", age=timedelta(hours=1), result={"total_users": 5, "note": "x", "flag": True}
    )

    response = client.get(API + "statistics")

    assert response.status_code == 200
    data = response.json()
    assert data["task"] == "stats"
    assert data["days"] == 30
    assert data["run_id"] == latest.pk
    assert parse_datetime(data["generated_at"]) == latest.started_at
    assert data["statistics"] == {"total_users": 5}
    assert data["warning"] is None
    series = {item["key"]: item["points"] for item in data["series"]}
    assert [(p["run_id"], p["value"]) for p in series["total_users"]] == [
        (first.pk, 2),
        (latest.pk, 5),
    ]
    assert [(p["run_id"], p["value"]) for p in series["ratio"]] == [(first.pk, 0.5)]
    assert [item["key"] for item in data["series"]] == ["total_users", "ratio"]
    assert old.pk not in {p["run_id"] for p in series["total_users"]}


@pytest.mark.usefixtures("stats_task")
def test_the_statistics_of_dry_runs_are_left_out(client: APIClient) -> None:
    real = make_run("stats", age=timedelta(hours=2), result={"total_users": 5})
    make_run("stats", age=timedelta(hours=1), dry_run=True, result={"total_users": 99})

    data = client.get(API + "statistics").json()

    assert (data["run_id"], data["statistics"]) == (real.pk, {"total_users": 5})
    assert [p["run_id"] for p in data["series"][0]["points"]] == [real.pk]
    assert data["housekeeping"]["tasks"]["stats"]["runs"] == {"succeeded": 1}


@pytest.mark.usefixtures("stats_task")
def test_statistics_window_in_days(client: APIClient) -> None:
    make_run("stats", age=timedelta(days=3), result={"total_users": 2})
    latest = make_run("stats", age=timedelta(hours=1), result={"total_users": 5})

    data = client.get(API + "statistics?days=1").json()

    assert data["days"] == 1
    assert [p["run_id"] for p in data["series"][0]["points"]] == [latest.pk]
    assert data["housekeeping"]["tasks"]["stats"]["runs"] == {"succeeded": 1}
    days = [day["day"] for day in data["housekeeping"]["rows_deleted_per_day"]]
    today = timezone.localdate()
    assert days == [str(today - timedelta(days=1)), str(today)]


@pytest.mark.usefixtures("stats_task")
def test_the_latest_statistics_may_be_older_than_the_window(client: APIClient) -> None:
    make_run("stats", age=timedelta(days=9), result={"total_users": 1})
    latest = make_run("stats", age=timedelta(days=3), result={"total_users": 2})

    data = client.get(API + "statistics?days=1").json()

    assert (data["run_id"], data["statistics"]) == (latest.pk, {"total_users": 2})
    assert data["series"] == [{"key": "total_users", "points": []}]


@pytest.mark.usefixtures("stats_task")
def test_a_series_holds_the_newest_points_of_the_window_up_to_the_cap(
    client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert presenters.statistics.MAX_STATISTICS_POINTS == 400  # docs/observability.md#statistics
    monkeypatch.setattr(presenters.statistics, "MAX_STATISTICS_POINTS", 3)
    runs = [
        make_run("stats", age=timedelta(hours=10 - i), result={"total_users": i}) for i in range(5)
    ]

    data = client.get(API + "statistics").json()

    assert data["run_id"] == runs[-1].pk
    points = data["series"][0]["points"]
    assert [(p["run_id"], p["value"]) for p in points] == [
        (run.pk, i) for i, run in enumerate(runs)
    ][2:]


@pytest.mark.usefixtures("stats_task")
def test_statistics_before_any_run(client: APIClient) -> None:
    data = client.get(API + "statistics").json()

    assert data["statistics"] == {}
    assert data["series"] == []
    assert data["run_id"] is None
    assert data["generated_at"] is None
    assert data["housekeeping"]["tasks"] == {}
    assert len(data["housekeeping"]["rows_deleted_per_day"]) == 31
    assert {day["rows"] for day in data["housekeeping"]["rows_deleted_per_day"]} == {0}


def test_statistics_of_another_task(client: APIClient) -> None:
    run = make_run("record", result={"threads": 7})

    data = client.get(API + "statistics?task=record").json()

    assert (data["task"], data["run_id"], data["statistics"]) == ("record", run.pk, {"threads": 7})


def purge_result(deleted: dict[str, int], *, dry_run: bool = False) -> dict[str, Any]:
    return {"deleted": deleted, "total": sum(deleted.values()), "dry_run": dry_run}


@override_settings(HOUSEKEEPING={})
def test_statistics_on_a_site_without_a_statistics_task(client: APIClient) -> None:
    """No task named ``stats``, no setting: the library's own numbers, from real runs only."""
    assert "stats" not in registry.as_mapping()
    recent = make_run(
        "threads",
        age=timedelta(hours=1),
        duration=timedelta(seconds=1),
        result=purge_result({"testapp.Thread": 2}),
    )
    earlier = make_run(
        "threads",
        age=timedelta(days=3),
        duration=timedelta(seconds=3),
        result=purge_result({"testapp.Thread": 5, "testapp.Post": 1}),
    )
    make_run(  # a dry run deletes nothing and counts nowhere
        "threads",
        age=timedelta(hours=2),
        duration=timedelta(seconds=60),
        dry_run=True,
        result=purge_result({"testapp.Thread": 100}, dry_run=True),
    )
    members = {"threads": {"status": "succeeded", "result": purge_result({"testapp.Thread": 4})}}
    group = make_run(
        "nightly", age=timedelta(days=3), duration=timedelta(seconds=8), result={"tasks": members}
    )
    member = make_run(  # counted once: by the member's run, not by the group's result
        "threads",
        age=timedelta(days=3),
        duration=timedelta(seconds=2),
        parent=group,
        result=purge_result({"testapp.Thread": 4}),
    )
    make_run("boom", age=timedelta(days=1), status=TaskRun.Status.FAILED, error="Traceback")
    make_run("boom", age=timedelta(minutes=1), status=TaskRun.Status.RUNNING)
    make_run("record", age=timedelta(days=40), result=purge_result({"testapp.Thread": 9}))

    response = client.get(API + "statistics")

    assert response.status_code == 200
    data = response.json()
    assert (data["task"], data["statistics"], data["series"]) == (None, {}, [])
    assert (data["run_id"], data["generated_at"], data["warning"]) == (None, None, None)
    assert (data["days"], parse_datetime(data["since"]) is not None) == (30, True)
    assert data["housekeeping"]["tasks"] == {
        "boom": {
            "runs": {"failed": 1, "running": 1},
            "rows_deleted": 0,
            "duration_seconds": {"p50": 2.0, "p95": 2.0},
        },
        "nightly": {
            "runs": {"succeeded": 1},
            "rows_deleted": 0,
            "duration_seconds": {"p50": 8.0, "p95": 8.0},
        },
        "threads": {
            "runs": {"succeeded": 3},
            "rows_deleted": 12,
            # 1, 2 and 3 s: nearest rank, the 2nd and the 3rd of 3.
            "duration_seconds": {"p50": 2.0, "p95": 3.0},
        },
    }
    per_day = data["housekeeping"]["rows_deleted_per_day"]
    assert len(per_day) == 31
    assert per_day[0]["day"] == str(timezone.localdate(parse_datetime(data["since"])))
    assert per_day[-1]["day"] == str(timezone.localdate())
    expected: dict[str, dict[str, Any]] = {}
    for run in (earlier, member, recent):
        key = str(timezone.localdate(run.started_at))
        day = expected.setdefault(key, {"rows": 0, "models": {}})
        for label, count in run.result["deleted"].items():
            day["models"][label] = day["models"].get(label, 0) + count
            day["rows"] += count
    assert {day["day"]: day for day in per_day if day["rows"]} == {
        day: {"day": day, **totals} for day, totals in expected.items()
    }
    assert sum(day["rows"] for day in per_day) == 12


@override_settings(HOUSEKEEPING={"STATISTICS_TASK": "record"})
def test_the_statistics_task_setting_is_honoured_and_task_overrides_it(
    client: APIClient,
) -> None:
    record = make_run("record", result={"threads": 7})
    make_run("boom", result={"errors": 1})

    configured = client.get(API + "statistics").json()
    asked = client.get(API + "statistics?task=boom").json()

    assert (configured["task"], configured["run_id"]) == ("record", record.pk)
    assert (asked["task"], asked["statistics"]) == ("boom", {"errors": 1})


@pytest.mark.parametrize("configured", ["gone", "nightly"])
def test_a_configured_statistics_task_that_has_none_is_a_warning(
    client: APIClient, settings: Any, configured: str
) -> None:
    settings.HOUSEKEEPING = {"STATISTICS_TASK": configured}
    make_run("threads", result=purge_result({"testapp.Thread": 2}))

    response = client.get(API + "statistics")

    assert response.status_code == 200
    data = response.json()
    assert (data["task"], data["statistics"], data["series"]) == (None, {}, [])
    assert data["warning"].startswith(
        f'HOUSEKEEPING["STATISTICS_TASK"] names no task that has statistics: '
        f"unknown task {configured!r}; valid tasks: boom, "
    )
    assert data["housekeeping"]["tasks"]["threads"]["rows_deleted"] == 2


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?task=stats", "task: unknown task 'stats'; valid tasks: boom, dormant, record, "),
        ("?task=nightly", "task: unknown task 'nightly'; valid tasks: boom, "),
        ("?task=all", "task: unknown task 'all'; valid tasks: boom, "),
        ("?task=record&days=0", "days: Ensure this value is greater than or equal to 1."),
        ("?task=record&days=367", "days: Ensure this value is less than or equal to 366."),
        ("?days=week", "days: A valid integer is required."),
    ],
)
def test_statistics_rejects_bad_parameters_with_400(
    client: APIClient, query: str, message: str
) -> None:
    response = client.get(API + "statistics" + query)

    assert response.status_code == 400
    assert response.json()["detail"].startswith(message)


# -- runs ------------------------------------------------------------------------------------


def test_runs_are_paginated_newest_first_by_cursor(client: APIClient) -> None:
    runs = [make_run("record", age=timedelta(minutes=60 - i)) for i in range(5)]

    first = client.get(API + "runs?page_size=2").json()
    second = client.get(first["next"]).json()
    last = client.get(second["next"]).json()
    back = client.get(last["previous"]).json()

    assert set(first) == {"next", "previous", "results"}  # no count: the history is not counted
    assert [run["id"] for run in first["results"]] == [runs[4].pk, runs[3].pk]
    assert first["next"].startswith(f"http://testserver{API}runs?cursor=n")
    assert "page_size=2" in first["next"]
    assert first["previous"] is None
    assert [run["id"] for run in second["results"]] == [runs[2].pk, runs[1].pk]
    assert [run["id"] for run in last["results"]] == [runs[0].pk]
    assert last["next"] is None
    assert [run["id"] for run in back["results"]] == [runs[2].pk, runs[1].pk]
    assert client.get(back["previous"]).json()["results"] == first["results"]
    assert client.get(back["previous"]).json()["previous"] is None


def test_a_cursor_beyond_the_history_is_an_empty_page(client: APIClient) -> None:
    make_run("record")

    data = client.get(API + "runs?cursor=n1.1").json()

    assert data == {"next": None, "previous": None, "results": []}
    assert client.get(API + "runs?cursor=p9999999999999999.9999999999999999999").status_code == 200


@pytest.mark.parametrize("query", ["", "?task=threads&status=failed"], ids=["all", "filtered"])
def test_a_page_of_runs_costs_the_same_queries_with_one_run_or_a_full_page(
    client: APIClient, query: str
) -> None:
    """No query per run: a full page costs the queries of a page of one."""
    make_run("threads", status=TaskRun.Status.FAILED)
    with CaptureQueriesContext(connection) as one:
        client.get(API + "runs" + query)
    for n in range(60):
        make_run("threads", age=timedelta(minutes=n + 1), status=TaskRun.Status.FAILED)

    with CaptureQueriesContext(connection) as full:
        response = client.get(API + "runs" + query)

    assert len(response.json()["results"]) > 1
    assert len(full) == len(one), [q["sql"] for q in full.captured_queries]


def test_runs_started_at_the_same_instant_are_paged_by_id(client: APIClient) -> None:
    started = timezone.now() - timedelta(minutes=5)
    runs = [make_run("record", started_at=started) for _ in range(5)]

    seen: list[int] = []
    url: str | None = API + "runs?page_size=2&task=record"
    while url:
        page = client.get(url).json()
        seen += [run["id"] for run in page["results"]]
        url = page["next"]

    assert seen == sorted((run.pk for run in runs), reverse=True)


def test_runs_filters_are_kept_in_the_next_link(client: APIClient) -> None:
    failed = [make_run("boom", age=timedelta(minutes=i), status="failed") for i in range(3)]
    make_run("boom", age=timedelta(minutes=1, seconds=30))

    first = client.get(API + "runs?task=boom&status=failed&page_size=2").json()
    second = client.get(first["next"]).json()

    assert [run["id"] for run in first["results"] + second["results"]] == [r.pk for r in failed]


def test_runs_filters(client: APIClient) -> None:
    old = make_run("record", age=timedelta(days=2))
    failed = make_run("boom", status=TaskRun.Status.FAILED, error="Traceback\nRuntimeError: x")
    admin_run = make_run("record", trigger=TaskRun.Trigger.ADMIN)

    def ids(query: str) -> set[int]:
        response = client.get(API + "runs?" + query)
        assert response.status_code == 200, response.content
        return {run["id"] for run in response.json()["results"]}

    assert ids("task=record") == {old.pk, admin_run.pk}
    assert ids("status=failed") == {failed.pk}
    assert ids("trigger=admin") == {admin_run.pk}
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert ids("since=" + since.replace("+", "%2B")) == {failed.pk, admin_run.pk}
    assert ids("task=record&since=" + since.replace("+", "%2B")) == {admin_run.pk}
    assert ids("since=1900-01-01T00:00:00Z") == {old.pk, failed.pk, admin_run.pk}
    assert ids("since=9000-01-01T00:00:00Z") == set()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "status=done",
            'status: "done" is not a valid choice; valid choices: queued, running, succeeded, ',
        ),
        ("trigger=cron", 'trigger: "cron" is not a valid choice; valid choices: schedule, cli, '),
        ("since=yesterday", "since: Datetime has wrong format."),
        ("since=0001-01-01T00:00:00%2B14:00", "since: Datetime value out of range."),
        ("since=9999-12-31T23:59:59-12:00", "since: Datetime value out of range."),
        ("task=a%00b", "task: Null characters are not allowed."),
    ],
)
def test_runs_reject_bad_filters_with_400(client: APIClient, query: str, message: str) -> None:
    response = client.get(API + "runs?" + query)

    assert response.status_code == 400
    assert response.json()["detail"].startswith(message)


@pytest.mark.parametrize(
    "cursor", ["x", "n", "n12", "x12.3", "n12.", "n-1.2", "n12345678901234567.1", "n1.2 "]
)
def test_a_cursor_that_is_no_link_of_a_page_is_400(client: APIClient, cursor: str) -> None:
    make_run("record")

    response = client.get(API + "runs?cursor=" + cursor)

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "cursor": ["Invalid cursor: use the next or previous link of a page."]
    }


def test_run_detail_with_live_progress(client: APIClient) -> None:
    run = make_run("threads", status=TaskRun.Status.RUNNING, progress_done=250, progress_total=1000)

    data = client.get(f"{API}runs/{run.pk}").json()

    assert data["status"] == "running"
    assert data["progress"] == {"done": 250, "total": 1000, "percent": 25.0, "note": None}
    assert data["summary"] == "running…"
    assert data["finished_at"] is None
    assert data["children"] == []


def test_run_detail_of_a_group_lists_its_members(client: APIClient) -> None:
    group = make_run("nightly", result={"tasks": {}, "failed": []})
    child = make_run(
        "threads",
        parent=group,
        result={"deleted": {"testapp.Thread": 3}, "total": 3, "dry_run": False},
    )

    data = client.get(f"{API}runs/{group.pk}").json()

    assert [c["id"] for c in data["children"]] == [child.pk]
    assert data["children"][0]["summary"] == "deleted 3 (testapp.Thread 3)"
    assert data["children"][0]["parent_id"] == group.pk


def test_runs_lay_their_results_out_in_details(client: APIClient) -> None:
    result = {
        "deleted": {"testapp.Thread": 3, "testapp.Post": 5},
        "total": 8,
        "dry_run": True,
        "protected": {"testapp.Thread": 1},
        "partial": False,
        "archive": None,
    }
    purge = make_run("threads", result=result, dry_run=True)
    stats = make_run("record", result={"threads": 12}, age=timedelta(minutes=1))

    runs = {run["id"]: run for run in client.get(API + "runs").json()["results"]}
    detail = client.get(f"{API}runs/{purge.pk}").json()

    assert (
        runs[purge.pk]["details"]
        == detail["details"]
        == {
            "kind": "purge",
            "summary": detail["summary"],
            "verb": "would delete",
            "models": [
                {"model": "testapp.Post", "deleted": 5, "protected": 0, "held": 0},
                {"model": "testapp.Thread", "deleted": 3, "protected": 1, "held": 0},
            ],
            "total": 8,
            "partial": False,
            "archive": None,
            "numbers": [],
            "members": [],
            "cutoffs": [],
            "partitions": [],
            "partitions_note": None,
        }
    )
    assert runs[stats.pk]["details"]["kind"] == "numbers"
    assert runs[stats.pk]["details"]["numbers"] == [{"key": "threads", "value": 12}]
    assert runs[stats.pk]["summary"] == "threads 12"


@pytest.mark.parametrize("run_id", ["999999", "abc", "-1", "99999999999999999999999", "1.5"])
def test_an_unknown_run_is_404(client: APIClient, run_id: str) -> None:
    response = client.get(f"{API}runs/{run_id}")

    assert response.status_code == 404
    assert response.json() == {"detail": f"No run has the id {run_id!r}."}


# -- tasks -----------------------------------------------------------------------------------


def test_tasks_list(client: APIClient) -> None:
    TaskState.objects.create(task_name="record", paused=True, schedule="*/5 * * * *")
    last = make_run("threads")

    tasks = {task["name"]: task for task in client.get(API + "tasks").json()}

    assert set(tasks) == set(registry.as_mapping())
    threads = tasks["threads"]
    assert threads["description"] == "Delete threads older than N days"
    assert threads["options"] == {"days": 30}
    assert threads["tags"] == ["retention"]
    assert threads["last_run"]["id"] == last.pk
    assert threads["is_group"] is False
    assert tasks["record"]["paused"] is True
    assert tasks["record"]["schedule"].endswith("(set in the admin)")
    assert tasks["nightly"]["is_group"] is True
    assert tasks["nightly"]["members"] == ["threads", "boom", "record"]
    assert tasks["dormant"]["enabled"] is False


def test_pause_and_resume(client: APIClient) -> None:
    paused = client.post(API + "tasks/record/pause")
    again = client.post(API + "tasks/record/pause")

    assert paused.status_code == 200
    assert paused.json() == {
        "task": "record",
        "paused": True,
        "changed": True,
        "detail": "Paused record. The scheduler picks this up within seconds.",
    }
    assert again.json()["changed"] is False
    assert again.json()["detail"] == "Nothing to do: record was already paused."
    assert TaskState.objects.get(task_name="record").paused is True

    resumed = client.post(API + "tasks/record/resume")
    assert resumed.json()["changed"] is True
    assert TaskState.objects.get(task_name="record").paused is False
    assert client.post(API + "tasks/record/resume").json()["changed"] is False
    assert client.post(API + "tasks/threads/resume").json() == {
        "task": "threads",
        "paused": False,
        "changed": False,
        "detail": "Nothing to do: threads was not paused.",
    }
    assert not TaskState.objects.filter(task_name="threads").exists()


@pytest.mark.parametrize("name", ["nope", "all"])
def test_pausing_an_unknown_task_is_404_naming_the_tasks(client: APIClient, name: str) -> None:
    response = client.post(f"{API}tasks/{name}/pause")

    assert response.status_code == 404
    assert response.json()["detail"] == (
        f"Unknown task {name!r}; valid tasks: {', '.join(sorted(registry.as_mapping()))}."
    )


# -- helpers ---------------------------------------------------------------------------------


def ended(run: dict[str, Any]) -> dict[str, Any] | None:
    """The run as the API shows it, once it is neither queued nor running."""
    return run if run["status"] not in {"queued", "running"} else None


@pytest.mark.parametrize("page_size", ["true", "0", "501", "-1", "1.5", "%00"])
def test_a_page_size_out_of_range_is_400(client: APIClient, page_size: str) -> None:
    response = client.get(f"{API}runs?page_size={page_size}")

    assert response.status_code == 400
    assert response.json()["errors"] == {"page_size": ["Must be an integer from 1 to 500."]}


def test_the_largest_page_size_is_accepted(client: APIClient) -> None:
    assert client.get(f"{API}runs?page_size=500").status_code == 200


@pytest.mark.parametrize("page", ["", "1", "2", "last"])
def test_a_page_number_is_400_naming_the_links(client: APIClient, page: str) -> None:
    response = client.get(f"{API}runs?page={page}")

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "page": ["Pages are not numbered: follow the next and previous links."]
    }
