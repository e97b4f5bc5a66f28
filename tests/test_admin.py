"""The admin: read-only run history with filters, search and "run again" actions; the tasks page."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from django_housekeeping import registry, run_task
from django_housekeeping.admin.runs import CappedCountPaginator
from django_housekeeping.models import TaskRun
from tests.helpers import make_run
from tests.testapp.models import SlotRecord, Thread

CHANGELIST = "admin:django_housekeeping_taskrun_changelist"
TASKS = "admin:django_housekeeping_tasks"
RUN = "admin:django_housekeeping_run"


def change_url(run: TaskRun) -> str:
    return reverse("admin:django_housekeeping_taskrun_change", args=[run.pk])


def listed(response: Any) -> list[int]:
    return [run.pk for run in response.context["cl"].result_list]


def summary_cell(summary: str) -> str:
    """The change list's result cell: the line, cut by CSS, whole in its tooltip."""
    return (
        f'<td class="field-summary"><span class="housekeeping-summary" title="{summary}">'
        f"{summary}</span></td>"
    )


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# the run history -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_changelist_loads_and_shows_the_columns(admin_client: Client) -> None:
    make_run(
        "threads", age=timedelta(minutes=10), result={"deleted": {"testapp.Thread": 3}, "total": 3}
    )
    boom = make_run(
        "boom",
        age=timedelta(minutes=5),
        status=TaskRun.Status.FAILED,
        error="Traceback (most recent call last):\nRuntimeError: boom: the database said no\n",
    )

    response = admin_client.get(reverse(CHANGELIST))

    assert response.status_code == 200
    content = response.content.decode()
    for header in ["Task", "Status", "Started", "Duration", "Trigger", "Result"]:
        assert f">{header}</a>" in content or f"<span>{header}</span>" in content
    assert summary_cell("deleted 3 (testapp.Thread 3)") in content
    assert summary_cell("RuntimeError: boom: the database said no") in content
    assert '<td class="field-duration_display">2.00 s</td>' in content
    started = f"{timezone.localtime(boom.started_at):%Y-%m-%d %H:%M:%S}"
    assert f'<td class="field-started_display">{started}</td>' in content
    assert reverse(TASKS) in content  # the "Registered tasks" link


@pytest.mark.django_db
def test_changelist_says_a_dry_run_in_its_status_and_who_started_a_run(
    admin_client: Client, admin_user: Any
) -> None:
    make_run("threads", dry_run=True, trigger=TaskRun.Trigger.ADMIN, triggered_by=admin_user)

    content = admin_client.get(reverse(CHANGELIST)).content.decode()

    assert '<td class="field-status_display">succeeded (dry run)</td>' in content
    assert f'<td class="field-trigger_display">admin ({admin_user.username})</td>' in content


@pytest.mark.django_db
def test_changelist_of_an_empty_history(admin_client: Client) -> None:
    response = admin_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    assert listed(response) == []


@pytest.mark.django_db
def test_the_duration_of_an_unfinished_run_is_a_dash(admin_client: Client) -> None:
    make_run("threads", duration=None, status=TaskRun.Status.RUNNING)

    content = admin_client.get(reverse(CHANGELIST)).content.decode()

    assert '<td class="field-duration_display">—</td>' in content


@pytest.mark.django_db
def test_changelist_sorts_by_duration(admin_client: Client) -> None:
    slow = make_run("threads", duration=timedelta(seconds=5))
    fast = make_run("threads", duration=timedelta(seconds=1))
    middle = make_run("threads", duration=timedelta(seconds=3))
    # The changelist numbers its columns after the action checkbox.
    column = 1 + admin.site.get_model_admin(TaskRun).list_display.index("duration_display")

    ascending = admin_client.get(reverse(CHANGELIST), {"o": str(column)})
    descending = admin_client.get(reverse(CHANGELIST), {"o": f"-{column}"})

    assert listed(ascending) == [fast.pk, middle.pk, slow.pk]
    assert listed(descending) == [slow.pk, middle.pk, fast.pk]


