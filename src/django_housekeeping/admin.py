"""Admin: the run history (read-only) with "run again" actions, a page listing the tasks with
run and pause buttons, the operators' per-task overrides (TaskState) and the scheduler's lease."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.exceptions import NotRegistered as ModelAdminNotRegistered
from django.contrib.auth import get_permission_codename
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from django_housekeeping.models import SchedulerLease, TaskRun, TaskState
from django_housekeeping.registry import NotRegistered, registry
from django_housekeeping.reporting import (
    describe_effective_schedule,
    last_runs,
    summarize_result,
    to_json,
)
from django_housekeeping.runner import run_task

RUN_PERMISSION = "django_housekeeping.run_task"

if TYPE_CHECKING:
    TaskRunAdminBase = admin.ModelAdmin[TaskRun]
    TaskStateAdminBase = admin.ModelAdmin[TaskState]
    SchedulerLeaseAdminBase = admin.ModelAdmin[SchedulerLease]
    TaskStateFormBase = forms.ModelForm[TaskState]
else:
    TaskRunAdminBase = TaskStateAdminBase = SchedulerLeaseAdminBase = admin.ModelAdmin
    TaskStateFormBase = forms.ModelForm


def change_task_state_permission() -> str:
    """``"django_housekeeping.change_taskstate"``: what pausing, resuming and overriding need."""
    opts = TaskState._meta
    return f"{opts.app_label}.{get_permission_codename('change', opts)}"


def effective_schedule(task_name: str, admin_schedule: str = "") -> str:
    """The schedule a task follows (admin override > settings > code), for a person to read."""
    task = registry.as_mapping().get(task_name)
    if task is None:
        return "unknown task (not scheduled)"
    return describe_effective_schedule(task, admin_schedule)


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
            path(
                "tasks/pause/",
                self.admin_site.admin_view(require_POST(self.pause_view)),
                name="django_housekeeping_pause",
            ),
            *super().get_urls(),
        ]

    def has_pause_permission(self, request: HttpRequest) -> bool:
        """Pausing and resuming write a TaskState row: the change permission on TaskState."""
        return request.user.has_perm(change_task_state_permission())

    def tasks_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        request.current_app = self.admin_site.name
        tasks = list(registry)
        latest = last_runs(task.name for task in tasks)
        states = {state.task_name: state for state in TaskState.objects.all()}
        context = {
            **self.admin_site.each_context(request),
            "title": _("Housekeeping tasks"),
            "opts": self.opts,
            "can_run": self.has_run_permission(request),
            "can_pause": self.has_pause_permission(request),
            "states_url": self._task_state_changelist_url(request),
            "rows": [
                {
                    "task": task,
                    "schedule": describe_effective_schedule(
                        task, states[task.name].schedule if task.name in states else ""
                    ),
                    "options": to_json(task.options),
                    "paused": task.name in states and states[task.name].paused,
                    "last_run": latest.get(task.name),
                }
                for task in tasks
            ],
        }
        return TemplateResponse(request, "admin/django_housekeeping/tasks.html", context)

    def _task_state_changelist_url(self, request: HttpRequest) -> str | None:
        """The link to the overrides, for those who may see them on this admin site."""
        try:
            state_admin = self.admin_site.get_model_admin(TaskState)
        except ModelAdminNotRegistered:
            return None
        if not state_admin.has_view_or_change_permission(request):
            return None
        return reverse(
            f"{self.admin_site.name}:django_housekeeping_taskstate_changelist",
            current_app=self.admin_site.name,
        )

    def _tasks_url(self) -> str:
        return reverse(
            f"{self.admin_site.name}:django_housekeeping_tasks",
            current_app=self.admin_site.name,
        )

    def run_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_run_permission(request):
            raise PermissionDenied
        name = request.POST.get("task", "")
        self._run_and_report(request, name, dry_run=request.POST.get("dry_run") == "1")
        return HttpResponseRedirect(self._tasks_url())

    def pause_view(self, request: HttpRequest) -> HttpResponse:
        """Pause (``paused=1``) or resume (``paused=0``) a task: its TaskState row says so."""
        if not self.has_pause_permission(request):
            raise PermissionDenied
        name = request.POST.get("task", "")
        pause = request.POST.get("paused") == "1"
        if name not in registry.as_mapping():  # "all" is no task of its own: nothing to pause
            messages.error(request, str(NotRegistered(name, registry.as_mapping())))
        elif pause:
            state, created = TaskState.objects.get_or_create(
                task_name=name, defaults={"paused": True}
            )
            if not created and state.paused:
                messages.info(
                    request, _("Nothing to do: %(task)s was already paused.") % {"task": name}
                )
            else:
                if not created:
                    state.paused = True
                    state.save(update_fields=["paused", "updated_at"])
                messages.success(
                    request,
                    _("Paused %(task)s. The scheduler picks this up within seconds.")
                    % {"task": name},
                )
        else:
            paused_state = TaskState.objects.filter(task_name=name, paused=True).first()
            if paused_state is None:
                messages.info(
                    request, _("Nothing to do: %(task)s was not paused.") % {"task": name}
                )
            else:
                paused_state.paused = False
                paused_state.save(update_fields=["paused", "updated_at"])
                messages.success(
                    request,
                    _("Resumed %(task)s. The scheduler picks this up within seconds.")
                    % {"task": name},
                )
        return HttpResponseRedirect(self._tasks_url())


# the operators' overrides --------------------------------------------------------------------


def task_choices() -> list[tuple[str, str]]:
    """Every registered task and group by name ("all" is not a task that can be paused)."""
    return [
        ("", "---------"),
        *((task.name, f"{task.name} (group)" if task.is_group else task.name) for task in registry),
    ]


class TaskStatePausedForm(TaskStateFormBase):
    """The change list's form: ``paused`` only, for pausing a task from the list."""

    class Meta:
        model = TaskState
        fields = ["paused"]

    def add_error(self, field: str | None, error: Any) -> None:
        """Drop the model's complaints about a field this form does not edit.

        ``TaskState.clean()`` validates the task name and the schedule whatever a form edits; the
        change list edits only ``paused``, and pausing an override whose task has since been
        removed (or whose schedule was stored invalid) must still work, as must the other rows.
        """
        if field is None and isinstance(error, ValidationError) and hasattr(error, "error_dict"):
            error = ValidationError(
                {
                    name: errors
                    for name, errors in error.error_dict.items()
                    if name == NON_FIELD_ERRORS or name in self.fields
                }
            )
            if not error.error_dict:
                return
        super().add_error(field, error)


