"""Admin: the run history (read-only) with "run again" actions, and a page listing the tasks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from django_housekeeping.models import TaskRun
from django_housekeeping.registry import NotRegistered, registry
from django_housekeeping.reporting import describe_schedule, last_runs, summarize_result, to_json
from django_housekeeping.runner import run_task

RUN_PERMISSION = "django_housekeeping.run_task"

if TYPE_CHECKING:
    TaskRunAdminBase = admin.ModelAdmin[TaskRun]
else:
    TaskRunAdminBase = admin.ModelAdmin


@admin.register(TaskRun)
class TaskRunAdmin(TaskRunAdminBase):
    change_list_template = "admin/django_housekeeping/taskrun/change_list.html"
    list_display = [
        "task_name",
        "status",
        "trigger",
        "dry_run",
        "started_at",
        "duration_display",
        "triggered_by",
        "summary",
    ]
    list_filter = ["status", "trigger", "dry_run", "started_at", "task_name"]
    search_fields = ["task_name", "error", "host"]
    # No date_hierarchy: its date truncation needs MySQL/MariaDB's time zone tables when USE_TZ is
    # on, and without them the whole changelist fails. The started_at filter needs no such thing.
    list_select_related = ["triggered_by"]
    actions = ["run_again", "dry_run_now"]
    fields = (
        "task_name",
        "status",
        "dry_run",
        "trigger",
        "triggered_by",
        "slot",
        "parent",
        "member_runs",
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

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: TaskRun | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: TaskRun | None = None) -> bool:
        return False

    def has_run_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(RUN_PERMISSION)

    @admin.display(description=_("duration"), ordering="duration")
    def duration_display(self, run: TaskRun) -> str:
        return f"{run.duration_seconds:.2f} s" if run.duration_seconds is not None else "—"

    @admin.display(description=_("result"))
    def summary(self, run: TaskRun) -> str:
        if run.error:
            return run.error.strip().splitlines()[-1]
        return summarize_result(run.result) if run.result is not None else "—"

    @admin.display(description=_("progress"))
    def progress_display(self, run: TaskRun) -> str:
        if run.progress_done is None:
            return "—"
        return f"{run.progress_done} / {run.progress_total if run.progress_total else '?'}"

    @admin.display(description=_("result"))
    def result_display(self, run: TaskRun) -> str:
        if run.result is None:
            return "—"
        return format_html("<pre>{}</pre>", to_json(run.result, indent=2))

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

    @admin.action(description=_("Run again now"), permissions=["run"])
    def run_again(self, request: HttpRequest, queryset: QuerySet[TaskRun]) -> None:
        self._rerun(request, queryset, dry_run=False)

    @admin.action(description=_("Dry run now"), permissions=["run"])
    def dry_run_now(self, request: HttpRequest, queryset: QuerySet[TaskRun]) -> None:
        self._rerun(request, queryset, dry_run=True)

    def _rerun(self, request: HttpRequest, queryset: QuerySet[TaskRun], *, dry_run: bool) -> None:
        names = queryset.order_by("task_name").values_list("task_name", flat=True).distinct()
        for name in list(names):
            self._run_and_report(request, name, dry_run=dry_run)

    def _run_and_report(self, request: HttpRequest, name: str, *, dry_run: bool) -> None:
        """Run a task for a person in the admin and tell them how it went, with a link."""
        try:
            run = run_task(name, dry_run=dry_run, trigger=TaskRun.Trigger.ADMIN, user=request.user)
        except NotRegistered as exc:
            messages.error(request, str(exc))
            return
        level = {
            TaskRun.Status.FAILED: messages.ERROR,
            TaskRun.Status.SKIPPED: messages.WARNING,
        }.get(TaskRun.Status(run.status), messages.SUCCESS)
        summary = run.error.strip().splitlines()[-1] if run.error else summarize_result(run.result)
        messages.add_message(
            request,
            level,
            # Starts with the link: the admin capitalizes a message's first letter, and a task's
            # name must be shown as it is spelled.
            format_html(
                '<a href="{}">Run #{}</a> of {}{}: {} — {}',
                self._change_url(run),
                run.pk,
                name,
                " (dry run)" if dry_run else "",
                run.get_status_display(),
                summary,
            ),
        )

    def _change_url(self, run: TaskRun) -> str:
        return reverse(
            f"{self.admin_site.name}:django_housekeeping_taskrun_change",
            args=[run.pk],
            current_app=self.admin_site.name,
        )

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
            *super().get_urls(),
        ]

    def tasks_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        request.current_app = self.admin_site.name
        tasks = list(registry)
        latest = last_runs(task.name for task in tasks)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Housekeeping tasks"),
            "opts": self.opts,
            "can_run": self.has_run_permission(request),
            "rows": [
                {
                    "task": task,
                    "schedule": describe_schedule(task),
                    "options": to_json(task.options),
                    "last_run": latest.get(task.name),
                }
                for task in tasks
            ],
        }
        return TemplateResponse(request, "admin/django_housekeeping/tasks.html", context)

    def run_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_run_permission(request):
            raise PermissionDenied
        name = request.POST.get("task", "")
        self._run_and_report(request, name, dry_run=request.POST.get("dry_run") == "1")
        return HttpResponseRedirect(
            reverse(
                f"{self.admin_site.name}:django_housekeeping_tasks",
                current_app=self.admin_site.name,
            )
        )