@pytest.mark.django_db
def test_changelist_filters(admin_client: Client) -> None:
    succeeded = make_run("threads", age=timedelta(minutes=1))
    failed = make_run("boom", age=timedelta(minutes=2), status=TaskRun.Status.FAILED)
    by_cli = make_run("record", age=timedelta(minutes=3), trigger=TaskRun.Trigger.CLI)
    dry = make_run("threads", age=timedelta(minutes=4), dry_run=True)
    last_year = make_run("threads", age=timedelta(minutes=60 * 24 * 400))
    url = reverse(CHANGELIST)

    response = admin_client.get(url)
    assert [spec.title for spec in response.context["cl"].filter_specs] == [
        "status",
        "trigger",
        "dry run",
        "started",
        "task",
    ]
    assert listed(admin_client.get(url, {"status__exact": "failed"})) == [failed.pk]
    assert listed(admin_client.get(url, {"trigger__exact": "cli"})) == [by_cli.pk]
    assert listed(admin_client.get(url, {"dry_run__exact": "1"})) == [dry.pk]
    assert listed(admin_client.get(url, {"task_name": "threads"})) == [
        succeeded.pk,
        dry.pk,
        last_year.pk,
    ]
    changelist = response.context["cl"]
    [started_filter] = [spec for spec in changelist.filter_specs if spec.title == "started"]
    links = {
        str(choice["display"]): choice["query_string"]
        for choice in started_filter.choices(changelist)
    }
    past_week = listed(admin_client.get(url + links["Past 7 days"]))
    assert past_week == [succeeded.pk, failed.pk, by_cli.pk, dry.pk]
    assert len(listed(admin_client.get(url + links["Any date"]))) == 5


@pytest.mark.django_db
def test_changelist_task_filter_offers_the_registered_tasks(admin_client: Client) -> None:
    # Read from the registry, not from a DISTINCT over the history: tasks that never ran too.
    make_run("threads")

    response = admin_client.get(reverse(CHANGELIST))

    [task_filter] = [spec for spec in response.context["cl"].filter_specs if spec.title == "task"]
    assert [value for value, _label in task_filter.lookup_choices] == sorted(
        task.name for task in registry
    )


@pytest.mark.django_db
def test_changelist_task_filter_keeps_a_task_no_longer_registered(admin_client: Client) -> None:
    gone = make_run("gone-task")
    make_run("threads")

    response = admin_client.get(reverse(CHANGELIST), {"task_name": "gone-task"})

    assert listed(response) == [gone.pk]
    [task_filter] = [spec for spec in response.context["cl"].filter_specs if spec.title == "task"]
    assert ("gone-task", "gone-task") in task_filter.lookup_choices


