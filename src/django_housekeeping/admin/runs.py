"""The run history's admin: its change list (filters, a capped count, the rows that
``{% run_result_list %}`` writes from the display methods here), a run's page with **Cancel**
while it is active, the "run again" actions, and the URLs of the pages it hosts: the tasks page
(:mod:`.tasks_page`), the retention policies (:mod:`.policy_pages`) and the cancel page
(:mod:`.cancel`)."""

from __future__ import annotations

import functools
from typing import Any

from django.contrib import admin
from django.contrib.admin import helpers
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.urls import URLPattern, path
from django.utils.functional import cached_property
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from django_housekeeping.admin import cancel
from django_housekeeping.admin.base import format_instant
from django_housekeeping.admin.policy_pages import PolicyPages
from django_housekeeping.admin.tasks_page import TasksPage
from django_housekeeping.models import TaskRun
from django_housekeeping.presenters import (
    capped_count,
    result_details,
    run_summary,
    status_label,
    to_json,
    trigger_label,
)
from django_housekeeping.tasks.registry import registry


class CappedCountPaginator(Paginator):  # type: ignore[type-arg]
    """A paginator that counts at most ``limit + 1`` rows (``COUNT(*)`` of a ``LIMIT``ed
    subquery), so that a page of a history of millions of runs costs what it costs in a short
    one; beyond ``limit`` the changelist says "more than" and the filters narrow the list."""

    limit = 10_000

    @cached_property
    def count(self) -> int:
        object_list: Any = self.object_list
        if isinstance(object_list, QuerySet):
            # Unordered: which rows are counted does not matter, and MariaDB sorted every run
            # of a task to count the first of them.
            return capped_count(object_list, self.limit)
        return len(object_list)

    @property
    def capped(self) -> bool:
        """There are more rows than ``limit``: ``count`` is ``limit + 1``."""
        return self.count > self.limit


