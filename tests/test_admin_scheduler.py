"""The admin of the scheduler's state: pause/schedule overrides (TaskState), the pause and resume
buttons of the tasks page, and the read-only leader lease (SchedulerLease)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_housekeeping import registry
from django_housekeeping.admin.scheduler import format_age
from django_housekeeping.models import SchedulerLease, TaskAlert, TaskState
from django_housekeeping.tasks.plan import planned_jobs

TASKS = "admin:django_housekeeping_tasks"
PAUSE = "admin:django_housekeeping_pause"
STATES = "admin:django_housekeeping_taskstate_changelist"
STATE_ADD = "admin:django_housekeeping_taskstate_add"
LEASES = "admin:django_housekeeping_schedulerlease_changelist"


def state_url(state: TaskState) -> str:
    return reverse("admin:django_housekeeping_taskstate_change", args=[state.pk])


def lease_url(lease: SchedulerLease, view: str = "change") -> str:
    return reverse(f"admin:django_housekeeping_schedulerlease_{view}", args=[lease.pk])


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def row_of(content: str, task: str) -> str:
    """The tasks page's table row of one task."""
    row = content[content.index(f'<tr data-task="{task}">') :]
    return row[: row.index("</tr>")]


def action_names(response: Any) -> set[str]:
    form = response.context["action_form"]
    return {choice[0] for choice in form.fields["action"].choices} - {""} if form else set()


def make_lease(**fields: Any) -> SchedulerLease:
    now = timezone.now()
    defaults: dict[str, Any] = {
        "name": "scheduler",
        "owner": "web-1:4242:0123456789ab",
        "host": "web-1",
        "pid": 4242,
        "token": 7,
        "acquired_at": now - timedelta(minutes=5),
        "heartbeat_at": now - timedelta(seconds=12),
        "expires_at": now + timedelta(seconds=18),
    }
    return SchedulerLease.objects.create(**{**defaults, **fields})


# TaskState: the change list ------------------------------------------------------------------


@pytest.mark.django_db
def test_task_state_changelist_shows_the_effective_schedule(
    admin_client: Client, settings: Any
) -> None:
    settings.HOUSEKEEPING = {"TASKS": {"boom": {"schedule": "15 4 * * *"}}}
    TaskState.objects.create(task_name="threads", paused=True, schedule="30 5 * * *")
    TaskState.objects.create(task_name="record")
    TaskState.objects.create(task_name="boom")
    TaskState.objects.create(task_name="gone")  # its task was removed since

    response = admin_client.get(reverse(STATES))

    assert response.status_code == 200
    content = response.content.decode()
    for header in ["Task", "Paused", "Schedule override", "Effective schedule", "Updated"]:
        assert f">{header}</a>" in content or f"<span>{header}</span>" in content
    assert '<td class="field-schedule_display">30 5 * * *</td>' in content
    assert '<td class="field-schedule_display">—</td>' in content
    effective = [
        '<td class="field-effective_schedule">cron(&#x27;30 5 * * *&#x27;) (set in the admin)</td>',
        '<td class="field-effective_schedule">every(6:00:00)</td>',
        '<td class="field-effective_schedule">cron(&#x27;15 4 * * *&#x27;) (from settings)</td>',
        '<td class="field-effective_schedule">unknown task (not scheduled)</td>',
    ]
    for cell in effective:
        assert cell in content
    # paused is edited in the list itself
    assert 'name="form-0-paused"' in content
    assert [state.task_name for state in response.context["cl"].result_list] == [
        "boom",
        "gone",
        "record",
        "threads",
    ]


@pytest.mark.django_db
def test_task_state_changelist_filters_and_searches(admin_client: Client) -> None:
    TaskState.objects.create(task_name="threads", paused=True)
    TaskState.objects.create(task_name="record")
    url = reverse(STATES)

    def names(params: dict[str, str]) -> list[str]:
        return [s.task_name for s in admin_client.get(url, params).context["cl"].result_list]

    assert names({"paused__exact": "1"}) == ["threads"]
    assert names({"paused__exact": "0"}) == ["record"]
    assert names({"q": "rec"}) == ["record"]