@pytest.mark.django_db
def test_changelist_counts_the_history_up_to_a_limit(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(CappedCountPaginator, "limit", 3)
    runs = [make_run("threads", age=timedelta(minutes=n)) for n in range(5)]

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(reverse(CHANGELIST))

    assert listed(response) == [run.pk for run in runs]
    assert "more than 3 task runs" in response.content.decode()
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts  # the paginator's, of a LIMITed subquery: never the whole history
    assert all("LIMIT" in sql.upper() for sql in counts), counts
    assert not [q["sql"] for q in queries.captured_queries if "DISTINCT" in q["sql"].upper()]


@pytest.mark.django_db
def test_changelist_under_the_limit_says_how_many(admin_client: Client) -> None:
    make_run("threads")
    make_run("boom")

    content = admin_client.get(reverse(CHANGELIST)).content.decode()

    assert "2 task runs" in content
    assert "more than" not in content


@pytest.mark.django_db
def test_changelist_search(admin_client: Client) -> None:
    threads = make_run("threads", age=timedelta(minutes=1))
    boom = make_run(
        "boom",
        age=timedelta(minutes=2),
        status=TaskRun.Status.FAILED,
        error="RuntimeError: boom: the database said no",
    )
    elsewhere = make_run("record", age=timedelta(minutes=3), host="worker-7")
    url = reverse(CHANGELIST)

    assert listed(admin_client.get(url, {"q": "threads"})) == [threads.pk]
    assert listed(admin_client.get(url, {"q": "database said"})) == [boom.pk]
    assert listed(admin_client.get(url, {"q": "worker-7"})) == [elsewhere.pk]
    assert listed(admin_client.get(url, {"q": "nothing like this"})) == []


# read-only -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_runs_cannot_be_added(admin_client: Client) -> None:
    assert admin_client.get(reverse("admin:django_housekeeping_taskrun_add")).status_code == 403
    response = admin_client.post(
        reverse("admin:django_housekeeping_taskrun_add"),
        {"task_name": "threads", "trigger": "cli", "status": "succeeded"},
    )
    assert response.status_code == 403
    assert not TaskRun.objects.exists()


@pytest.mark.django_db
def test_change_page_is_read_only(admin_client: Client) -> None:
    run = make_run("threads")

    response = admin_client.get(change_url(run))

    assert response.status_code == 200
    content = response.content.decode()
    assert 'name="_save"' not in content
    assert 'name="_continue"' not in content
    assert 'name="_addanother"' not in content
    assert 'class="closelink"' in content
    assert 'name="task_name"' not in content  # no editable field


@pytest.mark.django_db
def test_posting_the_change_page_changes_nothing(admin_client: Client) -> None:
    run = make_run("threads")

    response = admin_client.post(
        change_url(run), {"task_name": "hacked", "status": "failed", "trigger": "cli"}
    )

    assert response.status_code == 403
    run.refresh_from_db()
    assert run.task_name == "threads"
    assert run.status == TaskRun.Status.SUCCEEDED


@pytest.mark.django_db
def test_runs_cannot_be_deleted(admin_client: Client) -> None:
    run = make_run("threads")

    url = reverse("admin:django_housekeeping_taskrun_delete", args=[run.pk])
    assert admin_client.get(url).status_code == 403
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    response = admin_client.post(
        reverse(CHANGELIST), {"action": "delete_selected", "_selected_action": [run.pk]}
    )
    assert response.status_code == 302  # the unknown action is refused: "No action selected."
    assert TaskRun.objects.filter(pk=run.pk).exists()
    changelist = admin_client.get(reverse(CHANGELIST))
    actions = [choice[0] for choice in changelist.context["action_form"].fields["action"].choices]
    assert "delete_selected" not in actions


@pytest.mark.django_db
def test_change_page_shows_the_result_as_pretty_json(admin_client: Client) -> None:
    Thread.objects.create(title="old", created_at=timezone.now() - timedelta(days=40))
    run = run_task("threads")

    content = admin_client.get(change_url(run)).content.decode()

    # Indented, keys sorted, HTML-escaped.
    assert (
        "  &quot;deleted&quot;: {\n"
        "    &quot;testapp.Thread&quot;: 1\n"
        "  },\n"
        "  &quot;dropped_partitions&quot;: [],\n"
        "  &quot;dry_run&quot;: false,\n"
    ) in content
    assert "  &quot;total&quot;: 1\n}</pre>" in content
    assert "<pre>{\n  &quot;archive&quot;: null,\n" in content
    assert f"{run.duration_seconds:.2f} s" in content


def between(content: str, start: str, end: str) -> str:
    """The part of ``content`` from ``start`` to the next ``end``."""
    part = content[content.index(start) :]
    return part[: part.index(end) + len(end)]


def squeezed(html: str) -> str:
    """``html`` without the whitespace between its tags."""
    return re.sub(r">\s+<", "><", html)


@pytest.mark.django_db
def test_change_page_lays_a_purge_out_per_model(admin_client: Client) -> None:
    result = {
        "deleted": {"testapp.Thread": 3, "testapp.Post": 7},
        "total": 10,
        "dry_run": False,
        "protected": {"testapp.Thread": 2},
        "partial": True,
        "archive": "archives/testapp.thread-1.jsonl.gz",
    }
    run = make_run("threads", result=result)

    content = squeezed(admin_client.get(change_url(run)).content.decode())

    table = between(content, '<table class="housekeeping-models">', "</table>")
    assert (
        '<thead><tr><th scope="col">Model</th><th scope="col">Deleted</th>'
        '<th scope="col">Protected</th><th scope="col">Held</th></tr></thead>'
    ) in table
    assert (
        '<tr><td>testapp.Post</td><td class="count">7</td><td class="count">0</td>'
        '<td class="count">0</td></tr>'
        '<tr><td>testapp.Thread</td><td class="count">3</td><td class="count">2</td>'
        '<td class="count">0</td></tr>'
    ) in table
    assert '<th scope="row">Total</th><td class="count">10</td>' in table
    assert "Archive file: <code>archives/testapp.thread-1.jsonl.gz</code>" in content
    assert '<p class="housekeeping-partial">Partial: the purge stopped' in content
    # The raw JSON, behind a toggle that starts closed.
    assert (
        '<details class="housekeeping-raw"><summary>Raw JSON</summary><pre>{\n'
        "  &quot;archive&quot;: &quot;archives/testapp.thread-1.jsonl.gz&quot;,"
    ) in content


@pytest.mark.django_db
def test_change_page_lists_the_dropped_partitions_and_why_others_went_by_batches(
    admin_client: Client,
) -> None:
    result = {
        "deleted": {"testapp.Reading": 812_350},
        "total": 812_350,
        "dropped_partitions": [{"name": "testapp_reading_2025_01", "rows": 812_345}],
        "partitions": "batched testapp_reading_2025_02: rows on both sides of the cutoff",
    }
    run = make_run("threads", result=result)

    content = squeezed(admin_client.get(change_url(run)).content.decode())

    assert (
        '<ul class="housekeeping-partitions"><li>dropped partition testapp_reading_2025_01 '
        "(≈812,345 rows)</li></ul>"
    ) in content
    assert (
        '<p class="housekeeping-partitions-note">batched testapp_reading_2025_02: rows on both '
        "sides of the cutoff</p>"
    ) in content


@pytest.mark.django_db
def test_change_page_of_a_dry_run_says_would_delete(admin_client: Client) -> None:
    run = make_run("threads", dry_run=True, result={"deleted": {}, "total": 0, "dry_run": True})

    content = squeezed(admin_client.get(change_url(run)).content.decode())

    table = between(content, '<table class="housekeeping-models">', "</table>")
    assert '<th scope="col">Would delete</th>' in table
    assert '<td colspan="4">Nothing to delete.</td>' in table
    assert "housekeeping-partial" not in content
    assert "Archive file" not in content


@pytest.mark.django_db
def test_change_page_shows_statistics_as_a_table(admin_client: Client) -> None:
    run = make_run("record", result={"total_users": 1284, "threads": 12})

    content = squeezed(admin_client.get(change_url(run)).content.decode())

    table = between(content, '<table class="housekeeping-numbers">', "</table>")
    assert (
        '<tbody><tr><td>threads</td><td class="count">12</td></tr>'
        '<tr><td>total_users</td><td class="count">1284</td></tr></tbody>'
    ) in table


@pytest.mark.django_db
def test_change_page_opens_the_json_of_any_other_result(admin_client: Client) -> None:
    run = make_run("record", result=[1, {"two": 2}])

    content = squeezed(admin_client.get(change_url(run)).content.decode())

    assert '<details class="housekeeping-raw" open><summary>Raw JSON</summary>' in content
    assert "<table" not in between(content, '<div class="housekeeping-result', "</details>")


@pytest.mark.django_db
def test_change_page_shows_the_traceback(admin_client: Client) -> None:
    run = run_task("boom")

    content = admin_client.get(change_url(run)).content.decode()

    assert "<pre>Traceback (most recent call last):\n" in content
    assert "RuntimeError: boom: the database said no\n</pre>" in content
    assert "raise RuntimeError(&quot;boom: the database said no&quot;)" in content
    assert "<pre>null</pre>" not in content  # no result: a dash, not JSON's null


@pytest.mark.django_db
def test_change_page_escapes_what_a_task_returned(admin_client: Client) -> None:
    run = make_run("threads", result={"note": "<script>alert(1)</script>"}, error="<b>bad</b>")

    content = admin_client.get(change_url(run)).content.decode()

    assert "<script>alert(1)</script>" not in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content
    assert "<pre>&lt;b&gt;bad&lt;/b&gt;</pre>" in content


@pytest.mark.django_db
def test_change_page_of_a_group_links_its_member_runs(admin_client: Client) -> None:
    group_run = run_task("nightly")
    members = list(group_run.children.order_by("started_at", "id"))

    content = admin_client.get(change_url(group_run)).content.decode()

    for member in members:
        assert f'<a href="{change_url(member)}">{member}</a>' in content
    table = squeezed(between(content, '<table class="housekeeping-members">', "</table>"))
    by_name = {member.task_name: member for member in members}
    assert (
        f'<tr><td><a href="{change_url(by_name["boom"])}">boom</a></td><td>failed</td>'
        "<td></td></tr>"
    ) in table
    assert (
        f'<tr><td><a href="{change_url(by_name["record"])}">record</a></td><td>succeeded</td>'
        "<td>threads 0</td></tr>"
    ) in table
    member_page = admin_client.get(change_url(members[0])).content.decode()
    assert f'<a href="{change_url(group_run)}">{group_run}</a>' in member_page


@pytest.mark.django_db
def test_change_page_of_a_run_in_progress(admin_client: Client) -> None:
    run = make_run(
        "threads",
        duration=None,
        status=TaskRun.Status.RUNNING,
        progress_done=40,
        progress_total=100,
    )

    response = admin_client.get(change_url(run))

    assert response.status_code == 200
    assert "40 / 100" in response.content.decode()


# actions -------------------------------------------------------------------------------------


def post_action(client: Client, action: str, runs: list[TaskRun]) -> Any:
    return client.post(
        reverse(CHANGELIST),
        {"action": action, "_selected_action": [run.pk for run in runs], "index": "0"},
    )


@pytest.mark.django_db
def test_the_actions_are_offered_to_a_superuser(admin_client: Client) -> None:
    make_run("threads")

    response = admin_client.get(reverse(CHANGELIST))

    choices = dict(response.context["action_form"].fields["action"].choices)
    assert set(choices) == {"", "run_again", "dry_run_now"}
    assert choices["run_again"] == "Run again now"
    assert choices["dry_run_now"] == "Dry run now"


@pytest.mark.django_db
def test_staff_without_the_run_permission_gets_no_actions(staff_client: Any) -> None:
    client, _ = staff_client("view_taskrun")
    run = make_run("record")

    response = client.get(reverse(CHANGELIST))

    assert response.status_code == 200
    assert response.context["action_form"] is None
    assert 'name="action"' not in response.content.decode()
    refused = post_action(client, "run_again", [run])
    assert refused.status_code == 200
    assert TaskRun.objects.get() == run
    assert client.post(reverse(RUN), {"task": "record", "dry_run": "0"}).status_code == 403
    assert TaskRun.objects.get() == run
    assert not SlotRecord.objects.exists()


@pytest.mark.django_db
def test_staff_with_the_run_permission_can_run_again(staff_client: Any) -> None:
    client, user = staff_client("view_taskrun", "run_task")
    old = make_run("record")

    response = post_action(client, "run_again", [old])

    assert response.status_code == 302
    new_run = TaskRun.objects.exclude(pk=old.pk).get()
    assert new_run.triggered_by == user
    assert new_run.trigger == TaskRun.Trigger.ADMIN


@pytest.mark.django_db
def test_staff_without_view_permission_sees_nothing(staff_client: Any) -> None:
    client, _ = staff_client()
    assert client.get(reverse(CHANGELIST)).status_code == 403
    assert client.get(reverse(TASKS)).status_code == 403


@pytest.mark.django_db
def test_anonymous_users_are_sent_to_the_login_page(client: Client) -> None:
    for url in [reverse(CHANGELIST), reverse(TASKS)]:
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("admin:login"))
    response = client.post(reverse(RUN), {"task": "record", "dry_run": "0"})
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))
    assert not TaskRun.objects.exists()


