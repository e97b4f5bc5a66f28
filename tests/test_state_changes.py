"""Starting destructive work needs ``run_task``: resuming a task or changing its schedule needs it
besides ``change_taskstate`` on every face, a destructive task's change waits for its dry run's
confirmation on the admin, every change is recorded (who, when, before → after) and shown on the
task state's page, and the scheduled runs created afterwards name it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_housekeeping.models import TaskRun, TaskState, TaskStateChange
from django_housekeeping.running import control
from django_housekeeping.running.runner import run_task
from tests.helpers import API, SHORT_TEST_KEY, client_for, make_user, wait_for
from tests.testapp.models import Thread

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("runs_finish", "api_settings"),
    SHORT_TEST_KEY,
]

ADD = "admin:django_housekeeping_taskstate_add"
CHANGELIST = "admin:django_housekeeping_taskstate_changelist"
CONFIRM = "admin:django_housekeeping_confirm"
PAUSE = "admin:django_housekeeping_pause"
EVERY_MINUTE = "* * * * *"


def messages_of(response: Any) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


def finished(run: TaskRun) -> TaskRun:
    def ended() -> bool:
        run.refresh_from_db()
        return run.is_finished

    wait_for(ended, 30, f"run #{run.pk} to finish")
    return run


def confirmation(response: Any) -> tuple[list[TaskRun], str]:
    """The dry runs and the signed changes a redirect to the confirmation page carries."""
    assert response.status_code == 302, response.content[:300]
    url = urlsplit(response.url)
    assert url.path == reverse(CONFIRM)
    query = parse_qs(url.query)
    runs = [TaskRun.objects.get(pk=int(pk)) for pk in query["runs"][0].split(",")]
    return runs, query["state"][0]


def nothing_scheduled() -> bool:
    return (
        not TaskState.objects.filter(task_name="threads").exclude(schedule="").exists()
        and not TaskStateChange.objects.exists()
    )


def test_only_change_taskstate_may_pause_but_not_schedule_nor_resume_a_destructive_task(
    staff_client: Any,
) -> None:
    client, user = staff_client("view_taskrun", "change_taskstate")

    # The admin's add and change forms: 403, nothing scheduled, no change recorded.
    refused = client.post(reverse(ADD), {"task_name": "threads", "schedule": EVERY_MINUTE})
    assert refused.status_code == 403
    assert nothing_scheduled()
    assert not TaskRun.objects.exists()  # not even a dry run

    # Pausing needs change_taskstate alone, and is recorded.
    paused = client.post(reverse(PAUSE), {"task": "threads", "paused": "1"})
    assert paused.status_code == 302
    state = TaskState.objects.get(task_name="threads")
    assert state.paused
    change = TaskStateChange.objects.get()
    assert (change.changed_by, change.via) == (user, "admin")
    assert (change.paused_before, change.paused_after) == (False, True)
    assert change.describe() == "running → paused"

    change_url = reverse("admin:django_housekeeping_taskstate_change", args=[state.pk])
    refused = client.post(change_url, {"paused": "", "schedule": EVERY_MINUTE})
    assert refused.status_code == 403
    # The tasks page's Resume button and the API's resume: refused, still paused.
    assert client.post(reverse(PAUSE), {"task": "threads", "paused": "0"}).status_code == 403
    response = client_for(user).post(f"{API}tasks/threads/resume")
    assert response.status_code == 403
    assert "django_housekeeping.run_task" in response.json()["detail"]
    state.refresh_from_db()
    assert (state.paused, state.schedule) == (True, "")
    assert TaskStateChange.objects.count() == 1
    # The changelist offers no "Resume" action to them.
    page = client.get(reverse(CHANGELIST))
    assert page.status_code == 200
    assert 'value="resume"' not in page.content.decode()
    assert 'value="pause"' in page.content.decode()


def test_scheduling_a_destructive_task_on_the_admin_asks_its_dry_run_first(
    staff_client: Any,
) -> None:
    Thread.objects.create(title="old", created_at=timezone.now() - timedelta(days=40))
    client, user = staff_client("view_taskrun", "run_task", "change_taskstate")

    response = client.post(reverse(ADD), {"task_name": "threads", "schedule": EVERY_MINUTE})

    [preview], state = confirmation(response)
    assert (preview.task_name, preview.dry_run, preview.triggered_by) == ("threads", True, user)
    # Nothing changed before the confirmation: no override, no record, no admin log entry.
    assert nothing_scheduled()
    finished(preview)
    page = client.get(response.url)
    content = page.content.decode()
    assert page.status_code == 200
    assert "Resuming or rescheduling starts a task" in content
    assert f"<li>threads: schedule (own) → {EVERY_MINUTE}</li>" in content
    assert '<td>testapp.Thread</td><td class="count" style="text-align: right">1</td>' in content
    assert f'name="state" value="{state}"' in content

    # A tampered token changes nothing.
    tampered = client.post(
        reverse(CONFIRM), {"runs": str(preview.pk), "state": state[:-2] + "xx", "post": "yes"}
    )
    assert tampered.status_code == 302
    assert ("error", "That confirmation has expired: ask for the change again.") in messages_of(
        tampered
    )
    assert nothing_scheduled()

    confirmed = client.post(
        reverse(CONFIRM), {"runs": str(preview.pk), "state": state, "post": "yes"}
    )

    assert confirmed.status_code == 302
    saved = TaskState.objects.get(task_name="threads")
    assert (saved.paused, saved.schedule, saved.updated_by) == (False, EVERY_MINUTE, user)
    change = TaskStateChange.objects.get()
    assert (change.changed_by, change.via, change.confirmed) == (user, "admin", True)
    assert (change.paused_before, change.paused_after) == (False, False)
    assert (change.schedule_before, change.schedule_after) == ("", EVERY_MINUTE)
    assert change.describe() == f"schedule (own) → {EVERY_MINUTE}"
    # Confirming runs nothing for real: the scheduler does, from now on.
    assert not TaskRun.objects.filter(dry_run=False).exists()
    assert Thread.objects.count() == 1

    # The task state's page lists the change, before → after.
    page = client.get(reverse("admin:django_housekeeping_taskstate_change", args=[saved.pk]))
    content = page.content.decode()
    assert 'class="housekeeping-state-changes"' in content
    assert f"schedule (own) → {EVERY_MINUTE}" in content
    assert "confirmed after a dry run" in content
    assert user.username in content


def test_the_resume_action_and_button_ask_the_confirmation_of_a_destructive_task(
    staff_client: Any,
) -> None:
    TaskState.objects.create(task_name="threads", paused=True)
    client, _user = staff_client("view_taskrun", "run_task", "change_taskstate")

    # The button, then the action (each once the previous dry run has finished: a task runs once
    # at a time).
    for resume in (
        lambda: client.post(reverse(PAUSE), {"task": "threads", "paused": "0"}),
        lambda: client.post(
            reverse(CHANGELIST),
            {"action": "resume", "_selected_action": [TaskState.objects.get().pk], "index": "0"},
        ),
    ):
        [preview], state = confirmation(resume())
        assert TaskState.objects.get().paused
        assert not TaskStateChange.objects.exists()
        finished(preview)

    confirmed = client.post(
        reverse(CONFIRM), {"runs": str(preview.pk), "state": state, "post": "yes"}
    )
    assert confirmed.status_code == 302
    assert not TaskState.objects.get().paused
    change = TaskStateChange.objects.get()
    assert (change.paused_before, change.paused_after, change.confirmed) == (True, False, True)


def changelist_resume(client: Any, state: TaskState) -> Any:
    """The change list's editable "paused" column, unticked and saved."""
    return client.post(
        reverse(CHANGELIST),
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-MIN_NUM_FORMS": "0",
            "form-MAX_NUM_FORMS": "1000",
            "form-0-id": str(state.pk),
            "_save": "Save",
        },
    )