@pytest.mark.django_db
def test_task_state_changelist_edits_paused_in_place(admin_client: Client) -> None:
    threads = TaskState.objects.create(task_name="threads", schedule="30 5 * * *")
    gone = TaskState.objects.create(task_name="gone", schedule="not a cron")  # stale and invalid
    before = threads.updated_at

    response = admin_client.post(
        reverse(STATES),
        {
            "form-TOTAL_FORMS": "2",
            "form-INITIAL_FORMS": "2",
            "form-MIN_NUM_FORMS": "0",
            "form-MAX_NUM_FORMS": "1000",
            "form-0-id": str(gone.pk),
            "form-0-paused": "on",
            "form-1-id": str(threads.pk),
            "form-1-paused": "on",
            "_save": "Save",
        },
    )

    assert response.status_code == 302, response.context["cl"].formset.errors
    threads.refresh_from_db()
    gone.refresh_from_db()
    assert threads.paused is True
    assert threads.schedule == "30 5 * * *"
    assert threads.updated_at > before
    assert gone.paused is True  # a row the scheduler ignores can still be paused
    assert messages_of(response) == ["2 task states were changed successfully."]


# TaskState: actions --------------------------------------------------------------------------


def post_action(client: Client, action: str, states: list[TaskState]) -> Any:
    return client.post(
        reverse(STATES),
        {"action": action, "_selected_action": [state.pk for state in states], "index": "0"},
    )


@pytest.mark.django_db
def test_pause_action_pauses_the_selected_tasks_and_tells_the_scheduler(
    admin_client: Client,
) -> None:
    threads = TaskState.objects.create(task_name="threads")
    record = TaskState.objects.create(task_name="record", paused=True)
    nightly = TaskState.objects.create(task_name="nightly")
    untouched = TaskState.objects.create(task_name="boom")
    long_ago = timezone.now() - timedelta(days=1)
    TaskState.objects.update(updated_at=long_ago)
    assert not any(planned_jobs()[name].paused for name in ("threads", "nightly"))

    response = post_action(admin_client, "pause", [threads, record, nightly])

    assert response.status_code == 302
    assert response.url == reverse(STATES)
    assert set(TaskState.objects.filter(paused=True).values_list("task_name", flat=True)) == {
        "threads",
        "record",
        "nightly",
    }
    # update() skips auto_now: the action sets updated_at itself, which is what the scheduler
    # polls for; the rows it did not change keep theirs.
    updated = dict(TaskState.objects.values_list("task_name", "updated_at"))
    assert updated["threads"] > long_ago
    assert updated["nightly"] > long_ago
    assert updated["record"] == long_ago
    untouched.refresh_from_db()
    assert untouched.updated_at == long_ago
    assert messages_of(response) == [
        "Paused 2 tasks. 1 was already paused. The scheduler picks this up within seconds."
    ]
    planned = planned_jobs()  # kept in the job store, their slots recorded skipped
    assert planned["threads"].paused
    assert planned["nightly"].paused


@pytest.mark.django_db
def test_resume_action_resumes_the_selected_tasks(admin_client: Client) -> None:
    # A read-only task resumes at once (a destructive one asks its dry run's confirmation first:
    # tests/test_state_changes.py).
    record = TaskState.objects.create(task_name="record", paused=True, schedule="30 5 * * *")
    threads = TaskState.objects.create(task_name="threads", paused=True)
    assert planned_jobs()["record"].paused

    response = post_action(admin_client, "resume", [record])

    assert response.status_code == 302
    threads.refresh_from_db()
    record.refresh_from_db()
    assert record.paused is False
    assert record.schedule == "30 5 * * *"  # resuming keeps the schedule override
    assert threads.paused is True
    assert messages_of(response) == ["Resumed 1 task. The scheduler picks this up within seconds."]
    assert str(planned_jobs()["record"].schedule) == "cron('30 5 * * *')"
    assert not planned_jobs()["record"].paused