# the registered tasks page --------------------------------------------------------------------


@pytest.mark.django_db
def test_tasks_page_lists_every_registered_task(admin_client: Client) -> None:
    response = admin_client.get(reverse(TASKS))

    assert response.status_code == 200
    rows = {row["task"].name: row for row in response.context["rows"]}
    assert set(rows) == {task.name for task in registry}
    content = response.content.decode()
    for task in registry:
        assert f'<tr data-task="{task.name}">' in content
    assert "<td>cron(&#x27;0 3 * * sun&#x27;)</td>" in content
    assert "<td>every(6:00:00)</td>" in content
    assert "<td>Delete threads older than N days</td>" in content
    assert "<td><code>{&quot;days&quot;: 30}</code></td>" in content
    assert "<td>Nightly <small>(runs threads → boom → record)</small></td>" in content


@pytest.mark.django_db
def test_tasks_page_shows_enabled_and_last_run(admin_client: Client) -> None:
    make_run("threads", age=timedelta(minutes=30))
    latest = make_run("threads", age=timedelta(minutes=5), status=TaskRun.Status.FAILED)

    content = admin_client.get(reverse(TASKS)).content.decode()

    dormant = content[content.index('<tr data-task="dormant">') :]
    dormant = dormant[: dormant.index("</tr>")]
    assert "<td>no</td>" in dormant
    assert "never" in dormant
    threads = content[content.index('<tr data-task="threads">') :]
    threads = threads[: threads.index("</tr>")]
    assert "<td>yes</td>" in threads
    assert f'<a href="{change_url(latest)}">failed</a>' in threads