def test_unticking_paused_on_the_change_list_asks_the_confirmation_too(
    staff_client: Any,
) -> None:
    state = TaskState.objects.create(task_name="threads", paused=True)
    pauser, _ = staff_client("view_taskrun", "change_taskstate")
    assert changelist_resume(pauser, state).status_code == 403
    operator, _ = staff_client("view_taskrun", "run_task", "change_taskstate")

    response = changelist_resume(operator, state)

    [preview], _state = confirmation(response)
    finished(preview)
    assert TaskState.objects.get().paused
    assert not TaskStateChange.objects.exists()
    assert not any("successfully" in text for _level, text in messages_of(response))


def test_a_non_destructive_task_resumes_at_once_and_the_api_resume_is_its_own_confirmation(
    staff_client: Any,
) -> None:
    TaskState.objects.create(task_name="record", paused=True)
    TaskState.objects.create(task_name="threads", paused=True)
    client, user = staff_client("view_taskrun", "run_task", "change_taskstate")

    response = client.post(reverse(PAUSE), {"task": "record", "paused": "0"})
    assert response.status_code == 302
    assert response.url == reverse("admin:django_housekeeping_tasks")
    assert not TaskState.objects.get(task_name="record").paused

    api = client_for(user).post(f"{API}tasks/threads/resume")
    assert api.status_code == 200, api.content
    assert api.json()["paused"] is False
    change = TaskStateChange.objects.get(task_name="threads")
    assert (change.changed_by, change.via, change.confirmed) == (user, "api", True)
    assert (change.paused_before, change.paused_after) == (True, False)