@pytest.mark.django_db
def test_resume_action_on_tasks_not_paused_changes_nothing(admin_client: Client) -> None:
    threads = TaskState.objects.create(task_name="threads")
    record = TaskState.objects.create(task_name="record")

    response = post_action(admin_client, "resume", [threads, record])

    [message] = list(get_messages(response.wsgi_request))
    assert message.level_tag == "info"
    assert str(message) == "Resumed 0 tasks. 2 were not paused."


@pytest.mark.django_db
def test_task_state_actions_are_offered_to_a_superuser(admin_client: Client) -> None:
    TaskState.objects.create(task_name="threads")

    response = admin_client.get(reverse(STATES))

    choices = dict(response.context["action_form"].fields["action"].choices)
    assert choices["pause"] == "Pause the selected tasks"
    assert choices["resume"] == "Resume the selected tasks"
    assert "delete_selected" in choices  # deleting an override returns the task to its schedule


# TaskState: permissions ----------------------------------------------------------------------


@pytest.mark.django_db
def test_staff_who_may_only_view_get_no_actions_and_no_editing(
    staff_client: Any,
) -> None:
    client, _ = staff_client("view_taskrun", "view_taskstate", "change_taskrun")
    state = TaskState.objects.create(task_name="threads")

    response = client.get(reverse(STATES))

    assert response.status_code == 200
    assert action_names(response) == set()
    content = response.content.decode()
    assert 'name="action"' not in content
    assert 'name="form-0-paused"' not in content  # no list_editable without change permission
    assert 'name="_save"' not in content
    refused = post_action(client, "pause", [state])
    assert refused.status_code == 200  # an unknown action: nothing done
    state.refresh_from_db()
    assert state.paused is False
    assert client.get(reverse(STATE_ADD)).status_code == 403
    assert client.post(state_url(state), {"paused": "on", "schedule": ""}).status_code == 403
    state.refresh_from_db()
    assert state.paused is False


@pytest.mark.django_db
def test_staff_who_may_change_task_states_can_pause(staff_client: Any, admin_user: Any) -> None:
    client, user = staff_client("change_taskstate")
    state = TaskState.objects.create(task_name="threads", updated_by=admin_user)

    response = client.get(reverse(STATES))

    # Resuming starts the task's work: it needs run_task too (tests/test_state_changes.py).
    assert action_names(response) == {"pause", "delete_selected"}
    assert post_action(client, "pause", [state]).status_code == 302
    state.refresh_from_db()
    assert state.paused is True
    assert state.updated_by == user  # the control layer records who asked


@pytest.mark.django_db
def test_staff_without_task_state_permissions_see_nothing(staff_client: Any) -> None:
    client, _ = staff_client("run_task", "view_taskstate", "delete_taskstate")
    state = TaskState.objects.create(task_name="threads")

    assert client.get(reverse(STATES)).status_code == 403
    assert client.get(state_url(state)).status_code == 403
    assert post_action(client, "pause", [state]).status_code == 403
    state.refresh_from_db()
    assert state.paused is False


# TaskState: the form -------------------------------------------------------------------------


@pytest.mark.django_db
def test_add_form_offers_the_registered_tasks_and_groups_but_not_all(
    admin_client: Client,
) -> None:
    response = admin_client.get(reverse(STATE_ADD))

    assert response.status_code == 200
    field = response.context["adminform"].form.fields["task_name"]
    values = [value for value, _ in field.choices]
    assert values == ["", *(task.name for task in registry)]
    assert "nightly" in values  # a group
    assert "all" not in values
    assert dict(field.choices)["nightly"] == "nightly (group)"
    content = response.content.decode()
    assert '<select name="task_name" required id="id_task_name">' in content
    assert "effective_schedule" not in response.context["adminform"].form.fields
    assert "field-effective_schedule" not in content  # nothing to show before the task is chosen