class TaskNameFilter(admin.SimpleListFilter):
    """The tasks of the registry, rather than a ``DISTINCT`` over the whole history (the filter of
    a task no longer registered still works from its URL, and is listed while chosen)."""

    title = _("task")
    parameter_name = "task_name"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        names = {task.name for task in registry}
        chosen = self.value()
        if chosen:
            names.add(chosen)
        return [(name, name) for name in sorted(names)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        chosen = self.value()
        return queryset.filter(task_name=chosen) if chosen else queryset


@functools.lru_cache(maxsize=32)
def _select_label(language: str | None) -> str:
    """The aria-label of a row's checkbox, a ``str.format`` pattern, in ``language``."""
    return str(_("Select this object for an action - {}"))


@admin.register(TaskRun)
class TaskRunAdmin(TasksPage, PolicyPages):
    """The run history, read-only; who may see it, run and pause tasks is the control layer's
    decision (:class:`~.base.RunAdminBase`). Its tasks and policies pages are its bases'."""

    change_list_template = "admin/django_housekeeping/taskrun/change_list.html"
    change_form_template = "admin/django_housekeeping/taskrun/change_form.html"
    # Compact columns (a dry run is said in its status, who started a run beside its trigger), so
    # that the result keeps a readable width on a 1280 px screen beside the admin's sidebars.
    list_display = [
        "task_name",
        "status_display",
        "started_display",
        "duration_display",
        "trigger_display",
        "summary",
    ]
    # None of the filters reads the history: the statuses and triggers are choices, the tasks
    # the registry's (docs/admin.md#a-long-history).
    list_filter = ["status", "trigger", "dry_run", "started_at", TaskNameFilter]
    # No COUNT(*) of the whole history: the paginator counts up to its limit, then "more than".
    show_full_result_count = False
    paginator = CappedCountPaginator
    search_fields = ["task_name", "error", "host"]
    # No date_hierarchy: its date truncation needs MySQL/MariaDB's time zone tables when USE_TZ is
    # on, and without them the whole changelist fails. The started_at filter needs no such thing.
    list_select_related = ["triggered_by"]
    # Half of Django's 100: rendering rows is the one cost of a page that grows with the page,
    # even written by run_result_list (docs/admin.md#a-long-history).
    list_per_page = 50
    actions = ["run_again", "dry_run_now"]
    fields = (
        "task_name",
        "status",
        "dry_run",
        "trigger",
        "triggered_by",
        "state_change",
        "slot",
        "attempt",
        "retry_of",
        "parent",
        "member_runs",
        "enqueued_at",
        "started_at",
        "finished_at",
        "duration_display",
        "progress_display",
        "host",
        "pid",
        "heartbeat_at",
        "result_display",
        "error_display",
    )
    readonly_fields = fields

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """The run's page, with **Cancel** while it is active (for those who may run tasks)."""
        context = {**(extra_context or {}), "can_cancel": self.has_run_permission(request)}
        return super().change_view(request, object_id, form_url, context)

    @admin.display(description=_("status"), ordering="status")
    def status_display(self, run: TaskRun) -> str:
        status = status_label(run.status)
        return f"{status} ({_('dry run')})" if run.dry_run else status

    @admin.display(description=_("started"), ordering="started_at")
    def started_display(self, run: TaskRun) -> str:
        return format_instant(run.started_at)

    @admin.display(description=_("trigger"), ordering="trigger")
    def trigger_display(self, run: TaskRun) -> str:
        trigger = trigger_label(run.trigger)
        if run.triggered_by is None:
            return trigger
        return f"{trigger} ({run.triggered_by.get_username()})"

    def action_checkbox(self, obj: TaskRun) -> SafeString:
        """Django's checkbox of a row, written at once: Django renders a form widget's template
        for it, a third of a row's rendering time (and its label is translated once)."""
        label = _select_label(get_language()).format(escape(str(obj)))
        return mark_safe(
            f'<input type="checkbox" name="{helpers.ACTION_CHECKBOX_NAME}" '
            f'value="{escape(obj.pk)}" class="action-select" aria-label="{label}">'
        )

    @admin.display(description=_("duration"), ordering="duration")
    def duration_display(self, run: TaskRun) -> str:
        return f"{run.duration_seconds:.2f} s" if run.duration_seconds is not None else "—"

    @admin.display(description=_("result"))
    def summary(self, run: TaskRun) -> str:
        """The one line, cut to the column's width by the change list's CSS; whole in its
        tooltip."""
        summary = run_summary(run)
        if not summary:
            return "—"
        text = escape(summary)
        return mark_safe(f'<span class="housekeeping-summary" title="{text}">{text}</span>')

    @admin.display(description=_("progress"))
    def progress_display(self, run: TaskRun) -> str:
        if run.progress_done is None:
            return "—"
        return f"{run.progress_done} / {run.progress_total if run.progress_total else '?'}"

    @admin.display(description=_("result"))
    def result_display(self, run: TaskRun) -> str:
        """The result laid out (a purge's per-model table, a statistics run's numbers, a group's
        members with links to their runs), the raw JSON behind a toggle."""
        if run.result is None:
            return "—"
        details = result_details(run)
        children = {child.task_name: child for child in run.children.order_by("started_at", "id")}
        members = [
            {
                **member,
                "url": self._change_url(children[member["task"]])
                if member["task"] in children
                else None,
            }
            for member in details["members"]
        ]
        return render_to_string(
            "admin/django_housekeeping/taskrun/result.html",
            {"details": details, "members": members, "raw_json": to_json(run.result, indent=2)},
        )

    @admin.display(description=_("member runs"))
    def member_runs(self, run: TaskRun) -> str:
        children = run.children.order_by("started_at", "id")
        return (
            format_html_join(
                mark_safe("<br>"),
                '<a href="{}">{}</a>',
                ((self._change_url(child), str(child)) for child in children),
            )
            or "—"
        )

    @admin.display(description=_("error"))
    def error_display(self, run: TaskRun) -> str:
        return format_html("<pre>{}</pre>", run.error) if run.error else "—"

    # Running: every run is dispatched, and a real run of a task that deletes is first dry-run
    # and confirmed (TasksPage._start).

    @admin.action(description=_("Run again now"), permissions=["run"])
    def run_again(self, request: HttpRequest, queryset: QuerySet[TaskRun]) -> HttpResponse | None:
        return self._start(request, self._task_names(queryset), dry_run=False)

    @admin.action(description=_("Dry run now"), permissions=["run"])
    def dry_run_now(self, request: HttpRequest, queryset: QuerySet[TaskRun]) -> HttpResponse | None:
        return self._start(request, self._task_names(queryset), dry_run=True)

    @staticmethod
    def _task_names(queryset: QuerySet[TaskRun]) -> list[str]:
        return list(queryset.order_by("task_name").values_list("task_name", flat=True).distinct())

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "tasks/",
                self.admin_site.admin_view(self.tasks_view),
                name="django_housekeeping_tasks",
            ),
            path(
                "tasks/run/",
                self.admin_site.admin_view(require_POST(self.run_view)),
                name="django_housekeeping_run",
            ),
            path(
                "tasks/confirm/",
                self.admin_site.admin_view(self.confirm_view),
                name="django_housekeeping_confirm",
            ),
            path(
                "<str:pk>/cancel/",
                self.admin_site.admin_view(functools.partial(cancel.cancel_view, self)),
                name="django_housekeeping_taskrun_cancel",
            ),
            path(
                "tasks/pause/",
                self.admin_site.admin_view(require_POST(self.pause_view)),
                name="django_housekeeping_pause",
            ),
            path(
                "retention-policies/",
                self.admin_site.admin_view(self.policies_view),
                name="django_housekeeping_policies",
            ),
            path(
                "retention-policies/preview/",
                self.admin_site.admin_view(require_POST(self.preview_view)),
                name="django_housekeeping_policy_preview",
            ),
            path(
                "retention-policies/preview/<str:pk>/",
                self.admin_site.admin_view(self.preview_result_view),
                name="django_housekeeping_policy_preview_result",
            ),
            *super().get_urls(),
        ]
