"""One permission model on every face: for each face, action and user the answer is what the control
layer's table says, so no face allows what another refuses."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from django_housekeeping import housekeeping_task
from django_housekeeping.models import TaskRun, TaskState, TaskStateChange
from django_housekeeping.running import control
from django_housekeeping.signals import task_started
from tests.helpers import (
    API,
    DASHBOARD,
    SHORT_TEST_KEY,
    make_run,
    make_user,
    wait_for,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("api_settings"), SHORT_TEST_KEY]

VIEW, RUN, CHANGE = control.VIEW, control.RUN, control.CHANGE
# Resuming or rescheduling starts a task's work: CHANGE and RUN together.
START = control.START

# The users of the matrix (all staff, so that the admin lets them log in) and what the permission
# table says each may do.
USERS: dict[str, list[str] | None] = {
    "anonymous": None,
    "staff without permissions": [],
    "view only": ["view_taskrun"],
    "view and run": ["view_taskrun", "run_task"],
    "view and change state": ["view_taskrun", "change_taskstate"],
    "view, run and change state": ["view_taskrun", "run_task", "change_taskstate"],
    "superuser": ["*"],
}
MAY = {
    "anonymous": set(),
    "staff without permissions": set(),
    "view only": {VIEW},
    "view and run": {VIEW, RUN},
    "view and change state": {VIEW, CHANGE},
    "view, run and change state": {VIEW, RUN, CHANGE, START},
    "superuser": {VIEW, RUN, CHANGE, START},
}


@dataclass(frozen=True)
class Cell:
    """One request of one face for one action: its status when allowed, and when the caller is
    anonymous (an authenticated caller without the permission always gets 403)."""

    face: str
    action: str
    request: Callable[[Client], Any]
    allowed: int
    anonymous: int
    # What the request did when allowed (and did not when refused), beyond the status.
    done: Callable[[], bool] | None = None

    def __str__(self) -> str:
        return f"{self.face}-{self.action}"


def api_post(client: Client, path: str, body: Any = None) -> Any:
    return client.post(API + path, json.dumps(body or {}), content_type="application/json")


def paused_record() -> None:
    """``record`` (destructive=False: no confirmation step) paused, so resuming it changes it."""
    TaskState.objects.create(task_name="record", paused=True)


def api_resume(client: Client) -> Any:
    paused_record()
    return api_post(client, "tasks/record/resume")


def admin_resume(client: Client) -> Any:
    paused_record()
    return client.post(
        reverse("admin:django_housekeeping_pause"), {"task": "record", "paused": "0"}
    )


def admin_schedule(client: Client) -> Any:
    return client.post(
        reverse("admin:django_housekeeping_taskstate_add"),
        {"task_name": "record", "schedule": "* * * * *"},
    )


def resumed() -> bool:
    """``record`` resumed, and the change recorded before → after."""
    change = TaskStateChange.objects.filter(task_name="record").first()
    return TaskState.objects.filter(task_name="record", paused=False).exists() and (
        change is not None and (change.paused_before, change.paused_after) == (True, False)
    )


def rescheduled() -> bool:
    change = TaskStateChange.objects.filter(task_name="record").first()
    return TaskState.objects.filter(task_name="record", schedule="* * * * *").exists() and (
        change is not None and (change.schedule_before, change.schedule_after) == ("", "* * * * *")
    )


def dashboard_trigger(client: Client) -> Any:
    body = json.dumps({"task": "record", "dry_run": True})
    return client.post(DASHBOARD + "trigger/", body, content_type="application/json")


def queued_record() -> TaskRun:
    """A queued run of ``record`` (destructive=False: the admin cancels without asking)."""
    return make_run("record", status=TaskRun.Status.QUEUED, trigger="api")


def cancelled() -> bool:
    return TaskRun.objects.filter(task_name="record", status="cancelled").exists()


CANCEL = RUN + "-cancel"

CELLS = [
    Cell(
        "api",
        CANCEL,
        lambda c: api_post(c, f"runs/{queued_record().pk}/cancel"),
        202,
        401,
        cancelled,
    ),
    Cell(
        "dashboard",
        CANCEL,
        lambda c: c.post(f"{DASHBOARD}runs/{queued_record().pk}/cancel/"),
        202,
        401,
        cancelled,
    ),
    Cell(
        "admin",
        CANCEL,
        lambda c: c.post(f"/admin/django_housekeeping/taskrun/{queued_record().pk}/cancel/"),
        302,
        302,
        cancelled,
    ),
    Cell("api", VIEW, lambda c: c.get(API + "status"), 200, 401),
    Cell("api", VIEW + "-runs", lambda c: c.get(API + "runs"), 200, 401),
    Cell("api", VIEW + "-tasks", lambda c: c.get(API + "tasks"), 200, 401),
    Cell(
        "api", RUN, lambda c: api_post(c, "trigger", {"task": "record", "dry_run": True}), 202, 401
    ),
    Cell("api", CHANGE, lambda c: api_post(c, "tasks/record/pause"), 200, 401),
    Cell("api", START + "-resume", api_resume, 200, 401, resumed),
    Cell("dashboard", VIEW, lambda c: c.get(DASHBOARD), 200, 302),
    Cell("dashboard", VIEW + "-data", lambda c: c.get(DASHBOARD + "data/"), 200, 401),
    Cell("dashboard", RUN, dashboard_trigger, 202, 401),
    Cell(
        "admin",
        VIEW,
        lambda c: c.get(reverse("admin:django_housekeeping_taskrun_changelist")),
        200,
        302,
    ),
    Cell(
        "admin",
        VIEW + "-tasks",
        lambda c: c.get(reverse("admin:django_housekeeping_tasks")),
        200,
        302,
    ),
    Cell(
        "admin",
        VIEW + "-states",
        lambda c: c.get(reverse("admin:django_housekeeping_taskstate_changelist")),
        200,
        302,
    ),
    Cell(
        "admin",
        RUN,
        lambda c: c.post(
            reverse("admin:django_housekeeping_run"), {"task": "record", "dry_run": "1"}
        ),
        302,
        302,
    ),
    Cell(
        "admin",
        CHANGE,
        lambda c: c.post(
            reverse("admin:django_housekeeping_pause"), {"task": "record", "paused": "1"}
        ),
        302,
        302,
    ),
    Cell("admin", START + "-resume", admin_resume, 302, 302, resumed),
    Cell("admin", START + "-schedule", admin_schedule, 302, 302, rescheduled),
]


def login(name: str) -> tuple[Client, User | None]:
    client = Client()
    perms = USERS[name]
    if perms is None:
        return client, None
    if perms == ["*"]:
        user = make_user("root", superuser=True)
    else:
        user = make_user(name.replace(" ", "_"), staff=True, permissions=perms)
    client.force_login(user)
    return client, user


@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("cell", CELLS, ids=str)
def test_every_face_answers_as_the_permission_table_says(cell: Cell, user: str) -> None:
    client, _ = login(user)
    action = cell.action.split("-")[0]
    allowed = action in MAY[user]

    response = cell.request(client)

    expected = cell.allowed if allowed else (cell.anonymous if user == "anonymous" else 403)
    assert response.status_code == expected, (cell, user, response.content[:300])
    if cell.anonymous == 302 and user == "anonymous":
        assert "/login/" in response["Location"]
    if action == RUN and cell.action != CANCEL:  # a refused run records nothing
        assert TaskRun.objects.exists() is allowed
    if action == CHANGE:
        assert TaskState.objects.filter(task_name="record", paused=True).exists() is allowed
    if cell.done is not None:
        assert cell.done() is allowed, (cell, user)


@pytest.mark.parametrize("user", USERS)
def test_the_control_layer_is_the_table(user: str) -> None:
    _, account = login(user)
    actor = control.person(account or AnonymousUser(), TaskRun.Trigger.API)

    for action in (VIEW, RUN, CHANGE):
        assert control.allowed(actor, action) is (action in MAY[user]), (user, action)
    assert control.may_start(actor) is (START in MAY[user])


def test_is_staff_alone_grants_nothing() -> None:
    staff = make_user("staff", staff=True)
    actor = control.person(staff, TaskRun.Trigger.ADMIN)

    assert not any(control.allowed(actor, action) for action in (VIEW, RUN, CHANGE))


def test_an_inactive_superuser_may_do_nothing() -> None:
    root = make_user("root", superuser=True)
    root.is_active = False

    actor = control.person(root, TaskRun.Trigger.API)

    assert not any(control.allowed(actor, action) for action in (VIEW, RUN, CHANGE))


def test_the_command_line_acts_as_the_system() -> None:
    out = io.StringIO()

    call_command("housekeeping", "run", "record", "--dry-run", stdout=out)

    run = TaskRun.objects.get()
    assert (run.trigger, run.triggered_by, run.status) == ("cli", None, "succeeded")
    assert all(control.allowed(control.SYSTEM, action) for action in (VIEW, RUN, CHANGE))


# -- no run a person starts executes on the request's thread --------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("runs_finish", "temporary_tasks")
@pytest.mark.parametrize("face", ["api", "dashboard", "admin"])
def test_no_person_started_run_executes_on_the_requests_thread(face: str) -> None:
    threads: list[threading.Thread] = []

    @housekeeping_task(name="probe", destructive=False)
    def probe() -> None:
        pass

    def started(sender: Any, run: TaskRun, **kwargs: Any) -> None:
        threads.append(threading.current_thread())

    client, _ = login("superuser")
    task_started.connect(started)
    try:
        if face == "api":
            response = api_post(client, "trigger?wait=10", {"task": "probe"})
            assert response.status_code == 200
        elif face == "dashboard":
            body = json.dumps({"task": "probe"})
            response = client.post(DASHBOARD + "trigger/", body, content_type="application/json")
            assert response.status_code == 202
        else:
            response = client.post(reverse("admin:django_housekeeping_run"), {"task": "probe"})
            assert response.status_code == 302
        wait_for(lambda: threads, 30, "the run to start")
    finally:
        task_started.disconnect(started)

    assert threads
    assert all(thread is not threading.current_thread() for thread in threads)
    assert TaskRun.objects.get().trigger == face