@pytest.mark.django_db
def test_add_form_prefills_the_task_from_the_query_string(admin_client: Client) -> None:
    response = admin_client.get(reverse(STATE_ADD), {"task_name": "record"})

    assert '<option value="record" selected>record</option>' in response.content.decode()


@pytest.mark.django_db
def test_adding_an_override(admin_client: Client) -> None:
    response = admin_client.post(
        reverse(STATE_ADD), {"task_name": "record", "schedule": "  30   5 * *  mon ", "paused": ""}
    )

    # A read-only task: no confirmation step (a destructive one: tests/test_state_changes.py).
    assert response.status_code == 302
    state = TaskState.objects.get()
    assert state.task_name == "record"
    assert state.paused is False
    assert state.schedule == "30 5 * * mon"  # whitespace tidied
    assert str(planned_jobs()["record"].schedule) == "cron('30 5 * * mon')"


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["nope", "all", ""])
def test_an_unknown_task_cannot_be_chosen(admin_client: Client, name: str) -> None:
    response = admin_client.post(reverse(STATE_ADD), {"task_name": name, "schedule": ""})

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    expected = "This field is required." if not name else "Select a valid choice."
    assert errors["task_name"][0].startswith(expected)
    assert not TaskState.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        (
            "every tuesday",
            "cron expression &#x27;every tuesday&#x27; must have 5 fields "
            "(minute hour day month day_of_week), got 2",
        ),
        ("61 * * * *", "invalid cron expression &#x27;61 * * * *&#x27;"),
        ("0 3 * * funday", "invalid cron expression &#x27;0 3 * * funday&#x27;"),
    ],
)
def test_an_invalid_cron_expression_is_refused_with_a_message(
    admin_client: Client, schedule: str, message: str
) -> None:
    response = admin_client.post(reverse(STATE_ADD), {"task_name": "threads", "schedule": schedule})

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["schedule"]
    content = response.content.decode()
    assert 'class="errorlist' in content
    assert message in content
    assert not TaskState.objects.exists()


@pytest.mark.django_db
def test_a_task_has_one_override(admin_client: Client) -> None:
    TaskState.objects.create(task_name="threads")

    response = admin_client.post(reverse(STATE_ADD), {"task_name": "threads", "schedule": ""})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["task_name"] == [
        "Task state with this Task already exists."
    ]
    assert TaskState.objects.count() == 1


@pytest.mark.django_db
def test_change_form_keeps_the_task_and_changes_the_schedule(admin_client: Client) -> None:
    state = TaskState.objects.create(task_name="threads")
    before = state.updated_at

    page = admin_client.get(state_url(state))
    response = admin_client.post(
        state_url(state), {"task_name": "record", "schedule": "0 4 * * *", "paused": "on"}
    )

    content = page.content.decode()
    assert '<select name="task_name" required disabled id="id_task_name">' in content
    assert '<div class="readonly">cron(&#x27;0 3 * * sun&#x27;)</div>' in content
    assert response.status_code == 302
    state.refresh_from_db()
    assert state.task_name == "threads"  # the disabled field ignores what was posted
    assert state.schedule == "0 4 * * *"
    assert state.paused is True
    assert state.updated_at > before
    assert not TaskState.objects.filter(task_name="record").exists()
    after = admin_client.get(state_url(state)).content.decode()
    assert '<div class="readonly">cron(&#x27;0 4 * * *&#x27;) (set in the admin)</div>' in after


@pytest.mark.django_db
def test_change_form_of_an_invalid_stored_schedule_says_so(admin_client: Client) -> None:
    state = TaskState.objects.create(task_name="record", schedule="0 3 * *")

    content = admin_client.get(state_url(state)).content.decode()
    fixed = admin_client.post(state_url(state), {"schedule": "0 3 * * *"})

    assert "invalid admin schedule: cron expression &#x27;0 3 * *&#x27; must have 5" in content
    assert fixed.status_code == 302
    state.refresh_from_db()
    assert state.schedule == "0 3 * * *"