@pytest.mark.django_db
def test_tasks_page_follows_the_settings_overrides(admin_client: Client, settings: Any) -> None:
    settings.HOUSEKEEPING = {"TASKS": {"threads": {"options": {"days": 7}, "enabled": False}}}

    response = admin_client.get(reverse(TASKS))

    [threads] = [row for row in response.context["rows"] if row["task"].name == "threads"]
    assert threads["options"] == '{"days": 7}'
    assert threads["task"].enabled is False


@pytest.mark.django_db
def test_tasks_page_has_run_buttons_only_for_those_who_may_run(
    admin_client: Client, staff_client: Any
) -> None:
    viewer, _ = staff_client("view_taskrun")

    with_buttons = admin_client.get(reverse(TASKS))
    without = viewer.get(reverse(TASKS))

    assert with_buttons.context["can_run"] is True
    assert f'action="{reverse(RUN)}"' in with_buttons.content.decode()
    assert without.status_code == 200
    assert without.context["can_run"] is False
    assert f'action="{reverse(RUN)}"' not in without.content.decode()


@pytest.mark.django_db
def test_tasks_page_with_no_tasks(admin_client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_registry", {})

    response = admin_client.get(reverse(TASKS))

    assert response.status_code == 200
    assert "No housekeeping tasks are registered." in response.content.decode()


@pytest.mark.django_db
def test_run_view_needs_post(admin_client: Client) -> None:
    assert admin_client.get(reverse(RUN), {"task": "record"}).status_code == 405
    assert not TaskRun.objects.exists()


@pytest.mark.django_db
def test_run_view_checks_csrf(admin_user: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)

    refused = client.post(reverse(RUN), {"task": "record", "dry_run": "0"})
    assert refused.status_code == 403
    assert not TaskRun.objects.exists()

    page = client.get(reverse(TASKS))
    token = page.context["csrf_token"]
    accepted = client.post(
        reverse(RUN), {"task": "record", "dry_run": "0", "csrfmiddlewaretoken": str(token)}
    )
    assert accepted.status_code == 302
    assert TaskRun.objects.get().task_name == "record"


# skipped and missed runs read as a sentence --------------------------------------------------


@pytest.mark.django_db
def test_changelist_summarizes_skipped_and_missed_slots(admin_client: Client) -> None:
    make_run(
        "record",
        age=timedelta(minutes=2),
        status=TaskRun.Status.SKIPPED,
        result={"reason": "the previous run was still running", "slots": 3},
    )
    make_run(
        "threads",
        age=timedelta(minutes=1),
        status=TaskRun.Status.MISSED,
        result={"reason": "more than 30 s late", "slots": 1, "first_slot": None},
    )

    content = admin_client.get(reverse(CHANGELIST)).content.decode()

    assert summary_cell("the previous run was still running (3 slots)") in content
    assert summary_cell("more than 30 s late (1 slot)") in content


@pytest.mark.django_db
@pytest.mark.parametrize("query", [{}, {"task_name": "threads"}], ids=["all", "task"])
def test_a_changelist_page_costs_the_same_queries_with_one_run_or_a_full_page(
    admin_client: Client, query: dict[str, str]
) -> None:
    """No query per row: a page of 50 runs costs the queries of a page of one."""
    make_run("threads", triggered_by=None)
    with CaptureQueriesContext(connection) as one:
        admin_client.get(reverse(CHANGELIST), query)
    for n in range(60):
        make_run("threads", age=timedelta(minutes=n + 1), result={"deleted": {"a.B": n}})

    with CaptureQueriesContext(connection) as full:
        response = admin_client.get(reverse(CHANGELIST), query)

    assert len(listed(response)) == 50
    assert len(full) == len(one), [q["sql"] for q in full.captured_queries]


@pytest.mark.django_db
def test_a_rows_checkbox_is_djangos() -> None:
    run = make_run("threads")
    model_admin = admin.site._registry[TaskRun]

    assert model_admin.action_checkbox(run) == admin.ModelAdmin.action_checkbox(model_admin, run)