class TaskStateForm(TaskStatePausedForm):
    """Pick the task from the registry, so that nobody types a name the scheduler cannot know."""

    task_name = forms.ChoiceField(label=_("Task"), choices=task_choices)

    class Meta:
        model = TaskState
        fields = ["task_name", "paused", "schedule"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields.get("task_name")
        if isinstance(field, forms.ChoiceField) and self.instance.pk is not None:
            # An override belongs to its task: delete it rather than move it to another one.
            field.disabled = True
            name = self.instance.task_name
            if name not in registry.as_mapping():
                field.choices = [*task_choices(), (name, f"{name} (not registered)")]
        schedule = self.fields.get("schedule")
        if schedule is not None:
            schedule.widget.attrs.setdefault("placeholder", "30 3 * * *")

    def clean_schedule(self) -> str:
        return " ".join(str(self.cleaned_data.get("schedule") or "").split())


@admin.register(TaskState)
class TaskStateAdmin(TaskStateAdminBase):
    """Pause or resume a task, or replace its schedule; the running scheduler follows in seconds."""

    form = TaskStateForm
    list_display = ["task_name", "paused", "schedule_display", "effective_schedule", "updated_at"]
    list_display_links = ["task_name"]
    list_editable = ["paused"]
    list_filter = ["paused"]
    search_fields = ["task_name"]
    actions = ["pause", "resume"]
    readonly_fields = ["effective_schedule", "updated_at"]

    def get_changelist_form(self, request: HttpRequest, **kwargs: Any) -> type[TaskStateFormBase]:
        kwargs.setdefault("form", TaskStatePausedForm)
        return super().get_changelist_form(request, **kwargs)

    def get_fields(self, request: HttpRequest, obj: TaskState | None = None) -> tuple[str, ...]:
        editable = ("task_name", "paused", "schedule")
        return editable if obj is None else (*editable, "effective_schedule", "updated_at")

    @admin.display(description=_("schedule override"), ordering="schedule")
    def schedule_display(self, state: TaskState) -> str:
        return state.schedule or "—"

    @admin.display(description=_("effective schedule"))
    def effective_schedule(self, state: TaskState) -> str:
        return effective_schedule(state.task_name, state.schedule) if state.task_name else "—"

    @admin.action(description=_("Pause the selected tasks"), permissions=["change"])
    def pause(self, request: HttpRequest, queryset: QuerySet[TaskState]) -> None:
        self._set_paused(request, queryset, paused=True)

    @admin.action(description=_("Resume the selected tasks"), permissions=["change"])
    def resume(self, request: HttpRequest, queryset: QuerySet[TaskState]) -> None:
        self._set_paused(request, queryset, paused=False)

    def _set_paused(
        self, request: HttpRequest, queryset: QuerySet[TaskState], *, paused: bool
    ) -> None:
        # updated_at is set by hand: update() skips auto_now, and the scheduler notices a change
        # by the newest updated_at.
        changed = queryset.exclude(paused=paused).update(paused=paused, updated_at=timezone.now())
        unchanged = queryset.count() - changed
        if paused:
            text = ngettext("Paused %(count)d task.", "Paused %(count)d tasks.", changed)
            already = ngettext(
                "%(count)d was already paused.", "%(count)d were already paused.", unchanged
            )
        else:
            text = ngettext("Resumed %(count)d task.", "Resumed %(count)d tasks.", changed)
            already = ngettext("%(count)d was not paused.", "%(count)d were not paused.", unchanged)
        message = text % {"count": changed}
        if unchanged:
            message += " " + already % {"count": unchanged}
        if changed:
            message += " " + str(_("The scheduler picks this up within seconds."))
        messages.add_message(request, messages.SUCCESS if changed else messages.INFO, message)


# the scheduler's lease -----------------------------------------------------------------------


def format_age(age: timedelta) -> str:
    """``"45 s"``, ``"3 min 5 s"``, ``"2 h 10 min"``, ``"3 d 4 h"``."""
    seconds = max(int(age.total_seconds()), 0)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {seconds} s"
    return f"{seconds} s"


@admin.register(SchedulerLease)
class SchedulerLeaseAdmin(SchedulerLeaseAdminBase):
    """Who leads the scheduler, read-only: the lease is the schedulers' business, not a form's."""

    list_display = fields = readonly_fields = (
        "name",
        "owner",
        "host",
        "pid",
        "token",
        "acquired_at",
        "heartbeat_at",
        "expires_at",
        "healthy",
        "lease_age",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: SchedulerLease | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: SchedulerLease | None = None
    ) -> bool:
        return False

    @admin.display(description=_("healthy"), boolean=True)
    def healthy(self, lease: SchedulerLease) -> bool:
        """Held by a scheduler whose lease has not expired."""
        return bool(lease.owner) and lease.expires_at > timezone.now()

    @admin.display(description=_("lease age"))
    def lease_age(self, lease: SchedulerLease) -> str:
        """Time since the holder last renewed the lease."""
        heartbeat = lease.heartbeat_at or lease.acquired_at
        return format_age(timezone.now() - heartbeat) if heartbeat is not None else "—"