@pytest.mark.django_db
def test_change_form_of_a_task_no_longer_registered(admin_client: Client) -> None:
    state = TaskState.objects.create(task_name="gone")

    page = admin_client.get(state_url(state))
    refused = admin_client.post(state_url(state), {"schedule": "", "paused": "on"})

    assert page.status_code == 200
    assert '<option value="gone" selected>gone (not registered)</option>' in (page.content.decode())
    assert refused.status_code == 200
    [error] = refused.context["adminform"].form.errors["task_name"]
    assert error.startswith("Unknown task 'gone'; valid tasks: boom, dormant")
    state.refresh_from_db()
    assert state.paused is False
    delete = reverse("admin:django_housekeeping_taskstate_delete", args=[state.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 302
    assert not TaskState.objects.exists()


# the tasks page: pause and resume ------------------------------------------------------------


@pytest.mark.django_db
def test_tasks_page_shows_paused_and_a_pause_or_resume_button(admin_client: Client) -> None:
    TaskState.objects.create(task_name="threads", paused=True)
    TaskState.objects.create(task_name="record", paused=False, schedule="0 4 * * *")

    response = admin_client.get(reverse(TASKS))

    assert response.context["can_pause"] is True
    content = response.content.decode()
    assert '<th scope="col">Paused</th>' in content
    threads = row_of(content, "threads")
    assert '<td class="paused">yes' in threads
    assert f'action="{reverse(PAUSE)}"' in threads
    assert 'name="csrfmiddlewaretoken"' in threads
    assert '<button type="submit" name="paused" value="0" aria-label="Resume threads">' in threads
    assert 'value="1"' not in threads[threads.index(reverse(PAUSE)) : threads.index("</form>")]
    record = row_of(content, "record")
    assert '<td class="paused">no' in record
    assert '<button type="submit" name="paused" value="1" aria-label="Pause record">' in record
    assert "<td>cron(&#x27;0 4 * * *&#x27;) (set in the admin)</td>" in record
    assert '<button type="submit" name="paused" value="1" aria-label="Pause nightly">' in (
        row_of(content, "nightly")
    )
    assert f'<a href="{reverse(STATES)}">Pauses and schedule overrides</a>' in content


@pytest.mark.django_db
def test_tasks_page_shows_where_the_effective_schedule_comes_from(
    admin_client: Client, settings: Any
) -> None:
    settings.HOUSEKEEPING = {
        "TASKS": {"boom": {"schedule": "15 4 * * *"}, "record": {"schedule": "15 4 * * *"}}
    }
    TaskState.objects.create(task_name="record", schedule="45 6 * * *")  # admin beats settings
    TaskState.objects.create(task_name="nightly", schedule="61 * * * *")  # stored invalid

    content = admin_client.get(reverse(TASKS)).content.decode()

    assert "<td>cron(&#x27;0 3 * * sun&#x27;)</td>" in row_of(content, "threads")  # the code's
    assert "<td>cron(&#x27;15 4 * * *&#x27;) (from settings)</td>" in row_of(content, "boom")
    assert "<td>cron(&#x27;45 6 * * *&#x27;) (set in the admin)</td>" in row_of(content, "record")
    assert "<td>invalid admin schedule: invalid cron expression &#x27;61 * * * *&#x27;" in (
        row_of(content, "nightly")
    )


@pytest.mark.django_db
def test_pause_button_creates_the_state_and_resume_updates_it(admin_client: Client) -> None:
    paused = admin_client.post(reverse(PAUSE), {"task": "record", "paused": "1"})

    assert paused.status_code == 302
    assert paused.url == reverse(TASKS)
    state = TaskState.objects.get()
    assert state.task_name == "record"
    assert state.paused is True
    assert messages_of(paused) == ["Paused record. The scheduler picks this up within seconds."]
    assert planned_jobs()["record"].paused
    paused_at = state.updated_at

    resumed = admin_client.post(reverse(PAUSE), {"task": "record", "paused": "0"}, follow=True)

    state.refresh_from_db()
    assert state.paused is False
    assert state.updated_at > paused_at
    assert TaskState.objects.count() == 1
    assert resumed.redirect_chain == [(reverse(TASKS), 302)]
    content = resumed.content.decode()
    assert "Resumed record. The scheduler picks this up within seconds." in content
    assert '<td class="paused">no' in row_of(content, "record")
    assert not planned_jobs()["record"].paused


@pytest.mark.django_db
def test_pause_button_keeps_the_schedule_override(admin_client: Client) -> None:
    TaskState.objects.create(task_name="nightly", schedule="0 4 * * *")

    admin_client.post(reverse(PAUSE), {"task": "nightly", "paused": "1"})

    state = TaskState.objects.get()
    assert state.paused is True
    assert state.schedule == "0 4 * * *"


@pytest.mark.django_db
def test_pause_and_resume_buttons_when_nothing_changes(admin_client: Client) -> None:
    TaskState.objects.create(task_name="threads", paused=True)

    again = admin_client.post(reverse(PAUSE), {"task": "threads", "paused": "1"}, follow=True)
    not_paused = admin_client.post(reverse(PAUSE), {"task": "record", "paused": "0"}, follow=True)

    assert (
        '<li class="info">Nothing to do: threads was already paused.</li>' in again.content.decode()
    )
    assert (
        '<li class="info">Nothing to do: record was not paused.</li>' in not_paused.content.decode()
    )
    assert list(TaskState.objects.values_list("task_name", "paused")) == [("threads", True)]


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["nope", "all", ""])
def test_pause_button_of_an_unknown_task_writes_nothing(admin_client: Client, name: str) -> None:
    response = admin_client.post(reverse(PAUSE), {"task": name, "paused": "1"})

    assert response.status_code == 302
    assert not TaskState.objects.exists()
    [message] = list(get_messages(response.wsgi_request))
    assert message.level_tag == "error"
    assert str(message).startswith(f"Unknown task {name!r}; valid tasks: boom, dormant")


@pytest.mark.django_db
def test_pause_view_needs_post(admin_client: Client) -> None:
    assert admin_client.get(reverse(PAUSE), {"task": "threads", "paused": "1"}).status_code == 405
    assert not TaskState.objects.exists()


@pytest.mark.django_db
def test_pause_view_checks_csrf(admin_user: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)

    refused = client.post(reverse(PAUSE), {"task": "threads", "paused": "1"})
    assert refused.status_code == 403
    assert not TaskState.objects.exists()

    token = client.get(reverse(TASKS)).context["csrf_token"]
    accepted = client.post(
        reverse(PAUSE), {"task": "threads", "paused": "1", "csrfmiddlewaretoken": str(token)}
    )
    assert accepted.status_code == 302
    assert TaskState.objects.get().paused is True


@pytest.mark.django_db
def test_staff_without_the_change_permission_cannot_pause(staff_client: Any) -> None:
    client, _ = staff_client("view_taskrun", "run_task", "view_taskstate", "add_taskstate")

    page = client.get(reverse(TASKS))
    refused = client.post(reverse(PAUSE), {"task": "threads", "paused": "1"})

    assert page.status_code == 200
    assert page.context["can_pause"] is False
    content = page.content.decode()
    assert '<th scope="col">Paused</th>' in content  # shown, without buttons
    assert '<td class="paused">no</td>' in row_of(content, "threads")
    assert reverse(PAUSE) not in content
    assert f'<a href="{reverse(STATES)}">' in content  # may view the overrides
    assert refused.status_code == 403
    assert not TaskState.objects.exists()


@pytest.mark.django_db
def test_staff_with_the_change_permission_can_pause(staff_client: Any) -> None:
    client, _ = staff_client("view_taskrun", "change_taskstate")

    page = client.get(reverse(TASKS))
    response = client.post(reverse(PAUSE), {"task": "record", "paused": "1"})

    assert page.context["can_pause"] is True
    assert page.context["can_run"] is False
    assert '<button type="submit" name="paused" value="1" aria-label="Pause record">' in (
        page.content.decode()
    )
    assert response.status_code == 302
    assert TaskState.objects.get(task_name="record").paused is True


@pytest.mark.django_db
def test_whoever_sees_the_tasks_sees_the_overrides_link(staff_client: Any) -> None:
    client, _ = staff_client("view_taskrun")

    response = client.get(reverse(TASKS))

    assert response.context["states_url"] == reverse(STATES)
    assert reverse(STATES) in response.content.decode()


@pytest.mark.django_db
def test_anonymous_users_cannot_pause(client: Client) -> None:
    response = client.post(reverse(PAUSE), {"task": "threads", "paused": "1"})

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))
    assert not TaskState.objects.exists()