def test_the_control_layer_refuses_an_unconfirmed_start_of_a_destructive_task() -> None:
    operator = control.person(_superuser(), TaskRun.Trigger.MANUAL)
    with pytest.raises(control.NeedsConfirmation):
        control.set_state(operator, "threads", schedule=EVERY_MINUTE)
    assert nothing_scheduled()
    # Pausing, and removing nothing, need no confirmation.
    assert control.set_state(operator, "threads", paused=True).changed
    change = control.set_state(operator, "threads", paused=False, confirmed=True)
    assert change.changed
    assert TaskStateChange.objects.count() == 2


def test_a_paused_task_may_be_rescheduled_with_change_taskstate_alone(staff_client: Any) -> None:
    """Its new schedule starts nothing while it stays paused; resuming it is what needs run_task."""
    _client, user = staff_client("view_taskrun", "change_taskstate")
    operator = control.person(user, TaskRun.Trigger.ADMIN)
    control.set_state(operator, "threads", paused=True)

    change = control.set_state(operator, "threads", schedule=EVERY_MINUTE)

    assert (change.paused, change.schedule, change.changed) == (True, EVERY_MINUTE, True)
    with pytest.raises(control.Forbidden, match=r"django_housekeeping\.run_task"):
        control.set_state(operator, "threads", paused=False, confirmed=True)
    assert TaskState.objects.get(task_name="threads").paused
    assert [c.describe() for c in TaskStateChange.objects.order_by("id")] == [
        "running → paused",
        f"schedule (own) → {EVERY_MINUTE}",
    ]


def _superuser() -> Any:
    return make_user("root", superuser=True)


def test_a_scheduled_run_names_the_latest_state_change() -> None:
    control.set_state(control.SYSTEM, "record", paused=True)
    control.set_state(control.SYSTEM, "record", schedule=EVERY_MINUTE, confirmed=True)
    latest = TaskStateChange.objects.order_by("-id").first()

    slot = timezone.now().replace(second=0, microsecond=0)
    scheduled = run_task("record", trigger=TaskRun.Trigger.SCHEDULE, slot=slot)
    by_hand = run_task("record", trigger=TaskRun.Trigger.CLI)

    assert scheduled.state_change == latest
    assert by_hand.state_change is None
    assert TaskRun.objects.get(pk=scheduled.pk).state_change_id == latest.pk
    # The run's admin page names it.
    client = Client()
    client.force_login(_superuser())
    page = client.get(reverse("admin:django_housekeeping_taskrun_change", args=[scheduled.pk]))
    assert f"record: schedule (own) → {EVERY_MINUTE} (the system, " in page.content.decode()