# SchedulerLease: read-only -------------------------------------------------------------------


@pytest.mark.django_db
def test_lease_changelist_shows_the_lease_and_its_health(admin_client: Client) -> None:
    make_lease()

    response = admin_client.get(reverse(LEASES))

    assert response.status_code == 200
    content = response.content.decode()
    for header in [
        "Name",
        "Owner",
        "Host",
        "Pid",
        "Fencing token",
        "Acquired",
        "Last heartbeat",
        "Expires",
        "Healthy",
        "Lease age",
    ]:
        assert f">{header}</a>" in content or f"<span>{header}</span>" in content, header
    assert '<td class="field-owner">web-1:4242:0123456789ab</td>' in content
    assert '<td class="field-host">web-1</td>' in content
    assert '<td class="field-pid">4242</td>' in content
    assert '<td class="field-token">7</td>' in content
    assert '<td class="field-healthy"><img src="' in content
    assert 'icon-yes.svg" alt="True"></td>' in content
    assert '<td class="field-lease_age">12 s</td>' in content
    assert action_names(response) == set()  # no delete_selected


@pytest.mark.django_db
def test_lease_times_are_shown_to_the_second_with_the_time_left(admin_client: Client) -> None:
    lease = make_lease()

    content = admin_client.get(reverse(LEASES)).content.decode()

    for field in ("acquired", "heartbeat"):
        instant = timezone.localtime(getattr(lease, f"{field}_at"))
        assert f'<td class="field-{field}">{instant:%Y-%m-%d %H:%M:%S}</td>' in content
    expires = f"{timezone.localtime(lease.expires_at):%Y-%m-%d %H:%M:%S}"
    # 18 s left when it was written; a second may have gone by since.
    assert re.search(rf'<td class="field-expires">{expires} \(expires in 1[78] s\)</td>', content)


@pytest.mark.django_db
def test_an_expired_lease_is_not_healthy(admin_client: Client) -> None:
    now = timezone.now()
    make_lease(
        heartbeat_at=now - timedelta(minutes=3, seconds=20),
        expires_at=now - timedelta(minutes=2, seconds=50),
    )

    content = admin_client.get(reverse(LEASES)).content.decode()

    assert 'icon-no.svg" alt="False"></td>' in content
    assert '<td class="field-lease_age">3 min 20 s</td>' in content
    assert re.search(r"\(expired 2 min 5[01] s ago\)</td>", content)


@pytest.mark.django_db
def test_a_released_lease_is_not_healthy(admin_client: Client) -> None:
    # Lease.release() empties the owner; a lease nobody holds is not a healthy scheduler.
    make_lease(owner="", expires_at=timezone.now() + timedelta(seconds=5))

    content = admin_client.get(reverse(LEASES)).content.decode()

    assert 'icon-no.svg" alt="False"></td>' in content


@pytest.mark.django_db
def test_a_lease_never_held_has_no_age(admin_client: Client) -> None:
    make_lease(owner="", host="", pid=None, token=0, acquired_at=None, heartbeat_at=None)

    content = admin_client.get(reverse(LEASES)).content.decode()

    assert '<td class="field-lease_age">—</td>' in content
    assert '<td class="field-acquired">—</td>' in content


@pytest.mark.django_db
def test_lease_change_page_is_read_only(admin_client: Client) -> None:
    lease = make_lease()

    response = admin_client.get(lease_url(lease))

    assert response.status_code == 200
    content = response.content.decode()
    assert 'name="_save"' not in content
    assert 'name="owner"' not in content
    assert '<div class="readonly">web-1:4242:0123456789ab</div>' in content
    assert '<div class="readonly">12 s</div>' in content
    assert 'icon-yes.svg" alt="True">' in content
    assert "deletelink" not in content


@pytest.mark.django_db
def test_lease_cannot_be_added_changed_or_deleted(admin_client: Client) -> None:
    lease = make_lease()
    add = reverse("admin:django_housekeeping_schedulerlease_add")

    assert admin_client.get(add).status_code == 403
    assert admin_client.post(add, {"name": "mine", "expires_at": "2030-01-01"}).status_code == 403
    changed = admin_client.post(lease_url(lease), {"owner": "me", "token": "99"})
    assert changed.status_code == 403
    assert admin_client.get(lease_url(lease, "delete")).status_code == 403
    assert admin_client.post(lease_url(lease, "delete"), {"post": "yes"}).status_code == 403
    bulk = admin_client.post(
        reverse(LEASES), {"action": "delete_selected", "_selected_action": [lease.pk]}
    )
    assert bulk.status_code == 200  # no actions at all: the post just shows the list
    assert list(SchedulerLease.objects.values_list("name", "owner", "token")) == [
        ("scheduler", "web-1:4242:0123456789ab", 7)
    ]


@pytest.mark.django_db
def test_lease_admin_permissions(staff_client: Any) -> None:
    lease = make_lease()
    viewer, _ = staff_client("view_taskrun")  # seeing the history is seeing the scheduler
    nobody, _ = staff_client("view_schedulerlease", "run_task")

    assert viewer.get(reverse(LEASES)).status_code == 200
    assert viewer.get(lease_url(lease)).status_code == 200
    assert nobody.get(reverse(LEASES)).status_code == 403
    assert nobody.get(lease_url(lease)).status_code == 403


@pytest.mark.parametrize(
    ("age", "text"),
    [
        (timedelta(0), "0 s"),
        (timedelta(seconds=-3), "0 s"),  # a clock a little ahead of the database's
        (timedelta(seconds=59.9), "59 s"),
        (timedelta(minutes=3, seconds=5), "3 min 5 s"),
        (timedelta(hours=2, minutes=10, seconds=7), "2 h 10 min"),
        (timedelta(days=3, hours=4, minutes=1), "3 d 4 h"),
    ],
)
def test_format_age(age: timedelta, text: str) -> None:
    assert format_age(age) == text


# alerts: read-only, for those who may see the history ----------------------------------------


@pytest.mark.django_db
def test_alerts_are_read_only_for_viewers(staff_client: Any) -> None:
    alert = TaskAlert.objects.create(
        task_name="boom", kind="failed", reason="run #1 failed", opened_at=timezone.now()
    )
    viewer, _ = staff_client("view_taskrun")
    outsider, _ = staff_client()

    listing = viewer.get("/admin/django_housekeeping/taskalert/")

    assert listing.status_code == 200
    assert outsider.get("/admin/django_housekeeping/taskalert/").status_code == 403
    assert viewer.get("/admin/django_housekeeping/taskalert/add/").status_code == 403
    assert b"run #1 failed" in listing.content
    page = viewer.get(f"/admin/django_housekeeping/taskalert/{alert.pk}/change/")
    assert page.status_code == 200
    assert b"Save" not in page.content
